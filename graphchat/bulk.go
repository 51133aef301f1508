package graphchat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/graphchat/graphchat/policy"
)

// Item is one chat of a bulk creation, and optionally a first message to
// post in it.
type Item struct {
	Type    policy.ChatType // policy.ChatTypeOneOnOne or policy.ChatTypeGroup
	Topic   string          // group chats only; "" for none
	Members []Member

	// Message, when set, is posted in the chat once it is created or
	// found (POST /chats/{id}/messages, in the same $batch requests as the
	// creations). It is checked by policy.CheckMessage, against the item's
	// members, before anything of the item is sent: a refused message
	// refuses the item, and no chat is created for it. It needs the
	// send-message operation (delegated ChatMessage.Send); application
	// permissions cannot send messages.
	Message models.ChatMessageable
	// ChatID, when set, names the item's chat, which exists already (an
	// earlier run created it): nothing is created, Message (required then)
	// is posted in it, and the result's Created holds a chat with this id
	// only, marked Existed.
	ChatID string
	// MessageSentAt, with ChatID, says that the message may have been
	// posted already: it was sent at that time without a clear answer (an
	// earlier run was killed, or the outcome was unknown). It is looked up
	// first (see BulkOptions), and sent only when it is certainly absent.
	MessageSentAt time.Time
	// SentAt, without ChatID, says that the chat may have been created
	// already: an earlier run sent its creation at that time without a
	// clear answer (it was killed, or the outcome was unknown). A group
	// item is looked up first, once a request sent then could have finished
	// (Options.LookupDelay after SentAt), with the run's other groups of
	// unknown outcome, in one listing (policy.OpListChats must be
	// declared): found, it is the item's chat (Outcome "recovered") and its
	// message, if any, is posted; certainly absent, it is created (with
	// Reuse, looked for in the index first); otherwise the outcome stays
	// unknown. A one-on-one item is sent again: the service returns the
	// chat that exists.
	SentAt time.Time
}

// ItemResult is the outcome of one item: Created, or Err (a policy.List
// when refused before sending, an *Error answered by Graph, an
// *AmbiguousError when a group's outcome is unknown, or an error matching
// ErrNotSent for items never sent). Outcome classifies it. For an item with
// a message, Posted or MessageErr say what became of the message;
// MessageOutcome classifies it.
type ItemResult struct {
	Index    int // the item's index in the input
	Created  *Created
	Err      error
	Attempts int // requests sent for the item, its message's included

	// Posted is the item's message as the service posted it; nil when the
	// item had no message or it was not posted.
	Posted *Posted
	// MessageErr is why the item's message was not posted, when the chat
	// was: an *Error answered by Graph, a *MessageAmbiguousError (it
	// matches ErrOutcomeUnknown) when it may or may not have been posted,
	// or an error matching ErrNotSent when it was never sent.
	MessageErr error
}

// Posted is a message posted by a bulk creation.
type Posted struct {
	ID string // the chatMessage's id
	// Recovered is true when the send failed ambiguously and a lookup found
	// the message in the chat: it was posted once, and not sent again.
	Recovered bool
}

// MessageOutcome classifies what became of an item's message. Its values
// are the words the demo writes in its results file.
type MessageOutcome string

// Outcomes of an item's message.
const (
	MessageNone    MessageOutcome = ""                 // the item has no message, or its chat was not created
	MessagePosted  MessageOutcome = "message-posted"   // posted (Posted.Recovered: found by a lookup)
	MessageFailed  MessageOutcome = "message-failed"   // the service answered with an error: not posted
	MessageUnknown MessageOutcome = "message-unknown"  // may or may not have been posted (ErrOutcomeUnknown)
	MessageNotSent MessageOutcome = "message-not-sent" // never sent (ErrNotSent)
)

// MessageOutcome classifies the result of the item's message.
func (r ItemResult) MessageOutcome() MessageOutcome {
	switch {
	case r.Posted != nil:
		return MessagePosted
	case r.MessageErr == nil:
		return MessageNone
	case errors.Is(r.MessageErr, ErrNotSent):
		return MessageNotSent
	case errors.Is(r.MessageErr, ErrOutcomeUnknown):
		return MessageUnknown
	}
	return MessageFailed
}

// MessageDigest identifies a message's content for the lookup after an
// ambiguous send: 32 hexadecimal digits of a SHA-256 of its body's content
// type (text when absent) and content. Two messages with the same digest
// cannot be told apart by the lookup.
func MessageDigest(msg models.ChatMessageable) string {
	typ, content := models.TEXT_BODYTYPE, ""
	if msg != nil && msg.GetBody() != nil {
		if t := msg.GetBody().GetContentType(); t != nil {
			typ = *t
		}
		content = deref(msg.GetBody().GetContent())
	}
	return digestOf(typ, content)
}

