package policy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graphchat/graphchat/policy"
)

func loadFixture(t testing.TB) *policy.Metadata {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "permissions", "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := policy.ParseMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMetadataMatch(t *testing.T) {
	t.Parallel()
	m := loadFixture(t)
	if m.Permissions() != 7 {
		t.Errorf("Permissions() = %d, want 7", m.Permissions())
	}
	for path, want := range map[string]string{
		"/chats":                                          "/chats",
		"/v1.0/chats/19:abc@thread.v2/members":            "/chats/{id}/members",
		"/beta/Chats/19:abc@thread.v2/Members/":           "/chats/{id}/members",
		"/chats/19:abc@thread.v2/members/MCMjMSMj?$top=1": "/chats/{id}/members/{id}",
		"/chats/getAllMessages":                           "/chats/getAllMessages", // literal wins over {id}
		"/chats/19:82fe7758_8c0a1a67@unq.gbl.spaces":      "/chats/{id}",
		"/users/jacob@contoso.com":                        "/users/{id}",
		"/me/chats":                                       "/me/chats",
	} {
		got, ok := m.Match(path)
		if !ok || got != want {
			t.Errorf("Match(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
	for _, path := range []string{"/", "/teams", "/chats/a/b/c/d/e", "/chats//members"} {
		if got, ok := m.Match(path); ok {
			t.Errorf("Match(%q) = %q, want no match", path, got)
		}
	}
}

func TestMetadataJudge(t *testing.T) {
	t.Parallel()
	m := loadFixture(t)
	tests := []struct {
		method, path         string
		scheme               policy.Scheme
		granted              []string
		mode                 policy.Mode
		least                []string
		allowedBy            string
		excess               []string
		violations, warnings []policy.Code
	}{
		{"POST", "/chats", policy.SchemeDelegatedWork, []string{"Chat.Create"}, "", []string{"Chat.Create"}, "Chat.Create", nil, nil, nil},
		{"POST", "/chats", policy.SchemeDelegatedWork, []string{"Chat.ReadWrite"}, "", []string{"Chat.Create"}, "Chat.ReadWrite", []string{"Chat.ReadWrite"}, nil, []policy.Code{policy.CodePermissionExcess}},
		{"POST", "/chats", policy.SchemeDelegatedWork, []string{"Chat.ReadWrite"}, policy.ModeStrict, []string{"Chat.Create"}, "Chat.ReadWrite", []string{"Chat.ReadWrite"}, []policy.Code{policy.CodePermissionExcess}, nil},
		{"GET", "/chats/19:x@thread.v2", policy.SchemeDelegatedWork, []string{"User.Read"}, "", []string{"Chat.ReadBasic"}, "", nil, []policy.Code{policy.CodePermissionMissing}, nil},
		// RSC is least for POST members (application): the tenant-wide one stands in.
		{"POST", "/chats/19:x@thread.v2/members", policy.SchemeApplication, []string{"ChatMember.ReadWrite.All"}, "", []string{"ChatMember.ReadWrite.All"}, "ChatMember.ReadWrite.All", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+fmt.Sprint(tt.granted, tt.mode), func(t *testing.T) {
			d, err := m.Judge(tt.method, tt.path, tt.scheme, tt.granted, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			opt := cmpopts.EquateEmpty()
			got := []any{d.Least, d.AllowedBy, d.Excess, d.Violations.Codes(), d.Warnings.Codes()}
			want := []any{tt.least, tt.allowedBy, tt.excess, tt.violations, tt.warnings}
			if diff := cmp.Diff(want, got, opt); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := m.Judge("GET", "/teams/x", policy.SchemeApplication, nil, ""); err == nil {
		t.Error("unknown path: no error")
	}
	if _, err := m.Judge("PATCH", "/chats", policy.SchemeApplication, nil, ""); err == nil {
		t.Error("method no permission allows: no error")
	}
	for _, bad := range []string{"", "[]", `{"x":1}`, `{"permissions": 3}`} {
		if _, err := policy.ParseMetadata([]byte(bad)); err == nil {
			t.Errorf("ParseMetadata(%q): no error", bad)
		}
	}
}

// upstreamSized builds a permissions file the size of Microsoft's full one
// (about 900 permissions, 3 MB) in its format.
func upstreamSized(tb testing.TB) []byte {
	tb.Helper()
	perms := map[string]any{}
	for i := range 900 {
		paths := map[string]string{}
		for j := range 64 {
			paths[fmt.Sprintf("/resource%d/{id}/child%d/{id}/leaf%d", i%97, j, i)] = map[bool]string{true: "least=DelegatedWork,Application", false: ""}[j%5 == 0]
		}
		perms[fmt.Sprintf("Resource%d.ReadWrite.All", i)] = map[string]any{
			"authorizationType": "oAuth2",
			"schemes": map[string]any{
				"DelegatedWork": map[string]any{"adminDisplayName": "Read and write resources of a kind in the organization", "requiresAdminConsent": true, "privilegeLevel": 3},
				"Application":   map[string]any{"adminDisplayName": "Read and write resources of a kind in the organization", "requiresAdminConsent": true, "privilegeLevel": 4},
			},
			"ownerInfo": map[string]any{"ownerSecurityGroup": "Owners"},
			"pathSets":  []any{map[string]any{"schemeKeys": []string{"DelegatedWork", "Application"}, "methods": []string{"GET", "POST", "PATCH", "DELETE"}, "paths": paths}},
		}
	}
	data, err := json.Marshal(map[string]any{"permissions": perms})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestMetadataUpstreamSize(t *testing.T) {
	t.Parallel()
	data := upstreamSized(t)
	if len(data) < 3e6 {
		t.Fatalf("generated %d bytes, want at least 3 MB", len(data))
	}
	m, err := policy.ParseMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Permissions() != 900 {
		t.Errorf("Permissions() = %d", m.Permissions())
	}
	tmpl, grants := m.Lookup("GET", "/resource5/abc/child7/def/leaf5", policy.SchemeApplication)
	if tmpl != "/resource5/{id}/child7/{id}/leaf5" || len(grants) != 1 || grants[0].Permission != "Resource5.ReadWrite.All" {
		t.Errorf("Lookup = %q %+v", tmpl, grants)
	}
}

func BenchmarkParseMetadataUpstreamSize(b *testing.B) {
	data := upstreamSized(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policy.ParseMetadata(data); err != nil {
			b.Fatal(err)
		}
	}
}

// A mode Judge does not know is an error, as in Evaluate (it was read as
// ModeWarn).
func TestMetadataJudgeMode(t *testing.T) {
	t.Parallel()
	m := loadFixture(t)
	if _, err := m.Judge("POST", "/chats", policy.SchemeDelegatedWork, []string{"Chat.ReadWrite"}, "loud"); err == nil {
		t.Error("unknown mode accepted")
	}
}
