package graphchattest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Limits of a chat's roster (Teams limits and specifications, chats
// section): at most MaxChatMembers people in a group chat, and
// MaxMembersAddedAtOnce added to it in one request.
const (
	MaxChatMembers        = 250
	MaxMembersAddedAtOnce = 200
)

// memberResultType is the derivative of actionResultPart that
// conversationMember: add answers for each member.
const memberResultType = "#microsoft.graph.aadUserConversationMemberResult"

// addMembers answers POST /chats/{id}/members/add (the conversationMember
// add action; also under /me/chats/{id} and /users/{u}/chats/{id}): the
// body is {"values": [conversationMember...]}, 1 to MaxMembersAddedAtOnce
// of them. A body the emulator cannot read as members is refused as a
// whole (400), as is a chat that cannot take members (one-on-one, or
// blocked under Options.ReportedAddMemberBlocked). Otherwise each member is
// added or refused on its own, in order, and the answer lists one
// aadUserConversationMemberResult a member, with error null or
// {"code","message"}: 200 when every member was added, 207 when any was
// not.
func (e *Emulator) addMembers(q *request, sc scope, id string) *response {
	if resp := e.authorize(q, opAddMember); resp != nil {
		return resp
	}
	userID, resp := e.scopeUser(q, sc)
	if resp != nil {
		return resp
	}
	_, raw, resp := e.readObject(q)
	if resp != nil {
		return resp
	}
	if k := unknownProperty(raw, []string{"values"}); k != "" {
		return e.badRequest(q, fmt.Sprintf("The parameter '%s' is not defined for the action add: want values.", k))
	}
	var values []json.RawMessage
	if err := json.Unmarshal(raw["values"], &values); err != nil || values == nil {
		return e.badRequest(q, "The parameter 'values' must be a collection of conversation members.")
	}
	if n := len(values); n == 0 || n > MaxMembersAddedAtOnce {
		return e.badRequest(q, fmt.Sprintf("The action add takes 1 to %d members at a time, found %d.", MaxMembersAddedAtOnce, n))
	}
	wires := make([]wireMember, len(values))
	since := make([]time.Time, len(values))
	for i, v := range values {
		w, msg := readMember(v)
		if msg == "" {
			since[i], msg = e.visibleSince(w)
		}
		if msg != "" {
			return e.badRequest(q, fmt.Sprintf("values[%d]: %s", i, msg))
		}
		wires[i] = w
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	c, resp := e.lookupChat(q, id, userID)
	if resp != nil {
		return resp
	}
	if resp := e.refuseAdds(q, c); resp != nil {
		return resp
	}
	results := make([]any, len(wires))
	status := http.StatusOK
	now := e.now().UTC().Truncate(time.Millisecond)
	for i, w := range wires {
		var user any
		if w.Bind != nil {
			if key, msg := parseBind(*w.Bind); msg == "" {
				user = key
			}
		}
		m, why := e.resolveMember(i, w)
		if why == nil {
			why = admit(c, m)
		}
		var errObj any
		if why != nil {
			status = http.StatusMultiStatus
			errObj = map[string]any{"code": why.code, "message": why.message}
		} else {
			user = m.UserID
			e.join(c, m, since[i], now)
		}
		results[i] = map[string]any{"@odata.type": memberResultType, "userId": user, "error": errObj}
	}
	return e.jsonResponse(status, map[string]any{
		"@odata.context": fmt.Sprintf("https://graph.microsoft.com/%s/$metadata#Collection(microsoft.graph.aadUserConversationMemberResult)", q.version),
		"value":          results,
	}, nil)
}
