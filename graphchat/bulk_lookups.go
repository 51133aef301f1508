package graphchat

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/policy"
)

// A bulk run looks things up in three lanes, each outside the batch slots
// (a lookup is paced listing, and must not keep creations waiting): group
// items in the index of chats to reuse (finds), group creations sent without
// a clear answer (groups), and messages sent without a clear answer (msgs).
// The jobs of a lane wait in its queue until they are due, and the due ones
// are looked up together, with one listing, one lookup of a lane at a time.
type lane struct {
	queue []*job
	busy  bool
	// take removes the jobs due now from the queue, and says how long
	// until the next one is due (-1: none is waiting for a time).
	take func(now time.Time) ([]*job, time.Duration)
	// look looks the jobs up; its outcome names the lane.
	look func(ctx context.Context, jobs []*job) batchOutcome
}

// dueByTime is the take of lanes whose jobs are due at their notBefore.
func (l *lane) dueByTime(now time.Time) ([]*job, time.Duration) {
	var due, later []*job
	wait := time.Duration(-1)
	for _, j := range l.queue {
		if d := j.notBefore.Sub(now); d > 0 {
			later = append(later, j)
			if wait < 0 || d < wait {
				wait = d
			}
			continue
		}
		due = append(due, j)
	}
	l.queue = later
	return due, wait
}

// lanes returns the run's lanes, the index's first: an item found there
// needs no creation.
func (b *bulk) lanes() []*lane { return []*lane{&b.finds, &b.groups, &b.msgs} }

func (b *bulk) newLanes() {
	b.finds = lane{take: func(time.Time) ([]*job, time.Duration) { return b.dueFinds(), -1 }, look: b.findAll}
	b.groups.take, b.groups.look = b.groups.dueByTime, b.recoverGroups
	b.msgs.take, b.msgs.look = b.msgs.dueByTime, b.lookUp
}

// startLookups starts the lookups that are due, in lanes not busy. It
// reports whether anything changed (a lookup started, or a job finished
// without one), and how long until the next job is due.
func (b *bulk) startLookups(ctx context.Context) (bool, time.Duration) {
	wait := time.Duration(-1)
	now := time.Now()
	for _, l := range b.lanes() {
		if l.busy || len(l.queue) == 0 {
			continue
		}
		n := len(l.queue)
		due, w := l.take(now)
		if w >= 0 && (wait < 0 || w < wait) {
			wait = w
		}
		if len(due) == 0 {
			if len(l.queue) < n {
				return true, wait // some finished at once: the run may be over
			}
			continue
		}
		l.busy = true
		b.inFlight++
		go func() { b.done <- l.look(ctx, due) }()
		return true, wait
	}
	return false, wait
}

// dueFinds takes the group items that may be looked up in the index now:
// each holds its chat until it finishes. An item whose chat another item
// holds waits; one whose chat an item left unknown, or any when the index
// could not be read, finishes at once.
func (b *bulk) dueFinds() []*job {
	var due, waiting []*job
	for _, j := range b.finds.queue {
		holder, held := b.holders[j.hold]
		held = held && holder != j.index // a resumed item holds its chat from the start
		earlier, unknown := b.unknown[j.hold]
		switch {
		case held:
			waiting = append(waiting, j)
		case unknown:
			b.finish(ItemResult{Index: j.index, Err: &AmbiguousError{
				Err: fmt.Errorf("item %d asked for the same chat, and whether it was created is unknown", earlier), LookupErr: errHeldBack}})
		case b.readErr != nil:
			b.finish(ItemResult{Index: j.index, Err: fmt.Errorf("graphchat: create-chat: not created: the chats to reuse could not be read: %w", b.readErr)})
		default:
			b.holders[j.hold], b.holdOf[j.index] = j.index, j.hold
			due = append(due, j)
		}
	}
	b.finds.queue = waiting
	return due
}

// errHeldBack explains why an item of a chat whose outcome is unknown is
// not looked up.
var errHeldBack = errors.New("not looked up: the earlier item's request may still be processed")

