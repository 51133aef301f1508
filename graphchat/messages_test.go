package graphchat_test

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

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

func (e *env) messagePosts() int { return countRequests(e, http.MethodPost, "/messages") }

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
	if want := []int{201, 429, 201}; !slices.Equal(statuses, want) {
		t.Errorf("message POST statuses %v, want %v (the 429 retried)", statuses, want)
	}
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
			if got := list.Codes(); !slices.Equal(got, tt.want) {
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

// With FetchMembers, a message refused by the rules that need no members
// is refused before the members are listed: a refusal makes no request.
// The rules that need the members run after the listing, on a message that
// passed the others.
func TestSendMessageRefusedBeforeListingMembers(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, sending, senderToken())
	noList := setup(t, nil, sending, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMessage.Send")) // list-members declared, not granted
	chatID := team(t, e)
	leeTag, lee := graphchat.Mention(0, graphchattest.LeeID, "Lee")
	jacobTag, jacob := graphchat.Mention(1, graphchattest.JacobID, "Jacob")
	_, byName := graphchat.Mention(0, "lee@contoso.com", "Lee")
	fetch := &graphchat.SendOptions{FetchMembers: true}
	tests := []struct {
		name   string
		env    *env
		msg    models.ChatMessageable
		want   []policy.Code
		listed int // GET /chats/{id}/members
	}{
		{"empty", e, graphchat.TextMessage(""), []policy.Code{policy.CodeBodyMissing}, 0},
		{"too large", e, graphchat.TextMessage(strings.Repeat("x", policy.MaxMessageBytes+1)), []policy.Code{policy.CodeMessageSize}, 0},
		{"malformed html", e, graphchat.HTMLMessage("<b>bold</i>"), []policy.Code{policy.CodeHTMLMalformed}, 0},
		{"mention without its tag", e, graphchat.HTMLMessage("hi", lee), []policy.Code{policy.CodeMentionMatch}, 0},
		{"mention by name", e, graphchat.HTMLMessage("hi "+leeTag, byName), []policy.Code{policy.CodeMentionUser}, 0},
		// A body problem and a mention of a non-member: refused at once
		// with the body's problem; the members are not listed to add more.
		{"malformed html, mention of a non-member", e, graphchat.HTMLMessage("<b>"+leeTag+jacobTag+"</i>", lee, jacob), []policy.Code{policy.CodeHTMLMalformed}, 0},
		{"listing members not granted", noList, graphchat.TextMessage("hi"), []policy.Code{policy.CodePermissionMissing}, 0},
		{"empty, listing members not granted", noList, graphchat.TextMessage(" "), []policy.Code{policy.CodeBodyMissing, policy.CodePermissionMissing}, 0},
		// Only the members can tell: listed once, then refused.
		{"mention of a non-member", e, graphchat.HTMLMessage(leeTag+jacobTag, lee, jacob), []policy.Code{policy.CodeMentionNotMember}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.env.requests())
			listedBefore := countRequests(tt.env, http.MethodGet, "/members")
			_, err := tt.env.client.SendMessage(ctx, chatID, tt.msg, fetch)
			var list policy.List
			if !errors.As(err, &list) {
				t.Fatalf("got %v, want a policy.List", err)
			}
			if got := list.Codes(); !slices.Equal(got, tt.want) {
				t.Errorf("codes %v, want %v", got, tt.want)
			}
			listed := countRequests(tt.env, http.MethodGet, "/members") - listedBefore
			if n := len(tt.env.requests()) - before; listed != tt.listed || n != tt.listed {
				t.Errorf("%d requests, %d of them listing the members; want %d, only listings", n, listed, tt.listed)
			}
		})
	}
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

// sendTo is the client of SendTo: it finds or creates the chat (listing,
// names resolved) and sends.
var sendTo = &graphchat.Options{Operations: []policy.Operation{policy.OpCreateChat, policy.OpListChats, policy.OpResolveUser, policy.OpSendMessage}}

func sendToToken() string {
	return graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All", "ChatMessage.Send")
}

// allMessages is every message stored on the emulator.
func allMessages(e *env) []graphchattest.Message {
	var out []graphchattest.Message
	for _, c := range e.emu.Chats() {
		out = append(out, e.emu.Messages(c.ID)...)
	}
	return out
}

