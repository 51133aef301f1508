package graphchat_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

var sending = &graphchat.Options{Operations: []policy.Operation{policy.OpCreateChat, policy.OpSendMessage, policy.OpListMembers}}

func senderToken() string {
	return graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMessage.Send", "Chat.ReadBasic")
}

func isMessagePost(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages")
}

func (e *env) messagePosts() int {
	n := 0
	for _, s := range e.requests() {
		if s.Method == http.MethodPost && strings.HasSuffix(s.Path, "/messages") {
			n++
		}
	}
	return n
}

// team creates a group chat of Megan, Lee and Nestor and returns its id.
func team(t *testing.T, e *env) string {
	t.Helper()
	got, err := e.client.CreateGroup(ctx, "Launch", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
	if err != nil {
		t.Fatal(err)
	}
	return got.ID()
}

func TestSendMessage(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, sending, senderToken())
	chatID := team(t, e)

	got, err := e.client.SendMessage(ctx, chatID, graphchat.TextMessage("Hello world"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetId() == nil || *got.GetChatId() != chatID || *got.GetBody().GetContent() != "Hello world" || *got.GetBody().GetContentType() != models.TEXT_BODYTYPE {
		t.Errorf("returned message: id %v, chat %v, body %v", got.GetId(), got.GetChatId(), got.GetBody())
	}
	if from := got.GetFrom(); from == nil || from.GetUser() == nil || *from.GetUser().GetId() != graphchattest.MeganID {
		t.Errorf("from: %v", from)
	}

	// An HTML message mentioning Lee, checked against the members fetched
	// first. Megan sends again within a second: the emulator throttles it
	// (429, nothing processed) and the pipeline retries after Retry-After.
	tag, mention := graphchat.Mention(0, graphchattest.LeeID, "Lee <Gu>")
	got, err = e.client.SendMessage(ctx, chatID, graphchat.HTMLMessage("<p>Over to you, "+tag+"</p>", mention), &graphchat.SendOptions{FetchMembers: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(*got.GetBody().GetContent(), `<at id="0">Lee &lt;Gu&gt;</at>`) || len(got.GetMentions()) != 1 ||
		*got.GetMentions()[0].GetMentioned().GetUser().GetId() != graphchattest.LeeID || *got.GetMentions()[0].GetMentionText() != "Lee <Gu>" {
		t.Errorf("returned message: %v %v", *got.GetBody().GetContent(), got.GetMentions())
	}
	stored := e.emu.Messages(chatID)
	if len(stored) != 2 || stored[1].ContentType != "html" || stored[1].Mentions[0] != graphchattest.LeeID {
		t.Errorf("stored: %+v", stored)
	}
	var statuses []int
	for _, ent := range e.emu.Entries() {
		if ent.Method == http.MethodPost && strings.HasSuffix(ent.Path, "/messages") {
			statuses = append(statuses, ent.Status)
		}
	}
	if want := []int{201, 429, 201}; !equalInts(statuses, want) {
		t.Errorf("message POST statuses %v, want %v (the 429 retried)", statuses, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A message the policy refuses never reaches the service.
func TestSendMessageRefusedSendsNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, sending, senderToken())
	chatID := team(t, e)
	leeTag, lee := graphchat.Mention(0, graphchattest.LeeID, "Lee")
	jacobTag, jacob := graphchat.Mention(1, graphchattest.JacobID, "Jacob")
	_, byName := graphchat.Mention(0, "lee@contoso.com", "Lee")
	tests := []struct {
		name string
		msg  models.ChatMessageable
		opts *graphchat.SendOptions
		want []policy.Code
	}{
		{"empty", graphchat.TextMessage(""), nil, []policy.Code{policy.CodeBodyMissing}},
		{"too large", graphchat.TextMessage(strings.Repeat("x", policy.MaxMessageBytes+1)), nil, []policy.Code{policy.CodeMessageSize}},
		{"malformed html", graphchat.HTMLMessage("<b>bold</i>"), nil, []policy.Code{policy.CodeHTMLMalformed}},
		{"mention without its tag", graphchat.HTMLMessage("hi", lee), nil, []policy.Code{policy.CodeMentionMatch}},
		{"mention by name", graphchat.HTMLMessage("hi "+leeTag, byName), nil, []policy.Code{policy.CodeMentionUser}},
		{"mention of a non-member, members given", graphchat.HTMLMessage(leeTag+jacobTag, lee, jacob), &graphchat.SendOptions{Members: []string{graphchattest.MeganID, graphchattest.LeeID, graphchattest.NestorID}}, []policy.Code{policy.CodeMentionNotMember}},
		{"mention of a non-member, members fetched", graphchat.HTMLMessage(leeTag+jacobTag, lee, jacob), &graphchat.SendOptions{FetchMembers: true}, []policy.Code{policy.CodeMentionNotMember}},
		{"caller not a member", graphchat.TextMessage("hi"), &graphchat.SendOptions{Members: []string{graphchattest.LeeID, graphchattest.NestorID}}, []policy.Code{policy.CodeCallerMissing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.messagePosts()
			_, err := e.client.SendMessage(ctx, chatID, tt.msg, tt.opts)
			var list policy.List
			if !errors.As(err, &list) {
				t.Fatalf("got %v, want a policy.List", err)
			}
			if got := list.Codes(); !equalCodes(got, tt.want) {
				t.Errorf("codes %v, want %v", got, tt.want)
			}
			if n := e.messagePosts() - before; n != 0 {
				t.Errorf("%d POST /messages reached the server", n)
			}
		})
	}
	if n := len(e.emu.Messages(chatID)); n != 0 {
		t.Errorf("%d messages stored", n)
	}
}

func equalCodes(a, b []policy.Code) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Application permissions cannot send chat messages: a client cannot even
// declare the operation, and an app-only token is refused by the policy.
func TestSendMessageApplication(t *testing.T) {
	t.Parallel()
	_, err := graphchat.NewFromCredential(graphchat.StaticToken("x.y.z"), &graphchat.Options{Auth: policy.AuthApplication, Operations: []policy.Operation{policy.OpSendMessage}, BaseURL: "http://127.0.0.1:1/v1.0"})
	if err == nil || !strings.Contains(err.Error(), "send-message") {
		t.Errorf("application client declaring send-message: %v", err)
	}
	e := setup(t, nil, &graphchat.Options{Operations: []policy.Operation{policy.OpSendMessage}}, graphchattest.AppToken("Teamwork.Migrate.All"))
	_, err = e.client.SendMessage(ctx, "19:0123456789abcdef0123456789abcdef@thread.v2", graphchat.TextMessage("hi"), nil)
	if !errors.Is(err, policy.CodeOperationAuth) {
		t.Errorf("app-only token: %v, want operation_not_supported", err)
	}
	if n := e.messagePosts(); n != 0 {
		t.Errorf("%d POST /messages reached the server", n)
	}
	// Undeclared: refused before anything is sent.
	e = setup(t, nil, nil, senderToken())
	if _, err := e.client.SendMessage(ctx, "19:x@thread.v2", graphchat.TextMessage("hi"), nil); !errors.Is(err, graphchat.ErrUndeclared) || e.messagePosts() != 0 {
		t.Errorf("undeclared: %v, %d posts", err, e.messagePosts())
	}
}

// A send that fails ambiguously is reported as outcome unknown and never
// repeated: one POST, and the message is in the chat exactly when the
// service processed it.
func TestSendMessageAmbiguous(t *testing.T) {
	t.Parallel()
	t.Run("503 before processing", func(t *testing.T) {
		e := setup(t, nil, sending, senderToken())
		chatID := team(t, e)
		e.before = func(w http.ResponseWriter, r *http.Request) bool {
			if !isMessagePost(r) {
				return false
			}
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		_, err := e.client.SendMessage(ctx, chatID, graphchat.TextMessage("hi"), nil)
		var amb *graphchat.MessageAmbiguousError
		if !errors.Is(err, graphchat.ErrOutcomeUnknown) || !errors.As(err, &amb) || !errors.Is(err, graphchat.ErrServer) {
			t.Fatalf("got %v, want an outcome unknown", err)
		}
		if n := e.messagePosts(); n != 1 || len(e.emu.Messages(chatID)) != 0 {
			t.Errorf("%d posts, %d messages: want 1 and 0", n, len(e.emu.Messages(chatID)))
		}
	})
	// The emulator's own faults, on every request: the chat is created
	// (then answered 504 or dropped), and so is the message.
	for _, f := range []graphchattest.Fault{graphchattest.Fault504After, graphchattest.FaultDropAfter} {
		t.Run(string(f), func(t *testing.T) {
			e := setup(t, &graphchattest.Options{Faults: []graphchattest.FaultRule{{Fault: f, Probability: 1}}}, sending, senderToken())
			e.client.CreateGroup(ctx, "Launch", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID)) //nolint:errcheck // fails by design
			chats := e.emu.Chats()
			if len(chats) != 1 {
				t.Fatalf("%d chats", len(chats))
			}
			_, err := e.client.SendMessage(ctx, chats[0].ID, graphchat.TextMessage("hi"), nil)
			if !errors.Is(err, graphchat.ErrOutcomeUnknown) {
				t.Fatalf("got %v, want an outcome unknown", err)
			}
			if n, m := e.messagePosts(), len(e.emu.Messages(chats[0].ID)); n != 1 || m != 1 {
				t.Errorf("%d posts, %d messages: want 1 and 1", n, m)
			}
		})
	}
}
