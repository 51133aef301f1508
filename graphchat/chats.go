package graphchat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/policy"
)

const defaultTimeout = 100 * time.Second

// Created is the outcome of a chat creation.
type Created struct {
	// Chat is the chat the service returned; nil when it answered 202
	// (a chat created with an app to install).
	Chat models.Chatable
	// Existed is true when the service returned a one-on-one chat that
	// already existed (it never creates a second one for the same two
	// users). It is decided by the chat's createdDateTime: earlier than the
	// request by more than the round trip plus one second on the service's
	// own clock (its Date header), or a chat this Client returned before.
	// A chat created by someone else within that second counts as new.
	Existed bool
	// Operation is the Location of the operation the service started when
	// it answered 202, such as /chats('19:...')/operations('...').
	Operation string
	// Recovered is true when the creation failed ambiguously (a timeout,
	// 500/502/503/504, a dropped connection) and the chat was then found to
	// exist: it was created once, by this request.
	Recovered bool
	// Warnings are the policy's warnings about the request.
	Warnings policy.List
}

// ID returns the chat's id, or "" when the service returned no chat.
func (c *Created) ID() string {
	if c == nil || c.Chat == nil {
		return ""
	}
	return deref(c.Chat.GetId())
}

// CreateOptions add what is known of a chat's members to Create and Check.
type CreateOptions struct {
	// Directory is what is known of the chat's users (kinds, home tenants),
	// looked up by the object id or user principal name of their bind URL.
	// It adds to Options.Directory; the two must not contradict each other.
	Directory *policy.Directory
}

// CreateOneOnOne creates the one-on-one chat of two users, or returns the
// one that exists. For a delegated call one of them is the signed-in user.
func (c *Client) CreateOneOnOne(ctx context.Context, a, b Member) (*Created, error) {
	return c.createFromMembers(ctx, policy.ChatTypeOneOnOne, nil, []Member{a, b})
}

// CreateGroup creates a group chat with a topic ("" for none) and members.
// Group creation is not idempotent: every call that succeeds makes a new
// chat. After an ambiguous failure (a timeout, 500, 502, 503 or 504, a
// connection dropped after sending) the chat is looked up first, when
// policy.OpListChats is declared, and sent again only if it does not exist
// (Created.Recovered says when it was found); otherwise, or when the lookup
// cannot decide, the error is an *AmbiguousError and nothing is retried.
func (c *Client) CreateGroup(ctx context.Context, topic string, members ...Member) (*Created, error) {
	var t *string
	if topic != "" {
		t = &topic
	}
	return c.createFromMembers(ctx, policy.ChatTypeGroup, t, members)
}

func (c *Client) createFromMembers(ctx context.Context, typ policy.ChatType, topic *string, members []Member) (*Created, error) {
	req := &policy.Request{ChatType: typ, Topic: topic, Members: make([]policy.Member, len(members))}
	for i, m := range members {
		req.Members[i] = m.policy()
	}
	pc, err := c.context(ctx, policy.OpCreateChat)
	if err != nil {
		return nil, err
	}
	res, key, err := c.prepareCreate(ctx, req, pc, nil)
	if err != nil {
		return nil, err
	}
	chat, err := ChatModel(c.cloud, c.version(), typ, deref(topic), members...)
	if err != nil {
		return nil, err // unreachable: the policy checked every reference
	}
	if typ == policy.ChatTypeGroup {
		return c.postGroup(ctx, chat, key, res.Warnings)
	}
	return c.post(ctx, chat, typ, res.Warnings)
}

// Create checks and creates a chat the caller built with the SDK's models.
// The body checked is the one the SDK will send: the chat is serialized
// and parsed back by policy.ParseCreateChat, so a misspelt bind key or a
// wrong @odata.type in the models is caught too.
func (c *Client) Create(ctx context.Context, chat models.Chatable, opts *CreateOptions) (*Created, error) {
	req, err := parseModel(chat)
	if err != nil {
		return nil, err
	}
	pc, err := c.context(ctx, policy.OpCreateChat)
	if err != nil {
		return nil, err
	}
	res, key, err := c.prepareCreate(ctx, req, pc, opts)
	if err != nil {
		return nil, err
	}
	if req.ChatType == policy.ChatTypeOneOnOne {
		return c.post(ctx, chat, policy.ChatTypeOneOnOne, res.Warnings)
	}
	if req.InstalledApps > 0 {
		// Answered 202 with no chat to look for: never retried on ambiguity.
		created, err := c.post(ctx, chat, policy.ChatTypeGroup, res.Warnings)
		if ambiguous(err) {
			return nil, &AmbiguousError{Err: err}
		}
		return created, err
	}
	return c.postGroup(ctx, chat, key, res.Warnings)
}