func digestOf(typ models.BodyType, content string) string {
	h := sha256.New()
	h.Write([]byte(typ.String()))
	h.Write([]byte{0})
	h.Write([]byte(content))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ErrNotSent matches the error of an item that was never sent: the context
// was cancelled, or BulkOptions.OnSend refused to let it go, before its
// first request (or before a retry that an earlier answer made safe).
var ErrNotSent = errors.New("graphchat: not sent")

// notSentError is an item not sent, with the reason.
type notSentError struct{ cause error }

func (e *notSentError) Error() string {
	return "graphchat: create-chat: not sent: " + e.cause.Error()
}
func (e *notSentError) Unwrap() error        { return e.cause }
func (e *notSentError) Is(target error) bool { return target == ErrNotSent }

// Outcome classifies an item's result. Its values are the words the demo
// writes in its results file.
type Outcome string

// Outcomes of an item.
const (
	OutcomeCreated   Outcome = "created"   // a new chat
	OutcomeExisting  Outcome = "existing"  // a one-on-one chat that already existed
	OutcomeRecovered Outcome = "recovered" // created, found by a lookup after an ambiguous failure
	OutcomeAccepted  Outcome = "accepted"  // 202 Accepted: the service creates it later (no chat yet)
	OutcomeRefused   Outcome = "refused"   // refused by the policy, never sent
	OutcomeFailed    Outcome = "failed"    // the service answered with an error; no chat was created
	OutcomeUnknown   Outcome = "unknown"   // may or may not have been created (ErrOutcomeUnknown)
	OutcomeNotSent   Outcome = "not-sent"  // never sent (ErrNotSent)
)

// Outcome classifies the result. It is the one classification of bulk
// results: Summarize counts it and programs record it.
func (r ItemResult) Outcome() Outcome {
	var list policy.List
	switch {
	case r.Err == nil && r.Created != nil:
		switch c := r.Created; {
		case c.Chat == nil:
			return OutcomeAccepted
		case c.Existed:
			return OutcomeExisting
		case c.Recovered:
			return OutcomeRecovered
		}
		return OutcomeCreated
	case r.Err == nil:
		return OutcomeFailed // neither a chat nor an error: not a result CreateEach gives
	case errors.As(r.Err, &list):
		return OutcomeRefused
	case errors.Is(r.Err, ErrNotSent):
		return OutcomeNotSent
	case errors.Is(r.Err, ErrOutcomeUnknown):
		return OutcomeUnknown
	}
	return OutcomeFailed
}

// BulkOptions control CreateEach and CreateMany. Zero values mean the
// defaults.
type BulkOptions struct {
	// Rate is the most creations sent per second; default 30, the Teams
	// limit per app and tenant. Every request of a batch counts.
	Rate float64
	// Concurrency is the number of batches in flight; default 4.
	Concurrency int
	// BatchSize is the number of creations per $batch request, 1 to 20;
	// default 20.
	BatchSize int
	// MaxAttempts bounds the requests sent for one item (throttled and
	// retriable failures); default 8.
	MaxAttempts int
	// OnResult is called once per item as it finishes, never concurrently
	// with itself, OnSend or the pulling of the next item.
	OnResult func(ItemResult)
	// OnSend, when set, is called just before each request with the
	// indexes of the items it sends for the first time (never empty), never
	// concurrently. A caller that records them durably can tell, after a
	// crash, which items may have been created (see FindGroup): once per
	// request, so that one write and one sync cover up to BatchSize items.
	// A non-nil error vetoes the request: none of its items is sent, no
	// other request is sent from then on, the requests in flight finish, the
	// items left are reported not sent (ErrNotSent), and CreateEach returns
	// the error.
	OnSend func(indexes []int) error
	// OnSendMessages, when set, is called like OnSend just before each
	// request that sends items' messages for the first time, with those
	// items and their chats. A message is not idempotent: a caller that
	// records them durably can tell, after a crash, which messages may have
	// been posted (see Item.MessageSentAt). A non-nil error vetoes the
	// request as OnSend's does.
	OnSendMessages func(sends []MessageSend) error

	// Reuse makes every group item find-or-create, as FindOrCreate does
	// for one chat: before an item's chat is created, it is looked for
	// among the chats of the listed user (the signed-in user's, or
	// User's), read once for the whole run, at the first group item, into
	// a ChatIndex (policy.OpListChats must be declared; policy.OpListMembers
	// for items of 25 members or more), and matched in memory. An item
	// whose chat exists is not created: its result is that chat, Existed
	// (Outcome "existing"), and its message, if any, is posted in it.
	// Several matches fail the item with a *MatchesError, unless Pick
	// chooses one. The chats the run creates are added to the index, and
	// an item that asks for the same chat (members as a set, and topic) as
	// an earlier item not finished yet waits for it, so that a run never
	// creates one chat twice; after an earlier item's unknown outcome it
	// is unknown too (an *AmbiguousError), and not sent. When the listing
	// fails, every group item fails with its error and none is created.
	// One-on-one items are created as without Reuse: the service returns
	// the chat that exists.
	Reuse bool
	// Pick, with Reuse, chooses among several chats that match an item:
	// PickOldest takes the oldest. Default: the item fails with a
	// *MatchesError.
	Pick Pick
	// User, with Reuse, is whose chats are read, as FindOptions.User: an
	// application client must name one, and every group item must have
	// that user among its members (its chats cannot hold the others); a
	// delegated client reads the signed-in user's chats.
	User string
}

// MessageSend is an item whose message is about to be sent, for
// BulkOptions.OnSendMessages.
type MessageSend struct {
	Index int      // the item's index
	Chat  *Created // the item's chat, created, found or given (Item.ChatID)
}

// BulkSummary counts the outcomes of a bulk creation.
type BulkSummary struct {
	Created   int // new chats, Recovered included
	Existed   int // one-on-one chats that already existed
	Recovered int // created, found by a lookup after an ambiguous failure
	Accepted  int // 202 Accepted: created later by the service
	Refused   int // refused by the policy, never sent
	Failed    int // failed at the service
	Unknown   int // outcome unknown: a re-run with a lookup resolves it
	NotSent   int // never sent (cancelled, or vetoed by OnSend)

	MessagesPosted    int // messages posted, MessagesRecovered included
	MessagesRecovered int // posted, found by a lookup after an ambiguous failure
	MessagesFailed    int // answered with an error by the service
	MessagesUnknown   int // may or may not have been posted
	MessagesNotSent   int // never sent although the chat was created
}

// Summarize counts results by their Outcome.
func Summarize(results []ItemResult) BulkSummary {
	var s BulkSummary
	for _, r := range results {
		switch r.Outcome() {
		case OutcomeCreated:
			s.Created++
		case OutcomeRecovered:
			s.Created++
			s.Recovered++
		case OutcomeExisting:
			s.Existed++
		case OutcomeAccepted:
			s.Accepted++
		case OutcomeRefused:
			s.Refused++
		case OutcomeUnknown:
			s.Unknown++
		case OutcomeNotSent:
			s.NotSent++
		default:
			s.Failed++
		}
		switch r.MessageOutcome() {
		case MessagePosted:
			s.MessagesPosted++
			if r.Posted.Recovered {
				s.MessagesRecovered++
			}
		case MessageFailed:
			s.MessagesFailed++
		case MessageUnknown:
			s.MessagesUnknown++
		case MessageNotSent:
			s.MessagesNotSent++
		}
	}
	return s
}

// CreateMany creates many chats through JSON batching ($batch, up to 20
// creations a request) with bounded concurrency and a rate limit; see
// CreateEach. Every item gets exactly one result, in the returned slice (by
// index) and through OnResult as it finishes. The results are returned
// with the error when OnSend stops the run.
func (c *Client) CreateMany(ctx context.Context, items []Item, opts *BulkOptions) ([]ItemResult, error) {
	var o BulkOptions
	if opts != nil {
		o = *opts
	}
	results := make([]ItemResult, len(items))
	reported := make([]bool, len(items))
	onResult := o.OnResult
	o.OnResult = func(r ItemResult) {
		results[r.Index], reported[r.Index] = r, true
		if onResult != nil {
			onResult(r)
		}
	}
	err := c.CreateEach(ctx, slices.Values(items), &o)
	if err != nil && !errors.Is(err, errStopped) {
		return nil, err
	}
	// Items the run stopped before reading were never sent.
	cause := err
	if cause == nil {
		cause = ctx.Err()
	}
	for i, ok := range reported {
		if !ok {
			results[i] = ItemResult{Index: i, Err: &notSentError{cause}}
		}
	}
	return results, err
}

// CreateEach creates the chats of a sequence, read as it goes: memory is
// bounded by the items in flight (Concurrency batches and one more batch
// waiting), not by the length of the sequence. Item indexes count from 0
// in the order of the sequence; each item gets exactly one result, through
// OnResult as it finishes.
//
// The grant is judged once, before any item is read: a grant that lacks a
// declared operation's permission (such as list-chats for the lookups)
// fails the whole call with the policy.List. Every item is then checked by
// the policy; refused items are reported and never sent. Throttled items
// are retried after their own Retry-After while the rest of the batch goes
// on. One-on-one items are retried after ambiguous failures; group items
// are looked up first (when list-chats is declared), so that no chat is
// created twice. With Reuse, group items are looked for among the chats
// that exist, read once for the whole run, and created only when absent
// (see BulkOptions.Reuse).
//
// The error is non-nil for invalid options, a failing credential, a grant
// refused by the policy, Reuse without its user or operation (see
// NewChatIndex), or when OnSend vetoed a send (it wraps OnSend's
// error). Cancelling ctx is not an error: the items not sent are reported
// with ErrNotSent.
func (c *Client) CreateEach(ctx context.Context, items iter.Seq[Item], opts *BulkOptions) error {
	o, err := bulkDefaults(opts)
	if err != nil {
		return err
	}
	pc, err := c.context(ctx, policy.OpCreateChat)
	if err != nil {
		return err
	}
	if pc.Grant != nil {
		if err := policy.Evaluate(pc.Auth, *pc.Grant).Err(); err != nil {
			return err
		}
	}
	b := &bulk{c: c, o: o, pc: pc, done: make(chan batchOutcome), lim: newPacer(o.Rate)}
	b.newLanes()
	if o.Reuse {
		// Judged before any item is read: an application that names no
		// user, or a grant without list-chats, fails the whole call.
		if b.ix, err = c.NewChatIndex(ctx, &FindOptions{Type: policy.ChatTypeGroup, User: o.User}); err != nil {
			return err
		}
		if b.pcList, err = c.context(ctx, policy.OpListChats); err != nil {
			return err
		}
		b.holders, b.holdOf, b.unknown = map[string]int{}, map[int]string{}, map[string]int{}
	}
	next, stop := iter.Pull(items)
	defer stop()
	b.next = next
	return b.run(ctx)
}

// errStopped marks the error CreateEach returns when OnSend vetoed a send.
var errStopped = errors.New("graphchat: bulk creation stopped")

func bulkDefaults(opts *BulkOptions) (BulkOptions, error) {
	var o BulkOptions
	if opts != nil {
		o = *opts
	}
	if o.Rate == 0 {
		o.Rate = 30
	}
	if o.Concurrency == 0 {
		o.Concurrency = 4
	}
	if o.BatchSize == 0 {
		o.BatchSize = 20
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 8
	}
	switch {
	case o.Pick != PickNone && o.Pick != PickOldest:
		return o, fmt.Errorf("graphchat: BulkOptions.Pick %q: want \"\" or %q", o.Pick, PickOldest)
	case o.Pick != PickNone && !o.Reuse:
		return o, errors.New("graphchat: BulkOptions.Pick is for Reuse: set Reuse too")
	case o.User != "" && !o.Reuse:
		return o, errors.New("graphchat: BulkOptions.User is for Reuse (whose chats are searched): set Reuse too")
	case o.Rate < 0:
		return o, errors.New("graphchat: BulkOptions.Rate must be positive")
	case o.Concurrency < 0:
		return o, errors.New("graphchat: BulkOptions.Concurrency must be positive")
	case o.BatchSize < 1 || o.BatchSize > 20:
		return o, fmt.Errorf("graphchat: BulkOptions.BatchSize %d: want 1 to 20, the $batch limit", o.BatchSize)
	case o.MaxAttempts < 1:
		return o, errors.New("graphchat: BulkOptions.MaxAttempts must be positive")
	}
	return o, nil
}

// job is an item waiting to be sent: its chat, then its message.
type job struct {
	index     int
	typ       policy.ChatType
	chat      models.Chatable
	key       groupKey
	warnings  policy.List
	attempts  int
	firstSent time.Time // when the first attempt was sent
	notBefore time.Time

	// The message stage: created is the item's chat once it exists.
	msg         models.ChatMessageable
	digest      string
	created     *Created
	msgSent     bool      // the message was sent at least once
	msgAttempts int       // requests sent for the message
	lookupSince time.Time // the message's first send, for the lookup
	lookups     int       // lookups of the message that failed
	// checkFirst: the chat existed before the run (found, or returned by
	// the service), so an earlier run may have posted the message in it:
	// it is sent only when the chat certainly holds no message.
	checkFirst bool

	// With BulkOptions.Reuse, for group items: hold is the chat asked for
	// (its members' set and topic), which one item at a time may look up
	// and create; given is the members as given, for a *MatchesError.
	hold  string
	given []string

	// unknown, while the job waits in the groups lane, is why its chat's
	// creation has an unknown outcome; chatLookups counts the lookups of
	// it that failed.
	unknown     error
	chatLookups int
	// req and dir are the item's chat as checked, and what was known of
	// its users, for its key.
	req *policy.Request
	dir *policy.Directory
}

// messageStage reports whether the job's next request sends its message.
func (j *job) messageStage() bool { return j.created != nil }

type bulk struct {
	c     *Client
	o     BulkOptions
	pc    *policy.Context
	send  *policy.Context // the send-message context, judged at the first message
	next  func() (Item, bool)
	read  int    // items pulled from the sequence
	ended bool   // the sequence has no more items
	queue []*job // jobs to send in batches
	done  chan batchOutcome
	lim   *pacer
	fatal error // stops the run: messages cannot be sent at all

	inFlight int // goroutines running: batches and lookups
	batches  int // batches in flight, at most BulkOptions.Concurrency

	// The lookup lanes (see lane): group items in the index (Reuse),
	// group creations and messages sent without a clear answer.
	finds, groups, msgs lane
	claims              claims // the group chats given to items

	// With BulkOptions.Reuse: the index of the listed user's chats, group
	// items waiting to be looked up in it, and the holds (see job.hold).
	ix      *ChatIndex
	pcList  *policy.Context // the list-chats context
	holders map[string]int  // hold → the index of the item holding it
	holdOf  map[int]string  // item index → the hold it holds
	unknown map[string]int  // hold → an item of it whose outcome is unknown
	readErr error           // the index could not be read: group items fail with it
}

// prepare checks an item and builds its model; a non-nil result refuses it.
func (b *bulk) prepare(ctx context.Context, i int, it Item) (*job, *ItemResult) {
	j := &job{index: i, typ: it.Type}
	if it.Message != nil {
		res, err := b.checkMessage(ctx, it)
		if err != nil {
			return nil, &ItemResult{Index: i, Err: err}
		}
		j.msg, j.digest, j.warnings = it.Message, MessageDigest(it.Message), res.Warnings
	}
	if it.ChatID != "" {
		if it.Message == nil {
			return nil, &ItemResult{Index: i, Err: fmt.Errorf("graphchat: item %d: ChatID %q without a message: nothing to do", i, it.ChatID)}
		}
		chat := models.NewChat()
		chat.SetId(&it.ChatID)
		j.created = &Created{Chat: chat, Existed: true}
		if !it.MessageSentAt.IsZero() {
			j.msgSent, j.lookupSince = true, it.MessageSentAt
			// Looked up once a request sent then could have finished.
			j.notBefore = it.MessageSentAt.Add(b.c.lookupDelay)
			return j, b.toLookup(j)
		}
		return j, nil
	}
	req := &policy.Request{ChatType: it.Type, Members: make([]policy.Member, len(it.Members))}
	if it.Topic != "" {
		t := it.Topic
		req.Topic = &t
	}
	for k, m := range it.Members {
		req.Members[k] = m.policy()
	}
	res, dir, err := b.c.checkCreate(ctx, req, b.pc, nil)
	if err != nil {
		return nil, &ItemResult{Index: i, Err: err}
	}
	// A group's members are identified for a lookup (see groupKey) only
	// when one is needed: at once with Reuse, otherwise in the groups lane.
	var key groupKey
	j.req, j.dir = req, dir
	chat, err := ChatModel(b.c.cloud, b.c.version(), it.Type, it.Topic, it.Members...)
	if err != nil {
		return nil, &ItemResult{Index: i, Err: err}
	}
	if b.ix != nil && it.Type == policy.ChatTypeGroup {
		key = b.c.groupKey(ctx, req, b.pc, dir)
		if key, err = b.c.reuseKey(ctx, key, it.Topic, it.Members, b.pcList); err == nil {
			err = b.ix.accepts(key, "", b.pcList)
		}
		if err != nil {
			return nil, &ItemResult{Index: i, Err: err}
		}
		j.hold, j.given = key.setKey()+"|"+it.Topic, usersOf(it.Members)
	}
	j.chat, j.key, j.warnings = chat, key, append(res.Warnings, j.warnings...)
	j.firstSent = it.SentAt
	if !it.SentAt.IsZero() && it.Type == policy.ChatTypeGroup {
		// Sent by an earlier run: looked up once a request sent then could
		// have finished, in a listing of its own (with Reuse too: the index
		// may have been read before), holding its chat meanwhile.
		if j.hold != "" {
			b.holders[j.hold], b.holdOf[j.index] = j.index, j.hold
		}
		return j, b.pendingGroup(j, errSentEarlier, time.Until(it.SentAt.Add(b.c.lookupDelay)))
	}
	return j, nil
}

// errSentEarlier is the unknown outcome of an Item.SentAt.
var errSentEarlier = errors.New("sent by an earlier run without a clear answer")

// toLookup queues a job whose message needs a lookup; it reports the
// item's result at once when no lookup is possible.
func (b *bulk) toLookup(j *job) *ItemResult {
	if !b.c.declared(policy.OpListChats) {
		r := b.messageResult(j, nil, &MessageAmbiguousError{ChatID: j.created.ID(), Err: errNoLookup})
		return &r
	}
	b.msgs.queue = append(b.msgs.queue, j)
	return nil
}

// checkMessage checks an item's message as SendMessage would, with the
// item's members as the chat's. The send-message context is judged at the
// first message; when it cannot be had (the operation is not declared, the
// token cannot be read), the run stops.
func (b *bulk) checkMessage(ctx context.Context, it Item) (*policy.Result, error) {
	if b.send == nil {
		pc, err := b.c.context(ctx, policy.OpSendMessage)
		if err != nil {
			b.fatal = err
			return nil, &notSentError{err}
		}
		if pc.Auth == policy.AuthApplication {
			res := policy.CheckMessage(&policy.Message{}, pc) // operation_not_supported, with what to do
			b.fatal = res.Err()
			return nil, &notSentError{b.fatal}
		}
		b.send = pc
	}
	body, err := serializeMessage(it.Message)
	if err != nil {
		return nil, err
	}
	m, err := policy.ParseSendMessage(body)
	if err != nil {
		return nil, err
	}
	m.Members = []string{}
	for _, x := range it.Members {
		m.Members = append(m.Members, x.User)
	}
	if it.ChatID != "" && len(it.Members) == 0 {
		m.Members = nil // the chat's members are not known
	}
	res := policy.CheckMessage(m, b.send)
	if err := res.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

func serializeMessage(msg models.ChatMessageable) ([]byte, error) {
	w := jsonserialization.NewJsonSerializationWriter()
	defer w.Close()
	if err := w.WriteObjectValue("", msg); err != nil {
		return nil, fmt.Errorf("graphchat: serializing the message: %w", err)
	}
	body, err := w.GetSerializedContent()
	if err != nil {
		return nil, fmt.Errorf("graphchat: serializing the message: %w", err)
	}
	return body, nil
}

func (b *bulk) finish(r ItemResult) {
	if hold, ok := b.holdOf[r.Index]; ok { // the chat is settled: the next item asking for it may go
		delete(b.holdOf, r.Index)
		delete(b.holders, hold)
		if r.Outcome() == OutcomeUnknown {
			b.unknown[hold] = r.Index
		}
	}
	if b.o.OnResult != nil {
		b.o.OnResult(r)
	}
}

// messageResult is the result of an item whose chat exists.
func (b *bulk) messageResult(j *job, posted *Posted, err error) ItemResult {
	return ItemResult{Index: j.index, Created: j.created, Attempts: j.attempts, Posted: posted, MessageErr: err}
}

// fill pulls items until the queue holds a batch more than can be in
// flight, or the sequence ends. Items the policy refuses finish at once.
func (b *bulk) fill(ctx context.Context) {
	for !b.ended && b.fatal == nil && b.waiting() < (b.o.Concurrency+1)*b.o.BatchSize {
		it, ok := b.next()
		if !ok {
			b.ended = true
			return
		}
		i := b.read
		b.read++
		job, res := b.prepare(ctx, i, it)
		switch {
		case res != nil:
			b.finish(*res)
		case job.msgSent: // queued for its lookup
		case job.unknown != nil: // sent by an earlier run: looked up first
			b.groups.queue = append(b.groups.queue, job)
		case job.hold != "": // looked up in the index first
			b.finds.queue = append(b.finds.queue, job)
		default:
			b.queue = append(b.queue, job)
		}
	}
}

// waiting counts the jobs queued, to send or to look up.
func (b *bulk) waiting() int {
	n := len(b.queue)
	for _, l := range b.lanes() {
		n += len(l.queue)
	}
	return n
}

// batchOutcome is what a batch or a lookup reports: finished items, items
// to send again, and group creations and messages to look up.
type batchOutcome struct {
	finished []ItemResult
	again    []*job
	recover  []*job
	find     []*job
	lookup   []*job
	throttle time.Duration // the longest Retry-After of its 429s; 0 when none
	lane     *lane         // the lane of a lookup; nil for a batch
	readErr  error         // the index could not be read
}

// run dispatches batches and lookups until every item has a result, or
// until the context is cancelled or OnSend vetoes a send; then it waits for
// what is in flight and reports the items left, and those the sequence
// still holds, not sent.
func (b *bulk) run(ctx context.Context) error {
	var vetoed error
	for {
		if vetoed == nil && b.fatal != nil {
			vetoed = b.fatal
		}
		stopping := vetoed != nil || ctx.Err() != nil
		if stopping {
			if b.inFlight == 0 {
				return b.stop(ctx, vetoed)
			}
			b.collect(<-b.done)
			continue
		}
		if b.fill(ctx); b.fatal != nil {
			continue
		}
		if b.ended && b.waiting() == 0 && b.inFlight == 0 {
			return nil
		}
		changed, wait := b.startLookups(ctx)
		if changed {
			continue
		}
		if b.batches < b.o.Concurrency {
			ready, w := b.take()
			if len(ready) > 0 {
				if vetoed = b.announce(ready); vetoed != nil {
					b.queue = append(b.queue, ready...) // not sent: reported so
					continue
				}
				b.inFlight++
				b.batches++
				go func() { b.done <- b.sendBatchOf(ctx, ready) }()
				continue
			}
			if w >= 0 && (wait < 0 || w < wait) {
				wait = w
			}
		}
		var timer <-chan time.Time
		if wait > 0 {
			timer = time.After(wait)
		}
		select {
		case out := <-b.done:
			b.collect(out)
		case <-timer:
		case <-ctx.Done():
		}
	}
}

// announce calls OnSend and OnSendMessages for the items a batch sends for
// the first time; an error vetoes the batch.
func (b *bulk) announce(ready []*job) error {
	var first []int
	var firstMsg []MessageSend
	for _, j := range ready {
		switch {
		case j.messageStage() && !j.msgSent:
			firstMsg = append(firstMsg, MessageSend{Index: j.index, Chat: j.created})
		case !j.messageStage() && j.attempts == 0:
			first = append(first, j.index)
		}
	}
	if len(first) > 0 && b.o.OnSend != nil {
		if err := b.o.OnSend(first); err != nil {
			return err
		}
	}
	if len(firstMsg) > 0 && b.o.OnSendMessages != nil {
		return b.o.OnSendMessages(firstMsg)
	}
	return nil
}

// collect takes in what a batch or a lookup reports.
func (b *bulk) collect(out batchOutcome) {
	b.inFlight--
	if out.lane != nil {
		out.lane.busy = false
	} else {
		b.batches--
	}
	if out.readErr != nil {
		b.readErr = out.readErr
	}
	for _, r := range out.finished {
		b.finish(r)
	}
	b.queue = append(b.queue, out.again...)
	b.groups.queue = append(b.groups.queue, out.recover...)
	b.finds.queue = append(b.finds.queue, out.find...)
	b.msgs.queue = append(b.msgs.queue, out.lookup...)
}

// stop ends a run stopped by cause (vetoed, or the context's error) once
// nothing is in flight.
func (b *bulk) stop(ctx context.Context, vetoed error) error {
	cause := vetoed
	if cause == nil {
		cause = ctx.Err()
	}
	b.abandon(cause)
	if vetoed != nil {
		return fmt.Errorf("%w: %w", errStopped, vetoed)
	}
	return nil
}

// abandon finishes the jobs a stopped run has not sent (or not looked up),
// for cause.
func (b *bulk) abandon(cause error) {
	for _, j := range b.queue {
		if j.messageStage() {
			b.finish(b.messageResult(j, nil, &notSentError{cause}))
			continue
		}
		b.finish(ItemResult{Index: j.index, Err: &notSentError{cause}, Attempts: j.attempts})
	}
	for _, j := range b.msgs.queue {
		if !j.msgSent { // a chat that existed, its message never sent
			b.finish(b.messageResult(j, nil, &notSentError{cause}))
			continue
		}
		b.finish(b.messageResult(j, nil, &MessageAmbiguousError{ChatID: j.created.ID(), Err: fmt.Errorf("not looked up: %w", cause)}))
	}
	for _, j := range b.groups.queue {
		b.finish(ItemResult{Index: j.index, Err: &AmbiguousError{Err: j.unknown, LookupErr: fmt.Errorf("not looked up: %w", cause)}, Attempts: j.attempts})
	}
	for _, j := range b.finds.queue {
		b.finish(ItemResult{Index: j.index, Err: &notSentError{cause}})
	}
	b.queue, b.msgs.queue, b.groups.queue, b.finds.queue = nil, nil, nil, nil
}

// take removes up to BatchSize jobs that may be sent now, and says how long
// until the next one may be when none can.
func (b *bulk) take() ([]*job, time.Duration) {
	now := time.Now()
	var ready, rest []*job
	wait := time.Duration(-1)
	for _, j := range b.queue {
		switch {
		case len(ready) < b.o.BatchSize && !j.notBefore.After(now):
			ready = append(ready, j)
		default:
			rest = append(rest, j)
			if d := j.notBefore.Sub(now); d > 0 && (wait < 0 || d < wait) {
				wait = d
			}
		}
	}
	b.queue = rest
	return ready, wait
}

// sendBatchOf sends one batch of creations and messages and sorts its items
// into results, retries and lookups.
func (b *bulk) sendBatchOf(ctx context.Context, jobs []*job) batchOutcome {
	var out batchOutcome
	if err := b.lim.wait(ctx, len(jobs)); err != nil {
		out.again = jobs // not sent; run reports them
		return out
	}
	batch, byID := b.buildBatch(ctx, jobs, &out)
	resp, err := b.sendBatch(ctx, batch)
	if err != nil {
		err = translate("batch", err)
		for _, j := range byID {
			b.failed(ctx, j, err, 0, &out)
		}
		return out
	}
	for _, item := range resp.GetResponses() {
		if item == nil || item.GetId() == nil {
			continue
		}
		j := byID[*item.GetId()]
		if j == nil {
			continue
		}
		delete(byID, *item.GetId())
		b.answered(ctx, j, item, &out)
	}
	for _, j := range byID { // no response for it: as if the connection dropped
		b.failed(ctx, j, errors.New("graphchat: the batch response has no answer for the request"), 0, &out)
	}
	if out.throttle > 0 {
		b.lim.throttled(out.throttle) // the limit is the app's: it slows every item
	}
	return out
}

// buildBatch makes the $batch request of jobs, counting their attempts, and
// returns it with the job of each step's id; a job whose step cannot be
// built is finished in out.
func (b *bulk) buildBatch(ctx context.Context, jobs []*job, out *batchOutcome) (msgraphgocore.BatchRequest, map[string]*job) {
	batch := msgraphgocore.NewBatchRequest(b.c.adapter)
	byID := map[string]*job{}
	for _, j := range jobs {
		var info *abs.RequestInformation
		var err error
		if j.messageStage() {
			info, err = b.c.chats().ByChatId(j.created.ID()).Messages().ToPostRequestInformation(ctx, j.msg, nil)
		} else {
			info, err = b.c.chats().ToPostRequestInformation(ctx, j.chat, nil)
		}
		if err == nil {
			var item msgraphgocore.BatchItem
			if item, err = batch.AddBatchRequestStep(*info); err == nil {
				byID[deref(item.GetId())] = j
				j.attempts++
				now := time.Now()
				switch {
				case j.messageStage():
					j.msgAttempts++
					if !j.msgSent {
						j.msgSent, j.lookupSince = true, now
					}
				case j.firstSent.IsZero():
					j.firstSent = now
				}
				continue
			}
		}
		err = fmt.Errorf("graphchat: building the batch: %w", err)
		if j.messageStage() {
			out.finished = append(out.finished, b.messageResult(j, nil, err))
			continue
		}
		out.finished = append(out.finished, ItemResult{Index: j.index, Err: err, Attempts: j.attempts})
	}
	return batch, byID
}

// answered decides what becomes of a job from its answer in a $batch
// response.
func (b *bulk) answered(ctx context.Context, j *job, item msgraphgocore.BatchItem, out *batchOutcome) {
	status := 0
	if s := item.GetStatus(); s != nil {
		status = int(*s)
	}
	headers := item.GetHeaders()
	switch {
	case j.messageStage() && status == http.StatusCreated:
		b.lim.succeeded(1)
		out.finished = append(out.finished, b.messageResult(j, &Posted{ID: messageID(item.GetBody())}, nil))
	case j.messageStage():
		b.failed(ctx, j, batchError(status, headers, item.GetBody()), status, out)
	case status == http.StatusCreated || status == http.StatusOK:
		chat, perr := parseChat(item.GetBody())
		if perr != nil {
			b.failed(ctx, j, &Error{Op: "create-chat", StatusCode: status, Message: "unreadable chat in the batch response: " + perr.Error()}, status, out)
			return
		}
		created := &Created{Chat: chat, Warnings: j.warnings}
		if j.typ == policy.ChatTypeOneOnOne {
			// Judged against the first attempt: a chat an earlier,
			// ambiguous attempt created is not one that existed.
			created.Existed = b.c.existed(chat, "", j.firstSent, 0)
		}
		b.lim.succeeded(1)
		b.created(j, created, out)
	case status == http.StatusAccepted:
		accepted := &Created{Operation: header(headers, "Location"), Warnings: j.warnings}
		r := ItemResult{Index: j.index, Created: accepted, Attempts: j.attempts}
		if j.msg != nil {
			r.MessageErr = &notSentError{errors.New("the chat is created later by the service (202 Accepted): there is no chat to post the message in yet")}
		}
		out.finished = append(out.finished, r)
	default:
		b.failed(ctx, j, batchError(status, headers, item.GetBody()), status, out)
	}
}

// sendBatch sends a batch with graphchat's error mapping (the SDK's
// BatchRequest.Send maps errors through a global registry that only the root
// SDK package fills).
func (b *bulk) sendBatch(ctx context.Context, batch msgraphgocore.BatchRequest) (msgraphgocore.BatchResponse, error) {
	info := abs.NewRequestInformation()
	info.Method = abs.POST
	info.UrlTemplate = "{+baseurl}/$batch"
	if err := info.SetContentFromParsable(ctx, b.c.adapter, "application/json", batch); err != nil {
		return nil, err
	}
	info.Headers.TryAdd("Accept", "application/json")
	got, err := b.c.adapter.Send(ctx, info, msgraphgocore.CreateBatchResponseDiscriminator,
		abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
	if err != nil {
		return nil, err
	}
	resp, ok := got.(msgraphgocore.BatchResponse)
	if !ok || resp == nil {
		return nil, errors.New("graphchat: the $batch answer is empty")
	}
	return resp, nil
}

// created finishes an item whose chat exists, or sends its message next.
// A group chat created for an item of Reuse is added to the index.
func (b *bulk) created(j *job, c *Created, out *batchOutcome) {
	if j.typ == policy.ChatTypeGroup {
		b.claims.add(c.Chat)
	}
	if j.hold != "" && !c.Existed && c.Chat != nil {
		b.ix.record(j.key, c.Chat)
	}
	if j.msg == nil {
		out.finished = append(out.finished, ItemResult{Index: j.index, Created: c, Attempts: j.attempts})
		return
	}
	j.created, j.notBefore = c, time.Time{}
	if c.Existed && !j.msgSent {
		// The chat is not new: its message may be there already (posted by
		// a run whose record of it is lost). It is looked up first.
		j.checkFirst = true
		if !b.c.declared(policy.OpListChats) {
			out.finished = append(out.finished, b.messageResult(j, nil, &MessageAmbiguousError{ChatID: c.ID(), Err: errExistedNoLookup}))
			return
		}
		out.lookup = append(out.lookup, j)
		return
	}
	out.again = append(out.again, j)
}

// errExistedNoLookup is why the message of a chat that existed is not
// posted without the lookup.
var errExistedNoLookup = errors.New("not posted: the chat existed before, and whether it already holds the message cannot be told without looking it up (list-chats)")

// failed decides what becomes of a job whose attempt failed.
func (b *bulk) failed(ctx context.Context, j *job, err error, status int, out *batchOutcome) {
	retry := func(delay time.Duration) {
		if j.attempts >= b.o.MaxAttempts || ctx.Err() != nil {
			err := fmt.Errorf("graphchat: gave up after %d attempts: %w", j.attempts, err)
			if j.messageStage() {
				out.finished = append(out.finished, b.messageResult(j, nil, err))
				return
			}
			out.finished = append(out.finished, ItemResult{Index: j.index, Err: err, Attempts: j.attempts})
			return
		}
		j.notBefore = time.Now().Add(delay)
		out.again = append(out.again, j)
	}
	var ge *Error
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusFailedDependency:
		delay := backoffDelay(j.attempts, 500*time.Millisecond, 30*time.Second, false)
		if errors.As(err, &ge) && ge.RetryAfter > 0 {
			delay = ge.RetryAfter
		}
		if status == http.StatusTooManyRequests {
			out.throttle = max(out.throttle, delay)
		}
		retry(delay)
	case !ambiguous(err) && j.messageStage():
		out.finished = append(out.finished, b.messageResult(j, nil, err))
	case !ambiguous(err):
		out.finished = append(out.finished, ItemResult{Index: j.index, Err: err, Attempts: j.attempts})
	case j.messageStage():
		// A message is not idempotent: it is looked up, never sent again
		// blindly.
		if !b.c.declared(policy.OpListChats) {
			out.finished = append(out.finished, b.messageResult(j, nil, &MessageAmbiguousError{ChatID: j.created.ID(), Err: err}))
			return
		}
		j.notBefore = time.Now().Add(b.c.lookupDelay)
		out.lookup = append(out.lookup, j)
	case j.typ == policy.ChatTypeOneOnOne:
		retry(backoffDelay(j.attempts, 500*time.Millisecond, 30*time.Second, false)) // the service returns the chat if it exists
	default:
		// Looked up with the other groups of unknown outcome, once the
		// request has had time to finish: the worker does not wait.
		if r := b.pendingGroup(j, err, b.c.lookupDelay); r != nil {
			out.finished = append(out.finished, *r)
			return
		}
		out.recover = append(out.recover, j)
	}
}

func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// parseChat reads a chat from a batch response body with graphchat's own
// JSON parser (the SDK's helper uses the global registry).
func parseChat(body map[string]any) (models.Chatable, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	chat, err := DecodeChat(data)
	if err != nil {
		return nil, err
	}
	if chat.GetId() == nil {
		return nil, errors.New("no chat id")
	}
	return chat, nil
}

// messageID reads a posted message's id from a batch response body.
func messageID(body map[string]any) string {
	data, err := json.Marshal(body)
	if err != nil {
		return ""
	}
	var m struct {
		ID string `json:"id"`
	}
	json.Unmarshal(data, &m) //nolint:errcheck // an unreadable body has no id
	return m.ID
}

// batchError builds an *Error from one answer of a batch. The body is read
// through JSON: the SDK's parse of a batch answer holds nested values as its
// own node types, not as maps.
func batchError(status int, headers map[string]string, body map[string]any) *Error {
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	data, _ := json.Marshal(body)
	e := errorFromBody("create-chat", status, h, data)
	// A $batch response's own headers name the request that failed: they
	// come before the body's innerError.
	if id := h.Get("request-id"); id != "" {
		e.RequestID = id
	}
	if id := h.Get("client-request-id"); id != "" {
		e.ClientRequestID = id
	}
	return e
}

// pacer spaces requests to a rate: reserving n requests waits for the
// first one's slot and moves the next slot n/rate later. It adapts: a 429
// halves the rate and pauses every request for the Retry-After; each
// success raises the rate a little, up to the configured one.
type pacer struct {
	mu        sync.Mutex
	max, rate float64
	next      time.Time
}

func newPacer(rate float64) *pacer { return &pacer{max: rate, rate: rate} }

func (p *pacer) wait(ctx context.Context, n int) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	p.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func (p *pacer) throttled(pause time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = max(p.rate/2, 1)
	if until := time.Now().Add(pause); until.After(p.next) {
		p.next = until
	}
}

func (p *pacer) succeeded(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = min(p.max, p.rate+float64(n)*p.max/100)
}
