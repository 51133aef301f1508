package graphchattest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// scope says whose chats a path names: any chat (/chats/{id}), the
// signed-in user's (/me/chats) or a user's (/users/{id | upn}/chats).
type scope struct {
	kind string // "chats", "me" or "users"
	user string // the user's id or principal name, for "users"
}

// dispatch routes a request by the documented paths of Microsoft Graph:
//
//	POST   /$batch
//	POST   /chats                          create a chat
//	GET    /chats, /me/chats, /users/{u}/chats                 list chats
//	GET    /chats/{id}, /me/chats/{id}, /users/{u}/chats/{id}  get a chat
//	PATCH  /chats/{id}                     update the topic
//	GET    /chats/{id}/members (and under /me/chats/{id}, /users/{u}/chats/{id})
//	POST   /chats/{id}/members             add a member
//	POST   /chats/{id}/members/add         add members (and under /me/chats/{id}, /users/{u}/chats/{id})
//	DELETE /chats/{id}/members/{membership-id}
//	GET    /chats/{id}/installedApps, /chats/{id}/installedApps/{installation-id}
//	GET    /users/{u}
//
// A path of these with another method is answered 405.
func (e *Emulator) dispatch(q *request) *response {
	raw := strings.Split(strings.Trim(q.r.URL.EscapedPath(), "/"), "/")[1:] // without the version
	seg := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return e.badRequest(q, fmt.Sprintf("Invalid escape in the URL segment '%s'.", s))
		}
		seg[i] = u
	}
	m := q.r.Method
	n := len(seg)
	at := func(i int) string {
		if i < n {
			return seg[i]
		}
		return ""
	}
	// The chat part of the path, after its scope.
	var sc scope
	var rest []string
	switch {
	case at(0) == "chats":
		sc, rest = scope{kind: "chats"}, seg[1:]
	case at(0) == "me" && at(1) == "chats":
		sc, rest = scope{kind: "me"}, seg[2:]
	case at(0) == "users" && at(2) == "chats" && n >= 3:
		sc, rest = scope{kind: "users", user: seg[1]}, seg[3:]
	}
	allow := ""
	switch {
	case n == 1 && at(0) == "$batch" && !q.batch:
		if m == http.MethodPost {
			return e.batch(q)
		}
		allow = "POST"
	case n == 2 && at(0) == "users":
		if m == http.MethodGet {
			return e.throttled(q, classRead, "", "", func() *response { return e.getUser(q, seg[1]) })
		}
		allow = "GET"
	case sc.kind != "" && len(rest) == 0:
		switch {
		case m == http.MethodGet:
			return e.throttled(q, classList, "", e.listUser(q, sc), func() *response { return e.listChats(q, sc) })
		case m == http.MethodPost && sc.kind == "chats":
			return e.throttled(q, classRead, "", "", func() *response { return e.createChat(q) })
		}
		allow = "GET"
	case sc.kind != "" && len(rest) == 1 && rest[0] != "":
		switch {
		case m == http.MethodGet:
			return e.throttled(q, classList, "", e.listUser(q, sc), func() *response { return e.getChat(q, sc, rest[0]) })
		case m == http.MethodPatch && sc.kind == "chats":
			return e.throttled(q, classWrite, rest[0], "", func() *response { return e.updateChat(q, rest[0]) })
		}
		allow = "GET"
	case sc.kind != "" && len(rest) == 2 && rest[1] == "members":
		switch {
		case m == http.MethodGet:
			return e.throttled(q, classRead, "", "", func() *response { return e.listMembers(q, sc, rest[0]) })
		case m == http.MethodPost && sc.kind == "chats":
			return e.throttled(q, classAddMember, rest[0], "", func() *response { return e.addMember(q, rest[0]) })
		}
		allow = "GET"
	case sc.kind != "" && len(rest) == 3 && rest[1] == "members" && rest[2] == "add":
		if m == http.MethodPost {
			return e.throttled(q, classAddMember, rest[0], "", func() *response { return e.addMembers(q, sc, rest[0]) })
		}
		allow = "POST"
	case sc.kind == "chats" && len(rest) == 2 && rest[1] == "installedApps":
		if m == http.MethodGet {
			return e.throttled(q, classRead, "", "", func() *response { return e.listInstalledApps(q, rest[0]) })
		}
		allow = "GET"
	case sc.kind == "chats" && len(rest) == 3 && rest[1] == "installedApps" && rest[2] != "":
		if m == http.MethodGet {
			return e.throttled(q, classRead, "", "", func() *response { return e.getInstalledApp(q, rest[0], rest[2]) })
		}
		allow = "GET"
	case sc.kind == "chats" && len(rest) == 3 && rest[1] == "members":
		if m == http.MethodDelete {
			return e.throttled(q, classWrite, rest[0], "", func() *response { return e.removeMember(q, rest[0], rest[2]) })
		}
		allow = "DELETE"
	}
	if allow != "" {
		return e.graphError(q, http.StatusMethodNotAllowed, genericCode(http.StatusMethodNotAllowed),
			fmt.Sprintf("The HTTP method %s is not allowed on %s.", m, q.path), http.Header{"Allow": {allow}})
	}
	first := at(0)
	return e.graphError(q, http.StatusNotFound, "NotFound", fmt.Sprintf("Resource not found for the segment '%s'.", first), nil)
}

// scopeUser resolves the user a scope names: "" for /chats/{id}, the
// signed-in user for /me, the directory's user for /users/{u}. A delegated
// call may name only the signed-in user.
func (e *Emulator) scopeUser(q *request, sc scope) (string, *response) {
	c := q.claims
	switch sc.kind {
	case "me":
		if c == nil || c.app() {
			return "", e.badRequest(q, "/me request is only valid with delegated authentication flow.")
		}
		return c.ObjectID, nil
	case "users":
		e.mu.Lock()
		u := e.findUser(sc.user)
		e.mu.Unlock()
		if u == nil {
			return "", e.graphError(q, http.StatusNotFound, "NotFound", fmt.Sprintf("User '%s' was not found.", sc.user), nil)
		}
		if c != nil && !c.app() && !strings.EqualFold(c.ObjectID, u.ID) {
			return "", e.graphError(q, http.StatusForbidden, "Forbidden", "A delegated call can reach only the signed-in user's chats.", nil)
		}
		return u.ID, nil
	}
	return "", nil
}

// listUser is the user whose listing a request counts against: the named
// user, or the signed-in one.
func (e *Emulator) listUser(q *request, sc scope) string {
	if sc.kind == "users" {
		e.mu.Lock()
		defer e.mu.Unlock()
		if u := e.findUser(sc.user); u != nil {
			return u.ID
		}
		return sc.user
	}
	if q.claims != nil {
		return q.claims.ObjectID
	}
	return ""
}
