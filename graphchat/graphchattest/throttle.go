package graphchattest

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Throttle sets the emulator's throttling buckets, each a rate; zero turns
// a bucket off. A request over any bucket that applies to it gets 429 with
// Retry-After and a TooManyRequests body, and consumes nothing. Inside a
// $batch each request is throttled on its own. The zero Throttle (the
// default) throttles nothing; [DocumentedLimits] returns the limits of
// Microsoft's throttling page (Microsoft Teams section).
type Throttle struct {
	// PerApp is requests per second per app per tenant, every request.
	PerApp float64
	// PerUserList is requests per second per user to list or get chats.
	PerUserList float64
	// MemberAddsPerChat is member additions per minute per chat.
	MemberAddsPerChat float64
	// WritesPerChat is writes (add or remove a member, update the chat)
	// per second per app on one chat.
	WritesPerChat float64
}

// DocumentedLimits returns the limits Microsoft documents for Teams: 30
// requests a second per app per tenant, about 5 a second per user to list
// or get chats, 4 member additions a minute per chat, 1 write a second per
// app on a chat. The page says these change: read the current one. Each
// call returns its own copy, which the caller may change.
func DocumentedLimits() Throttle {
	return Throttle{PerApp: 30, PerUserList: 5, MemberAddsPerChat: 4, WritesPerChat: 1}
}

// class is what a request counts against.
type class int

const (
	classRead      class = iota // any other request
	classList                   // list or get chats
	classWrite                  // update a chat, remove a member
	classAddMember              // add a member
)

// bucket is a token bucket holding at most one period's worth.
type bucket struct {
	tokens float64
	last   time.Time
}

type limit struct {
	key   string
	rate  float64 // tokens a second
	burst float64
}

// maxBuckets bounds the buckets kept; beyond it, buckets idle for a minute
// (full again at any rate this emulator allows) are forgotten.
const maxBuckets = 10_000

// throttled answers 429 when a bucket that applies to the request is empty;
// otherwise it takes a token from each and answers with h.
func (e *Emulator) throttled(q *request, c class, chatID, user string, h func() *response) *response {
	t := e.opts.Throttle
	app := "anonymous"
	if q.claims != nil {
		app = q.claims.AppID
	}
	var ls []limit
	add := func(key string, perSecond, burst float64) {
		if perSecond > 0 {
			ls = append(ls, limit{key: key, rate: perSecond, burst: max(1, burst)})
		}
	}
	add("app|"+app, t.PerApp, t.PerApp)
	switch c {
	case classList:
		add("list|"+strings.ToLower(user), t.PerUserList, t.PerUserList)
	case classAddMember:
		add("adds|"+chatID, t.MemberAddsPerChat/60, t.MemberAddsPerChat)
		fallthrough
	case classWrite:
		add("write|"+app+"|"+chatID, t.WritesPerChat, t.WritesPerChat)
	}
	if len(ls) == 0 {
		return h()
	}
	if wait := e.take(ls); wait > 0 {
		return e.graphError(q, http.StatusTooManyRequests, "TooManyRequests", fmt.Sprintf("Too many requests, retry after %s seconds.", formatSeconds(wait)),
			http.Header{"Retry-After": {formatSeconds(wait)}})
	}
	return h()
}

// take takes a token from every bucket of ls, or none and returns how long
// until all have one.
func (e *Emulator) take(ls []limit) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if e.buckets == nil {
		e.buckets = map[string]*bucket{}
	}
	if len(e.buckets) > maxBuckets {
		for k, b := range e.buckets {
			if now.Sub(b.last) > time.Minute {
				delete(e.buckets, k)
			}
		}
	}
	var wait time.Duration
	bs := make([]*bucket, len(ls))
	for i, l := range ls {
		b := e.buckets[l.key]
		if b == nil {
			b = &bucket{tokens: l.burst, last: now}
			e.buckets[l.key] = b
		}
		b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
		bs[i] = b
		if b.tokens < 1 {
			wait = max(wait, time.Duration((1-b.tokens)/l.rate*float64(time.Second)))
		}
	}
	if wait > 0 {
		return wait
	}
	for _, b := range bs {
		b.tokens--
	}
	return 0
}
