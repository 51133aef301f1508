package policy

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The rules of POST /chats/{chat-id}/messages, from Microsoft's Graph v1.0
// reference: "Send message in a chat" (chat-post-messages), "Send
// chatMessage in a channel or a chat" (chatmessage-post), the chatMessage,
// itemBody and chatMessageMention resources, "Limits and specifications for
// Microsoft Teams" and the Teams section of "Microsoft Graph service-specific
// throttling limits".

// ContentType is the type of a message body, equal to its wire value
// (itemBody.contentType).
type ContentType string

// Content types of a message body. An absent contentType is read as text.
const (
	ContentText ContentType = "text"
	ContentHTML ContentType = "html"
)

// MaxMessageBytes is the size limit of a chat message: "approximately 28 KB
// per post" (Limits and specifications for Microsoft Teams), which counts
// the message itself (text, HTML, image links) and its @-mentions. See
// [Message.Size] for what is counted here.
const MaxMessageBytes = 28 * 1024

// Codes of the send-message rules. The permission rules (auth_type,
// operation_not_supported, permission_missing, permission_excess), the
// caller rules (caller_missing, caller_unknown) and the shape rules
// (field_type, duplicate_key, property_case, unknown_property,
// invalid_text) are shared with the create-chat rules.
const (
	CodeBodyMissing      Code = "body_missing"       // no body, or a body without content
	CodeContentType      Code = "content_type"       // body.contentType is not "text" or "html"
	CodeMessageSize      Code = "message_size"       // the message is larger than MaxMessageBytes
	CodeHTMLMalformed    Code = "html_malformed"     // an html body whose tags do not nest or close
	CodeMentionHTML      Code = "mention_html"       // mentions in a body that is not html
	CodeMentionMatch     Code = "mention_match"      // <at id> tags and mentions are not one to one
	CodeMentionText      Code = "mention_text"       // an <at> tag's text differs from its mention's mentionText
	CodeMentionUser      Code = "mention_user"       // a mention without mentioned.user.id, or one that is not an object id
	CodeMentionNotMember Code = "mention_not_member" // a mention of a user known not to be in the chat
	CodeMentionUnknown   Code = "mention_unknown"    // warning: membership of a mentioned user cannot be decided
)

// Message is a plain description of a POST /chats/{chat-id}/messages body,
// with what is known of the chat it goes to.
type Message struct {
	// ContentType is body.contentType; "" means absent, which the service
	// reads as text.
	ContentType ContentType
	// Content is body.content: plain text, or HTML for ContentHTML.
	Content string
	// Mentions are the message's mentions, in the order sent.
	Mentions []Mention

	// Members, when not nil, are the chat's members as known to the caller
	// (object ids or user principal names): a mention of someone else, or
	// a signed-in caller not among them, is then refused. Nil means the
	// members are not known and these rules are not applied.
	Members []string

	problems, warnings []Violation
	// bodyReported is true when parsing reported the body (absent or of the
	// wrong type): CheckMessage does not report it again.
	bodyReported bool
}

// Mention is one entry of a message's mentions: the user named by an
// <at id="{ID}">{Text}</at> tag of the HTML body.
type Mention struct {
	ID   int    // id, the index of the <at id> tag
	Text string // mentionText, the text enclosed in the <at> tag
	// UserID is mentioned.user.id, the user's object id; empty when the
	// mention names no user (an application, a conversation or a tag).
	UserID string
	// UserName is mentioned.user.displayName; optional.
	UserName string
}

// wireMention is a mention as sent.
type wireMention struct {
	ID          int    `json:"id"`
	MentionText string `json:"mentionText"`
	Mentioned   struct {
		User *struct {
			ID               string `json:"id"`
			DisplayName      string `json:"displayName,omitempty"`
			UserIdentityType string `json:"userIdentityType"`
		} `json:"user,omitempty"`
	} `json:"mentioned"`
}

// Size returns the bytes counted against MaxMessageBytes: the UTF-8 content
// plus the mentions as JSON. The service's own count is approximate and
// also includes reactions, which a message being sent does not have.
func (m *Message) Size() int {
	if m == nil {
		return 0
	}
	n := len(m.Content)
	if len(m.Mentions) == 0 {
		return n
	}
	wire := make([]wireMention, len(m.Mentions))
	for i, x := range m.Mentions {
		wire[i].ID, wire[i].MentionText = x.ID, x.Text
		if x.UserID != "" {
			wire[i].Mentioned.User = &struct {
				ID               string `json:"id"`
				DisplayName      string `json:"displayName,omitempty"`
				UserIdentityType string `json:"userIdentityType"`
			}{x.UserID, x.UserName, "aadUser"}
		}
	}
	b, _ := json.Marshal(wire) // plain strings and ints: cannot fail
	return n + len(b)
}

