package graphchat_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// withLookup declares the lookup, and what the app knows of Nestor (whom
// createGroup gives by user principal name): his object id.
var withLookup = &graphchat.Options{Operations: []policy.Operation{policy.OpCreateChat, policy.OpListChats}, Directory: knownUsers}

var knownUsers, _ = policy.NewDirectory(policy.User{ID: graphchattest.NestorID, UserPrincipalName: "nestor@contoso.com", Kind: policy.KindMember})

func lookupToken() string {
	return graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic")
}

func isChatPost(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/chats")
}

func createGroup(e *env) (*graphchat.Created, error) {
	return e.client.CreateGroup(ctx, "Quarterly review", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("nestor@contoso.com"))
}

// failFirstPost makes the first POST /chats fail after the emulator
// processed it, in the given way.
func failFirstPost(e *env, fail func(w http.ResponseWriter)) {
	var n atomic.Int32
	e.after = func(w http.ResponseWriter, r *http.Request) bool {
		if !isChatPost(r) || n.Add(1) > 1 {
			return false
		}
		fail(w)
		return true
	}
}

func TestGroupRecoveredAfter504(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, withLookup, lookupToken())
	failFirstPost(e, func(w http.ResponseWriter) { w.WriteHeader(http.StatusGatewayTimeout) })
	got, err := createGroup(e)
	if err != nil || !got.Recovered || got.ID() == "" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if n := len(e.emu.Chats()); n != 1 || e.chatPosts() != 1 {
		t.Errorf("%d chats after %d posts", n, e.chatPosts())
	}
}

// The lookup after an ambiguous failure waits Options.LookupDelay, the
// Client's own setting.
func TestLookupWaitsLookupDelay(t *testing.T) {
	t.Parallel()
	const delay = 300 * time.Millisecond
	opts := *withLookup
	opts.LookupDelay = delay
	e := setup(t, nil, &opts, lookupToken())
	var mu sync.Mutex
	var failed, listed time.Time
	failFirstPost(e, func(w http.ResponseWriter) {
		mu.Lock()
		failed = time.Now()
		mu.Unlock()
		w.WriteHeader(http.StatusGatewayTimeout)
	})
	e.before = func(_ http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodGet && listed.IsZero() {
			listed = time.Now()
		}
		return false
	}
	if got, err := createGroup(e); err != nil || !got.Recovered {
		t.Fatalf("got %+v, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if wait := listed.Sub(failed); wait < delay {
		t.Errorf("looked up %s after the failure, want at least %s", wait, delay)
	}
}

func TestGroupRecoveredAfterDroppedConnection(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, withLookup, lookupToken())
	failFirstPost(e, func(w http.ResponseWriter) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	got, err := createGroup(e)
	if err != nil || !got.Recovered {
		t.Fatalf("got %+v, %v", got, err)
	}
	if n := len(e.emu.Chats()); n != 1 {
		t.Errorf("%d chats", n)
	}
}

func TestGroupRetriedWhenNotCreated(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, withLookup, lookupToken())
	var n atomic.Int32
	e.before = func(w http.ResponseWriter, r *http.Request) bool {
		if !isChatPost(r) || n.Add(1) > 1 {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable) // not processed
		return true
	}
	got, err := createGroup(e)
	if err != nil || got.Recovered || got.ID() == "" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if c := len(e.emu.Chats()); c != 1 || e.chatPosts() != 2 {
		t.Errorf("%d chats after %d posts", c, e.chatPosts())
	}
}

// An earlier chat with the same topic and members is not mistaken for the
// one being created: it was created before the attempt began.
func TestLookupIgnoresOlderChats(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	e := setup(t, &graphchattest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }}, withLookup, lookupToken())
	offset.Store(int64(-time.Hour))
	if _, err := createGroup(e); err != nil {
		t.Fatal(err)
	}
	offset.Store(0)
	var n atomic.Int32
	e.before = func(w http.ResponseWriter, r *http.Request) bool {
		if !isChatPost(r) || n.Add(1) > 1 {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	got, err := createGroup(e)
	if err != nil || got.Recovered {
		t.Fatalf("got %+v, %v", got, err)
	}
	if c := len(e.emu.Chats()); c != 2 {
		t.Errorf("%d chats, want the old one and the new one", c)
	}
}

func TestGroupOutcomeUnknownWithoutLookup(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, "")
	failFirstPost(e, func(w http.ResponseWriter) { w.WriteHeader(http.StatusGatewayTimeout) })
	_, err := createGroup(e)
	var amb *graphchat.AmbiguousError
	if !errors.Is(err, graphchat.ErrOutcomeUnknown) || !errors.As(err, &amb) || !strings.Contains(err.Error(), "list-chats") {
		t.Fatalf("err = %v", err)
	}
	if e.chatPosts() != 1 {
		t.Errorf("%d posts: the ambiguous creation was retried", e.chatPosts())
	}
}