// findAll looks items up in the index (reading it at the first call): a
// chat found is the item's (Existed, and its message goes next), several
// fail it unless BulkOptions.Pick chooses, and none sends it to be
// created.
func (b *bulk) findAll(ctx context.Context, jobs []*job) batchOutcome {
	out := batchOutcome{lane: &b.finds}
	fail := func(j *job, err error) {
		if ctx.Err() != nil {
			err = &notSentError{ctx.Err()}
		}
		out.finished = append(out.finished, ItemResult{Index: j.index, Err: err, Attempts: j.attempts})
	}
	if err := b.ix.read(ctx); err != nil {
		if ctx.Err() == nil {
			out.readErr = err
		}
		for _, j := range jobs {
			fail(j, fmt.Errorf("graphchat: create-chat: not created: the chats to reuse could not be read: %w", err))
		}
		return out
	}
	for _, j := range jobs {
		found, err := b.ix.lookup(ctx, j.key)
		if err != nil {
			fail(j, fmt.Errorf("graphchat: create-chat: not created: looking the chat up: %w", err))
			continue
		}
		chat, err := chooseFound(found, b.o.Pick, j.given)
		switch {
		case err != nil:
			fail(j, err)
		case chat != nil:
			b.created(j, &Created{Chat: chat, Existed: true, Warnings: j.warnings}, &out)
		default:
			out.again = append(out.again, j) // not found: created next
		}
	}
	return out
}

// pendingGroup queues a group creation whose outcome is unknown (cause)
// for the groups lane: it is looked up once requests that may still be in
// flight have had time to finish, after delay. It reports the item's
// result at once when no lookup is possible.
func (b *bulk) pendingGroup(j *job, cause error, delay time.Duration) *ItemResult {
	if !b.c.declared(policy.OpListChats) {
		return &ItemResult{Index: j.index, Err: &AmbiguousError{Err: cause}, Attempts: j.attempts}
	}
	j.unknown, j.chatLookups, j.notBefore = cause, 0, time.Now().Add(delay)
	return nil
}

// recoverGroups looks group creations sent without a clear answer up, with
// one listing of the chats of each user whose chats hold them (the
// signed-in user's; for an application, a member's): a chat found is the
// item's (Recovered), none sends the item again (a retry cannot duplicate
// it), and a failed listing is tried again later, then leaves the outcome
// unknown.
func (b *bulk) recoverGroups(ctx context.Context, jobs []*job) batchOutcome {
	out := batchOutcome{lane: &b.groups}
	unknown := func(j *job, err error) {
		out.finished = append(out.finished, ItemResult{Index: j.index, Err: &AmbiguousError{Err: j.unknown, LookupErr: err}, Attempts: j.attempts})
	}
	pc, err := b.c.context(ctx, policy.OpListChats)
	if err != nil {
		for _, j := range jobs {
			unknown(j, err)
		}
		return out
	}
	byWho := map[string][]*job{}
	var whos []string
	for _, j := range jobs {
		if j.key.typ == "" { // its members identified at its first lookup
			j.key = b.c.groupKey(ctx, j.req, b.pc, j.dir)
		}
		if j.key.unresolved != nil {
			unknown(j, j.key.unresolved)
			continue
		}
		who, err := recoveryLister(j.key, pc)
		if err != nil {
			unknown(j, err)
			continue
		}
		if _, ok := byWho[who]; !ok {
			whos = append(whos, who)
		}
		byWho[who] = append(byWho[who], j)
	}
	for _, who := range whos {
		js := byWho[who]
		groups := make([]pendingGroup, len(js))
		for i, j := range js {
			groups[i] = pendingGroup{key: j.key, since: j.firstSent}
		}
		found, err := b.c.findGroups(ctx, who, groups)
		for i, j := range js {
			var chat models.Chatable
			if err == nil {
				chat = b.claims.take(found[i])
			}
			switch {
			case err != nil && j.chatLookups+1 < lookupAttempts && ctx.Err() == nil:
				// A listing is a GET: trying it again later changes nothing.
				j.chatLookups++
				j.notBefore = time.Now().Add(b.c.lookupDelay << j.chatLookups)
				out.recover = append(out.recover, j)
			case err != nil:
				unknown(j, err)
			case chat != nil:
				j.unknown = nil
				b.created(j, &Created{Chat: chat, Recovered: true, Warnings: j.warnings}, &out)
			case j.hold != "" && j.unknown == errSentEarlier:
				j.unknown, j.notBefore = nil, time.Time{}
				out.find = append(out.find, j) // absent: now looked for among the chats to reuse
			case j.attempts >= b.o.MaxAttempts:
				out.finished = append(out.finished, ItemResult{Index: j.index, Err: fmt.Errorf("graphchat: gave up after %d attempts, the last not created: %w", j.attempts, j.unknown), Attempts: j.attempts})
			default:
				j.unknown, j.notBefore = nil, time.Time{}
				out.again = append(out.again, j) // not created: a retry cannot duplicate it
			}
		}
	}
	return out
}

