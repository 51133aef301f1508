package graphchat_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// benchLatency is the emulator's latency in the find benchmarks.
const benchLatency = 20 * time.Millisecond

// findBench is an emulator holding n group chats of Megan's, behind a
// server that delays each request by its latency (none while the chats
// are created) and counts the requests that list chats; the emulator
// throttles listing at the documented five requests a second per user.
type findBench struct {
	emu    *graphchattest.Emulator
	client *graphchat.Client
	delay  atomic.Int64
	lists  atomic.Int64
	want   []graphchat.Member // the members of the one chat with Johanna
}

func newFindBench(b *testing.B, n int) *findBench {
	b.Helper()
	f := &findBench{emu: graphchattest.New(&graphchattest.Options{MaxChats: -1, MaxEntries: -1,
		Throttle: graphchattest.Throttle{PerUserList: graphchattest.DocumentedLimits().PerUserList}})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(f.delay.Load()))
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/chats") {
			f.lists.Add(1)
		}
		f.emu.ServeHTTP(w, r)
	}))
	b.Cleanup(srv.Close)
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic")
	var err error
	f.client, err = graphchat.NewFromCredential(graphchat.StaticToken(tok), &graphchat.Options{
		BaseURL: srv.URL + "/v1.0", Operations: []policy.Operation{policy.OpCreateChat, policy.OpListChats},
	})
	if err != nil {
		b.Fatal(err)
	}
	others := []graphchat.Member{lee, nestor, alex, graphchat.User(graphchattest.JacobID), graphchat.User(graphchattest.IsaiahID)}
	items := make([]graphchat.Item, n)
	for i := range items {
		items[i] = graphchat.Item{Type: policy.ChatTypeGroup, Topic: fmt.Sprint("t", i), Members: []graphchat.Member{megan, others[i%5], others[(i+1)%5]}}
	}
	items[n/2].Members = append(items[n/2].Members, graphchat.User(graphchattest.JohannaID)) // the one to find
	results, err := f.client.CreateMany(ctx, items, &graphchat.BulkOptions{Rate: 1e6})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range results {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	f.want = items[n/2].Members
	f.delay.Store(int64(benchLatency))
	f.lists.Store(0)
	return f
}

// report adds the listing requests a run made against the minimum (one
// request a page of 50), the rate achieved against the documented limit,
// and the emulator's 429s.
func (f *findBench) report(b *testing.B, n int) {
	b.ReportMetric(float64(f.lists.Load())/float64(b.N), "requests/op")
	b.ReportMetric(float64((n+49)/50), "min-requests/op")
	rate := float64(f.lists.Load()) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "requests/s")
	b.ReportMetric(rate/graphchattest.DocumentedLimits().PerUserList, "rate/limit")
	b.ReportMetric(float64(f.emu.Stats().ByStatus[http.StatusTooManyRequests]), "429s")
}

// BenchmarkFind finds one set of people among 1,000 and 10,000 group chats
// of the signed-in user on the emulator, each request delayed by 20 ms, and
// reports the requests made against the minimum (one listing request a
// page of 50), the listing rate achieved against the documented per-user
// limit (five requests a second, which the emulator enforces), and the
// memory a find allocates. The chats are created before the timer starts,
// without latency. Run with -benchtime=1x: 10,000 chats take 40 s to list.
func BenchmarkFind(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			f := newFindBench(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got, err := f.client.Find(ctx, f.want, nil)
				if err != nil || len(got) != 1 {
					b.Fatalf("got %d, %v", len(got), err)
				}
			}
			b.StopTimer()
			f.report(b, n)
		})
	}
}

// BenchmarkChatIndex reads an index of 10,000 group chats (what a bulk
// creation with Reuse reads once) and reports, besides the requests and
// the rate as BenchmarkFind does, the heap the index keeps (retained-B:
// the live heap after a collection, with the index, less the same
// without it). Run with -benchtime=1x.
func BenchmarkChatIndex(b *testing.B) {
	const n = 10_000
	f := newFindBench(b, n)
	var retained uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		ix, err := f.client.NewChatIndex(ctx, &graphchat.FindOptions{Type: policy.ChatTypeGroup})
		if err != nil {
			b.Fatal(err)
		}
		got, err := ix.Find(ctx, f.want, nil)
		if err != nil || len(got) != 1 {
			b.Fatalf("got %d, %v", len(got), err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained += after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
		runtime.KeepAlive(ix)
		b.StartTimer()
	}
	b.StopTimer()
	f.report(b, n)
	b.ReportMetric(float64(retained)/float64(b.N), "retained-B")
}
