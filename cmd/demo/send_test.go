package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// groupOn creates a group chat of Megan, Lee and Nestor on a running
// emulator through the demo and returns its id.
func groupOn(t *testing.T, srv *graphchattest.Server) string {
	t.Helper()
	r := demo(t, nil, "create", "--target", srv.URL, "--json", "--group", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com")
	var out struct{ Chat struct{ ID string } }
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Chat.ID == "" {
		t.Fatalf("create: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	return out.Chat.ID
}

func messagePosts(srv *graphchattest.Server) int {
	n := 0
	for _, ent := range srv.Entries() {
		if ent.Method == http.MethodPost && strings.HasSuffix(ent.Path, "/messages") {
			n++
		}
	}
	return n
}

func TestSend(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	tests := []struct {
		name     string
		stdin    string
		args     []string
		code     int
		want     string // in stdout + stderr
		stored   string // content of the stored message, when one is sent
		mentions int
	}{
		{"text", "", []string{"--text", "Hello world"}, exitOK, "sent message", "Hello world", 0},
		{"standard input", "From standard input\n", []string{"-"}, exitOK, "sent message", "From standard input", 0},
		{"file from standard input", "a < b\n", []string{"--file", "-"}, exitOK, "sent message", "a < b", 0},
		{"html", "", []string{"--html", "--text", "<p>Build <b>green</b></p>"}, exitOK, "sent message", "<p>Build <b>green</b></p>", 0},
		{"mentions", "", []string{"--text", "Over to you & yours:", "--mention", graphchattest.LeeID, "--mention", graphchattest.NestorID, "--check-members"}, exitOK, "sent message",
			`Over to you &amp; yours: <at id="0">` + graphchattest.LeeID + `</at> <at id="1">` + graphchattest.NestorID + `</at>`, 2},
		{"json", "", []string{"--json", "--text", "hi"}, exitOK, `"id":`, "hi", 0},
		{"malformed html refused", "", []string{"--html", "--text", "<b>x</i>"}, exitRefused, "html_malformed", "", 0},
		{"empty refused", "", []string{"--text", ""}, exitRefused, "body_missing", "", 0},
		{"mention of a non-member refused", "", []string{"--text", "hi", "--mention", graphchattest.JacobID, "--check-members"}, exitRefused, "mention_not_member", "", 0},
		{"strict grant refused", "", []string{"--text", "hi", "--scopes", "Chat.ReadWrite", "--strict"}, exitRefused, "permission_excess", "", 0},
		{"application refused", "", []string{"--auth", "application", "--text", "hi"}, exitRefused, "ChatMessage.Send", "", 0},
		{"caller not a member: the service refuses", "", []string{"--caller", "jacob@contoso.com", "--text", "hi"}, exitRefused, "403", "", 0},
		{"no text", "", []string{}, exitUsage, "exactly one of", "", 0},
		{"text and file", "", []string{"--text", "a", "--file", "x"}, exitUsage, "exactly one of", "", 0},
		{"unknown mention", "", []string{"--text", "hi", "--mention", "nobody@contoso.com"}, exitUsage, "--mention", "", 0},
		{"missing file", "", []string{"--file", "no-such-file.txt"}, exitUsage, "no-such-file.txt", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chatID := groupOn(t, srv)
			before := messagePosts(srv)
			e, _, _ := newEnv(tt.stdin)
			r := demo(t, e, append([]string{"send", "--target", srv.URL, "--chat", chatID}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s\n%s", r.code, tt.code, tt.want, r.stdout, r.stderr)
			}
			got := srv.Messages(chatID)
			switch {
			case tt.stored == "" && len(got) != 0:
				t.Errorf("%d messages stored, want none", len(got))
			case tt.stored != "" && (len(got) != 1 || got[0].Content != tt.stored || len(got[0].Mentions) != tt.mentions):
				t.Errorf("stored %+v, want one message %q with %d mentions", got, tt.stored, tt.mentions)
			}
			// A refusal by the policy sends nothing.
			if tt.code == exitRefused && !strings.Contains(tt.want, "403") && messagePosts(srv) != before {
				t.Errorf("a refused message reached the emulator")
			}
			if strings.Contains(strings.Join(tt.args, " "), "--json") && !json.Valid([]byte(r.stdout)) {
				t.Errorf("--json output is not one JSON document: %s", r.stdout)
			}
		})
	}
	if r := demo(t, nil, "send", "--target", srv.URL, "--text", "hi"); r.code != exitUsage || !strings.Contains(r.stderr, "--chat") {
		t.Errorf("no --chat: exit %d %s", r.code, r.stderr)
	}
}
