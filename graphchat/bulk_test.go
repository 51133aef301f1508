package graphchat_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// directory returns n member users of the default tenant.
func directory(n int) []graphchattest.User {
	users := graphchattest.DefaultUsers()
	for i := range n {
		users = append(users, graphchattest.User{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), UserPrincipalName: fmt.Sprintf("user%d@contoso.com", i), UserType: "Member"})
	}
	return users
}

// items returns n items: every third a group with a unique topic, the others
// one-on-one chats of distinct pairs of users.
func items(n int) []graphchat.Item {
	var out []graphchat.Item
	pair := 0
	for i := range n {
		if i%3 == 0 {
			out = append(out, graphchat.Item{Type: policy.ChatTypeGroup, Topic: fmt.Sprintf("item-%05d", i), Members: []graphchat.Member{
				graphchat.User(fmt.Sprintf("00000000-0000-4000-8000-%012d", i%50)),
				graphchat.User(fmt.Sprintf("00000000-0000-4000-8000-%012d", (i+1)%50)),
				graphchat.User(fmt.Sprintf("00000000-0000-4000-8000-%012d", (i+2)%50)),
			}})
			continue
		}
		// the pair-th pair (a, b) with a < b
		a, b := 0, 1
		for k := 0; k < pair; k++ {
			if b++; b >= 200 {
				a++
				b = a + 1
			}
		}
		pair++
		out = append(out, graphchat.Item{Type: policy.ChatTypeOneOnOne, Members: []graphchat.Member{
			graphchat.User(fmt.Sprintf("00000000-0000-4000-8000-%012d", a)), graphchat.User(fmt.Sprintf("00000000-0000-4000-8000-%012d", b)),
		}})
	}
	return out
}

func appClient(t *testing.T, url string, timeout time.Duration) *graphchat.Client {
	t.Helper()
	c, err := graphchat.NewFromCredential(graphchat.StaticToken(graphchattest.AppToken("Chat.Create", "Chat.ReadBasic.All")), &graphchat.Options{
		BaseURL: url, Auth: policy.AuthApplication, Operations: []policy.Operation{policy.OpCreateChat, policy.OpListChats}, LookupDelay: 10 * time.Millisecond,
		HTTPClient: &http.Client{Timeout: timeout},
		Retry:      graphchat.RetryOptions{BaseDelay: 20 * time.Millisecond, MaxRetries: 6},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateMany(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(&graphchattest.Options{Users: directory(200)})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c := appClient(t, srv.URL+"/v1.0", 10*time.Second)
	in := items(45)
	guestOwner := graphchat.Guest(graphchattest.AdaID)
	guestOwner.Role = policy.RoleOwner
	in = append(in, graphchat.Item{Type: policy.ChatTypeGroup, Topic: "refused", Members: []graphchat.Member{graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), guestOwner}})
	var streamed int
	results, err := c.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: 1000, OnResult: func(graphchat.ItemResult) { streamed++ }})
	if err != nil {
		t.Fatal(err)
	}
	s := graphchat.Summarize(results)
	if s.Created != 45 || s.Refused != 1 || s.Failed != 0 || streamed != len(in) {
		t.Fatalf("summary %+v, %d streamed", s, streamed)
	}
	if !errors.Is(results[45].Err, policy.CodeGuestRole) {
		t.Errorf("refused item: %v", results[45].Err)
	}
	batches := 0
	for _, en := range emu.Entries() {
		if en.Path == "/v1.0/$batch" {
			batches++
		}
	}
	if batches != 3 || len(emu.Chats()) != 45 {
		t.Errorf("%d batches, %d chats", batches, len(emu.Chats()))
	}
	// Again: the one-on-one chats exist; the groups are new.
	again, _ := c.CreateMany(ctx, in[:6], nil)
	if s := graphchat.Summarize(again); s.Existed != 4 || s.Created != 2 {
		t.Errorf("again: %+v", s)
	}
}

// Throttled requests inside a batch are retried on their own, after their
// Retry-After, while the rest of the batch goes on.
func TestCreateManyInnerThrottling(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(&graphchattest.Options{Users: directory(200), RateLimit: 25})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c := appClient(t, srv.URL+"/v1.0", 10*time.Second)
	results, err := c.CreateMany(ctx, items(60), &graphchat.BulkOptions{Rate: 1000, MaxAttempts: 20})
	if err != nil {
		t.Fatal(err)
	}
	throttled := 0
	for _, en := range emu.Entries() {
		if en.Batch && en.Status == http.StatusTooManyRequests {
			throttled++
		}
	}
	if s := graphchat.Summarize(results); s.Created != 60 || throttled == 0 {
		t.Errorf("summary %+v after %d inner 429s", s, throttled)
	}
}

// Under a mix of faults, every item is created exactly once or reported
// failed with its cause: no duplicate, nothing lost. GRAPHCHAT_FAULT_ITEMS
// sets the count (1000 for the full run; 300 by default).
func TestCreateManyUnderFaults(t *testing.T) {
	t.Parallel()
	untilExercised(t, 7, "no group was recovered by a lookup", func(seed uint64) int {
		return groupsUnderFaults(t, faultItems(), seed)
	})
}

// faultItems is the size of a fault run: GRAPHCHAT_FAULT_ITEMS, or 300.
func faultItems() int {
	if n, err := strconv.Atoi(os.Getenv("GRAPHCHAT_FAULT_ITEMS")); err == nil && n > 0 {
		return n
	}
	return 300
}

