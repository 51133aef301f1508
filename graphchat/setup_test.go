package graphchat_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// fakeCredential hands out a fixed token and records the scopes asked for.
type fakeCredential struct {
	token string
	mu    sync.Mutex
	asked [][]string
}

func (f *fakeCredential) GetToken(_ context.Context, o azpolicy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, append([]string(nil), o.Scopes...))
	return azcore.AccessToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// sent is a request the emulator received, with its body decompressed.
type sent struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

type env struct {
	emu    *graphchattest.Emulator
	url    string
	cred   *fakeCredential
	client *graphchat.Client
	mu     sync.Mutex
	sent   []sent
	// before, when set, may answer a request instead of the emulator.
	before func(w http.ResponseWriter, r *http.Request) bool
	// after, when set, may replace the emulator's answer to a request it
	// processed: it returns true when it wrote its own.
	after func(w http.ResponseWriter, r *http.Request) bool
}

func (e *env) requests() []sent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]sent(nil), e.sent...)
}

// setup starts an emulator behind a recorder and a Client with a token for
// Megan (delegated, Chat.Create unless scopes are given).
func setup(t *testing.T, emuOpts *graphchattest.Options, opts *graphchat.Options, token string) *env {
	t.Helper()
	e := &env{emu: graphchattest.New(emuOpts)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		plain := body
		if r.Header.Get("Content-Encoding") == "gzip" {
			if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
				plain, _ = io.ReadAll(zr)
			}
		}
		e.mu.Lock()
		e.sent = append(e.sent, sent{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: plain})
		before := e.before
		e.mu.Unlock()
		if before != nil && before(w, r) {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.mu.Lock()
		after := e.after
		e.mu.Unlock()
		if after != nil {
			rec := httptest.NewRecorder()
			e.emu.ServeHTTP(rec, r)
			if after(w, r) {
				return
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
			return
		}
		e.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/v1.0"
	if token == "" {
		token = graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	}
	e.cred = &fakeCredential{token: token}
	o := graphchat.Options{}
	if opts != nil {
		o = *opts
	}
	o.BaseURL = e.url
	if o.Retry.BaseDelay == 0 {
		o.Retry.BaseDelay = 10 * time.Millisecond
	}
	if o.LookupDelay == 0 {
		o.LookupDelay = 10 * time.Millisecond // the emulator answers at once
	}
	c, err := graphchat.NewFromCredential(e.cred, &o)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}

func (e *env) chatPosts() int {
	n := 0
	for _, s := range e.requests() {
		if s.Method == http.MethodPost && strings.HasSuffix(s.Path, "/chats") {
			n++
		}
	}
	return n
}

// staticAuth authenticates every request with a fixed token.
type staticAuth struct{ token string }

func (s staticAuth) AuthenticateRequest(_ context.Context, r *abs.RequestInformation, _ map[string]any) error {
	r.Headers.Add("Authorization", "Bearer "+s.token)
	return nil
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
