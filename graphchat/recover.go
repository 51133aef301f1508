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

// lookupDelay is how long to wait before looking a chat up after an
// ambiguous failure, so that a request still being processed can finish.
var lookupDelay = 2 * time.Second

// groupKey describes a group chat to look for: its topic and its members
// as a chat's listing gives them, (userId, tenantId). A member given by user
// principal name is identified by its object id before the chat is created;
// when that is not possible, unresolved says why, and no lookup is made: a
// chat is never claimed on a guess.
type groupKey struct {
	topic      *string
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
	key := groupKey{topic: req.Topic}
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

// findGroup looks for a group chat with the key's topic and members created
// since the given time: GET /me/chats (delegated) or /users/{member}/chats
// (application) with $filter on chatType and topic and $expand=members.
func (c *Client) findGroup(ctx context.Context, key groupKey, since time.Time) (models.Chatable, error) {
	if key.unresolved != nil {
		return nil, key.unresolved
	}
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
		params["user%2Did"] = key.members[0].userID
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
// type and topic, created since the attempt began, and exactly the same
// members as a set of (userId, tenantId), compared case-insensitively. A
// member whose tenant was not known is expected in the chat's tenant.
func matchesGroup(chat models.Chatable, key groupKey, since time.Time) bool {
	if key.unresolved != nil || chat == nil || chat.GetChatType() == nil || *chat.GetChatType() != models.GROUP_CHATTYPE {
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
	listed := make(map[memberKey]bool, len(members))
	for _, m := range members {
		am, ok := m.(models.AadUserConversationMemberable)
		if !ok || am == nil || deref(am.GetUserId()) == "" {
			return false
		}
		listed[memberKey{userID: strings.ToLower(deref(am.GetUserId())), tenantID: strings.ToLower(deref(am.GetTenantId()))}] = true
	}
	chatTenant := strings.ToLower(deref(chat.GetTenantId()))
	want := make(map[memberKey]bool, len(key.members))
	for _, m := range key.members {
		if m.tenantID == "" {
			m.tenantID = chatTenant
		}
		want[m] = true
	}
	if len(want) != len(listed) {
		return false
	}
	for m := range want {
		if !listed[m] {
			return false
		}
	}
	return true
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
	req := &policy.Request{ChatType: policy.ChatTypeGroup, Members: make([]policy.Member, len(members))}
	if topic != "" {
		req.Topic = &topic
	}
	for i, m := range members {
		req.Members[i] = m.policy()
	}
	key := c.groupKey(ctx, req, pc, c.dir)
	if key.unresolved != nil {
		return nil, fmt.Errorf("graphchat: %s: the chat cannot be told from others: %w", policy.OpListChats, key.unresolved)
	}
	return c.findGroup(ctx, key, since)
}
