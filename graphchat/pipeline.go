package graphchat

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// RetryOptions control how graphchat retries. Requests are retried on 429
// (the service did not process them) and, only when repeating them cannot
// duplicate anything, on 503, 504 and transport errors: GET requests and the
// creation of one-on-one chats (the service returns the existing chat).
// The pipeline never retries a group creation after an ambiguous failure:
// CreateGroup and Create look the chat up first and send it again only
// when it does not exist (see CreateGroup).
type RetryOptions struct {
	// MaxRetries is the number of retries after the first attempt;
	// default 3; negative disables retries.
	MaxRetries int
	// MaxWait is the longest single wait; a Retry-After beyond it ends the
	// retries and the error carries RetryAfter. Default 60 s.
	MaxWait time.Duration
	// BaseDelay is the first backoff delay when the service gives no
	// Retry-After; it doubles at each retry, with jitter. Default 1 s.
	BaseDelay time.Duration
}

func (o RetryOptions) withDefaults() RetryOptions {
	if o.MaxRetries == 0 {
		o.MaxRetries = 3
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 60 * time.Second
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = time.Second
	}
	return o
}

// idempotentKey marks a request that may be repeated without effect.
var idempotentKey = abs.RequestOptionKey{Key: "graphchat.idempotent"}

type idempotentOption struct{}

func (idempotentOption) GetKey() abs.RequestOptionKey { return idempotentKey }

func isIdempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	_, ok := req.Context().Value(idempotentKey).(idempotentOption)
	return ok
}

// middlewares returns graphchat's pipeline in a fixed order, outermost
// first. The SDK's default slice comes from a map and so in random order;
// its retry handler also retries any POST on 503/504 (duplicating group
// chats) and truncates decimal Retry-After values.
// The redirect handler is graphchat's own: the SDK's follows redirects to
// any host (a POST included, after a DNS lookup of the other name).
func middlewares(base *url.URL, retry RetryOptions, logger *slog.Logger) []khttp.Middleware {
	m := []khttp.Middleware{
		requestIDHandler{sdkVersion: sdkVersion()},
		errorBodyHandler{},
		khttp.NewHeadersInspectionHandler(),
		&retryHandler{opts: retry.withDefaults()},
		redirectHandler{scheme: base.Scheme, host: base.Host},
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewCompressionHandler(),
	}
	if logger != nil {
		m = append(m, logHandler{logger: logger})
	}
	return m
}

func sdkVersion() string {
	return "graph-go/" + sdkLibraryVersion + ", graph-go-core/" + msgraphgocore.CoreVersion + " (hostOS=" + runtime.GOOS + "; hostArch=" + runtime.GOARCH + "; runtimeEnvironment=" + runtime.Version() + ";)"
}

// requestIDHandler gives each logical request one client-request-id (kept
// across retries, so the service can correlate them) and the SDK version.
type requestIDHandler struct{ sdkVersion string }