func TestSendTo(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, sendTo, sendToToken())
	people := []graphchat.Member{graphchat.User("megan@contoso.com"), graphchat.User("lee@contoso.com"), graphchat.User("nestor@contoso.com")}
	tag, lee := graphchat.Mention(0, graphchattest.LeeID, "Lee")

	// The first send creates the group; the second, with the members in
	// another order and named otherwise, finds it.
	first, err := e.client.SendTo(ctx, policy.ChatTypeGroup, "Launch", people, graphchat.HTMLMessage("<p>Over to you, "+tag+"</p>", lee), nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Chat.Existed || first.Chat.ID() == "" || first.Message == nil || deref(first.Message.GetChatId()) != first.Chat.ID() {
		t.Fatalf("first: existed %v, chat %q, message %v", first.Chat.Existed, first.Chat.ID(), first.Message)
	}
	time.Sleep(1100 * time.Millisecond) // one message a second per user in a chat
	again, err := e.client.SendTo(ctx, policy.ChatTypeGroup, "Launch", []graphchat.Member{
		graphchat.User(graphchattest.NestorID), graphchat.User("Lee@Contoso.com"), graphchat.User(graphchattest.MeganID),
	}, graphchat.TextMessage("Second"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Chat.Existed || again.Chat.ID() != first.Chat.ID() {
		t.Errorf("again: existed %v, chat %q, want the chat %q", again.Chat.Existed, again.Chat.ID(), first.Chat.ID())
	}
	if n := len(e.emu.Chats()); n != 1 {
		t.Errorf("%d chats, want 1", n)
	}
	stored := e.emu.Messages(first.Chat.ID())
	if len(stored) != 2 || len(stored[0].Mentions) != 1 || stored[0].Mentions[0] != graphchattest.LeeID || stored[1].Content != "Second" {
		t.Errorf("stored: %+v", stored)
	}

	// One-on-one: the service's chat for the pair; nothing is listed.
	lists := countRequests(e, http.MethodGet, "/me/chats")
	one, err := e.client.SendTo(ctx, policy.ChatTypeOneOnOne, "", []graphchat.Member{graphchat.User("megan@contoso.com"), graphchat.User("alex@contoso.com")}, graphchat.TextMessage("Hi Alex"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if one.Chat.Existed || one.Message == nil || len(e.emu.Messages(one.Chat.ID())) != 1 {
		t.Errorf("one-on-one: %+v", one)
	}
	if n := countRequests(e, http.MethodGet, "/me/chats") - lists; n != 0 {
		t.Errorf("one-on-one: %d listings, want none", n)
	}
}

func countRequests(e *env, method, suffix string) int {
	n := 0
	for _, s := range e.requests() {
		if s.Method == method && strings.HasSuffix(s.Path, suffix) {
			n++
		}
	}
	return n
}

// A message or a chat the policy refuses lists, creates and sends nothing:
// the violations of both come at once.
func TestSendToRefusedSendsNothing(t *testing.T) {
	t.Parallel()
	megan, lee, nestor := graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID)
	byName := []graphchat.Member{graphchat.User("megan@contoso.com"), graphchat.User("lee@contoso.com"), graphchat.User("nestor@contoso.com")}
	_, jacob := graphchat.Mention(0, graphchattest.JacobID, "Jacob")
	jacobTag, _ := graphchat.Mention(0, graphchattest.JacobID, "Jacob")
	guestOwner := graphchat.Guest("ada_fabrikam.com#EXT#@contoso.onmicrosoft.com")
	guestOwner.Role = policy.RoleOwner
	tests := []struct {
		name    string
		token   string
		typ     policy.ChatType
		topic   string
		members []graphchat.Member
		msg     models.ChatMessageable
		want    []policy.Code
		lookups int // GET /users allowed: identifying members named by user principal name
	}{
		{"application-only token", graphchattest.AppToken("Chat.Create", "Chat.ReadBasic.All", "User.Read.All", "Teamwork.Migrate.All"), policy.ChatTypeGroup, "Launch", []graphchat.Member{megan, lee, nestor},
			graphchat.TextMessage("hi"), []policy.Code{policy.CodeOperationAuth}, 0},
		{"mention of a non-member, by object id", "", policy.ChatTypeGroup, "Launch", []graphchat.Member{megan, lee, nestor},
			graphchat.HTMLMessage("hi "+jacobTag, jacob), []policy.Code{policy.CodeMentionNotMember}, 0},
		{"mention of a non-member, members by name", "", policy.ChatTypeGroup, "Launch", byName,
			graphchat.HTMLMessage("hi "+jacobTag, jacob), []policy.Code{policy.CodeMentionNotMember}, 2},
		{"mention of a non-member, one-on-one", "", policy.ChatTypeOneOnOne, "", []graphchat.Member{megan, lee},
			graphchat.HTMLMessage("hi "+jacobTag, jacob), []policy.Code{policy.CodeMentionNotMember}, 0},
		{"caller not a member: reported once", "", policy.ChatTypeGroup, "Ops", []graphchat.Member{lee, nestor, graphchat.User(graphchattest.AlexID)},
			graphchat.TextMessage("hi"), []policy.Code{policy.CodeCallerMissing}, 0},
		{"the chat and the message refused together", "", policy.ChatTypeGroup, "Partners", []graphchat.Member{megan, lee, guestOwner},
			graphchat.TextMessage(""), []policy.Code{policy.CodeGuestRole, policy.CodeBodyMissing}, 0},
		{"topic on a one-on-one chat", "", policy.ChatTypeOneOnOne, "Catch-up", []graphchat.Member{megan, lee},
			graphchat.TextMessage("hi"), []policy.Code{policy.CodeTopicOneOnOne}, 0},
		{"malformed html", "", policy.ChatTypeGroup, "Launch", []graphchat.Member{megan, lee, nestor},
			graphchat.HTMLMessage("<b>x</i>"), []policy.Code{policy.CodeHTMLMalformed}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := tt.token
			if token == "" {
				token = sendToToken()
			}
			e := setup(t, nil, sendTo, token)
			sent, err := e.client.SendTo(ctx, tt.typ, tt.topic, tt.members, tt.msg, nil)
			var list policy.List
			if sent != nil || !errors.As(err, &list) {
				t.Fatalf("got %+v, %v, want a policy.List", sent, err)
			}
			if got := list.Codes(); !slices.Equal(got, tt.want) {
				t.Errorf("codes %v, want %v", got, tt.want)
			}
			if n := len(e.emu.Chats()); n != 0 {
				t.Errorf("%d chats created", n)
			}
			reqs := e.requests()
			users := 0
			for _, r := range reqs {
				if r.Method == http.MethodGet && strings.Contains(r.Path, "/users/") {
					users++
				}
			}
			if users != tt.lookups || len(reqs) != users {
				t.Errorf("%d requests reached the server (%d GET /users, want %d and nothing else): %v", len(reqs), users, tt.lookups, reqs)
			}
		})
	}
}

// Several group chats with the same people and topic: nothing is sent
// unless Pick chooses one.
func TestSendToSeveralMatches(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, sendTo, sendToToken())
	people := []graphchat.Member{graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID)}
	var ids []string
	for range 2 {
		c, err := e.client.CreateGroup(ctx, "Launch", people...)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID())
		time.Sleep(10 * time.Millisecond) // distinct creation times
	}
	sent, err := e.client.SendTo(ctx, policy.ChatTypeGroup, "Launch", people, graphchat.TextMessage("hi"), nil)
	var several *graphchat.MatchesError
	if sent != nil || !errors.As(err, &several) || !errors.Is(err, graphchat.ErrMultipleMatches) || len(several.Candidates) != 2 {
		t.Fatalf("got %+v, %v, want a *MatchesError with 2 candidates", sent, err)
	}
	if n := e.messagePosts(); n != 0 {
		t.Errorf("%d messages posted, want none", n)
	}
	sent, err = e.client.SendTo(ctx, policy.ChatTypeGroup, "Launch", people, graphchat.TextMessage("hi"), &graphchat.SendToOptions{Pick: graphchat.PickOldest})
	if err != nil {
		t.Fatal(err)
	}
	if !sent.Chat.Existed || sent.Chat.ID() != ids[0] || len(e.emu.Messages(ids[0])) != 1 || len(e.emu.Messages(ids[1])) != 0 {
		t.Errorf("PickOldest: chat %q (want %q), messages %d and %d", sent.Chat.ID(), ids[0], len(e.emu.Messages(ids[0])), len(e.emu.Messages(ids[1])))
	}
	if _, err := e.client.SendTo(ctx, policy.ChatTypeGroup, "Launch", people, graphchat.TextMessage("hi"), &graphchat.SendToOptions{Pick: "newest"}); err == nil {
		t.Error("Pick \"newest\": no error")
	}
}

