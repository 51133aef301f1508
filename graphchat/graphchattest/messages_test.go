package graphchattest_test

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// sender is a client of the emulator signed in as a user with
// ChatMessage.Send and Chat.Create.
func (c *client) as(userID string, scopes ...string) *client {
	return &client{t: c.t, srv: c.srv, token: graphchattest.DelegatedToken(userID, scopes...)}
}

// group creates a group chat of megan, lee and nestor and returns its id.
func (c *client) group() string {
	c.t.Helper()
	r := c.as(graphchattest.MeganID, "Chat.Create").do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "members": []any{
		member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")}})
	if r.status != 201 {
		c.t.Fatalf("creating a group: %d %v", r.status, r.body)
	}
	return r.body["id"].(string)
}

func messagesPath(chatID string) string { return "/v1.0/chats/" + url.PathEscape(chatID) + "/messages" }

func TestSendAndListMessages(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	chatID := c.group()
	megan := c.as(graphchattest.MeganID, "ChatMessage.Send")
	body := map[string]any{
		"body": map[string]any{"contentType": "html", "content": `Hello <at id="0">Lee Gu</at>`},
		"mentions": []any{map[string]any{"id": 0, "mentionText": "Lee Gu", "mentioned": map[string]any{
			"user": map[string]any{"id": graphchattest.LeeID, "userIdentityType": "aadUser"}}}},
	}
	r := megan.do("POST", messagesPath(chatID), body)
	if r.status != 201 {
		t.Fatalf("send: %d %v", r.status, r.body)
	}
	m := r.body
	id, _ := m["id"].(string)
	if _, err := strconv.ParseInt(id, 10, 64); err != nil || m["etag"] != id {
		t.Errorf("id %q, etag %v: want a numeric id and the same etag", id, m["etag"])
	}
	from := m["from"].(map[string]any)["user"].(map[string]any)
	mentions := m["mentions"].([]any)
	mentioned := mentions[0].(map[string]any)["mentioned"].(map[string]any)["user"].(map[string]any)
	for _, check := range []struct {
		name      string
		got, want any
	}{
		{"messageType", m["messageType"], "message"},
		{"chatId", m["chatId"], chatID},
		{"from.user.id", from["id"], graphchattest.MeganID},
		{"from.user.displayName", from["displayName"], "Megan Bowen"},
		{"body.contentType", m["body"].(map[string]any)["contentType"], "html"},
		{"mentions[0].mentioned.user.displayName", mentioned["displayName"], "Lee Gu"},
		{"lastModifiedDateTime", m["lastModifiedDateTime"], m["createdDateTime"]},
		{"@odata.context", strings.Contains(m["@odata.context"].(string), "/messages/$entity"), true},
	} {
		if check.got != check.want {
			t.Errorf("%s = %v, want %v", check.name, check.got, check.want)
		}
	}
	if got := c.srv.Messages(chatID); len(got) != 1 || got[0].From != graphchattest.MeganID || !slices.Equal(got[0].Mentions, []string{graphchattest.LeeID}) {
		t.Errorf("stored messages: %+v", got)
	}

	// Lee answers (another user: not throttled by Megan's send).
	if r := c.as(graphchattest.LeeID, "ChatMessage.Send").do("POST", messagesPath(chatID), map[string]any{"body": map[string]any{"content": "Thanks"}}); r.status != 201 {
		t.Fatalf("second send: %d %v", r.status, r.body)
	}
	reader := c.as(graphchattest.NestorID, "Chat.Read")
	for _, path := range []string{messagesPath(chatID), "/v1.0/me/chats/" + url.PathEscape(chatID) + "/messages", "/v1.0/users/nestor@contoso.com/chats/" + url.PathEscape(chatID) + "/messages"} {
		r := reader.do("GET", path, nil)
		values, _ := r.body["value"].([]any)
		if r.status != 200 || len(values) != 2 || values[0].(map[string]any)["body"].(map[string]any)["content"] != "Thanks" {
			t.Errorf("GET %s: %d %v: want the two messages, newest first", path, r.status, r.body)
		}
	}
	app := &client{t: t, srv: c.srv, token: graphchattest.AppToken("Chat.Read.All")}
	if r := app.do("GET", "/v1.0/users/"+graphchattest.LeeID+"/chats/"+url.PathEscape(chatID)+"/messages?$top=1", nil); r.status != 200 || len(r.body["value"].([]any)) != 1 || r.body["@odata.nextLink"] == nil {
		t.Errorf("app GET $top=1: %d %v: want one message and a next link", r.status, r.body)
	}
	for _, tt := range []struct {
		name   string
		c      *client
		path   string
		status int
	}{
		{"no read permission", c.as(graphchattest.NestorID, "ChatMessage.Send"), messagesPath(chatID), 403},
		{"not a member", c.as(graphchattest.JacobID, "Chat.Read"), messagesPath(chatID), 403},
		{"another user's chats", reader, "/v1.0/users/lee@contoso.com/chats/" + url.PathEscape(chatID) + "/messages", 403},
		{"app on /me", app, "/v1.0/me/chats/" + url.PathEscape(chatID) + "/messages", 400},
		{"app for a user not in the chat", app, "/v1.0/users/jacob@contoso.com/chats/" + url.PathEscape(chatID) + "/messages", 404},
		{"unknown chat", reader, messagesPath("19:nope@thread.v2"), 404},
		{"$top over 50", reader, messagesPath(chatID) + "?$top=51", 400},
	} {
		if r := tt.c.do("GET", tt.path, nil); r.status != tt.status {
			t.Errorf("%s: %d %v, want %d", tt.name, r.status, r.body, tt.status)
		} else {
			errorCode(t, r)
		}
	}
}

func TestSendMessageRefusals(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	chatID := c.group()
	lee := graphchattest.LeeID
	mention := func(id int, text, user string) map[string]any {
		return map[string]any{"id": id, "mentionText": text, "mentioned": map[string]any{"user": map[string]any{"id": user}}}
	}
	html := func(content string, mentions ...any) map[string]any {
		return map[string]any{"body": map[string]any{"contentType": "html", "content": content}, "mentions": mentions}
	}
	tests := []struct {
		name   string
		token  string
		chat   string
		body   any
		status int
		code   string
	}{
		{"application", graphchattest.AppToken("Teamwork.Migrate.All", "Chat.ReadWrite.All"), chatID, `{"body":{"content":"hi"}}`, 403, "Forbidden"},
		{"no send permission", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.Read"), chatID, `{"body":{"content":"hi"}}`, 403, "Forbidden"},
		{"not a member", graphchattest.DelegatedToken(graphchattest.JacobID, "ChatMessage.Send"), chatID, `{"body":{"content":"hi"}}`, 403, "Forbidden"},
		{"unknown chat", "", "19:0123456789abcdef0123456789abcdef@thread.v2", `{"body":{"content":"hi"}}`, 404, "NotFound"},
		{"no body", "", chatID, `{}`, 400, "BadRequest"},
		{"empty content", "", chatID, `{"body":{"content":" "}}`, 400, "BadRequest"},
		{"content type", "", chatID, `{"body":{"contentType":"markdown","content":"hi"}}`, 400, "BadRequest"},
		{"content type case", "", chatID, `{"body":{"contentType":"Text","content":"hi"}}`, 400, "BadRequest"},
		{"property case", "", chatID, `{"Body":{"content":"hi"}}`, 400, "BadRequest"},
		{"body property case", "", chatID, `{"body":{"Content":"hi"}}`, 400, "BadRequest"},
		{"duplicate key", "", chatID, `{"body":{"content":"a","content":"b"}}`, 400, "BadRequest"},
		{"not json", "", chatID, `{"body":`, 400, "BadRequest"},
		{"too large", "", chatID, map[string]any{"body": map[string]any{"content": strings.Repeat("x", graphchattest.MaxMessageBytes+1)}}, 413, "RequestEntityTooLarge"},
		{"mentions in text", "", chatID, map[string]any{"body": map[string]any{"content": `<at id="0">Lee</at>`}, "mentions": []any{mention(0, "Lee", lee)}}, 400, "BadRequest"},
		{"mention without tag", "", chatID, html(`<at id="1">Lee</at>`, mention(0, "Lee", lee)), 400, "BadRequest"},
		{"tag without mention", "", chatID, html(`<at id="0">Lee</at> <at id="1">Nestor</at>`, mention(0, "Lee", lee)), 400, "BadRequest"},
		{"mention twice", "", chatID, html(`<at id="0">Lee</at>`, mention(0, "Lee", lee), mention(0, "Lee", lee)), 400, "BadRequest"},
		{"mention without user", "", chatID, html(`<at id="0">Lee</at>`, map[string]any{"id": 0, "mentionText": "Lee", "mentioned": map[string]any{}}), 400, "BadRequest"},
		{"mention of a non-member", "", chatID, html(`<at id="0">Jacob</at>`, mention(0, "Jacob", graphchattest.JacobID)), 400, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.as(graphchattest.MeganID, "ChatMessage.Send")
			if tt.token != "" {
				s.token = tt.token
			}
			r := s.do("POST", messagesPath(tt.chat), tt.body)
			if r.status != tt.status || errorCode(t, r) != tt.code {
				t.Errorf("%d %v, want %d %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
	if got := c.srv.Messages(chatID); len(got) != 0 {
		t.Errorf("refused sends stored %d messages", len(got))
	}
}

// One POST message a second per user in a given chat (throttling limits,
// Teams section): the next one gets 429 with Retry-After.
func TestSendMessageThrottled(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	chatID := c.group()
	other := c.group()
	megan := c.as(graphchattest.MeganID, "ChatMessage.Send")
	msg := `{"body":{"content":"hi"}}`
	if r := megan.do("POST", messagesPath(chatID), msg); r.status != 201 {
		t.Fatalf("first: %d %v", r.status, r.body)
	}
	r := megan.do("POST", messagesPath(chatID), msg)
	if r.status != 429 || errorCode(t, r) != "TooManyRequests" {
		t.Fatalf("second: %d %v, want 429", r.status, r.body)
	}
	wait, err := strconv.ParseFloat(r.header.Get("Retry-After"), 64)
	if err != nil || wait <= 0 || wait > 1 {
		t.Fatalf("Retry-After %q: want up to a second", r.header.Get("Retry-After"))
	}
	if r := megan.do("POST", messagesPath(other), msg); r.status != 201 {
		t.Errorf("another chat: %d, want 201 (the limit is per chat)", r.status)
	}
	if r := c.as(graphchattest.LeeID, "ChatMessage.Send").do("POST", messagesPath(chatID), msg); r.status != 201 {
		t.Errorf("another user: %d, want 201 (the limit is per user)", r.status)
	}
	time.Sleep(time.Duration(wait * float64(time.Second)))
	if r := megan.do("POST", messagesPath(chatID), msg); r.status != 201 {
		t.Errorf("after Retry-After: %d %v", r.status, r.body)
	}
	if n := len(c.srv.Messages(chatID)); n != 3 {
		t.Errorf("%d messages stored, want 3", n)
	}
}

// Every body of testdata/send-message is accepted by the emulator exactly
// when the policy allows it, sent by Megan to a chat of Megan, Lee and
// Nestor, but for two rules that are the policy's own: malformed HTML and
// control characters, which the service (and the emulator) store
// sanitized or as sent instead of refusing them.
func TestMessageTestdataAgreesWithPolicy(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	dir := filepath.Join("..", "..", "testdata", "send-message")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("%d files, %v", len(files), err)
	}
	megan := c.as(graphchattest.MeganID, "ChatMessage.Send")
	for _, f := range files {
		if filepath.Base(f) == "cases.json" {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			allowed := false
			var codes []policy.Code
			if m, err := policy.ParseSendMessage(data); err == nil {
				m.Members = []string{graphchattest.MeganID, graphchattest.LeeID, graphchattest.NestorID}
				res := policy.CheckMessage(m, &policy.Context{Caller: policy.Caller{ID: graphchattest.MeganID}})
				codes = res.Violations.Codes()
				own := func(c policy.Code) bool { return c == policy.CodeHTMLMalformed || c == policy.CodeInvalidText }
				allowed = res.Allowed() || !slices.ContainsFunc(codes, func(c policy.Code) bool { return !own(c) })
			}
			r := megan.do("POST", messagesPath(c.group()), data)
			if (r.status == 201) != allowed {
				t.Errorf("emulator %d %v; policy %v", r.status, r.body, codes)
			}
		})
	}
}

// What a message changes in its chat: the lastMessagePreview of list chats
// (and its order with $orderby), the sender's viewpoint, and not
// lastUpdatedDateTime.
func TestMessageChangesItsChat(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	first, second, quiet := c.group(), c.group(), c.group()
	megan := c.as(graphchattest.MeganID, "ChatMessage.Send", "Chat.ReadBasic")
	lee := c.as(graphchattest.LeeID, "ChatMessage.Send", "Chat.ReadBasic")
	list := func(cl *client, query string) map[string]map[string]any {
		t.Helper()
		r := cl.do("GET", "/v1.0/me/chats?"+query, nil)
		if r.status != 200 {
			t.Fatalf("list: %d %v", r.status, r.body)
		}
		out := map[string]map[string]any{}
		var order []string
		for _, v := range r.body["value"].([]any) {
			ch := v.(map[string]any)
			out[ch["id"].(string)] = ch
			order = append(order, ch["id"].(string))
		}
		out[""] = map[string]any{"order": order}
		return out
	}
	before := list(megan, "$expand=lastMessagePreview")
	if p, ok := before[first]["lastMessagePreview"]; !ok || p != nil {
		t.Fatalf("lastMessagePreview before any message: %v (present %v), want null", p, ok)
	}
	if r := megan.do("POST", messagesPath(first), map[string]any{"body": map[string]any{"content": "Hello"}}); r.status != 201 {
		t.Fatalf("send: %d %v", r.status, r.body)
	}
	time.Sleep(5 * time.Millisecond) // distinct creation times
	if r := lee.do("POST", messagesPath(second), map[string]any{"body": map[string]any{"contentType": "html", "content": "<p>Hi</p>"}}); r.status != 201 {
		t.Fatalf("send: %d %v", r.status, r.body)
	}
	msgs := c.srv.Messages(first)
	after := list(megan, "$expand=lastMessagePreview&$orderby="+url.QueryEscape("lastMessagePreview/createdDateTime desc"))
	p, _ := after[first]["lastMessagePreview"].(map[string]any)
	if p == nil || p["id"] != msgs[0].ID || p["body"].(map[string]any)["content"] != "Hello" || p["messageType"] != "message" ||
		p["from"].(map[string]any)["user"].(map[string]any)["id"] != graphchattest.MeganID || p["createdDateTime"] == nil {
		t.Errorf("lastMessagePreview of the first chat: %v", p)
	}
	if q, _ := after[second]["lastMessagePreview"].(map[string]any); q == nil || q["body"].(map[string]any)["contentType"] != "html" {
		t.Errorf("lastMessagePreview of the second chat: %v", q)
	}
	if got, want := after[""]["order"].([]string), []string{second, first, quiet}; !slices.Equal(got, want) {
		t.Errorf("order by lastMessagePreview/createdDateTime desc: %v, want %v (newest message first, no message last)", got, want)
	}
	if after[first]["lastUpdatedDateTime"] != before[first]["lastUpdatedDateTime"] {
		t.Errorf("lastUpdatedDateTime moved from %v to %v: documented as renames and member changes only", before[first]["lastUpdatedDateTime"], after[first]["lastUpdatedDateTime"])
	}
	if _, ok := list(megan, "")[first]["lastMessagePreview"]; ok {
		t.Error("lastMessagePreview present without $expand")
	}
	// The sender has read the chat up to its message; Lee, who did not
	// post there, has not.
	read := func(cl *client, chatID string) any {
		return list(cl, "")[chatID]["viewpoint"].(map[string]any)["lastMessageReadDateTime"]
	}
	if got := read(megan, first); got != p["createdDateTime"] {
		t.Errorf("megan's lastMessageReadDateTime in the first chat: %v, want %v", got, p["createdDateTime"])
	}
	if got := read(lee, first); got != nil {
		t.Errorf("lee's lastMessageReadDateTime in the first chat: %v, want null", got)
	}
	if got := read(megan, quiet); got != nil {
		t.Errorf("lastMessageReadDateTime of a chat without messages: %v, want null", got)
	}
}
