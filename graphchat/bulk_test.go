package graphchat_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
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
	n := 300
	if v := os.Getenv("GRAPHCHAT_FAULT_ITEMS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	// Which requests a fault hits depends on timing: a run in which no
	// group needed a lookup proves nothing, so another seed is tried.
	for seed := uint64(7); seed < 12; seed++ {
		if groupsUnderFaults(t, n, seed) > 0 {
			return
		}
		t.Logf("seed %d: no group was recovered by a lookup; trying another seed", seed)
	}
	t.Errorf("no group was recovered by a lookup in five runs: the test proves nothing")
}

// groupsUnderFaults creates n items against a faulty emulator, checks that
// nothing is duplicated or lost, and returns the groups found by a lookup.
func groupsUnderFaults(t *testing.T, n int, seed uint64) int {
	t.Helper()
	emu := graphchattest.New(&graphchattest.Options{
		Users: directory(200), RateLimit: 400, Seed: seed, SlowDelay: 3 * time.Second,
		Faults: []graphchattest.FaultRule{
			{Fault: graphchattest.Fault503, Probability: 0.05},
			{Fault: graphchattest.Fault504, Probability: 0.03},
			{Fault: graphchattest.Fault504After, Probability: 0.05},
			{Fault: graphchattest.FaultDropAfter, Probability: 0.04},
			{Fault: graphchattest.FaultSlowAfter, Probability: 0.02},
		},
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
	n := 300
	if v := os.Getenv("GRAPHCHAT_FAULT_ITEMS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	// Which requests a fault hits depends on timing: a run whose faults
	// miss every message send proves nothing, so another seed is tried.
	for seed := uint64(11); seed < 16; seed++ {
		if messagesUnderFaults(t, n, seed) > 0 {
			return
		}
		t.Logf("seed %d: no message was found by a lookup; trying another seed", seed)
	}
	t.Errorf("no message was found by a lookup in five runs: the test proves nothing")
}

// messagesUnderFaults runs n items with messages against a faulty emulator
// and returns the number of messages found by a lookup.
func messagesUnderFaults(t *testing.T, n int, seed uint64) int {
	t.Helper()
	emu := graphchattest.New(&graphchattest.Options{
		Users: directory(n + 2), RateLimit: 400, Seed: seed, SlowDelay: 3 * time.Second,
		Faults: []graphchattest.FaultRule{
			{Fault: graphchattest.Fault503, Probability: 0.05},
			{Fault: graphchattest.Fault504, Probability: 0.03},
			{Fault: graphchattest.Fault504After, Probability: 0.05},
			{Fault: graphchattest.FaultDropAfter, Probability: 0.04},
			{Fault: graphchattest.FaultSlowAfter, Probability: 0.02},
		},
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
