package graphchat

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/graphchat/graphchat/policy"
)

// Limits of list chats that finding relies on.
const (
	// expandedMembersLimit is the most members list chats returns for a
	// chat with $expand=members: "the response returns a maximum of 25
	// member items, even if a larger $top value is specified" (known issue
	// on the List chats page, learn.microsoft.com/graph/api/chat-list). A
	// chat listed with this many may have more: they are read with
	// GET /chats/{id}/members before it can match.
	expandedMembersLimit = 25
	// listPageSize is the largest $top list chats accepts (same page).
	listPageSize = 50
	// listRate is the requests a second graphchat sends to list one user's
	// chats: "a maximum of five requests per second per user can be issued
	// when doing List chats or Get chat" (Microsoft Graph throttling limits,
	// Microsoft Teams section). A 429 is still honoured (Retry-After).
	listRate = 5
)

// FindOptions narrow Find. A nil *FindOptions matches chats of any type and
// topic, listing the signed-in user's chats.
type FindOptions struct {
	// Type, when set, is the only chat type that matches
	// (policy.ChatTypeOneOnOne, policy.ChatTypeGroup or
	// policy.ChatTypeMeeting); "" matches any.
	Type policy.ChatType
	// Topic, when non-nil, is the only topic that matches, compared
	// exactly; a pointer to "" matches chats without a topic. nil matches
	// any topic.
	Topic *string
	// User is the user whose chats are listed, by object id or user
	// principal name, and must be one of the members. An application
	// client (no signed-in user) lists GET /users/{id}/chats and needs it;
	// a delegated client lists the signed-in user's chats (GET /me/chats)
	// and accepts only the signed-in user here.
	User string
}

// ErrMultipleMatches matches a *MatchesError.
var ErrMultipleMatches = errors.New("graphchat: several chats match")

// MatchesError reports that several chats have exactly the members asked
// for, so FindOrCreate could not tell which one to return. Candidates are
// in Find's order (oldest first). Set FindOrCreateOptions.Pick to choose one
// instead.
type MatchesError struct {
	Members    []string // the members asked for, as given
	Candidates []models.Chatable
}

func (e *MatchesError) Error() string {
	ids := make([]string, len(e.Candidates))
	for i, c := range e.Candidates {
		ids[i] = deref(c.GetId())
	}
	return fmt.Sprintf("graphchat: find-or-create: %d chats have exactly the members %s: %s (set FindOrCreateOptions.Pick to choose one)",
		len(e.Candidates), strings.Join(e.Members, ", "), strings.Join(ids, ", "))
}

// Is matches ErrMultipleMatches.
func (e *MatchesError) Is(target error) bool { return target == ErrMultipleMatches }

// Find returns the chats whose members are exactly the given users: the
// same set, compared by object id and, for users of other tenants, home
// tenant id; never by email or display name (external members come back
// with neither). Members given by user principal name are first identified
// by object id, case-insensitively, from the signed-in user's claims,
// Options.Directory, this Client's cache or, when policy.OpResolveUser is
// declared, GET /users/{upn}?$select=id (delegated: User.ReadBasic.All;
// application: User.Read.All, policy's catalogue); each once per
// Client. An external member needs its object id and its TenantID.
//
// Find reads every page of the listed user's chats (GET /me/chats, or
// GET /users/{id}/chats for FindOptions.User; $expand=members, $top=50,
// $filter on the type and topic asked for), at most five requests a second
// for one user, the documented limit, and honours 429s. A chat listed with
// 25 members, the most the listing expands, that could match is completed
// with GET /chats/{id}/members (policy.OpListMembers). It needs
// policy.OpListChats declared.
//
// The chats are returned oldest first (createdDateTime, then id), each with
// its members; none is an empty slice and no error. Bad input (an external
// member without its tenant, a name that resolves to nothing, a user to
// list who is not a member) is an error naming it, before any listing; a
// failed page (throttled past the retries, a next link to another host) is
// an error, never a partial answer.
func (c *Client) Find(ctx context.Context, members []Member, opts *FindOptions) ([]models.Chatable, error) {
	if opts == nil {
		opts = &FindOptions{}
	}
	q, err := c.findQuery(ctx, members, *opts)
	if err != nil {
		return nil, err
	}
	return c.find(ctx, q, time.Time{})
}

// query is a resolved search: what to match and whose chats to list.
type query struct {
	key groupKey
	who string // "" for the signed-in user; otherwise a user's object id
}

// filter is the $filter of a listing for the key: the documented clauses on
// chatType and topic.
func (q query) filter() string {
	var clauses []string
	if q.key.typ != "" {
		clauses = append(clauses, "chatType eq '"+string(q.key.typ)+"'")
	}
	if !q.key.anyTopic && q.key.topic != nil && *q.key.topic != "" {
		clauses = append(clauses, "topic eq '"+strings.ReplaceAll(*q.key.topic, "'", "''")+"'")
	}
	return strings.Join(clauses, " and ")
}

