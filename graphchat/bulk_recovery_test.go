package graphchat_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// failBatches answers the first n $batch requests the emulator processed
// with a 504: their chats exist, and the client cannot know it.
func failBatches(n int32) func(w http.ResponseWriter, r *http.Request) bool {
	var seen atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/$batch") || seen.Add(1) > n {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGatewayTimeout)
		fmt.Fprint(w, `{"error":{"code":"GatewayTimeout","message":"processed, then failed by the test"}}`)
		return true
	}
}

// groupItems returns n group items of Megan, Lee and Nestor with topics
// prefix0, prefix1, ...
func groupItems(prefix string, n int) []graphchat.Item {
	out := make([]graphchat.Item, n)
	for i := range out {
		out[i] = graphchat.Item{Type: policy.ChatTypeGroup, Topic: fmt.Sprint(prefix, i), Members: []graphchat.Member{megan, lee, nestor}}
	}
	return out
}

// heldOnce checks that the emulator holds exactly one chat of each item's
// topic, the one its result names.
func heldOnce(t *testing.T, emu *graphchattest.Emulator, in []graphchat.Item, results []graphchat.ItemResult) {
	t.Helper()
	byTopic := map[string][]string{}
	for _, ch := range emu.Chats() {
		byTopic[ch.Topic] = append(byTopic[ch.Topic], ch.ID)
	}
	for i, r := range results {
		ids := byTopic[in[i].Topic]
		if len(ids) != 1 || r.Created == nil || r.Created.ID() != ids[0] {
			t.Errorf("item %d (%s): %s %v; the emulator holds %v", i, in[i].Topic, r.Outcome(), r.Err, ids)
		}
	}
}

// Groups whose creations were answered ambiguously are looked up together:
// one listing finds them all, however many there are, and none is created
// twice.
func TestCreateManyRecoversGroupsInOneListing(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &graphchat.Options{Operations: reuseOps, LookupDelay: 100 * time.Millisecond}, reuseToken())
	e.after = failBatches(2)
	in := groupItems("r", 40)
	results, err := e.client.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: 1000, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Outcome() != graphchat.OutcomeRecovered {
			t.Errorf("item %d: %s, %v: want recovered", i, r.Outcome(), r.Err)
		}
	}
	heldOnce(t, e.emu, in, results)
	// The two failed batches may be looked up together or one after the
	// other, never an item at a time.
	if n := e.listings(); n < 1 || n > 2 {
		t.Errorf("%d listings for 40 items of unknown outcome, want 1 or 2", n)
	}
}

// A lookup does not hold a batch slot: while the first item waits to be
// looked up, the others are sent.
func TestCreateManyLookupsDoNotHoldWorkers(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &graphchat.Options{Operations: reuseOps, LookupDelay: time.Second}, reuseToken())
	e.after = failBatches(1)
	in := groupItems("w", 3)
	results, err := e.client.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: 1000, Concurrency: 1, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	heldOnce(t, e.emu, in, results)
	batches, firstListing := 0, -1
	for _, s := range e.requests() {
		switch {
		case s.Method == http.MethodPost && strings.HasSuffix(s.Path, "/$batch"):
			batches++
		case s.Method == http.MethodGet && strings.HasSuffix(s.Path, "/chats") && firstListing < 0:
			firstListing = batches
		}
	}
	if firstListing != len(in) {
		t.Errorf("the lookup came after %d of %d batches: the worker waited for it", firstListing, len(in))
	}
}

// Items an earlier run sent without an answer (Item.SentAt) are looked up
// in one listing before anything is sent: those created are recovered and
// their messages posted once, the others are created; OnSend hears only of
// those sent now.
func TestCreateManySentAt(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &graphchat.Options{Operations: reuseOps}, reuseToken())
	sentAt := time.Now().Add(-time.Second)
	in := groupItems("s", 10)
	for i := range in {
		in[i].SentAt = sentAt
		in[i].Message = graphchat.TextMessage(fmt.Sprint("hello ", i))
	}
	earlier := map[int]string{}
	for i := range 5 { // created by the earlier run, which was killed
		earlier[i] = mustGroup(t, e.client, in[i].Topic, megan, lee, nestor)
	}
	var sentNow []int
	results, err := e.client.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: 1000, OnSend: func(ix []int) error {
		sentNow = append(sentNow, ix...)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	heldOnce(t, e.emu, in, results)
	for i, r := range results {
		want := graphchat.OutcomeCreated
		if _, ok := earlier[i]; ok {
			want = graphchat.OutcomeRecovered
		}
		if r.Outcome() != want || r.MessageOutcome() != graphchat.MessagePosted {
			t.Errorf("item %d: %s/%s (%v, %v): want %s, message posted", i, r.Outcome(), r.MessageOutcome(), r.Err, r.MessageErr, want)
		}
		if r.Created != nil {
			if n := len(e.emu.Messages(r.Created.ID())); n != 1 {
				t.Errorf("item %d: %d messages in its chat, want 1", i, n)
			}
		}
	}
	if fmt.Sprint(sentNow) != "[5 6 7 8 9]" {
		t.Errorf("OnSend heard of %v, want [5 6 7 8 9]", sentNow)
	}
	if n := e.listings(); n != 1 {
		t.Errorf("%d listings, want 1", n)
	}
}

