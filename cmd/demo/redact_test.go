package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// The output's token checks: no part of tok, and nothing that starts like
// a token. The token command's own result (a token it minted) is the one
// exception.
func checkNoToken(t *testing.T, args []string, r result, tok string) {
	t.Helper()
	out := r.stdout + r.stderr
	if args[0] == "token" && r.code == exitOK {
		out = r.stderr
	}
	payload := strings.Split(tok, ".")[1]
	if strings.Contains(out, payload[:20]) || strings.Contains(out, "eyJ") {
		t.Errorf("%.60q: exit %d: a token shows:\n%s\n%s", args, r.code, r.stdout, r.stderr)
	}
	if strings.HasPrefix(strings.TrimSpace(r.stdout), "{") {
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		var v any
		if err := dec.Decode(&v); err != nil || dec.More() {
			t.Errorf("%.60q: standard output is not one JSON document (%v):\n%s", args, err, r.stdout)
		}
	}
}

// flagLine is a flag in a command's help: "  --name VALUE  usage".
var flagLine = regexp.MustCompile(`^  --(\S+)( \S.*?)?  +\S`)

// helpFlags are the flags "demo help COMMAND" lists: those that take a
// value, and the others (booleans).
func helpFlags(t *testing.T, cmd string) (valued, boolean []string) {
	t.Helper()
	r := demo(t, nil, "help", cmd)
	if r.code != exitOK {
		t.Fatalf("help %s: exit %d: %s", cmd, r.code, r.stderr)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			if m[2] != "" {
				valued = append(valued, m[1])
			} else {
				boolean = append(boolean, m[1])
			}
		}
	}
	return valued, boolean
}

