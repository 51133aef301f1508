package graphchat

import (
	"context"
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
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/graphchat/graphchat/policy"
)

// Item is one chat of a bulk creation.
type Item struct {
	Type    policy.ChatType // policy.ChatTypeOneOnOne or policy.ChatTypeGroup
	Topic   string          // group chats only; "" for none
	Members []Member
}

// ItemResult is the outcome of one item: Created, or Err (a policy.List
// when refused before sending, an *Error answered by Graph, an
// *AmbiguousError when a group's outcome is unknown, or an error matching
// ErrNotSent for items never sent). Outcome classifies it.
type ItemResult struct {
	Index    int // the item's index in the input
	Created  *Created
	Err      error
	Attempts int // requests sent for the item
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
	onResult := o.OnResult
	o.OnResult = func(r ItemResult) {
		results[r.Index] = r
		if onResult != nil {
			onResult(r)
		}
	}
	err := c.CreateEach(ctx, slices.Values(items), &o)
	if err != nil && !errors.Is(err, errStopped) {
		return nil, err
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
// created twice.
//
// The error is non-nil for invalid options, a failing credential, a grant
// refused by the policy, or when OnSend vetoed a send (it wraps OnSend's
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
	next, stop := iter.Pull(items)
	defer stop()
	b := &bulk{c: c, o: o, pc: pc, next: next, done: make(chan batchOutcome), lim: newPacer(o.Rate)}
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

// job is an item waiting to be sent.
type job struct {
	index     int
	typ       policy.ChatType
	chat      models.Chatable
	key       groupKey
	warnings  policy.List
	attempts  int
	firstSent time.Time // when the first attempt was sent
	notBefore time.Time
}

type bulk struct {
	c     *Client
	o     BulkOptions
	pc    *policy.Context
	next  func() (Item, bool)
	read  int  // items pulled from the sequence
	ended bool // the sequence has no more items
	queue []*job
	done  chan batchOutcome
	lim   *pacer
}

// prepare checks an item and builds its model; a non-nil result refuses it.
func (b *bulk) prepare(ctx context.Context, i int, it Item) (*job, *ItemResult) {
	req := &policy.Request{ChatType: it.Type, Members: make([]policy.Member, len(it.Members))}
	if it.Topic != "" {
		t := it.Topic
		req.Topic = &t
	}
	for j, m := range it.Members {
		req.Members[j] = m.policy()
	}
	res, key, err := b.c.prepareCreate(ctx, req, b.pc, nil)
	if err != nil {
		return nil, &ItemResult{Index: i, Err: err}
	}
	chat, err := ChatModel(b.c.cloud, b.c.version(), it.Type, it.Topic, it.Members...)
	if err != nil {
		return nil, &ItemResult{Index: i, Err: err}
	}
	return &job{index: i, typ: it.Type, chat: chat, key: key, warnings: res.Warnings}, nil
}

func (b *bulk) finish(r ItemResult) {
	if b.o.OnResult != nil {
		b.o.OnResult(r)
	}
}

// fill pulls items until the queue holds a batch more than can be in
// flight, or the sequence ends. Items the policy refuses finish at once.
func (b *bulk) fill(ctx context.Context) {
	for !b.ended && len(b.queue) < (b.o.Concurrency+1)*b.o.BatchSize {
		it, ok := b.next()
		if !ok {
			b.ended = true
			return
		}
		i := b.read
		b.read++
		job, res := b.prepare(ctx, i, it)
		if res != nil {
			b.finish(*res)
			continue
		}
		b.queue = append(b.queue, job)
	}
}

// batchOutcome is what a batch worker reports: finished items and items to
// send again.
type batchOutcome struct {
	finished []ItemResult
	again    []*job
	throttle time.Duration // the longest Retry-After of its 429s; 0 when none
}

// run dispatches batches until every item has a result, or until the
// context is cancelled or OnSend vetoes a send; then it waits for the
// batches in flight and reports the items left, and those the sequence
// still holds, not sent.
func (b *bulk) run(ctx context.Context) error {
	inFlight := 0
	var vetoed error
	collect := func(out batchOutcome) {
		inFlight--
		for _, r := range out.finished {
			b.finish(r)
		}
		b.queue = append(b.queue, out.again...)
	}
	for {
		stopping := vetoed != nil || ctx.Err() != nil
		if !stopping {
			b.fill(ctx)
		}
		if stopping && inFlight == 0 {
			cause := vetoed
			if cause == nil {
				cause = ctx.Err()
			}
			for _, j := range b.queue {
				b.finish(ItemResult{Index: j.index, Err: &notSentError{cause}, Attempts: j.attempts})
			}
			b.queue = nil
			if vetoed != nil {
				return fmt.Errorf("%w: %w", errStopped, vetoed)
			}
			return nil
		}
		if b.ended && len(b.queue) == 0 && inFlight == 0 {
			return nil
		}
		ready, wait := b.take()
		if len(ready) > 0 && inFlight < b.o.Concurrency && !stopping {
			var first []int
			for _, j := range ready {
				if j.attempts == 0 {
					first = append(first, j.index)
				}
			}
			if len(first) > 0 && b.o.OnSend != nil {
				if err := b.o.OnSend(first); err != nil {
					vetoed = err
					b.queue = append(b.queue, ready...)
					continue
				}
			}
			inFlight++
			go func() { b.done <- b.send(ctx, ready) }()
			continue
		}
		b.queue = append(b.queue, ready...) // not sent: back in line
		if stopping {
			collect(<-b.done)
			continue
		}
		var timer <-chan time.Time
		if len(ready) == 0 && wait > 0 && inFlight < b.o.Concurrency {
			timer = time.After(wait)
		}
		select {
		case out := <-b.done:
			collect(out)
		case <-timer:
		case <-ctx.Done():
		}
	}
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

// send sends one batch and sorts its items into results and retries.
func (b *bulk) send(ctx context.Context, jobs []*job) batchOutcome {
	var out batchOutcome
	if err := b.lim.wait(ctx, len(jobs)); err != nil {
		out.again = jobs // not sent; run reports them
		return out
	}
	batch := msgraphgocore.NewBatchRequest(b.c.adapter)
	byID := map[string]*job{}
	for _, j := range jobs {
		info, err := b.c.chats().ToPostRequestInformation(ctx, j.chat, nil)
		if err == nil {
			var item msgraphgocore.BatchItem
			if item, err = batch.AddBatchRequestStep(*info); err == nil {
				byID[deref(item.GetId())] = j
				j.attempts++
				if j.firstSent.IsZero() {
					j.firstSent = time.Now()
				}
				continue
			}
		}
		out.finished = append(out.finished, ItemResult{Index: j.index, Err: fmt.Errorf("graphchat: create-chat: building the batch: %w", err), Attempts: j.attempts})
	}
	start := time.Now()
	resp, err := b.sendBatch(ctx, batch)
	if err != nil {
		err = translate("batch", err)
		for _, j := range byID {
			b.failed(ctx, j, err, 0, start, &out)
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
		status := 0
		if s := item.GetStatus(); s != nil {
			status = int(*s)
		}
		headers := item.GetHeaders()
		switch {
		case status == http.StatusCreated || status == http.StatusOK:
			chat, perr := parseChat(item.GetBody())
			if perr != nil {
				b.failed(ctx, j, &Error{Op: "create-chat", StatusCode: status, Message: "unreadable chat in the batch response: " + perr.Error()}, status, start, &out)
				continue
			}
			created := &Created{Chat: chat, Warnings: j.warnings}
			if j.typ == policy.ChatTypeOneOnOne {
				// Judged against the first attempt: a chat an earlier,
				// ambiguous attempt created is not one that existed.
				created.Existed = b.c.existed(chat, "", j.firstSent, 0)
			}
			b.lim.succeeded(1)
			out.finished = append(out.finished, ItemResult{Index: j.index, Created: created, Attempts: j.attempts})
		case status == http.StatusAccepted:
			out.finished = append(out.finished, ItemResult{Index: j.index, Created: &Created{Operation: header(headers, "Location"), Warnings: j.warnings}, Attempts: j.attempts})
		default:
			b.failed(ctx, j, batchError(status, headers, item.GetBody()), status, start, &out)
		}
	}
	for _, j := range byID { // no response for it: as if the connection dropped
		b.failed(ctx, j, errors.New("graphchat: create-chat: the batch response has no answer for the request"), 0, start, &out)
	}
	if out.throttle > 0 {
		b.lim.throttled(out.throttle) // the limit is the app's: it slows every item
	}
	return out
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

// failed decides what becomes of a job whose attempt failed.
func (b *bulk) failed(ctx context.Context, j *job, err error, status int, start time.Time, out *batchOutcome) {
	retry := func(delay time.Duration) {
		if j.attempts >= b.o.MaxAttempts || ctx.Err() != nil {
			out.finished = append(out.finished, ItemResult{Index: j.index, Err: fmt.Errorf("graphchat: create-chat: gave up after %d attempts: %w", j.attempts, err), Attempts: j.attempts})
			return
		}
		j.notBefore = time.Now().Add(delay)
		out.again = append(out.again, j)
	}
	var ge *Error
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusFailedDependency:
		delay := backoff(j.attempts)
		if errors.As(err, &ge) && ge.RetryAfter > 0 {
			delay = ge.RetryAfter
		}
		if status == http.StatusTooManyRequests {
			out.throttle = max(out.throttle, delay)
		}
		retry(delay)
	case !ambiguous(err):
		out.finished = append(out.finished, ItemResult{Index: j.index, Err: err, Attempts: j.attempts})
	case j.typ == policy.ChatTypeOneOnOne:
		retry(backoff(j.attempts)) // the service returns the chat if it exists
	default:
		found, lerr := b.c.recoverGroup(ctx, j.key, start)
		switch {
		case errors.Is(lerr, errNoLookup):
			out.finished = append(out.finished, ItemResult{Index: j.index, Err: &AmbiguousError{Err: err}, Attempts: j.attempts})
		case lerr != nil:
			out.finished = append(out.finished, ItemResult{Index: j.index, Err: &AmbiguousError{Err: err, LookupErr: lerr}, Attempts: j.attempts})
		case found != nil:
			out.finished = append(out.finished, ItemResult{Index: j.index, Created: &Created{Chat: found, Recovered: true, Warnings: j.warnings}, Attempts: j.attempts})
		default:
			retry(0) // not created: a retry cannot duplicate it
		}
	}
}

func backoff(attempt int) time.Duration {
	d := 500 * time.Millisecond << min(attempt, 6)
	return min(d, 30*time.Second)
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

// batchError builds an *Error from one answer of a batch. The body is read
// through JSON: the SDK's parse of a batch answer holds nested values as its
// own node types, not as maps.
func batchError(status int, headers map[string]string, body map[string]any) *Error {
	e := &Error{Op: "create-chat", StatusCode: status, RequestID: header(headers, "request-id"), ClientRequestID: header(headers, "client-request-id")}
	e.RetryAfter, _ = parseRetryAfter(header(headers, "Retry-After"), time.Now())
	data, err := json.Marshal(body)
	if err != nil {
		return e
	}
	var odata struct {
		Error struct {
			Code, Message string
			InnerError    struct {
				RequestID       string `json:"request-id"`
				ClientRequestID string `json:"client-request-id"`
			}
		}
	}
	if json.Unmarshal(data, &odata) != nil {
		return e
	}
	e.Code, e.Message = odata.Error.Code, odata.Error.Message
	if e.RequestID == "" {
		e.RequestID = odata.Error.InnerError.RequestID
	}
	if e.ClientRequestID == "" {
		e.ClientRequestID = odata.Error.InnerError.ClientRequestID
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