// knownMessageProps are the chatMessage properties; POST requires only body.
var knownMessageProps = []string{
	"@odata.type", "attachments", "body", "channelIdentity", "chatId", "createdDateTime", "deletedDateTime",
	"etag", "eventDetail", "from", "hostedContents", "id", "importance", "lastEditedDateTime",
	"lastModifiedDateTime", "locale", "mentions", "messageHistory", "messageType", "policyViolation",
	"reactions", "replyToId", "subject", "summary", "webUrl",
}

var (
	knownBodyProps      = []string{"@odata.type", "contentType", "content"}
	knownMentionProps   = []string{"@odata.type", "id", "mentionText", "mentioned"}
	knownMentionedProps = []string{"@odata.type", "application", "device", "user", "conversation", "tag"}
	knownIdentityProps  = []string{"@odata.type", "id", "displayName", "userIdentityType", "tenantId"}
)

// ParseSendMessage parses the exact JSON body that POST
// /chats/{chat-id}/messages receives into a Message. Problems of shape (a
// property of the wrong type, unknown properties) are kept in the Message
// and reported by CheckMessage with the rules, in input order, as are what
// encoding/json would hide: a key given twice in one object
// (duplicate_key), a key that differs from a defined property only in
// letter case (property_case) and a string that is not valid UTF-8 or holds
// an unpaired surrogate escape (invalid_text), as ParseCreateChat reports
// them. A UTF-8 byte-order mark at the start is skipped. The error is
// non-nil, a *SyntaxError, only when the input is empty, not JSON, or not a
// JSON object.
func ParseSendMessage(data []byte) (*Message, error) {
	obj, p, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	m := &Message{}
	p.known(obj, knownMessageProps, func(k string) string { return k }, "a chat message", nil)

	raw, _, ok := get(obj, "body")
	switch {
	case !ok:
		p.violate(CodeBodyMissing, "body", `missing: want "body": {"contentType": "text", "content": "..."}`)
		m.bodyReported = true
	default:
		var body map[string]json.RawMessage
		if err := json.Unmarshal(raw, &body); err != nil || body == nil {
			p.violate(CodeFieldType, "body", fmt.Sprintf("a JSON %s: want an object with contentType and content", jsonKind(raw)))
			m.bodyReported = true
			break
		}
		p.known(body, knownBodyProps, func(k string) string { return "body." + k }, "a message body", nil)
		if raw, _, ok := get(body, "contentType"); ok {
			if s, ok := p.str(raw, func() string { return "body.contentType" }); ok {
				m.ContentType = ContentType(s)
			}
		}
		if raw, _, ok := get(body, "content"); ok {
			if s, ok := p.str(raw, func() string { return "body.content" }); ok {
				m.Content = s
			} else {
				m.bodyReported = true
			}
		}
		m.bodyReported = m.bodyReported || p.reportedText(func() string { return "body.content" })
	}

	if raw, _, ok := get(obj, "mentions"); ok {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			p.violate(CodeFieldType, "mentions", fmt.Sprintf("a JSON %s: want an array of mentions", jsonKind(raw)))
		} else {
			m.Mentions = make([]Mention, 0, len(list))
			for i, r := range list {
				m.Mentions = append(m.Mentions, p.mention(i, r))
			}
		}
	}
	m.problems, m.warnings = p.violations, p.warnings
	return m, nil
}

