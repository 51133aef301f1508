package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"nil", bg, nil, exitOK},
		{"policy refusal", bg, policy.List{{Code: policy.CodeGuestRole}}, exitRefused},
		{"printed refusal", bg, errRefused, exitRefused},
		{"service 400", bg, &graphchat.Error{StatusCode: 400}, exitRefused},
		{"service 403", bg, &graphchat.Error{StatusCode: 403}, exitRefused},
		{"service 401", bg, fmt.Errorf("x: %w", &graphchat.Error{StatusCode: 401}), exitAuth},
		{"token error", bg, &policy.TokenError{Msg: "x"}, exitAuth},
		{"auth", bg, authf(nil, "no credentials"), exitAuth},
		{"outcome unknown", bg, fmt.Errorf("x: %w", graphchat.ErrOutcomeUnknown), exitUnknown},
		{"usage", bg, usagef("bad"), exitUsage},
		{"syntax", bg, &policy.SyntaxError{Msg: "x"}, exitUsage},
		{"canceled after a signal", canceled, fmt.Errorf("reading: %w", context.Canceled), exitInterrupted},
		{"canceled and unknown", canceled, errors.Join(context.Canceled, graphchat.ErrOutcomeUnknown), exitInterrupted},
		{"canceled without a signal", bg, context.Canceled, exitRefused},
		{"already reported", bg, reported{&graphchat.Error{StatusCode: 401}}, exitAuth},
		{"other", bg, errors.New("boom"), exitRefused},
	}
	for _, tt := range tests {
		if got := exitCode(tt.ctx, tt.err); got != tt.want {
			t.Errorf("%s: exit %d, want %d", tt.name, got, tt.want)
		}
	}
}

