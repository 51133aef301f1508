package graphchat_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

var findOps = []policy.Operation{policy.OpCreateChat, policy.OpListChats, policy.OpListMembers, policy.OpResolveUser}

func findToken() string {
	return graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All")
}

// clock gives the emulator's chats distinct creation times, a second apart,
// so that "oldest" is decided by the date and not by the id.
func clock() func() time.Time {
	var n atomic.Int64
	base := time.Now().Add(-time.Hour)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

func ids(chats []models.Chatable) []string {
	out := make([]string, len(chats))
	for i, c := range chats {
		out[i] = deref(c.GetId())
	}
	return out
}

func str(s string) *string { return &s }

// listings counts the requests that listed chats.
func (e *env) listings() int {
	n := 0
	for _, s := range e.requests() {
		if s.Method == http.MethodGet && strings.HasSuffix(s.Path, "/chats") {
			n++
		}
	}
	return n
}

func mustGroup(t testing.TB, c *graphchat.Client, topic string, members ...graphchat.Member) string {
	t.Helper()
	got, err := c.CreateGroup(ctx, topic, members...)
	if err != nil {
		t.Fatal(err)
	}
	return got.ID()
}

var (
	megan  = graphchat.User(graphchattest.MeganID)
	lee    = graphchat.User(graphchattest.LeeID)
	nestor = graphchat.User(graphchattest.NestorID)
	alex   = graphchat.User(graphchattest.AlexID)
	grady  = graphchat.External(graphchattest.GradyID, graphchattest.PartnerTenantID)
)

// Find matches the exact set of members, by object id and tenant, in any
// order and letter case, and returns every match oldest first.
func TestFind(t *testing.T) {
	t.Parallel()
	e := setup(t, &graphchattest.Options{Now: clock()}, &graphchat.Options{Operations: findOps}, findToken())
	c := e.client
	dup1 := mustGroup(t, c, "", megan, lee, nestor)
	withTopic := mustGroup(t, c, "Launch", megan, lee, nestor)
	superset := mustGroup(t, c, "", megan, lee, nestor, alex)
	dup2 := mustGroup(t, c, "", nestor, megan, lee)
	pair := mustGroup(t, c, "", megan, lee)
	external := mustGroup(t, c, "", megan, lee, grady)
	one, err := c.CreateOneOnOne(ctx, megan, lee)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		members []graphchat.Member
		opts    *graphchat.FindOptions
		want    []string
	}{
		{"any topic and type, oldest first", []graphchat.Member{megan, lee, nestor}, nil, []string{dup1, withTopic, dup2}},
		{"by name, any letter case", []graphchat.Member{graphchat.User("MEGAN@contoso.com"), graphchat.User("Lee@Contoso.com"), graphchat.User("nestor@CONTOSO.com")}, nil, []string{dup1, withTopic, dup2}},
		{"no topic", []graphchat.Member{lee, megan, nestor}, &graphchat.FindOptions{Topic: str("")}, []string{dup1, dup2}},
		{"a topic", []graphchat.Member{megan, lee, nestor}, &graphchat.FindOptions{Topic: str("Launch")}, []string{withTopic}},
		{"another topic", []graphchat.Member{megan, lee, nestor}, &graphchat.FindOptions{Topic: str("launch")}, []string{}},
		{"a superset only", []graphchat.Member{megan, lee, nestor, alex}, nil, []string{superset}},
		{"no subset", []graphchat.Member{megan, nestor}, nil, []string{}},
		{"group of two, not the one-on-one", []graphchat.Member{megan, lee}, &graphchat.FindOptions{Type: policy.ChatTypeGroup}, []string{pair}},
		{"one-on-one only", []graphchat.Member{megan, lee}, &graphchat.FindOptions{Type: policy.ChatTypeOneOnOne}, []string{one.ID()}},
		{"both of two", []graphchat.Member{megan, lee}, nil, []string{pair, one.ID()}},
		{"external by id and home tenant", []graphchat.Member{megan, lee, grady}, nil, []string{external}},
		{"external of another tenant", []graphchat.Member{megan, lee, graphchat.External(graphchattest.GradyID, graphchattest.DefaultTenantID)}, nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Find(ctx, tt.members, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("got %v, want %v", ids(got), tt.want)
			}
		})
	}
}