// mention parses mentions[i].
func (p *parser) mention(i int, raw json.RawMessage) Mention {
	field := fmt.Sprintf("mentions[%d]", i)
	at := func(name string) func() string { return func() string { return field + name } }
	m := Mention{ID: -1}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		p.violate(CodeFieldType, field, fmt.Sprintf("a JSON %s: want a mention object", jsonKind(raw)))
		return m
	}
	p.known(obj, knownMentionProps, func(k string) string { return field + "." + k }, "a mention", nil)
	switch raw, _, ok := get(obj, "id"); {
	case !ok:
		p.violate(CodeMentionMatch, field+".id", `missing: want the number of the <at id="n"> tag this mention names`)
	default:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil || jsonKind(raw) != "number" {
			p.violate(CodeFieldType, field+".id", fmt.Sprintf("a JSON %s: want an integer", jsonKind(raw)))
			break
		}
		v, err := strconv.ParseInt(n.String(), 10, 32)
		if err != nil || v < 0 {
			p.violate(CodeFieldType, field+".id", fmt.Sprintf("%s: want an integer from 0 (an Int32)", n))
			break
		}
		m.ID = int(v)
	}
	if raw, _, ok := get(obj, "mentionText"); ok {
		if s, ok := p.str(raw, at(".mentionText")); ok {
			m.Text = s
		}
	}
	raw, _, ok := get(obj, "mentioned")
	if !ok {
		return m // reported by CheckMessage: no user
	}
	var mentioned map[string]json.RawMessage
	if err := json.Unmarshal(raw, &mentioned); err != nil || mentioned == nil {
		p.violate(CodeFieldType, field+".mentioned", fmt.Sprintf("a JSON %s: want an object such as {\"user\": {\"id\": \"...\"}}", jsonKind(raw)))
		return m
	}
	p.known(mentioned, knownMentionedProps, func(k string) string { return field + ".mentioned." + k }, "a mentioned identity set", nil)
	raw, _, ok = get(mentioned, "user")
	if !ok {
		return m
	}
	var user map[string]json.RawMessage
	if err := json.Unmarshal(raw, &user); err != nil || user == nil {
		p.violate(CodeFieldType, field+".mentioned.user", fmt.Sprintf("a JSON %s: want an object with the user's id", jsonKind(raw)))
		return m
	}
	p.known(user, knownIdentityProps, func(k string) string { return field + ".mentioned.user." + k }, "a user identity", nil)
	if raw, _, ok := get(user, "id"); ok {
		if s, ok := p.str(raw, at(".mentioned.user.id")); ok {
			m.UserID = s
		}
	}
	if raw, _, ok := get(user, "displayName"); ok {
		if s, ok := p.str(raw, at(".mentioned.user.displayName")); ok {
			m.UserName = s
		}
	}
	return m
}

// CheckMessage applies the send-message rules to a message and, when
// c.Grant is set, judges the grant for least privilege. It reports every
// problem at once, in the order of the body; a nil message is reported as a
// violation, not a panic. The rules:
//
//   - application permissions cannot send chat messages: the service allows
//     it only to import history (migration, Teamwork.Migrate.All); sign a
//     user in and use the delegated ChatMessage.Send (operation_not_supported);
//   - the body has content (body_missing) of type "text" or "html"
//     (content_type), valid text (invalid_text: invalid UTF-8 or control
//     characters other than tab and line breaks), at most MaxMessageBytes
//     (message_size);
//   - an html body's tags nest and close (html_malformed, a rule of this
//     package: the service sanitizes HTML, so a malformed body would be
//     shown otherwise than written);
//   - mentions need an html body (mention_html); each <at id="n"> tag has
//     exactly one mention with that id and each mention one tag
//     (mention_match); the tag encloses the mention's mentionText
//     (mention_text); a mention names a user by object id (mention_user);
//   - when m.Members is known: a mentioned user is among them
//     (mention_not_member, or mention_unknown as a warning when the names
//     cannot be compared) and, for delegated calls, so is the signed-in
//     caller (caller_missing; caller_unknown warns when no caller is given).
//
// CheckMessage never modifies m and is safe for concurrent use.
func CheckMessage(m *Message, c *Context) *Result {
	if c == nil {
		c = &Context{}
	}
	var k checker
	if m == nil {
		k.violate(CodeBodyMissing, "body", "no message given: want a body with content")
		return &Result{Violations: k.violations}
	}
	auth := c.auth()
	if v, bad := authViolation(auth, ""); bad {
		k.add(v)
	} else if auth == AuthApplication {
		k.violate(CodeOperationAuth, "", "sending a chat message with application permissions is supported only to import history "+
			"(migration mode, Teamwork.Migrate.All): sign in a user and send with the delegated permission ChatMessage.Send")
	}
	k.violations = append(k.violations, m.problems...)
	k.warnings = append(k.warnings, m.warnings...)

	isHTML := m.ContentType == ContentHTML
	switch m.ContentType {
	case "", ContentText, ContentHTML:
	default:
		msg := fmt.Sprintf("%q: want \"text\" or \"html\"", m.ContentType)
		if lower := ContentType(strings.ToLower(string(m.ContentType))); lower == ContentText || lower == ContentHTML {
			msg += " (enumeration values are case-sensitive)"
		}
		k.violate(CodeContentType, "body.contentType", msg)
	}
	switch {
	case m.bodyReported:
	case strings.TrimSpace(m.Content) == "":
		k.violate(CodeBodyMissing, "body.content", "missing or empty: a message needs content")
	case !messageText(m.Content):
		k.violate(CodeInvalidText, "body.content", textProblem(m.Content)+": the service would store another text than the one checked")
	}
	if n := m.Size(); n > MaxMessageBytes {
		k.violate(CodeMessageSize, "body.content", fmt.Sprintf("%d bytes with its mentions: a chat message holds at most about 28 KB (%d bytes); split it or send a file link", n, MaxMessageBytes))
	}
	var tags []atTag
	tagsKnown := false
	if isHTML && m.Content != "" {
		var problem string
		tags, problem = scanHTML(m.Content)
		if problem != "" {
			k.violate(CodeHTMLMalformed, "body.content", problem)
		} else {
			tagsKnown = true
		}
	}
	if len(m.Mentions) > 0 && !isHTML {
		k.violate(CodeMentionHTML, "body.contentType", fmt.Sprintf("%s with a %q body: mentions are <at id=\"n\"> tags of an html body; set contentType to \"html\"", count(len(m.Mentions), "mention"), orText(m.ContentType)))
	}
	k.mentions(m, tags, tagsKnown)
	k.messageMembers(m, c, auth)

	res := &Result{Violations: k.violations, Warnings: k.warnings}
	return res.addGrant(c, OpSendMessage, auth != AuthApplication) // application: refused above, with what to do instead
}

