package graphchattest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
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
	// Throttle adds throttling buckets (per app, per user listing, per chat
	// member additions and writes); the zero value, the default, adds none.
	// DocumentedThrottle holds the documented limits.
	Throttle Throttle
	// Faults are injected into requests, each with its probability.
	Faults []FaultRule
	// Seed makes fault injection repeatable.
	Seed uint64
	// ReportedAddMemberBlocked refuses members added to a group chat that
	// was created with two members (400, code RosterAddMemberBlocked). This
	// is reported by users of the service (microsoft-graph-docs-contrib
	// issue 1622), not documented: the chat resource page says members can
	// be added later. Off by default.
	ReportedAddMemberBlocked bool
	// SlowDelay is how long FaultSlowAfter holds a processed response;
	// default 30 s.
	SlowDelay time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// Log, when set, is called once per request after it is answered.
	Log func(Entry)
	// MaxEntries is how many of the most recent requests [Emulator.Entries]
	// keeps; default DefaultMaxEntries, negative keeps none. The counters of
	// [Emulator.Stats] count every request whatever this is.
	MaxEntries int
	// MaxChats is how many chats the emulator holds; default
	// DefaultMaxChats, negative means no limit. When it is reached, a
	// request that would create a chat is answered 507 InsufficientStorage
	// (Graph's status for "the maximum storage quota has been reached"),
	// without Retry-After, as waiting does not help: every chat created is
	// kept, so counts taken from the emulator never silently miss some.
	// One-on-one chats that exist are still returned.
	MaxChats int
	// ForgetOldChats makes the emulator forget its oldest chat, instead of
	// refusing a new one, when MaxChats is reached (counted in
	// Stats.ChatsEvicted): for long-running servers whose memory must stay
	// bounded whatever the traffic. Off by default.
	ForgetOldChats bool
	// MaxBodyBytes is the largest request body read, after decompression;
	// a larger one is answered 413. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Defaults of Options that bound the emulator's memory.
const (
	DefaultMaxEntries   = 10_000
	DefaultMaxChats     = 200_000 // twice benchmark scale; a chat of 3 members holds about 1.2 KB
	DefaultMaxBodyBytes = 4 << 20 // 4 MiB
)

// Stats are exact counts since the emulator was created or [Emulator.Reset].
type Stats struct {
	Requests     int64         // requests answered, each request of a $batch included
	Batched      int64         // of which inside a $batch
	ByStatus     map[int]int64 // by status answered; 0 is a dropped connection
	Panics       int64         // handler failures answered 500 by the last-resort recovery
	ChatsEvicted int64         // chats forgotten because of MaxChats, with ForgetOldChats
	ChatsRefused int64         // chats refused 507 because of MaxChats
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
	byPair  map[string]*chat // one-on-one chats by their pair of users
	log     ring
	stats   Stats
	bucket  float64
	last    time.Time
	rng     *mrand.Rand
	buckets map[string]*bucket  // of Options.Throttle
	hook    func(*http.Request) // tests: called before routing
	msg     messageState        // chat messages: messages.go
}

// New returns an emulator. A nil opts means the zero Options.
func New(opts *Options) *Emulator {
	var o Options
	if opts != nil {
		o = *opts
	}
	e := &Emulator{opts: o, tenant: o.TenantID, now: o.Now, users: o.Users, byID: map[string]*chat{}, byPair: map[string]*chat{}}
	switch {
	case o.MaxEntries == 0:
		e.log.size = DefaultMaxEntries
	case o.MaxEntries > 0:
		e.log.size = o.MaxEntries
	}
	if e.opts.MaxChats == 0 {
		e.opts.MaxChats = DefaultMaxChats
	}
	if e.opts.MaxBodyBytes <= 0 {
		e.opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	e.stats.ByStatus = map[int]int64{}
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

// Entries returns the most recent requests answered (at most
// Options.MaxEntries), oldest first. Use [Emulator.Stats] for exact counts.
func (e *Emulator) Entries() []Entry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.all()
}

// Stats returns exact counts of the requests answered.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.ByStatus = maps.Clone(e.stats.ByStatus)
	return s
}

// Reset forgets every chat, every recorded request and every count.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.chats, e.byID, e.byPair = nil, map[string]*chat{}, map[string]*chat{}
	e.log = ring{size: e.log.size}
	e.stats = Stats{ByStatus: map[int]int64{}}
}

// ring holds the last size entries.
type ring struct {
	size int
	buf  []Entry
	next int // where the next entry goes once buf is full
}

func (r *ring) add(en Entry) {
	switch {
	case r.size <= 0:
	case len(r.buf) < r.size:
		r.buf = append(r.buf, en)
	default:
		r.buf[r.next] = en
		r.next = (r.next + 1) % r.size
	}
}