// A one-on-one chat after a dropped connection is simply retried: the
// service returns the chat the first attempt created.
func TestOneOnOneRetriedAfterDrop(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, "")
	failFirstPost(e, func(w http.ResponseWriter) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	got, err := e.client.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID))
	if err != nil || got.ID() == "" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if c := len(e.emu.Chats()); c != 1 || e.chatPosts() != 2 {
		t.Errorf("%d chats after %d posts", c, e.chatPosts())
	}
}

// A group creation whose context ends while the request is in flight may
// have been processed: its outcome is unknown, and it is not retried.
func TestGroupCancelledInFlight(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, withLookup, lookupToken())
	e.before = func(w http.ResponseWriter, r *http.Request) bool {
		if isChatPost(r) {
			e.emu.ServeHTTP(httptest.NewRecorder(), r) // processed...
			time.Sleep(300 * time.Millisecond)         // ...but answered too late
			w.WriteHeader(http.StatusCreated)
			return true
		}
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := e.client.CreateGroup(cctx, "Quarterly review", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("nestor@contoso.com"))
	if !errors.Is(err, graphchat.ErrOutcomeUnknown) || e.chatPosts() != 1 {
		t.Fatalf("err = %v after %d posts", err, e.chatPosts())
	}
}

// Two groups with no topic, the same number of members and members given
// by user principal name: an ambiguous failure of the second never claims
// the first. Members are compared by object id, or not at all.
func TestLookupNeverClaimsAnotherChat(t *testing.T) {
	t.Parallel()
	alexKnown, _ := policy.NewDirectory(policy.User{ID: graphchattest.AlexID, UserPrincipalName: "alex@contoso.com"}, policy.User{ID: graphchattest.NestorID, UserPrincipalName: "nestor@contoso.com"})
	lookup := []policy.Operation{policy.OpCreateChat, policy.OpListChats}
	withResolve := append(lookup[:2:2], policy.OpResolveUser)
	for _, tc := range []struct {
		name      string
		opts      *graphchat.Options
		processed bool // the failed request was processed (504 after) or not (503)
		// want: "recovered" (the second chat, found), "retried" (created by
		// a second request) or "unknown" (an *AmbiguousError, one request).
		want string
	}{
		{"ids known, not processed", &graphchat.Options{Operations: lookup, Directory: alexKnown}, false, "retried"},
		{"ids known, processed", &graphchat.Options{Operations: lookup, Directory: alexKnown}, true, "recovered"},
		{"ids resolved, not processed", &graphchat.Options{Operations: withResolve}, false, "retried"},
		{"ids resolved, processed", &graphchat.Options{Operations: withResolve}, true, "recovered"},
		{"ids unknown, not processed", &graphchat.Options{Operations: lookup}, false, "unknown"},
		{"ids unknown, processed", &graphchat.Options{Operations: lookup}, true, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All")
			e := setup(t, nil, tc.opts, tok)
			first, err := e.client.CreateGroup(ctx, "", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("nestor@contoso.com"))
			if err != nil {
				t.Fatal(err)
			}
			posts := e.chatPosts()
			fail := func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }
			if tc.processed {
				failFirstPost(e, func(w http.ResponseWriter) { w.WriteHeader(http.StatusGatewayTimeout) })
			} else {
				var n atomic.Int32
				e.before = func(w http.ResponseWriter, r *http.Request) bool {
					if !isChatPost(r) || n.Add(1) > 1 {
						return false
					}
					fail(w)
					return true
				}
			}
			second, err := e.client.CreateGroup(ctx, "", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("alex@contoso.com"))
			if second != nil && second.ID() == first.ID() {
				t.Fatalf("the second creation claimed the first chat %s (recovered %v)", first.ID(), second.Recovered)
			}
			chats := e.emu.Chats()
			switch tc.want {
			case "unknown":
				if !errors.Is(err, graphchat.ErrOutcomeUnknown) || e.chatPosts()-posts != 1 {
					t.Fatalf("got %+v, %v after %d posts", second, err, e.chatPosts()-posts)
				}
				var amb *graphchat.AmbiguousError
				if !errors.As(err, &amb) || amb.LookupErr == nil || !strings.Contains(amb.LookupErr.Error(), "alex@contoso.com") {
					t.Errorf("lookup error: %v", err)
				}
			case "retried", "recovered":
				if err != nil || second.Recovered != (tc.want == "recovered") || len(chats) != 2 || second.ID() != chats[1].ID {
					t.Fatalf("got %+v, %v; %d chats", second, err, len(chats))
				}
			}
			// Names are resolved once per Client, before the creation;
			// Megan, the caller, is known from the token.
			var resolved []string
			for _, r := range e.requests() {
				if strings.HasPrefix(r.Path, "/v1.0/users/") {
					resolved = append(resolved, strings.TrimPrefix(r.Path, "/v1.0/users/"))
				}
			}
			want := []string(nil)
			if slices.Contains(tc.opts.Operations, policy.OpResolveUser) {
				want = []string{"nestor@contoso.com", "alex@contoso.com"}
			}
			if !slices.Equal(resolved, want) {
				t.Errorf("users resolved %v, want %v", resolved, want)
			}
		})
	}
}