func orText(t ContentType) ContentType {
	if t == "" {
		return ContentText
	}
	return t
}

// mentions applies the mention rules: one tag per mention and one mention
// per tag, the tag's text, a user by object id.
func (k *checker) mentions(m *Message, tags []atTag, tagsKnown bool) {
	byID := map[int]int{} // mention id -> first index
	for i, x := range m.Mentions {
		field := fmt.Sprintf("mentions[%d]", i)
		if x.ID >= 0 {
			if j, dup := byID[x.ID]; dup {
				k.violate(CodeMentionMatch, field+".id", fmt.Sprintf("id %d is already mentions[%d]: each mention has its own id", x.ID, j))
			} else {
				byID[x.ID] = i
			}
		}
		if tagsKnown && x.ID >= 0 {
			n := 0
			for _, t := range tags {
				if t.id == strconv.Itoa(x.ID) {
					n++
					if t.text != x.Text {
						k.violate(CodeMentionText, field+".mentionText", fmt.Sprintf("%q, but the <at id=\"%d\"> tag at character %d encloses %q: the tag encloses the mention's text", x.Text, x.ID, t.at, t.text))
					}
				}
			}
			if n == 0 {
				k.violate(CodeMentionMatch, field+".id", fmt.Sprintf("no <at id=\"%d\"> tag in body.content: a mention is shown where its tag is", x.ID))
			}
		}
		switch {
		case x.UserID == "":
			k.violate(CodeMentionUser, field+".mentioned.user.id", "missing: graphchat sends mentions of users, named by object id")
		case !IsObjectID(x.UserID):
			k.violate(CodeMentionUser, field+".mentioned.user.id", fmt.Sprintf("%q: want the user's object id (GUID)", truncate(x.UserID, 200)))
		}
	}
	if !tagsKnown {
		return
	}
	seen := map[string]int{}
	for _, t := range tags {
		n, err := strconv.Atoi(t.id)
		switch {
		case err != nil || n < 0:
			k.violate(CodeMentionMatch, "body.content", fmt.Sprintf("<at> tag at character %d has id %q: want id=\"n\", the id of its mention", t.at, t.id))
			continue
		case seen[t.id] > 0:
			k.violate(CodeMentionMatch, "body.content", fmt.Sprintf("<at id=%q> at character %d repeats the tag at character %d: each mention has one tag", t.id, t.at, seen[t.id]))
			continue
		}
		seen[t.id] = t.at
		if _, ok := byID[n]; !ok {
			k.violate(CodeMentionMatch, "body.content", fmt.Sprintf("<at id=%q> at character %d has no mention with id %d: add it to mentions", t.id, t.at, n))
		}
	}
}

