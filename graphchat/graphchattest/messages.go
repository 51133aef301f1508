package graphchattest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Chat messages, as Microsoft's Graph v1.0 reference describes them:
// "Send message in a chat" (chat-post-messages: POST /chats/{chat-id}/messages,
// delegated ChatMessage.Send, 201 with the chatMessage), "List messages in a
// chat" (chat-list-messages: GET /chats/{chat-id}/messages,
// /me/chats/{chat-id}/messages and /users/{id}/chats/{chat-id}/messages,
// delegated Chat.Read or Chat.ReadWrite, application Chat.Read.All or
// Chat.ReadWrite.All, $top at most 50, newest first), the chatMessage and
// chatMessageMention resources, "Limits and specifications for Microsoft
// Teams" (approximately 28 KB per message) and the Teams section of the
// throttling limits (one POST message a second per user in a given chat).

// Permissions, from the reference pages' Permissions sections (tokens carry
// no resource-specific consent, so ChatMessage.Read.Chat is left out).
var (
	sendPermissions    = []string{"ChatMessage.Send", "Chat.ReadWrite", "Group.ReadWrite.All"} // delegated
	readPermissions    = []string{"Chat.Read", "Chat.ReadWrite"}                               // delegated
	readAllPermissions = []string{"Chat.Read.All", "Chat.ReadWrite.All"}                       // application
)

// messageState is the emulator's store of chat messages; e.mu guards it.
type messageState struct {
	byChat map[*chat][]*chatMessage // keyed by chat, so that Reset forgets them
	last   map[string]time.Time     // last accepted send per chat and user
	// read is each user's lastMessageReadDateTime per chat (user ids in
	// lower case): a sender has read the chat up to the message it posted.
	read map[*chat]map[string]time.Time
}

// lastMessage returns a chat's last message, or nil; the caller holds e.mu.
func (e *Emulator) lastMessage(c *chat) *chatMessage {
	if list := e.msg.byChat[c]; len(list) > 0 {
		return list[len(list)-1]
	}
	return nil
}

// lastRead returns when a user last read a chat, or nil; the caller holds
// e.mu.
func (e *Emulator) lastRead(c *chat, userID string) any {
	if t, ok := e.msg.read[c][strings.ToLower(userID)]; ok {
		return formatTime(t)
	}
	return nil
}

// messageInfoJSON renders a message as a chat's lastMessagePreview (the
// chatMessageInfo resource).
func messageInfoJSON(m *chatMessage) map[string]any {
	user := map[string]any{"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": m.FromID, "displayName": nil, "userIdentityType": "aadUser"}
	if m.From != nil {
		user["displayName"] = m.From.DisplayName
	}
	return map[string]any{
		"id": m.ID, "createdDateTime": formatTime(m.Created), "isDeleted": false, "messageType": "message", "eventDetail": nil,
		"body": map[string]any{"contentType": m.ContentType, "content": m.Content},
		"from": map[string]any{"application": nil, "device": nil, "user": user},
	}
}

type chatMessage struct {
	ID          string
	ChatID      string
	From        *User
	FromID      string
	ContentType string
	Content     string
	Mentions    []wireChatMention
	Created     time.Time
}

type wireChatMention struct {
	ID          *int   `json:"id"`
	MentionText string `json:"mentionText"`
	Mentioned   *struct {
		User *struct {
			ID               string `json:"id"`
			DisplayName      string `json:"displayName"`
			UserIdentityType string `json:"userIdentityType"`
		} `json:"user"`
	} `json:"mentioned"`
}

// Message is a snapshot of an emulated chat message, for tests.
type Message struct {
	ID          string
	ChatID      string
	From        string // the sender's user id
	ContentType string
	Content     string
	Mentions    []string // the mentioned users' ids, in order
	Created     time.Time
}

// Messages returns a snapshot of a chat's messages, oldest first; nil when
// the chat does not exist.
func (e *Emulator) Messages(chatID string) []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.byID[chatID]
	if c == nil {
		return nil
	}
	var out []Message
	for _, m := range e.msg.byChat[c] {
		s := Message{ID: m.ID, ChatID: m.ChatID, From: m.FromID, ContentType: m.ContentType, Content: m.Content, Created: m.Created}
		for _, x := range m.Mentions {
			s.Mentions = append(s.Mentions, x.Mentioned.User.ID)
		}
		out = append(out, s)
	}
	return out
}