func (h requestIDHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if req.Header.Get("client-request-id") == "" {
		req.Header.Set("client-request-id", newUUID())
	}
	req.Header.Set("SdkVersion", h.sdkVersion)
	return p.Next(req, i)
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// errorBodyHandler keeps what the service said in an error answer whose body
// the SDK cannot read: a body that is not a JSON object declared as
// application/json (a proxy's HTML page, text, JSON of no declared type,
// malformed JSON), from which the SDK makes an error that has lost the
// status, the headers and the message. Such an answer becomes an *Error
// (errorFromBody), returned as the request's error; translate gives it its
// operation. Error answers the SDK reads (a JSON object) are left to it, so
// that errors.As still reaches its *odataerrors.ODataError.
type errorBodyHandler struct{}

// maxErrorBody bounds the error body read.
const maxErrorBody = 1 << 20

func (errorBodyHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	resp, err := p.Next(req, i)
	if err != nil || resp == nil || resp.StatusCode < 400 || resp.Body == nil {
		return resp, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if rerr != nil {
		return nil, rerr
	}
	if len(body) == 0 || mediaType(resp.Header.Get("Content-Type")) == "application/json" && isJSONObject(body) {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	e := errorFromBody("", resp.StatusCode, resp.Header, body)
	if e.ClientRequestID == "" {
		e.ClientRequestID = req.Header.Get("client-request-id") // the one sent
	}
	return nil, e
}

func isJSONObject(b []byte) bool {
	var v map[string]json.RawMessage
	return json.Unmarshal(b, &v) == nil
}

// retryHandler retries throttled requests always and failed ones only when
// idempotent. Each attempt gets a fresh copy of the request and its body.
type retryHandler struct{ opts RetryOptions }

func (h *retryHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	ctx := req.Context()
	idempotent := isIdempotent(req)
	for attempt := 0; ; attempt++ {
		r := req.Clone(ctx)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		if attempt > 0 {
			r.Header.Set("Retry-Attempt", strconv.Itoa(attempt))
		}
		resp, err := p.Next(r, i)
		delay, retry := h.decide(resp, err, idempotent, attempt)
		if !retry || ctx.Err() != nil {
			return resp, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return resp, err // the wait would outlast the caller's deadline
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// decide says whether and after how long to retry.
func (h *retryHandler) decide(resp *http.Response, err error, idempotent bool, attempt int) (time.Duration, bool) {
	if h.opts.MaxRetries < 0 || attempt >= h.opts.MaxRetries {
		return 0, false
	}
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errRedirect) || !idempotent {
			return 0, false
		}
		return backoffDelay(attempt, h.opts.BaseDelay, h.opts.MaxWait, true), true
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if !idempotent {
			return 0, false
		}
	default:
		return 0, false
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		if d > h.opts.MaxWait {
			return 0, false
		}
		return d, true
	}
	return backoffDelay(attempt, h.opts.BaseDelay, h.opts.MaxWait, true), true
}

// backoffDelay is graphchat's one backoff: the wait before retrying after
// attempt (0 for the first) when the service gives no Retry-After. It is
// base doubled at each attempt plus, with jitter, up to half of base at
// random, and never more than ceiling.
func backoffDelay(attempt int, base, ceiling time.Duration, jitter bool) time.Duration {
	d := base
	for range attempt {
		if d > ceiling/2 {
			d = ceiling
			break
		}
		d *= 2
	}
	if jitter {
		d += time.Duration(mrand.Float64() * float64(base) / 2)
	}
	return min(d, ceiling)
}

// errRedirect matches a redirect graphchat refused to follow, and a request
// to another host than the base URL's. A refused redirect was answered, not
// processed: it is not ambiguous, and it is not retried.
var errRedirect = errors.New("graphchat: request not sent")

// maxRedirects bounds the redirects followed for one request.
const maxRedirects = 5

// redirectHandler follows redirects on the base URL's scheme and host only,
// and refuses, with an error matching errRedirect, any request to another
// host: the request (and its Authorization header) never leaves. 307 and 308
// are followed with the same method and body; 301, 302 and 303 only for GET
// and HEAD requests (a POST is not turned into a GET).
type redirectHandler struct{ scheme, host string }

func (h redirectHandler) allowed(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, h.scheme) && strings.EqualFold(u.Host, h.host)
}

func (h redirectHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if !h.allowed(req.URL) {
		return nil, fmt.Errorf("%w: %s://%s is not the base URL's %s://%s", errRedirect, req.URL.Scheme, req.URL.Host, h.scheme, h.host)
	}
	ctx := req.Context()
	hop := req
	for n := 0; ; n++ {
		// The handlers after this one (compression) change the request they
		// get: each hop gets its own copy.
		r := hop.Clone(ctx)
		if n > 0 && hop.GetBody != nil {
			body, err := hop.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		} else {
			r.Body = hop.Body
		}
		resp, err := p.Next(r, i)
		if err != nil || resp == nil {
			return resp, err
		}
		loc := resp.Header.Get("Location")
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, nil
		}
		if loc == "" {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		target, err := hop.URL.Parse(loc)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%w: redirect %d with an unreadable Location", errRedirect, resp.StatusCode)
		case !h.allowed(target):
			return nil, fmt.Errorf("%w: redirect %d from %s to %s://%s refused: only %s://%s is allowed", errRedirect, resp.StatusCode, h.host, target.Scheme, target.Host, h.scheme, h.host)
		case n >= maxRedirects:
			return nil, fmt.Errorf("%w: more than %d redirects", errRedirect, maxRedirects)
		}
		next := hop.Clone(ctx)
		next.URL, next.Host = target, ""
		switch resp.StatusCode {
		case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			if hop.Method != http.MethodGet && hop.Method != http.MethodHead {
				return nil, fmt.Errorf("%w: redirect %d of a %s request refused (only 307 and 308 keep the method)", errRedirect, resp.StatusCode, hop.Method)
			}
		}
		hop = next
	}
}

// logHandler logs one line per attempt: method, path, status, latency,
// request-id and client-request-id. Never the query, a body or a header
// that could hold a secret.
type logHandler struct{ logger *slog.Logger }

func (h logHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := p.Next(req, i)
	attrs := []slog.Attr{
		slog.String("method", req.Method),
		slog.String("path", req.URL.Path),
		slog.Duration("latency", time.Since(start)),
		slog.String("client-request-id", req.Header.Get("client-request-id")),
	}
	if a := req.Header.Get("Retry-Attempt"); a != "" {
		attrs = append(attrs, slog.String("retry-attempt", a))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
		h.logger.LogAttrs(req.Context(), slog.LevelWarn, "graph request failed", attrs...)
		return resp, err
	}
	attrs = append(attrs, slog.Int("status", resp.StatusCode), slog.String("request-id", resp.Header.Get("request-id")))
	level := slog.LevelInfo
	if resp.StatusCode >= 400 {
		level = slog.LevelWarn
	}
	h.logger.LogAttrs(req.Context(), level, "graph request", attrs...)
	return resp, err
}