// Bad input is an error naming it, and nothing is listed.
func TestFindBadInput(t *testing.T) {
	t.Parallel()
	appOps := []policy.Operation{policy.OpCreateChat, policy.OpListChats, policy.OpResolveUser}
	tests := []struct {
		name    string
		app     bool
		members []graphchat.Member
		opts    *graphchat.FindOptions
		names   string // the input the error names
	}{
		{"external without tenant", false, []graphchat.Member{megan, {User: graphchattest.GradyID, Kind: policy.KindExternal}}, nil, graphchattest.GradyID},
		{"external by name", false, []graphchat.Member{megan, {User: "grady@fabrikam.com", TenantID: graphchattest.PartnerTenantID}}, nil, "grady@fabrikam.com"},
		{"unknown name", false, []graphchat.Member{megan, graphchat.User("nobody@contoso.com")}, nil, "nobody@contoso.com"},
		{"empty user", false, []graphchat.Member{megan, graphchat.User(" ")}, nil, "members[1]"},
		{"twice", false, []graphchat.Member{megan, lee, graphchat.User("lee@contoso.com")}, nil, "lee@contoso.com"},
		{"caller not a member", false, []graphchat.Member{lee, nestor}, nil, graphchattest.MeganID},
		{"delegated lists another user", false, []graphchat.Member{megan, lee}, &graphchat.FindOptions{User: graphchattest.LeeID}, graphchattest.LeeID},
		{"bad type", false, []graphchat.Member{megan, lee}, &graphchat.FindOptions{Type: "channel"}, "channel"},
		{"application names no user", true, []graphchat.Member{megan, lee}, nil, "FindOptions.User"},
		{"application user not a member", true, []graphchat.Member{megan, lee}, &graphchat.FindOptions{User: "nestor@contoso.com"}, "nestor@contoso.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *env
			if tt.app {
				e = setup(t, nil, &graphchat.Options{Auth: policy.AuthApplication, Operations: appOps}, graphchattest.AppToken("Chat.Create", "Chat.ReadBasic.All", "User.Read.All"))
			} else {
				e = setup(t, nil, &graphchat.Options{Operations: findOps}, findToken())
			}
			got, err := e.client.Find(ctx, tt.members, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.names) {
				t.Fatalf("got %v, %v: want an error naming %q", ids(got), err, tt.names)
			}
			if n := e.listings(); n != 0 {
				t.Errorf("%d listings", n)
			}
			if tt.opts != nil && tt.opts.Type != "" {
				return // FindOrCreate has no such option
			}
			// find-or-create refuses the same input, creating nothing.
			if _, err := e.client.FindOrCreate(ctx, policy.ChatTypeGroup, "", tt.members, &graphchat.FindOrCreateOptions{User: userOf(tt.opts)}); err == nil {
				t.Errorf("FindOrCreate: no error")
			}
			if e.chatPosts() != 0 || e.listings() != 0 {
				t.Errorf("FindOrCreate sent %d creations, %d listings", e.chatPosts(), e.listings())
			}
		})
	}
}

func userOf(o *graphchat.FindOptions) string {
	if o == nil {
		return ""
	}
	return o.User
}

// An application client lists the named member's chats.
func TestFindApplication(t *testing.T) {
	t.Parallel()
	ops := []policy.Operation{policy.OpCreateChat, policy.OpListChats, policy.OpResolveUser}
	e := setup(t, nil, &graphchat.Options{Auth: policy.AuthApplication, Operations: ops}, graphchattest.AppToken("Chat.Create", "Chat.ReadBasic.All", "User.Read.All"))
	id := mustGroup(t, e.client, "", megan, lee, nestor)
	got, err := e.client.Find(ctx, []graphchat.Member{megan, lee, nestor}, &graphchat.FindOptions{User: "Lee@contoso.com"})
	if err != nil || !slices.Equal(ids(got), []string{id}) {
		t.Fatalf("got %v, %v", ids(got), err)
	}
	want := "/v1.0/users/" + graphchattest.LeeID + "/chats"
	if !slices.ContainsFunc(e.requests(), func(s sent) bool { return s.Path == want }) {
		t.Errorf("no request to %s", want)
	}
}

// manyUsers is a directory of Megan and n-1 other members of her tenant.
func manyUsers(n int) ([]graphchattest.User, []graphchat.Member) {
	users := graphchattest.DefaultUsers()
	members := []graphchat.Member{megan}
	for i := 1; i < n; i++ {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		users = append(users, graphchattest.User{ID: id, UserPrincipalName: fmt.Sprintf("user%d@contoso.com", i), UserType: "Member"})
		members = append(members, graphchat.User(id))
	}
	return users, members
}

