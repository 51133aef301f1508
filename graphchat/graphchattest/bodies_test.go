package graphchattest_test

import (
	"strings"
	"testing"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// Bodies are read as the service reads them: property names are
// case-sensitive, a repeated key is refused, a byte-order mark is skipped.
func TestBodiesReadStrictly(t *testing.T) {
	t.Parallel()
	m := func(user string) string { return memberJSON(user, "owner") }
	members := m(graphchattest.MeganID) + "," + m(graphchattest.LeeID) + "," + m(graphchattest.NestorID)
	group := `{"chatType":"group","members":[` + members + `]}`
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		msg    string // a word the message must hold
	}{
		{"valid", "/v1.0/chats", group, 201, ""},
		{"byte-order mark", "/v1.0/chats", "\xEF\xBB\xBF" + group, 201, ""},
		{"ChatType", "/v1.0/chats", `{"ChatType":"group","members":[` + members + `]}`, 400, "ChatType"},
		{"Members", "/v1.0/chats", `{"chatType":"group","Members":[` + members + `]}`, 400, "Members"},
		{"unknown property", "/v1.0/chats", `{"chatType":"group","colour":"red","members":[` + members + `]}`, 400, "colour"},
		{"User@odata.bind", "/v1.0/chats", `{"chatType":"group","members":[` + m(graphchattest.MeganID) + "," + m(graphchattest.LeeID) +
			`,{"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":["owner"],"User@odata.bind":"https://graph.microsoft.com/v1.0/users('` + graphchattest.NestorID + `')"}]}`, 400, "User@odata.bind"},
		{"Roles", "/v1.0/chats", `{"chatType":"group","members":[` + m(graphchattest.MeganID) + "," + m(graphchattest.LeeID) +
			`,{"@odata.type":"#microsoft.graph.aadUserConversationMember","Roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('` + graphchattest.NestorID + `')"}]}`, 400, "Roles"},
		{"duplicate chatType", "/v1.0/chats", `{"chatType":"oneOnOne","chatType":"group","members":[` + members + `]}`, 400, "chatType"},
		{"duplicate in a member", "/v1.0/chats", `{"chatType":"group","members":[` + m(graphchattest.MeganID) + "," + m(graphchattest.LeeID) +
			`,{"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":["owner"],"roles":["guest"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('` + graphchattest.NestorID + `')"}]}`, 400, "roles"},
		{"same key in two objects", "/v1.0/chats", group, 201, ""},
		{"too deep", "/v1.0/chats", strings.Repeat("[", 10002) + strings.Repeat("]", 10002), 400, "JSON"},
		{"add member case variant", "/v1.0/chats/{group}/members", `{"@odata.type":"#microsoft.graph.aadUserConversationMember","Roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('` + graphchattest.AlexID + `')"}`, 400, "Roles"},
		{"add member with a byte-order mark", "/v1.0/chats/{group}/members", "\xEF\xBB\xBF" + m(graphchattest.AlexID), 201, ""},
		{"batch item case variant", "/v1.0/$batch", `{"requests":[{"id":"1","Method":"GET","url":"/me/chats"}]}`, 400, "Method"},
		{"batch duplicate id key", "/v1.0/$batch", `{"requests":[{"id":"1","id":"2","method":"GET","url":"/me/chats"}]}`, 400, "id"},
	}
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMember.ReadWrite", "Chat.ReadBasic")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := graphchattest.New(nil)
			path := tt.path
			if strings.Contains(path, "{group}") {
				r := serve(emu, "POST", "/v1.0/chats", group, "Authorization", "Bearer "+tok)
				if r.Code != 201 {
					t.Fatalf("group: %d %s", r.Code, r.Body)
				}
				path = strings.Replace(path, "{group}", emu.Chats()[0].ID, 1)
			}
			r := serve(emu, "POST", path, tt.body, "Authorization", "Bearer "+tok)
			if r.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.status, r.Body)
			}
			if tt.status == 400 {
				if code := graphCode(t, r.Body.Bytes()); code != "BadRequest" {
					t.Errorf("code %q", code)
				}
				if !strings.Contains(r.Body.String(), tt.msg) {
					t.Errorf("message lacks %q: %s", tt.msg, r.Body)
				}
			}
		})
	}
}
