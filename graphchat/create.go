package graphchat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/policy"
)

// Created is the outcome of a chat creation.
type Created struct {
	// Chat is the chat the service returned; nil when it answered 202
	// (a chat created with an app to install).
	Chat models.Chatable
	// Existed is true when the chat already existed: a group chat
	// FindOrCreate found, or a one-on-one chat the service returned that
	// already existed (it never creates a second one for the same two
	// users). For one-on-one chats it is decided by the chat's
	// createdDateTime: earlier than the request by more than the round trip
	// plus one second on the service's own clock (its Date header), or a
	// chat this Client returned before. A chat created by someone else
	// within that second counts as new.
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
	// Duplicates, from FindOrCreate only, are the other chats with the
	// same members and topic found by the check after creating: chats
	// created at the same time by another Client or process, which
	// graphchat could not prevent. Oldest first.
	Duplicates []models.Chatable
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
	return c.createFromMembers(ctx, policy.ChatTypeGroup, topicRef(topic), members)
}

func (c *Client) createFromMembers(ctx context.Context, typ policy.ChatType, topic *string, members []Member) (*Created, error) {
	res, key, err := c.prepareMembers(ctx, typ, topic, members)
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
	req, pc, err := c.parseModel(ctx, chat)
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
	req, pc, err := c.parseModel(ctx, chat)
	if err != nil {
		return nil, err
	}
	res, _, err := c.checkCreate(ctx, req, pc, opts)
	return res, err
}

// parseModel serializes a chat as the SDK will send it and parses it back,
// for Create and Check, and returns it with the context of create-chat.
func (c *Client) parseModel(ctx context.Context, chat models.Chatable) (*policy.Request, *policy.Context, error) {
	if isNil(chat) {
		return nil, nil, errors.New("graphchat: create-chat: chat is nil")
	}
	body, err := serialize(chat)
	if err != nil {
		return nil, nil, err
	}
	req, err := policy.ParseCreateChat(body)
	if err != nil {
		return nil, nil, err
	}
	pc, err := c.context(ctx, policy.OpCreateChat)
	if err != nil {
		return nil, nil, err
	}
	return req, pc, nil
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

// prepareMembers is prepareCreate for a chat of the given type, topic (nil
// for none) and members, in the caller's context of create-chat.
func (c *Client) prepareMembers(ctx context.Context, typ policy.ChatType, topic *string, members []Member) (*policy.Result, groupKey, error) {
	req := membersRequest(typ, topic, members)
	pc, err := c.context(ctx, policy.OpCreateChat)
	if err != nil {
		return nil, groupKey{}, err
	}
	return c.prepareCreate(ctx, req, pc, nil)
}

// topicRef is a topic as the policy and the models take it: nil for none
// ("").
func topicRef(topic string) *string {
	if topic == "" {
		return nil
	}
	return &topic
}

// membersRequest is the policy's view of a chat of the given type, topic
// (nil for none) and members.
func membersRequest(typ policy.ChatType, topic *string, members []Member) *policy.Request {
	req := &policy.Request{ChatType: typ, Topic: topic, Members: make([]policy.Member, len(members))}
	for i, m := range members {
		req.Members[i] = m.policy()
	}
	return req
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

func (c *Client) version() string {
	if strings.HasSuffix(c.adapter.GetBaseUrl(), "/beta") {
		return "beta"
	}
	return "v1.0"
}