// lookUp resolves messages sent without a clear answer, with one listing
// of the signed-in user's chats (see findMessages): a message found is
// posted, one certainly absent is sent again, and the others are unknown.
func (b *bulk) lookUp(ctx context.Context, jobs []*job) batchOutcome {
	out := batchOutcome{lane: &b.msgs}
	want := map[string]string{}
	since := jobs[0].lookupSince
	for _, j := range jobs {
		want[j.created.ID()] = j.digest
		if j.lookupSince.Before(since) {
			since = j.lookupSince
		}
	}
	found, err := b.c.findMessages(ctx, want, b.send.Caller.ID, since)
	for _, j := range jobs {
		f, ok := found[j.created.ID()]
		switch {
		case err != nil && !ok && j.lookups+1 < lookupAttempts && ctx.Err() == nil:
			// A listing is a GET: trying it again later changes nothing.
			j.lookups++
			j.notBefore = time.Now().Add(b.c.lookupDelay << j.lookups)
			out.lookup = append(out.lookup, j)
		case ok && f.state == messagePosted && f.digest == j.digest:
			out.finished = append(out.finished, b.messageResult(j, &Posted{ID: f.id, Recovered: true}, nil))
		case ok && f.state == messageAbsent && (f.listed || !j.checkFirst):
			if j.msgAttempts >= b.o.MaxAttempts {
				out.finished = append(out.finished, b.messageResult(j, nil, &MessageAmbiguousError{ChatID: j.created.ID(), Err: fmt.Errorf("absent after %d attempts: not sent again", j.msgAttempts)}))
				continue
			}
			j.notBefore = time.Time{}
			out.again = append(out.again, j) // not posted: sending it cannot duplicate it
		default:
			why := err
			if why == nil {
				why = undecided(f, ok, j.checkFirst)
			}
			out.finished = append(out.finished, b.messageResult(j, nil, &MessageAmbiguousError{ChatID: j.created.ID(), Err: fmt.Errorf("looked up: %w", why)}))
		}
	}
	return out
}

// undecided says why a lookup left a message's outcome unknown.
func undecided(f foundMessage, listed, checkFirst bool) error {
	switch {
	case listed && f.state == messagePosted && checkFirst:
		return errors.New("the chat existed and its last message is another one: whether it already holds this message cannot be told, so it is not posted")
	case listed && f.state == messageAbsent:
		return errors.New("the chat, which existed, was not in the listing of the signed-in user's chats: whether it holds the message cannot be told")
	case listed && f.state == messagePosted:
		return errors.New("the chat's last message since the send is another one: the message cannot be told from others")
	case listed:
		return errors.New("the chat's last message cannot be read")
	}
	return errors.New("the chat was not found among the signed-in user's recent chats")
}

// foundMessage is what a lookup learnt of a chat's last message.
type foundMessage struct {
	state  messageState
	id     string // the last message's id, when posted
	digest string // its MessageDigest
	listed bool   // absent: the chat was listed, without any message
}

type messageState int

const (
	messageAbsent  messageState = iota + 1 // no message in the chat since the send
	messagePosted                          // the chat's last message since the send is the caller's, with id and digest
	messageUnknown                         // another message, or one that cannot be read
)

// maxLookupChats bounds the chats one message lookup reads (100 pages).
const maxLookupChats = 100 * listPageSize

// errDecided ends a message lookup's listing early; errUndecided ends one
// that read too many chats.
var (
	errDecided   = errors.New("decided")
	errUndecided = fmt.Errorf("not decided within %d chats", maxLookupChats)
)

