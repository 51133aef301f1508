package graphchattest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

const memberType = "#microsoft.graph.aadUserConversationMember"

type chat struct {
	ID          string
	Type        string // "oneOnOne" or "group"
	Topic       *string
	Created     time.Time
	LastUpdated time.Time
	Members     []*member
	pairKey     string // oneOnOne: the unordered pair of users
	// addsBlocked is set on groups created with two members, which the
	// service is reported to keep at two (Options.ReportedAddMemberBlocked).
	addsBlocked bool
	Apps        []*installation // installed at creation (installedApps)
}

type member struct {
	ID           string // membership id
	UserID       string
	User         *User // nil for external users not in the directory
	Roles        []string
	TenantID     string
	VisibleSince time.Time
}

// Chat is a snapshot of an emulated chat, for tests.
type Chat struct {
	ID       string
	ChatType string
	Topic    string
	Created  time.Time
	Members  []string // user ids
	Apps     []string // catalog ids of the apps installed
}

// Chats returns a snapshot of every chat, oldest first.
func (e *Emulator) Chats() []Chat {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Chat, len(e.chats))
	for i, c := range e.chats {
		out[i] = Chat{ID: c.ID, ChatType: c.Type, Created: c.Created}
		if c.Topic != nil {
			out[i].Topic = *c.Topic
		}
		for _, m := range c.Members {
			out[i].Members = append(out[i].Members, m.UserID)
		}
		for _, a := range c.Apps {
			out[i].Apps = append(out[i].Apps, a.AppID)
		}
	}
	return out
}

func (e *Emulator) findUser(ref string) *User {
	for i := range e.users {
		u := &e.users[i]
		if strings.EqualFold(u.ID, ref) || strings.EqualFold(u.UserPrincipalName, ref) {
			return u
		}
	}
	return nil
}

// bindPattern accepts the two documented forms of a user bind URL.
var bindPattern = regexp.MustCompile(`^https://(graph\.microsoft\.com|graph\.microsoft\.us|dod-graph\.microsoft\.us|microsoftgraph\.chinacloudapi\.cn)/(v1\.0|beta)/users(?:\('((?:[^']|'')+)'\)|/([^/?#']+))$`)

// parseBind returns the user key of a bind URL, unescaped, or the message
// of the 400 that refuses it.
func parseBind(s string) (key, refusal string) {
	m := bindPattern.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Sprintf("Invalid bind property value '%s': want https://graph.microsoft.com/v1.0/users('{id}')", s)
	}
	key = m[4]
	if m[3] != "" {
		key = strings.ReplaceAll(m[3], "''", "'")
	}
	key, err := url.PathUnescape(key)
	if err != nil || key == "" {
		return "", fmt.Sprintf("Invalid bind property value '%s'", s)
	}
	return key, ""
}

type wireMember struct {
	ODataType    *string  `json:"@odata.type"`
	Roles        []string `json:"roles"`
	Bind         *string  `json:"user@odata.bind"`
	TenantID     *string  `json:"tenantId"`
	VisibleSince *string  `json:"visibleHistoryStartDateTime"`
}

// readMember reads a conversationMember object; a non-empty message is the
// reason for a 400.
func readMember(data []byte) (wireMember, string) {
	var raw map[string]json.RawMessage
	var w wireMember
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return w, "Unable to read JSON request payload: a member must be a JSON object."
	}
	if k := unknownProperty(raw, memberProperties); k != "" {
		return w, unknownPropertyMessage(k, "microsoft.graph.aadUserConversationMember")
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return w, "Unable to read JSON request payload: " + err.Error()
	}
	return w, ""
}

// refusal is why one member is refused: a Graph error code (BadRequest;
// NotFound for a user the directory does not hold; Conflict for a member
// already in the chat) and a message.
type refusal struct{ code, message string }

