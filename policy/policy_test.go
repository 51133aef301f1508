package policy_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graphchat/graphchat/policy"
)

func TestParseBindURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    policy.BindURL
		wantErr string
	}{
		{in: "https://graph.microsoft.com/v1.0/users('8b081ef6-4792-4def-b2c9-c363a1bf41d5')",
			want: policy.BindURL{Host: "graph.microsoft.com", Version: "v1.0", User: "8b081ef6-4792-4def-b2c9-c363a1bf41d5"}},
		{in: "https://graph.microsoft.com/beta/users/jacob@contoso.com",
			want: policy.BindURL{Host: "graph.microsoft.com", Version: "beta", User: "jacob@contoso.com"}},
		{in: "https://GRAPH.microsoft.com/v1.0/users('o''brien@contoso.com')",
			want: policy.BindURL{Host: "graph.microsoft.com", Version: "v1.0", User: "o'brien@contoso.com"}},
		{in: "https://graph.microsoft.com/v1.0/users('ada_contoso.com%23EXT%23@fabrikam.onmicrosoft.com')",
			want: policy.BindURL{Host: "graph.microsoft.com", Version: "v1.0", User: "ada_contoso.com#EXT#@fabrikam.onmicrosoft.com"}},
		{in: "https://microsoftgraph.chinacloudapi.cn/v1.0/users('x@contoso.cn')",
			want: policy.BindURL{Host: "microsoftgraph.chinacloudapi.cn", Version: "v1.0", User: "x@contoso.cn"}},
		{in: "http://graph.microsoft.com/v1.0/users('a@b.c')", wantErr: "scheme"},
		{in: "https://graph.microsoft.com:8443/v1.0/users('a@b.c')", wantErr: "port"},
		{in: "https://evil.example/v1.0/users('a@b.c')", wantErr: "not a Microsoft Graph host"},
		{in: "https://graph.microsoft.com.evil.example/v1.0/users('a@b.c')", wantErr: "not a Microsoft Graph host"},
		{in: "https://graph.microsoft.com/v1.0/users('a#EXT#@b.c')", wantErr: "fragment"},
		{in: "https://graph.microsoft.com/v1.0/users('a@b.c')?x=1", wantErr: "query"},
		{in: "https://graph.microsoft.com/v1.0/users('o'brien@b.c')", wantErr: "unescaped quote"},
		{in: "https://graph.microsoft.com/v1.0/users(a@b.c)", wantErr: "malformed key"},
		{in: "https://graph.microsoft.com/v1.0/users('')", wantErr: "empty user key"},
		{in: "https://graph.microsoft.com/v1.0/users/a/b", wantErr: "single segment"},
		{in: "https://graph.microsoft.com/v1.0/groups('a')", wantErr: "want users"},
		{in: "https://graph.microsoft.com/users('a')", wantErr: "/v1.0/ or /beta/"},
		{in: "https://graph.microsoft.com/v1.0/users('%zz')", wantErr: "invalid URL escape"},
		{in: "::not a url", wantErr: "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := policy.ParseBindURL(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Formatting and parsing again gives the same user.
			again, err := policy.ParseBindURL(got.String())
			if err != nil || again != got {
				t.Errorf("round trip of %q: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestNewBindURL(t *testing.T) {
	t.Parallel()
	b, err := policy.NewBindURL("graph.microsoft.com", "v1.0", "ada_contoso.com#EXT#@fabrikam.onmicrosoft.com")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "https://graph.microsoft.com/v1.0/users('ada_contoso.com%23EXT%23@fabrikam.onmicrosoft.com')"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	b, _ = policy.NewBindURL("graph.microsoft.com", "beta", "o'brien@contoso.com")
	if got, want := b.String(), "https://graph.microsoft.com/beta/users('o''brien@contoso.com')"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	for _, bad := range [][3]string{
		{"evil.example", "v1.0", "a@b.c"},
		{"graph.microsoft.com", "v2.0", "a@b.c"},
		{"graph.microsoft.com", "v1.0", "8ba98gf6-7fc2-4eb2-c7f2-aef9f21fd98g"},
	} {
		if _, err := policy.NewBindURL(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("NewBindURL(%q) succeeded", bad)
		}
	}
}

func TestUserReferences(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"8b081ef6-4792-4def-b2c9-c363a1bf41d5":          true,
		"8B081EF6-4792-4DEF-B2C9-C363A1BF41D5":          true,
		"8ba98gf6-7fc2-4eb2-c7f2-aef9f21fd98g":          false, // the docs' guest example
		"{8b081ef6-4792-4def-b2c9-c363a1bf41d5}":        false,
		"jacob@contoso.com":                             true,
		"o'brien@contoso.com":                           true,
		"ada_contoso.com#EXT#@fabrikam.onmicrosoft.com": true,
		"jacob@localhost":                               false,
		"@contoso.com":                                  false,
		".jacob@contoso.com":                            false,
		"ja..cob@contoso.com":                           false,
		"jacob smith@contoso.com":                       false,
		"jacob@contoso..com":                            false,
		"jacob@-contoso.com":                            false,
		"12345":                                         false,
		"":                                              false,
	} {
		if got := policy.IsUserReference(s); got != want {
			t.Errorf("IsUserReference(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in         string
		line, col  int
		wantInText string
	}{
		{in: "", wantInText: "empty"},
		{in: "  \n ", wantInText: "empty"},
		{in: "[1]", line: 1, col: 1, wantInText: "array"},
		{in: "\n  \"x\"", line: 2, col: 3, wantInText: "string"},
		{in: "{\n  \"a\": tru\n}", line: 2, col: 11, wantInText: "invalid character"},
		{in: "\x00", line: 1, col: 1, wantInText: "invalid character"},
		{in: "{\"a\": [", line: 1, col: 8, wantInText: "end of JSON"},
	}
	for _, tt := range tests {
		_, err := policy.ParseCreateChat([]byte(tt.in))
		var se *policy.SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("%q: err = %v, want *SyntaxError", tt.in, err)
		}
		if se.Line != tt.line || se.Column != tt.col || !strings.Contains(se.Error(), tt.wantInText) {
			t.Errorf("%q: line %d col %d %q, want line %d col %d containing %q", tt.in, se.Line, se.Column, se.Error(), tt.line, tt.col, tt.wantInText)
		}
	}
}

func TestErrorsIs(t *testing.T) {
	t.Parallel()
	r := &policy.Request{ChatType: policy.ChatTypeGroup, Members: []policy.Member{
		{User: "a@contoso.com", Roles: []policy.Role{policy.RoleOwner}},
		{User: "b@contoso.com", Roles: []policy.Role{policy.RoleOwner}, Kind: policy.KindGuest},
		{User: "c@contoso.com", Roles: []policy.Role{"member"}},
	}}
	err := policy.Check(r, &policy.Context{Caller: policy.Caller{UserPrincipalName: "a@contoso.com"}}).Err()
	if !errors.Is(err, policy.CodeGuestRole) || !errors.Is(err, policy.CodeRoleValue) {
		t.Fatalf("errors.Is misses a code in %v", err)
	}
	if errors.Is(err, policy.CodeCallerMissing) {
		t.Errorf("errors.Is found caller_missing in %v", err)
	}
	var list policy.List
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("errors.As(List) = %v", list)
	}
	if list[0].Field != "members[1].roles" || list[1].Field != "members[2].roles[0]" {
		t.Errorf("fields = %q, %q", list[0].Field, list[1].Field)
	}
	// A clean request gives a nil error, not a typed nil.
	ok := policy.Check(&policy.Request{ChatType: policy.ChatTypeOneOnOne, Members: r.Members[:1:1]}, nil)
	if ok.Violations.Err() == nil {
		t.Fatal("one member in a oneOnOne chat passed")
	}
	clean := policy.Check(&policy.Request{ChatType: policy.ChatTypeGroup, Members: []policy.Member{r.Members[0], {User: "d@contoso.com", Roles: []policy.Role{policy.RoleOwner}}, {User: "e@contoso.com", Roles: []policy.Role{policy.RoleOwner}}}},
		&policy.Context{Caller: policy.Caller{UserPrincipalName: "A@CONTOSO.COM"}})
	if err := clean.Err(); err != nil {
		t.Fatalf("clean request: %v", err)
	}
	if policy.Check(nil, nil).Err() == nil {
		t.Error("nil request passed")
	}
}

func TestCallerUndecidable(t *testing.T) {
	t.Parallel()
	// The caller is known by id only and one member is named by UPN: that
	// member may be the caller, so the rule warns instead of rejecting.
	r := &policy.Request{ChatType: policy.ChatTypeOneOnOne, Members: []policy.Member{
		{User: "a@contoso.com", Roles: []policy.Role{policy.RoleOwner}},
		{User: "82af01c5-f7cc-4a2e-a728-3a5df21afd9d", Roles: []policy.Role{policy.RoleOwner}},
	}}
	res := policy.Check(r, &policy.Context{Caller: policy.Caller{ID: "8b081ef6-4792-4def-b2c9-c363a1bf41d5"}})
	if res.Err() != nil || !res.Warnings.Has(policy.CodeCallerUnknown) {
		t.Errorf("got %v, warnings %v; want a caller_unknown warning only", res.Err(), res.Warnings)
	}
	// Application calls have no caller rule.
	res = policy.Check(r, &policy.Context{Auth: policy.AuthApplication})
	if len(res.Violations)+len(res.Warnings) != 0 {
		t.Errorf("application call: %v %v", res.Violations, res.Warnings)
	}
	res = policy.Check(r, &policy.Context{Auth: "robot"})
	if !res.Violations.Has(policy.CodeAuthType) {
		t.Errorf("unknown auth type passed: %v", res.Violations)
	}
}

func TestMinimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		auth policy.AuthType
		ops  []policy.Operation
		want []string
	}{
		{policy.AuthDelegated, []policy.Operation{policy.OpCreateChat}, []string{"Chat.Create"}},
		{policy.AuthApplication, []policy.Operation{policy.OpCreateChat}, []string{"Chat.Create"}},
		{policy.AuthDelegated, []policy.Operation{policy.OpCreateChat, policy.OpAddMember, policy.OpRemoveMember}, []string{"Chat.Create", "ChatMember.ReadWrite"}},
		// ChatMember.ReadWrite allows list-members too, but its reference page
		// lists it as higher privileged there: Chat.ReadBasic is least.
		{policy.AuthDelegated, []policy.Operation{policy.OpAddMember, policy.OpListMembers}, []string{"ChatMember.ReadWrite", "Chat.ReadBasic"}},
		{policy.AuthDelegated, []policy.Operation{policy.OpGetChat, policy.OpListMembers, policy.OpListChats}, []string{"Chat.ReadBasic"}},
		// add-member's least application permission is resource-specific:
		// the first tenant-wide one stands in.
		{policy.AuthApplication, []policy.Operation{policy.OpCreateChat, policy.OpAddMember}, []string{"Chat.Create", "ChatMember.ReadWrite.All"}},
		// The reference page, not the metadata (Chat.ReadBasic.All).
		{policy.AuthApplication, []policy.Operation{policy.OpGetChat}, []string{"Chat.ReadBasic.WhereInstalled"}},
		{policy.AuthApplication, []policy.Operation{policy.OpListMembers}, []string{"ChatMember.Read.All"}},
		{policy.AuthDelegated, []policy.Operation{policy.OpCreateChat, policy.OpGetUser}, []string{"Chat.Create", "User.Read.All"}},
		{policy.AuthDelegated, []policy.Operation{policy.OpCreateChat, policy.OpResolveUser}, []string{"Chat.Create", "User.ReadBasic.All"}},
		// The user-get page lists no User.ReadBasic.All for application calls.
		{policy.AuthApplication, []policy.Operation{policy.OpResolveUser}, []string{"User.Read.All"}},
		// Minimal takes a least-privileged permission of each operation,
		// though User.Read.All (get-user's) also allows resolve-user.
		{policy.AuthDelegated, []policy.Operation{policy.OpGetUser, policy.OpResolveUser}, []string{"User.Read.All", "User.ReadBasic.All"}},
	}
	for _, tt := range tests {
		got, err := policy.Minimal(tt.auth, tt.ops...)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Minimal(%s, %v) (-want +got):\n%s", tt.auth, tt.ops, diff)
		}
	}
	if _, err := policy.Minimal(policy.AuthApplication, policy.OpSendMessage); err == nil {
		t.Error("send-message with application permissions: no error")
	}
	if _, err := policy.Minimal(policy.AuthDelegated, "fly"); err == nil {
		t.Error("unknown operation: no error")
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	create := []policy.Operation{policy.OpCreateChat}
	tests := []struct {
		name                 string
		auth                 policy.AuthType
		grant                policy.Grant
		violations, warnings []policy.Code
		allowedBy            string
		excess, unrelated    []string
		unneeded             []string // of excess, those that allow none of the operations
		missing              []policy.Operation
	}{
		{name: "least", grant: policy.Grant{Permissions: []string{"Chat.Create", "User.Read", "openid"}, Operations: create},
			allowedBy: "Chat.Create", unrelated: []string{"User.Read", "openid"}},
		{name: "case-insensitive", grant: policy.Grant{Permissions: []string{"chat.create"}, Operations: create}, allowedBy: "chat.create"},
		{name: "higher warns", grant: policy.Grant{Permissions: []string{"Chat.ReadWrite"}, Operations: create},
			warnings: []policy.Code{policy.CodePermissionExcess}, allowedBy: "Chat.ReadWrite", excess: []string{"Chat.ReadWrite"}},
		{name: "higher strict", grant: policy.Grant{Permissions: []string{"Chat.ReadWrite"}, Operations: create, Mode: policy.ModeStrict},
			violations: []policy.Code{policy.CodePermissionExcess}, allowedBy: "Chat.ReadWrite", excess: []string{"Chat.ReadWrite"}},
		{name: "higher off", grant: policy.Grant{Permissions: []string{"Chat.ReadWrite"}, Operations: create, Mode: policy.ModeOff},
			allowedBy: "Chat.ReadWrite", excess: []string{"Chat.ReadWrite"}},
		{name: "both granted", grant: policy.Grant{Permissions: []string{"Chat.Create", "Chat.ReadWrite"}, Operations: create},
			warnings: []policy.Code{policy.CodePermissionExcess}, allowedBy: "Chat.Create", excess: []string{"Chat.ReadWrite"}},
		{name: "missing in strict", grant: policy.Grant{Permissions: []string{"User.Read"}, Operations: create, Mode: policy.ModeStrict},
			violations: []policy.Code{policy.CodePermissionMissing}, unrelated: []string{"User.Read"}, missing: create},
		{name: "missing in warn", grant: policy.Grant{Permissions: nil, Operations: create},
			violations: []policy.Code{policy.CodePermissionMissing}, missing: create},
		{name: "missing off", grant: policy.Grant{Operations: create, Mode: policy.ModeOff}, missing: create},
		{name: "app chat-wide role not for create", auth: policy.AuthApplication,
			grant:      policy.Grant{Permissions: []string{"Chat.ReadWrite.All"}, Operations: create},
			violations: []policy.Code{policy.CodePermissionMissing}, warnings: []policy.Code{policy.CodePermissionExcess},
			excess: []string{"Chat.ReadWrite.All"}, unneeded: []string{"Chat.ReadWrite.All"}, missing: create},
		{name: "a permission for another operation is not needed", grant: policy.Grant{Permissions: []string{"Chat.Create", "ChatMember.ReadWrite"}, Operations: []policy.Operation{policy.OpAddMember}},
			warnings: []policy.Code{policy.CodePermissionExcess}, allowedBy: "ChatMember.ReadWrite", excess: []string{"Chat.Create"}, unneeded: []string{"Chat.Create"}},
		{name: "not needed, and more privileged", grant: policy.Grant{Permissions: []string{"Chat.ReadBasic", "Chat.ReadWrite"}, Operations: create},
			warnings: []policy.Code{policy.CodePermissionExcess, policy.CodePermissionExcess}, allowedBy: "Chat.ReadWrite", excess: []string{"Chat.ReadBasic", "Chat.ReadWrite"}, unneeded: []string{"Chat.ReadBasic"}},
		{name: "app send-message unsupported", auth: policy.AuthApplication,
			grant:      policy.Grant{Permissions: []string{"Chat.Create"}, Operations: []policy.Operation{policy.OpCreateChat, policy.OpSendMessage}},
			violations: []policy.Code{policy.CodeOperationAuth}, allowedBy: "Chat.Create"},
		{name: "resolve-user with a full profile reader", grant: policy.Grant{Permissions: []string{"User.Read.All"}, Operations: []policy.Operation{policy.OpResolveUser}},
			warnings: []policy.Code{policy.CodePermissionExcess}, allowedBy: "User.Read.All", excess: []string{"User.Read.All"}},
		{name: "resolve-user least", auth: policy.AuthApplication, grant: policy.Grant{Permissions: []string{"User.Read.All"}, Operations: []policy.Operation{policy.OpResolveUser}},
			allowedBy: "User.Read.All"},
		{name: "resolve-user basic profile role", auth: policy.AuthApplication, grant: policy.Grant{Permissions: []string{"User.ReadBasic.All"}, Operations: []policy.Operation{policy.OpResolveUser}},
			violations: []policy.Code{policy.CodePermissionMissing}, unrelated: []string{"User.ReadBasic.All"}, missing: []policy.Operation{policy.OpResolveUser}},
		{name: "get-chat app all chats", auth: policy.AuthApplication, grant: policy.Grant{Permissions: []string{"Chat.ReadBasic.All"}, Operations: []policy.Operation{policy.OpGetChat}},
			warnings: []policy.Code{policy.CodePermissionExcess}, allowedBy: "Chat.ReadBasic.All", excess: []string{"Chat.ReadBasic.All"}},
		{name: "one member permission for add and list", grant: policy.Grant{Permissions: []string{"ChatMember.ReadWrite"}, Operations: []policy.Operation{policy.OpAddMember, policy.OpListMembers}},
			allowedBy: "ChatMember.ReadWrite"},
		{name: "unknown operation", grant: policy.Grant{Permissions: []string{"Chat.Create"}, Operations: []policy.Operation{"create-chat", "fly"}},
			violations: []policy.Code{policy.CodeOperation}, allowedBy: "Chat.Create"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := policy.Evaluate(tt.auth, tt.grant)
			opt := cmpopts.EquateEmpty()
			if diff := cmp.Diff(tt.violations, d.Violations.Codes(), opt); diff != "" {
				t.Errorf("violations (-want +got):\n%s%v", diff, d.Violations)
			}
			if diff := cmp.Diff(tt.warnings, d.Warnings.Codes(), opt); diff != "" {
				t.Errorf("warnings (-want +got):\n%s%v", diff, d.Warnings)
			}
			if len(d.Operations) > 0 && d.Operations[0].AllowedBy != tt.allowedBy {
				t.Errorf("allowed by %q, want %q", d.Operations[0].AllowedBy, tt.allowedBy)
			}
			for _, c := range []struct {
				name      string
				want, got any
			}{{"excess", tt.excess, d.Excess}, {"unneeded", tt.unneeded, d.Unneeded}, {"unrelated", tt.unrelated, d.Unrelated}, {"missing", tt.missing, d.Missing}} {
				if diff := cmp.Diff(c.want, c.got, opt); diff != "" {
					t.Errorf("%s (-want +got):\n%s", c.name, diff)
				}
			}
			// The wording follows: a permission that allows none of the
			// operations is "not needed", never "more privileged".
			for _, v := range append(d.Violations, d.Warnings...) {
				if v.Code != policy.CodePermissionExcess {
					continue
				}
				p, _, _ := strings.Cut(v.Message, " ")
				if unneeded := slices.Contains(tt.unneeded, p); unneeded != strings.Contains(v.Message, "is not needed by") || unneeded == strings.Contains(v.Message, "more privileged") {
					t.Errorf("%s (unneeded %v): %s", p, unneeded, v.Message)
				}
			}
		})
	}
}

