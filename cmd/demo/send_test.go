package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// sendDoc is send's JSON document.
type sendDoc struct {
	Allowed    bool
	Violations []struct{ Code string }
	Chat       *struct {
		ID      string
		Topic   *string
		Existed bool
	}
	Candidates []struct {
		ID              string
		Existed         bool
		CreatedDateTime string
	}
	Message struct{ ChatID, ID string }
	Error   *struct {
		Kind     string
		ExitCode int
		Message  string
	}
}

func decodeSend(t *testing.T, r result) sendDoc {
	t.Helper()
	var d sendDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("--json output is not one JSON document: %v\n%s", err, r.stdout)
	}
	return d
}

// requestsTo counts the requests an emulator received, other than to
// identify users (GET /users/...).
func requestsTo(emu *graphchattest.Emulator) int {
	n := 0
	for _, ent := range emu.Entries() {
		if !(ent.Method == http.MethodGet && strings.Contains(ent.Path, "/users/")) {
			n++
		}
	}
	return n
}

// Sending to people: their chat is found or created, and the message sent.
func TestSendToPeople(t *testing.T) {
	t.Parallel()
	people := []string{"megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"}
	t.Run("group: created, then found", func(t *testing.T) {
		t.Parallel()
		srv := emulator(t)
		args := append([]string{"send", "--target", srv.URL, "--json", "--group", "--topic", "Launch", "--text", "Kick-off at 10", "--mention", graphchattest.LeeID}, people...)
		r := demo(t, nil, args...)
		first := decodeSend(t, r)
		if r.code != exitOK || first.Chat == nil || first.Chat.Existed || first.Chat.ID == "" || first.Message.ChatID != first.Chat.ID || first.Message.ID == "" {
			t.Fatalf("first: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		// Again, members in another order: the same chat, found.
		r = demo(t, nil, "send", "--target", srv.URL, "--json", "--group", "--topic", "Launch", "--text", "Agenda attached", graphchattest.NestorID, "megan@contoso.com", "Lee@Contoso.com")
		again := decodeSend(t, r)
		if r.code != exitOK || again.Chat == nil || !again.Chat.Existed || again.Chat.ID != first.Chat.ID {
			t.Fatalf("again: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		stored := srv.Messages(first.Chat.ID)
		if len(srv.Chats()) != 1 || len(stored) != 2 || len(stored[0].Mentions) != 1 || stored[1].Content != "Agenda attached" {
			t.Errorf("%d chats, messages %+v: want one chat with both messages", len(srv.Chats()), stored)
		}
	})
	t.Run("one-on-one, text, standard input", func(t *testing.T) {
		t.Parallel()
		srv := emulator(t)
		e, _, _ := newEnv("Lunch?\n")
		r := demo(t, e, "send", "--target", srv.URL, "--one-on-one", "megan@contoso.com", "alex@contoso.com", "-")
		if r.code != exitOK || !strings.Contains(r.stdout, "created one-on-one chat") || !strings.Contains(r.stdout, "sent message") {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		chats := srv.Chats()
		if len(chats) != 1 || len(srv.Messages(chats[0].ID)) != 1 || srv.Messages(chats[0].ID)[0].Content != "Lunch?" {
			t.Errorf("chats %+v", chats)
		}
	})
	t.Run("several matching groups", func(t *testing.T) {
		t.Parallel()
		srv := emulator(t)
		var ids []string
		for range 2 {
			r := demo(t, nil, append([]string{"create", "--target", srv.URL, "--json", "--group", "--topic", "Twice"}, people...)...)
			var out struct{ Chat struct{ ID string } }
			if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &out) != nil {
				t.Fatalf("create: exit %d %s", r.code, r.stderr)
			}
			ids = append(ids, out.Chat.ID)
			time.Sleep(10 * time.Millisecond) // distinct creation times: the oldest is the first
		}
		r := demo(t, nil, append([]string{"send", "--target", srv.URL, "--group", "--topic", "Twice", "--text", "hi"}, people...)...)
		if r.code != exitRefused || strings.Count(r.stderr, "candidate ") != 2 || !strings.Contains(r.stderr, "--pick oldest") || messagePosts(srv) != 0 {
			t.Fatalf("exit %d, %d posts\n%s\n%s", r.code, messagePosts(srv), r.stdout, r.stderr)
		}
		r = demo(t, nil, append([]string{"send", "--target", srv.URL, "--json", "--group", "--topic", "Twice", "--text", "hi"}, people...)...)
		d := decodeSend(t, r)
		if r.code != exitRefused || len(d.Candidates) != 2 || d.Error == nil || d.Error.ExitCode != exitRefused || messagePosts(srv) != 0 {
			t.Fatalf("--json: exit %d\n%s", r.code, r.stdout)
		}
		for i, c := range d.Candidates {
			if c.ID != ids[i] || !c.Existed || c.CreatedDateTime == "" {
				t.Errorf("--json: candidate %d %+v, want the existing chat %s with its creation time (oldest first)", i, c, ids[i])
			}
		}
		r = demo(t, nil, append([]string{"send", "--target", srv.URL, "--json", "--group", "--topic", "Twice", "--pick", "oldest", "--text", "hi"}, people...)...)
		d = decodeSend(t, r)
		if r.code != exitOK || d.Chat == nil || d.Chat.ID != ids[0] || len(srv.Messages(ids[0])) != 1 || len(srv.Messages(ids[1])) != 0 {
			t.Fatalf("--pick oldest: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

// A send to people that the policy refuses lists, creates and sends
// nothing; bad usage is exit 2.
func TestSendToPeopleRefused(t *testing.T) {
	t.Parallel()
	directory := filepath.Join("..", "..", "testdata", "demo", "users.json")
	tests := []struct {
		name    string
		args    []string
		code    int
		want    string // in stdout + stderr, each word
		lookups bool   // GET /users may identify members given by name
	}{
		{"mention of a non-member", []string{"--group", "--text", "hi", "--mention", graphchattest.JacobID, "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"}, exitRefused, "mention_not_member", true},
		{"mention of a non-member, directory", []string{"--directory", directory, "--group", "--text", "hi", "--mention", "jacob@contoso.com", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"}, exitRefused, "mention_not_member", false},
		{"application-only", []string{"--auth", "application", "--group", "--text", "hi", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"}, exitRefused, "operation_not_supported", false},
		{"caller missing", []string{"--one-on-one", "--text", "hi", graphchattest.LeeID, graphchattest.NestorID}, exitRefused, "caller_missing", false},
		{"empty message and a topic with a colon", []string{"--group", "--topic", "Launch: day 1", "--text", " ", graphchattest.MeganID, graphchattest.LeeID, graphchattest.NestorID}, exitRefused, "topic_colon body_missing", false},
		{"--chat and --group", []string{"--chat", "19:x@thread.v2", "--group", "--text", "hi", "a@contoso.com", "b@contoso.com"}, exitUsage, "conflict", false},
		{"--pick without --group", []string{"--one-on-one", "--pick", "oldest", "--text", "hi", "megan@contoso.com", "lee@contoso.com"}, exitUsage, "--pick", false},
		{"--pick newest", []string{"--group", "--pick", "newest", "--text", "hi", "megan@contoso.com", "lee@contoso.com"}, exitUsage, "want oldest", false},
		{"--topic on one-on-one", []string{"--one-on-one", "--topic", "x", "--text", "hi", "megan@contoso.com", "lee@contoso.com"}, exitUsage, "--topic", false},
		{"one user", []string{"--group", "--text", "hi", "megan@contoso.com"}, exitUsage, "at least two", false},
		{"--check-members with people", []string{"--group", "--check-members", "--text", "hi", "megan@contoso.com", "lee@contoso.com"}, exitUsage, "--check-members", false},
		{"no message", []string{"--group", "megan@contoso.com", "lee@contoso.com"}, exitUsage, "exactly one of", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := emulator(t)
			r := demo(t, nil, append([]string{"send", "--target", srv.URL}, tt.args...)...)
			for _, want := range strings.Fields(tt.want) {
				if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, want) {
					t.Fatalf("exit %d (want %d), output lacks %q:\n%s\n%s", r.code, tt.code, want, r.stdout, r.stderr)
				}
			}
			if n := len(srv.Entries()); n != 0 && (!tt.lookups || requestsTo(srv.Emulator) != 0) {
				t.Errorf("%d requests reached the emulator: %+v", n, srv.Entries())
			}
			if len(srv.Chats()) != 0 {
				t.Errorf("a chat was created")
			}
		})
	}
}

// A message whose outcome is unknown (504 after the emulator posted it) is
// exit 4, with the chat, and is not sent again: one POST, one message.
func TestSendToPeopleUnknown(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/messages") {
			emu.ServeHTTP(w, r)
			return
		}
		emu.ServeHTTP(httptest.NewRecorder(), r)
		w.WriteHeader(http.StatusGatewayTimeout)
	}))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		name  string
		json  bool
		topic string
	}{{"text", false, "Text"}, {"json", true, "JSON"}} {
		args := []string{"send", "--target", srv.URL, "--group", "--topic", tt.topic, "--text", "hi", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"}
		if tt.json {
			args = append(args, "--json")
		}
		r := demo(t, nil, args...)
		if r.code != exitUnknown {
			t.Fatalf("%s: exit %d, want %d\n%s\n%s", tt.name, r.code, exitUnknown, r.stdout, r.stderr)
		}
		var chatID string
		if tt.json {
			d := decodeSend(t, r)
			if d.Chat == nil || d.Error == nil || d.Error.Kind != "unknown" || !strings.Contains(d.Error.Message, "may or may not have been posted") {
				t.Fatalf("json: %s", r.stdout)
			}
			chatID = d.Chat.ID
		} else {
			if !strings.Contains(r.stdout, "created group chat") || !strings.Contains(r.stderr, "may or may not have been posted") {
				t.Fatalf("text:\n%s\n%s", r.stdout, r.stderr)
			}
			chatID = strings.Fields(r.stdout)[3]
		}
		posts := 0
		for _, ent := range emu.Entries() {
			if ent.Method == http.MethodPost && strings.HasSuffix(ent.Path, "/messages") && strings.Contains(ent.Path, chatID) {
				posts++
			}
		}
		if n := len(emu.Messages(chatID)); posts != 1 || n != 1 {
			t.Errorf("%s: %d posts, %d messages in %s: want one of each", tt.name, posts, n, chatID)
		}
	}
	// By chat id: the remedy is the message's, not a chat creation's.
	r := demo(t, nil, "create", "--target", srv.URL, "--json", "--group", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com")
	var out struct{ Chat struct{ ID string } }
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &out) != nil {
		t.Fatalf("create: exit %d %s", r.code, r.stderr)
	}
	r = demo(t, nil, "send", "--target", srv.URL, "--chat", out.Chat.ID, "--text", "hi")
	if r.code != exitUnknown || !strings.Contains(r.stderr, "may or may not have been posted") || strings.Contains(r.stderr, "created") {
		t.Errorf("--chat: exit %d\n%s", r.code, r.stderr)
	}
}

// A send whose token lacks a permission is refused with every problem of
// the message (and of the chat of people) in the same verdict, and nothing
// reaches the service.
func TestSendRefusalHoldsEveryProblem(t *testing.T) {
	t.Parallel()
	noSend := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic") // no ChatMessage.Send
	onlySend := graphchattest.DelegatedToken(graphchattest.MeganID, "ChatMessage.Send")            // no Chat.ReadBasic: --check-members cannot list
	group := []string{"--group", graphchattest.MeganID, graphchattest.LeeID, graphchattest.NestorID}
	tests := []struct {
		name  string
		token string
		args  []string
		want  []string // the codes of the violations, in order
	}{
		{"group, mention of a non-member", noSend, append([]string{"--text", "hi", "--mention", graphchattest.JacobID}, group...),
			[]string{"mention_not_member", "permission_missing"}},
		{"one-on-one, empty message", noSend, []string{"--one-on-one", graphchattest.MeganID, graphchattest.LeeID, "--text", ""},
			[]string{"body_missing", "permission_missing"}},
		{"one-on-one without the caller, mention of a non-member", noSend, []string{"--one-on-one", graphchattest.LeeID, graphchattest.NestorID, "--text", "hi", "--mention", graphchattest.JacobID},
			[]string{"caller_missing", "mention_not_member", "permission_missing"}},
		{"chat by id, malformed html", noSend, []string{"--chat", "19:abc@thread.v2", "--html", "--text", "<b>x</i>"},
			[]string{"html_malformed", "permission_missing"}},
		{"chat by id, listing members refused", onlySend, []string{"--chat", "19:abc@thread.v2", "--check-members", "--text", ""},
			[]string{"body_missing", "permission_missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, asJSON := range []bool{true, false} {
				srv := emulator(t)
				args := append([]string{"send", "--target", srv.URL, "--token", tt.token}, tt.args...)
				if asJSON {
					args = append(args, "--json")
				}
				r := demo(t, nil, args...)
				var got []string
				if asJSON {
					d := decodeSend(t, r)
					if d.Allowed {
						t.Errorf("--json: allowed: %s", r.stdout)
					}
					for _, v := range d.Violations {
						got = append(got, v.Code)
					}
				} else {
					for _, line := range strings.Split(r.stdout, "\n") {
						if f := strings.Fields(line); len(f) > 1 && f[0] == "violation" {
							got = append(got, f[1])
						}
					}
				}
				if r.code != exitRefused || strings.Join(got, " ") != strings.Join(tt.want, " ") {
					t.Errorf("json %v: exit %d (want %d), codes %v, want %v\n%s\n%s", asJSON, r.code, exitRefused, got, tt.want, r.stdout, r.stderr)
				}
				if n := len(srv.Entries()); n != 0 {
					t.Errorf("json %v: the emulator received %d requests, want none", asJSON, n)
				}
			}
		})
	}
}
