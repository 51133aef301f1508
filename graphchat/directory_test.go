package graphchat_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

const adaUPN = "ada_fabrikam.com#EXT#@contoso.onmicrosoft.com"

// What the app knows of users (Options.Directory) is applied by the policy
// in every check: creation, adding a member, each item of CreateMany, a
// chat built with the models. A guest given through User is refused the
// owner role, and nothing is sent.
func TestDirectoryInEveryCheck(t *testing.T) {
	t.Parallel()
	ada, err := policy.NewDirectory(policy.User{ID: graphchattest.AdaID, UserPrincipalName: adaUPN, Kind: policy.KindGuest})
	if err != nil {
		t.Fatal(err)
	}
	ops := []policy.Operation{policy.OpCreateChat, policy.OpAddMember}
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMember.ReadWrite")
	model, _ := graphchat.ChatModel(graphchat.CloudGlobal, "v1.0", policy.ChatTypeGroup, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(adaUPN))
	for _, tc := range []struct {
		name string
		do   func(c *graphchat.Client) error
	}{
		{"CreateGroup by name", func(c *graphchat.Client) error {
			_, err := c.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(adaUPN))
			return err
		}},
		{"AddMember by id", func(c *graphchat.Client) error {
			_, err := c.AddMember(ctx, "19:x@thread.v2", graphchat.User(graphchattest.AdaID))
			return err
		}},
		{"CreateMany item", func(c *graphchat.Client) error {
			res, err := c.CreateMany(ctx, []graphchat.Item{{Type: policy.ChatTypeGroup, Members: []graphchat.Member{graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.AdaID)}}}, nil)
			if err != nil {
				return err
			}
			return res[0].Err
		}},
		{"Create from models", func(c *graphchat.Client) error {
			_, err := c.Create(ctx, model, nil)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, nil, &graphchat.Options{Operations: ops, Directory: ada}, tok)
			if err := tc.do(e.client); !errors.Is(err, policy.CodeGuestRole) {
				t.Errorf("err = %v, want guest_role", err)
			}
			if n := len(e.requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}

	// A call's directory adds to the client's; a contradiction is an error.
	e := setup(t, nil, &graphchat.Options{Operations: ops, Directory: ada}, tok)
	member, _ := policy.NewDirectory(policy.User{UserPrincipalName: adaUPN, Kind: policy.KindMember})
	if _, err := e.client.Create(ctx, model, &graphchat.CreateOptions{Directory: member}); err == nil || !strings.Contains(err.Error(), "disagrees") {
		t.Errorf("contradiction: err = %v", err)
	}
	if n := len(e.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// ResolveKinds feeds the same path: a guest given through User to AddMember
// is looked up, found a guest, and refused the owner role; a member whose
// kind is declared, or that the directory knows, is not looked up.
func TestResolveKindsAddMember(t *testing.T) {
	t.Parallel()
	lee, _ := policy.NewDirectory(policy.User{ID: graphchattest.LeeID, Kind: policy.KindMember})
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMember.ReadWrite", "User.Read.All")
	e := setup(t, nil, &graphchat.Options{Operations: []policy.Operation{policy.OpCreateChat, policy.OpAddMember}, ResolveKinds: true, Directory: lee}, tok)
	if _, err := e.client.AddMember(ctx, "19:x@thread.v2", graphchat.User(adaUPN)); !errors.Is(err, policy.CodeGuestRole) {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.client.AddMember(ctx, "19:x@thread.v2", graphchat.User(adaUPN)); !errors.Is(err, policy.CodeGuestRole) {
		t.Fatalf("again: err = %v", err)
	}
	if _, err := e.client.AddMember(ctx, "19:x@thread.v2", graphchat.User(graphchattest.LeeID)); !errors.Is(err, graphchat.ErrNotFound) {
		t.Fatalf("lee: err = %v", err) // sent: the chat does not exist
	}
	var lookups []string
	for _, r := range e.requests() {
		if strings.HasPrefix(r.Path, "/v1.0/users/") {
			lookups = append(lookups, r.Path)
		}
	}
	if len(lookups) != 1 { // Ada once (then cached); Lee is known
		t.Errorf("lookups %v", lookups)
	}
}

// An external user's tenant is the home tenant declared for it: the policy
// refuses one the directory contradicts, before anything is sent.
func TestExternalHomeTenantAgainstDirectory(t *testing.T) {
	t.Parallel()
	grady, _ := policy.NewDirectory(policy.User{ID: graphchattest.GradyID, HomeTenantID: graphchattest.PartnerTenantID})
	e := setup(t, nil, &graphchat.Options{Directory: grady}, "")
	const wrong = "11111111-2222-4333-8444-555555555555"
	_, err := e.client.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.External(graphchattest.GradyID, wrong))
	if !errors.Is(err, policy.CodeKindConflict) || len(e.requests()) != 0 {
		t.Fatalf("err = %v after %d requests", err, len(e.requests()))
	}
	if _, err := e.client.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.External(graphchattest.GradyID, graphchattest.PartnerTenantID)); err != nil {
		t.Fatal(err)
	}
}
