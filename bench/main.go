// Command bench measures graphchat's figures in one run, as ratios, against
// an in-process emulator: the policy's cost next to the SDK's serialization,
// graphchat's creation next to the SDK's own Post, and bulk creation next to
// the service's rate limit and to a plain loop of SDK calls.
//
//	go run ./bench [-n 1000] [-latency 20ms] [-limit 300] [-messages 1000] [-reuse-lines 1000 -reuse-chats 10000]
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

func main() {
	n := flag.Int("n", 1000, "one-on-one chats for the bulk measurement (0 skips it)")
	latency := flag.Duration("latency", 20*time.Millisecond, "emulator latency for the bulk measurement")
	limit := flag.Float64("limit", 300, "emulator rate limit (requests per second) for the bulk measurement")
	rounds := flag.Int("rounds", 5, "rounds of the micro-benchmarks; the median is kept")
	messages := flag.Int("messages", 1000, "first messages for the messages measurement, one a chat, under graphchattest.DocumentedLimits() (0 skips it)")
	reuseLines := flag.Int("reuse-lines", 0, "lines of the bulk creation with Reuse, measured against plain creation plus one listing of the caller's chats (0 skips it; 1000 with -reuse-chats 10000 takes about 4 minutes)")
	reuseChats := flag.Int("reuse-chats", 10000, "the caller's group chats for the Reuse measurement")
	flag.Parse()
	if err := run(*n, *latency, *limit, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if *messages > 0 {
		if err := runMessages(*messages, *latency); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if *reuseLines > 0 {
		if err := runReuse(*reuseLines, *reuseChats, *latency); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// runReuse measures bulk creation with Reuse: a caller with chats group
// chats creates lines new group chats with Reuse, and then the same lines
// again (every chat exists). It compares the time with one listing of the
// caller's chats plus a plain bulk creation of as many new chats, and counts
// the listing requests against one pass over the pages. The emulator has
// the latency and throttles listing at the documented five requests a
// second per user; creations are paced by the client at the documented
// 30 a second per app (the emulator does not also throttle them, so that
// the caller's chats can be created quickly first).
func runReuse(lines, chats int, latency time.Duration) error {
	const rate = 30 // graphchattest.DocumentedLimits().PerApp
	emu := graphchattest.New(&graphchattest.Options{Users: append(graphchattest.DefaultUsers(), users(60)...), MaxChats: -1, MaxEntries: -1,
		Throttle: graphchattest.Throttle{PerUserList: graphchattest.DocumentedLimits().PerUserList}})
	var delay, lists atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(delay.Load()))
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/chats") {
			lists.Add(1)
		}
		emu.ServeHTTP(w, r)
	}))
	defer srv.Close()
	megan := graphchat.User(graphchattest.MeganID)
	client, err := graphchat.NewFromCredential(graphchat.StaticToken(graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic")), &graphchat.Options{
		BaseURL: srv.URL + "/v1.0", Operations: []policy.Operation{policy.OpCreateChat, policy.OpListChats}})
	if err != nil {
		return err
	}
	others := members(60)
	groups := func(prefix string, n int) []graphchat.Item {
		out := make([]graphchat.Item, n)
		for i := range out {
			out[i] = graphchat.Item{Type: policy.ChatTypeGroup, Topic: fmt.Sprintf("%s %d", prefix, i), Members: []graphchat.Member{megan, others[i%60], others[(i+1)%60]}}
		}
		return out
	}
	created := func(results []graphchat.ItemResult, want graphchat.Outcome) error {
		for i, r := range results {
			if r.Outcome() != want {
				return fmt.Errorf("item %d: %s, want %s: %v", i, r.Outcome(), want, r.Err)
			}
		}
		return nil
	}
	// The caller's chats, without latency.
	results, err := client.CreateMany(ctx, groups("existing", chats), &graphchat.BulkOptions{Rate: 1e6})
	if err != nil {
		return err
	}
	if err := created(results, graphchat.OutcomeCreated); err != nil {
		return err
	}
	delay.Store(int64(latency))
	pages := (chats + 49) / 50

	// One pass over the pages.
	time.Sleep(time.Second) // the listing bucket refills
	lists.Store(0)
	start := time.Now()
	if _, err := client.ListChats(ctx, &graphchat.FindOptions{Type: policy.ChatTypeGroup}); err != nil {
		return err
	}
	pass, passLists := time.Since(start), lists.Load()

	// Reuse, lines new chats.
	time.Sleep(time.Second)
	lists.Store(0)
	n0 := len(emu.Chats())
	in := groups("line", lines)
	start = time.Now()
	results, err = client.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: rate, Reuse: true})
	if err != nil {
		return err
	}
	reuse, reuseLists := time.Since(start), lists.Load()
	if err := created(results, graphchat.OutcomeCreated); err != nil {
		return err
	}
	reuseCreated := len(emu.Chats()) - n0

	// Reuse again: every chat exists.
	time.Sleep(time.Second)
	lists.Store(0)
	n0 = len(emu.Chats())
	start = time.Now()
	results, err = client.CreateMany(ctx, in, &graphchat.BulkOptions{Rate: rate, Reuse: true})
	if err != nil {
		return err
	}
	again, againLists := time.Since(start), lists.Load()
	if err := created(results, graphchat.OutcomeExisting); err != nil {
		return err
	}
	againCreated := len(emu.Chats()) - n0

	// Plain creation of as many new chats.
	time.Sleep(time.Second)
	start = time.Now()
	results, err = client.CreateMany(ctx, groups("plain", lines), &graphchat.BulkOptions{Rate: rate})
	if err != nil {
		return err
	}
	plain := time.Since(start)
	if err := created(results, graphchat.OutcomeCreated); err != nil {
		return err
	}
	throttled := emu.Stats().ByStatus[http.StatusTooManyRequests]

	r := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	fmt.Printf("| reuse: one listing of the caller's %d group chats, %s latency: requests / one pass (%d pages); rate / 5 rps per user | %d requests in %s, %.2f rps | %.2f; %.3f |\n",
		chats, latency, pages, passLists, r(pass), float64(passLists)/pass.Seconds(), float64(passLists)/float64(pages), float64(passLists)/pass.Seconds()/graphchattest.DocumentedLimits().PerUserList)
	fmt.Printf("| reuse: bulk of %d new group chats with Reuse (%d created, %d listing requests) / plain bulk of %d (%s) + one listing (%s), %d rps | %s / %s | %.3f |\n",
		lines, reuseCreated, reuseLists, lines, r(plain), r(pass), rate, r(reuse), r(plain+pass), reuse.Seconds()/(plain+pass).Seconds())
	fmt.Printf("| reuse: the same %d lines again, every chat existing (%d created, %d listing requests) / one listing | %s / %s | %.3f |\n",
		lines, againCreated, againLists, r(again), r(pass), again.Seconds()/pass.Seconds())
	fmt.Printf("| reuse: listing requests / one pass over %d+ chats (first run; again) | %d; %d / %d | %.2f; %.2f |\n",
		chats, reuseLists, againLists, pages, float64(reuseLists)/float64(pages), float64(againLists)/float64((chats+lines+49)/50))
	if throttled > 0 {
		fmt.Printf("| reuse: 429s answered by the emulator's listing limit | %d | |\n", throttled)
	}
	return nil
}

