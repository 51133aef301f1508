package policy_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graphchat/graphchat/policy"
)

type testCase struct {
	File    string `json:"file"`
	Source  string `json:"source"`
	Context struct {
		Auth      policy.AuthType   `json:"auth"`
		Tenant    string            `json:"tenant"`
		Caller    string            `json:"caller"`
		Guests    []string          `json:"guests"`
		Externals map[string]string `json:"externals"`
		Directory []struct {
			ID         string      `json:"id"`
			UPN        string      `json:"upn"`
			Kind       policy.Kind `json:"kind"`
			HomeTenant string      `json:"homeTenant"`
		} `json:"directory"`
	} `json:"context"`
	SyntaxError bool          `json:"syntaxError"`
	Violations  []policy.Code `json:"violations"`
	Warnings    []policy.Code `json:"warnings"`
}

func loadCases(t testing.TB) (dir string, cases []testCase) {
	t.Helper()
	dir = filepath.Join("..", "testdata", "create-chat")
	data, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []testCase }
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return dir, f.Cases
}

// apply sets what the case declares about members and the caller.
func (tc testCase) apply(t testing.TB, r *policy.Request) *policy.Context {
	t.Helper()
	c := &policy.Context{Auth: tc.Context.Auth, TenantID: tc.Context.Tenant}
	if len(tc.Context.Directory) > 0 {
		var users []policy.User
		for _, u := range tc.Context.Directory {
			users = append(users, policy.User{ID: u.ID, UserPrincipalName: u.UPN, Kind: u.Kind, HomeTenantID: u.HomeTenant})
		}
		d, err := policy.NewDirectory(users...)
		if err != nil {
			t.Fatal(err)
		}
		c.Directory = d
	}
	if policy.IsObjectID(tc.Context.Caller) {
		c.Caller.ID = tc.Context.Caller
	} else {
		c.Caller.UserPrincipalName = tc.Context.Caller
	}
	for i := range r.Members {
		m := &r.Members[i]
		for _, g := range tc.Context.Guests {
			if m.User == g {
				m.Kind = policy.KindGuest
			}
		}
		if tenant, ok := tc.Context.Externals[m.User]; ok {
			m.Kind = policy.KindExternal
			m.HomeTenantID = tenant
		}
	}
	return c
}

func TestTestdataCases(t *testing.T) {
	t.Parallel()
	dir, cases := loadCases(t)
	var bad int
	for _, tc := range cases {
		if len(tc.Violations) > 0 {
			bad++
		}
		t.Run(tc.File, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tc.File))
			if err != nil {
				t.Fatal(err)
			}
			r, err := policy.ParseCreateChat(data)
			if tc.SyntaxError {
				var se *policy.SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("ParseCreateChat error = %v, want a *policy.SyntaxError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCreateChat: %v", err)
			}
			res := policy.Check(r, tc.apply(t, r))
			opt := cmpopts.EquateEmpty()
			if diff := cmp.Diff(tc.Violations, res.Violations.Codes(), opt); diff != "" {
				t.Errorf("violations (-want +got):\n%s\n%v", diff, res.Violations)
			}
			if diff := cmp.Diff(tc.Warnings, res.Warnings.Codes(), opt); diff != "" {
				t.Errorf("warnings (-want +got):\n%s\n%v", diff, res.Warnings)
			}
			if (res.Err() == nil) != (len(tc.Violations) == 0) {
				t.Errorf("Err() = %v with %d expected violations", res.Err(), len(tc.Violations))
			}
			for _, v := range append(res.Violations, res.Warnings...) {
				if v.Message == "" {
					t.Errorf("%s: empty message", v.Code)
				}
			}
		})
	}
	if bad < 30 {
		t.Errorf("testdata has %d bad bodies, want at least 30", bad)
	}
}
