package graphchat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

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
	LookupErr error // why the chat could not be looked up; nil when list-chats is not declared
}

func (e *AmbiguousError) Error() string {
	msg := "graphchat: create-chat: outcome unknown, not retried to avoid a duplicate group chat: " + e.Err.Error()
	if e.LookupErr != nil {
		msg += "; looking the chat up failed: " + e.LookupErr.Error()
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

// lookupDelay is how long to wait before looking a chat up after an
// ambiguous failure, so that a request still being processed can finish.
var lookupDelay = 2 * time.Second

// groupKey describes a group chat to look for.
type groupKey struct {
	topic   *string
	members []policy.Member
}

func keyOf(req *policy.Request) groupKey { return groupKey{topic: req.Topic, members: req.Members} }

// findGroup looks for a group chat with the key's topic and members created
// since the given time: GET /me/chats (delegated) or /users/{member}/chats
// (application) with $filter on chatType and topic and $expand=members.
func (c *Client) findGroup(ctx context.Context, key groupKey, since time.Time) (models.Chatable, error) {
	filter := "chatType eq 'group'"
	if key.topic != nil {
		filter += " and topic eq '" + strings.ReplaceAll(*key.topic, "'", "''") + "'"
	}
	tmpl, params := "{+baseurl}/me/chats{?%24filter,%24expand,%24top}", map[string]string{}
	auth := c.auth
	if cached := c.claims.Load(); cached != nil { // the token's claims, when read, decide
		auth = cached.claims.Auth()
	}
	if auth == policy.AuthApplication { // no signed-in user: a member's chats
		if len(key.members) == 0 {
			return nil, errors.New("no member to list the chats of")
		}
		tmpl = "{+baseurl}/users/{user%2Did}/chats{?%24filter,%24expand,%24top}"
		params["user%2Did"] = key.members[0].User
	}
	info := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET, tmpl, params)
	info.QueryParameters["%24filter"] = filter
	info.QueryParameters["%24expand"] = "members"
	info.QueryParameters["%24top"] = "50"
	info.Headers.TryAdd("Accept", "application/json")
	errs := abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}
	for page := 0; page < 20; page++ {
		got, err := c.adapter.Send(ctx, info, models.CreateChatCollectionResponseFromDiscriminatorValue, errs)
		if err != nil {
			return nil, translate(string(policy.OpListChats), err)
		}
		resp, ok := got.(models.ChatCollectionResponseable)
		if !ok || resp == nil {
			return nil, nil
		}
		for _, chat := range resp.GetValue() {
			if matchesGroup(chat, key, since) {
				return chat, nil
			}
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return nil, nil
		}
		if err := c.sameHost(next); err != nil {
			return nil, err
		}
		u, err := url.Parse(next)
		if err != nil {
			return nil, fmt.Errorf("graphchat: list-chats: next link: %w", err)
		}
		info = abs.NewRequestInformation()
		info.Method = abs.GET
		info.SetUri(*u)
		info.Headers.TryAdd("Accept", "application/json")
	}
	return nil, nil
}

// matchesGroup compares a listed chat with the one that was asked for: same
// type and topic, created since the attempt began, the same number of
// members, and every member given by object id among them. A member given
// by user principal name is matched by email when one matches; otherwise it
// stands for one of the members left over (a B2B guest's email is not its
// user principal name, and the listing gives no user principal names).
func matchesGroup(chat models.Chatable, key groupKey, since time.Time) bool {
	if chat == nil || chat.GetChatType() == nil || *chat.GetChatType() != models.GROUP_CHATTYPE {
		return false
	}
	if (key.topic == nil) != (chat.GetTopic() == nil) || key.topic != nil && *key.topic != *chat.GetTopic() {
		return false
	}
	if created := chat.GetCreatedDateTime(); created == nil || created.Before(since.Add(-lookupSkew)) {
		return false
	}
	members := chat.GetMembers()
	if len(members) != len(key.members) {
		return false
	}
	used := make([]bool, len(members))
	for _, want := range key.members {
		byID := policy.IsObjectID(want.User)
		found := false
		for i, m := range members {
			am, ok := m.(models.AadUserConversationMemberable)
			if used[i] || !ok {
				continue
			}
			if byID && strings.EqualFold(deref(am.GetUserId()), want.User) || !byID && strings.EqualFold(deref(am.GetEmail()), want.User) {
				used[i], found = true, true
				break
			}
		}
		if !found && byID {
			return false
		}
	}
	return true // the counts are equal: the members left over are those given by name
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
	var err error
	for attempt := 0; attempt < lookupAttempts; attempt++ {
		t := time.NewTimer(lookupDelay << attempt)
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
// differences), as graphchat does after an ambiguous failure. It needs the
// list-chats operation declared. It returns nil and no error when there is
// none. Use it after a crash, for items that were sent without an answer.
func (c *Client) FindGroup(ctx context.Context, topic string, members []Member, since time.Time) (models.Chatable, error) {
	if err := c.checkGrant(ctx, policy.OpListChats); err != nil {
		return nil, err
	}
	key := groupKey{members: make([]policy.Member, len(members))}
	if topic != "" {
		key.topic = &topic
	}
	for i, m := range members {
		key.members[i] = m.policy()
	}
	return c.findGroup(ctx, key, since)
}
