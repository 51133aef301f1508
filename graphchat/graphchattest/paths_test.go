package graphchattest_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// directory returns the built-in users and n more, for large chats.
func directory(n int) []graphchattest.User {
	users := graphchattest.DefaultUsers()
	for i := range n {
		users = append(users, graphchattest.User{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), UserPrincipalName: fmt.Sprintf("u%d@contoso.com", i), UserType: "Member"})
	}
	return users
}

// Every documented path of the operations served answers, under /chats,
// /me/chats and /users/{id | upn}/chats.
func TestDocumentedPaths(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	c.token = graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadWrite", "ChatMember.ReadWrite")
	g := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "topic": "Plan", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.GradyID, "owner", graphchattest.PartnerTenantID)}})
	if g.status != 201 {
		t.Fatalf("create: %d %v", g.status, g.body)
	}
	id := url.PathEscape(g.body["id"].(string))
	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1.0/chats", 200},
		{"GET", "/v1.0/me/chats", 200},
		{"GET", "/v1.0/users/" + graphchattest.MeganID + "/chats", 200},
		{"GET", "/v1.0/users/megan@contoso.com/chats", 200},
		{"GET", "/v1.0/chats/" + id, 200},
		{"GET", "/v1.0/me/chats/" + id, 200},
		{"GET", "/v1.0/users/" + graphchattest.MeganID + "/chats/" + id, 200},
		{"GET", "/v1.0/users/megan@contoso.com/chats/" + id, 200},
		{"GET", "/v1.0/chats/" + id + "/members", 200},
		{"GET", "/v1.0/me/chats/" + id + "/members", 200},
		{"GET", "/v1.0/users/" + graphchattest.MeganID + "/chats/" + id + "/members", 200},
		{"GET", "/v1.0/users/megan@contoso.com/chats/" + id + "/members", 200},
		{"GET", "/beta/me/chats/" + id + "/members", 200},
		// Another user's chats, delegated: refused.
		{"GET", "/v1.0/users/" + graphchattest.LeeID + "/chats/" + id, 403},
		// Not documented: writes under /me and /users, other methods.
		{"POST", "/v1.0/me/chats", 405},
		{"PATCH", "/v1.0/me/chats/" + id, 405},
		{"DELETE", "/v1.0/chats/" + id, 405},
		{"PUT", "/v1.0/chats/" + id + "/members", 405},
		{"GET", "/v1.0/teams", 404},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var body any
			if tt.method == "POST" || tt.method == "PATCH" || tt.method == "PUT" {
				body = map[string]any{}
			}
			r := c.do(tt.method, tt.path, body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %v", r.status, tt.status, r.body)
			}
			if r.status >= 400 {
				errorCode(t, r)
			}
		})
	}
	// A chat that is not the named user's: 404 (app-only, any user).
	c.token = graphchattest.AppToken("Chat.ReadBasic.All")
	if r := c.do("GET", "/v1.0/users/"+graphchattest.NestorID+"/chats/"+id, nil); r.status != 404 {
		t.Errorf("a chat of another user: %d", r.status)
	}
	if r := c.do("GET", "/v1.0/chats", nil); r.status != 400 {
		t.Errorf("GET /chats app-only: %d", r.status)
	}
}

// Chats and members carry the properties of the resource pages; viewpoint
// only in delegated calls; external members without displayName and email.
func TestResourceProperties(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	g := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.GradyID, "owner", graphchattest.PartnerTenantID)}})
	id := url.PathEscape(g.body["id"].(string))
	for _, k := range []string{"id", "topic", "createdDateTime", "lastUpdatedDateTime", "chatType", "webUrl", "tenantId", "isHiddenForAllMembers", "onlineMeetingInfo", "viewpoint"} {
		if _, ok := g.body[k]; !ok {
			t.Errorf("chat lacks %s", k)
		}
	}
	if vp, _ := g.body["viewpoint"].(map[string]any); vp == nil || vp["isHidden"] != false {
		t.Errorf("delegated viewpoint: %v", g.body["viewpoint"])
	}
	if g.body["onlineMeetingInfo"] != nil || g.body["isHiddenForAllMembers"] != false {
		t.Errorf("chat: %v", g.body)
	}
	c.token = graphchattest.AppToken("Chat.ReadBasic.All")
	if r := c.do("GET", "/v1.0/chats/"+id, nil); r.status != 200 || r.body["viewpoint"] != nil {
		t.Errorf("app-only viewpoint: %d %v", r.status, r.body["viewpoint"])
	}
	ms := c.do("GET", "/v1.0/chats/"+id+"/members", nil).body["value"].([]any)
	for _, x := range ms {
		m := x.(map[string]any)
		for _, k := range []string{"@odata.type", "id", "roles", "displayName", "visibleHistoryStartDateTime", "userId", "email", "tenantId"} {
			if _, ok := m[k]; !ok {
				t.Errorf("member lacks %s: %v", k, m)
			}
		}
		external := m["userId"] == graphchattest.GradyID
		if external && (m["displayName"] != nil || m["email"] != nil || m["tenantId"] != graphchattest.PartnerTenantID) {
			t.Errorf("external member: %v", m)
		}
		if !external && (m["displayName"] == nil || m["email"] == nil || m["tenantId"] != graphchattest.DefaultTenantID) {
			t.Errorf("member: %v", m)
		}
	}
}

