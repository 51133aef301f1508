package graphchattest

import (
	"bufio"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/graphchat/graphchat/policy"
)

// Options configure an Emulator. The zero value is a Contoso tenant with the
// built-in users, requiring bearer tokens, with no latency, limit or fault.
type Options struct {
	// TenantID is the emulated tenant; default DefaultTenantID.
	TenantID string
	// Users is the directory; nil means DefaultUsers.
	Users []User
	// Anonymous accepts requests without a bearer token. They are treated as
	// app-only calls holding every permission.
	Anonymous bool
	// Latency is added before each request is processed.
	Latency time.Duration
	// RateLimit, when positive, is the number of requests per second the
	// emulator accepts (each request of a batch counts); the others get 429
	// with Retry-After and a TooManyRequests body.
	RateLimit float64
	// Faults are injected into requests, each with its probability.
	Faults []FaultRule
	// Seed makes fault injection repeatable.
	Seed uint64
	// SlowDelay is how long FaultSlowAfter holds a processed response;
	// default 30 s.
	SlowDelay time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// Log, when set, is called once per request after it is answered.
	Log func(Entry)
}

// Entry describes one answered request. It holds no body and no token.
type Entry struct {
	Method          string
	Path            string
	Status          int
	RequestID       string
	ClientRequestID string
	Duration        time.Duration
	Fault           Fault // the fault injected, if any
	Batch           bool  // a request inside a $batch
}

// Emulator is an http.Handler that answers like Microsoft Graph's chat
// endpoints, for tests and demos. It is safe for concurrent use.
type Emulator struct {
	opts    Options
	tenant  string
	now     func() time.Time
	mu      sync.Mutex
	users   []User
	chats   []*chat
	byID    map[string]*chat
	entries []Entry
	bucket  float64
	last    time.Time
	rng     *mrand.Rand
	msg     messageState // chat messages: messages.go
}

// New returns an emulator. A nil opts means the zero Options.
func New(opts *Options) *Emulator {
	var o Options
	if opts != nil {
		o = *opts
	}
	e := &Emulator{opts: o, tenant: o.TenantID, now: o.Now, users: o.Users, byID: map[string]*chat{}}
	if e.tenant == "" {
		e.tenant = DefaultTenantID
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.users == nil {
		e.users = DefaultUsers()
	}
	e.users = slices.Clone(e.users)
	e.rng = mrand.New(mrand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	e.bucket = o.RateLimit
	return e
}

// TenantID returns the emulated tenant.
func (e *Emulator) TenantID() string { return e.tenant }

// Entries returns the requests answered so far, in order.
func (e *Emulator) Entries() []Entry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.entries)
}

// Reset forgets every chat and every recorded request.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.chats, e.byID, e.entries = nil, map[string]*chat{}, nil
}

// Server is an emulator listening on a loopback address.
type Server struct {
	*Emulator
	// URL is the base URL of Microsoft Graph v1.0 on the server, such as
	// http://127.0.0.1:41234/v1.0.
	URL string
	srv *http.Server
	ln  net.Listener
}

// NewServer starts an emulator on addr (default "127.0.0.1:0", a free
// loopback port). Only loopback addresses are accepted. Close it when done.
func NewServer(addr string, opts *Options) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("graphchattest: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("graphchattest: address %q: want a loopback address such as 127.0.0.1:8080", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("graphchattest: %w", err)
	}
	s := &Server{Emulator: New(opts), ln: ln, URL: "http://" + ln.Addr().String() + "/v1.0"}
	s.srv = &http.Server{Handler: s.Emulator, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // returns http.ErrServerClosed on Close
	return s, nil
}

// Close stops the server and closes its connections.
func (s *Server) Close() error { return s.srv.Close() }

// Addr returns the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// request is the context of one request being answered.
type request struct {
	r               *http.Request
	version         string // "v1.0" or "beta"
	path            string // after the version, starting with "/"
	requestID       string
	clientRequestID string
	claims          *Claims // nil for anonymous
	batch           bool
}

// response is what a handler answers; batch responses reuse it.
type response struct {
	status int
	header http.Header
	body   []byte
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ServeHTTP answers one request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q := &request{r: r, requestID: newID(), clientRequestID: r.Header.Get("client-request-id")}
	fault := e.pickFault()
	if e.opts.Latency > 0 {
		select {
		case <-time.After(e.opts.Latency):
		case <-r.Context().Done():
			return
		}
	}
	resp := e.serve(q, fault)
	if resp == nil { // connection dropped
		e.record(q, 0, start, fault)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	}
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.Header().Set("request-id", q.requestID)
	if q.clientRequestID != "" {
		w.Header().Set("client-request-id", q.clientRequestID)
	}
	if len(resp.body) > 0 && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
	}
	w.WriteHeader(resp.status)
	w.Write(resp.body)
	e.record(q, resp.status, start, fault)
}

