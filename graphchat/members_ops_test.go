package graphchat_test

import (
	"slices"
	"testing"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// AddMembers relates each outcome to the member asked for, whether the
// service reports the user as given (a name) or by object id.
func TestAddMembersOutcomeByName(t *testing.T) {
	t.Parallel()
	ops := append(slices.Clone(findOps), policy.OpAddMember)
	e := setup(t, nil, &graphchat.Options{Operations: ops}, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All", "ChatMember.ReadWrite"))
	id := mustGroup(t, e.client, "", megan, lee, nestor)
	res, err := e.client.AddMembers(ctx, id, graphchat.User("alex@contoso.com"), graphchat.User("lee@contoso.com"), graphchat.User("nobody@contoso.com"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		index int
		code  string // "" for added
	}{{0, ""}, {1, "Conflict"}, {2, "NotFound"}}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(res), len(want), res)
	}
	for i, w := range want {
		r := res[i]
		code := ""
		if me, ok := r.Err.(*graphchat.MemberError); ok {
			code = me.Code
		} else if r.Err != nil {
			code = r.Err.Error()
		}
		if r.Index != w.index || code != w.code {
			t.Errorf("result %d: index %d, code %q; want index %d, code %q", i, r.Index, code, w.index, w.code)
		}
	}
}