// messageMembers applies the rules that need the chat's members: mentioned
// users and the signed-in caller are among them.
func (k *checker) messageMembers(m *Message, c *Context, auth AuthType) {
	if m.Members == nil {
		return
	}
	ids, upns, complete := memberNames(m.Members, c.Directory)
	for i, x := range m.Mentions {
		if !IsObjectID(x.UserID) {
			continue
		}
		switch {
		case ids[strings.ToLower(x.UserID)]:
		case complete:
			k.violate(CodeMentionNotMember, fmt.Sprintf("mentions[%d].mentioned.user.id", i), fmt.Sprintf("%q is not a member of the chat: only members can be mentioned", x.UserID))
		default:
			k.warn(CodeMentionUnknown, fmt.Sprintf("mentions[%d].mentioned.user.id", i), fmt.Sprintf("%q is not among the members known by object id, and some members are known only by user principal name: cannot tell whether it is a member", x.UserID))
		}
	}
	if auth != AuthDelegated {
		return
	}
	who := c.Caller
	if u, ok := c.Directory.Lookup(who.ID); ok && who.UserPrincipalName == "" {
		who.UserPrincipalName = u.UserPrincipalName
	} else if u, ok := c.Directory.Lookup(who.UserPrincipalName); ok && who.ID == "" {
		who.ID = u.ID
	}
	switch {
	case who.IsZero():
		k.warn(CodeCallerUnknown, "", "delegated call with no caller given: cannot check that the signed-in user is a member of the chat")
	case ids[strings.ToLower(who.ID)] || upns[strings.ToLower(who.UserPrincipalName)]:
	case who.ID != "" && who.UserPrincipalName != "" || complete && who.ID != "" || allNamed(m.Members, c.Directory) && who.UserPrincipalName != "":
		k.violate(CodeCallerMissing, "", fmt.Sprintf("the signed-in user %s is not a member of the chat: only members can send messages to it", callerName(who)))
	default:
		k.warn(CodeCallerUnknown, "", fmt.Sprintf("the signed-in user %s is not among the members as they are named: give the caller's object id and user principal name to decide", callerName(who)))
	}
}

// memberNames returns the members' object ids and user principal names,
// lower-cased, with what the directory adds; complete is true when every
// member's object id is known.
func memberNames(members []string, d *Directory) (ids, upns map[string]bool, complete bool) {
	ids, upns, complete = map[string]bool{}, map[string]bool{}, true
	for _, ref := range members {
		u, _ := d.Lookup(ref)
		id, upn := u.ID, u.UserPrincipalName
		if IsObjectID(ref) {
			id = ref
		} else {
			upn = ref
		}
		if id == "" {
			complete = false
		} else {
			ids[strings.ToLower(id)] = true
		}
		if upn != "" {
			upns[strings.ToLower(upn)] = true
		}
	}
	return ids, upns, complete
}

// allNamed reports whether every member's user principal name is known.
func allNamed(members []string, d *Directory) bool {
	for _, ref := range members {
		if u, _ := d.Lookup(ref); !IsUserPrincipalName(ref) && u.UserPrincipalName == "" {
			return false
		}
	}
	return true
}

func callerName(who Caller) string {
	var names []string
	for _, s := range []string{who.ID, who.UserPrincipalName} {
		if s != "" {
			names = append(names, strconv.Quote(s))
		}
	}
	return strings.Join(names, " / ")
}

// messageText reports whether s is valid UTF-8 without control characters
// other than tab, line feed and carriage return, which messages may hold.
func messageText(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return false
		}
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
		i += n
	}
	return true
}

// atTag is an <at id="..."> element of an HTML body.
type atTag struct {
	id   string // the id attribute as written
	text string // the enclosed text, tags removed and entities decoded
	at   int    // 1-based character position of the tag
}

