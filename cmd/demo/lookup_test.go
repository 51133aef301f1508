package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// lostAnswers serves an emulator whose answers to the first n requests
// matching lose are replaced by a 504 after the emulator processed them
// (a chat created, a message posted), as a gateway that timed out would.
func lostAnswers(t *testing.T, n int32, lose func(*http.Request) bool) (*graphchattest.Emulator, string) {
	t.Helper()
	em := graphchattest.New(nil)
	var lost atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !lose(r) || lost.Add(1) > n {
			em.ServeHTTP(w, r)
			return
		}
		em.ServeHTTP(httptest.NewRecorder(), r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGatewayTimeout)
		w.Write([]byte(`{"error":{"code":"GatewayTimeout","message":"the gateway timed out"}}`))
	}))
	t.Cleanup(srv.Close)
	return em, srv.URL + "/v1.0"
}

func isPost(suffix string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, suffix)
	}
}

// create --lookup recovers a group whose creation's answer was lost: it
// finds the chat and does not create it again. Without --lookup the
// outcome is unknown (exit 4), and the message names the program's
// remedies (--reuse, --lookup), not the library's Options.
func TestCreateLookup(t *testing.T) {
	t.Parallel()
	group := []string{"--group", "--topic", "Launch", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"}
	tests := []struct {
		name  string
		scope string
		flags []string
		code  int
		chats int    // chats on the emulator afterwards
		want  string // in the output
		not   string // not in the output
	}{
		{"without --lookup", "Chat.Create", nil, exitUnknown, 1, "--lookup", "Options"},
		{"with --lookup", "Chat.Create Chat.ReadBasic User.ReadBasic.All", []string{"--lookup"}, exitOK, 1, `"recovered": true`, "permission_excess"},
		{"with --lookup, a token without the listing", "Chat.Create", []string{"--lookup"}, exitRefused, 0, "run without --lookup", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			em, url := lostAnswers(t, 1, isPost("/chats"))
			e, _, _ := newEnv("")
			e.lookupDelay = time.Millisecond
			tok := graphchattest.DelegatedToken(graphchattest.MeganID, strings.Fields(tt.scope)...)
			args := append(append([]string{"create", "--json", "--target", url, "--token", tok}, tt.flags...), group...)
			r := demo(t, e, args...)
			out := r.stdout + r.stderr
			if r.code != tt.code || !strings.Contains(out, tt.want) || (tt.not != "" && strings.Contains(out, tt.not)) {
				t.Errorf("exit %d (want %d), want %q, not %q:\n%s", r.code, tt.code, tt.want, tt.not, out)
			}
			if got := len(em.Chats()); got != tt.chats {
				t.Errorf("%d chats on the emulator, want %d", got, tt.chats)
			}
		})
	}
	// --lookup is for groups: a one-on-one chat is never created twice.
	for _, args := range [][]string{
		{"create", "--lookup", "--one-on-one", "megan@contoso.com", "lee@contoso.com"},
		{"create", "--lookup", "--caller", graphchattest.JacobID, testdata("docs-1-one-on-one.json")},
	} {
		if r := demo(t, nil, args...); r.code != exitUsage || !strings.Contains(r.stderr, "--lookup") {
			t.Errorf("%q: exit %d: %s", args, r.code, r.stderr)
		}
	}
}

// A send whose answer is lost is reported as a message that may or may
// not have been posted, never as a chat that may or may not exist.
func TestSendUnknownSpeaksOfTheMessage(t *testing.T) {
	t.Parallel()
	_, url := lostAnswers(t, 2, isPost("/messages"))
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMessage.Send")
	r := demo(t, nil, "create", "--json", "--target", url, "--token", tok, "--one-on-one", "megan@contoso.com", "lee@contoso.com")
	var doc struct{ Chat chatDoc }
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Chat.ID == "" {
		t.Fatalf("create: exit %d %v: %s%s", r.code, err, r.stdout, r.stderr)
	}
	tok = graphchattest.DelegatedToken(graphchattest.MeganID, "ChatMessage.Send")
	for _, json := range []bool{false, true} {
		args := []string{"send", "--target", url, "--token", tok, "--chat", doc.Chat.ID, "--text", "hi"}
		if json {
			args = append(args, "--json")
		}
		r = demo(t, nil, args...)
		if r.code != exitUnknown || !strings.Contains(r.stdout+r.stderr, "message may or may not have been posted") || strings.Contains(r.stdout+r.stderr, "chat may or may not") {
			t.Errorf("--json=%v: exit %d: %s%s", json, r.code, r.stdout, r.stderr)
		}
	}
}

// message gives each unknown outcome its own remedy, in the program's
// terms.
func TestMessageOfUnknownOutcomes(t *testing.T) {
	t.Parallel()
	cause := &graphchat.Error{StatusCode: http.StatusGatewayTimeout, Code: "GatewayTimeout"}
	tests := []struct {
		name      string
		err       error
		want, not []string
	}{
		{"message", &graphchat.MessageAmbiguousError{ChatID: "19:a@thread.v2", Err: cause},
			[]string{"message may or may not have been posted to 19:a@thread.v2"}, []string{"chat may or may not", "--lookup"}},
		{"chat, no lookup", &graphchat.AmbiguousError{Err: cause},
			[]string{"chat may or may not have been created", "--reuse", "--lookup"}, []string{"Options", "message"}},
		{"chat, lookup failed", &graphchat.AmbiguousError{Err: cause, LookupErr: errors.New("listing failed")},
			[]string{"chat may or may not have been created", "listing failed", "--reuse"}, []string{"Options", "with --lookup"}},
	}
	for _, tt := range tests {
		got := message(tt.err)
		if exitCode(t.Context(), tt.err) != exitUnknown {
			t.Errorf("%s: not exit 4", tt.name)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tt.name, got, w)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q has %q", tt.name, got, n)
			}
		}
	}
}