func (e *Emulator) record(q *request, status int, start time.Time, f Fault) {
	ent := Entry{Method: q.r.Method, Path: q.r.URL.Path, Status: status, RequestID: q.requestID,
		ClientRequestID: q.clientRequestID, Duration: time.Since(start), Fault: f, Batch: q.batch}
	e.mu.Lock()
	e.entries = append(e.entries, ent)
	e.mu.Unlock()
	if e.opts.Log != nil {
		e.opts.Log(ent)
	}
}

// serve routes a request, applying faults, the rate limit and auth. A nil
// response means the connection is dropped.
func (e *Emulator) serve(q *request, fault Fault) *response {
	switch fault {
	case Fault503:
		return e.graphError(q, http.StatusServiceUnavailable, "ServiceUnavailable", "The service is temporarily unavailable (injected fault).", http.Header{"Retry-After": {"1"}})
	case Fault504:
		return e.graphError(q, http.StatusGatewayTimeout, "GatewayTimeout", "The gateway timed out (injected fault).", nil)
	}
	if wait, limited := e.takeToken(); limited {
		return e.graphError(q, http.StatusTooManyRequests, "TooManyRequests", "Too many requests, retry after the time in Retry-After.",
			http.Header{"Retry-After": {formatSeconds(wait)}})
	}
	resp := e.route(q)
	switch fault {
	case Fault504After:
		return e.graphError(q, http.StatusGatewayTimeout, "GatewayTimeout", "The gateway timed out after the request was processed (injected fault).", nil)
	case FaultDropAfter:
		return nil
	case FaultSlowAfter:
		hold := e.opts.SlowDelay
		if hold <= 0 {
			hold = 30 * time.Second
		}
		select {
		case <-time.After(hold):
		case <-q.r.Context().Done():
			return nil
		}
	}
	return resp
}

func formatSeconds(d time.Duration) string {
	s := math.Ceil(d.Seconds()*1000) / 1000
	return fmt.Sprintf("%.3f", max(s, 0.001))
}