// status is the HTTP status of admit's refusal answered on its own.
func (r *refusal) status() int {
	if r.code == "Conflict" {
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// resolveMember checks one member of a request and finds its user. A
// non-nil refusal says why it is refused.
func (e *Emulator) resolveMember(i int, w wireMember) (*member, *refusal) {
	m, msg := e.resolveMemberMessage(i, w)
	switch {
	case msg == "":
		return m, nil
	case strings.HasPrefix(msg, notFoundPrefix):
		return nil, &refusal{"NotFound", msg}
	}
	return nil, &refusal{"BadRequest", msg}
}

// notFoundPrefix starts the message of a member whose user is not in the
// directory.
const notFoundPrefix = "User not found: "

func (e *Emulator) resolveMemberMessage(i int, w wireMember) (*member, string) {
	where := fmt.Sprintf("members[%d]", i)
	if w.ODataType == nil || *w.ODataType == "" {
		return nil, "'odata.type' must be specified in the request body."
	}
	if *w.ODataType != memberType && *w.ODataType != strings.TrimPrefix(memberType, "#") {
		return nil, fmt.Sprintf("Member type '%s' is not supported: want %s.", *w.ODataType, memberType)
	}
	if w.Bind == nil {
		return nil, "'user@odata.bind' field is missing in the request."
	}
	key, refusal := parseBind(*w.Bind)
	if refusal != "" {
		return nil, refusal
	}
	if len(w.Roles) != 1 {
		return nil, fmt.Sprintf("%s must have exactly one role, 'owner' or 'guest'.", where)
	}
	role := w.Roles[0]
	if role != "owner" && role != "guest" {
		return nil, fmt.Sprintf("The passed-in role '%s' is not supported.", role)
	}
	m := &member{Roles: []string{role}}
	tenant := ""
	if w.TenantID != nil {
		tenant = *w.TenantID
	}
	if tenant != "" && !strings.EqualFold(tenant, e.tenant) {
		// An external (federated) user: found through its home tenant.
		if !isGUID(key) {
			if u := e.findUser(key); u != nil && strings.EqualFold(u.TenantID, tenant) {
				key = u.ID
			} else {
				return nil, fmt.Sprintf("External user '%s' must be referenced by object id.", key)
			}
		}
		if !isGUID(tenant) {
			return nil, fmt.Sprintf("Invalid tenantId '%s'.", tenant)
		}
		if role != "owner" {
			return nil, "External users must be added with the role 'owner'."
		}
		m.UserID, m.TenantID = strings.ToLower(key), strings.ToLower(tenant)
		if u := e.findUser(key); u != nil {
			m.User = u
		}
		return m, ""
	}
	u := e.findUser(key)
	if u == nil {
		return nil, fmt.Sprintf(notFoundPrefix+"'%s' is not in the tenant.", key)
	}
	if u.TenantID != "" && !strings.EqualFold(u.TenantID, e.tenant) {
		return nil, fmt.Sprintf("User '%s' belongs to another tenant: set its tenantId.", key)
	}
	if u.UserType == "Guest" && role != "guest" {
		return nil, "Guest users must be added with the role 'guest'."
	}
	m.User, m.UserID, m.TenantID = u, u.ID, e.tenant
	return m, ""
}

func (e *Emulator) createChat(q *request) *response {
	if resp := e.authorize(q, opCreateChat); resp != nil {
		return resp
	}
	body, raw, resp := e.readObject(q)
	if resp != nil {
		return resp
	}
	in, msg := readChatRequest(body, raw)
	if msg != "" {
		return e.badRequest(q, msg)
	}
	members, msg := e.resolveMembers(in.Members)
	if msg != "" {
		return e.badRequest(q, msg)
	}
	if c := q.claims; c != nil && !c.app() && !slices.ContainsFunc(members, func(m *member) bool { return strings.EqualFold(m.UserID, c.ObjectID) }) {
		return e.badRequest(q, "The user initiating the request must be a member of the chat.")
	}

	ch, out := e.saveChat(q, *in.ChatType, in.Topic, members)
	if ch == nil {
		return e.graphError(q, http.StatusInsufficientStorage, genericCode(http.StatusInsufficientStorage),
			fmt.Sprintf("The emulator holds its limit of %d chats (Options.MaxChats).", e.opts.MaxChats), nil)
	}

	if len(in.apps) > 0 {
		// The emulator installs at once; the operation the Location names
		// is not served (v1.0 documents no GET of a chat's operations).
		e.mu.Lock()
		for _, a := range in.apps {
			e.install(ch, a)
		}
		e.mu.Unlock()
		return &response{status: http.StatusAccepted, header: http.Header{
			"Location": {fmt.Sprintf("/chats('%s')/operations('%s')", ch.ID, newID())},
		}}
	}
	return e.jsonResponse(http.StatusCreated, out, nil)
}

// chatRequest is a POST /chats body, as far as the emulator reads it.
type chatRequest struct {
	ChatType      *string           `json:"chatType"`
	Topic         *string           `json:"topic"`
	Members       []json.RawMessage `json:"members"`
	InstalledApps []json.RawMessage `json:"installedApps"`
	apps          []*installation   // InstalledApps, read
}

// readChatRequest reads a POST /chats body (raw are its properties) and
// checks the chat's type, topic, number of members and apps; a non-empty
// message is the reason for a 400.
func readChatRequest(body []byte, raw map[string]json.RawMessage) (chatRequest, string) {
	var in chatRequest
	if k := unknownProperty(raw, chatProperties); k != "" {
		return in, unknownPropertyMessage(k, "microsoft.graph.chat")
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return in, "Unable to read JSON request payload: " + err.Error()
	}
	if in.ChatType == nil {
		return in, "Chat type must be specified."
	}
	if *in.ChatType != "oneOnOne" && *in.ChatType != "group" {
		return in, fmt.Sprintf("Chat type '%s' is not supported for creation.", *in.ChatType)
	}
	if in.Members == nil {
		return in, "Chat members cannot be null. (Parameter 'Members')"
	}
	if in.Topic != nil {
		if *in.ChatType == "oneOnOne" {
			return in, "Topic can only be set on group chats."
		}
		if msg := topicProblem(*in.Topic); msg != "" {
			return in, msg
		}
	}
	switch n := len(in.Members); {
	case *in.ChatType == "oneOnOne" && n != 2:
		return in, fmt.Sprintf("A one-on-one chat must have exactly 2 members, found %d.", n)
	case *in.ChatType == "group" && (n < 2 || n > 250):
		return in, fmt.Sprintf("A group chat must have 2 to 250 members, found %d.", n)
	}
	if len(in.InstalledApps) > 1 {
		return in, "Only one app can be installed when a chat is created."
	}
	for i, a := range in.InstalledApps {
		app, msg := readInstalledApp(i, a)
		if msg != "" {
			return in, msg
		}
		in.apps = append(in.apps, app)
	}
	return in, ""
}

// resolveMembers reads and resolves the members of a new chat, none twice;
// a non-empty message is the reason for a 400.
func (e *Emulator) resolveMembers(list []json.RawMessage) ([]*member, string) {
	members := make([]*member, 0, len(list))
	for i, rm := range list {
		w, msg := readMember(rm)
		if msg != "" {
			return nil, msg
		}
		m, why := e.resolveMember(i, w)
		if why != nil {
			return nil, why.message
		}
		for _, prev := range members {
			if prev.UserID == m.UserID {
				return nil, fmt.Sprintf("User '%s' is listed more than once.", m.UserID)
			}
		}
		members = append(members, m)
	}
	return members, ""
}

// saveChat stores a new chat, or finds the one-on-one chat of the same
// pair, and renders it. It returns a nil chat when a new chat is refused
// because of MaxChats.
func (e *Emulator) saveChat(q *request, chatType string, topic *string, members []*member) (*chat, map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now().UTC().Truncate(time.Millisecond)
	var ch *chat
	if chatType == "oneOnOne" {
		ids := []string{strings.ToLower(members[0].UserID), strings.ToLower(members[1].UserID)}
		sort.Strings(ids)
		key := ids[0] + "_" + ids[1]
		ch = e.byPair[key] // the service returns the existing one-on-one chat
		if ch == nil {
			ch = &chat{ID: "19:" + key + "@unq.gbl.spaces", Type: "oneOnOne", Created: now, LastUpdated: now, pairKey: key}
		}
	} else {
		var b [16]byte
		rand.Read(b[:])
		ch = &chat{ID: "19:" + hex.EncodeToString(b[:]) + "@thread.v2", Type: "group", Topic: topic, Created: now, LastUpdated: now, addsBlocked: len(members) == 2}
	}
	if _, exists := e.byID[ch.ID]; !exists {
		if e.full() && !e.opts.ForgetOldChats {
			e.stats.ChatsRefused++
			return nil, nil
		}
		for _, m := range members {
			m.ID = membershipID(e.tenant, ch.ID, m.UserID)
			m.VisibleSince = time.Time{}
		}
		ch.Members = members
		e.store(ch)
	}
	return ch, e.chatJSON(q, ch, view{entity: true})
}

// full reports whether the emulator holds MaxChats chats; the caller holds
// e.mu.
func (e *Emulator) full() bool {
	return e.opts.MaxChats > 0 && len(e.chats) >= e.opts.MaxChats
}

// store adds a new chat, forgetting the oldest when the emulator is full
// (ForgetOldChats; saveChat refuses otherwise); the caller holds e.mu.
func (e *Emulator) store(ch *chat) {
	if e.full() {
		old := e.chats[0]
		e.chats[0] = nil
		e.chats = e.chats[1:]
		delete(e.byID, old.ID)
		if old.pairKey != "" {
			delete(e.byPair, old.pairKey)
		}
		e.stats.ChatsEvicted++
	}
	e.chats = append(e.chats, ch)
	e.byID[ch.ID] = ch
	if ch.pairKey != "" {
		e.byPair[ch.pairKey] = ch
	}
}

func membershipID(tenant, chatID, userID string) string {
	return base64.StdEncoding.EncodeToString([]byte("1#" + tenant + "#" + chatID + "#" + userID))
}

// view says how a chat is rendered.
type view struct {
	entity             bool // a single entity, with its @odata.context
	members            bool // $expand=members
	memberLimit        int  // at most this many expanded members when positive
	lastMessagePreview bool // $expand=lastMessagePreview
}

// chatJSON renders a chat with the properties of the chat resource; the
// caller holds e.mu. viewpoint is populated only in delegated calls, as the
// resource page says, with the caller's lastMessageReadDateTime: the time of
// the last message the caller posted in the chat (the emulator's reading:
// a sender has read the chat up to its own message; other users' reading
// is not emulated), null before. onlineMeetingInfo is null (no chat here
// comes from a meeting); lastMessagePreview, when expanded, is the chat's
// last message as a chatMessageInfo, null when none was sent.
// lastUpdatedDateTime does not move with messages: the resource documents
// it as the time of the last rename or change of members.
func (e *Emulator) chatJSON(q *request, c *chat, v view) map[string]any {
	var topic any
	if c.Topic != nil {
		topic = *c.Topic
	}
	out := map[string]any{
		"id":                    c.ID,
		"topic":                 topic,
		"createdDateTime":       formatTime(c.Created),
		"lastUpdatedDateTime":   formatTime(c.LastUpdated),
		"chatType":              c.Type,
		"webUrl":                fmt.Sprintf("https://teams.microsoft.com/l/chat/%s/0?tenantId=%s", url.PathEscape(c.ID), e.tenant),
		"tenantId":              e.tenant,
		"isHiddenForAllMembers": false,
		"onlineMeetingInfo":     nil,
		"viewpoint":             nil,
	}
	if v.entity {
		out["@odata.context"] = fmt.Sprintf("https://graph.microsoft.com/%s/$metadata#chats/$entity", q.version)
	}
	if cl := q.claims; cl != nil && !cl.app() {
		out["viewpoint"] = map[string]any{"isHidden": false, "lastMessageReadDateTime": e.lastRead(c, cl.ObjectID)}
	}
	if v.members {
		ms := []any{}
		for _, m := range c.Members {
			if v.memberLimit > 0 && len(ms) == v.memberLimit {
				break
			}
			ms = append(ms, e.memberJSON(m))
		}
		out["members"] = ms
	}
	if v.lastMessagePreview {
		out["lastMessagePreview"] = nil
		if m := e.lastMessage(c); m != nil {
			out["lastMessagePreview"] = messageInfoJSON(m)
		}
	}
	return out
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// memberJSON renders an aadUserConversationMember. External (federated)
// members come back without displayName and email, as the service answers.
func (e *Emulator) memberJSON(m *member) map[string]any {
	out := map[string]any{
		"@odata.type":                 memberType,
		"id":                          m.ID,
		"roles":                       m.Roles,
		"displayName":                 nil,
		"visibleHistoryStartDateTime": formatTime(m.VisibleSince),
		"userId":                      m.UserID,
		"email":                       nil,
		"tenantId":                    m.TenantID,
	}
	if m.User != nil && strings.EqualFold(m.TenantID, e.tenant) {
		out["displayName"] = m.User.DisplayName
		out["email"] = m.User.Mail
	}
	return out
}

// lookupChat finds a chat the caller may see; the caller holds e.mu. With
// a user (from /me or /users/{u}), the chat must be one of that user's.
func (e *Emulator) lookupChat(q *request, id, userID string) (*chat, *response) {
	c := e.byID[id]
	if c == nil || userID != "" && !c.hasMember(userID) {
		return nil, e.graphError(q, http.StatusNotFound, "NotFound", fmt.Sprintf("Chat '%s' was not found.", id), nil)
	}
	if cl := q.claims; cl != nil && !cl.app() && !c.hasMember(cl.ObjectID) {
		return nil, e.graphError(q, http.StatusForbidden, "Forbidden", "The signed-in user is not a member of the chat.", nil)
	}
	return c, nil
}

func (c *chat) hasMember(userID string) bool {
	return slices.ContainsFunc(c.Members, func(m *member) bool { return strings.EqualFold(m.UserID, userID) })
}

// onChat authorizes an operation on a chat, then answers withChat.
func (e *Emulator) onChat(q *request, op operation, sc scope, id string, answer func(c *chat) *response) *response {
	if resp := e.authorize(q, op); resp != nil {
		return resp
	}
	return e.withChat(q, sc, id, answer)
}

// withChat finds the chat a path names in its scope (scopeUser and
// lookupChat) and answers with answer, holding e.mu.
func (e *Emulator) withChat(q *request, sc scope, id string, answer func(c *chat) *response) *response {
	userID, resp := e.scopeUser(q, sc)
	if resp != nil {
		return resp
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, resp := e.lookupChat(q, id, userID)
	if resp != nil {
		return resp
	}
	return answer(c)
}

func (e *Emulator) getChat(q *request, sc scope, id string) *response {
	return e.onChat(q, opGetChat, sc, id, func(c *chat) *response {
		return e.jsonResponse(http.StatusOK, e.chatJSON(q, c, view{entity: true, members: strings.Contains(q.r.URL.Query().Get("$expand"), "members")}), nil)
	})
}

func (e *Emulator) listMembers(q *request, sc scope, id string) *response {
	return e.onChat(q, opListMembers, sc, id, func(c *chat) *response {
		values := make([]any, len(c.Members))
		for i, m := range c.Members {
			values[i] = e.memberJSON(m)
		}
		return e.jsonResponse(http.StatusOK, map[string]any{
			"@odata.context": fmt.Sprintf("https://graph.microsoft.com/%s/$metadata#chats('%s')/members", q.version, c.ID),
			"@odata.count":   len(values),
			"value":          values,
		}, nil)
	})
}

// updateChat answers PATCH /chats/{id}: the topic of a group chat, at most
// 250 characters without ':' (chat-patch).
func (e *Emulator) updateChat(q *request, id string) *response {
	if resp := e.authorize(q, opUpdateChat); resp != nil {
		return resp
	}
	_, raw, resp := e.readObject(q)
	if resp != nil {
		return resp
	}
	if k := unknownProperty(raw, chatProperties); k != "" {
		return e.badRequest(q, unknownPropertyMessage(k, "microsoft.graph.chat"))
	}
	for k := range raw {
		if k != "topic" && k != "@odata.type" {
			return e.badRequest(q, fmt.Sprintf("The property '%s' cannot be updated: only topic can.", k))
		}
	}
	var topic *string
	if err := json.Unmarshal(raw["topic"], &topic); err != nil || topic == nil {
		return e.badRequest(q, "The topic must be a string.")
	}
	if msg := topicProblem(*topic); msg != "" {
		return e.badRequest(q, msg)
	}
	return e.withChat(q, scope{kind: "chats"}, id, func(c *chat) *response {
		if c.Type != "group" {
			return e.badRequest(q, "Topic can only be set on group chats.")
		}
		c.Topic = topic
		c.LastUpdated = e.now().UTC().Truncate(time.Millisecond)
		return e.jsonResponse(http.StatusOK, e.chatJSON(q, c, view{entity: true}), nil)
	})
}

// topicProblem returns why a topic is refused, or "": at most 250
// characters, no ':' (chat-post and chat-patch).
func topicProblem(t string) string {
	if n := utf8.RuneCountInString(t); n > 250 {
		return fmt.Sprintf("Topic length %d exceeds the limit of 250.", n)
	}
	if strings.Contains(t, ":") {
		return "Topic cannot contain ':'."
	}
	return ""
}

func (e *Emulator) addMember(q *request, id string) *response {
	if resp := e.authorize(q, opAddMember); resp != nil {
		return resp
	}
	body, resp := e.readBody(q)
	if resp != nil {
		return resp
	}
	w, msg := readMember(body)
	if msg != "" {
		return e.badRequest(q, msg)
	}
	m, why := e.resolveMember(0, w)
	if why != nil {
		return e.badRequest(q, why.message)
	}
	since, msg := e.visibleSince(w)
	if msg != "" {
		return e.badRequest(q, msg)
	}
	return e.withChat(q, scope{kind: "chats"}, id, func(c *chat) *response {
		if resp := e.refuseAdds(q, c); resp != nil {
			return resp
		}
		if why := admit(c, m); why != nil {
			return e.graphError(q, why.status(), why.code, why.message, nil)
		}
		e.join(c, m, since, e.now().UTC().Truncate(time.Millisecond))
		return &response{status: http.StatusCreated, header: http.Header{
			"Location": {fmt.Sprintf("/chats('%s')/members('%s')", c.ID, m.ID)},
		}}
	})
}

// refuseAdds answers why no member can be added to a chat (a one-on-one
// chat, or one blocked under Options.ReportedAddMemberBlocked), or nil; the
// caller holds e.mu.
func (e *Emulator) refuseAdds(q *request, c *chat) *response {
	if c.Type != "group" {
		return e.badRequest(q, "Members cannot be added to a one-on-one chat.")
	}
	if c.addsBlocked && e.opts.ReportedAddMemberBlocked {
		return e.graphError(q, http.StatusBadRequest, "RosterAddMemberBlocked", "Adding members to this chat is blocked: it was created with two members.", nil)
	}
	return nil
}

// admit returns why a resolved member cannot join a chat (already a member,
// or the chat is full), or nil; the caller holds e.mu.
func admit(c *chat, m *member) *refusal {
	switch {
	case c.hasMember(m.UserID):
		return &refusal{"Conflict", fmt.Sprintf("User '%s' is already a member of the chat.", m.UserID)}
	case len(c.Members) >= MaxChatMembers:
		return &refusal{"BadRequest", fmt.Sprintf("The chat already has %d members.", MaxChatMembers)}
	}
	return nil
}

// join adds a member to a chat, seeing its history since the given time;
// the caller holds e.mu.
func (e *Emulator) join(c *chat, m *member, since, now time.Time) {
	m.ID = membershipID(e.tenant, c.ID, m.UserID)
	m.VisibleSince = since
	c.Members = append(c.Members, m)
	c.LastUpdated = now
}

// visibleSince reads a member's visibleHistoryStartDateTime: now when it
// is absent; a non-empty message is the reason for a 400.
func (e *Emulator) visibleSince(w wireMember) (time.Time, string) {
	if w.VisibleSince == nil {
		return e.now().UTC(), ""
	}
	t, err := time.Parse(time.RFC3339Nano, *w.VisibleSince)
	if err != nil {
		return time.Time{}, fmt.Sprintf("Invalid visibleHistoryStartDateTime '%s'.", *w.VisibleSince)
	}
	return t, ""
}

func (e *Emulator) removeMember(q *request, id, membership string) *response {
	return e.onChat(q, opRemoveMember, scope{kind: "chats"}, id, func(c *chat) *response {
		if c.Type != "group" {
			return e.badRequest(q, "Members cannot be removed from a one-on-one chat.")
		}
		i := slices.IndexFunc(c.Members, func(m *member) bool { return m.ID == membership })
		if i < 0 {
			return e.graphError(q, http.StatusNotFound, "NotFound", fmt.Sprintf("Membership '%s' was not found.", membership), nil)
		}
		c.Members = slices.Delete(c.Members, i, i+1)
		c.LastUpdated = e.now().UTC().Truncate(time.Millisecond)
		return &response{status: http.StatusNoContent}
	})
}

func (e *Emulator) getUser(q *request, ref string) *response {
	if resp := e.authorize(q, opGetUser); resp != nil {
		return resp
	}
	e.mu.Lock()
	u := e.findUser(ref)
	e.mu.Unlock()
	if u == nil || (u.TenantID != "" && !strings.EqualFold(u.TenantID, e.tenant)) {
		// The directory's own code, as answers captured from the service
		// show it (pnp/cli-microsoft365's tests of user get), not NotFound.
		return e.graphError(q, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", ref), nil)
	}
	full := map[string]any{"id": u.ID, "userPrincipalName": u.UserPrincipalName, "displayName": u.DisplayName, "mail": u.Mail, "userType": u.UserType}
	if c := q.claims; c != nil {
		self := !c.app() && strings.EqualFold(c.ObjectID, u.ID)
		fullProfile := c.holds("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All") ||
			self && c.holds("User.Read", "User.ReadWrite")
		switch {
		case fullProfile:
		case !c.app() && c.holds("User.ReadBasic.All"):
			delete(full, "userType") // the basic profile has no userType
		default: // User.Read and User.ReadWrite read the signed-in user only
			return e.graphError(q, http.StatusForbidden, "Forbidden", "Insufficient privileges to complete the operation.", nil)
		}
	}
	out := map[string]any{"@odata.context": fmt.Sprintf("https://graph.microsoft.com/%s/$metadata#users/$entity", q.version)}
	if sel := q.r.URL.Query().Get("$select"); sel != "" {
		for _, f := range strings.Split(sel, ",") {
			if v, ok := full[strings.TrimSpace(f)]; ok {
				out[strings.TrimSpace(f)] = v
			}
		}
	} else {
		for k, v := range full {
			out[k] = v
		}
	}
	return e.jsonResponse(http.StatusOK, out, nil)
}

// filterClause matches the $filter clauses chatType eq '...' and
// topic eq '...'; with appsClause, they are joined by "and".
var filterClause = regexp.MustCompile(`^\s*(chatType|topic)\s+eq\s+'((?:[^']|'')*)'\s*$`)

// appsClause matches the documented filter on installed apps:
// installedApps/any(a:a/teamsApp/id eq '...'), with any name for the
// lambda variable.
var appsClause = regexp.MustCompile(`^\s*installedApps/any\(\s*(\w+)\s*:\s*(\w+)/teamsApp/id\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$`)

// orderBy is the one $orderby list chats supports.
var orderBy = regexp.MustCompile(`^\s*lastMessagePreview/createdDateTime\s+desc\s*$`)

// Limits of list chats (chat-list): $top at most 50; with $expand=members
// the service returns at most 25 members of each chat (a known issue the
// page documents).
const (
	maxListTop      = 50
	maxExpandMember = 25
)

// listChats answers GET /chats and /me/chats (the signed-in user's chats,
// delegated) and /users/{u}/chats. It applies the documented query options
// ($filter on chatType, topic and installed apps, $expand of members and
// lastMessagePreview, $top, $orderby=lastMessagePreview/createdDateTime
// desc) and refuses the others, which the page says are not supported.
func (e *Emulator) listChats(q *request, sc scope) *response {
	if resp := e.authorize(q, opListChats); resp != nil {
		return resp
	}
	if sc.kind == "chats" {
		if q.claims != nil && q.claims.app() {
			return e.badRequest(q, "GET /chats lists the signed-in user's chats: with application permissions use /users/{id}/chats.")
		}
		sc.kind = "me"
	}
	userID, resp := e.scopeUser(q, sc)
	if resp != nil {
		return resp
	}
	cq, msg := readChatQuery(q.r.URL.Query())
	if msg != "" {
		return e.badRequest(q, msg)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	matched := e.matchChats(userID, cq)
	out := cq.page.collection(q, fmt.Sprintf("https://graph.microsoft.com/%s/$metadata#chats", q.version), len(matched),
		func(i int) any { return e.chatJSON(q, matched[i], cq.view) })
	return e.jsonResponse(http.StatusOK, out, nil)
}

// chatQuery is what the query options of list chats ask for.
type chatQuery struct {
	conds         map[string]string // $filter: property to the value it must equal
	byLastMessage bool              // $orderby=lastMessagePreview/createdDateTime desc
	view          view              // $expand
	page          page              // $top and $skiptoken
}

// readChatQuery reads the query options of list chats; a non-empty message
// is the reason for a 400.
func readChatQuery(query url.Values) (chatQuery, string) {
	cq := chatQuery{conds: map[string]string{}}
	for k := range query {
		switch k {
		case "$filter", "$expand", "$top", "$orderby", "$skiptoken":
		default:
			if strings.HasPrefix(k, "$") {
				return cq, fmt.Sprintf("The query parameter '%s' is not supported by list chats.", k)
			}
		}
	}
	if f := query.Get("$filter"); f != "" {
		for _, clause := range strings.Split(f, " and ") {
			if a := appsClause.FindStringSubmatch(clause); a != nil && a[1] == a[2] {
				cq.conds["installedApps"] = strings.ReplaceAll(a[3], "''", "'")
				continue
			}
			m := filterClause.FindStringSubmatch(clause)
			if m == nil {
				return cq, fmt.Sprintf("Unsupported $filter clause '%s'.", strings.TrimSpace(clause))
			}
			cq.conds[m[1]] = strings.ReplaceAll(m[2], "''", "'")
		}
	}
	var msg string
	if cq.page, msg = readPage(query, maxListTop); msg != "" {
		return cq, msg
	}
	if o := query.Get("$orderby"); o != "" {
		if !orderBy.MatchString(o) {
			return cq, "$orderby supports only lastMessagePreview/createdDateTime desc."
		}
		cq.byLastMessage = true
	}
	if x := query.Get("$expand"); x != "" {
		for _, p := range strings.Split(x, ",") {
			switch strings.TrimSpace(p) {
			case "members":
				cq.view.members, cq.view.memberLimit = true, maxExpandMember
			case "lastMessagePreview":
				cq.view.lastMessagePreview = true
			default:
				return cq, fmt.Sprintf("$expand supports members and lastMessagePreview, not '%s'.", strings.TrimSpace(p))
			}
		}
	}
	return cq, ""
}

// matchChats returns a user's chats that match a query, in its order: most
// recently created first, or by last message; the caller holds e.mu.
func (e *Emulator) matchChats(userID string, cq chatQuery) []*chat {
	var matched []*chat
	for i := len(e.chats) - 1; i >= 0; i-- { // most recently created first
		c := e.chats[i]
		if !c.hasMember(userID) {
			continue
		}
		if t, ok := cq.conds["chatType"]; ok && c.Type != t {
			continue
		}
		if t, ok := cq.conds["topic"]; ok && (c.Topic == nil || *c.Topic != t) {
			continue
		}
		if a, ok := cq.conds["installedApps"]; ok && !slices.ContainsFunc(c.Apps, func(in *installation) bool { return strings.EqualFold(in.AppID, a) }) {
			continue
		}
		matched = append(matched, c)
	}
	if cq.byLastMessage {
		// Most recent message first; chats without a message last, most
		// recently created first (the page does not say where they go).
		slices.SortStableFunc(matched, func(a, b *chat) int {
			ma, mb := e.lastMessage(a), e.lastMessage(b)
			switch {
			case ma == nil && mb == nil:
				return 0
			case ma == nil:
				return 1
			case mb == nil:
				return -1
			}
			return mb.Created.Compare(ma.Created)
		})
	}
	return matched
}