// findQuery checks and resolves the input of Find before any listing.
func (c *Client) findQuery(ctx context.Context, members []Member, opts FindOptions) (query, error) {
	op := policy.OpListChats
	if err := c.checkGrant(ctx, op); err != nil {
		return query{}, err
	}
	pc, err := c.context(ctx, op)
	if err != nil {
		return query{}, err
	}
	switch opts.Type {
	case "", policy.ChatTypeOneOnOne, policy.ChatTypeGroup, policy.ChatTypeMeeting:
	default:
		return query{}, fmt.Errorf("graphchat: %s: FindOptions.Type %q: want oneOnOne, group, meeting or empty", op, opts.Type)
	}
	key := groupKey{typ: opts.Type, topic: opts.Topic, anyTopic: opts.Topic == nil}
	if key.members, err = c.memberKeys(ctx, members, pc); err != nil {
		return query{}, err
	}
	who, err := c.lister(ctx, key, opts.User, pc)
	if err != nil {
		return query{}, err
	}
	return query{key: key, who: who}, nil
}

// memberKeys identifies members by (object id, tenant id) for matching,
// refusing what cannot be matched safely. An empty tenant stands for the
// caller's tenant when it is not known.
func (c *Client) memberKeys(ctx context.Context, members []Member, pc *policy.Context) ([]memberKey, error) {
	op := policy.OpListChats
	if len(members) == 0 {
		return nil, fmt.Errorf("graphchat: %s: no members given", op)
	}
	out := make([]memberKey, 0, len(members))
	seen := map[string]int{}
	for i, m := range members {
		switch {
		case strings.TrimSpace(m.User) == "":
			return nil, fmt.Errorf("graphchat: %s: members[%d]: the user is empty: want an object id or a user principal name", op, i)
		case m.Kind == policy.KindExternal && m.TenantID == "":
			return nil, fmt.Errorf("graphchat: %s: members[%d] %q is external: give its home tenant id (graphchat.External(id, tenantID))", op, i, m.User)
		case m.TenantID != "" && !policy.IsObjectID(m.TenantID):
			return nil, fmt.Errorf("graphchat: %s: members[%d] %q: tenant id %q is not a GUID", op, i, m.User, m.TenantID)
		case otherTenant(m.TenantID, pc.TenantID) && !policy.IsObjectID(m.User):
			return nil, fmt.Errorf("graphchat: %s: members[%d] %q is of another tenant: give it by object id, as the service lists it", op, i, m.User)
		}
		id, err := c.objectID(ctx, m.User, pc, c.dir)
		if err != nil {
			return nil, fmt.Errorf("graphchat: %s: members[%d] %q: %w", op, i, m.User, err)
		}
		id = strings.ToLower(id)
		if j, dup := seen[id]; dup {
			return nil, fmt.Errorf("graphchat: %s: members[%d] %q is members[%d] again", op, i, m.User, j)
		}
		seen[id] = i
		tenant := m.TenantID
		if tenant == "" {
			tenant = pc.TenantID
		}
		out = append(out, memberKey{userID: id, tenantID: strings.ToLower(tenant)})
	}
	return out, nil
}

// lister decides whose chats to list: the signed-in user's for delegated
// calls, the named user's for application calls. The user must be a
// member: no one else's chats can hold the chat.
func (c *Client) lister(ctx context.Context, key groupKey, user string, pc *policy.Context) (string, error) {
	op := policy.OpListChats
	if pc.Auth == policy.AuthApplication {
		if user == "" {
			return "", fmt.Errorf("graphchat: %s: an application client has no signed-in user: name the user whose chats to list (FindOptions.User), one of the members", op)
		}
		id, err := c.objectID(ctx, user, pc, c.dir)
		if err != nil {
			return "", fmt.Errorf("graphchat: %s: FindOptions.User %q: %w", op, user, err)
		}
		if !key.has(id) {
			return "", fmt.Errorf("graphchat: %s: FindOptions.User %q is not one of the members: its chats cannot hold the chat", op, user)
		}
		return strings.ToLower(id), nil
	}
	caller := pc.Caller.ID
	if user != "" && !strings.EqualFold(user, caller) && !strings.EqualFold(user, pc.Caller.UserPrincipalName) {
		return "", fmt.Errorf("graphchat: %s: FindOptions.User %q: a delegated client lists only the signed-in user's chats", op, user)
	}
	if policy.IsObjectID(caller) && !key.has(caller) {
		return "", fmt.Errorf("graphchat: %s: the signed-in user %s is not one of the members: its chats cannot hold the chat", op, caller)
	}
	return "", nil
}