// takeToken applies the rate limit: a token bucket of RateLimit tokens a
// second holding at most one second's worth.
func (e *Emulator) takeToken() (wait time.Duration, limited bool) {
	rate := e.opts.RateLimit
	if rate <= 0 {
		return 0, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if !e.last.IsZero() {
		e.bucket = min(rate, e.bucket+now.Sub(e.last).Seconds()*rate)
	}
	e.last = now
	if e.bucket >= 1 {
		e.bucket--
		return 0, false
	}
	return time.Duration((1 - e.bucket) / rate * float64(time.Second)), true
}

func (e *Emulator) route(q *request) *response {
	p := q.r.URL.Path
	switch {
	case strings.HasPrefix(p, "/v1.0/"):
		q.version, q.path = "v1.0", p[len("/v1.0"):]
	case strings.HasPrefix(p, "/beta/"):
		q.version, q.path = "beta", p[len("/beta"):]
	default:
		return e.graphError(q, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid version in the request URL %q: want /v1.0/ or /beta/.", p), nil)
	}
	if resp := e.authenticate(q); resp != nil {
		return resp
	}
	seg := strings.Split(strings.Trim(q.path, "/"), "/")
	if resp, ok := e.routeMessage(q, seg); ok { // messages.go
		return resp
	}
	m := q.r.Method
	switch {
	case len(seg) == 1 && seg[0] == "$batch" && m == http.MethodPost && !q.batch:
		return e.batch(q)
	case len(seg) == 1 && seg[0] == "chats" && m == http.MethodPost:
		return e.createChat(q)
	case len(seg) == 2 && seg[0] == "chats" && m == http.MethodGet:
		return e.getChat(q, seg[1])
	case len(seg) == 3 && seg[0] == "chats" && seg[2] == "members" && m == http.MethodGet:
		return e.listMembers(q, seg[1])
	case len(seg) == 3 && seg[0] == "chats" && seg[2] == "members" && m == http.MethodPost:
		return e.addMember(q, seg[1])
	case len(seg) == 4 && seg[0] == "chats" && seg[2] == "members" && m == http.MethodDelete:
		return e.removeMember(q, seg[1], seg[3])
	case len(seg) == 2 && seg[0] == "users" && m == http.MethodGet:
		return e.getUser(q, seg[1])
	case len(seg) == 2 && seg[0] == "me" && seg[1] == "chats" && m == http.MethodGet:
		return e.listChats(q, "")
	case len(seg) == 3 && seg[0] == "users" && seg[2] == "chats" && m == http.MethodGet:
		return e.listChats(q, seg[1])
	}
	for _, known := range []string{"chats", "users", "me", "$batch"} {
		if len(seg) > 0 && seg[0] == known {
			return e.graphError(q, http.StatusMethodNotAllowed, "Request_BadRequest", fmt.Sprintf("The HTTP method %s is not allowed on %s.", m, q.path), nil)
		}
	}
	return e.graphError(q, http.StatusNotFound, "NotFound", fmt.Sprintf("Resource not found for the segment '%s'.", seg[0]), nil)
}

// authenticate reads the bearer token; a non-nil response refuses the request.
func (e *Emulator) authenticate(q *request) *response {
	h := q.r.Header.Get("Authorization")
	if h == "" {
		if e.opts.Anonymous {
			return nil
		}
		return e.graphError(q, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.", nil)
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return e.graphError(q, http.StatusUnauthorized, "InvalidAuthenticationToken", "The Authorization header must be 'Bearer {token}'.", nil)
	}
	c, err := parseToken(strings.TrimSpace(tok))
	if err != nil {
		return e.graphError(q, http.StatusUnauthorized, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.", nil)
	}
	if c.TenantID != "" && !strings.EqualFold(c.TenantID, e.tenant) {
		return e.graphError(q, http.StatusUnauthorized, "InvalidAuthenticationToken", "The token was issued for another tenant.", nil)
	}
	q.claims = c
	return nil
}

// authorize checks that the token holds a permission that allows op.
func (e *Emulator) authorize(q *request, op policy.Operation) *response {
	if q.claims == nil {
		return nil
	}
	auth := policy.AuthDelegated
	if q.claims.app() {
		auth = policy.AuthApplication
	}
	info, err := policy.Describe(op, auth)
	if err == nil && info.Unsupported == "" {
		allowed := append(slices.Clone(info.Least), info.Higher...)
		if op == policy.OpGetUser {
			allowed = append(allowed, "User.ReadBasic.All") // reads the basic profile only
		}
		for _, p := range q.claims.permissions() {
			for _, a := range allowed {
				if strings.EqualFold(p, a) && !policy.IsRSC(a) {
					return nil
				}
			}
		}
	}
	return e.graphError(q, http.StatusForbidden, "Forbidden", fmt.Sprintf("Missing role permissions on the request. API requires one of '%s'.", strings.Join(allowedNames(info), ", ")), nil)
}

func allowedNames(info policy.OperationInfo) []string {
	var out []string
	for _, p := range append(slices.Clone(info.Least), info.Higher...) {
		if !policy.IsRSC(p) {
			out = append(out, p)
		}
	}
	return out
}

// graphError answers with a Graph error body.
func (e *Emulator) graphError(q *request, status int, code, message string, h http.Header) *response {
	inner := map[string]string{
		"date":       e.now().UTC().Format("2006-01-02T15:04:05"),
		"request-id": q.requestID,
	}
	if q.clientRequestID != "" {
		inner["client-request-id"] = q.clientRequestID
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": message, "innerError": inner}})
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	return &response{status: status, header: h, body: body}
}

func (e *Emulator) jsonResponse(status int, v any, h http.Header) *response {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err) // the emulator's own types always marshal
	}
	if h == nil {
		h = http.Header{}
	}
	return &response{status: status, header: h, body: body}
}

// readBody reads a JSON request body, gunzipping it when compressed. A
// non-nil response refuses it.
func (e *Emulator) readBody(q *request) ([]byte, *response) {
	ct := q.r.Header.Get("Content-Type")
	if ct == "" {
		return nil, e.graphError(q, http.StatusBadRequest, "BadRequest", "Write requests (excluding DELETE) must contain the Content-Type header declaration.", nil)
	}
	if !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return nil, e.graphError(q, http.StatusUnsupportedMediaType, "UnsupportedMediaType", fmt.Sprintf("Content-Type %q is not supported: want application/json.", ct), nil)
	}
	var rd io.Reader = io.LimitReader(q.r.Body, 4<<20)
	switch enc := strings.ToLower(q.r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(bufio.NewReader(rd))
		if err != nil {
			return nil, e.graphError(q, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload: the gzip stream is invalid.", nil)
		}
		defer zr.Close()
		rd = io.LimitReader(zr, 4<<20)
	default:
		return nil, e.graphError(q, http.StatusUnsupportedMediaType, "UnsupportedMediaType", fmt.Sprintf("Content-Encoding %q is not supported.", enc), nil)
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		return nil, e.graphError(q, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload.", nil)
	}
	return body, nil
}
