package graphchat

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"2":                             2 * time.Second,
		"2.128":                         2128 * time.Millisecond,
		" 0.5 ":                         500 * time.Millisecond,
		"Fri, 27 Nov 2026 12:00:03 GMT": 3 * time.Second,
		"Fri, 27 Nov 2026 11:59:00 GMT": 0,
	} {
		got, ok := parseRetryAfter(in, now)
		if !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "soon", "-1", "1e9"} {
		if _, ok := parseRetryAfter(bad, now); ok {
			t.Errorf("parseRetryAfter(%q) accepted", bad)
		}
	}
}

// The SDK's ODataError.Error() dereferences fields that may be missing;
// translate never calls it and never panics.
func TestTranslateNilSafe(t *testing.T) {
	t.Parallel()
	empty := odataerrors.NewODataError()
	empty.ResponseStatusCode = 500
	for _, err := range []error{empty, &abs.ApiError{ResponseStatusCode: 404}, errors.New("dial tcp: refused")} {
		got := translate("get-chat", err)
		if got == nil || got.Error() == "" {
			t.Errorf("translate(%T) = %v", err, got)
		}
	}
	main := odataerrors.NewMainError()
	code := "Forbidden"
	main.SetCode(&code)
	e := odataerrors.NewODataError()
	e.SetErrorEscaped(main)
	e.ResponseStatusCode = 403
	var ge *Error
	if !errors.As(translate("create-chat", e), &ge) || ge.Code != "Forbidden" || !errors.Is(ge, ErrForbidden) || !errors.Is(ge, e) {
		t.Errorf("translate = %#v", ge)
	}
}

func TestTokenProviderRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	p := &tokenProvider{cred: nil, scopes: []string{"x"}, host: "graph.microsoft.com"}
	for _, raw := range []string{"https://evil.example/v1.0/chats", "http://graph.microsoft.com/v1.0/chats", "https://graph.microsoft.com.evil.example/v1.0"} {
		u, _ := url.Parse(raw)
		if tok, err := p.GetAuthorizationToken(context.Background(), u, nil); err == nil || tok != "" {
			t.Errorf("%s: token %q, err %v", raw, tok, err)
		}
	}
}

func TestMembershipFromLocation(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/chats('19:a@thread.v2')/members('MCMj')": "MCMj",
		"https://x/v1.0/chats/19:a/members/MCMj":   "MCMj",
		"/chats('19:a')/operations('x')":           "",
		"":                                         "",
	} {
		if got := membershipFromLocation(in); got != want {
			t.Errorf("membershipFromLocation(%q) = %q, want %q", in, got, want)
		}
	}
}

type recordPipeline struct{ got []*http.Request }

func (p *recordPipeline) Next(req *http.Request, _ int) (*http.Response, error) {
	p.got = append(p.got, req)
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}, nil
}

// A request to another host than the base URL's is never passed on, even
// one that did not come from a redirect.
func TestRedirectHandlerRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	h := redirectHandler{scheme: "https", host: "graph.microsoft.com"}
	for _, raw := range []string{"https://evil.example/v1.0/chats", "http://graph.microsoft.com/v1.0/chats", "https://graph.microsoft.com:8443/v1.0/chats"} {
		p := &recordPipeline{}
		req, _ := http.NewRequest(http.MethodGet, raw, nil)
		if _, err := h.Intercept(p, 0, req); !errors.Is(err, errRedirect) || len(p.got) != 0 {
			t.Errorf("%s: err %v, %d passed on", raw, err, len(p.got))
		}
	}
	p := &recordPipeline{}
	req, _ := http.NewRequest(http.MethodGet, "https://GRAPH.microsoft.com/v1.0/chats", nil)
	if _, err := h.Intercept(p, 0, req); err != nil || len(p.got) != 1 {
		t.Errorf("base host: err %v, %d passed on", err, len(p.got))
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	// Without jitter: base doubled, capped (the bulk's schedule: 500 ms to 30 s).
	for attempt, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
		if got := backoffDelay(attempt, 500*time.Millisecond, 30*time.Second, false); got != want {
			t.Errorf("attempt %d: %v, want %v", attempt, got, want)
		}
	}
	if got := backoffDelay(1000, time.Second, time.Hour, false); got != time.Hour {
		t.Errorf("attempt 1000: %v, want the ceiling", got)
	}
	// With jitter: within half of base above the doubled delay, under the ceiling.
	for attempt := range 5 {
		got := backoffDelay(attempt, time.Second, 10*time.Second, true)
		low := min(time.Second<<attempt, 10*time.Second)
		if got < low || got > min(low+time.Second/2, 10*time.Second) {
			t.Errorf("attempt %d with jitter: %v, want %v to %v", attempt, got, low, low+time.Second/2)
		}
	}
}