// A send whose outcome is unknown is reported so, with the chat, and never
// repeated: one POST of the message, and the message is in the chat exactly
// when the service processed it. Faults on the creation are the lookup's
// (FindOrCreate); the message's are SendMessage's.
func TestSendToAmbiguous(t *testing.T) {
	t.Parallel()
	people := []graphchat.Member{graphchat.User("megan@contoso.com"), graphchat.User("lee@contoso.com"), graphchat.User("nestor@contoso.com")}
	tests := []struct {
		name   string
		status int
		after  bool // the emulator processed the request before the fault
		stored int
	}{
		{"504 after processing", http.StatusGatewayTimeout, true, 1},
		{"502 after processing", http.StatusBadGateway, true, 1},
		{"503 before processing", http.StatusServiceUnavailable, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, sendTo, sendToToken())
			fault := func(w http.ResponseWriter, r *http.Request) bool {
				if !isMessagePost(r) {
					return false
				}
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(tt.status)
				return true
			}
			if tt.after {
				e.after = fault
			} else {
				e.before = fault
			}
			sent, err := e.client.SendTo(ctx, policy.ChatTypeGroup, "Launch", people, graphchat.TextMessage("hi"), nil)
			var amb *graphchat.MessageAmbiguousError
			if !errors.Is(err, graphchat.ErrOutcomeUnknown) || !errors.As(err, &amb) {
				t.Fatalf("got %v, want a *MessageAmbiguousError", err)
			}
			chats := e.emu.Chats()
			if sent == nil || sent.Chat == nil || sent.Message != nil || len(chats) != 1 || sent.Chat.ID() != chats[0].ID || amb.ChatID != chats[0].ID {
				t.Fatalf("sent %+v, %d chats: want the created chat and no message", sent, len(chats))
			}
			if n, m := e.messagePosts(), len(allMessages(e)); n != 1 || m != tt.stored {
				t.Errorf("%d posts, %d messages stored: want 1 and %d", n, m, tt.stored)
			}
		})
	}
	// The group's creation answered 504 after it was made: found by the
	// lookup (Recovered), not created again; then the message likewise:
	// one chat, one message, and the outcome of the message unknown.
	t.Run("504 after processing, creation and message", func(t *testing.T) {
		t.Parallel()
		e := setup(t, nil, sendTo, sendToToken())
		e.after = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPost {
				return false
			}
			w.WriteHeader(http.StatusGatewayTimeout)
			return true
		}
		sent, err := e.client.SendTo(ctx, policy.ChatTypeGroup, "Launch", people, graphchat.TextMessage("hi"), nil)
		var amb *graphchat.MessageAmbiguousError
		if !errors.As(err, &amb) || sent == nil || !sent.Chat.Recovered {
			t.Fatalf("got %+v, %v, want the recovered chat and a *MessageAmbiguousError", sent, err)
		}
		if n, m, p := len(e.emu.Chats()), len(allMessages(e)), e.messagePosts(); n != 1 || m != 1 || p != 1 || e.chatPosts() != 1 {
			t.Errorf("%d chats (%d posts), %d messages (%d posts): want one of each", n, e.chatPosts(), m, p)
		}
	})
}