// voidElements have no end tag.
var voidElements = []string{"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

var idAttr = regexp.MustCompile(`(?i)(?:^|\s)id\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>` + "`" + `]+))`)

// scanHTML checks that an HTML fragment's elements nest and close, and
// returns its <at> tags; problem describes the first fault, with its
// position in characters.
func scanHTML(s string) (tags []atTag, problem string) {
	type open struct {
		name       string
		at         int // byte offset of the start tag
		contentPos int // byte offset after the start tag
		id         string
	}
	var stack []open
	for i := 0; ; {
		t, ok, problem := nextTag(s, i)
		if problem != "" {
			return nil, problem
		}
		if !ok {
			break
		}
		i = t.end
		if t.closing {
			if strings.TrimSpace(t.attrs) != "" {
				return nil, fmt.Sprintf("the end tag </%s> at character %d has attributes", t.name, charPos(s, t.at))
			}
			if len(stack) == 0 {
				return nil, fmt.Sprintf("</%s> at character %d closes no open element", t.name, charPos(s, t.at))
			}
			top := stack[len(stack)-1]
			if top.name != t.name {
				return nil, fmt.Sprintf("</%s> at character %d closes <%s>, opened at character %d: elements must nest", t.name, charPos(s, t.at), top.name, charPos(s, top.at))
			}
			stack = stack[:len(stack)-1]
			if t.name == "at" {
				tags = append(tags, atTag{id: top.id, text: innerText(s[top.contentPos:t.at]), at: charPos(s, top.at)})
			}
			continue
		}
		selfClosing := strings.HasSuffix(strings.TrimSpace(t.attrs), "/")
		id := ""
		if m := idAttr.FindStringSubmatch(strings.TrimSuffix(strings.TrimSpace(t.attrs), "/")); m != nil {
			id = html.UnescapeString(m[1] + m[2] + m[3])
		}
		switch {
		case slices.Contains(voidElements, t.name):
		case selfClosing:
			if t.name == "at" {
				tags = append(tags, atTag{id: id, at: charPos(s, t.at)})
			}
		default:
			stack = append(stack, open{name: t.name, at: t.at, contentPos: t.end, id: id})
		}
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return nil, fmt.Sprintf("<%s> at character %d is not closed", top.name, charPos(s, top.at))
	}
	return tags, ""
}

// htmlTag is a start or end tag of an HTML fragment.
type htmlTag struct {
	name    string // in lower case
	closing bool   // an end tag
	attrs   string // what is between the name and the closing '>'
	at, end int    // byte offsets of its '<' and after its '>'
}

// nextTag returns the first tag of s from byte i on, skipping text,
// comments and declarations; ok is false when there is none. problem
// describes a comment, declaration or tag that is not closed, or a "</"
// that starts no end tag.
func nextTag(s string, i int) (t htmlTag, ok bool, problem string) {
	for i < len(s) {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			break
		}
		i += j
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				return t, false, fmt.Sprintf("the comment at character %d is not closed with -->", charPos(s, i))
			}
			i += 4 + end + 3
			continue
		case strings.HasPrefix(rest, "<!") || strings.HasPrefix(rest, "<?"):
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				return t, false, fmt.Sprintf("the declaration at character %d is not closed with >", charPos(s, i))
			}
			i += end + 1
			continue
		}
		closing := strings.HasPrefix(rest, "</")
		nameStart := 1
		if closing {
			nameStart = 2
		}
		nameEnd := nameStart
		for nameEnd < len(rest) && (isAlnum(rest[nameEnd]) || rest[nameEnd] == '-' || rest[nameEnd] == ':') {
			nameEnd++
		}
		if nameEnd == nameStart || !unicode.IsLetter(rune(rest[nameStart])) {
			if closing {
				return t, false, fmt.Sprintf("\"</\" at character %d starts no end tag: write &lt; for a literal <", charPos(s, i))
			}
			i++ // a "<" that starts no tag is text
			continue
		}
		name := strings.ToLower(rest[nameStart:nameEnd])
		end := tagClose(rest, nameEnd)
		if end < 0 {
			return t, false, fmt.Sprintf("the tag <%s at character %d is not closed with >", name, charPos(s, i))
		}
		return htmlTag{name: name, closing: closing, attrs: rest[nameEnd:end], at: i, end: i + end + 1}, true, ""
	}
	return t, false, ""
}

// tagClose returns the offset of the '>' that closes a tag, from byte k
// on, outside quoted attribute values; -1 when there is none.
func tagClose(tag string, k int) int {
	quote := byte(0)
	for ; k < len(tag); k++ {
		c := tag[k]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return k
		}
	}
	return -1
}

// charPos is the position, in characters from 1, of byte i of s.
func charPos(s string, i int) int { return utf8.RuneCountInString(s[:i]) + 1 }

// innerText removes the tags of a well-formed fragment and decodes its
// character references.
func innerText(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 || i+1 == len(s) {
			b.WriteString(s)
			break
		}
		if c := s[i+1]; c != '/' && c != '!' && !unicode.IsLetter(rune(c)) {
			b.WriteString(s[:i+1]) // a "<" that starts no tag is text
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		s = s[i+j+1:]
	}
	return html.UnescapeString(b.String())
}