func (r *ring) all() []Entry {
	out := make([]Entry, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
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
	s.srv = newHTTPServer(s.Emulator)
	go s.srv.Serve(ln) //nolint:errcheck // returns http.ErrServerClosed on Close
	return s, nil
}

// Limits of the servers NewServer starts. There is no write timeout: the
// emulator's latency and the slow-after fault hold responses on purpose.
const (
	ServerReadHeaderTimeout = 10 * time.Second  // to read a request's headers
	ServerReadTimeout       = 60 * time.Second  // to read a whole request, body included
	ServerIdleTimeout       = 120 * time.Second // a kept-alive connection waiting for its next request
	ServerMaxHeaderBytes    = 64 << 10          // request line and headers
)

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: ServerReadHeaderTimeout, ReadTimeout: ServerReadTimeout,
		IdleTimeout: ServerIdleTimeout, MaxHeaderBytes: ServerMaxHeaderBytes}
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
	resp := e.guard(q, func() *response { return e.serve(q, fault) })
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

// guard answers with serve, turning a panic into a generic 500 with a
// Graph error body: a last resort, counted in Stats.Panics, so that a defect
// of the emulator never reaches the connection.
func (e *Emulator) guard(q *request, serve func() *response) (resp *response) {
	defer func() {
		if v := recover(); v != nil {
			e.mu.Lock()
			e.stats.Panics++
			e.mu.Unlock()
			resp = e.graphError(q, http.StatusInternalServerError, genericCode(http.StatusInternalServerError),
				"The emulator failed to answer this request.", nil)
		}
	}()
	return serve()
}

func (e *Emulator) record(q *request, status int, start time.Time, f Fault) {
	ent := Entry{Method: q.r.Method, Path: q.r.URL.Path, Status: status, RequestID: q.requestID,
		ClientRequestID: q.clientRequestID, Duration: time.Since(start), Fault: f, Batch: q.batch}
	e.mu.Lock()
	e.log.add(ent)
	e.stats.Requests++
	if q.batch {
		e.stats.Batched++
	}
	e.stats.ByStatus[status]++
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
	if e.hook != nil {
		e.hook(q.r)
	}
	p := q.r.URL.Path
	switch {
	case strings.HasPrefix(p, "/v1.0/"):
		q.version, q.path = "v1.0", p[len("/v1.0"):]
	case strings.HasPrefix(p, "/beta/"):
		q.version, q.path = "beta", p[len("/beta"):]
	default:
		return e.badRequest(q, fmt.Sprintf("Invalid version in the request URL %q: want /v1.0/ or /beta/.", p))
	}
	if resp := e.authenticate(q); resp != nil {
		return resp
	}
	if resp, ok := e.routeMessage(q, strings.Split(strings.Trim(q.path, "/"), "/")); ok { // messages.go
		return resp
	}
	return e.dispatch(q)
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
	if why := c.invalid(time.Now()); why != "" {
		return e.graphError(q, http.StatusUnauthorized, "InvalidAuthenticationToken", why, nil)
	}
	if !strings.EqualFold(c.TenantID, e.tenant) {
		return e.graphError(q, http.StatusUnauthorized, "InvalidAuthenticationToken", "The token was issued for another tenant.", nil)
	}
	q.claims = c
	return nil
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
		return nil, e.badRequest(q, "Write requests (excluding DELETE) must contain the Content-Type header declaration.")
	}
	if !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return nil, e.graphError(q, http.StatusUnsupportedMediaType, "UnsupportedMediaType", fmt.Sprintf("Content-Type %q is not supported: want application/json.", ct), nil)
	}
	limit := e.opts.MaxBodyBytes
	var rd io.Reader = io.LimitReader(q.r.Body, limit+1)
	switch enc := strings.ToLower(q.r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(bufio.NewReader(rd))
		if err != nil {
			return nil, e.badRequest(q, "Unable to read JSON request payload: the gzip stream is invalid.")
		}
		defer zr.Close()
		rd = io.LimitReader(zr, limit+1)
	default:
		return nil, e.graphError(q, http.StatusUnsupportedMediaType, "UnsupportedMediaType", fmt.Sprintf("Content-Encoding %q is not supported.", enc), nil)
	}
	body, err := io.ReadAll(rd)
	if int64(len(body)) > limit {
		return nil, e.graphError(q, http.StatusRequestEntityTooLarge, genericCode(http.StatusRequestEntityTooLarge),
			fmt.Sprintf("The request body exceeds the limit of %d bytes.", limit), nil)
	}
	if err != nil {
		return nil, e.badRequest(q, "Unable to read JSON request payload.")
	}
	body = bytes.TrimPrefix(body, bom)
	switch dup, err := duplicateKey(body); {
	case err != nil:
		return nil, e.badRequest(q, invalidJSON)
	case dup != "":
		return nil, e.badRequest(q, fmt.Sprintf("Duplicate property named '%s' is not allowed.", dup))
	}
	return body, nil
}

// genericCode is the error code for a status when the documentation names
// none: the status text without spaces, such as "RequestEntityTooLarge".
func genericCode(status int) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(http.StatusText(status))
}