func (k groupKey) has(id string) bool {
	return slices.ContainsFunc(k.members, func(m memberKey) bool { return strings.EqualFold(m.userID, id) })
}

// find lists the chats of q.who and returns those that match, oldest first.
func (c *Client) find(ctx context.Context, q query, since time.Time) ([]models.Chatable, error) {
	var found []models.Chatable
	err := c.listChats(ctx, q.who, q.filter(), func(chat models.Chatable) error {
		ok, err := c.matches(ctx, chat, q.key, since)
		if ok {
			found = append(found, chat)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sortChats(found)
	if found == nil {
		found = []models.Chatable{}
	}
	return found, nil
}

// sortChats orders chats oldest first, then by id: the order Find
// documents.
func sortChats(chats []models.Chatable) {
	sort.SliceStable(chats, func(i, j int) bool {
		a, b := chats[i].GetCreatedDateTime(), chats[j].GetCreatedDateTime()
		switch {
		case a != nil && b != nil && !a.Equal(*b):
			return a.Before(*b)
		case (a == nil) != (b == nil):
			return a != nil // chats without a date last
		}
		return deref(chats[i].GetId()) < deref(chats[j].GetId())
	})
}

// matches applies the strict matcher to a listed chat, first reading the
// rest of its members when the listing may have cut them and it could
// still match. On a match the chat holds its complete members.
func (c *Client) matches(ctx context.Context, chat models.Chatable, key groupKey, since time.Time) (bool, error) {
	if !key.describes(chat, since) {
		return false, nil
	}
	members := chat.GetMembers()
	if len(members) < expandedMembersLimit {
		return key.sameMembers(chat, members), nil
	}
	if len(members) > len(key.members) || !key.contains(chat, members) {
		return false, nil // more members than asked for, or someone else
	}
	id := deref(chat.GetId())
	if !c.declared(policy.OpListMembers) {
		return false, fmt.Errorf("graphchat: %s: chat %q is listed with %d members, the most the listing expands, and may have more: declare %s to read them", policy.OpListChats, id, len(members), policy.OpListMembers)
	}
	all, err := c.ListMembers(ctx, id)
	if err != nil {
		return false, fmt.Errorf("graphchat: reading the members of chat %q: %w", id, err)
	}
	chat.SetMembers(all)
	return key.sameMembers(chat, all), nil
}

// describes applies the key's type, topic and creation time to a chat.
func (k groupKey) describes(chat models.Chatable, since time.Time) bool {
	if k.unresolved != nil || isNil(chat) {
		return false
	}
	if k.typ != "" && (chat.GetChatType() == nil || chat.GetChatType().String() != string(k.typ)) {
		return false
	}
	if !k.anyTopic && deref(k.topic) != deref(chat.GetTopic()) {
		return false
	}
	if !since.IsZero() {
		if created := chat.GetCreatedDateTime(); created == nil || created.Before(since.Add(-lookupSkew)) {
			return false
		}
	}
	return true
}

// listedMember identifies a listed member by (userId, tenantId), lower
// case; a member without a tenant is in the chat's. ok is false for a
// member that is not an Entra user with an id: such a chat never matches.
func listedMember(chat models.Chatable, m models.ConversationMemberable) (memberKey, bool) {
	am, ok := m.(models.AadUserConversationMemberable)
	if !ok || isNil(am) || deref(am.GetUserId()) == "" {
		return memberKey{}, false
	}
	tenant := deref(am.GetTenantId())
	if tenant == "" {
		tenant = deref(chat.GetTenantId())
	}
	return memberKey{userID: strings.ToLower(deref(am.GetUserId())), tenantID: strings.ToLower(tenant)}, true
}

// wanted is the key's members, with the chat's tenant for members whose
// tenant is not known.
func (k groupKey) wanted(chat models.Chatable) map[memberKey]bool {
	chatTenant := strings.ToLower(deref(chat.GetTenantId()))
	want := make(map[memberKey]bool, len(k.members))
	for _, m := range k.members {
		if m.tenantID == "" {
			m.tenantID = chatTenant
		}
		want[m] = true
	}
	return want
}

// contains reports whether every listed member is one of the key's.
func (k groupKey) contains(chat models.Chatable, members []models.ConversationMemberable) bool {
	want := k.wanted(chat)
	for _, m := range members {
		mk, ok := listedMember(chat, m)
		if !ok || !want[mk] {
			return false
		}
	}
	return true
}

// sameMembers reports whether the members are exactly the key's, as a set.
func (k groupKey) sameMembers(chat models.Chatable, members []models.ConversationMemberable) bool {
	if len(members) != len(k.members) || !k.contains(chat, members) {
		return false
	}
	listed := make(map[memberKey]bool, len(members))
	for _, m := range members {
		mk, _ := listedMember(chat, m)
		listed[mk] = true
	}
	return len(listed) == len(k.members)
}

// listChats reads every page of a user's chats with their members
// expanded: GET /me/chats for the signed-in user (who == ""), otherwise
// GET /users/{who}/chats; filter is a $filter or "". Requests for one user
// are paced to listRate.
func (c *Client) listChats(ctx context.Context, who, filter string, each func(models.Chatable) error) error {
	tmpl, params := "{+baseurl}/me/chats{?%24filter,%24expand,%24top}", map[string]string{}
	if who != "" {
		tmpl = "{+baseurl}/users/{user%2Did}/chats{?%24filter,%24expand,%24top}"
		params["user%2Did"] = who
	}
	info := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET, tmpl, params)
	if filter != "" {
		info.QueryParameters["%24filter"] = filter
	}
	info.QueryParameters["%24expand"] = "members"
	info.QueryParameters["%24top"] = fmt.Sprint(listPageSize)
	what := "the signed-in user's chats"
	if who != "" {
		what = fmt.Sprintf("the chats of user %q", who)
	}
	return pageAll(ctx, c, policy.OpListChats, what, info, models.CreateChatCollectionResponseFromDiscriminatorValue, c.finding.pacer(who), each)
}

// collection is a page of a Graph collection.
type collection[T any] interface {
	GetValue() []T
	GetOdataNextLink() *string
}

// maxPages bounds a listing, against a service that keeps giving next links.
const maxPages = 100_000

// pageAll is the one pager of graphchat: it sends info, calls each for
// every item of every page of what (for errors), and follows @odata.nextLink on the base URL's
// host only, until the last page. A page that fails (after the pipeline's
// retries, 429s included), a link to another host, a link already
// followed, or an answer that is not a collection ends it with an error
// naming the operation and the page: never a partial answer. pace, when
// set, is waited for before each request.
func pageAll[T any](ctx context.Context, c *Client, op policy.Operation, what string, info *abs.RequestInformation, factory absser.ParsableFactory, pace *pacer, each func(T) error) error {
	errs := abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}
	info.Headers.TryAdd("Accept", "application/json")
	followed := map[string]bool{}
	for page := 1; page <= maxPages; page++ {
		if pace != nil {
			if err := pace.wait(ctx, 1); err != nil {
				return err
			}
		}
		got, err := c.adapter.Send(ctx, info, factory, errs)
		if err != nil {
			err = translate(string(op), err)
			var ge *Error
			if pace != nil && errors.As(err, &ge) && errors.Is(ge, ErrThrottled) {
				pace.throttled(ge.RetryAfter)
			}
			return fmt.Errorf("graphchat: %s: %s, page %d: %w", op, what, page, err)
		}
		resp, ok := got.(collection[T])
		if !ok || isNil(got) {
			return fmt.Errorf("graphchat: %s: %s, page %d: the answer is not a collection", op, what, page)
		}
		for _, v := range resp.GetValue() {
			if err := each(v); err != nil {
				return err
			}
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return nil
		}
		if err := c.sameHost(next); err != nil {
			return fmt.Errorf("graphchat: %s: %s, page %d: %w: %w", op, what, page, errRedirect, err)
		}
		if followed[next] {
			return fmt.Errorf("graphchat: %s: %s, page %d: the next link repeats an earlier one: the listing does not end", op, what, page)
		}
		followed[next] = true
		u, err := url.Parse(next)
		if err != nil {
			return fmt.Errorf("graphchat: %s: %s, page %d: next link: %w", op, what, page, err)
		}
		info = abs.NewRequestInformation()
		info.Method = abs.GET
		info.SetUri(*u)
		info.Headers.TryAdd("Accept", "application/json")
	}
	return fmt.Errorf("graphchat: %s: %s: more than %d pages", op, what, maxPages)
}

// finding is the state a Client keeps for finding chats: a pacer per
// listed user, and a lock per set of people being found or created.
type finding struct {
	mu     sync.Mutex
	pacers map[string]*pacer
	locks  map[string]*keyLock
}

type keyLock struct {
	mu      sync.Mutex
	holders int
}

// maxPacers bounds the pacers kept; beyond it they are forgotten (a new one
// starts unpaced, which the 429 handling covers).
const maxPacers = 1 << 12

func (f *finding) pacer(who string) *pacer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pacers == nil || len(f.pacers) >= maxPacers {
		f.pacers = map[string]*pacer{}
	}
	p := f.pacers[strings.ToLower(who)]
	if p == nil {
		p = newPacer(listRate)
		f.pacers[strings.ToLower(who)] = p
	}
	return p
}

