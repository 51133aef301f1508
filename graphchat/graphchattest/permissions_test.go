package graphchattest_test

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// The emulator's permission table and package policy's catalogue are read
// from the same reference pages by two hands. This test shows where they
// agree and pins where they differ, so that a change on either side shows
// up here. Each difference is explained in knownDifferences.
func TestPermissionTableAgainstPolicy(t *testing.T) {
	t.Parallel()
	knownDifferences := map[string]string{
		// user-get: User.Read (the signed-in user only) is least privileged;
		// the catalogue starts at User.Read.All, because the façade needs
		// userType of other users, which User.Read and User.ReadBasic.All do
		// not give.
		"get-user delegated least":  "emulator [User.Read], policy [User.Read.All]",
		"get-user delegated higher": "emulator [Directory.Read.All Directory.ReadWrite.All User.Read.All User.ReadBasic.All User.ReadWrite User.ReadWrite.All], policy [Directory.Read.All Directory.ReadWrite.All User.ReadWrite.All]",
	}
	table := graphchattest.PermissionTable()
	ops := map[policy.Operation]string{
		policy.OpCreateChat: "create-chat", policy.OpGetChat: "get-chat", policy.OpListChats: "list-chats",
		policy.OpListMembers: "list-members", policy.OpAddMember: "add-member", policy.OpRemoveMember: "remove-member",
		policy.OpGetUser: "get-user",
	}
	got := map[string]string{}
	agreed := 0
	for pop, name := range ops {
		row, ok := table[name]
		if !ok {
			t.Fatalf("the emulator has no entry for %s", name)
		}
		for i, auth := range []policy.AuthType{policy.AuthDelegated, policy.AuthApplication} {
			info, err := policy.Describe(pop, auth)
			if err != nil {
				t.Fatal(err)
			}
			for j, kind := range []string{"least", "higher"} {
				emu, pol := sorted(row[2*i+j]), sorted(info.Least)
				if j == 1 {
					pol = sorted(info.Higher)
				}
				key := fmt.Sprintf("%s %s %s", name, auth, kind)
				if slices.Equal(emu, pol) {
					agreed++
					continue
				}
				got[key] = fmt.Sprintf("emulator %v, policy %v", emu, pol)
			}
		}
	}
	if diff := cmp.Diff(knownDifferences, got); diff != "" {
		t.Errorf("differences between the emulator's table and policy's catalogue changed (-known +now):\n%s", diff)
	}
	t.Logf("%d of %d lists agree", agreed, 4*len(ops))

	// Whatever the lists, both allow the same token permissions for each
	// operation, except where the emulator's reading differs as above.
	for pop, name := range ops {
		for _, auth := range []policy.AuthType{policy.AuthDelegated, policy.AuthApplication} {
			info, _ := policy.Describe(pop, auth)
			row := table[name]
			i := 0
			if auth == policy.AuthApplication {
				i = 2
			}
			emu := tokenSet(append(slices.Clone(row[i]), row[i+1]...))
			pol := tokenSet(append(slices.Clone(info.Least), info.Higher...))
			if !slices.Equal(emu, pol) && name != "get-chat" && name != "get-user" {
				t.Errorf("%s %s: the emulator allows %v, policy %v", name, auth, emu, pol)
			}
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	if out == nil {
		out = []string{}
	}
	sort.Strings(out)
	return out
}

// tokenSet is the sorted permissions that can be carried in a token.
func tokenSet(s []string) []string {
	out := slices.DeleteFunc(slices.Clone(s), func(p string) bool { return policy.IsRSC(p) || len(p) > 15 && p[len(p)-15:] == ".WhereInstalled" })
	return sorted(out)
}

// Each operation is allowed by exactly the permissions of the table.
func TestAuthorizeByTable(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	g := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")}})
	id := g.body["id"].(string)
	tests := []struct {
		name   string
		token  string
		method string
		path   string
		status int
	}{
		{"get chat, delegated least", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadBasic"), "GET", "/v1.0/chats/" + id, 200},
		{"get chat, delegated unrelated", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create"), "GET", "/v1.0/chats/" + id, 403},
		{"get chat, app ReadBasic.All", graphchattest.AppToken("Chat.ReadBasic.All"), "GET", "/v1.0/chats/" + id, 200},
		{"get chat, app WhereInstalled (no app installed)", graphchattest.AppToken("Chat.ReadBasic.WhereInstalled"), "GET", "/v1.0/chats/" + id, 403},
		{"get chat, app RSC name in a token", graphchattest.AppToken("Chat.Manage.Chat"), "GET", "/v1.0/chats/" + id, 403},
		{"list members, delegated ChatMember.Read", graphchattest.DelegatedToken(graphchattest.MeganID, "ChatMember.Read"), "GET", "/v1.0/chats/" + id + "/members", 200},
		{"list members, app Chat.ReadBasic.All", graphchattest.AppToken("Chat.ReadBasic.All"), "GET", "/v1.0/chats/" + id + "/members", 200},
		{"get user, delegated User.Read of self", graphchattest.DelegatedToken(graphchattest.MeganID, "User.Read"), "GET", "/v1.0/users/" + graphchattest.MeganID, 200},
		{"get user, delegated User.Read of another", graphchattest.DelegatedToken(graphchattest.MeganID, "User.Read"), "GET", "/v1.0/users/" + graphchattest.LeeID, 403},
		{"get user, app User.ReadBasic.All", graphchattest.AppToken("User.ReadBasic.All"), "GET", "/v1.0/users/" + graphchattest.LeeID, 403},
		{"remove member, delegated Chat.ReadWrite", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadWrite"), "DELETE", "/v1.0/chats/" + id + "/members/x", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.token = tt.token
			r := c.do(tt.method, tt.path, nil)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %v", r.status, tt.status, r.body)
			}
		})
	}
}
