package graphchat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/policy"
)

// ErrOutcomeUnknown matches an *AmbiguousError: a group creation failed in a
// way that does not say whether the chat was created (a timeout, a 500, 502, 503
// or 504, a connection dropped after sending), and graphchat could not find
// out. It was not retried, so that no chat is created twice.
var ErrOutcomeUnknown = errors.New("graphchat: outcome unknown")

// AmbiguousError reports a group creation whose outcome is unknown. Declare
// policy.OpListChats in Options.Operations to let graphchat look the chat up
// and retry only when it does not exist.
type AmbiguousError struct {
	Err       error // the failure of the creation
	LookupErr error // why the chat could not be looked up (or told from others); nil when list-chats is not declared
}

func (e *AmbiguousError) Error() string {
	msg := "graphchat: create-chat: outcome unknown, not retried to avoid a duplicate group chat: " + e.Err.Error()
	if e.LookupErr != nil {
		msg += "; the chat could not be looked up: " + e.LookupErr.Error()
	} else {
		msg += " (declare list-chats in Options.Operations to look it up and retry safely)"
	}
	return msg
}

func (e *AmbiguousError) Unwrap() []error { return []error{e.Err, e.LookupErr} }

// Is matches ErrOutcomeUnknown.
func (e *AmbiguousError) Is(target error) bool { return target == ErrOutcomeUnknown }

// ambiguous reports whether a failed creation may nevertheless have created
// the chat. Policy refusals and 4xx answers are not ambiguous; 429 means the
// request was not processed, and so does a redirect (refused when it
// leaves the base host). A transport error is, and so is a cancelled
// context: the request may have gone out before it was cancelled.
func ambiguous(err error) bool {
	if err == nil {
		return false
	}
	var list policy.List
	if errors.As(err, &list) || errors.Is(err, errRedirect) {
		return false
	}
	var ge *Error
	if errors.As(err, &ge) {
		switch ge.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusInternalServerError:
			return true
		}
		return false
	}
	return true
}

// lookupSkew allows for the difference between this machine's clock and the
// service's when looking for a chat created since an attempt began.
const lookupSkew = time.Minute

// groupKey describes a chat to look for: its type ("" for any), its
// topic (unless anyTopic) and its members as a chat's listing gives them,
// (userId, tenantId). A member given by user principal name is identified
// by its object id before the chat is created; when that is not possible,
// unresolved says why, and no lookup is made: a chat is never claimed on a
// guess.
type groupKey struct {
	typ        policy.ChatType
	topic      *string
	anyTopic   bool
	members    []memberKey
	unresolved error
}

// memberKey is a member by object id and tenant id, in lower case. An empty
// tenant stands for the caller's tenant when it is not known: the tenant of
// the chat listed is then expected.
type memberKey struct{ userID, tenantID string }

// groupKey identifies a group's members by object id, for the lookup after
// an ambiguous failure. It makes requests (resolve-user) only when the
// lookup is possible (list-chats declared) and a member is given by a user
// principal name whose id is not known (see objectID).
func (c *Client) groupKey(ctx context.Context, req *policy.Request, pc *policy.Context, dir *policy.Directory) groupKey {
	key := groupKey{typ: policy.ChatTypeGroup, topic: req.Topic}
	if !c.declared(policy.OpListChats) {
		key.unresolved = errNoLookup
		return key
	}
	for _, m := range req.Members {
		id, err := c.objectID(ctx, m.User, pc, dir)
		if err != nil {
			key.unresolved = err
			key.members = nil
			return key
		}
		tenant := m.TenantID
		if tenant == "" {
			tenant = pc.TenantID
		}
		key.members = append(key.members, memberKey{userID: strings.ToLower(id), tenantID: strings.ToLower(tenant)})
	}
	return key
}

// findGroup looks for a chat of the key created since the given time, with
// Find's listing and strict matcher (see findGroups). It returns the oldest
// match, or nil.
func (c *Client) findGroup(ctx context.Context, key groupKey, since time.Time) (models.Chatable, error) {
	if key.unresolved != nil {
		return nil, key.unresolved
	}
	pc, err := c.context(ctx, policy.OpListChats)
	if err != nil {
		return nil, err
	}
	who, err := recoveryLister(key, pc)
	if err != nil {
		return nil, err
	}
	found, err := c.findGroups(ctx, who, []pendingGroup{{key: key, since: since}})
	if err != nil || len(found[0]) == 0 {
		return nil, err
	}
	return found[0][0], nil
}

// recoveryLister decides whose chats hold a chat sent without a clear
// answer: the signed-in user's (""), or, for an application, those of the
// first member of the caller's tenant.
func recoveryLister(key groupKey, pc *policy.Context) (string, error) {
	if pc.Auth != policy.AuthApplication {
		return "", nil
	}
	for _, m := range key.members {
		if m.tenantID == "" || !otherTenant(m.tenantID, pc.TenantID) {
			return m.userID, nil
		}
	}
	return "", errors.New("no member of the caller's tenant to list the chats of")
}