// Tokens are never printed, whatever path echoes them: a token (or a
// value holding one) given as each argument and each flag value of every
// command, with and without --json, never shows on standard output or
// standard error, and JSON documents stay valid.
func TestTokensNeverEchoed(t *testing.T) {
	t.Parallel()
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	bare := strings.SplitN(tok, ".", 2)[1] // a token without its header: its payload and signature
	srv := emulator(t)
	admin := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMember.ReadWrite")
	created := demo(t, nil, "create", "--json", "--target", srv.URL, "--token", admin, "--group", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com")
	var doc struct{ Chat chatDoc }
	if err := json.Unmarshal([]byte(created.stdout), &doc); err != nil {
		t.Fatalf("create: %v: %s%s", err, created.stdout, created.stderr)
	}
	chat := doc.Chat.ID
	users, body := "../../testdata/demo/users.json", "../../testdata/demo/body.json"
	csv, err := os.ReadFile("../../testdata/bulk/chats.csv")
	if err != nil {
		t.Fatal(err)
	}

	// Each command, run so that it would succeed: the token replaces each
	// argument in turn, or comes as a flag or an argument more.
	bases := map[string][][]string{
		"walkthrough":   {{"walkthrough"}},
		"validate":      {{"validate", "--caller", "megan@contoso.com", "--directory", users, "--scopes", "Chat.Create", body}},
		"create":        {{"create", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, {"create", "--group", "--topic", "Launch", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"}},
		"find":          {{"find", "--target", srv.URL, "--type", "group", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"}},
		"list":          {{"list", "--target", srv.URL, "--type", "group"}},
		"get":           {{"get", "--target", srv.URL, "--chat", chat}},
		"members":       {{"members", "--target", srv.URL, "--chat", chat}},
		"add-member":    {{"add-member", "--target", srv.URL, "--chat", chat, "--role", "owner", "alex@contoso.com"}},
		"remove-member": {{"remove-member", "--target", srv.URL, "--chat", chat, "jacob@contoso.com"}},
		// A chat that does not exist: sending many messages to one would
		// wait out the emulator's limit of a message a second.
		"send":        {{"send", "--target", srv.URL, "--chat", "19:none@thread.v2", "--text", "hi"}, {"send", "--one-on-one", "megan@contoso.com", "lee@contoso.com", "--text", "hi"}},
		"bulk":        {{"bulk", "--results", "RESULTS", "INPUT"}},
		"permissions": {{"permissions", "--op", "create-chat", "--scopes", "Chat.Create"}, {"permissions", "--metadata", "../../testdata/permissions/fixture.json", "--method", "GET", "--path", "/chats/19:x@thread.v2/members", "--scopes", "Chat.ReadBasic"}},
		"emulate":     {{"emulate", "--addr", "127.0.0.1:0"}},
		"token":       {{"token", "--scopes", "Chat.Create"}},
		"version":     {{"version"}},
		"help":        {{"help", "create"}},
	}
	for _, c := range commands() {
		if bases[c.name] == nil {
			t.Errorf("%s: no invocation to place tokens in", c.name)
		}
	}
	forms := []string{tok, bare, "19:" + tok + "@thread.v2", tok + "@contoso.com"}
	for name, list := range bases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			valued, boolean := helpFlags(t, name)
			var variants [][]string
			seen := map[string]bool{}
			for _, base := range list {
				for _, form := range forms {
					for i := 1; i < len(base); i++ {
						if !strings.HasPrefix(base[i], "-") {
							v := slices.Clone(base)
							v[i] = form
							variants = append(variants, v)
						}
					}
					variants = append(variants, append(slices.Clone(base), form), []string{form}, []string{name + "=" + form})
					for _, f := range valued {
						variants = append(variants, append(slices.Clone(base), "--"+f, form), append(slices.Clone(base), "--"+f+"="+form))
					}
					for _, f := range boolean {
						variants = append(variants, append(slices.Clone(base), "--"+f+"="+form))
					}
				}
			}
			for _, v := range variants {
				key := strings.Join(v, "\x00")
				if seen[key] {
					continue
				}
				seen[key] = true
				for _, asJSON := range []bool{false, true} {
					args := slices.Clone(v)
					if asJSON {
						args = append(args, "--json")
					}
					if name == "bulk" {
						// A fresh input and results file each run: bulk
						// resumes from its results, and one run holds them.
						dir := t.TempDir()
						in := filepath.Join(dir, "chats.csv")
						os.WriteFile(in, csv, 0o644)
						for i, a := range args {
							args[i] = strings.NewReplacer("RESULTS", filepath.Join(dir, "results.jsonl"), "INPUT", in).Replace(a)
							if i > 0 && args[i-1] == "--results" && a != "RESULTS" {
								args[i] = filepath.Join(dir, a) // never a file named like a token here
							}
						}
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					e, _, _ := newEnv("")
					code := e.run(ctx, args)
					cancel()
					r := result{code, e.stdout.(*syncBuffer).String(), e.stderr.(*syncBuffer).String()}
					checkNoToken(t, args, r, tok)
				}
			}
		})
	}
}

// The paths the program's users found printing tokens: a violation that
// quotes a member, a grant that lists a permission it does not judge, in
// text and in JSON.
func TestTokensRedactedWhereEchoed(t *testing.T) {
	t.Parallel()
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	tests := []struct {
		args []string
		code int
		want string // what is printed around the redacted token
	}{
		{[]string{"create", "--one-on-one", "megan@contoso.com", tok}, exitRefused, "user_reference"},
		{[]string{"create", "--json", "--one-on-one", "megan@contoso.com", tok}, exitRefused, "user_reference"},
		{[]string{"validate", "--scopes", tok, "--caller", "megan@contoso.com", "../../testdata/demo/body.json"}, exitRefused, "not judged"},
		{[]string{"validate", "--json", "--scopes", tok, "--caller", "megan@contoso.com", "../../testdata/demo/body.json"}, exitRefused, "unrelated"},
		{[]string{"permissions", "--op", "create-chat", "--scopes", "Chat.Create " + tok}, exitOK, "not judged"},
	}
	for _, tt := range tests {
		r := demo(t, nil, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) || !strings.Contains(r.stdout+r.stderr, redactedToken) {
			t.Errorf("%.60q: exit %d (want %d), want %q and %q:\n%s%s", tt.args, r.code, tt.code, tt.want, redactedToken, r.stdout, r.stderr)
		}
		checkNoToken(t, tt.args, r, tok)
	}
	// The token command prints the token it mints: that is its result.
	r := demo(t, nil, "token", "--scopes", "Chat.Create")
	if !strings.HasPrefix(r.stdout, "eyJ") {
		t.Errorf("token: %q", r.stdout)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	tests := []struct{ in, want string }{
		{"hostname microsoftgraph.chinacloudapi.cn and 19:abc@thread.v2", "hostname microsoftgraph.chinacloudapi.cn and 19:abc@thread.v2"},
		{"token " + tok + " end", "token " + redactedToken + " end"},
		{`{"m":"` + tok + `"}`, `{"m":"` + redactedToken + `"}`},
		// A token right after a JSON escape: the escape stays whole.
		{`{"m":"a\n` + tok + `"}`, `{"m":"a\n` + redactedToken + `"}`},
		{`{"m":"a\u00e9` + tok + `"}`, `{"m":"a\u00e9` + redactedToken + `"}`},
		{`{"m":"a\\` + tok + `"}`, `{"m":"a\\` + redactedToken + `"}`},
		{`{"m":"\nABCDEFGHIJKLMNOPQRS.ABCDEFGHIJKLMNOPQRS.xyz"}`, `{"m":"\n` + redactedToken + `"}`},
	}
	for _, tt := range tests {
		got := redact(tt.in)
		if got != tt.want {
			t.Errorf("redact(%.40q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.HasPrefix(tt.in, "{") && !json.Valid([]byte(got)) {
			t.Errorf("redact(%.40q) = %q: not JSON", tt.in, got)
		}
	}
	// Written through the program's writer, in pieces as the program writes.
	var b syncBuffer
	w := newRedactingWriter(&b)
	if n, err := fmt.Fprintf(w, "a %s b\n", tok); err != nil || n != len(tok)+5 {
		t.Errorf("Write: %d, %v", n, err)
	}
	if b.String() != "a "+redactedToken+" b\n" {
		t.Errorf("wrote %q", b.String())
	}
}
