package graphchat_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// BenchmarkFind finds one set of people among 1,000 and 10,000 group chats
// of the signed-in user on the emulator, each request delayed by latency,
// and reports the requests made against the minimum (one listing request a
// page of 50) and the memory a find takes. The chats are created before the
// timer starts, without latency. Run with -benchtime=1x: listing is paced
// to five requests a second, the documented per-user limit.
func BenchmarkFind(b *testing.B) {
	const latency = 20 * time.Millisecond
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			emu := graphchattest.New(&graphchattest.Options{MaxChats: -1, MaxEntries: -1})
			var delay atomic.Int64
			var lists atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(time.Duration(delay.Load()))
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/chats") {
					lists.Add(1)
				}
				emu.ServeHTTP(w, r)
			}))
			defer srv.Close()
			tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic")
			client, err := graphchat.NewFromCredential(graphchat.StaticToken(tok), &graphchat.Options{
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
			results, err := client.CreateMany(ctx, items, &graphchat.BulkOptions{Rate: 1e6})
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range results {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
			want := items[n/2].Members
			delay.Store(int64(latency))
			lists.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got, err := client.Find(ctx, want, nil)
				if err != nil || len(got) != 1 {
					b.Fatalf("got %d, %v", len(got), err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(lists.Load())/float64(b.N), "requests/op")
			b.ReportMetric(float64((n+49)/50), "min-requests/op")
		})
	}
}