// lock serializes callers of this Client on one key; the returned function
// unlocks.
func (f *finding) lock(key string) func() {
	f.mu.Lock()
	if f.locks == nil {
		f.locks = map[string]*keyLock{}
	}
	l := f.locks[key]
	if l == nil {
		l = &keyLock{}
		f.locks[key] = l
	}
	l.holders++
	f.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		f.mu.Lock()
		if l.holders--; l.holders == 0 {
			delete(f.locks, key)
		}
		f.mu.Unlock()
	}
}

// setKey is the members of a key as one string: their object ids, sorted.
func (k groupKey) setKey() string {
	ids := make([]string, len(k.members))
	for i, m := range k.members {
		ids[i] = m.userID
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// chatSetKey is the same string for a chat's listed members; ok is false
// when a member cannot be identified.
func chatSetKey(chat models.Chatable) (string, bool) {
	ms := chat.GetMembers()
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		mk, ok := listedMember(chat, m)
		if !ok {
			return "", false
		}
		ids = append(ids, mk.userID)
	}
	sort.Strings(ids)
	return strings.Join(ids, ","), true
}

// Pick chooses among several chats that match in FindOrCreate.
type Pick string

// Picks.
const (
	// PickNone returns a *MatchesError carrying the candidates.
	PickNone Pick = ""
	// PickOldest returns the oldest (createdDateTime, then id): the first
	// in Find's order, the same for every caller.
	PickOldest Pick = "oldest"
)

// FindOrCreateOptions control FindOrCreate. A nil *FindOrCreateOptions
// means the defaults.
type FindOrCreateOptions struct {
	// Pick says what to do when several chats match; default PickNone.
	Pick Pick
	// User is whose chats are listed, as FindOptions.User: required for an
	// application client.
	User string
	// Index, when set, answers the lookup instead of a listing (see
	// ChatIndex), and records the chat created. It must list the chats of
	// User (or the signed-in user's). No check after creating is made.
	Index *ChatIndex
}

// FindOrCreate returns the chat whose members are exactly the given users
// (and, for a group, whose topic is topic, "" for none), creating it when
// there is none. Created.Existed says that it existed; Created.Recovered
// that it was created by a request whose answer was lost.
//
// A one-on-one chat is simply created: the service returns the existing one
// (it keeps one chat per pair of users), and nothing is listed.
//
// A group chat is first checked by the policy (a refused request lists and
// sends nothing), then looked for as Find does (policy.OpListChats must be
// declared). One match is returned; several are a *MatchesError carrying
// them, unless opts.Pick chooses one; none is created as CreateGroup does
// (after an ambiguous failure the chat is looked up before any retry).
// A listing that fails creates nothing.
//
// Group creation is not idempotent at the service, and two callers that
// both find nothing both create a chat. Within one Client, FindOrCreate
// calls for the same people and topic run one after the other, so they
// never do. Across Clients or processes graphchat cannot prevent it: after
// creating, it lists again and reports in Created.Duplicates the other
// chats that match (of two such callers, the one that lists last sees the
// other's chat). The oldest of them is what FindOrCreate with PickOldest
// returns from then on. When that check fails, the Created is returned
// with the error.
func (c *Client) FindOrCreate(ctx context.Context, typ policy.ChatType, topic string, members []Member, opts *FindOrCreateOptions) (*Created, error) {
	if opts == nil {
		opts = &FindOrCreateOptions{}
	}
	if opts.Pick != PickNone && opts.Pick != PickOldest {
		return nil, fmt.Errorf("graphchat: FindOrCreateOptions.Pick %q: want \"\" or %q", opts.Pick, PickOldest)
	}
	switch typ {
	case policy.ChatTypeOneOnOne:
		if topic != "" {
			return nil, fmt.Errorf("graphchat: find-or-create: a one-on-one chat has no topic (got %q)", topic)
		}
		return c.createFromMembers(ctx, typ, nil, members)
	case policy.ChatTypeGroup:
	default:
		return nil, fmt.Errorf("graphchat: find-or-create: chat type %q: want oneOnOne or group", typ)
	}
	pcList, err := c.context(ctx, policy.OpListChats)
	if err != nil {
		return nil, err
	}
	if err := c.checkGrant(ctx, policy.OpListChats); err != nil {
		return nil, err
	}
	res, key, err := c.prepareMembers(ctx, typ, topicRef(topic), members)
	if err != nil {
		return nil, err
	}
	if key, err = c.reuseKey(ctx, key, topic, members, pcList); err != nil {
		return nil, err
	}
	q, err := c.reuseQuery(ctx, key, opts, pcList)
	if err != nil {
		return nil, err
	}
	unlock := c.finding.lock(key.setKey() + "|" + topic)
	defer unlock()

	found, err := c.lookupQuery(ctx, q, opts.Index)
	if err != nil {
		return nil, err
	}
	if one, err := chooseFound(found, opts.Pick, usersOf(members)); err != nil || one != nil {
		if err != nil {
			return nil, err
		}
		return &Created{Chat: one, Existed: true, Warnings: res.Warnings}, nil
	}
	return c.createNotFound(ctx, q, typ, topic, members, opts.Index, res.Warnings)
}

// reuseQuery is the listing FindOrCreate looks in for the key: the index's,
// when it can answer for the key and user, or that of the user whose chats
// are listed (see lister).
func (c *Client) reuseQuery(ctx context.Context, key groupKey, opts *FindOrCreateOptions, pcList *policy.Context) (query, error) {
	q := query{key: key}
	if opts.Index != nil {
		q.who = opts.Index.who
		return q, opts.Index.accepts(key, opts.User, pcList)
	}
	var err error
	q.who, err = c.lister(ctx, key, opts.User, pcList)
	return q, err
}

// lookupQuery returns the chats that match q's key, from the index when
// there is one, otherwise by listing q's user's chats.
func (c *Client) lookupQuery(ctx context.Context, q query, ix *ChatIndex) ([]models.Chatable, error) {
	if ix != nil {
		return ix.lookup(ctx, q.key)
	}
	return c.find(ctx, q, time.Time{})
}

// createNotFound creates the group chat FindOrCreate found none of, as
// CreateGroup does, then records it in the index, or, without one, lists
// again and reports the other chats that match as Created.Duplicates.
func (c *Client) createNotFound(ctx context.Context, q query, typ policy.ChatType, topic string, members []Member, ix *ChatIndex, warnings policy.List) (*Created, error) {
	chat, err := ChatModel(c.cloud, c.version(), typ, topic, members...)
	if err != nil {
		return nil, err
	}
	created, err := c.postGroup(ctx, chat, q.key, warnings)
	if err != nil || created.Chat == nil {
		return created, err
	}
	if ix != nil {
		ix.record(q.key, created.Chat)
		return created, nil
	}
	after, err := c.find(ctx, q, time.Time{})
	if err != nil {
		return created, fmt.Errorf("graphchat: find-or-create: chat %q was created, but the check for duplicates failed: %w", created.ID(), err)
	}
	for _, other := range after {
		if deref(other.GetId()) != created.ID() {
			created.Duplicates = append(created.Duplicates, other)
		}
	}
	return created, nil
}

// reuseKey completes the key of a group chat to find or create (from
// prepareCreate): its members identified as Find does (the same refusals,
// and no user twice: an object id and a name may be the same user), and its
// topic ("" and no topic are the same chat). FindOrCreate and bulk creation
// with BulkOptions.Reuse use it.
func (c *Client) reuseKey(ctx context.Context, key groupKey, topic string, members []Member, pcList *policy.Context) (groupKey, error) {
	if key.unresolved != nil {
		return key, fmt.Errorf("graphchat: find-or-create: the chat cannot be told from others: %w", key.unresolved)
	}
	var err error
	if key.members, err = c.memberKeys(ctx, members, pcList); err != nil {
		return key, err
	}
	key.topic = &topic
	return key, nil
}

// chooseFound decides among the chats found for members, as given (in
// Find's order):
// the one, or the oldest with PickOldest; nil when there is none. Several
// without a pick are a *MatchesError.
func chooseFound(found []models.Chatable, pick Pick, members []string) (models.Chatable, error) {
	switch {
	case len(found) == 0:
		return nil, nil
	case len(found) == 1 || pick == PickOldest:
		return found[0], nil
	}
	return nil, &MatchesError{Members: members, Candidates: found}
}

// usersOf is the members' users as given.
func usersOf(members []Member) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.User
	}
	return out
}