// Every page is read, and a chat listed with 25 members, the most the
// listing expands, is completed with its members before it can match.
func TestFindPagesAndLargeChats(t *testing.T) {
	t.Parallel()
	users, members := manyUsers(30)
	e := setup(t, &graphchattest.Options{Users: users, Now: clock()}, &graphchat.Options{Operations: findOps}, findToken())
	large := mustGroup(t, e.client, "", members...)
	almost := mustGroup(t, e.client, "", members[:29]...)
	target := mustGroup(t, e.client, "", megan, lee, nestor)
	for i := 0; i < 120; i++ { // three pages of others, newer than the target
		mustGroup(t, e.client, "", megan, lee, alex)
	}
	got, err := e.client.Find(ctx, []graphchat.Member{megan, lee, nestor}, nil)
	if err != nil || !slices.Equal(ids(got), []string{target}) {
		t.Fatalf("got %v, %v", ids(got), err)
	}
	if n := e.listings(); n != 3 { // 126 chats, 50 a page
		t.Errorf("%d listings, want 3", n)
	}
	for _, tt := range []struct {
		members []graphchat.Member
		want    string
	}{{members, large}, {members[:29], almost}} {
		got, err = e.client.Find(ctx, tt.members, nil)
		if err != nil || !slices.Equal(ids(got), []string{tt.want}) {
			t.Errorf("%d members: got %v, %v", len(tt.members), ids(got), err)
		}
		if m := len(got[0].GetMembers()); m != len(tt.members) {
			t.Errorf("%d members returned, want %d", m, len(tt.members))
		}
	}
	// Without list-members, such a chat cannot be told from others.
	e2 := setup(t, &graphchattest.Options{Users: users}, &graphchat.Options{Operations: []policy.Operation{policy.OpCreateChat, policy.OpListChats}}, findToken())
	mustGroup(t, e2.client, "", members...)
	if _, err := e2.client.Find(ctx, members, nil); err == nil || !strings.Contains(err.Error(), string(policy.OpListMembers)) {
		t.Errorf("without list-members: %v", err)
	}
	if _, err := e2.client.FindOrCreate(ctx, policy.ChatTypeGroup, "", members, nil); err == nil || len(e2.emu.Chats()) != 1 {
		t.Errorf("find-or-create without list-members: %v, %d chats", err, len(e2.emu.Chats()))
	}
}

// A listing that fails part way (throttled past the retries, a next link
// to another host) is an error, and find-or-create creates nothing; a 429
// within the retries is waited out.
func TestFindListingFaults(t *testing.T) {
	t.Parallel()
	page2 := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/chats") && r.URL.Query().Get("$skiptoken") != ""
	}
	tests := []struct {
		name   string
		answer func(n int32, w http.ResponseWriter, r *http.Request) bool
		ok     bool
	}{
		{"throttled once", func(n int32, w http.ResponseWriter, r *http.Request) bool {
			if !page2(r) || n > 1 {
				return false
			}
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}, true},
		{"throttled past the retries", func(n int32, w http.ResponseWriter, r *http.Request) bool {
			if !page2(r) {
				return false
			}
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}, false},
		{"next link to another host", func(n int32, w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/me/chats") {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"value":[],"@odata.nextLink":"https://graph.example.net/v1.0/me/chats?$skiptoken=50"}`)
			return true
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, nil, &graphchat.Options{Operations: findOps}, findToken())
			for i := 0; i < 60; i++ {
				mustGroup(t, e.client, "", megan, lee, alex)
			}
			var n atomic.Int32
			e.before = func(w http.ResponseWriter, r *http.Request) bool {
				if page2(r) || tt.name == "next link to another host" {
					return tt.answer(n.Add(1), w, r)
				}
				return false
			}
			posts := e.chatPosts()
			got, err := e.client.FindOrCreate(ctx, policy.ChatTypeGroup, "", []graphchat.Member{megan, lee, nestor}, nil)
			if tt.ok {
				if err != nil || got.Existed || len(got.Duplicates) != 0 {
					t.Fatalf("got %+v, %v", got, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error: %+v", got)
			}
			if e.chatPosts() != posts || len(e.emu.Chats()) != 60 {
				t.Errorf("created: %d posts, %d chats", e.chatPosts()-posts, len(e.emu.Chats()))
			}
			for _, s := range e.requests() {
				if strings.Contains(s.Path, "example.net") {
					t.Errorf("request to another host: %s", s.Path)
				}
			}
		})
	}
}

