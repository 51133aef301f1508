package graphchat

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/policy"
)

// ListMembers returns every member of a chat, reading every page with
// graphchat's one pager (a next link to another host is refused).
func (c *Client) ListMembers(ctx context.Context, chatID string) ([]models.ConversationMemberable, error) {
	op := policy.OpListMembers
	if chatID == "" {
		return nil, fmt.Errorf("graphchat: %s: chat id is empty", op)
	}
	if err := c.checkGrant(ctx, op); err != nil {
		return nil, err
	}
	info, err := c.chats().ByChatId(chatID).Members().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("graphchat: %s: chat %q: %w", op, chatID, err)
	}
	var out []models.ConversationMemberable
	err = pageAll(ctx, c, op, fmt.Sprintf("the members of chat %q", chatID), info,
		models.CreateConversationMemberCollectionResponseFromDiscriminatorValue, nil,
		func(m models.ConversationMemberable) error { out = append(out, m); return nil })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ErrNotMember matches the error of RemoveMemberByUser for a user who is
// not a member of the chat.
var ErrNotMember = errors.New("graphchat: not a member of the chat")

// RemoveMemberByUser removes a user, given by object id or user principal
// name, from a group chat. The service removes memberships, not users: the
// chat's members are listed (policy.OpListMembers) and the membership whose
// userId is the user's object id is removed (policy.OpRemoveMember). A user
// principal name is identified by object id first, as Find does (declare
// policy.OpResolveUser for names the Client does not know). A user who is
// not a member is an error matching ErrNotMember; nothing is removed.
func (c *Client) RemoveMemberByUser(ctx context.Context, chatID, user string) error {
	op := policy.OpRemoveMember
	if chatID == "" || strings.TrimSpace(user) == "" {
		return fmt.Errorf("graphchat: %s: chat id and user are required", op)
	}
	pc, err := c.context(ctx, op)
	if err != nil {
		return err
	}
	if !c.declared(policy.OpListMembers) {
		return fmt.Errorf("%w: %s is not among Options.Operations %v: removing a user by id or name lists the chat's members to find the membership", ErrUndeclared, policy.OpListMembers, c.ops)
	}
	id, err := c.objectID(ctx, user, pc, c.dir)
	if err != nil {
		return fmt.Errorf("graphchat: %s: user %q: %w", op, user, err)
	}
	members, err := c.ListMembers(ctx, chatID)
	if err != nil {
		return err
	}
	for _, m := range members {
		am, ok := m.(models.AadUserConversationMemberable)
		if ok && !isNil(am) && strings.EqualFold(deref(am.GetUserId()), id) && deref(am.GetId()) != "" {
			return c.RemoveMember(ctx, chatID, deref(am.GetId()))
		}
	}
	return fmt.Errorf("graphchat: %s: user %q (%s) in chat %q: %w", op, user, id, chatID, ErrNotMember)
}

// maxAddAtOnce is the most members one addition may carry: "only 200
// members at a time can be added to a group chat" (Teams limits).
const maxAddAtOnce = 200

// MemberResult is the outcome of one member of AddMembers.
type MemberResult struct {
	// Index is the member's index in the call; -1 for an outcome the
	// service reported for a user graphchat could not relate to one.
	Index int
	// UserID is the user's object id as the service reported it ("" when
	// it did not report the member).
	UserID string
	// MembershipID is the new membership's id, when known (AddMember's
	// answer; the members/add action gives none).
	MembershipID string
	// Err is nil when the member was added; a *MemberError with the
	// service's code and message otherwise.
	Err error
}

// MemberError is the service's refusal of one member of a members/add
// action.
type MemberError struct {
	User    string // as given, or the object id reported
	Code    string // Graph's code; code against it, not Message
	Message string
}