// MaxMessageBytes is the size of a message the emulator accepts: the
// content plus its mentions as JSON. Teams documents "approximately 28 KB".
const MaxMessageBytes = 28 * 1024

// sendInterval is the documented limit of POST message in a given chat:
// one request a second per user.
const sendInterval = time.Second

// routeMessage answers the message routes; ok is false for other paths.
func (e *Emulator) routeMessage(q *request, seg []string) (resp *response, ok bool) {
	m := q.r.Method
	switch {
	case len(seg) == 3 && seg[0] == "chats" && seg[2] == "messages" && m == http.MethodPost:
		// Counted against the app's bucket like every request; the limit
		// per user in a chat is sendMessage's own.
		return e.throttled(q, classRead, "", "", func() *response { return e.sendMessage(q, seg[1]) }), true
	case len(seg) == 3 && seg[0] == "chats" && seg[2] == "messages" && m == http.MethodGet:
		return e.listMessages(q, scope{kind: "chats"}, seg[1]), true
	case len(seg) == 4 && seg[0] == "me" && seg[1] == "chats" && seg[3] == "messages" && m == http.MethodGet:
		return e.listMessages(q, scope{kind: "me"}, seg[2]), true
	case len(seg) == 5 && seg[0] == "users" && seg[2] == "chats" && seg[4] == "messages" && m == http.MethodGet:
		return e.listMessages(q, scope{kind: "users", user: seg[1]}, seg[3]), true
	}
	return nil, false
}

var knownChatMessageProps = []string{
	"@odata.type", "attachments", "body", "channelIdentity", "chatId", "createdDateTime", "deletedDateTime",
	"etag", "eventDetail", "from", "hostedContents", "id", "importance", "lastEditedDateTime",
	"lastModifiedDateTime", "locale", "mentions", "messageHistory", "messageType", "policyViolation",
	"reactions", "replyToId", "subject", "summary", "webUrl",
}

// atTagPattern finds the id of each <at> tag of an HTML body.
var atTagPattern = regexp.MustCompile(`(?i)<at\b[^>]*?\bid\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>`)

// sendMessage answers POST /chats/{id}/messages.
func (e *Emulator) sendMessage(q *request, id string) *response {
	// Application-only sends are refused: the service accepts them only to
	// import history. The status is not documented; the message is the one
	// users report.
	if q.claims == nil || q.claims.app() {
		return e.graphError(q, http.StatusForbidden, "Forbidden", "Message POST is allowed in application-only context only for import purposes. "+
			"Send with a signed-in user's delegated ChatMessage.Send permission.", nil)
	}
	if !q.claims.holds(sendPermissions...) {
		return e.graphError(q, http.StatusForbidden, "Forbidden", fmt.Sprintf("Missing role permissions on the request. API requires one of '%s'.", strings.Join(sendPermissions, ", ")), nil)
	}
	body, raw, resp := e.readObject(q)
	if resp != nil {
		return resp
	}
	in, resp := e.readMessage(q, body, raw)
	if resp != nil {
		return resp
	}

	return e.withChat(q, scope{kind: "chats"}, id, func(c *chat) *response {
		for _, m := range in.Mentions {
			if !c.hasMember(m.Mentioned.User.ID) {
				// Not documented: the emulator's reading that a chat message
				// mentions members of the chat.
				return e.badRequest(q, fmt.Sprintf("Mentioned user '%s' is not a member of the chat.", m.Mentioned.User.ID))
			}
		}
		if resp := e.paceSend(q, c); resp != nil {
			return resp
		}
		msg := e.storeMessage(c, q.claims.ObjectID, in)
		out := messageJSON(msg)
		out["@odata.context"] = fmt.Sprintf("https://graph.microsoft.com/%s/$metadata#chats('%s')/messages/$entity", q.version, url.QueryEscape(c.ID))
		return e.jsonResponse(http.StatusCreated, out, nil)
	})
}

// messageRequest is a POST message body, as far as the emulator reads it.
type messageRequest struct {
	Body *struct {
		ContentType *string `json:"contentType"`
		Content     *string `json:"content"`
	} `json:"body"`
	Mentions []wireChatMention `json:"mentions"`
}