// With --json, standard output holds exactly one JSON object whatever
// happens, and its error member (if any) carries the exit code.
func TestJSONContract(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMember.ReadWrite")
	tests := []struct {
		name string
		args []string
		code int
		keys []string // top-level members the document must have
	}{
		{"validate allowed", []string{"validate", "--json", "--caller", graphchattest.JacobID, testdata("docs-1-one-on-one.json")}, exitOK, []string{"allowed", "violations", "warnings"}},
		{"validate refused", []string{"validate", "--json", testdata("bad-one-on-one-topic.json")}, exitRefused, []string{"allowed", "violations", "warnings"}},
		{"validate malformed", []string{"validate", "--json", testdata("syntax-garbage.json")}, exitUsage, []string{"error"}},
		{"validate bad token", []string{"validate", "--json", "--token", "abc", testdata("docs-1-one-on-one.json")}, exitAuth, []string{"error"}},
		{"validate unknown flag", []string{"validate", "--json", "--nope", "x"}, exitUsage, []string{"error"}},
		{"create created", []string{"create", "--json", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitOK, []string{"allowed", "violations", "warnings", "chat"}},
		{"create refused", []string{"create", "--json", "--group", "lee@contoso.com", "nestor@contoso.com", "alex@contoso.com"}, exitRefused, []string{"allowed", "violations", "warnings"}},
		{"create service error", []string{"create", "--json", "--group", "megan@contoso.com", "lee@contoso.com", "nobody@contoso.com"}, exitRefused, []string{"allowed", "violations", "warnings", "error"}},
		{"create bad token", []string{"create", "--json", "--token", "abc", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitAuth, []string{"error"}},
		{"create missing permission", []string{"create", "--json", "--scopes", "Chat.ReadBasic", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitRefused, []string{"allowed", "violations"}},
		{"add-member usage", []string{"add-member", "--json", "--target", srv.URL, "alex@contoso.com"}, exitUsage, []string{"error"}},
		{"add-member service error", []string{"add-member", "--json", "--target", srv.URL, "--token", tok, "--chat", "19:none@thread.v2", "alex@contoso.com"}, exitRefused, []string{"allowed", "error"}},
		{"permissions", []string{"permissions", "--json", "--op", "create-chat", "--scopes", "Chat.Create"}, exitOK, []string{"auth", "operations", "minimal", "allowed", "decision"}},
		{"permissions refused", []string{"permissions", "--json", "--op", "add-member", "--scopes", "Chat.Create"}, exitRefused, []string{"allowed", "decision"}},
		{"permissions usage", []string{"permissions", "--json", "--op", "fly"}, exitUsage, []string{"error"}},
		{"token", []string{"token", "--json", "--scopes", "Chat.Create"}, exitOK, []string{"token"}},
		{"token usage", []string{"token", "--json"}, exitUsage, []string{"error"}},
		{"version", []string{"version", "--json"}, exitOK, []string{"module", "version", "sdk", "go"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := demo(t, nil, tt.args...)
			dec := json.NewDecoder(strings.NewReader(r.stdout))
			var doc map[string]json.RawMessage
			if err := dec.Decode(&doc); err != nil || dec.More() {
				t.Fatalf("stdout is not exactly one JSON object (%v):\n%s", err, r.stdout)
			}
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", r.code, tt.code, r.stdout, r.stderr)
			}
			for _, k := range tt.keys {
				if _, ok := doc[k]; !ok {
					t.Errorf("no %q in %s", k, r.stdout)
				}
			}
			if raw, ok := doc["error"]; ok {
				var ed errorDoc
				if err := json.Unmarshal(raw, &ed); err != nil || ed.ExitCode != tt.code || ed.Kind != kindOf(tt.code) || ed.Message == "" {
					t.Errorf("error member %s: %v", raw, err)
				}
			}
			if strings.TrimSpace(r.stderr) != "" {
				t.Errorf("diagnostics on standard error with --json (warnings and errors belong in the document): %q", r.stderr)
			}
		})
	}
}

// In text mode, the result (verdict, refusal, created chat) is on standard
// output and diagnostics (warnings, errors) on standard error, the same in
// every command.
func TestStreams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"validate warning", []string{"validate", "--scopes", "Chat.ReadWrite", "--caller", graphchattest.JacobID, testdata("docs-1-one-on-one.json")}, exitOK, "allowed", "permission_excess"},
		{"validate refusal", []string{"validate", testdata("bad-one-on-one-topic.json")}, exitRefused, "topic_on_one_on_one", ""},
		{"create refusal", []string{"create", testdata("bad-one-on-one-topic.json")}, exitRefused, "topic_on_one_on_one", ""},
		{"create warning", []string{"create", "--group", "megan@contoso.com", "lee@contoso.com"}, exitOK, "created group chat", "small_group"},
		{"create service error", []string{"create", "--group", "megan@contoso.com", "lee@contoso.com", "nobody@contoso.com"}, exitRefused, "", "not found"},
		{"permissions warning", []string{"permissions", "--op", "create-chat", "--scopes", "Chat.ReadWrite"}, exitOK, "least-privileged", "permission_excess"},
		{"usage", []string{"validate"}, exitUsage, "", "want one FILE"},
	}
	for _, tt := range tests {
		r := demo(t, nil, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
			t.Errorf("%s: exit %d (want %d)\nstdout (want %q):\n%s\nstderr (want %q):\n%s", tt.name, r.code, tt.code, tt.stdout, r.stdout, tt.stderr, r.stderr)
		}
		if tt.stderr != "" && strings.Contains(r.stdout, tt.stderr) {
			t.Errorf("%s: %q is on standard output", tt.name, tt.stderr)
		}
		if tt.stdout != "" && strings.Contains(r.stderr, tt.stdout) {
			t.Errorf("%s: %q is on standard error", tt.name, tt.stdout)
		}
	}
}

// blockingReader blocks until closed, like a terminal nobody types in.
type blockingReader struct{ done chan struct{} }

func (b blockingReader) Read([]byte) (int, error) { <-b.done; return 0, io.EOF }