// Check adds create-chat to the grant's operations and merges the decision.
func TestCheckWithGrant(t *testing.T) {
	t.Parallel()
	r := &policy.Request{ChatType: policy.ChatTypeOneOnOne, Members: []policy.Member{
		{User: "a@contoso.com", Roles: []policy.Role{policy.RoleOwner}},
		{User: "b@contoso.com", Roles: []policy.Role{policy.RoleOwner}},
	}}
	res := policy.Check(r, &policy.Context{Caller: policy.Caller{UserPrincipalName: "a@contoso.com"},
		Grant: &policy.Grant{Permissions: []string{"Chat.ReadWrite"}, Mode: policy.ModeStrict}})
	if !errors.Is(res.Err(), policy.CodePermissionExcess) || res.Permissions == nil || res.Permissions.Operations[0].Operation != policy.OpCreateChat {
		t.Fatalf("got %v, %+v", res.Err(), res.Permissions)
	}
}

func token(t testing.TB, claims map[string]any) string {
	t.Helper()
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(p) + "."
}

func TestParseToken(t *testing.T) {
	t.Parallel()
	tid := "2432b57b-0abd-43db-aa7b-16eadd115d34"
	del, err := policy.ParseToken("Bearer " + token(t, map[string]any{"scp": "Chat.Create User.Read", "tid": tid, "oid": "8b081ef6-4792-4def-b2c9-c363a1bf41d5", "upn": "jacob@contoso.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if del.Auth() != policy.AuthDelegated || !cmp.Equal(del.Permissions(), []string{"Chat.Create", "User.Read"}) ||
		del.Caller() != (policy.Caller{ID: "8b081ef6-4792-4def-b2c9-c363a1bf41d5", UserPrincipalName: "jacob@contoso.com"}) || del.TenantID != tid {
		t.Errorf("delegated claims: %+v", del)
	}
	app, err := policy.ParseToken(token(t, map[string]any{"roles": []string{"Chat.Create"}, "tid": tid, "oid": "x", "idtyp": "app"}))
	if err != nil {
		t.Fatal(err)
	}
	if app.Auth() != policy.AuthApplication || !cmp.Equal(app.Permissions(), []string{"Chat.Create"}) || !app.Caller().IsZero() {
		t.Errorf("app claims: %+v", app)
	}
	c := app.Context(policy.ModeStrict, policy.OpAddMember)
	if c.Auth != policy.AuthApplication || c.TenantID != tid || c.Grant.Mode != policy.ModeStrict {
		t.Errorf("Context() = %+v", c)
	}

	secret := "eyJhbGciOiJub25lIn0.c2VjcmV0LXBheWxvYWQtdmFsdWU.c2lnbmF0dXJl"
	for name, bad := range map[string]string{
		"two parts":    "abc.def",
		"not base64":   "a.!!!.c",
		"not json":     secret,
		"roles string": token(t, map[string]any{"roles": "Chat.Create"}),
		"scp array":    token(t, map[string]any{"scp": []string{"x"}}),
		"empty":        "",
	} {
		_, err := policy.ParseToken(bad)
		var te *policy.TokenError
		if !errors.As(err, &te) {
			t.Errorf("%s: err = %v, want *TokenError", name, err)
			continue
		}
		if bad != "" && strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "c2VjcmV0") {
			t.Errorf("%s: the error repeats the token: %v", name, err)
		}
	}
}

func TestCheckMember(t *testing.T) {
	t.Parallel()
	ctx := &policy.Context{TenantID: "2432b57b-0abd-43db-aa7b-16eadd115d34", Grant: &policy.Grant{Permissions: []string{"ChatMember.ReadWrite"}, Operations: []policy.Operation{policy.OpAddMember}}}
	tests := []struct {
		m    *policy.Member
		want []policy.Code
	}{
		{&policy.Member{User: "a@contoso.com", Roles: []policy.Role{policy.RoleOwner}}, nil},
		{&policy.Member{User: "a@contoso.com", Roles: []policy.Role{policy.RoleOwner}, Kind: policy.KindGuest}, []policy.Code{policy.CodeGuestRole}},
		{&policy.Member{User: "82af01c5-f7cc-4a2e-a728-3a5df21afd9d", Roles: []policy.Role{policy.RoleGuest}, TenantID: "4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1"}, []policy.Code{policy.CodeExternalRole}},
		{&policy.Member{User: "not a user", Roles: nil}, []policy.Code{policy.CodeUserReference, policy.CodeRoleCount}},
		{&policy.Member{}, []policy.Code{policy.CodeUserMissing, policy.CodeRoleCount}},
		{nil, []policy.Code{policy.CodeBindMissing}},
	}
	for _, tt := range tests {
		got := policy.CheckMember(tt.m, ctx)
		if diff := cmp.Diff(tt.want, got.Violations.Codes(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("CheckMember(%+v) (-want +got):\n%s", tt.m, diff)
		}
	}
	res := policy.CheckMember(&policy.Member{User: "a@contoso.com", Roles: []policy.Role{policy.RoleOwner}}, &policy.Context{Grant: &policy.Grant{Permissions: []string{"Chat.Create"}}})
	if !res.Violations.Has(policy.CodePermissionMissing) {
		t.Errorf("Chat.Create allowed add-member: %v", res.Violations)
	}
}

// The auth types and modes are checked in one place; what it refuses is
// refused the same way by Check, Evaluate and Metadata.Judge.
func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		auth policy.AuthType
		ok   bool
	}{{policy.AuthDelegated, true}, {policy.AuthApplication, true}, {"", false}, {"Delegated", false}, {"robot", false}} {
		err := tt.auth.Validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, policy.CodeAuthType)) {
			t.Errorf("AuthType(%q).Validate() = %v, want ok %v", tt.auth, err, tt.ok)
		}
	}
	for _, tt := range []struct {
		mode policy.Mode
		ok   bool
	}{{policy.ModeWarn, true}, {policy.ModeStrict, true}, {policy.ModeOff, true}, {"", false}, {"loud", false}} {
		if err := tt.mode.Validate(); (err == nil) != tt.ok {
			t.Errorf("Mode(%q).Validate() = %v, want ok %v", tt.mode, err, tt.ok)
		}
	}
	d := policy.Evaluate("robot", policy.Grant{Operations: []policy.Operation{policy.OpCreateChat}})
	if diff := cmp.Diff([]policy.Code{policy.CodeAuthType}, d.Violations.Codes()); diff != "" {
		t.Errorf("Evaluate with an unknown auth type (-want +got):\n%s", diff)
	}
	if _, err := policy.Describe(policy.OpCreateChat, "robot"); !errors.Is(err, policy.CodeAuthType) {
		t.Errorf("Describe with an unknown auth type: %v", err)
	}
}

// IsLoopbackHost is the one rule of where emulator tokens may go: the
// client, the demo and the emulator all use it.
func TestIsLoopbackHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "LocalHost": true,
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "0:0:0:0:0:0:0:1": true, "::ffff:127.0.0.1": true,
		"": false, "localhost.": false, "localhost.example.com": false, "127.0.0.1.nip.io": false, "[::1]": false, "::1%lo": false,
		"10.0.0.1": false, "0.0.0.0": false, "::": false, "graph.microsoft.com": false, "127.0.0.1:8080": false,
	} {
		if got := policy.IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// An empty list is a JSON array, so that documents keep one shape.
func TestListJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   any
		want string
	}{
		{policy.List(nil), `[]`},
		{struct {
			V policy.List `json:"violations"`
		}{}, `{"violations":[]}`},
		{policy.List{{Code: policy.CodeGuestRole, Field: "members[0].roles", Message: "m"}}, `[{"code":"guest_role","field":"members[0].roles","message":"m"}]`},
	} {
		got, err := json.Marshal(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("json.Marshal(%#v) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}