// readMessage reads and checks a POST message body (raw are its
// properties): its body, its size and its mentions. A non-nil response
// refuses it.
func (e *Emulator) readMessage(q *request, body []byte, raw map[string]json.RawMessage) (*chatMessage, *response) {
	// Property names are case-sensitive: a key that differs from a defined
	// property only in letter case is an unknown property, refused.
	if k := caseVariant(raw, knownChatMessageProps); k != "" {
		return nil, e.badRequest(q, unknownPropertyMessage(k, "microsoft.graph.chatMessage"))
	}
	var in messageRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, e.badRequest(q, fmt.Sprintf("Unable to read JSON request payload: %v", err))
	}
	if rb, ok := raw["body"]; ok {
		var keys map[string]json.RawMessage
		json.Unmarshal(rb, &keys) //nolint:errcheck // in.Body decoded it
		if k := caseVariant(keys, []string{"@odata.type", "contentType", "content"}); k != "" {
			return nil, e.badRequest(q, unknownPropertyMessage(k, "microsoft.graph.itemBody"))
		}
	}
	if in.Body == nil || in.Body.Content == nil || strings.TrimSpace(*in.Body.Content) == "" {
		return nil, e.badRequest(q, "Message body cannot be empty.")
	}
	m := &chatMessage{ContentType: "text", Content: *in.Body.Content, Mentions: in.Mentions}
	if in.Body.ContentType != nil {
		m.ContentType = *in.Body.ContentType
	}
	if m.ContentType != "text" && m.ContentType != "html" {
		return nil, e.badRequest(q, fmt.Sprintf("Requested value '%s' was not found: body.contentType is 'text' or 'html'.", m.ContentType))
	}
	size := len(m.Content)
	if len(m.Mentions) > 0 {
		b, _ := json.Marshal(m.Mentions)
		size += len(b)
	}
	if size > MaxMessageBytes {
		// Reported as "Request Entity too large"; the limit is documented as
		// approximately 28 KB.
		return nil, e.graphError(q, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("Request Entity too large: the message is %d bytes, over the limit of about 28 KB.", size), nil)
	}
	if msg := mentionProblem(m); msg != "" {
		return nil, e.badRequest(q, msg)
	}
	return m, nil
}

// mentionProblem returns why a message's mentions and the <at> tags of its
// body do not match one to one, or "".
func mentionProblem(m *chatMessage) string {
	if len(m.Mentions) > 0 && m.ContentType != "html" {
		return "Mentions need an html body with an <at id=\"n\"> tag for each mention."
	}
	tags := map[string]int{}
	for _, t := range atTagPattern.FindAllStringSubmatch(m.Content, -1) {
		tags[t[1]+t[2]+t[3]]++
	}
	seen := map[int]bool{}
	for i, x := range m.Mentions {
		switch {
		case x.ID == nil:
			return fmt.Sprintf("mentions[%d] has no id.", i)
		case seen[*x.ID]:
			return fmt.Sprintf("Mention id %d is used more than once.", *x.ID)
		case tags[strconv.Itoa(*x.ID)] != 1:
			return fmt.Sprintf("Mention id %d must match exactly one <at id=\"%d\"> tag of the body, found %d.", *x.ID, *x.ID, tags[strconv.Itoa(*x.ID)])
		case x.Mentioned == nil || x.Mentioned.User == nil || x.Mentioned.User.ID == "":
			return fmt.Sprintf("mentions[%d] names no user: set mentioned.user.id.", i)
		}
		seen[*x.ID] = true
	}
	for tag := range tags {
		n, err := strconv.Atoi(tag)
		if err != nil || !seen[n] {
			return fmt.Sprintf("The <at id=\"%s\"> tag of the body has no mention.", tag)
		}
	}
	return ""
}

// paceSend applies the documented limit of one message a second per user
// in a chat: a non-nil response is the 429; the caller holds e.mu.
func (e *Emulator) paceSend(q *request, c *chat) *response {
	if e.msg.last == nil {
		e.msg.last, e.msg.byChat, e.msg.read = map[string]time.Time{}, map[*chat][]*chatMessage{}, map[*chat]map[string]time.Time{}
	}
	key := c.ID + "|" + strings.ToLower(q.claims.ObjectID)
	now := time.Now()
	if wait := sendInterval - now.Sub(e.msg.last[key]); wait > 0 {
		return e.graphError(q, http.StatusTooManyRequests, "TooManyRequests", "Too many messages in this chat: at most one a second per user.",
			http.Header{"Retry-After": {formatSeconds(wait)}})
	}
	e.msg.last[key] = now
	return nil
}