// Without list-chats, an item sent by an earlier run cannot be looked up:
// its outcome stays unknown and nothing is sent for it.
func TestCreateManySentAtWithoutLookup(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &graphchat.Options{Operations: []policy.Operation{policy.OpCreateChat}}, "")
	in := groupItems("u", 3)
	in[1].SentAt = time.Now().Add(-time.Minute)
	results, err := e.client.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		want := graphchat.OutcomeCreated
		if i == 1 {
			want = graphchat.OutcomeUnknown
		}
		if r.Outcome() != want {
			t.Errorf("item %d: %s (%v), want %s", i, r.Outcome(), r.Err, want)
		}
	}
	if n := len(e.emu.Chats()); n != 2 {
		t.Errorf("the emulator holds %d chats, want 2", n)
	}
}

// Two items asking for the same people and topic, both created and both
// answered ambiguously, each get their own chat from the lookup: one chat is
// never given to two items, and none is left without its item.
func TestCreateManyRecoveredChatsAreDistinct(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &graphchat.Options{Operations: reuseOps}, reuseToken())
	e.after = failBatches(1)
	in := groupItems("same", 1)
	in = append(in, in[0])
	results, err := e.client.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	for _, ch := range e.emu.Chats() {
		held[ch.ID] = true
	}
	got := map[string]bool{}
	for i, r := range results {
		if r.Outcome() != graphchat.OutcomeRecovered || !held[r.Created.ID()] {
			t.Errorf("item %d: %s %v", i, r.Outcome(), r.Err)
			continue
		}
		got[r.Created.ID()] = true
	}
	if len(held) != 2 || len(got) != 2 {
		t.Errorf("the emulator holds %d chats, the items were given %d distinct ones: want 2 and 2", len(held), len(got))
	}
}

// An item an earlier run sent just before it was killed is looked up only
// once a request sent then could have finished (LookupDelay after SentAt):
// a chat the service creates late is found, not created a second time.
func TestCreateManySentAtWaitsForLateCreation(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &graphchat.Options{Operations: reuseOps, LookupDelay: 400 * time.Millisecond}, reuseToken())
	in := groupItems("late", 1)
	in[0].SentAt = time.Now()
	go func() { // the earlier run's request, processed late
		time.Sleep(100 * time.Millisecond)
		mustGroup(t, e.client, in[0].Topic, megan, lee, nestor)
	}()
	results, err := e.client.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; r.Outcome() != graphchat.OutcomeRecovered {
		t.Errorf("%s %v: want recovered", r.Outcome(), r.Err)
	}
	if n := len(e.emu.Chats()); n != 1 {
		t.Errorf("the emulator holds %d chats, want 1", n)
	}
}

// When OnSend stops a run, CreateMany gives every item a result: those it
// never read are not sent, with their own index.
func TestCreateManyStoppedGivesEveryItemAResult(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, "")
	in := groupItems("v", 100)
	results, err := e.client.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: 1000, Concurrency: 1, OnSend: func([]int) error {
		return errors.New("the disk is full")
	}})
	if err == nil {
		t.Fatal("no error from a vetoed run")
	}
	for i, r := range results {
		if r.Index != i || r.Outcome() != graphchat.OutcomeNotSent {
			t.Errorf("item %d: index %d, %s %v: want not sent", i, r.Index, r.Outcome(), r.Err)
		}
	}
	if n := len(e.emu.Chats()); n != 0 {
		t.Errorf("the emulator holds %d chats, want 0", n)
	}
}