// Listing is paced to the documented five requests a second per user: an
// emulator applying that limit never answers 429.
func TestFindPaced(t *testing.T) {
	t.Parallel()
	e := setup(t, &graphchattest.Options{Throttle: graphchattest.Throttle{PerUserList: 5}}, &graphchat.Options{Operations: findOps}, findToken())
	for i := 0; i < 300; i++ {
		mustGroup(t, e.client, "", megan, lee, alex)
	}
	start := time.Now()
	if _, err := e.client.Find(ctx, []graphchat.Member{megan, lee, nestor}, nil); err != nil {
		t.Fatal(err)
	}
	if n := e.emu.Stats().ByStatus[http.StatusTooManyRequests]; n != 0 {
		t.Errorf("%d answers 429", n)
	}
	if d := time.Since(start); d < time.Second { // 6 pages, 200 ms apart
		t.Errorf("6 pages in %v", d)
	}
}

// FindOrCreate creates once, then returns the chat; several matches are an
// error carrying them, or the oldest by option; a one-on-one chat is asked
// of the service, which keeps one per pair, with no listing.
func TestFindOrCreate(t *testing.T) {
	t.Parallel()
	e := setup(t, &graphchattest.Options{Now: clock()}, &graphchat.Options{Operations: findOps}, findToken())
	c := e.client
	people := []graphchat.Member{megan, lee, graphchat.User("nestor@contoso.com")}
	first, err := c.FindOrCreate(ctx, policy.ChatTypeGroup, "Plan", people, nil)
	if err != nil || first.Existed || first.ID() == "" {
		t.Fatalf("first: %+v, %v", first, err)
	}
	again, err := c.FindOrCreate(ctx, policy.ChatTypeGroup, "Plan", []graphchat.Member{nestor, graphchat.User("LEE@contoso.com"), megan}, nil)
	if err != nil || !again.Existed || again.ID() != first.ID() {
		t.Fatalf("again: %+v, %v", again, err)
	}
	if n := len(e.emu.Chats()); n != 1 {
		t.Errorf("%d chats", n)
	}
	other, err := c.FindOrCreate(ctx, policy.ChatTypeGroup, "", people, nil) // no topic: another chat
	if err != nil || other.Existed || other.ID() == first.ID() {
		t.Fatalf("no topic: %+v, %v", other, err)
	}
	second := mustGroup(t, c, "Plan", people...)
	_, err = c.FindOrCreate(ctx, policy.ChatTypeGroup, "Plan", people, nil)
	var me *graphchat.MatchesError
	if !errors.Is(err, graphchat.ErrMultipleMatches) || !errors.As(err, &me) || !slices.Equal(ids(me.Candidates), []string{first.ID(), second}) {
		t.Fatalf("two matches: %v", err)
	}
	oldest, err := c.FindOrCreate(ctx, policy.ChatTypeGroup, "Plan", people, &graphchat.FindOrCreateOptions{Pick: graphchat.PickOldest})
	if err != nil || oldest.ID() != first.ID() || !oldest.Existed {
		t.Fatalf("oldest: %+v, %v", oldest, err)
	}
	listed := e.listings()
	one, err := c.FindOrCreate(ctx, policy.ChatTypeOneOnOne, "", []graphchat.Member{megan, lee}, nil)
	again, err2 := c.FindOrCreate(ctx, policy.ChatTypeOneOnOne, "", []graphchat.Member{lee, megan}, nil)
	if err != nil || err2 != nil || one.ID() != again.ID() || !again.Existed || e.listings() != listed {
		t.Errorf("one-on-one: %v %v %v %v, %d listings", one.ID(), again.ID(), err, err2, e.listings()-listed)
	}
	if n := len(e.emu.Chats()); n != 4 {
		t.Errorf("%d chats, want 4", n)
	}
}

// A request the policy refuses lists nothing and creates nothing.
func TestFindOrCreateRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &graphchat.Options{Operations: findOps}, findToken())
	ada := graphchat.Guest("ada_fabrikam.com#EXT#@contoso.onmicrosoft.com")
	ada.Role = policy.RoleOwner
	_, err := e.client.FindOrCreate(ctx, policy.ChatTypeGroup, "", []graphchat.Member{megan, lee, ada}, nil)
	if !errors.Is(err, policy.CodeGuestRole) {
		t.Fatalf("err = %v", err)
	}
	if len(e.requests()) != 0 {
		t.Errorf("%d requests", len(e.requests()))
	}
}