// FindGroup, used after a crash, matches as strictly: a group of other
// members is not found, and a member whose object id is unknown is an
// error, not a guess.
func TestFindGroupStrict(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, withLookup, lookupToken())
	start := time.Now()
	if _, err := e.client.CreateGroup(ctx, "", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("nestor@contoso.com")); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.FindGroup(ctx, "", []graphchat.Member{graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("nestor@contoso.com")}, start)
	if err != nil || got == nil {
		t.Fatalf("the chat itself: %v, %v", got, err)
	}
	got, err = e.client.FindGroup(ctx, "", []graphchat.Member{graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.AlexID)}, start)
	if err != nil || got != nil {
		t.Errorf("other members: %v, %v", got, err)
	}
	got, err = e.client.FindGroup(ctx, "", []graphchat.Member{graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("alex@contoso.com")}, start)
	if err == nil || got != nil {
		t.Errorf("a member of unknown id: %v, %v", got, err)
	}
}

// With resolve-user, FindGroup identifies members given by name, once per
// Client and whatever their letter case.
func TestFindGroupResolves(t *testing.T) {
	t.Parallel()
	ops := []policy.Operation{policy.OpCreateChat, policy.OpListChats, policy.OpResolveUser}
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All")
	e := setup(t, nil, &graphchat.Options{Operations: ops}, tok)
	start := time.Now()
	created, err := e.client.CreateGroup(ctx, "", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("nestor@contoso.com"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.client.FindGroup(ctx, "", []graphchat.Member{graphchat.User("MEGAN@contoso.com"), graphchat.User(graphchattest.LeeID), graphchat.User("Nestor@Contoso.com")}, start)
	if err != nil || got == nil || deref(got.GetId()) != created.ID() {
		t.Fatalf("got %v, %v", got, err)
	}
	got, err = e.client.FindGroup(ctx, "", []graphchat.Member{graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("alex@contoso.com")}, start)
	if err != nil || got != nil {
		t.Errorf("other members: %v, %v", got, err)
	}
	_, err = e.client.FindGroup(ctx, "", []graphchat.Member{graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("nobody@contoso.com")}, start)
	if err == nil || !strings.Contains(err.Error(), "nobody@contoso.com") {
		t.Errorf("unknown user: %v", err)
	}
	var resolved int
	for _, r := range e.requests() {
		if strings.HasPrefix(r.Path, "/v1.0/users/") {
			resolved++
		}
	}
	if resolved != 3 { // nestor, alex, nobody; Megan from the token, Nestor cached
		t.Errorf("%d users resolved", resolved)
	}
}
