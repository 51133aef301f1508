package graphchat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
// *AmbiguousError when a group's outcome is unknown, or the context's error
// for items not sent).
type ItemResult struct {
	Index    int // the item's index in the input
	Created  *Created
	Err      error
	Attempts int // requests sent for the item
}

// BulkOptions control CreateMany. Zero values mean the defaults.
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
	// OnResult is called once per item as it finishes, never concurrently.
	OnResult func(ItemResult)
	// OnSend, when set, is called with an item's index just before its first
	// request is sent, never concurrently. A caller that records it can tell,
	// after a crash, which items may have been created (see FindGroup).
	OnSend func(index int)
}

// BulkSummary counts the outcomes of a bulk creation.
type BulkSummary struct {
	Created   int // new chats, Recovered included
	Existed   int // one-on-one chats that already existed
	Recovered int // created, found by a lookup after an ambiguous failure
	Refused   int // refused by the policy, never sent
	Failed    int // failed at the service, or not sent
}

// Summarize counts results.
func Summarize(results []ItemResult) BulkSummary {
	var s BulkSummary
	for _, r := range results {
		var list policy.List
		switch {
		case r.Err == nil && r.Created != nil && r.Created.Existed:
			s.Existed++
		case r.Err == nil:
			s.Created++
			if r.Created != nil && r.Created.Recovered {
				s.Recovered++
			}
		case errors.As(r.Err, &list):
			s.Refused++
		default:
			s.Failed++
		}
	}
	return s
}

// CreateMany creates many chats through JSON batching ($batch, up to 20
// creations a request) with bounded concurrency and a rate limit. Every item
// is checked by the policy first; refused items are reported and never sent.
// Throttled items are retried after their own Retry-After while the rest of
// the batch goes on. One-on-one items are retried after ambiguous failures;
// group items are looked up first (when list-chats is declared), so that no
// chat is created twice. Every item gets exactly one result, in the returned
// slice (by index) and through OnResult as it finishes. The error is non-nil
// only for invalid options or when the credential fails.
func (c *Client) CreateMany(ctx context.Context, items []Item, opts *BulkOptions) ([]ItemResult, error) {
	o, err := bulkDefaults(opts)
	if err != nil {
		return nil, err
	}
	pc, err := c.context(ctx, policy.OpCreateChat)
	if err != nil {
		return nil, err
	}
	b := &bulk{c: c, o: o, results: make([]ItemResult, len(items)), done: make(chan batchOutcome), lim: newPacer(o.Rate)}
	for i, it := range items {
		b.results[i].Index = i
		job, res := b.prepare(ctx, i, it, pc)
		if res != nil {
			b.finish(*res)
			continue
		}
		b.queue = append(b.queue, job)
	}
	b.run(ctx)
	return b.results, nil
}

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
	c       *Client
	o       BulkOptions
	queue   []*job
	results []ItemResult
	done    chan batchOutcome
	lim     *pacer
}

// prepare checks an item and builds its model; a non-nil result refuses it.
func (b *bulk) prepare(ctx context.Context, i int, it Item, pc *policy.Context) (*job, *ItemResult) {
	req := &policy.Request{ChatType: it.Type, Members: make([]policy.Member, len(it.Members))}
	if it.Topic != "" {
		t := it.Topic
		req.Topic = &t
	}
	for j, m := range it.Members {
		req.Members[j] = m.policy()
	}
	res, key, err := b.c.prepareCreate(ctx, req, pc, nil)
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
	b.results[r.Index] = r
	if b.o.OnResult != nil {
		b.o.OnResult(r)
	}
}

// batchOutcome is what a batch worker reports: finished items and items to
// send again.
type batchOutcome struct {
	finished []ItemResult
	again    []*job
	throttle time.Duration // the longest Retry-After of its 429s; 0 when none
}

// run dispatches batches until every job has a result.
func (b *bulk) run(ctx context.Context) {
	inFlight := 0
	for len(b.queue) > 0 || inFlight > 0 {
		if ctx.Err() != nil && inFlight == 0 {
			for _, j := range b.queue {
				b.finish(ItemResult{Index: j.index, Err: fmt.Errorf("graphchat: create-chat: not sent: %w", ctx.Err()), Attempts: j.attempts})
			}
			b.queue = nil
			return
		}
		ready, wait := b.take()
		if len(ready) > 0 && inFlight < b.o.Concurrency && ctx.Err() == nil {
			for _, j := range ready {
				if j.attempts == 0 && b.o.OnSend != nil {
					b.o.OnSend(j.index)
				}
			}
			inFlight++
			go func() { b.done <- b.send(ctx, ready) }()
			continue
		}
		b.queue = append(b.queue, ready...) // not sent: back in line
		var timer <-chan time.Time
		if len(ready) == 0 && wait > 0 && inFlight < b.o.Concurrency {
			timer = time.After(wait)
		}
		select {
		case out := <-b.done:
			inFlight--
			for _, r := range out.finished {
				b.finish(r)
			}
			b.queue = append(b.queue, out.again...)
		case <-timer:
		case <-ctx.Done():
			if inFlight > 0 {
				out := <-b.done
				inFlight--
				for _, r := range out.finished {
					b.finish(r)
				}
				b.queue = append(b.queue, out.again...)
			}
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

// batchError builds an *Error from one answer of a batch.
func batchError(status int, headers map[string]string, body map[string]any) *Error {
	e := &Error{Op: "create-chat", StatusCode: status, RequestID: header(headers, "request-id"), ClientRequestID: header(headers, "client-request-id")}
	e.RetryAfter, _ = parseRetryAfter(header(headers, "Retry-After"), time.Now())
	if ge, ok := body["error"].(map[string]any); ok {
		e.Code, _ = ge["code"].(string)
		e.Message, _ = ge["message"].(string)
		for _, k := range []string{"innerError", "innererror"} {
			if inner, ok := ge[k].(map[string]any); ok {
				if id, ok := inner["request-id"].(string); ok && e.RequestID == "" {
					e.RequestID = id
				}
				if id, ok := inner["client-request-id"].(string); ok && e.ClientRequestID == "" {
					e.ClientRequestID = id
				}
			}
		}
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
