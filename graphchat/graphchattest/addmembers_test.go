package graphchattest_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// The add action (POST .../members/add) adds members one by one and reports
// each: 200 when all were added, 207 when some were not, with the code of
// each refusal; bodies it cannot read, and chats that take no member, are
// refused as a whole.
func TestAddMembersAction(t *testing.T) {
	t.Parallel()
	type outcome struct {
		UserID string
		Code   string // "" when added
	}
	values := func(ms ...map[string]any) map[string]any { return map[string]any{"values": ms} }
	many := make([]map[string]any, graphchattest.MaxMembersAddedAtOnce+1)
	for i := range many {
		many[i] = member(fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), "owner")
	}
	tests := []struct {
		name     string
		path     string // after the chat id; default /members/add
		oneOnOne bool
		body     any
		status   int
		code     string    // of a whole refusal
		want     []outcome // per member
	}{
		{name: "all added", body: values(member(graphchattest.AlexID, "owner"), member("jacob@contoso.com", "owner")), status: 200,
			want: []outcome{{graphchattest.AlexID, ""}, {graphchattest.JacobID, ""}}},
		{name: "some refused", body: values(member(graphchattest.AlexID, "owner"), member("nobody@contoso.com", "owner"), member(graphchattest.LeeID, "owner"),
			member(graphchattest.AdaID, "owner"), member(graphchattest.AlexID, "owner")), status: 207,
			want: []outcome{{graphchattest.AlexID, ""}, {"nobody@contoso.com", "NotFound"}, {graphchattest.LeeID, "Conflict"},
				{graphchattest.AdaID, "BadRequest"}, {graphchattest.AlexID, "Conflict"}}},
		{name: "under /me", path: "/members/add", body: values(member(graphchattest.AlexID, "owner")), status: 200, want: []outcome{{graphchattest.AlexID, ""}}},
		{name: "empty", body: values(), status: 400, code: "BadRequest"},
		{name: "more than 200", body: values(many...), status: 400, code: "BadRequest"},
		{name: "no values", body: map[string]any{}, status: 400, code: "BadRequest"},
		{name: "unknown parameter", body: map[string]any{"Values": []any{member(graphchattest.AlexID, "owner")}}, status: 400, code: "BadRequest"},
		{name: "a value not a member", body: map[string]any{"values": []any{"alex"}}, status: 400, code: "BadRequest"},
		{name: "one-on-one", oneOnOne: true, body: values(member(graphchattest.AlexID, "owner")), status: 400, code: "BadRequest"},
		{name: "GET", path: "/members/add?get", body: nil, status: 405, code: "MethodNotAllowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t, nil)
			chat := map[string]any{"chatType": "group", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")}}
			if tt.oneOnOne {
				chat = map[string]any{"chatType": "oneOnOne", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner")}}
			}
			id := url.PathEscape(c.do("POST", "/v1.0/chats", chat).body["id"].(string))
			path := "/v1.0/chats/" + id + "/members/add"
			method := "POST"
			switch tt.path {
			case "/members/add":
				path = "/v1.0/me/chats/" + id + "/members/add"
			case "/members/add?get":
				method = "GET"
			}
			r := c.do(method, path, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %v", r.status, tt.status, r.body)
			}
			if tt.code != "" {
				if got := errorCode(t, r); got != tt.code {
					t.Errorf("code %q, want %q", got, tt.code)
				}
				if n := len(c.srv.Chats()[0].Members); n != len(chat["members"].([]any)) {
					t.Errorf("%d members after a refusal", n)
				}
				return
			}
			var got []outcome
			for _, v := range r.body["value"].([]any) {
				res := v.(map[string]any)
				if res["@odata.type"] != "#microsoft.graph.aadUserConversationMemberResult" {
					t.Errorf("result type %v", res["@odata.type"])
				}
				o := outcome{UserID: fmt.Sprint(res["userId"])}
				if e, ok := res["error"].(map[string]any); ok {
					o.Code = fmt.Sprint(e["code"])
				} else if res["error"] != nil {
					t.Errorf("error %v: want null or an object", res["error"])
				}
				got = append(got, o)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			added := 0
			for _, o := range tt.want {
				if o.Code == "" {
					added++
				}
			}
			if n := len(c.srv.Chats()[0].Members); n != 3+added {
				t.Errorf("%d members, want %d", n, 3+added)
			}
		})
	}
}

// The add action counts against the per-chat member-addition bucket, once
// a request, and follows the reported opt-in behaviour of groups of two.
func TestAddMembersActionLimits(t *testing.T) {
	t.Parallel()
	c := start(t, &graphchattest.Options{Throttle: graphchattest.Throttle{MemberAddsPerChat: 2}})
	g := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")}})
	id := url.PathEscape(g.body["id"].(string))
	users := []string{graphchattest.AlexID, graphchattest.JacobID, graphchattest.IsaiahID}
	n, r := first429(3, func(i int) result {
		return c.do("POST", "/v1.0/chats/"+id+"/members/add", map[string]any{"values": []any{member(users[i], "owner")}})
	})
	if n != 3 || errorCode(t, r) != "TooManyRequests" || r.header.Get("Retry-After") == "" {
		t.Errorf("first 429 at %d: %v %v", n, r.header, r.body)
	}

	rep := start(t, &graphchattest.Options{ReportedAddMemberBlocked: true})
	two := rep.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner")}})
	r = rep.do("POST", "/v1.0/chats/"+url.PathEscape(two.body["id"].(string))+"/members/add", map[string]any{"values": []any{member(graphchattest.AlexID, "owner")}})
	if r.status != 400 || errorCode(t, r) != "RosterAddMemberBlocked" {
		t.Errorf("group of two, reported behaviour: %d %v", r.status, r.body)
	}
}
