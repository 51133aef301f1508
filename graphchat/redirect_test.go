package graphchat_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// hostRecorder is a transport that records the host of every request it is
// asked to send, before sending it: a request to another host would be
// dialled (and its name looked up) from here.
type hostRecorder struct {
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Host)
	h.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (h *hostRecorder) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hosts...)
}

// A redirect from the base host to any other host is refused, not
// followed: no request (and so no token) goes there.
func TestRedirectToAnotherHostRefused(t *testing.T) {
	t.Parallel()
	var foreign sync.Map // paths the other server received, with their Authorization
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreign.Store(r.Method+" "+r.URL.Path, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusCreated)
	}))
	defer other.Close()
	for _, tc := range []struct {
		name, location string
	}{
		{"other port", other.URL + "/v1.0/chats"},
		{"other name", "https://evil.example/v1.0/chats"},
		{"other scheme", "https://" + strings.TrimPrefix(other.URL, "http://") + "/v1.0/chats"},
	} {
		for _, status := range []int{http.StatusTemporaryRedirect, http.StatusFound, http.StatusSeeOther, http.StatusPermanentRedirect} {
			t.Run(tc.name+"/"+http.StatusText(status), func(t *testing.T) {
				rec := &hostRecorder{}
				tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic")
				e := setup(t, nil, &graphchat.Options{Operations: []policy.Operation{policy.OpCreateChat, policy.OpGetChat}, HTTPClient: &http.Client{Transport: rec}}, tok)
				e.before = func(w http.ResponseWriter, r *http.Request) bool {
					w.Header().Set("Location", tc.location)
					w.WriteHeader(status)
					return true
				}
				base := strings.TrimPrefix(strings.TrimSuffix(e.url, "/v1.0"), "http://")
				_, err := e.client.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
				if err == nil || !strings.Contains(err.Error(), "redirect") {
					t.Errorf("create: err = %v", err)
				}
				if _, err := e.client.GetChat(ctx, "19:x@thread.v2"); err == nil || !strings.Contains(err.Error(), "redirect") {
					t.Errorf("get: err = %v", err)
				}
				for _, h := range rec.seen() {
					if h != base {
						t.Errorf("a request went to %s", h)
					}
				}
				if n := len(e.requests()); n != 2 {
					t.Errorf("%d requests to the base host, want 2 (no retry of a refused redirect)", n)
				}
			})
		}
	}
	foreign.Range(func(k, v any) bool {
		t.Errorf("the other host received %v (authorization %q)", k, v)
		return true
	})
}

// A redirect on the base host itself is followed, with the body of a POST.
func TestRedirectOnSameHostFollowed(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, "")
	e.before = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1.0/moved/chats" {
			r.URL.Path = "/v1.0/chats"
			return false
		}
		w.Header().Set("Location", "/v1.0/moved/chats")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return true
	}
	got, err := e.client.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
	if err != nil || got.ID() == "" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if reqs := e.requests(); len(reqs) != 2 || len(reqs[1].Body) == 0 || reqs[1].Header.Get("Authorization") == "" {
		t.Errorf("%d requests; the redirected one: %+v", len(reqs), reqs[len(reqs)-1])
	}
}

// Redirects on the base host that would change a POST into a GET, or that
// never end, are refused.
func TestRedirectOnSameHostRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		loc    string
	}{
		{"303 of a POST", http.StatusSeeOther, "/v1.0/elsewhere"},
		{"302 of a POST", http.StatusFound, "/v1.0/elsewhere"},
		{"a loop", http.StatusTemporaryRedirect, "/v1.0/chats"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, nil, nil, "")
			e.before = func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Location", tc.loc)
				w.WriteHeader(tc.status)
				return true
			}
			_, err := e.client.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
			if err == nil || !strings.Contains(err.Error(), "redirect") || errors.Is(err, graphchat.ErrOutcomeUnknown) {
				t.Fatalf("err = %v", err)
			}
			for _, r := range e.requests() {
				if r.Method != http.MethodPost {
					t.Errorf("a %s request was sent", r.Method)
				}
			}
		})
	}
}