// Two callers (two Clients, as two processes) that both find nothing both
// create: the one that checks last reports the other's chat.
func TestFindOrCreateReportsDuplicate(t *testing.T) {
	t.Parallel()
	e := setup(t, &graphchattest.Options{Now: clock()}, &graphchat.Options{Operations: findOps}, findToken())
	other, err := graphchat.NewFromCredential(e.cred, &graphchat.Options{BaseURL: e.url, Operations: findOps})
	if err != nil {
		t.Fatal(err)
	}
	people := []graphchat.Member{megan, lee, nestor}
	var theirs string
	var first atomic.Bool
	e.before = func(w http.ResponseWriter, r *http.Request) bool {
		if isChatPost(r) && first.CompareAndSwap(false, true) {
			// The other caller creates between our lookup and our creation.
			created, err := other.CreateGroup(ctx, "", people...)
			if err != nil {
				t.Error(err)
				return false
			}
			theirs = created.ID()
		}
		return false
	}
	got, err := e.client.FindOrCreate(ctx, policy.ChatTypeGroup, "", people, nil)
	if err != nil || got.Existed {
		t.Fatalf("got %+v, %v", got, err)
	}
	if !slices.Equal(ids(got.Duplicates), []string{theirs}) {
		t.Errorf("duplicates %v, want [%s]", ids(got.Duplicates), theirs)
	}
	oldest, err := e.client.FindOrCreate(ctx, policy.ChatTypeGroup, "", people, &graphchat.FindOrCreateOptions{Pick: graphchat.PickOldest})
	if err != nil || oldest.ID() != theirs {
		t.Errorf("oldest: %v, %v; want %s", oldest.ID(), err, theirs)
	}
}

// Concurrent find-or-create calls of one Client under injected faults (503
// and 504 before processing, 504 and dropped connections after, 429s)
// never make two chats for one set of people.
func TestFindOrCreateFaults(t *testing.T) {
	t.Parallel()
	faults, err := graphchattest.ParseFaults("503=0.08,504=0.08,504-after=0.08,drop-after=0.08")
	if err != nil {
		t.Fatal(err)
	}
	e := setup(t, &graphchattest.Options{Faults: faults, Seed: 7, Throttle: graphchattest.Throttle{PerApp: 4}, Latency: 250 * time.Millisecond}, &graphchat.Options{Operations: findOps}, findToken())
	sets := [][]graphchat.Member{{megan, lee, nestor}, {megan, lee, alex}, {megan, nestor, alex}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int][]string{}
	var failures []error
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			set := g % len(sets)
			created, err := e.client.FindOrCreate(ctx, policy.ChatTypeGroup, "", sets[set], nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err)
				return
			}
			got[set] = append(got[set], created.ID())
		}(g)
	}
	wg.Wait()
	bySet := map[string]int{}
	for _, c := range e.emu.Chats() {
		m := slices.Clone(c.Members)
		slices.Sort(m)
		bySet[strings.Join(m, ",")]++
	}
	for k, n := range bySet {
		if n > 1 {
			t.Errorf("%d chats for %s", n, k)
		}
	}
	for set, chats := range got {
		for _, id := range chats {
			if id != chats[0] {
				t.Errorf("set %d: chats %v", set, chats)
			}
		}
	}
	if len(failures) > 4 {
		t.Errorf("%d of 12 failed: %v", len(failures), failures)
	}
	t.Logf("%d chats, %d failures, %v", len(e.emu.Chats()), len(failures), e.emu.Stats().ByStatus)
}

// A ChatIndex is read once, however many lookups; what FindOrCreate creates
// through it is found by the next lookup.
func TestChatIndex(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &graphchat.Options{Operations: findOps}, findToken())
	for i := 0; i < 70; i++ {
		mustGroup(t, e.client, fmt.Sprint("t", i), megan, lee, alex)
	}
	ix, err := e.client.NewChatIndex(ctx, &graphchat.FindOptions{Type: policy.ChatTypeGroup})
	if err != nil {
		t.Fatal(err)
	}
	if e.listings() != 0 {
		t.Fatal("the index was read before its first lookup")
	}
	for i := 0; i < 70; i++ {
		got, err := e.client.FindOrCreate(ctx, policy.ChatTypeGroup, fmt.Sprint("t", i), []graphchat.Member{megan, lee, alex}, &graphchat.FindOrCreateOptions{Index: ix})
		if err != nil || !got.Existed {
			t.Fatalf("%d: %+v, %v", i, got, err)
		}
	}
	created, err := e.client.FindOrCreate(ctx, policy.ChatTypeGroup, "new", []graphchat.Member{megan, lee, nestor}, &graphchat.FindOrCreateOptions{Index: ix})
	if err != nil || created.Existed {
		t.Fatalf("new: %+v, %v", created, err)
	}
	again, err := ix.Find(ctx, []graphchat.Member{megan, lee, graphchat.User("nestor@contoso.com")}, str("new"))
	if err != nil || !slices.Equal(ids(again), []string{created.ID()}) {
		t.Fatalf("after creating: %v, %v", ids(again), err)
	}
	if n := e.listings(); n != 2 { // 70 chats, 50 a page, once
		t.Errorf("%d listings, want 2", n)
	}
	if _, err := e.client.NewChatIndex(ctx, &graphchat.FindOptions{Topic: str("x")}); err == nil {
		t.Error("an index with a topic")
	}
}