func TestUpdateChat(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	c.token = graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadWrite")
	ms := []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")}
	g := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "topic": "Old", "members": ms})
	one := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "oneOnOne", "members": ms[:2]})
	id, oneID := url.PathEscape(g.body["id"].(string)), url.PathEscape(one.body["id"].(string))
	tests := []struct {
		name   string
		id     string
		body   string
		token  string
		status int
	}{
		{"topic", id, `{"topic":"New"}`, "", 200},
		{"250 characters", id, `{"topic":"` + strings.Repeat("é", 250) + `"}`, "", 200},
		{"251 characters", id, `{"topic":"` + strings.Repeat("é", 251) + `"}`, "", 400},
		{"colon", id, `{"topic":"a:b"}`, "", 400},
		{"one-on-one", oneID, `{"topic":"x"}`, "", 400},
		{"other property", id, `{"topic":"x","chatType":"oneOnOne"}`, "", 400},
		{"case variant", id, `{"Topic":"x"}`, "", 400},
		{"null topic", id, `{"topic":null}`, "", 400},
		{"unknown chat", "19:nope@thread.v2", `{"topic":"x"}`, "", 404},
		{"Chat.ReadBasic only", id, `{"topic":"x"}`, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadBasic"), 403},
		{"app Chat.ReadWrite.All", id, `{"topic":"By app"}`, graphchattest.AppToken("Chat.ReadWrite.All"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saved := c.token
			if tt.token != "" {
				c.token = tt.token
			}
			defer func() { c.token = saved }()
			r := c.do("PATCH", "/v1.0/chats/"+tt.id, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %v", r.status, tt.status, r.body)
			}
			if r.status == 200 && r.body["topic"] == nil {
				t.Errorf("answer: %v", r.body)
			}
			if r.status >= 400 {
				errorCode(t, r)
			}
		})
	}
	if topic := c.srv.Chats()[0].Topic; topic != "By app" {
		t.Errorf("topic %q", topic)
	}
	if r := c.do("PATCH", "/v1.0/chats/"+id, `{"topic":"x"}`, "Content-Type", ""); r.status != 400 {
		t.Errorf("no Content-Type: %d", r.status)
	}
}

// List chats applies its documented query options, refuses the others,
// and expands at most 25 members per chat.
func TestListChatsQuery(t *testing.T) {
	t.Parallel()
	c := start(t, &graphchattest.Options{Users: directory(40)})
	ms := []any{member(graphchattest.MeganID, "owner")}
	for i := range 30 {
		ms = append(ms, member(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "owner"))
	}
	if r := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "members": ms}); r.status != 201 {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	tests := []struct {
		query   string
		status  int
		members int // of the first chat, -1 when not expanded
	}{
		{"", 200, -1},
		{"$expand=members", 200, 25},
		{"$expand=members,lastMessagePreview", 200, 25},
		{"$orderby=lastMessagePreview/createdDateTime%20desc", 200, -1},
		{"$orderby=createdDateTime", 400, 0},
		{"$select=id", 400, 0},
		{"$count=true", 400, 0},
		{"$expand=installedApps", 400, 0},
		{"$top=51", 400, 0},
		{"$top=0", 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := c.do("GET", "/v1.0/me/chats?"+tt.query, nil)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %v", r.status, tt.status, r.body)
			}
			if r.status != 200 {
				errorCode(t, r)
				return
			}
			chat := r.body["value"].([]any)[0].(map[string]any)
			got := -1
			if m, ok := chat["members"].([]any); ok {
				got = len(m)
			}
			if got != tt.members {
				t.Errorf("%d members, want %d", got, tt.members)
			}
			want := strings.HasPrefix(tt.query, "$expand=") && strings.Contains(tt.query, "lastMessagePreview")
			if v, ok := chat["lastMessagePreview"]; ok != want || v != nil {
				t.Errorf("lastMessagePreview %v (present %v), want present %v and null", v, ok, want)
			}
		})
	}
	// The full roster is at /members.
	id := url.PathEscape(c.srv.Chats()[0].ID)
	if r := c.do("GET", "/v1.0/chats/"+id+"/members", nil); len(r.body["value"].([]any)) != 31 {
		t.Errorf("members: %d", len(r.body["value"].([]any)))
	}
}