// runMessages posts n messages, one in each of n chats, through CreateMany
// (items naming existing chats) against an emulator with the documented
// Teams throttling, and compares the rate achieved with the app's limit.
func runMessages(n int, latency time.Duration) error {
	limit := graphchattest.DocumentedLimits().PerApp
	srv := httptest.NewServer(graphchattest.New(&graphchattest.Options{Users: append(graphchattest.DefaultUsers(), users(n)...), Latency: latency, Throttle: graphchattest.DocumentedLimits()}))
	defer srv.Close()
	megan := graphchat.User(graphchattest.MeganID)
	client, err := graphchat.NewFromCredential(graphchat.StaticToken(graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMessage.Send", "Chat.ReadBasic")), &graphchat.Options{
		BaseURL: srv.URL + "/v1.0", Operations: []policy.Operation{policy.OpCreateChat, policy.OpSendMessage, policy.OpListChats}})
	if err != nil {
		return err
	}
	var items []graphchat.Item
	for _, u := range members(n) {
		items = append(items, graphchat.Item{Type: policy.ChatTypeOneOnOne, Members: []graphchat.Member{megan, u}})
	}
	created, err := client.CreateMany(ctx, items, &graphchat.BulkOptions{Rate: limit})
	if err != nil {
		return err
	}
	for i, r := range created {
		if r.Created == nil || r.Created.Chat == nil {
			return fmt.Errorf("creating chat %d: %v", i, r.Err)
		}
		items[i] = graphchat.Item{ChatID: r.Created.ID(), Members: items[i].Members, Message: graphchat.TextMessage(fmt.Sprintf("hello %d", i))}
	}
	time.Sleep(time.Second) // the app's bucket refills
	start := time.Now()
	results, err := client.CreateMany(ctx, items, &graphchat.BulkOptions{Rate: limit})
	if err != nil {
		return err
	}
	took := time.Since(start)
	s := graphchat.Summarize(results)
	if s.MessagesPosted != n {
		return fmt.Errorf("messages: %+v", s)
	}
	rate := float64(n) / took.Seconds()
	fmt.Printf("| messages: %d, one a chat, documented Teams throttling (%.0f rps per app, 1 message a second per user in a chat), %s latency: achieved rate / limit | %.1f rps in %s | %.3f |\n",
		n, limit, latency, rate, took.Round(time.Millisecond), rate/limit)
	return nil
}