// SendTo needs send-message and create-chat declared, and refuses before
// any request without them.
func TestSendToUndeclared(t *testing.T) {
	t.Parallel()
	people := []graphchat.Member{graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID)}
	for _, ops := range [][]policy.Operation{
		{policy.OpCreateChat, policy.OpListChats},
		{policy.OpSendMessage},
	} {
		e := setup(t, nil, &graphchat.Options{Operations: ops}, sendToToken())
		if _, err := e.client.SendTo(ctx, policy.ChatTypeOneOnOne, "", people, graphchat.TextMessage("hi"), nil); !errors.Is(err, graphchat.ErrUndeclared) || len(e.requests()) != 0 {
			t.Errorf("operations %v: %v, %d requests", ops, err, len(e.requests()))
		}
	}
}

// With a logger, SendTo logs each policy warning once: the chat's are not
// logged again by the lookup or creation that follows the up-front check.
func TestSendToLogsWarningsOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		typ   policy.ChatType
		topic string
		users []string
	}{
		{"group", policy.ChatTypeGroup, "Launch", []string{graphchattest.MeganID, graphchattest.LeeID, graphchattest.NestorID}},
		{"one-on-one", policy.ChatTypeOneOnOne, "", []string{graphchattest.MeganID, graphchattest.LeeID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf strings.Builder
			opts := *sendTo
			opts.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, nil))
			// Chat.ReadWrite is more than any of the operations needs: a warning.
			tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All", "ChatMessage.Send", "Chat.ReadWrite")
			e := setup(t, nil, &opts, tok)
			members := make([]graphchat.Member, len(tc.users))
			for i, u := range tc.users {
				members[i] = graphchat.User(u)
			}
			if _, err := e.client.SendTo(ctx, tc.typ, tc.topic, members, graphchat.TextMessage("Hello"), nil); err != nil {
				t.Fatal(err)
			}
			logged := map[string]int{}
			for _, line := range strings.Split(buf.String(), "\n") {
				if !strings.Contains(line, `msg="policy warning"`) {
					continue
				}
				op, code := logAttr(line, "operation"), logAttr(line, "code")
				logged[op+" "+code+" "+logAttr(line, "field")]++
			}
			if logged["create-chat "+string(policy.CodePermissionExcess)+" grant.permissions"] == 0 {
				t.Errorf("the chat's warning %s was not logged: %v", policy.CodePermissionExcess, logged)
			}
			for w, n := range logged {
				if n != 1 {
					t.Errorf("%s logged %d times, want once", w, n)
				}
			}
		})
	}
}

// logAttr is the value of a key=value attribute in a line of slog's text
// handler ("" when absent).
func logAttr(line, key string) string {
	_, after, ok := strings.Cut(line, " "+key+"=")
	if !ok {
		return ""
	}
	if strings.HasPrefix(after, `"`) {
		v, _, _ := strings.Cut(after[1:], `"`)
		return v
	}
	v, _, _ := strings.Cut(after, " ")
	return v
}
