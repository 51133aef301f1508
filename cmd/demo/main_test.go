package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type result struct {
	code           int
	stdout, stderr string
}

func newEnv(stdin string) (*env, *syncBuffer, *syncBuffer) {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	return &env{stdin: strings.NewReader(stdin), stdout: out, stderr: errOut, getenv: func(string) string { return "" },
		newCredential: newAzureCredential}, out, errOut
}

func demo(t *testing.T, e *env, args ...string) result {
	t.Helper()
	if e == nil {
		e, _, _ = newEnv("")
	}
	code := e.run(context.Background(), args)
	return result{code, e.stdout.(*syncBuffer).String(), e.stderr.(*syncBuffer).String()}
}

// emulator starts an emulator for one test.
func emulator(t *testing.T) *graphchattest.Server {
	t.Helper()
	srv, err := graphchattest.NewServer("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func testdata(name string) string { return filepath.Join("..", "..", "testdata", "create-chat", name) }

func TestWalkthrough(t *testing.T) {
	t.Parallel()
	r := demo(t, nil)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"existing", "the same id as in 1", "guest_role", "external_role", "caller_missing", "topic_on_one_on_one", "permission_excess", "operation_not_supported", "mention_not_member", "mentioning Lee", "received none of the 7 refused requests"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	assertNoToken(t, r, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMember.ReadWrite"))
	if r := demo(t, nil, "walkthrough", "extra"); r.code != exitUsage {
		t.Errorf("walkthrough extra: exit %d", r.code)
	}
}

// assertNoToken fails if any part of a token shows in the output.
func assertNoToken(t *testing.T, r result, token string) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) > 1 && parts[1] != "" && (strings.Contains(r.stdout, parts[1]) || strings.Contains(r.stderr, parts[1])) {
		t.Errorf("the token shows in the output")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	megan := "--caller=" + graphchattest.MeganID
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"docs one-on-one", "", []string{"validate", "--caller", "8b081ef6-4792-4def-b2c9-c363a1bf41d5", testdata("docs-1-one-on-one.json")}, exitOK, "allowed"},
		{"flags after the file", "", []string{"validate", testdata("docs-1-one-on-one.json"), "--caller", "8b081ef6-4792-4def-b2c9-c363a1bf41d5", "--scopes", "Chat.Create"}, exitOK, "allowed by Chat.Create"},
		{"docs guest id", "", []string{"validate", megan, testdata("docs-6-group-in-tenant-guest.json")}, exitRefused, "user_reference"},
		{"guest as owner", "", []string{"validate", "--caller", "8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca", "--guest", graphchattest.AdaID, testdata("bad-guest-owner.json")}, exitRefused, "guest_role"},
		{"guest from a directory", "", []string{"validate", "--caller", "8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca", "--directory", "testdata/directory.json", testdata("bad-guest-owner.json")}, exitRefused, "guest_role"},
		{"external tenant mismatch", "", []string{"validate", "--caller", "8b081ef6-4792-4def-b2c9-c363a1bf41d5", "--tenant", graphchattest.DefaultTenantID, "--external", graphchattest.AlexID + "=00000000-0000-4000-8000-000000000001", testdata("docs-7-one-on-one-federated.json")}, exitRefused, "kind_conflict"},
		{"stdin", `{"chatType":"oneOnOne","topic":"x","members":[]}`, []string{"validate", "-"}, exitRefused, "topic_on_one_on_one"},
		{"strict", "", []string{"validate", "--strict", "--scopes", "Chat.ReadWrite", "--caller", "8b081ef6-4792-4def-b2c9-c363a1bf41d5", testdata("docs-1-one-on-one.json")}, exitRefused, "permission_excess"},
		{"warn", "", []string{"validate", "--scopes", "Chat.ReadWrite", "--caller", "8b081ef6-4792-4def-b2c9-c363a1bf41d5", testdata("docs-1-one-on-one.json")}, exitOK, "warning    permission_excess"},
		{"application", "", []string{"validate", "--auth", "application", "--scopes", "Chat.Create", testdata("docs-2-group.json")}, exitOK, "allowed"},
		{"token", "", []string{"validate", "--token", graphchattest.DelegatedToken("8b081ef6-4792-4def-b2c9-c363a1bf41d5", "Chat.Create"), testdata("docs-1-one-on-one.json")}, exitOK, "allowed by Chat.Create"},
		{"token and scopes conflict", "", []string{"validate", "--token", "a.b.c", "--scopes", "x", testdata("docs-1-one-on-one.json")}, exitUsage, "conflict"},
		{"bad token", "", []string{"validate", "--token", "abc", testdata("docs-1-one-on-one.json")}, exitAuth, "token"},
		{"malformed json", "", []string{"validate", testdata("syntax-truncated.json")}, exitUsage, "line 4"},
		{"binary garbage", "\x00\x01\x02PK\x03\x04", []string{"validate", "-"}, exitUsage, "malformed"},
		{"empty", "", []string{"validate", "-"}, exitUsage, "empty"},
		{"missing file", "", []string{"validate", "no-such-file.json"}, exitUsage, "no such file"},
		{"no file", "", []string{"validate"}, exitUsage, "want one FILE"},
		{"unknown flag", "", []string{"validate", "--nope", testdata("docs-1-one-on-one.json")}, exitUsage, "flag provided but not defined"},
		{"bad auth", "", []string{"validate", "--auth", "robot", testdata("docs-1-one-on-one.json")}, exitUsage, "--auth"},
		{"bad external", "", []string{"validate", "--external", "x", testdata("docs-1-one-on-one.json")}, exitUsage, "ID=TENANT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := newEnv(tt.stdin)
			r := demo(t, e, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s\n%s", r.code, tt.code, tt.want, r.stdout, r.stderr)
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	t.Parallel()
	r := demo(t, nil, "validate", "--json", "--guest", graphchattest.AdaID, "--caller", graphchattest.NestorID, "--scopes", "Chat.ReadWrite", testdata("bad-guest-owner.json"))
	if r.code != exitRefused {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Allowed     bool
		Violations  []policy.Violation
		Warnings    []policy.Violation
		Permissions *policy.Decision
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if out.Allowed || len(out.Violations) != 2 || out.Violations[0].Code != policy.CodeCallerMissing || out.Violations[1].Field != "members[2].roles" ||
		len(out.Warnings) != 1 || out.Permissions == nil || out.Permissions.Operations[0].AllowedBy != "Chat.ReadWrite" {
		t.Errorf("%+v", out)
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"one-on-one", []string{"create", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitOK, "created one-on-one chat 19:"},
		{"group with guest", []string{"create", "--group", "--topic", "Launch", "megan@contoso.com", "lee@contoso.com", "--guest", "ada_fabrikam.com#EXT#@contoso.onmicrosoft.com", "ada_fabrikam.com#EXT#@contoso.onmicrosoft.com"}, exitOK, `created group chat 19:`},
		{"external", []string{"create", "--one-on-one", "megan@contoso.com", graphchattest.GradyID, "--external", graphchattest.GradyID + "=" + graphchattest.PartnerTenantID}, exitOK, "created one-on-one"},
		{"body", []string{"create", testdata("docs-2-group.json"), "--caller", "megan@contoso.com"}, exitOK, `"Group chat title"`},
		{"body with app", []string{"create", testdata("docs-3-one-on-one-installed-apps.json"), "--caller", "jacob@contoso.com"}, exitOK, "accepted"},
		{"refused body", []string{"create", testdata("bad-bind-key-python.json"), "--caller", "megan@contoso.com"}, exitRefused, "bind_key"},
		{"refused flags", []string{"create", "--group", "lee@contoso.com", "nestor@contoso.com", "alex@contoso.com"}, exitRefused, "caller_missing"},
		{"refused by the service", []string{"create", "--group", "megan@contoso.com", "lee@contoso.com", "nobody@contoso.com"}, exitRefused, "not found"},
		{"strict", []string{"create", "--strict", "--scopes", "Chat.ReadWrite", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitRefused, "permission_excess"},
		{"both kinds", []string{"create", "--one-on-one", "--group", "a@b.c", "d@e.f"}, exitUsage, "conflict"},
		{"topic on one-on-one", []string{"create", "--one-on-one", "--topic", "x", "a@b.c", "d@e.f"}, exitUsage, "--topic"},
		{"three for one-on-one", []string{"create", "--one-on-one", "a@b.c", "d@e.f", "g@h.i"}, exitUsage, "two users"},
		{"no input", []string{"create"}, exitUsage, "want one FILE"},
		{"bad target", []string{"create", "--target", "mars", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitUsage, "--target"},
		{"caller unknown to the emulator", []string{"create", "--caller", "x@y.z", "--one-on-one", "x@y.z", "lee@contoso.com"}, exitUsage, "directory"},
		{"malformed body", []string{"create", testdata("syntax-garbage.json")}, exitUsage, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := demo(t, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s\n%s", r.code, tt.code, tt.want, r.stdout, r.stderr)
			}
		})
	}
}

// A running emulator: create a group, then add a member to it.
func TestCreateAndAddMemberOnARunningEmulator(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	r := demo(t, nil, "create", "--target", strings.TrimSuffix(srv.URL, "/v1.0"), "--token", tok, "--json", "--group", "--topic", "Plan", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com")
	if r.code != exitOK {
		t.Fatalf("create: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	assertNoToken(t, r, tok)
	var doc struct {
		Allowed bool
		Chat    struct {
			ID, ChatType string
			Existed      bool
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || !doc.Allowed || doc.Chat.ChatType != "group" || doc.Chat.ID == "" {
		t.Fatalf("create output %q: %v", r.stdout, err)
	}
	created := doc.Chat
	r = demo(t, nil, "add-member", "--target", srv.URL, "--chat", created.ID, "--history", "all", "alex@contoso.com")
	if r.code != exitOK || !strings.Contains(r.stdout, "added alex@contoso.com") {
		t.Fatalf("add-member: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := srv.Chats()[0].Members; len(got) != 4 {
		t.Errorf("members %v", got)
	}
	for _, bad := range [][]string{
		{"add-member", "--target", srv.URL, "alex@contoso.com"},
		{"add-member", "--target", srv.URL, "--chat", created.ID, "--role", "boss", "alex@contoso.com"},
		{"add-member", "--target", srv.URL, "--chat", created.ID, "--history", "yesterday", "alex@contoso.com"},
	} {
		if r := demo(t, nil, bad...); r.code != exitUsage {
			t.Errorf("%v: exit %d", bad, r.code)
		}
	}
	// The guest rule applies to added members too, before anything is sent.
	n := len(srv.Entries())
	r = demo(t, nil, "add-member", "--target", srv.URL, "--chat", created.ID, "--role", "owner", "--guest", graphchattest.AdaID, graphchattest.AdaID)
	if r.code != exitRefused || !strings.Contains(r.stdout, "guest_role") || len(srv.Entries()) != n {
		t.Errorf("guest as owner: exit %d\n%s", r.code, r.stdout)
	}
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"permissions", "--op", "create-chat,add-member"}, exitOK, "Chat.Create ChatMember.ReadWrite"},
		{[]string{"permissions", "--op", "create-chat", "--auth", "application"}, exitOK, "Chat.Create"},
		{[]string{"permissions", "--op", "create-chat", "--scopes", "Chat.ReadWrite"}, exitOK, "warning    permission_excess"},
		{[]string{"permissions", "--op", "create-chat", "--scopes", "Chat.ReadWrite", "--strict"}, exitRefused, "violation  permission_excess"},
		{[]string{"permissions", "--op", "add-member", "--scopes", "Chat.Create"}, exitRefused, "permission_missing"},
		{[]string{"permissions", "--op", "send-message", "--auth", "application"}, exitUsage, "not available"},
		{[]string{"permissions", "--op", "fly"}, exitUsage, "--op"},
		{[]string{"permissions"}, exitUsage, "want --op"},
		{[]string{"permissions", "--metadata", "../../testdata/permissions/fixture.json", "--method", "POST", "--path", "/chats"}, exitOK, "least-privileged DelegatedWork: Chat.Create"},
		{[]string{"permissions", "--metadata", "../../testdata/permissions/fixture.json", "--method", "GET", "--path", "/chats/19:x@thread.v2/members", "--scopes", "Chat.ReadWrite", "--strict"}, exitRefused, "permission_excess"},
		{[]string{"permissions", "--metadata", "../../testdata/permissions/fixture.json", "--path", "/chats"}, exitUsage, "--method"},
		{[]string{"permissions", "--metadata", "nope.json", "--method", "GET", "--path", "/chats"}, exitUsage, "reading --metadata"},
	}
	for _, tt := range tests {
		r := demo(t, nil, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
			t.Errorf("%v: exit %d (want %d), output lacks %q:\n%s\n%s", tt.args, r.code, tt.code, tt.want, r.stdout, r.stderr)
		}
	}
	r := demo(t, nil, "permissions", "--op", "create-chat", "--scopes", "Chat.Create", "--json")
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out["allowed"] != true {
		t.Errorf("json: %v %s", err, r.stdout)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	r := demo(t, nil, "token", "--scopes", "Chat.Create User.Read")
	c, err := policy.ParseToken(strings.TrimSpace(r.stdout))
	if r.code != exitOK || err != nil || c.Auth() != policy.AuthDelegated || c.ObjectID != graphchattest.MeganID || c.UserPrincipalName != "megan@contoso.com" || len(c.Scopes) != 2 {
		t.Errorf("delegated token: %d %v %+v", r.code, err, c)
	}
	r = demo(t, nil, "token", "--roles", "Chat.Create")
	c, err = policy.ParseToken(strings.TrimSpace(r.stdout))
	if err != nil || c.Auth() != policy.AuthApplication {
		t.Errorf("app token: %v %+v", err, c)
	}
	for _, bad := range [][]string{{"token", "--scopes", "a", "--roles", "b"}, {"token", "--tid", "contoso"}, {"token", "extra"}} {
		if r := demo(t, nil, bad...); r.code != exitUsage {
			t.Errorf("%v: exit %d", bad, r.code)
		}
	}
}

func TestEmulate(t *testing.T) {
	t.Parallel()
	e, out, errOut := newEnv("")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- e.run(ctx, []string{"emulate", "--addr", "127.0.0.1:0", "--rate-limit", "1000"}) }()
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, after, ok := strings.Cut(errOut.String(), "Graph at "); ok {
			base, _, _ = strings.Cut(after, " ")
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("no address announced: %s", errOut.String())
	}
	req, _ := http.NewRequest("POST", base+"/chats", strings.NewReader(`{"chatType":"oneOnOne","members":[]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "POST /v1.0/chats 400 request-id=") {
		t.Errorf("log: %q", out.String())
	}
	for _, bad := range [][]string{{"emulate", "--addr", "0.0.0.0:0"}, {"emulate", "--faults", "nope"}, {"emulate", "--directory", "missing.json"}} {
		if r := demo(t, nil, bad...); r.code != exitUsage {
			t.Errorf("%v: exit %d", bad, r.code)
		}
	}
}

// fakeCredential records the scopes asked for and returns an emulator token.
type fakeCredential struct {
	token string
	mu    sync.Mutex
	asked [][]string
}

func (f *fakeCredential) GetToken(_ context.Context, o azpolicy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, o.Scopes)
	return azcore.AccessToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// reroute sends requests for Microsoft Graph's hosts to a local emulator
// and records what was asked for.
type reroute struct {
	target *url.URL
	mu     sync.Mutex
	seen   []*http.Request
}

func (r *reroute) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Clone(req.Context()))
	r.mu.Unlock()
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = r.target.Scheme, r.target.Host, r.target.Host
	return http.DefaultTransport.RoundTrip(out)
}

// Real Microsoft Graph cannot be reached here: everything up to the HTTP
// request is tested with a fake credential, and the request is answered by
// the emulator.
func TestGraphTarget(t *testing.T) {
	t.Parallel()
	emu := httptest.NewServer(graphchattest.New(&graphchattest.Options{}))
	defer emu.Close()
	target, _ := url.Parse(emu.URL)
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		token      string
		wantScopes []string
		wantHost   string
		wantCfg    credentialConfig
	}{
		{"delegated device code", map[string]string{"AZURE_CLIENT_ID": "app", "AZURE_TENANT_ID": graphchattest.DefaultTenantID},
			[]string{"--auth", "delegated"}, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create"),
			[]string{"https://graph.microsoft.com/Chat.Create"}, "graph.microsoft.com", credentialConfig{Auth: policy.AuthDelegated, ClientID: "app", TenantID: graphchattest.DefaultTenantID}},
		{"delegated Azure CLI", nil, []string{"--use-cli"}, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create"),
			[]string{"https://graph.microsoft.com/.default"}, "graph.microsoft.com", credentialConfig{Auth: policy.AuthDelegated, UseCLI: true}},
		{"application", map[string]string{"AZURE_CLIENT_ID": "app", "AZURE_TENANT_ID": graphchattest.DefaultTenantID, "AZURE_CLIENT_SECRET": "s3cr3t-value"},
			[]string{"--auth", "application"}, graphchattest.AppToken("Chat.Create"),
			[]string{"https://graph.microsoft.com/.default"}, "graph.microsoft.com", credentialConfig{Auth: policy.AuthApplication, ClientID: "app", TenantID: graphchattest.DefaultTenantID}},
		{"US government cloud", map[string]string{"AZURE_CLIENT_ID": "app"}, []string{"--cloud", "usgov"}, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create"),
			[]string{"https://graph.microsoft.us/Chat.Create"}, "graph.microsoft.us", credentialConfig{Auth: policy.AuthDelegated, ClientID: "app"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, out, errOut := newEnv("")
			e.getenv = func(k string) string { return tt.env[k] }
			cred := &fakeCredential{token: tt.token}
			var cfg credentialConfig
			e.newCredential = func(c credentialConfig) (azcore.TokenCredential, error) { cfg = c; return cred, nil }
			rr := &reroute{target: target}
			e.transport = rr
			args := append([]string{"create", "--target", "graph", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, tt.args...)
			code := e.run(context.Background(), args)
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
			}
			if len(cred.asked) == 0 || strings.Join(cred.asked[0], " ") != strings.Join(tt.wantScopes, " ") {
				t.Errorf("scopes asked %v, want %v", cred.asked, tt.wantScopes)
			}
			if cfg.Auth != tt.wantCfg.Auth || cfg.UseCLI != tt.wantCfg.UseCLI || cfg.ClientID != tt.wantCfg.ClientID || cfg.TenantID != tt.wantCfg.TenantID {
				t.Errorf("credential config %+v, want %+v", cfg, tt.wantCfg)
			}
			if len(rr.seen) != 1 {
				t.Fatalf("%d requests", len(rr.seen))
			}
			req := rr.seen[0]
			if req.URL.Scheme != "https" || req.URL.Host != tt.wantHost || req.URL.Path != "/v1.0/chats" || req.Header.Get("Authorization") != "Bearer "+tt.token ||
				req.Header.Get("client-request-id") == "" || req.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %v", req.URL, req.Header)
			}
			r := result{code, out.String(), errOut.String()}
			assertNoToken(t, r, tt.token)
			if strings.Contains(r.stdout+r.stderr, "s3cr3t-value") {
				t.Error("the secret shows in the output")
			}
		})
	}
}

func TestGraphTargetMissingCredentials(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--auth", "application"}, exitAuth, "set AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET"},
		{[]string{"--auth", "delegated"}, exitAuth, "set AZURE_CLIENT_ID"},
		{[]string{"--auth", "application", "--use-cli"}, exitUsage, "--use-cli"},
		{[]string{"--token", "a.b.c"}, exitUsage, "--token is for emulator targets"},
	} {
		e, _, _ := newEnv("")
		e.newCredential = func(credentialConfig) (azcore.TokenCredential, error) {
			t.Fatal("a credential was built without its settings")
			return nil, nil
		}
		r := demo(t, e, append([]string{"create", "--target", "graph", "--one-on-one", "a@b.c", "d@e.f"}, tt.args...)...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q", tt.args, r.code, r.stderr)
		}
	}
}

func TestHelpAndUnknown(t *testing.T) {
	t.Parallel()
	if r := demo(t, nil, "help"); r.code != exitOK || !strings.Contains(r.stdout, "demo validate") {
		t.Errorf("help: %d", r.code)
	}
	if r := demo(t, nil, "validate", "-h"); r.code != exitOK || !strings.Contains(r.stdout, "--strict") && !strings.Contains(r.stdout, "-strict") {
		t.Errorf("validate -h: %d %q", r.code, r.stdout)
	}
	if r := demo(t, nil, "fly"); r.code != exitUsage {
		t.Errorf("unknown command: %d", r.code)
	}
}

// -v logs each request with its ids on standard error, never the token.
func TestVerboseLogsHoldNoToken(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	r := demo(t, nil, "create", "-v", "--target", srv.URL, "--token", tok, "--one-on-one", "megan@contoso.com", "lee@contoso.com")
	if r.code != exitOK || !strings.Contains(r.stderr, "graph request") || !strings.Contains(r.stderr, "request-id=") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	assertNoToken(t, r, tok)
}

// create reads a body from standard input with "-".
func TestCreateFromStdin(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(testdata("docs-2-group.json"))
	if err != nil {
		t.Fatal(err)
	}
	e, _, _ := newEnv(string(body))
	r := demo(t, e, "create", "--caller", "megan@contoso.com", "-")
	if r.code != exitOK || !strings.Contains(r.stdout, `created group chat 19:`) {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
