package policy_test

import (
	"bytes"
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
	f.Add([]byte(`{"chatType":"group","ChatType":"x","chat\u0054ype":"y","topic":"\ud83d\u0000","members":[{"Roles":[],"roles":[],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('')"}]}`), "a@b.c", false)
	f.Add([]byte("{\"topic\":\"\xff\xfe\",\"members\":[{\"tenantId\":\"\xe9\"}]}"), "", false)
	f.Fuzz(func(t *testing.T, data []byte, caller string, app bool) {
		c := &policy.Context{Caller: policy.Caller{ID: caller}, TenantID: "2432b57b-0abd-43db-aa7b-16eadd115d34",
			Grant: &policy.Grant{Permissions: policy.SplitPermissions(caller)}}
		if app {
			c.Auth = policy.AuthApplication
		}
		res := checkTwice(t, func() (*policy.Result, error) { return policy.CheckJSON(data, c) })
		if res == nil {
			return
		}
		// A byte-order mark in front changes nothing (a second one is not JSON).
		if bom := []byte("\xef\xbb\xbf"); !bytes.HasPrefix(data, bom) {
			withBOM, err := policy.CheckJSON(append(bom, data...), c)
			if err != nil || !reflect.DeepEqual(res, withBOM) {
				t.Fatalf("with a byte-order mark: %v, %v; without: %v", err, withBOM, res)
			}
		}
		for _, v := range append(slices.Clone(res.Violations), res.Warnings...) {
			if v.Field == "" && v.Code != policy.CodeAuthType {
				t.Errorf("%s: no field: %s", v.Code, v.Message)
			}
			if strings.HasPrefix(v.Field, "members[") && !strings.Contains(v.Field, "]") {
				t.Errorf("malformed field %q", v.Field)
			}
		}
	})
}

// checkTwice runs a check twice and fails the fuzz run when the two results
// differ, when the error is not a *policy.SyntaxError, or when a finding has
// an unknown code or no message. It returns nil when the input was not read.
func checkTwice(t *testing.T, check func() (*policy.Result, error)) *policy.Result {
	t.Helper()
	res, err := check()
	res2, err2 := check()
	if (err == nil) != (err2 == nil) || !reflect.DeepEqual(res, res2) {
		t.Fatalf("two checks of the same input differ: %v / %v", err, err2)
	}
	if err != nil {
		var se *policy.SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("error %T is not a *SyntaxError: %v", err, err)
		}
		return nil
	}
	known := policy.Codes()
	for _, v := range append(slices.Clone(res.Violations), res.Warnings...) {
		if !slices.Contains(known, v.Code) {
			t.Errorf("unknown code %q", v.Code)
		}
		if v.Message == "" {
			t.Errorf("%s: empty message", v.Code)
		}
	}
	return res
}

// FuzzParseBindURL: no panic; an accepted URL is https on a Microsoft Graph
// host with a known version, and formatting it parses back to the same user.
func FuzzParseBindURL(f *testing.F) {
	for _, s := range []string{
		"https://graph.microsoft.com/v1.0/users('8b081ef6-4792-4def-b2c9-c363a1bf41d5')",
		"https://graph.microsoft.com/beta/users/jacob@contoso.com",
		"https://graph.microsoft.com/v1.0/users('o''brien@contoso.com')",
		"https://graph.microsoft.com/v1.0/users('a%23EXT%23@b.c')",
		"https://graph.microsoft.com@evil.example/v1.0/users('a@b.c')",
		"https://evil.example/v1.0/users('a@b.c')",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := policy.ParseBindURL(s)
		if err != nil {
			return
		}
		if !policy.IsGraphHost(b.Host) || (b.Version != "v1.0" && b.Version != "beta") || b.User == "" {
			t.Fatalf("accepted %q as %+v", s, b)
		}
		again, err := policy.ParseBindURL(b.String())
		if err != nil || again != b {
			t.Fatalf("%q: %+v formats as %q, which parses as %+v, %v", s, b, b.String(), again, err)
		}
	})
}

// FuzzParseToken: no panic, and an error never repeats the token.
func FuzzParseToken(f *testing.F) {
	f.Add(token(f, map[string]any{"scp": "Chat.Create", "tid": "t", "oid": "o"}))
	f.Add(token(f, map[string]any{"roles": []string{"Chat.Create"}, "idtyp": "app"}))
	f.Add("Bearer a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := policy.ParseToken(tok)
		if err != nil {
			if len(tok) > 8 && strings.Contains(err.Error(), tok) {
				t.Fatalf("the error repeats the token: %v", err)
			}
			return
		}
		if a := c.Auth(); a != policy.AuthDelegated && a != policy.AuthApplication {
			t.Fatalf("auth %q", a)
		}
	})
}