// ChatIndex holds one user's chats by set of members, read from the
// service once (at the first lookup), so that many lookups cost one
// listing: the way to find or create many chats (see
// FindOrCreateOptions.Index). It matches as Find does. It sees the chats
// created after it was read only when told of them: those FindOrCreate
// creates through it. It is safe for concurrent use.
type ChatIndex struct {
	c      *Client
	who    string          // "" for the signed-in user
	caller string          // the signed-in user's object id, when known
	typ    policy.ChatType // "" for every type

	mu      sync.Mutex
	loaded  bool
	byKey   map[string][]models.Chatable // by setKey, complete member lists
	partial []models.Chatable            // listed with expandedMembersLimit members: maybe more
}

// NewChatIndex returns an index of the chats of opts.User (an application
// client must name one) or of the signed-in user, of type opts.Type ("" for
// every type). opts.Topic must be nil: the index holds every topic. Nothing
// is read until the first lookup.
func (c *Client) NewChatIndex(ctx context.Context, opts *FindOptions) (*ChatIndex, error) {
	if opts == nil {
		opts = &FindOptions{}
	}
	op := policy.OpListChats
	if opts.Topic != nil {
		return nil, fmt.Errorf("graphchat: %s: NewChatIndex: FindOptions.Topic must be nil: an index holds every topic", op)
	}
	switch opts.Type {
	case "", policy.ChatTypeOneOnOne, policy.ChatTypeGroup, policy.ChatTypeMeeting:
	default:
		return nil, fmt.Errorf("graphchat: %s: FindOptions.Type %q: want oneOnOne, group, meeting or empty", op, opts.Type)
	}
	if err := c.checkGrant(ctx, op); err != nil {
		return nil, err
	}
	pc, err := c.context(ctx, op)
	if err != nil {
		return nil, err
	}
	ix := &ChatIndex{c: c, typ: opts.Type}
	if ix.who, err = c.whoseChats(ctx, opts.User, "index", pc); err != nil {
		return nil, err
	}
	if ix.who == "" {
		ix.caller = strings.ToLower(pc.Caller.ID)
	}
	return ix, nil
}