// RemoveMemberByUser removes the membership of a user given by id or name.
func TestRemoveMemberByUser(t *testing.T) {
	t.Parallel()
	ops := append(slices.Clone(findOps), policy.OpRemoveMember)
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All", "ChatMember.ReadWrite")
	e := setup(t, nil, &graphchat.Options{Operations: ops}, tok)
	id := mustGroup(t, e.client, "", megan, lee, nestor, alex)
	if err := e.client.RemoveMemberByUser(ctx, id, "NESTOR@contoso.com"); err != nil {
		t.Fatal(err)
	}
	if err := e.client.RemoveMemberByUser(ctx, id, graphchattest.AlexID); err != nil {
		t.Fatal(err)
	}
	chats := e.emu.Chats()
	if want := []string{graphchattest.MeganID, graphchattest.LeeID}; !slices.Equal(chats[0].Members, want) {
		t.Errorf("members %v, want %v", chats[0].Members, want)
	}
	if err := e.client.RemoveMemberByUser(ctx, id, "nestor@contoso.com"); !errors.Is(err, graphchat.ErrNotMember) {
		t.Errorf("again: %v", err)
	}
	if err := e.client.RemoveMemberByUser(ctx, "19:nosuchchat@thread.v2", "lee@contoso.com"); !errors.Is(err, graphchat.ErrNotFound) || !strings.Contains(err.Error(), "19:nosuchchat@thread.v2") {
		t.Errorf("no such chat: %v", err)
	}
	if err := e.client.RemoveMemberByUser(ctx, id, "nobody@contoso.com"); err == nil || !strings.Contains(err.Error(), "nobody@contoso.com") {
		t.Errorf("no such user: %v", err)
	}
}

// AddMembers checks every member first: one refused sends nothing.
func TestAddMembersRefused(t *testing.T) {
	t.Parallel()
	ops := append(slices.Clone(findOps), policy.OpAddMember)
	e := setup(t, nil, &graphchat.Options{Operations: ops}, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All", "ChatMember.ReadWrite"))
	id := mustGroup(t, e.client, "", megan, lee, nestor)
	before := len(e.requests())
	ada := graphchat.Guest("ada_fabrikam.com#EXT#@contoso.onmicrosoft.com")
	ada.Role = policy.RoleOwner
	_, err := e.client.AddMembers(ctx, id, alex, ada)
	var list policy.List
	if !errors.As(err, &list) || len(list) != 1 || list[0].Code != policy.CodeGuestRole || list[0].Field != "members[1].roles" {
		t.Fatalf("err = %v", err)
	}
	if n := len(e.requests()) - before; n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// AddMembers adds several members in one members/add request and reports
// each, as the emulator answers POST /chats/{id}/members/add.
func TestAddMembers(t *testing.T) {
	t.Parallel()
	ops := append(slices.Clone(findOps), policy.OpAddMember)
	e := setup(t, nil, &graphchat.Options{Operations: ops}, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All", "ChatMember.ReadWrite"))
	id := mustGroup(t, e.client, "", megan, lee, nestor)
	res, err := e.client.AddMembers(ctx, id, alex, graphchat.User("jacob@contoso.com"), lee)
	if err != nil {
		t.Fatal(err)
	}
	posts := 0
	for _, s := range e.requests() {
		if s.Method == http.MethodPost && strings.HasSuffix(s.Path, "/members/add") {
			posts++
		}
	}
	if posts != 1 || len(res) != 3 {
		t.Fatalf("%d requests, results %+v", posts, res)
	}
	if res[0].Err != nil || res[1].Err != nil || res[2].Err == nil {
		t.Errorf("results %+v: want alex and jacob added, lee (a member) refused", res)
	}
}
