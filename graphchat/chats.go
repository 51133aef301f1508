package graphchat

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/policy"
)

// AddMember adds a member to a group chat and returns the new membership's
// id. Members cannot be added to one-on-one chats.
func (c *Client) AddMember(ctx context.Context, chatID string, m Member) (string, error) {
	op := policy.OpAddMember
	if chatID == "" {
		return "", fmt.Errorf("graphchat: %s: chat id is empty", op)
	}
	pc, err := c.context(ctx, op)
	if err != nil {
		return "", err
	}
	pm := m.policy()
	if _, _, err := c.checkWith(ctx, op, []policy.Member{pm}, pc, nil, func(pc *policy.Context) *policy.Result { return policy.CheckMember(&pm, pc) }); err != nil {
		return "", err
	}
	model, err := m.Model(c.cloud, c.version())
	if err != nil {
		return "", err
	}
	headers := khttp.NewHeadersInspectionOptions()
	headers.InspectResponseHeaders = true
	cfg := &chats.ItemMembersRequestBuilderPostRequestConfiguration{Options: []abs.RequestOption{headers}}
	got, err := c.chats().ByChatId(chatID).Members().Post(ctx, model, cfg)
	if err != nil {
		return "", translate(string(op), err)
	}
	if got != nil && got.GetId() != nil {
		return *got.GetId(), nil
	}
	return membershipFromLocation(first(headers.GetResponseHeaders().Get("Location"))), nil
}

// membershipFromLocation reads the id from a Location such as
// /chats('19:...')/members('MCMj...') or .../members/MCMj....
func membershipFromLocation(loc string) string {
	i := strings.LastIndex(loc, "/members")
	if i < 0 {
		return ""
	}
	rest := loc[i+len("/members"):]
	switch {
	case strings.HasPrefix(rest, "('") && strings.HasSuffix(rest, "')"):
		return strings.ReplaceAll(rest[2:len(rest)-2], "''", "'")
	case strings.HasPrefix(rest, "/"):
		return rest[1:]
	}
	return ""
}

// RemoveMember removes a membership (the id AddMember or ListMembers gives,
// not the user's id) from a group chat.
func (c *Client) RemoveMember(ctx context.Context, chatID, membershipID string) error {
	op := policy.OpRemoveMember
	if chatID == "" || membershipID == "" {
		return fmt.Errorf("graphchat: %s: chat id and membership id are required", op)
	}
	if err := c.checkGrant(ctx, op); err != nil {
		return err
	}
	err := c.chats().ByChatId(chatID).Members().ByConversationMemberId(membershipID).Delete(ctx, nil)
	return translate(string(op), err)
}

// GetChat returns a chat.
func (c *Client) GetChat(ctx context.Context, chatID string) (models.Chatable, error) {
	op := policy.OpGetChat
	if chatID == "" {
		return nil, fmt.Errorf("graphchat: %s: chat id is empty", op)
	}
	if err := c.checkGrant(ctx, op); err != nil {
		return nil, err
	}
	got, err := c.chats().ByChatId(chatID).Get(ctx, nil)
	return got, translate(string(op), err)
}

// sameHost refuses a link (such as @odata.nextLink) to another host than
// the base URL's: the request would carry the token there.
func (c *Client) sameHost(link string) error {
	u, err := url.Parse(link)
	base, berr := url.Parse(c.adapter.GetBaseUrl())
	if err != nil || berr != nil || !strings.EqualFold(u.Host, base.Host) || u.Scheme != base.Scheme {
		return fmt.Errorf("graphchat: refusing to follow %q: not on %s", link, base.Host)
	}
	return nil
}