// faultMix is the mix of faults the fault runs inject.
func faultMix() []graphchattest.FaultRule {
	return []graphchattest.FaultRule{
		{Fault: graphchattest.Fault503, Probability: 0.05},
		{Fault: graphchattest.Fault504, Probability: 0.03},
		{Fault: graphchattest.Fault504After, Probability: 0.05},
		{Fault: graphchattest.FaultDropAfter, Probability: 0.04},
		{Fault: graphchattest.FaultSlowAfter, Probability: 0.02},
	}
}

// untilExercised runs a fault run with up to five seeds from first, until
// one exercises the recovery it tests (run returns how often it did).
// Which requests a fault hits depends on timing: a run that missed what it
// tests proves nothing, so another seed is tried.
func untilExercised(t *testing.T, first uint64, missed string, run func(seed uint64) int) {
	t.Helper()
	for seed := first; seed < first+5; seed++ {
		if run(seed) > 0 {
			return
		}
		t.Logf("seed %d: %s; trying another seed", seed, missed)
	}
	t.Errorf("%s in five runs: the test proves nothing", missed)
}

// groupsUnderFaults creates n items against a faulty emulator, checks that
// nothing is duplicated or lost, and returns the groups found by a lookup.
func groupsUnderFaults(t *testing.T, n int, seed uint64) int {
	t.Helper()
	emu := graphchattest.New(&graphchattest.Options{
		Users: directory(200), RateLimit: 400, Seed: seed, SlowDelay: 3 * time.Second,
		Faults: faultMix(),
	})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c := appClient(t, srv.URL+"/v1.0", time.Second) // slow-after outlasts the client's deadline
	in := items(n)
	results, err := c.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: 500, MaxAttempts: 12})
	if err != nil {
		t.Fatal(err)
	}
	faults := map[graphchattest.Fault]int{}
	for _, en := range emu.Entries() {
		faults[en.Fault]++
	}
	chats := emu.Chats()
	byTopic, byPair := map[string][]string{}, map[string][]string{}
	for _, ch := range chats {
		if ch.ChatType == "group" {
			byTopic[ch.Topic] = append(byTopic[ch.Topic], ch.ID)
		} else {
			byPair[ch.ID] = append(byPair[ch.ID], ch.ID)
		}
	}
	var duplicates, lost, failed int
	for i, r := range results {
		it := in[i]
		var ids []string
		if it.Type == policy.ChatTypeGroup {
			ids = byTopic[it.Topic]
			if len(ids) > 1 {
				duplicates++
			}
		}
		switch {
		case r.Err == nil && r.Created != nil:
			if it.Type == policy.ChatTypeGroup && (len(ids) != 1 || ids[0] != r.Created.ID()) {
				lost++
				t.Errorf("item %d reported created as %s, chats with its topic: %v", i, r.Created.ID(), ids)
			}
			if it.Type == policy.ChatTypeOneOnOne && len(byPair[r.Created.ID()]) != 1 {
				lost++
				t.Errorf("item %d: chat %s not found", i, r.Created.ID())
			}
		default:
			failed++
			t.Logf("item %d (%s) failed: %v", i, it.Type, r.Err)
			if r.Err == nil {
				lost++
				t.Errorf("item %d has neither a chat nor an error", i)
			} else if it.Type == policy.ChatTypeGroup && len(ids) == 1 && !errors.Is(r.Err, graphchat.ErrOutcomeUnknown) {
				lost++
				t.Errorf("item %d reported failed (%v) though its chat exists", i, r.Err)
			}
		}
	}
	t.Logf("%d items, %d chats, %d failed, faults injected %v; summary %+v", n, len(chats), failed, faults, graphchat.Summarize(results))
	if duplicates != 0 || lost != 0 {
		t.Fatalf("%d duplicates, %d lost", duplicates, lost)
	}
	if faults[graphchattest.Fault504After]+faults[graphchattest.FaultDropAfter] == 0 {
		t.Logf("seed %d: no ambiguous fault was injected", seed)
	}
	return graphchat.Summarize(results).Recovered
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	chat := models.NewChat()
	tests := []struct {
		name string
		r    graphchat.ItemResult
		want graphchat.Outcome
	}{
		{"created", graphchat.ItemResult{Created: &graphchat.Created{Chat: chat}}, graphchat.OutcomeCreated},
		{"existing", graphchat.ItemResult{Created: &graphchat.Created{Chat: chat, Existed: true}}, graphchat.OutcomeExisting},
		{"recovered", graphchat.ItemResult{Created: &graphchat.Created{Chat: chat, Recovered: true}}, graphchat.OutcomeRecovered},
		{"accepted (202, no chat yet)", graphchat.ItemResult{Created: &graphchat.Created{Operation: "/teamsAsyncOperations/1"}}, graphchat.OutcomeAccepted},
		{"refused", graphchat.ItemResult{Err: policy.List{{Code: policy.CodeGuestRole}}}, graphchat.OutcomeRefused},
		{"failed", graphchat.ItemResult{Err: &graphchat.Error{StatusCode: 400, Code: "BadRequest"}}, graphchat.OutcomeFailed},
		{"unknown", graphchat.ItemResult{Err: &graphchat.AmbiguousError{Err: errors.New("504")}}, graphchat.OutcomeUnknown},
		{"unknown, wrapped", graphchat.ItemResult{Err: fmt.Errorf("x: %w", &graphchat.AmbiguousError{Err: errors.New("504")})}, graphchat.OutcomeUnknown},
		{"neither", graphchat.ItemResult{}, graphchat.OutcomeFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Outcome(); got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
	s := graphchat.Summarize([]graphchat.ItemResult{tests[0].r, tests[3].r, tests[6].r, tests[2].r})
	if want := (graphchat.BulkSummary{Created: 2, Recovered: 1, Accepted: 1, Unknown: 1}); s != want {
		t.Errorf("summary %+v, want %+v", s, want)
	}
}

// A veto from OnSend stops the run: the vetoed item and every later one are
// reported not sent, none of them reaches the service, and the error says why.
func TestCreateEachOnSendVeto(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(&graphchattest.Options{Users: directory(200)})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c := appClient(t, srv.URL+"/v1.0", 10*time.Second)
	full := errors.New("no space left on device")
	var sent []int
	outcomes := map[graphchat.Outcome]int{}
	err := c.CreateEach(ctx, slices.Values(items(100)), &graphchat.BulkOptions{Rate: 1000, Concurrency: 1, BatchSize: 5,
		OnSend: func(indexes []int) error {
			if len(sent) == 10 {
				return full
			}
			sent = append(sent, indexes...)
			return nil
		},
		OnResult: func(r graphchat.ItemResult) {
			outcomes[r.Outcome()]++
			if r.Outcome() == graphchat.OutcomeNotSent && !errors.Is(r.Err, full) {
				t.Errorf("item %d: %v does not carry the veto", r.Index, r.Err)
			}
		},
	})
	if !errors.Is(err, full) {
		t.Fatalf("error %v, want the veto", err)
	}
	if len(sent) != 10 || len(emu.Chats()) != 10 || outcomes[graphchat.OutcomeCreated] != 10 {
		t.Errorf("%d sent, %d chats, outcomes %v: want the 10 items OnSend allowed", len(sent), len(emu.Chats()), outcomes)
	}
	// Only the items already read are reported; the rest were never read.
	if outcomes[graphchat.OutcomeNotSent] < 5 || outcomes[graphchat.OutcomeCreated]+outcomes[graphchat.OutcomeNotSent] > 10+(1+1)*5 {
		t.Errorf("outcomes %v", outcomes)
	}
}

// The sequence is read as items are sent: before the first send, no more
// than the batches that may be in flight plus one are read.
func TestCreateEachReadsAsItGoes(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(&graphchattest.Options{Users: directory(200)})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c := appClient(t, srv.URL+"/v1.0", 10*time.Second)
	all := items(300)
	read, readAtFirstSend, results := 0, -1, 0
	seq := func(yield func(graphchat.Item) bool) {
		for _, it := range all {
			read++
			if !yield(it) {
				return
			}
		}
	}
	err := c.CreateEach(ctx, seq, &graphchat.BulkOptions{Rate: 1000, Concurrency: 2, BatchSize: 10,
		OnSend: func([]int) error {
			if readAtFirstSend < 0 {
				readAtFirstSend = read
			}
			return nil
		},
		OnResult: func(graphchat.ItemResult) { results++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if readAtFirstSend > (2+1)*10 || results != len(all) || len(emu.Chats()) != len(all) {
		t.Errorf("%d items read before the first send (want at most 30), %d results, %d chats", readAtFirstSend, results, len(emu.Chats()))
	}
}

// A grant that lacks a declared operation's permission fails the call once,
// before any item is read or sent.
func TestCreateEachGrantRefusedOnce(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(&graphchattest.Options{Users: directory(200)})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c, err := graphchat.NewFromCredential(graphchat.StaticToken(graphchattest.AppToken("Chat.Create")), &graphchat.Options{
		BaseURL: srv.URL + "/v1.0", Operations: []policy.Operation{policy.OpCreateChat, policy.OpListChats},
	})
	if err != nil {
		t.Fatal(err)
	}
	read, results := 0, 0
	seq := func(yield func(graphchat.Item) bool) {
		for _, it := range items(10) {
			read++
			if !yield(it) {
				return
			}
		}
	}
	err = c.CreateEach(ctx, seq, &graphchat.BulkOptions{OnResult: func(graphchat.ItemResult) { results++ }})
	if !errors.Is(err, policy.CodePermissionMissing) {
		t.Errorf("error %v, want permission_missing", err)
	}
	if read != 0 || results != 0 || len(emu.Entries()) != 0 {
		t.Errorf("%d items read, %d results, %d requests: want none", read, results, len(emu.Entries()))
	}
}

// An error answered for one request of a batch keeps Graph's code, message
// and request-id.
func TestCreateManyItemErrorKeepsServiceDetails(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(&graphchattest.Options{Users: directory(10)})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c := appClient(t, srv.URL+"/v1.0", 10*time.Second)
	in := []graphchat.Item{{Type: policy.ChatTypeGroup, Topic: "x", Members: []graphchat.Member{
		graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("nobody@contoso.com")}}}
	results, err := c.CreateMany(ctx, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ge *graphchat.Error
	if !errors.As(results[0].Err, &ge) {
		t.Fatalf("%v: not an *Error", results[0].Err)
	}
	if ge.StatusCode == 0 || ge.Code == "" || ge.Message == "" || ge.RequestID == "" {
		t.Errorf("%+v: want the status, Graph's code, message and request-id", ge)
	}
}

// senderClient is a delegated client of Megan that creates chats, sends
// messages and looks chats up.
func senderClient(t *testing.T, url string, timeout time.Duration) *graphchat.Client {
	t.Helper()
	c, err := graphchat.NewFromCredential(graphchat.StaticToken(graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMessage.Send", "Chat.ReadBasic")), &graphchat.Options{
		BaseURL: url, Operations: []policy.Operation{policy.OpCreateChat, policy.OpSendMessage, policy.OpListChats}, LookupDelay: 200 * time.Millisecond,
		HTTPClient: &http.Client{Timeout: timeout},
		Retry:      graphchat.RetryOptions{BaseDelay: 20 * time.Millisecond, MaxRetries: 6},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// messageItems returns n items with Megan in each and a first message of
// its own: every third a group with a topic, the others one-on-one chats.
func messageItems(n int) []graphchat.Item {
	var out []graphchat.Item
	megan := graphchat.User(graphchattest.MeganID)
	for i := range n {
		user := func(k int) graphchat.Member { return graphchat.User(fmt.Sprintf("00000000-0000-4000-8000-%012d", k)) }
		it := graphchat.Item{Type: policy.ChatTypeOneOnOne, Members: []graphchat.Member{megan, user(i)}, Message: graphchat.TextMessage(fmt.Sprintf("hello %d", i))}
		if i%3 == 0 {
			it = graphchat.Item{Type: policy.ChatTypeGroup, Topic: fmt.Sprintf("item-%05d", i), Members: []graphchat.Member{megan, user(i), user(i + 1)},
				Message: graphchat.HTMLMessage(fmt.Sprintf("<p>hello %d</p>", i))}
		}
		out = append(out, it)
	}
	return out
}

// Each item's message is posted once in its chat, after the chat; a refused
// message refuses its item before anything of it is sent; an item naming an
// existing chat only posts its message there.
func TestCreateManyWithMessages(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(&graphchattest.Options{Users: directory(200)})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c := senderClient(t, srv.URL+"/v1.0", 10*time.Second)
	existing, err := c.CreateGroup(ctx, "existing", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
	if err != nil {
		t.Fatal(err)
	}
	in := messageItems(30)
	in[4].Message = graphchat.HTMLMessage("<p>unclosed") // html_malformed: refused, no chat
	in = append(in, graphchat.Item{ChatID: existing.ID(), Message: graphchat.TextMessage("to the existing chat"),
		Members: []graphchat.Member{graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID)}})
	var announced []graphchat.MessageSend
	results, err := c.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: 1000, OnSendMessages: func(s []graphchat.MessageSend) error {
		announced = append(announced, s...)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	chats := len(emu.Chats())
	if want := 30 - 1 + 1; chats != want {
		t.Errorf("%d chats in the emulator, want %d (29 items and the existing chat)", chats, want)
	}
	for i, r := range results {
		if i == 4 {
			var list policy.List
			if !errors.As(r.Err, &list) || list[0].Code != policy.CodeHTMLMalformed || r.Posted != nil || r.Outcome() != graphchat.OutcomeRefused {
				t.Errorf("item 4: %v, posted %v: want refused (html_malformed)", r.Err, r.Posted)
			}
			continue
		}
		if r.Err != nil || r.Posted == nil || r.MessageOutcome() != graphchat.MessagePosted {
			t.Errorf("item %d: %v, message %v", i, r.Err, r.MessageErr)
			continue
		}
		msgs := emu.Messages(r.Created.ID())
		if len(msgs) != 1 || msgs[0].ID != r.Posted.ID || msgs[0].From != graphchattest.MeganID || msgs[0].Content != deref(in[i].Message.GetBody().GetContent()) {
			t.Errorf("item %d: chat %s holds %+v, want its one message %s", i, r.Created.ID(), msgs, r.Posted.ID)
		}
	}
	if got := results[30]; got.Outcome() != graphchat.OutcomeExisting || got.Created.ID() != existing.ID() || got.Attempts != 1 {
		t.Errorf("item naming an existing chat: %v, %+v", got.Outcome(), got)
	}
	if len(announced) != 30 {
		t.Errorf("OnSendMessages announced %d messages, want 30", len(announced))
	}
	if s := graphchat.Summarize(results); s.MessagesPosted != 30 || s.Refused != 1 {
		t.Errorf("summary %+v", s)
	}
}

// Application permissions cannot send messages: a client declaring them is
// refused, and a run with messages whose token turns out to be app-only
// fails once, before anything is sent.
func TestCreateEachMessagesApplication(t *testing.T) {
	t.Parallel()
	_, err := graphchat.NewFromCredential(graphchat.StaticToken(graphchattest.AppToken("Chat.Create")), &graphchat.Options{Auth: policy.AuthApplication,
		Operations: []policy.Operation{policy.OpCreateChat, policy.OpSendMessage}})
	if err == nil {
		t.Error("an application client declaring send-message was built")
	}
	e := setup(t, &graphchattest.Options{Users: directory(10)}, &graphchat.Options{
		Operations: []policy.Operation{policy.OpCreateChat, policy.OpSendMessage}}, graphchattest.AppToken("Chat.Create"))
	var results []graphchat.ItemResult
	err = e.client.CreateEach(ctx, slices.Values(messageItems(5)), &graphchat.BulkOptions{OnResult: func(r graphchat.ItemResult) { results = append(results, r) }})
	if !errors.Is(err, policy.CodeOperationAuth) {
		t.Fatalf("err %v, want operation_not_supported", err)
	}
	if n := len(e.requests()); n != 0 || len(results) != 0 {
		t.Errorf("%d requests, %d results: want none", n, len(results))
	}
}

// A veto of a message's send leaves the chat created and the message not
// sent; nothing is posted.
func TestCreateEachOnSendMessagesVeto(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(&graphchattest.Options{Users: directory(20)})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c := senderClient(t, srv.URL+"/v1.0", 10*time.Second)
	full := errors.New("no space left on device")
	results, err := c.CreateMany(ctx, messageItems(3), &graphchat.BulkOptions{OnSendMessages: func([]graphchat.MessageSend) error { return full }})
	if !errors.Is(err, full) {
		t.Fatalf("err %v, want the veto", err)
	}
	for i, r := range results {
		if r.Created == nil || !errors.Is(r.MessageErr, graphchat.ErrNotSent) || r.MessageOutcome() != graphchat.MessageNotSent {
			t.Errorf("item %d: %v, message %v: want created, message not sent", i, r.Err, r.MessageErr)
		}
		if r.Created != nil && len(emu.Messages(r.Created.ID())) != 0 {
			t.Errorf("item %d: a message was posted", i)
		}
	}
}

// An item whose message an earlier run sent without an answer is looked up:
// posted, it is not sent again; absent, it is sent once.
func TestCreateEachMessageSentEarlier(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(&graphchattest.Options{Users: directory(20)})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c := senderClient(t, srv.URL+"/v1.0", 10*time.Second)
	members := []graphchat.Member{graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID)}
	posted, err := c.CreateGroup(ctx, "posted", members...)
	if err != nil {
		t.Fatal(err)
	}
	absent, err := c.CreateGroup(ctx, "absent", members...)
	if err != nil {
		t.Fatal(err)
	}
	sentAt := time.Now()
	if _, err := c.SendMessage(ctx, posted.ID(), graphchat.TextMessage("hello"), nil); err != nil {
		t.Fatal(err)
	}
	results, err := c.CreateMany(ctx, []graphchat.Item{
		{ChatID: posted.ID(), Message: graphchat.TextMessage("hello"), MessageSentAt: sentAt, Members: members},
		{ChatID: absent.ID(), Message: graphchat.TextMessage("hello"), MessageSentAt: sentAt, Members: members},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; r.Posted == nil || !r.Posted.Recovered || len(emu.Messages(posted.ID())) != 1 {
		t.Errorf("posted earlier: %+v, %d messages; want recovered, 1 message", r, len(emu.Messages(posted.ID())))
	}
	if r := results[1]; r.Posted == nil || r.Posted.Recovered || len(emu.Messages(absent.ID())) != 1 {
		t.Errorf("absent: %+v, %d messages; want posted now, 1 message", r, len(emu.Messages(absent.ID())))
	}
}

func TestMessageOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    graphchat.ItemResult
		want graphchat.MessageOutcome
	}{
		{graphchat.ItemResult{}, graphchat.MessageNone},
		{graphchat.ItemResult{Posted: &graphchat.Posted{ID: "1"}}, graphchat.MessagePosted},
		{graphchat.ItemResult{MessageErr: &graphchat.Error{StatusCode: 403}}, graphchat.MessageFailed},
		{graphchat.ItemResult{MessageErr: &graphchat.MessageAmbiguousError{Err: errors.New("504")}}, graphchat.MessageUnknown},
		{graphchat.ItemResult{MessageErr: fmt.Errorf("x: %w", graphchat.ErrNotSent)}, graphchat.MessageNotSent},
	}
	for _, tt := range tests {
		if got := tt.r.MessageOutcome(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.r, got, tt.want)
		}
	}
}

// Under a mix of faults, every item's chat is created once and its message
// posted once, or reported with its cause: no duplicate message, none lost.
// Messages sent without a clear answer are looked up, never sent again
// blindly. GRAPHCHAT_FAULT_ITEMS sets the count (300 by default).
func TestCreateManyMessagesUnderFaults(t *testing.T) {
	t.Parallel()
	untilExercised(t, 11, "no message was found by a lookup", func(seed uint64) int {
		return messagesUnderFaults(t, faultItems(), seed)
	})
}

// messagesUnderFaults runs n items with messages against a faulty emulator
// and returns the number of messages found by a lookup.
func messagesUnderFaults(t *testing.T, n int, seed uint64) int {
	t.Helper()
	emu := graphchattest.New(&graphchattest.Options{
		Users: directory(n + 2), RateLimit: 400, Seed: seed, SlowDelay: 3 * time.Second,
		Faults: faultMix(),
	})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c := senderClient(t, srv.URL+"/v1.0", time.Second) // slow-after outlasts the client's deadline
	in := messageItems(n)
	results, err := c.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: 500, MaxAttempts: 12})
	if err != nil {
		t.Fatal(err)
	}
	faults := map[graphchattest.Fault]int{}
	for _, en := range emu.Entries() {
		faults[en.Fault]++
	}
	byTopic := map[string]int{}
	for _, ch := range emu.Chats() {
		if ch.ChatType == "group" {
			byTopic[ch.Topic]++
		}
	}
	var duplicates, lost, unknown, messages int
	for i, r := range results {
		if in[i].Type == policy.ChatTypeGroup && byTopic[in[i].Topic] > 1 {
			duplicates++
			t.Errorf("item %d: %d chats", i, byTopic[in[i].Topic])
		}
		if r.Created == nil || r.Created.Chat == nil {
			t.Logf("item %d: chat %v: %v", i, r.Outcome(), r.Err)
			continue
		}
		msgs := emu.Messages(r.Created.ID())
		messages += len(msgs)
		switch o := r.MessageOutcome(); {
		case len(msgs) > 1:
			duplicates += len(msgs) - 1
			t.Errorf("item %d: %d messages in chat %s (%s)", i, len(msgs), r.Created.ID(), o)
		case o == graphchat.MessagePosted && (len(msgs) != 1 || msgs[0].ID != r.Posted.ID):
			lost++
			t.Errorf("item %d: reported posted as %s, the chat holds %+v", i, r.Posted.ID, msgs)
		case o == graphchat.MessageUnknown:
			unknown++
			t.Logf("item %d: message unknown (%d in the chat): %v", i, len(msgs), r.MessageErr)
		case o != graphchat.MessagePosted && len(msgs) != 0:
			lost++ // posted, but reported otherwise
			t.Errorf("item %d: reported %s (%v) though the chat holds its message", i, o, r.MessageErr)
		case o != graphchat.MessagePosted:
			t.Logf("item %d: message %s: %v", i, o, r.MessageErr)
		}
	}
	s := graphchat.Summarize(results)
	t.Logf("%d items, %d chats, %d messages, faults injected %v; summary %+v", n, len(emu.Chats()), messages, faults, s)
	if duplicates != 0 || lost != 0 {
		t.Fatalf("%d duplicates, %d lost", duplicates, lost)
	}
	if unknown != 0 {
		t.Errorf("%d messages of unknown outcome: the lookup should decide every one", unknown)
	}
	return s.MessagesRecovered
}

var reuseOps = []policy.Operation{policy.OpCreateChat, policy.OpListChats, policy.OpListMembers, policy.OpResolveUser, policy.OpSendMessage}

func reuseToken() string {
	return graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All", "ChatMessage.Send")
}

// chatCreations counts the creations the emulator was asked for, inside
// $batch requests or not.
func chatCreations(emu *graphchattest.Emulator) int {
	n := 0
	for _, en := range emu.Entries() {
		if en.Method == http.MethodPost && strings.HasSuffix(en.Path, "/chats") {
			n++
		}
	}
	return n
}

// With Reuse, group items whose chat exists are that chat (existing, not
// created, a message posted in it); several matches fail the item (or the
// oldest is taken with PickOldest); items asking for the same chat as an
// earlier one get the chat it created; the caller's chats are listed once
// per run, one pass over the pages.
func TestCreateEachReuse(t *testing.T) {
	t.Parallel()
	e := setup(t, &graphchattest.Options{Now: clock()}, &graphchat.Options{Operations: reuseOps}, reuseToken())
	var seeded []string
	for i := range 60 {
		seeded = append(seeded, mustGroup(t, e.client, fmt.Sprint("t", i), megan, lee, alex))
	}
	dupOld := mustGroup(t, e.client, "dup", megan, lee, nestor)
	dupNew := mustGroup(t, e.client, "dup", megan, lee, nestor)
	leeByName := graphchat.User("lee@contoso.com")
	group := policy.ChatTypeGroup
	in := []graphchat.Item{
		{Type: group, Topic: "t0", Members: []graphchat.Member{alex, megan, lee}},                                                    // 0: seeded[0]
		{Type: group, Topic: "t59", Members: []graphchat.Member{megan, leeByName, alex}, Message: graphchat.TextMessage("into t59")}, // 1: seeded[59], and a message
		{Type: group, Topic: "dup", Members: []graphchat.Member{megan, lee, nestor}},                                                 // 2: two match
		{Type: group, Topic: "new", Members: []graphchat.Member{megan, lee, nestor}},                                                 // 3: created
		{Type: group, Topic: "new", Members: []graphchat.Member{nestor, leeByName, megan}},                                           // 4: 3's chat
		{Type: group, Topic: "new", Members: []graphchat.Member{megan, lee, nestor}},                                                 // 5: 3's chat
		{Type: group, Topic: "t0", Members: []graphchat.Member{megan, lee, nestor}},                                                  // 6: other members: created
		{Type: policy.ChatTypeOneOnOne, Members: []graphchat.Member{megan, lee}},                                                     // 7: as ever
	}
	for i := range 20 { // 8-27: one chat asked for 20 times, in batches in flight together
		m := []graphchat.Member{megan, alex, nestor}
		if i%2 == 1 {
			m = []graphchat.Member{graphchat.User("nestor@contoso.com"), megan, graphchat.User("alex@contoso.com")}
		}
		in = append(in, graphchat.Item{Type: group, Topic: "many", Members: m})
	}
	chatsBefore, creationsBefore, listingsBefore := len(e.emu.Chats()), chatCreations(e.emu), e.listings()
	results, err := e.client.CreateMany(ctx, in, &graphchat.BulkOptions{Reuse: true, Rate: 1000, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := []graphchat.Outcome{graphchat.OutcomeExisting, graphchat.OutcomeExisting, graphchat.OutcomeFailed, graphchat.OutcomeCreated,
		graphchat.OutcomeExisting, graphchat.OutcomeExisting, graphchat.OutcomeCreated, graphchat.OutcomeCreated}
	for i, r := range results {
		w := graphchat.OutcomeExisting
		switch {
		case i < len(want):
			w = want[i]
		case i == 8:
			w = graphchat.OutcomeCreated // the first of "many"
		}
		switch {
		case i == 7: // judged by its date, which the emulator's clock sets an hour ago: existing
			if r.Err != nil || r.Created.Chat == nil {
				t.Errorf("item 7: %v", r.Err)
			}
		case r.Outcome() != w:
			t.Errorf("item %d: %s (%v), want %s", i, r.Outcome(), r.Err, w)
		}
	}
	for i, id := range map[int]string{0: seeded[0], 1: seeded[59], 4: results[3].Created.ID(), 5: results[3].Created.ID()} {
		if got := results[i].Created; got == nil || got.ID() != id || !got.Existed {
			t.Errorf("item %d: %+v, want existing %s", i, got, id)
		}
	}
	for i := 9; i < len(in); i++ {
		if got := results[i].Created; got == nil || got.ID() != results[8].Created.ID() {
			t.Errorf("item %d: %+v, want item 8's chat %s", i, got, results[8].Created.ID())
		}
	}
	var several *graphchat.MatchesError
	if !errors.As(results[2].Err, &several) || !errors.Is(results[2].Err, graphchat.ErrMultipleMatches) || !slices.Equal(ids(several.Candidates), []string{dupOld, dupNew}) {
		t.Errorf("item 2: %v, want a *MatchesError with %s, %s", results[2].Err, dupOld, dupNew)
	}
	if msgs := e.emu.Messages(seeded[59]); results[1].Posted == nil || len(msgs) != 1 || msgs[0].ID != results[1].Posted.ID {
		t.Errorf("the message of item 1: posted %+v, the chat holds %+v", results[1].Posted, msgs)
	}
	if n := chatCreations(e.emu) - creationsBefore; n != 4 {
		t.Errorf("%d creations sent, want 4 (new, t0 of other members, many, the one-on-one)", n)
	}
	if n := len(e.emu.Chats()) - chatsBefore; n != 4 {
		t.Errorf("%d chats created, want 4", n)
	}
	// 62 group chats, 50 a page, once; and one listing of the last
	// messages, which says item 1's chat, found, holds no message yet.
	if n := e.listings() - listingsBefore; n != 3 {
		t.Errorf("%d listing requests, want 3", n)
	}

	// Again, with PickOldest: everything exists; one pass over the pages.
	for i := range in {
		in[i].Message = nil
	}
	creationsBefore, listingsBefore = chatCreations(e.emu), e.listings()
	again, err := e.client.CreateMany(ctx, in, &graphchat.BulkOptions{Reuse: true, Pick: graphchat.PickOldest, Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again {
		if r.Outcome() != graphchat.OutcomeExisting || r.Created.ID() != map[bool]string{true: dupOld, false: results[i].Created.ID()}[i == 2] {
			t.Errorf("again, item %d: %s %+v", i, r.Outcome(), r.Created)
		}
	}
	if n := chatCreations(e.emu) - creationsBefore; n != 1 {
		t.Errorf("again: %d creations sent, want 1 (the one-on-one, which the service returns)", n)
	}
	if n := e.listings() - listingsBefore; n != 2 {
		t.Errorf("again: %d listing requests, want 2", n)
	}
}

// What Reuse cannot honour is refused before anything is sent: options
// without Reuse, an unknown pick, list-chats not declared, an application
// that names no user. An application's items without the named user fail.
func TestCreateEachReuseRefused(t *testing.T) {
	t.Parallel()
	appOps := []policy.Operation{policy.OpCreateChat, policy.OpListChats, policy.OpResolveUser}
	appTok := graphchattest.AppToken("Chat.Create", "Chat.ReadBasic.All", "User.Read.All")
	items := []graphchat.Item{{Type: policy.ChatTypeGroup, Members: []graphchat.Member{megan, lee, nestor}}}
	for _, tc := range []struct {
		name string
		ops  []policy.Operation
		auth policy.AuthType
		tok  string
		opts graphchat.BulkOptions
	}{
		{"pick without reuse", reuseOps, "", reuseToken(), graphchat.BulkOptions{Pick: graphchat.PickOldest}},
		{"user without reuse", reuseOps, "", reuseToken(), graphchat.BulkOptions{User: "megan@contoso.com"}},
		{"unknown pick", reuseOps, "", reuseToken(), graphchat.BulkOptions{Reuse: true, Pick: "newest"}},
		{"list-chats not declared", []policy.Operation{policy.OpCreateChat}, "", reuseToken(), graphchat.BulkOptions{Reuse: true}},
		{"another user, delegated", reuseOps, "", reuseToken(), graphchat.BulkOptions{Reuse: true, User: "lee@contoso.com"}},
		{"application without a user", appOps, policy.AuthApplication, appTok, graphchat.BulkOptions{Reuse: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, nil, &graphchat.Options{Operations: tc.ops, Auth: tc.auth}, tc.tok)
			called := false
			tc.opts.OnResult = func(graphchat.ItemResult) { called = true }
			if err := e.client.CreateEach(ctx, slices.Values(items), &tc.opts); err == nil || called {
				t.Errorf("error %v, results given %v: want an error and no result", err, called)
			}
			if n := len(e.requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}

	e := setup(t, nil, &graphchat.Options{Operations: appOps, Auth: policy.AuthApplication}, appTok)
	results, err := e.client.CreateMany(ctx, []graphchat.Item{
		{Type: policy.ChatTypeGroup, Members: []graphchat.Member{megan, lee, nestor}},
		{Type: policy.ChatTypeGroup, Members: []graphchat.Member{megan, alex, nestor}}, // lee is not a member
	}, &graphchat.BulkOptions{Reuse: true, User: "lee@contoso.com", Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Outcome() != graphchat.OutcomeCreated || results[1].Outcome() != graphchat.OutcomeFailed {
		t.Errorf("outcomes %s (%v), %s (%v): want created, failed", results[0].Outcome(), results[0].Err, results[1].Outcome(), results[1].Err)
	}
	if n := chatCreations(e.emu); n != 1 {
		t.Errorf("%d creations sent, want 1", n)
	}
}

// failListings answers every listing of chats with status, from the
// after-th on (counting from 1): 429 with a Retry-After beyond what the
// pipeline waits for, or 403.
func failListings(after int32, status int) func(w http.ResponseWriter, r *http.Request) bool {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/chats") || n.Add(1) < after {
			return false
		}
		code := "Forbidden"
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "120")
			code = "TooManyRequests"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"code":%q,"message":"refused by the test"}}`, code)
		return true
	}
}

// When the caller's chats cannot be read, no group item is created: each
// fails with the listing's error, after one attempt at the listing for the
// whole run; one-on-one items are created as ever.
func TestCreateEachReuseListingFails(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &graphchat.Options{Operations: reuseOps}, reuseToken())
	e.before = failListings(1, http.StatusTooManyRequests)
	in := []graphchat.Item{{Type: policy.ChatTypeOneOnOne, Members: []graphchat.Member{megan, lee}}}
	for i := range 30 {
		in = append(in, graphchat.Item{Type: policy.ChatTypeGroup, Topic: fmt.Sprint("g", i), Members: []graphchat.Member{megan, lee, nestor}})
	}
	results, err := e.client.CreateMany(ctx, in, &graphchat.BulkOptions{Reuse: true, Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		switch {
		case i == 0 && r.Outcome() != graphchat.OutcomeCreated:
			t.Errorf("the one-on-one item: %s, %v", r.Outcome(), r.Err)
		case i > 0 && (r.Outcome() != graphchat.OutcomeFailed || !errors.Is(r.Err, graphchat.ErrThrottled)):
			t.Errorf("item %d: %s, %v: want failed with the listing's 429", i, r.Outcome(), r.Err)
		}
	}
	if n := chatCreations(e.emu); n != 1 {
		t.Errorf("%d creations reached the emulator, want 1 (the one-on-one)", n)
	}
	if n := e.listings(); n != 1 {
		t.Errorf("%d listing requests, want 1", n)
	}
}

// An item asking for the chat of an earlier item whose outcome is unknown
// is unknown too, and not sent: the earlier request may still create it.
func TestCreateEachReuseHoldsBackUnknown(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &graphchat.Options{Operations: reuseOps}, reuseToken())
	listings := failListings(2, http.StatusForbidden) // the index is read; the lookup after the failure is not
	var batches atomic.Int32
	e.before = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/$batch") {
			batches.Add(1)
			w.WriteHeader(http.StatusGatewayTimeout)
			return true
		}
		return listings(w, r)
	}
	in := []graphchat.Item{
		{Type: policy.ChatTypeGroup, Topic: "u", Members: []graphchat.Member{megan, lee, nestor}},
		{Type: policy.ChatTypeGroup, Topic: "u", Members: []graphchat.Member{megan, graphchat.User("lee@contoso.com"), nestor}},
	}
	results, err := e.client.CreateMany(ctx, in, &graphchat.BulkOptions{Reuse: true, Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Outcome() != graphchat.OutcomeUnknown {
			t.Errorf("item %d: %s, %v: want unknown", i, r.Outcome(), r.Err)
		}
	}
	if n := batches.Load(); n != 1 {
		t.Errorf("%d $batch requests, want 1: the second item is not sent", n)
	}
}

// A chat found (Reuse) or returned existing may hold the item's message
// already (posted by a run whose record of it is lost): the message is
// looked up before it is sent, and never posted twice. It is sent when the
// chat holds no message, counted posted (recovered) when the chat's last
// message is the caller's with the same content, and unknown (not sent)
// when the last message is another.
func TestCreateEachExistingChatMessage(t *testing.T) {
	t.Parallel()
	e := setup(t, &graphchattest.Options{Now: clock()}, &graphchat.Options{Operations: reuseOps}, reuseToken())
	empty := mustGroup(t, e.client, "empty", megan, lee, nestor)
	mine := mustGroup(t, e.client, "mine", megan, lee, nestor)
	other := mustGroup(t, e.client, "other", megan, lee, nestor)
	for _, m := range []struct{ chat, text string }{{mine, "hello"}, {other, "hello"}, {other, "something else"}} {
		if _, err := e.client.SendMessage(ctx, m.chat, graphchat.TextMessage(m.text), nil); err != nil {
			t.Fatal(err)
		}
	}
	item := func(topic string) graphchat.Item {
		return graphchat.Item{Type: policy.ChatTypeGroup, Topic: topic, Members: []graphchat.Member{megan, lee, nestor}, Message: graphchat.TextMessage("hello")}
	}
	var sends int
	results, err := e.client.CreateMany(ctx, []graphchat.Item{item("empty"), item("mine"), item("other")}, &graphchat.BulkOptions{Reuse: true, Rate: 1000,
		OnSendMessages: func(s []graphchat.MessageSend) error { sends += len(s); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		chat      string
		outcome   graphchat.MessageOutcome
		recovered bool
		messages  int
	}{
		{empty, graphchat.MessagePosted, false, 1},
		{mine, graphchat.MessagePosted, true, 1},
		{other, graphchat.MessageUnknown, false, 2},
	}
	for i, tt := range tests {
		r := results[i]
		if r.Outcome() != graphchat.OutcomeExisting || r.Created.ID() != tt.chat || r.MessageOutcome() != tt.outcome {
			t.Errorf("item %d: %s %s (%v), want existing %s, message %s", i, r.Outcome(), r.MessageOutcome(), r.MessageErr, tt.chat, tt.outcome)
		}
		if tt.outcome == graphchat.MessagePosted && r.Posted.Recovered != tt.recovered {
			t.Errorf("item %d: recovered %v, want %v", i, r.Posted.Recovered, tt.recovered)
		}
		if n := len(e.emu.Messages(tt.chat)); n != tt.messages {
			t.Errorf("item %d: the chat holds %d messages, want %d", i, n, tt.messages)
		}
	}
	if sends != 1 {
		t.Errorf("%d messages sent, want 1 (the empty chat's)", sends)
	}
}
