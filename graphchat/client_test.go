package graphchat_test

import (
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// roundTripFunc answers requests without a network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A constructor refuses an option it cannot honour instead of ignoring it.
func TestOptionsRefused(t *testing.T) {
	t.Parallel()
	auth := staticAuth{graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")}
	usgov, err := graphchat.NewRequestAdapter(auth, &graphchat.Options{Cloud: graphchat.CloudUSGov})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		make func() error
		code policy.Code // when the refusal comes from a policy check
	}{
		{"New: BaseURL, the adapter's is used", func() error {
			_, err := graphchat.New(usgov, &graphchat.Options{BaseURL: "https://graph.microsoft.us/v1.0"})
			return err
		}, ""},
		{"New: HTTPClient, the adapter's pipeline is used", func() error {
			_, err := graphchat.New(usgov, &graphchat.Options{HTTPClient: &http.Client{}})
			return err
		}, ""},
		{"New: Retry, the adapter's pipeline is used", func() error {
			_, err := graphchat.New(usgov, &graphchat.Options{Retry: graphchat.RetryOptions{MaxRetries: -1}})
			return err
		}, ""},
		{"New: TokenScopes, no credential", func() error {
			_, err := graphchat.New(usgov, &graphchat.Options{TokenScopes: []string{"https://graph.microsoft.us/.default"}})
			return err
		}, ""},
		{"New: a Cloud other than the adapter's", func() error {
			_, err := graphchat.New(usgov, &graphchat.Options{Cloud: graphchat.CloudChina})
			return err
		}, ""},
		{"New: unknown auth type", func() error {
			_, err := graphchat.New(usgov, &graphchat.Options{Auth: "robot"})
			return err
		}, policy.CodeAuthType},
		{"NewFromCredential: Grant, the token gives it", func() error {
			_, err := graphchat.NewFromCredential(&fakeCredential{token: "x"}, &graphchat.Options{Grant: []string{"Chat.Create"}})
			return err
		}, ""},
		{"NewFromCredential: unknown cloud", func() error {
			_, err := graphchat.NewFromCredential(&fakeCredential{token: "x"}, &graphchat.Options{Cloud: "moon"})
			return err
		}, ""},
		{"NewRequestAdapter: Grant, a Client's setting", func() error {
			_, err := graphchat.NewRequestAdapter(auth, &graphchat.Options{Grant: []string{"Chat.Create"}})
			return err
		}, ""},
		{"NewRequestAdapter: LookupDelay, a Client's setting", func() error {
			_, err := graphchat.NewRequestAdapter(auth, &graphchat.Options{LookupDelay: time.Second})
			return err
		}, ""},
		{"New: a negative LookupDelay", func() error {
			_, err := graphchat.New(usgov, &graphchat.Options{LookupDelay: -time.Second})
			return err
		}, ""},
		{"NewRequestAdapter: Operations, a Client's setting", func() error {
			_, err := graphchat.NewRequestAdapter(auth, &graphchat.Options{Operations: []policy.Operation{policy.OpGetChat}})
			return err
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.make()
			if err == nil {
				t.Fatal("accepted")
			}
			if tt.code != "" && !errors.Is(err, tt.code) {
				t.Errorf("err = %v, want %s", err, tt.code)
			}
		})
	}
}

// A Client built on an adapter takes the cloud (and version) of the
// adapter's base URL: its bind URLs are on the adapter's Graph host.
func TestNewTakesTheAdaptersCloud(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	answer := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		var body []byte
		if zr, err := gzip.NewReader(r.Body); err == nil { // the pipeline compresses bodies
			body, _ = io.ReadAll(zr)
		}
		mu.Lock()
		bodies = append(bodies, r.URL.Host+" "+string(body))
		mu.Unlock()
		return &http.Response{StatusCode: http.StatusCreated, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"id":"19:x@unq.gbl.spaces","chatType":"oneOnOne"}`)), Request: r}, nil
	})
	auth := staticAuth{graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")}
	adapter, err := graphchat.NewRequestAdapter(auth, &graphchat.Options{Cloud: graphchat.CloudUSGov, HTTPClient: &http.Client{Transport: answer}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := graphchat.New(adapter, &graphchat.Options{Caller: policy.Caller{ID: graphchattest.MeganID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || !strings.HasPrefix(bodies[0], "graph.microsoft.us ") || !strings.Contains(bodies[0], `https://graph.microsoft.us/v1.0/users`) {
		t.Errorf("requests = %q, want one to graph.microsoft.us binding users on graph.microsoft.us", bodies)
	}
}