// Check checks a chat built with the SDK's models as Create would, without
// creating it. Whenever the policy ran, it returns its result, warnings and
// violations included; the error is then nil when nothing blocks the
// request, or the result's violations (a policy.List) when the request
// would be refused. When the policy could not run the result is nil and the
// error says why: a nil chat, a model that does not serialize to a JSON
// object (*policy.SyntaxError), an undeclared operation, or a failure to
// read the token or resolve users. It never returns a nil result with a nil
// error.
func (c *Client) Check(ctx context.Context, chat models.Chatable, opts *CreateOptions) (*policy.Result, error) {
	req, err := parseModel(chat)
	if err != nil {
		return nil, err
	}
	pc, err := c.context(ctx, policy.OpCreateChat)
	if err != nil {
		return nil, err
	}
	res, _, err := c.checkCreate(ctx, req, pc, opts)
	return res, err
}

// parseModel serializes a chat as the SDK will send it and parses it back.
func parseModel(chat models.Chatable) (*policy.Request, error) {
	if isNil(chat) {
		return nil, errors.New("graphchat: create-chat: chat is nil")
	}
	body, err := serialize(chat)
	if err != nil {
		return nil, err
	}
	return policy.ParseCreateChat(body)
}

func serialize(chat models.Chatable) ([]byte, error) {
	w := jsonserialization.NewJsonSerializationWriter()
	defer w.Close()
	if err := w.WriteObjectValue("", chat); err != nil {
		return nil, fmt.Errorf("graphchat: serializing the chat: %w", err)
	}
	return w.GetSerializedContent()
}

// isNil reports whether v is nil or a nil pointer in an interface (a typed
// nil model, whose methods would dereference it).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}

// prepareCreate is the one check of a chat to create, for CreateOneOnOne,
// CreateGroup, Create and every item of CreateMany: checkCreate, then, for
// a group chat that can be looked up after an ambiguous failure, its
// members identified by object id (groupKey). pc is the context of
// create-chat (c.context), which many calls may share; opts may be nil. On
// refusal, the result comes with its violations as the error.
func (c *Client) prepareCreate(ctx context.Context, req *policy.Request, pc *policy.Context, opts *CreateOptions) (*policy.Result, groupKey, error) {
	res, dir, err := c.checkCreate(ctx, req, pc, opts)
	if err != nil || req.ChatType != policy.ChatTypeGroup || req.InstalledApps > 0 {
		return res, groupKey{}, err
	}
	return res, c.groupKey(ctx, req, pc, dir), nil
}

// checkCreate runs the policy on a chat to create, before any request to
// create it, with what is known of its users (see checkWith). It returns
// the result, with its violations as the error when refused (the result is
// nil only with another error), and the directory the policy was given.
func (c *Client) checkCreate(ctx context.Context, req *policy.Request, pc *policy.Context, opts *CreateOptions) (*policy.Result, *policy.Directory, error) {
	var call *policy.Directory
	if opts != nil {
		call = opts.Directory
	}
	return c.checkWith(ctx, policy.OpCreateChat, req.Members, pc, call, func(pc *policy.Context) *policy.Result { return policy.Check(req, pc) })
}

// checkWith applies a policy check (of create-chat or add-member) to
// members, giving the policy what is known of their users: first what the
// app knows (CreateOptions.Directory and Options.Directory), then, when
// that allows the request and Options.ResolveKinds is on, also what Graph
// says of members of unknown kind, so that a refused request costs no
// lookup. pc is not modified.
func (c *Client) checkWith(ctx context.Context, op policy.Operation, members []policy.Member, pc *policy.Context, call *policy.Directory, check func(*policy.Context) *policy.Result) (*policy.Result, *policy.Directory, error) {
	known := *pc
	dir, err := c.directory(ctx, members, &known, call, false)
	if err != nil {
		return nil, nil, err
	}
	known.Directory = dir
	res := check(&known)
	if res.Err() == nil && c.resolve {
		if dir, err = c.directory(ctx, members, &known, call, true); err != nil {
			return nil, nil, err
		}
		known.Directory = dir
		res = check(&known)
	}
	if err := res.Err(); err != nil {
		return res, dir, err
	}
	c.warn(ctx, op, res.Warnings)
	return res, dir, nil
}

// context returns the policy context of an operation: who calls, from
// which tenant, with which grant.
func (c *Client) context(ctx context.Context, op policy.Operation) (*policy.Context, error) {
	if !slices.Contains(c.ops, op) {
		return nil, fmt.Errorf("%w: %s is not among Options.Operations %v: declare it so that its permission is requested and judged", ErrUndeclared, op, c.ops)
	}
	pc := &policy.Context{Auth: c.auth, TenantID: c.tenant, Caller: c.caller}
	grant := c.grant
	if c.tokens != nil {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return nil, err
		}
		// Advisory: the token is read, not verified.
		if claims, err := c.claimsOf(tok); err == nil {
			pc.Auth = claims.Auth()
			if claims.TenantID != "" {
				pc.TenantID = claims.TenantID
			}
			if who := claims.Caller(); !who.IsZero() {
				pc.Caller = who
			}
			grant = claims.Permissions()
		}
	}
	if grant != nil {
		pc.Grant = &policy.Grant{Permissions: grant, Operations: c.ops, Mode: c.mode}
	}
	return pc, nil
}

