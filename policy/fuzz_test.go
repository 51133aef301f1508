package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/graphchat/graphchat/policy"
)

// FuzzCheckJSON parses and checks arbitrary bodies: no panic, the same answer
// twice, and every finding has a known code, a message and, past the body
// level, a field.
func FuzzCheckJSON(f *testing.F) {
	dir, cases := loadCases(f)
	for _, tc := range cases {
		data, err := os.ReadFile(filepath.Join(dir, tc.File))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca", false)
	}
	f.Add([]byte(`{"chatType":"group","members":[null,1,"x",[],{}]}`), "a@b.c", true)
	known := policy.Codes()
	f.Fuzz(func(t *testing.T, data []byte, caller string, app bool) {
		c := &policy.Context{Caller: policy.Caller{ID: caller}, TenantID: "2432b57b-0abd-43db-aa7b-16eadd115d34",
			Grant: &policy.Grant{Permissions: policy.SplitPermissions(caller)}}
		if app {
			c.Auth = policy.AuthApplication
		}
		res, err := policy.CheckJSON(data, c)
		res2, err2 := policy.CheckJSON(data, c)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(res, res2) {
			t.Fatalf("two checks of the same input differ: %v / %v", err, err2)
		}
		if err != nil {
			var se *policy.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SyntaxError: %v", err, err)
			}
			return
		}
		for _, v := range append(slices.Clone(res.Violations), res.Warnings...) {
			if !slices.Contains(known, v.Code) {
				t.Errorf("unknown code %q", v.Code)
			}
			if v.Message == "" {
				t.Errorf("%s: empty message", v.Code)
			}
			if v.Field == "" && v.Code != policy.CodeAuthType {
				t.Errorf("%s: no field: %s", v.Code, v.Message)
			}
			if strings.HasPrefix(v.Field, "members[") && !strings.Contains(v.Field, "]") {
				t.Errorf("malformed field %q", v.Field)
			}
		}
	})
}