func TestBoundedAndCancellableReads(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/zero"); err == nil {
		start := time.Now()
		r := demo(t, nil, "validate", "/dev/zero")
		if r.code != exitUsage || !strings.Contains(r.stderr, "/dev/zero") || !strings.Contains(r.stderr, "4 MiB") || time.Since(start) > 5*time.Second {
			t.Errorf("/dev/zero: exit %d after %s: %s", r.code, time.Since(start), r.stderr)
		}
	}
	// Standard input over the limit is refused, not cut and judged.
	big := `{"chatType":"group","members":[],"topic":"` + strings.Repeat("a", maxBody) + `"}`
	e, _, _ := newEnv(big)
	if r := demo(t, e, "validate", "-"); r.code != exitUsage || !strings.Contains(r.stderr, "standard input") || !strings.Contains(r.stderr, "4 MiB") {
		t.Errorf("big stdin: exit %d: %s", r.code, r.stderr)
	}
	// A byte-order mark is accepted: the verdict is that of the body without it.
	body, err := os.ReadFile(testdata("docs-1-one-on-one.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"validate", "create"} {
		e, _, _ = newEnv("\xEF\xBB\xBF" + string(body))
		if r := demo(t, e, cmd, "--caller", graphchattest.JacobID, "-"); r.code != exitOK {
			t.Errorf("%s with a BOM: exit %d: %s%s", cmd, r.code, r.stdout, r.stderr)
		}
	}
	dir := t.TempDir()
	bom := dir + "/users.json"
	users, _ := os.ReadFile("../../testdata/demo/users.json")
	os.WriteFile(bom, append([]byte("\xEF\xBB\xBF"), users...), 0o644)
	if r := demo(t, nil, "validate", "--directory", bom, "--caller", "megan@contoso.com", testdata("bad-guest-owner.json")); r.code != exitRefused || !strings.Contains(r.stdout, "guest_role") {
		t.Errorf("directory with a BOM: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	// Waiting on standard input ends promptly on a signal: exit 130.
	for _, cmd := range []string{"validate", "create"} {
		block := blockingReader{make(chan struct{})}
		e, _, errOut := newEnv("")
		e.stdin = block
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() { done <- e.run(ctx, []string{cmd, "-"}) }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case code := <-done:
			if code != exitInterrupted {
				t.Errorf("%s - interrupted: exit %d: %s", cmd, code, errOut.String())
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s - ignores the interruption", cmd)
		}
		close(block.done)
	}
}

// failTransport fails the test when any request is made with it.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("a request was made to %s", r.URL.Host)
	return nil, errors.New("no network")
}

// URL targets are loopback emulators only: an emulator token never goes to
// Microsoft Graph or anywhere else.
func TestTargetIsLoopbackOnly(t *testing.T) {
	t.Parallel()
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	for _, target := range []string{"https://graph.microsoft.com", "https://graph.microsoft.com/v1.0", "http://example.com:8080", "https://10.0.0.1/v1.0", "ftp://127.0.0.1", "http://user@127.0.0.1:1"} {
		for _, extra := range [][]string{nil, {"--token", tok}} {
			e, _, _ := newEnv("")
			e.transport = failTransport{t}
			r := demo(t, e, append([]string{"create", "--target", target, "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, extra...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "--target") {
				t.Errorf("--target %s: exit %d: %s", target, r.code, r.stderr)
			}
		}
	}
}

// Problems that would fail every request are reported once, before
// anything is sent, with their remedy.
func TestPreflight(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	expired := demo(t, nil, "token", "--scopes", "Chat.Create", "--expired")
	if expired.code != exitOK {
		t.Fatalf("token --expired: %d %s", expired.code, expired.stderr)
	}
	if exp, ok := tokenExpiry(strings.TrimSpace(expired.stdout)); !ok || exp.After(time.Now()) {
		t.Fatalf("token --expired expires %v (%v)", exp, ok)
	}
	readBasic := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadBasic")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"expired token", []string{"create", "--target", srv.URL, "--token", strings.TrimSpace(expired.stdout), "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitAuth, "expired"},
		{"unreadable token", []string{"create", "--target", srv.URL, "--token", "not-a-token", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitAuth, "token"},
		{"missing permission", []string{"create", "--target", srv.URL, "--token", readBasic, "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitRefused, "want Chat.Create"},
		{"missing permission to add", []string{"add-member", "--target", srv.URL, "--token", readBasic, "--chat", "19:x@thread.v2", "alex@contoso.com"}, exitRefused, "ChatMember.ReadWrite"},
		{"target does not answer", []string{"create", "--target", "http://127.0.0.1:1", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitRefused, "does not answer"},
	}
	for _, tt := range tests {
		n := len(srv.Entries())
		r := demo(t, nil, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) || len(srv.Entries()) != n {
			t.Errorf("%s: exit %d (want %d), %d sent, output lacks %q:\n%s%s", tt.name, r.code, tt.code, len(srv.Entries())-n, tt.want, r.stdout, r.stderr)
		}
	}
	// validate judges with an expired token, and says it expired.
	r := demo(t, nil, "validate", "--token", strings.TrimSpace(expired.stdout), testdata("docs-2-group.json"))
	if !strings.Contains(r.stderr, "expired") {
		t.Errorf("validate with an expired token: %d %s", r.code, r.stderr)
	}
	// The hint a command gives for a need it can do without.
	s := &session{know: &knowledge{pc: &policy.Context{Auth: policy.AuthDelegated, Grant: &policy.Grant{Permissions: []string{"Chat.Create"}}}}}
	err := (&env{}).preflight(context.Background(), s, need{op: policy.OpCreateChat}, need{op: policy.OpListChats, without: "run with --lookup=false"})
	var list policy.List
	if !errors.As(err, &list) || len(list) != 1 || list[0].Code != policy.CodePermissionMissing || !strings.Contains(list[0].Message, "--lookup=false") || !strings.Contains(list[0].Message, "Chat.ReadBasic") {
		t.Errorf("preflight: %v", err)
	}
}

// A failed sign-in, or a missing Azure CLI, is an authentication failure.
func TestSignInFailure(t *testing.T) {
	t.Parallel()
	e, _, _ := newEnv("")
	e.newCredential = func(credentialConfig) (azcore.TokenCredential, error) {
		return failingCredential{}, nil
	}
	e.transport = failTransport{t}
	r := demo(t, e, "create", "--target", "graph", "--use-cli", "--one-on-one", "a@b.c", "d@e.f")
	if r.code != exitAuth || !strings.Contains(r.stderr, "az login") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

type failingCredential struct{}

func (failingCredential) GetToken(context.Context, azpolicy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("Azure CLI not found on path")
}

func TestHelpVersionSuggestions(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		if c.name == "help" {
			continue
		}
		for _, args := range [][]string{{c.name, "-h"}, {"help", c.name}} {
			r := demo(t, nil, args...)
			if r.code != exitOK || !strings.HasPrefix(r.stdout, "usage: demo "+c.synopsis) || !strings.Contains(r.stdout, "examples:\n  demo") || c.about == "" {
				t.Errorf("%v: exit %d:\n%s%s", args, r.code, r.stdout, r.stderr)
			}
		}
	}
	r := demo(t, nil, "help")
	if r.code != exitOK {
		t.Fatalf("help: %d", r.code)
	}
	// Aligned: every command's summary starts in the same column.
	col := -1
	for _, line := range strings.Split(r.stdout, "\n") {
		if c, ok := strings.CutPrefix(line, "  demo "); ok {
			for _, cmd := range commands() {
				if strings.HasPrefix(c, cmd.synopsis) {
					at := strings.Index(line, cmd.summary)
					if col >= 0 && at != col {
						t.Errorf("misaligned: %q", line)
					}
					col = at
				}
			}
		}
	}
	goMod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	sdk := regexp.MustCompile(`(?m)^\s*github.com/microsoftgraph/msgraph-sdk-go (v\S+)`).FindSubmatch(goMod)
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := demo(t, nil, args...)
		if r.code != exitOK || sdk == nil || !strings.Contains(r.stdout, "msgraph-sdk-go "+string(sdk[1])) || !strings.Contains(r.stdout, "demo ") {
			t.Errorf("%v: %d %q", args, r.code, r.stdout)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"valdate"}, `did you mean "validate"`},
		{[]string{"creat"}, `did you mean "create"`},
		{[]string{"help", "permisions"}, `did you mean "permissions"`},
		{[]string{"validate", "--tokn", "x"}, "did you mean --token"},
		{[]string{"create", "--one-on-on", "a", "b"}, "did you mean --one-on-one"},
		{[]string{"create", "--target", "emulater", "--one-on-one", "a@b.c", "d@e.f"}, `did you mean "emulator"`},
		{[]string{"permissions", "--op", "create-chats"}, `did you mean "create-chat"`},
	} {
		r := demo(t, nil, tt.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, %q", tt.args, r.code, r.stderr)
		}
	}
	if r := demo(t, nil, "xyzzy"); strings.Contains(r.stderr, "did you mean") {
		t.Errorf("a suggestion for nothing close: %s", r.stderr)
	}
}

// Flag values are checked, and the message names the flag.
func TestFlagValues(t *testing.T) {
	t.Parallel()
	body := testdata("docs-1-one-on-one.json")
	tests := []struct {
		args []string
		flag string
	}{
		{[]string{"validate", "--tenant", "contoso", body}, "--tenant"},
		{[]string{"validate", "--caller", "not a user", body}, "--caller"},
		{[]string{"validate", "--caller", "", body}, "--caller"},
		{[]string{"validate", "--guest", "x", body}, "--guest"},
		{[]string{"validate", "--external", "a@b.c=contoso", body}, "--external"},
		{[]string{"validate", "--auth", "robot", body}, "--auth"},
		{[]string{"validate", "--token", "", body}, "--token"},
		{[]string{"validate", "--target", "mars", body}, "--target"},
		{[]string{"validate", "--target", "graph", body}, "--target"},
		{[]string{"create", "--cloud", "moon", "--target", "graph", "--one-on-one", "a@b.c", "d@e.f"}, "--cloud"},
		{[]string{"add-member", "--chat", "abc", "a@b.c"}, "--chat"},
		{[]string{"add-member", "--chat", "19:x@thread.v2", "--tenant-id", "fabrikam", "a@b.c"}, "--tenant-id"},
		{[]string{"add-member", "--chat", "19:x@thread.v2", "--role", "boss", "a@b.c"}, "--role"},
		{[]string{"add-member", "--chat", "19:x@thread.v2", "--history", "yesterday", "a@b.c"}, "--history"},
		{[]string{"emulate", "--latency", "-1s"}, "--latency"},
		{[]string{"emulate", "--latency", "2h"}, "--latency"},
		{[]string{"emulate", "--latency", "soon"}, "-latency"},
		{[]string{"emulate", "--rate-limit", "-3"}, "--rate-limit"},
		{[]string{"emulate", "--rate-limit", "NaN"}, "--rate-limit"},
		{[]string{"emulate", "--addr", "0.0.0.0:0"}, "--addr"},
		{[]string{"token", "--tid", "contoso", "--scopes", "x"}, "--tid"},
		{[]string{"token", "--oid", "x", "--scopes", "x"}, "--oid"},
		{[]string{"token", "--upn", "x", "--scopes", "x"}, "--upn"},
		{[]string{"token"}, "--scopes"},
		{[]string{"token", "--scopes", " , "}, "--scopes"},
		{[]string{"permissions", "--metadata", "x.json", "--method", "FETCH", "--path", "/chats"}, "--method"},
		{[]string{"permissions", "--metadata", "x.json", "--method", "GET", "--path", "chats"}, "--path"},
		{[]string{"permissions", "--op", "fly"}, "--op"},
	}
	for _, tt := range tests {
		r := demo(t, nil, tt.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.flag) {
			t.Errorf("%q: exit %d, message does not name %s: %q", tt.args, r.code, tt.flag, r.stderr)
		}
	}
}

func TestDirectoryFile(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		data, want string
	}{
		{`[{"id":"x","userPrincipalName":"a@b.c","userType":"Member"}]`, "[0].id"},
		{`[{"id":"8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca","userPrincipalName":"a","userType":"Member"}]`, "[0].userPrincipalName"},
		{`[{"id":"8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca","userPrincipalName":"a@b.c","userType":"guest"}]`, "[0].userType"},
		{`[{"id":"8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca","userPrincipalName":"a@b.c","userType":"Member","tenantID":"x"}]`, "unknown property"},
		{`[{"id":"8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca","userPrincipalName":"a@b.c","userType":"Member","tenantId":"x"}]`, "[0].tenantId"},
		{`[{"id":"8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca","userPrincipalName":"a@b.c","userType":"Member"},{"id":"8C0A1A67-50ce-4114-bb6c-da9c5dbcf6ca","userPrincipalName":"d@b.c","userType":"Member"}]`, "repeats [0]"},
		{`{"users":[]}`, "JSON array"},
		{"[\n{\"id\": }", "line 2"},
		{`[{"id":"8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca","userPrincipalName":"a@b.c","userType":"Guest","userType":"Member"}]`, "twice"},
		{`[{"id":"8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca","userPrincipalName":"a@b.c","usertype":"Guest"}]`, "case-sensitive"},
	} {
		_, err := parseDirectory([]byte(tt.data))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.data, err, tt.want)
		}
	}
	users, err := os.ReadFile("../../testdata/demo/users.json")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := parseDirectory(users); err != nil || len(got) != 7 {
		t.Errorf("testdata/demo/users.json: %d users, %v", len(got), err)
	}
	// The emulator serves the same file.
	if !bytes.Contains(users, []byte(`"tenantId"`)) {
		t.Errorf("the example directory has no external user")
	}
}

// A 401 from the service is exit 3 and an ambiguous group creation exit 4,
// each in one JSON document with the remedy.
func TestServiceOutcomes(t *testing.T) {
	t.Parallel()
	other := graphchattest.Token(graphchattest.Claims{Scopes: "Chat.Create", TenantID: graphchattest.PartnerTenantID, ObjectID: graphchattest.MeganID})
	srv := emulator(t)
	r := demo(t, nil, "create", "--json", "--target", srv.URL, "--token", other, "--one-on-one", "megan@contoso.com", "lee@contoso.com")
	doc := decodeDoc(t, r)
	if r.code != exitAuth || doc.Error == nil || doc.Error.Status != 401 || !strings.Contains(doc.Error.Message, "new one") {
		t.Errorf("401: exit %d: %s", r.code, r.stdout)
	}
	faults, err := graphchattest.ParseFaults("504-after=1")
	if err != nil {
		t.Fatal(err)
	}
	flaky, err := graphchattest.NewServer("", &graphchattest.Options{Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	defer flaky.Close()
	r = demo(t, nil, "create", "--target", flaky.URL, "--group", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com")
	if r.code != exitUnknown || !strings.Contains(r.stderr, "may or may not") {
		t.Errorf("ambiguous: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}