// whoseChats decides whose chats a listing of every chat reads (what is
// the listing for: "index", "list"): the named user's for an application
// (its object id, lower case; a name is resolved as Find does), "" for the
// signed-in user's, who is the only user a delegated client may name.
func (c *Client) whoseChats(ctx context.Context, user, what string, pc *policy.Context) (string, error) {
	op := policy.OpListChats
	switch {
	case pc.Auth == policy.AuthApplication && user == "":
		return "", fmt.Errorf("graphchat: %s: an application client has no signed-in user: name the user whose chats to %s (FindOptions.User)", op, what)
	case pc.Auth == policy.AuthApplication:
		id, err := c.objectID(ctx, user, pc, c.dir)
		if err != nil {
			return "", fmt.Errorf("graphchat: %s: FindOptions.User %q: %w", op, user, err)
		}
		return strings.ToLower(id), nil
	case user != "" && !strings.EqualFold(user, pc.Caller.ID) && !strings.EqualFold(user, pc.Caller.UserPrincipalName):
		return "", fmt.Errorf("graphchat: %s: FindOptions.User %q: a delegated client lists only the signed-in user's chats", op, user)
	}
	return "", nil
}

// ListChats returns every chat of the signed-in user, or of opts.User (an
// application client must name one; a delegated client may name only the
// signed-in user), of type opts.Type and topic opts.Topic when they are
// set, oldest first (createdDateTime, then id), each once. It reads every
// page as Find does (GET /me/chats or GET /users/{id}/chats,
// $expand=members, $top=50, $filter on the type and topic; paced to five
// requests a second for one user; 429s honoured): a page that still fails
// is an error, never a partial list. Each chat holds its members as
// listed, at most 25 (the most the listing expands); ListMembers reads
// them all. It needs policy.OpListChats, and policy.OpResolveUser for a
// user given by a name the Client does not know.
func (c *Client) ListChats(ctx context.Context, opts *FindOptions) ([]models.Chatable, error) {
	if opts == nil {
		opts = &FindOptions{}
	}
	op := policy.OpListChats
	if err := c.checkGrant(ctx, op); err != nil {
		return nil, err
	}
	pc, err := c.context(ctx, op)
	if err != nil {
		return nil, err
	}
	switch opts.Type {
	case "", policy.ChatTypeOneOnOne, policy.ChatTypeGroup, policy.ChatTypeMeeting:
	default:
		return nil, fmt.Errorf("graphchat: %s: FindOptions.Type %q: want oneOnOne, group, meeting or empty", op, opts.Type)
	}
	q := query{key: groupKey{typ: opts.Type, topic: opts.Topic, anyTopic: opts.Topic == nil}}
	if q.who, err = c.whoseChats(ctx, opts.User, "list", pc); err != nil {
		return nil, err
	}
	out := []models.Chatable{}
	seen := map[string]bool{}
	err = c.listChats(ctx, q.who, q.filter(), func(chat models.Chatable) error {
		// Offset paging may list a chat twice when chats are created
		// meanwhile; the filter is applied again in case it was not.
		if isNil(chat) || seen[deref(chat.GetId())] || !q.key.describes(chat, time.Time{}) {
			return nil
		}
		seen[deref(chat.GetId())] = true
		out = append(out, chat)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortChats(out)
	return out, nil
}

// Find returns the indexed chats whose members are exactly the given users
// and whose topic is topic (nil: any topic; a pointer to "": none), oldest
// first, as Client.Find would have when the index was read.
func (ix *ChatIndex) Find(ctx context.Context, members []Member, topic *string) ([]models.Chatable, error) {
	pc, err := ix.c.context(ctx, policy.OpListChats)
	if err != nil {
		return nil, err
	}
	key := groupKey{typ: ix.typ, topic: topic, anyTopic: topic == nil}
	if key.members, err = ix.c.memberKeys(ctx, members, pc); err != nil {
		return nil, err
	}
	if err := ix.accepts(key, "", pc); err != nil {
		return nil, err
	}
	return ix.lookup(ctx, key)
}

// accepts checks that the index can answer for the key: the listed user
// is a member, and user, when given, is that user.
func (ix *ChatIndex) accepts(key groupKey, user string, pc *policy.Context) error {
	op := policy.OpListChats
	lists := ix.who
	if lists == "" {
		lists = ix.caller
	}
	switch {
	case ix.typ != "" && key.typ != "" && key.typ != ix.typ:
		return fmt.Errorf("graphchat: %s: the index holds %s chats, not %s", op, ix.typ, key.typ)
	case user != "" && !strings.EqualFold(user, lists) && !(ix.who == "" && strings.EqualFold(user, pc.Caller.UserPrincipalName)):
		return fmt.Errorf("graphchat: %s: the index lists the chats of %q, not of %q", op, lists, user)
	case lists != "" && !key.has(lists):
		return fmt.Errorf("graphchat: %s: the index lists the chats of %s, who is not one of the members: they cannot hold the chat", op, lists)
	}
	return nil
}

// lookup returns the indexed chats that match the key, oldest first,
// reading the index at the first call and the rest of the members of
// chats the listing may have cut that could match.
func (ix *ChatIndex) lookup(ctx context.Context, key groupKey) ([]models.Chatable, error) {
	if key.unresolved != nil {
		return nil, key.unresolved
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ix.load(ctx); err != nil {
		return nil, err
	}
	var found []models.Chatable
	for _, chat := range ix.byKey[key.setKey()] {
		if key.describes(chat, time.Time{}) && key.sameMembers(chat, chat.GetMembers()) {
			found = append(found, chat)
		}
	}
	if len(key.members) >= expandedMembersLimit {
		kept := ix.partial[:0:0]
		for _, chat := range ix.partial {
			ms := chat.GetMembers()
			if !key.describes(chat, time.Time{}) || len(ms) > len(key.members) || !key.contains(chat, ms) {
				kept = append(kept, chat)
				continue
			}
			ok, err := ix.c.matches(ctx, chat, key, time.Time{}) // reads the rest of its members
			if err != nil {
				return nil, err
			}
			ix.put(chat) // complete now
			if ok {
				found = append(found, chat)
			}
		}
		ix.partial = kept
	}
	sortChats(found)
	if found == nil {
		found = []models.Chatable{}
	}
	return found, nil
}

// read reads the index, unless it was read already: bulk creation reads it
// once, up front, so that a failure is told from a failed lookup.
func (ix *ChatIndex) read(ctx context.Context) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.load(ctx)
}

// load reads the index once; after a failure the next lookup tries again.
func (ix *ChatIndex) load(ctx context.Context) error {
	if ix.loaded {
		return nil
	}
	ix.byKey, ix.partial = map[string][]models.Chatable{}, nil
	seen := map[string]bool{}
	filter := ""
	if ix.typ != "" {
		filter = "chatType eq '" + string(ix.typ) + "'"
	}
	err := ix.c.listChats(ctx, ix.who, filter, func(chat models.Chatable) error {
		if isNil(chat) || seen[deref(chat.GetId())] {
			return nil
		}
		seen[deref(chat.GetId())] = true
		if len(chat.GetMembers()) >= expandedMembersLimit {
			ix.partial = append(ix.partial, chat)
			return nil
		}
		ix.put(chat)
		return nil
	})
	if err != nil {
		ix.byKey, ix.partial = nil, nil
		return err
	}
	ix.loaded = true
	return nil
}

// put files a chat with its complete members under their set.
func (ix *ChatIndex) put(chat models.Chatable) {
	if k, ok := chatSetKey(chat); ok {
		ix.byKey[k] = append(ix.byKey[k], chat)
	}
}

// record adds a chat created for the key (a creation's answer carries no
// members: the key's are given to it).
func (ix *ChatIndex) record(key groupKey, chat models.Chatable) {
	if isNil(chat) {
		return
	}
	ms := make([]models.ConversationMemberable, len(key.members))
	for i, m := range key.members {
		am := models.NewAadUserConversationMember()
		id, tenant := m.userID, m.tenantID
		am.SetUserId(&id)
		if tenant != "" {
			am.SetTenantId(&tenant)
		}
		ms[i] = am
	}
	chat.SetMembers(ms)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.loaded {
		ix.put(chat)
	}
}
