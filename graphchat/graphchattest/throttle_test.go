package graphchattest_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"testing"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// Each throttling bucket refuses the request past its limit with 429,
// Retry-After and TooManyRequests, and counts only what it applies to.
func TestThrottleBuckets(t *testing.T) {
	t.Parallel()
	group := map[string]any{"chatType": "group", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")}}
	tests := []struct {
		name     string
		throttle graphchattest.Throttle
		// run sends requests and returns the 1-based index of the first 429
		// (0 when none) and that answer.
		run  func(c *client, chatID string) (int, result)
		want int
	}{
		{"per app", graphchattest.Throttle{PerApp: 3}, func(c *client, _ string) (int, result) {
			return first429(10, func(int) result { return c.do("GET", "/v1.0/users/lee@contoso.com", nil) })
		}, 3}, // the chat created first counts too
		{"per user listing", graphchattest.Throttle{PerUserList: 2}, func(c *client, id string) (int, result) {
			return first429(10, func(i int) result {
				if i%2 == 0 {
					return c.do("GET", "/v1.0/me/chats", nil)
				}
				return c.do("GET", "/v1.0/chats/"+id, nil)
			})
		}, 3},
		{"listing does not count other calls", graphchattest.Throttle{PerUserList: 2}, func(c *client, id string) (int, result) {
			return first429(10, func(int) result { return c.do("GET", "/v1.0/chats/"+id+"/members", nil) })
		}, 0},
		{"member additions per chat", graphchattest.Throttle{MemberAddsPerChat: 4}, func(c *client, id string) (int, result) {
			users := []string{graphchattest.AlexID, graphchattest.JacobID, graphchattest.IsaiahID, graphchattest.JohannaID, graphchattest.PatID}
			return first429(5, func(i int) result { return c.do("POST", "/v1.0/chats/"+id+"/members", member(users[i], "owner")) })
		}, 5},
		{"writes per chat", graphchattest.Throttle{WritesPerChat: 1}, func(c *client, id string) (int, result) {
			return first429(3, func(i int) result { return c.do("PATCH", "/v1.0/chats/"+id, map[string]any{"topic": strconv.Itoa(i)}) })
		}, 2},
		{"messages count per app", graphchattest.Throttle{PerApp: 6}, func(c *client, _ string) (int, result) {
			// One message in each of three chats: the limit per user in a
			// chat does not apply, the app's bucket does (4 requests made).
			ids := []string{c.group(), c.group(), c.group()}
			return first429(3, func(i int) result {
				return c.do("POST", messagesPath(ids[i]), map[string]any{"body": map[string]any{"content": "hi"}})
			})
		}, 3},
		{"documented limits, one listing burst", graphchattest.DocumentedThrottle, func(c *client, _ string) (int, result) {
			return first429(10, func(int) result { return c.do("GET", "/v1.0/me/chats", nil) })
		}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t, &graphchattest.Options{Throttle: tt.throttle})
			c.token = graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadWrite", "ChatMember.ReadWrite", "User.Read.All", "ChatMessage.Send")
			g := c.do("POST", "/v1.0/chats", group)
			if g.status != 201 && tt.throttle.PerApp == 0 {
				t.Fatalf("create: %d", g.status)
			}
			id := url.PathEscape(c.srv.Chats()[0].ID)
			n, r := tt.run(c, id)
			if n != tt.want {
				t.Fatalf("first 429 at request %d, want %d", n, tt.want)
			}
			if n > 0 && (errorCode(t, r) != "TooManyRequests" || r.header.Get("Retry-After") == "") {
				t.Errorf("429 answer: %v %v", r.header, r.body)
			}
		})
	}
}

func first429(n int, send func(int) result) (int, result) {
	for i := range n {
		if r := send(i); r.status == 429 {
			return i + 1, r
		} else if r.status >= 400 {
			return -r.status, r
		}
	}
	return 0, result{}
}

// Batch validation per JSON batching: the batch is refused 400 for a
// malformed envelope; items are answered after their dependencies.
func TestBatchValidation(t *testing.T) {
	t.Parallel()
	get := func(id, u string, dep ...string) map[string]any {
		return map[string]any{"id": id, "method": "GET", "url": u, "dependsOn": dep}
	}
	tests := []struct {
		name     string
		requests []any
		status   int
		items    string // id:status of each answer, in request order
	}{
		{"ok", []any{get("1", "/me/chats"), get("2", "me/chats")}, 200, "1:200 2:200"},
		{"absolute url", []any{get("1", "https://graph.microsoft.com/v1.0/me/chats")}, 200, "1:400"},
		{"depends on a later request", []any{get("1", "/me/chats", "2"), get("2", "/users/nobody@contoso.com")}, 200, "1:424 2:404"},
		{"depends on an unknown id", []any{get("1", "/me/chats", "9")}, 400, ""},
		{"cycle", []any{get("1", "/me/chats", "2"), get("2", "/me/chats", "1")}, 400, ""},
		{"no url", []any{get("1", "")}, 400, ""},
		{"no id", []any{get("", "/me/chats")}, 400, ""},
		{"duplicate ids", []any{get("1", "/me/chats"), get("1", "/me/chats")}, 400, ""},
		{"body without Content-Type", []any{map[string]any{"id": "1", "method": "PATCH", "url": "/chats/x", "body": map[string]any{"topic": "x"}}}, 400, ""},
		{"empty", []any{}, 400, ""},
	}
	c := start(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do("POST", "/v1.0/$batch", map[string]any{"requests": tt.requests})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %v", r.status, tt.status, r.body)
			}
			if r.status != 200 {
				errorCode(t, r)
				return
			}
			var got string
			data, _ := json.Marshal(r.body["responses"])
			var rs []struct {
				ID     string
				Status int
			}
			json.Unmarshal(data, &rs)
			for i, x := range rs {
				if i > 0 {
					got += " "
				}
				got += fmt.Sprintf("%s:%d", x.ID, x.Status)
			}
			if got != tt.items {
				t.Errorf("items %q, want %q", got, tt.items)
			}
		})
	}
}