// findMessages looks for the last message of chats, with one listing of the
// signed-in user's chats, most recent message first (GET /me/chats with
// $expand=lastMessagePreview and $orderby=lastMessagePreview/createdDateTime
// desc: the list-chats operation). It reports, for each chat of want it can
// decide: absent (no message since the earliest send, with a minute's
// allowance for clock differences), or the last message when it was posted
// since then by the caller (callerID; any sender when empty). It stops
// when every chat was seen or the listing reaches messages older than that.
// A chat not reported is undecided; so is every chat when err is not nil.
func (c *Client) findMessages(ctx context.Context, want map[string]string, callerID string, since time.Time) (map[string]foundMessage, error) {
	out := map[string]foundMessage{}
	bound := since.Add(-lookupSkew)
	lower := map[string]string{}
	for id := range want {
		lower[strings.ToLower(id)] = id
	}
	info := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET, "{+baseurl}/me/chats{?%24expand,%24orderby,%24top}", map[string]string{})
	info.QueryParameters["%24expand"] = "lastMessagePreview"
	info.QueryParameters["%24orderby"] = "lastMessagePreview/createdDateTime desc"
	info.QueryParameters["%24top"] = fmt.Sprint(listPageSize)
	seen := 0
	err := pageAll(ctx, c, policy.OpListChats, "the signed-in user's chats by last message", info, models.CreateChatCollectionResponseFromDiscriminatorValue, c.finding.pacer(""), func(chat models.Chatable) error {
		if seen++; seen > maxLookupChats {
			return errUndecided
		}
		p := chat.GetLastMessagePreview()
		if p != nil && p.GetCreatedDateTime() != nil && p.GetCreatedDateTime().Before(bound) {
			return errDecided // ordered: the rest is older
		}
		if id, ok := lower[strings.ToLower(deref(chat.GetId()))]; ok {
			out[id] = lastMessage(p, callerID)
		}
		if len(out) == len(want) {
			return errDecided
		}
		return nil
	})
	switch {
	case errors.Is(err, errDecided), err == nil:
		// The listing is done: what was not seen has no recent message.
		for id := range want {
			if _, ok := out[id]; !ok {
				out[id] = foundMessage{state: messageAbsent}
			}
		}
		return out, nil
	case errors.Is(err, errUndecided):
		return out, err
	}
	return nil, err
}

// lastMessage is what a listed chat's lastMessagePreview says of the
// message looked for.
func lastMessage(p models.ChatMessageInfoable, callerID string) foundMessage {
	switch {
	case p == nil:
		return foundMessage{state: messageAbsent, listed: true}
	case p.GetCreatedDateTime() == nil || p.GetBody() == nil || deref(p.GetIsDeleted()):
		return foundMessage{state: messageUnknown}
	}
	typ := models.TEXT_BODYTYPE
	if t := p.GetBody().GetContentType(); t != nil {
		typ = *t
	}
	from := ""
	if f := p.GetFrom(); f != nil && f.GetUser() != nil {
		from = deref(f.GetUser().GetId())
	}
	if callerID != "" && !strings.EqualFold(from, callerID) {
		return foundMessage{state: messageUnknown}
	}
	return foundMessage{state: messagePosted, id: deref(p.GetId()), digest: digestOf(typ, deref(p.GetBody().GetContent()))}
}

// claims is the group chats a run has given to its items, so that a lookup
// never gives one chat to two items that asked for the same people and
// topic (each keeps its own, or is created). It keeps a 16-byte digest a
// chat, safe for concurrent use.
type claims struct {
	mu  sync.Mutex
	ids map[[16]byte]struct{}
}

func claimKey(id string) [16]byte {
	sum := sha256.Sum256([]byte(strings.ToLower(id)))
	return [16]byte(sum[:16])
}

// add records a chat given to an item.
func (c *claims) add(chat models.Chatable) {
	if isNil(chat) || deref(chat.GetId()) == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil {
		c.ids = map[[16]byte]struct{}{}
	}
	c.ids[claimKey(deref(chat.GetId()))] = struct{}{}
}

// take returns the first of chats (oldest first) that no item has, and
// records it; nil when every one is taken.
func (c *claims) take(chats []models.Chatable) models.Chatable {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, chat := range chats {
		k := claimKey(deref(chat.GetId()))
		if _, taken := c.ids[k]; !taken {
			if c.ids == nil {
				c.ids = map[[16]byte]struct{}{}
			}
			c.ids[k] = struct{}{}
			return chat
		}
	}
	return nil
}