func (e *MemberError) Error() string {
	msg := fmt.Sprintf("graphchat: %s: member %q: %s", policy.OpAddMember, e.User, e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// AddMembers adds members to a group chat and reports each one's outcome,
// in the order given. One member is added with AddMember; several in one
// request, the members/add action (POST /chats/{id}/members/add), since the
// service limits member additions per chat per minute. Every member is
// checked by the policy first: when any is refused, the violations (fields
// "members[i].roles" and so on) are the error and nothing is sent. The
// error is also non-nil when the request as a whole failed; outcomes per
// member are in the results. At most 200 members at a time, the
// documented limit.
func (c *Client) AddMembers(ctx context.Context, chatID string, members ...Member) ([]MemberResult, error) {
	op := policy.OpAddMember
	switch {
	case chatID == "":
		return nil, fmt.Errorf("graphchat: %s: chat id is empty", op)
	case len(members) == 0:
		return nil, fmt.Errorf("graphchat: %s: no members given", op)
	case len(members) > maxAddAtOnce:
		return nil, fmt.Errorf("graphchat: %s: %d members: at most %d can be added at a time", op, len(members), maxAddAtOnce)
	case len(members) == 1:
		id, err := c.AddMember(ctx, chatID, members[0])
		if err != nil {
			return nil, err
		}
		return []MemberResult{{Index: 0, MembershipID: id}}, nil
	}
	pc, err := c.context(ctx, op)
	if err != nil {
		return nil, err
	}
	var refused policy.List
	values := make([]models.ConversationMemberable, len(members))
	for i, m := range members {
		pm := m.policy()
		res, _, err := c.checkWith(ctx, op, []policy.Member{pm}, pc, nil, func(pc *policy.Context) *policy.Result { return policy.CheckMember(&pm, pc) })
		if err != nil && res == nil {
			return nil, err
		}
		if res != nil {
			for _, v := range res.Violations {
				v.Field = fmt.Sprintf("members[%d]%s", i, strings.TrimPrefix(v.Field, "member"))
				refused = append(refused, v)
			}
		}
		if refused != nil {
			continue
		}
		model, err := m.Model(c.cloud, c.version())
		if err != nil {
			return nil, fmt.Errorf("graphchat: %s: members[%d]: %w", op, i, err)
		}
		values[i] = model
	}
	if refused != nil {
		return nil, refused
	}
	body := chats.NewItemMembersAddPostRequestBody()
	body.SetValues(values)
	got, err := c.chats().ByChatId(chatID).Members().Add().PostAsAddPostResponse(ctx, body, nil)
	if err != nil {
		return nil, fmt.Errorf("graphchat: %s: chat %q: %w", op, chatID, translate(string(op), err))
	}
	return c.memberResults(ctx, members, pc, got), nil
}

// memberResults relates the members/add action's outcomes to the members
// given, by object id or by the user as given (an answer may report a
// refused user as it was sent). A member the answer does not mention is
// reported with an error: its outcome is unknown.
func (c *Client) memberResults(ctx context.Context, members []Member, pc *policy.Context, got chats.ItemMembersAddPostResponseable) []MemberResult {
	out := make([]MemberResult, len(members))
	index := map[string]int{}
	for i, m := range members {
		out[i] = MemberResult{Index: i, Err: &MemberError{User: m.User, Code: "notReported", Message: "the service's answer does not mention this member"}}
		id := m.User
		if !policy.IsObjectID(id) {
			if resolved, err := c.objectID(ctx, m.User, pc, c.dir); err == nil {
				id = resolved
			}
		}
		index[strings.ToLower(id)] = i
		index[strings.ToLower(m.User)] = i
	}
	if isNil(got) {
		return out
	}
	for _, part := range got.GetValue() {
		if isNil(part) {
			continue
		}
		userID := ""
		if r, ok := part.(models.AadUserConversationMemberResultable); ok && !isNil(r) {
			userID = deref(r.GetUserId())
		}
		res := MemberResult{Index: -1, UserID: userID}
		if e := part.GetError(); !isNil(e) {
			res.Err = &MemberError{User: userID, Code: deref(e.GetCode()), Message: deref(e.GetMessage())}
		}
		i, ok := index[strings.ToLower(userID)]
		if !ok || userID == "" {
			out = append(out, res)
			continue
		}
		res.Index = i
		if me, ok := res.Err.(*MemberError); ok {
			me.User = members[i].User
		}
		out[i] = res
	}
	return out
}