// storeMessage posts a message read by readMessage to a chat, from a user:
// it gets its id and time, its mentioned users their display names, and
// the sender has read the chat up to it. The caller holds e.mu.
func (e *Emulator) storeMessage(c *chat, from string, msg *chatMessage) *chatMessage {
	created := e.now().UTC().Truncate(time.Millisecond)
	ms := created.UnixMilli()
	if list := e.msg.byChat[c]; len(list) > 0 {
		if prev, _ := strconv.ParseInt(list[len(list)-1].ID, 10, 64); prev >= ms {
			ms = prev + 1 // ids are unique in a chat
		}
	}
	msg.ID, msg.ChatID, msg.Created = strconv.FormatInt(ms, 10), c.ID, created
	msg.From, msg.FromID = e.findUser(from), strings.ToLower(from)
	for _, m := range msg.Mentions {
		if u := e.findUser(m.Mentioned.User.ID); u != nil && m.Mentioned.User.DisplayName == "" {
			m.Mentioned.User.DisplayName = u.DisplayName
		}
		m.Mentioned.User.UserIdentityType = "aadUser"
	}
	e.msg.byChat[c] = append(e.msg.byChat[c], msg)
	if e.msg.read[c] == nil {
		e.msg.read[c] = map[string]time.Time{}
	}
	e.msg.read[c][msg.FromID] = created
	return msg
}

// messageJSON renders a message as the documented response shows it.
func messageJSON(m *chatMessage) map[string]any {
	user := map[string]any{"id": m.FromID, "displayName": nil, "userIdentityType": "aadUser"}
	if m.From != nil {
		user["displayName"] = m.From.DisplayName
	}
	mentions := make([]any, len(m.Mentions))
	for i, x := range m.Mentions {
		mentions[i] = map[string]any{"id": *x.ID, "mentionText": x.MentionText, "mentioned": map[string]any{
			"application": nil, "device": nil, "conversation": nil,
			"user": map[string]any{"id": x.Mentioned.User.ID, "displayName": x.Mentioned.User.DisplayName, "userIdentityType": "aadUser"},
		}}
	}
	t := formatTime(m.Created)
	return map[string]any{
		"id": m.ID, "replyToId": nil, "etag": m.ID, "messageType": "message",
		"createdDateTime": t, "lastModifiedDateTime": t, "lastEditedDateTime": nil, "deletedDateTime": nil,
		"subject": nil, "summary": nil, "chatId": m.ChatID, "importance": "normal", "locale": "en-us", "webUrl": nil,
		"channelIdentity": nil, "policyViolation": nil, "eventDetail": nil,
		"from":        map[string]any{"application": nil, "device": nil, "user": user},
		"body":        map[string]any{"contentType": m.ContentType, "content": m.Content},
		"attachments": []any{}, "mentions": mentions, "reactions": []any{}, "messageHistory": []any{},
	}
}

// listMessages answers the documented GET routes of a chat's messages,
// newest first, in a scope: any chat the caller may see, or the chats of
// the user the scope names.
func (e *Emulator) listMessages(q *request, sc scope, id string) *response {
	userID, resp := e.scopeUser(q, sc)
	if resp != nil {
		return resp
	}
	if c := q.claims; c != nil {
		allowed := readPermissions
		if c.app() {
			allowed = readAllPermissions
		}
		if !c.holds(allowed...) {
			return e.graphError(q, http.StatusForbidden, "Forbidden", fmt.Sprintf("Missing role permissions on the request. API requires one of '%s'.", strings.Join(allowed, ", ")), nil)
		}
	}
	p, msg := readPage(q.r.URL.Query(), 50)
	if msg != "" {
		return e.badRequest(q, msg)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, resp := e.lookupChat(q, id, userID)
	if resp != nil {
		return resp
	}
	list := e.msg.byChat[c]
	out := p.collection(q, fmt.Sprintf("https://graph.microsoft.com/%s/$metadata#chats('%s')/messages", q.version, url.QueryEscape(c.ID)), len(list),
		func(i int) any { return messageJSON(list[len(list)-1-i]) })
	return e.jsonResponse(http.StatusOK, out, nil)
}