// pendingGroup is a group chat to look for: its key, and when it was first
// asked for (a chat created earlier is not it).
type pendingGroup struct {
	key   groupKey
	since time.Time
}

// findGroups looks for many group chats in one listing of who's chats
// ("" for the signed-in user), with Find's strict matcher: for each chat
// asked for, the matches created since it was asked for, oldest first. The
// listing is filtered on the type, and on the topic when every chat asked
// for has the same one.
func (c *Client) findGroups(ctx context.Context, who string, groups []pendingGroup) ([][]models.Chatable, error) {
	byTopic := map[string][]int{}
	for i, g := range groups {
		t := deref(g.key.topic)
		byTopic[t] = append(byTopic[t], i)
	}
	q := query{key: groupKey{typ: policy.ChatTypeGroup, anyTopic: true}, who: who}
	if len(byTopic) == 1 {
		q.key.topic, q.key.anyTopic = groups[0].key.topic, false
	}
	found := make([][]models.Chatable, len(groups))
	err := c.listChats(ctx, q.who, q.filter(), func(chat models.Chatable) error {
		for _, i := range byTopic[deref(chat.GetTopic())] {
			ok, err := c.matches(ctx, chat, groups[i].key, groups[i].since)
			if err != nil {
				return err
			}
			if ok {
				found[i] = append(found[i], chat)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, f := range found {
		sortChats(f)
	}
	return found, nil
}

// postGroup creates a group chat; after an ambiguous failure it looks the
// chat up (when list-chats is declared) and retries only if it does not
// exist, at most maxGroupAttempts times in all.
func (c *Client) postGroup(ctx context.Context, chat models.Chatable, key groupKey, warnings policy.List) (*Created, error) {
	var last error
	for attempt := 0; attempt < maxGroupAttempts; attempt++ {
		start := time.Now()
		created, err := c.post(ctx, chat, policy.ChatTypeGroup, warnings)
		if err == nil || !ambiguous(err) || ctx.Err() != nil {
			if err != nil && ambiguous(err) {
				return nil, &AmbiguousError{Err: err}
			}
			return created, err
		}
		last = err
		found, lerr := c.recoverGroup(ctx, key, start)
		switch {
		case errors.Is(lerr, errNoLookup):
			return nil, &AmbiguousError{Err: err}
		case lerr != nil:
			return nil, &AmbiguousError{Err: err, LookupErr: lerr}
		case found != nil:
			return &Created{Chat: found, Recovered: true, Warnings: warnings}, nil
		}
		// Not created: retrying cannot duplicate it.
	}
	return nil, fmt.Errorf("graphchat: create-chat: gave up after %d attempts: %w", maxGroupAttempts, last)
}

const maxGroupAttempts = 3

var errNoLookup = errors.New("list-chats is not declared")

// recoverGroup waits for a request that may still be in flight, then looks
// the chat up. It returns errNoLookup when list-chats is not declared.
func (c *Client) recoverGroup(ctx context.Context, key groupKey, since time.Time) (models.Chatable, error) {
	if !c.declared(policy.OpListChats) {
		return nil, errNoLookup
	}
	if key.unresolved != nil {
		return nil, key.unresolved
	}
	var err error
	for attempt := 0; attempt < lookupAttempts; attempt++ {
		t := time.NewTimer(c.lookupDelay << attempt)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		var found models.Chatable
		// A lookup is a GET: trying it again changes nothing.
		if found, err = c.findGroup(ctx, key, since); err == nil {
			return found, nil
		}
	}
	return nil, err
}

// lookupAttempts bounds the lookups after one ambiguous failure.
const lookupAttempts = 3

func (c *Client) declared(op policy.Operation) bool {
	for _, o := range c.ops {
		if o == op {
			return true
		}
	}
	return false
}

// FindGroup looks for a group chat with the topic ("" for none) and
// members created since the given time (with a minute's allowance for clock
// differences), as graphchat does after an ambiguous failure: a chat matches
// only when its members are exactly the given users, compared by object id
// and tenant id. Members given by user principal name are first identified
// by object id (from the signed-in user's claims, Options.Directory, or
// GET /users/{upn}?$select=id when resolve-user is declared); when one
// cannot be, FindGroup returns an error rather than a guess. It needs the
// list-chats operation declared. It returns nil and no error when there is
// no such chat. Use it after a crash, for items that were sent without an
// answer.
func (c *Client) FindGroup(ctx context.Context, topic string, members []Member, since time.Time) (models.Chatable, error) {
	if err := c.checkGrant(ctx, policy.OpListChats); err != nil {
		return nil, err
	}
	pc, err := c.context(ctx, policy.OpListChats)
	if err != nil {
		return nil, err
	}
	key := groupKey{typ: policy.ChatTypeGroup}
	if topic != "" {
		key.topic = &topic
	}
	if key.members, err = c.memberKeys(ctx, members, pc); err != nil {
		return nil, err
	}
	return c.findGroup(ctx, key, since)
}