var ctx = context.Background()

// median runs a benchmark rounds times and returns the median ns/op.
func median(rounds int, f func(b *testing.B)) float64 {
	var ns []float64
	for range rounds {
		r := testing.Benchmark(f)
		ns = append(ns, float64(r.T.Nanoseconds())/float64(r.N))
	}
	sort.Float64s(ns)
	return ns[len(ns)/2]
}

func users(n int) []graphchattest.User {
	var out []graphchattest.User
	for i := range n {
		out = append(out, graphchattest.User{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), UserPrincipalName: fmt.Sprintf("user%d@contoso.com", i), UserType: "Member"})
	}
	return out
}

func members(n int) []graphchat.Member {
	out := make([]graphchat.Member, n)
	for i := range out {
		out[i] = graphchat.User(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
	}
	return out
}

func model(ms []graphchat.Member) (models.Chatable, error) {
	typ := policy.ChatTypeGroup
	if len(ms) == 2 {
		typ = policy.ChatTypeOneOnOne
	}
	return graphchat.ChatModel(graphchat.CloudGlobal, "v1.0", typ, "", ms...)
}

type staticAuth string

func (s staticAuth) AuthenticateRequest(_ context.Context, r *abs.RequestInformation, _ map[string]any) error {
	r.Headers.Add("Authorization", "Bearer "+string(s))
	return nil
}

func run(n int, latency time.Duration, limit float64, rounds int) error {
	fmt.Printf("graphchat figures (%d rounds per micro-benchmark, median)\n\n", rounds)
	fmt.Println("| figure | measured | ratio |")
	fmt.Println("|---|---|---|")

	// 1. Policy check next to SDK serialization.
	for _, size := range []int{2, 250} {
		ms := members(size)
		chat, err := model(ms)
		if err != nil {
			return err
		}
		req := &policy.Request{ChatType: policy.ChatTypeGroup}
		if size == 2 {
			req.ChatType = policy.ChatTypeOneOnOne
		}
		for _, m := range ms {
			req.Members = append(req.Members, policy.Member{User: m.User, Roles: []policy.Role{policy.RoleOwner}, Kind: policy.KindMember})
		}
		pc := &policy.Context{Caller: policy.Caller{ID: ms[0].User}, Grant: &policy.Grant{Permissions: []string{"Chat.Create"}}}
		check := median(rounds, func(b *testing.B) {
			for b.Loop() {
				policy.Check(req, pc)
			}
		})
		ser := median(rounds, func(b *testing.B) {
			for b.Loop() {
				w := jsonserialization.NewJsonSerializationWriter()
				w.WriteObjectValue("", chat)
				w.GetSerializedContent()
				w.Close()
			}
		})
		fmt.Printf("| policy check / SDK serialization, %d members | %s / %s | %.2f |\n", size, dur(check), dur(ser), check/ser)
	}

	// 2. graphchat create next to the SDK's Post, same adapter and emulator.
	srv := httptest.NewServer(graphchattest.New(&graphchattest.Options{Anonymous: true, Users: users(60)}))
	defer srv.Close()
	base := srv.URL + "/v1.0"
	tok := graphchattest.AppToken("Chat.Create")
	client, err := graphchat.NewFromCredential(graphchat.StaticToken(tok), &graphchat.Options{BaseURL: base, Auth: policy.AuthApplication})
	if err != nil {
		return err
	}
	adapter, err := graphchat.NewRequestAdapter(staticAuth(tok), &graphchat.Options{BaseURL: base})
	if err != nil {
		return err
	}
	builder := chats.NewChatsRequestBuilderInternal(map[string]string{}, adapter)
	pair := members(2)
	chat, _ := model(pair)
	var gc, raw, ratios []float64
	var failure error        // testing.B's Fatal is for go test only
	for range 2*rounds + 1 { // interleaved, so that each pair sees the same machine
		gc = append(gc, median(1, func(b *testing.B) {
			for b.Loop() {
				if _, err := client.CreateOneOnOne(ctx, pair[0], pair[1]); err != nil {
					failure = err
				}
			}
		}))
		raw = append(raw, median(1, func(b *testing.B) {
			for b.Loop() {
				if _, err := builder.Post(ctx, chat, nil); err != nil {
					failure = err
				}
			}
		}))
		ratios = append(ratios, gc[len(gc)-1]/raw[len(raw)-1])
	}
	if failure != nil {
		return fmt.Errorf("creating a chat: %w", failure)
	}
	slices.Sort(gc)
	slices.Sort(raw)
	slices.Sort(ratios)
	fmt.Printf("| graphchat CreateOneOnOne / SDK chats Post (in-process emulator; median of %d interleaved pairs) | %s / %s | %.3f (range %.3f to %.3f) |\n",
		len(ratios), dur(gc[len(gc)/2]), dur(raw[len(raw)/2]), ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])

	// 3. Bulk: n one-on-one chats at the emulator's limit, and a plain loop.
	if n <= 0 {
		return nil
	}
	bulkSrv := httptest.NewServer(graphchattest.New(&graphchattest.Options{Users: users(60), Latency: latency, RateLimit: limit}))
	defer bulkSrv.Close()
	appTok := graphchattest.AppToken("Chat.Create", "Chat.ReadBasic.All")
	bulkClient, err := graphchat.NewFromCredential(graphchat.StaticToken(appTok), &graphchat.Options{BaseURL: bulkSrv.URL + "/v1.0", Auth: policy.AuthApplication})
	if err != nil {
		return err
	}
	var items []graphchat.Item
	all := members(60)
	for i := 0; i < len(all) && len(items) < n; i++ {
		for j := i + 1; j < len(all) && len(items) < n; j++ {
			items = append(items, graphchat.Item{Type: policy.ChatTypeOneOnOne, Members: []graphchat.Member{all[i], all[j]}})
		}
	}
	start := time.Now()
	results, err := bulkClient.CreateMany(ctx, items, &graphchat.BulkOptions{Rate: limit})
	if err != nil {
		return err
	}
	bulk := time.Since(start)
	s := graphchat.Summarize(results)
	if s.Created != len(items) {
		return fmt.Errorf("bulk: %+v", s)
	}
	rate := float64(len(items)) / bulk.Seconds()
	fmt.Printf("| bulk: %d one-on-one chats, %s latency, %.0f rps limit: achieved rate / limit | %.1f rps in %s | %.3f |\n", len(items), latency, limit, rate, bulk.Round(time.Millisecond), rate/limit)

	seqSrv := httptest.NewServer(graphchattest.New(&graphchattest.Options{Users: users(60), Latency: latency, RateLimit: limit}))
	defer seqSrv.Close()
	seqAdapter, err := graphchat.NewRequestAdapter(staticAuth(appTok), &graphchat.Options{BaseURL: seqSrv.URL + "/v1.0"})
	if err != nil {
		return err
	}
	seqBuilder := chats.NewChatsRequestBuilderInternal(map[string]string{}, seqAdapter)
	start = time.Now()
	for _, it := range items {
		c, err := model(it.Members)
		if err != nil {
			return err
		}
		if _, err := seqBuilder.Post(ctx, c, nil); err != nil {
			return err
		}
	}
	seq := time.Since(start)
	fmt.Printf("| bulk speed-up over a sequential loop of SDK Post calls | %s / %s | %.1fx |\n", seq.Round(time.Millisecond), bulk.Round(time.Millisecond), seq.Seconds()/bulk.Seconds())
	return nil
}

func dur(ns float64) string { return time.Duration(ns).Round(10 * time.Nanosecond).String() }