// claimsOf reads a token's claims, once per token: the credential hands out
// the same token until it is renewed.
func (c *Client) claimsOf(tok string) (*policy.Claims, error) {
	if cached := c.claims.Load(); cached != nil && cached.token == tok {
		return cached.claims, nil
	}
	claims, err := policy.ParseToken(tok)
	if err != nil {
		return nil, err
	}
	c.claims.Store(&tokenClaims{token: tok, claims: claims})
	return claims, nil
}

type tokenClaims struct {
	token  string
	claims *policy.Claims
}

func (c *Client) warn(ctx context.Context, op policy.Operation, warnings policy.List) {
	if c.logger == nil {
		return
	}
	for _, w := range warnings {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "policy warning", slog.String("operation", string(op)),
			slog.String("code", string(w.Code)), slog.String("field", w.Field), slog.String("message", w.Message))
	}
}

func (c *Client) version() string {
	if strings.HasSuffix(c.adapter.GetBaseUrl(), "/beta") {
		return "beta"
	}
	return "v1.0"
}

// post sends a checked chat. One-on-one creation is marked idempotent so
// that the pipeline may retry it after a 503, 504 or transport error.
func (c *Client) post(ctx context.Context, chat models.Chatable, typ policy.ChatType, warnings policy.List) (*Created, error) {
	headers := khttp.NewHeadersInspectionOptions()
	headers.InspectResponseHeaders = true
	cfg := &chats.ChatsRequestBuilderPostRequestConfiguration{Options: []abs.RequestOption{headers}}
	if typ == policy.ChatTypeOneOnOne {
		cfg.Options = append(cfg.Options, idempotentOption{})
	}
	start := time.Now()
	got, err := c.chats().Post(ctx, chat, cfg)
	elapsed := time.Since(start)
	if err != nil {
		return nil, translate(string(policy.OpCreateChat), err)
	}
	out := &Created{Chat: got, Warnings: warnings}
	if got == nil {
		out.Operation = first(headers.GetResponseHeaders().Get("Location"))
		return out, nil
	}
	if typ == policy.ChatTypeOneOnOne {
		out.Existed = c.existed(got, first(headers.GetResponseHeaders().Get("Date")), start, elapsed)
	}
	return out, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// existed decides whether a returned one-on-one chat existed before the
// request (see Created.Existed).
func (c *Client) existed(chat models.Chatable, date string, start time.Time, elapsed time.Duration) bool {
	id := deref(chat.GetId())
	c.mu.Lock()
	_, seen := c.seen[id]
	if !seen && id != "" {
		if len(c.seen) >= maxSeen {
			clear(c.seen)
		}
		c.seen[id] = struct{}{}
	}
	c.mu.Unlock()
	if seen {
		return true
	}
	created := chat.GetCreatedDateTime()
	if created == nil {
		return false
	}
	sent := start // by our clock, when no Date header is given
	if t, err := http.ParseTime(date); err == nil {
		sent = t.Add(-elapsed) // by the service's clock
	}
	return created.Before(sent.Add(-time.Second))
}

// maxSeen bounds the memory of returned one-on-one chat ids.
const maxSeen = 1 << 14

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

// ListMembers returns every member of a chat, following pages.
func (c *Client) ListMembers(ctx context.Context, chatID string) ([]models.ConversationMemberable, error) {
	op := policy.OpListMembers
	if chatID == "" {
		return nil, fmt.Errorf("graphchat: %s: chat id is empty", op)
	}
	if err := c.checkGrant(ctx, op); err != nil {
		return nil, err
	}
	b := c.chats().ByChatId(chatID).Members()
	var out []models.ConversationMemberable
	for page := 0; ; page++ {
		resp, err := b.Get(ctx, nil)
		if err != nil {
			return nil, translate(string(op), err)
		}
		if resp == nil {
			return out, nil
		}
		out = append(out, resp.GetValue()...)
		next := deref(resp.GetOdataNextLink())
		if next == "" || page > 1000 {
			return out, nil
		}
		if err := c.sameHost(next); err != nil {
			return nil, err
		}
		b = b.WithUrl(next)
	}
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

// checkGrant applies the permission rules to an operation with no body.
func (c *Client) checkGrant(ctx context.Context, op policy.Operation) error {
	pc, err := c.context(ctx, op)
	if err != nil {
		return err
	}
	if pc.Grant == nil {
		return nil
	}
	d := policy.Evaluate(pc.Auth, *pc.Grant)
	if err := d.Err(); err != nil {
		return err
	}
	c.warn(ctx, op, d.Warnings)
	return nil
}
