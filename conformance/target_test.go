package conformance

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// graphHost is where user bind URLs point, for both targets.
const graphHost = "https://graph.microsoft.com/v1.0"

// skipLive is the one line a run without credentials prints.
const skipLive = "live: set GRAPHCHAT_LIVE_TOKEN, GRAPHCHAT_LIVE_TENANT and GRAPHCHAT_LIVE_USERS to run the suite against Microsoft Graph (see conformance/doc.go)"

var errNoCredentials = errors.New(skipLive)

// users are the test users, by object id.
type users struct {
	caller, member1, member2 string
	guest                    string // in-tenant guest; "" when not given
	external, externalTenant string // a user of another tenant; "" when not given
}

// config is a target's settings, read from the environment for live runs.
type config struct {
	base, token, tenant, clientID, teamsApp string
	users                                   users
}

// liveConfig reads the live settings; errNoCredentials when there are none.
func liveConfig(getenv func(string) string) (*config, error) {
	c := &config{base: getenv("GRAPHCHAT_LIVE_BASE"), token: strings.TrimSpace(getenv("GRAPHCHAT_LIVE_TOKEN")),
		tenant: strings.ToLower(getenv("GRAPHCHAT_LIVE_TENANT")), clientID: getenv("GRAPHCHAT_LIVE_CLIENT_ID"),
		teamsApp: getenv("GRAPHCHAT_LIVE_TEAMS_APP")}
	if c.token == "" {
		return nil, errNoCredentials
	}
	if c.base == "" {
		c.base = graphHost
	}
	if u, err := url.Parse(c.base); err != nil || u.Scheme != "https" {
		return nil, fmt.Errorf("GRAPHCHAT_LIVE_BASE %q: want an https URL such as %s", c.base, graphHost)
	}
	claims, err := readClaims(c.token)
	if err != nil {
		return nil, fmt.Errorf("GRAPHCHAT_LIVE_TOKEN: %v", err)
	}
	switch {
	case !isGUID(c.tenant):
		return nil, fmt.Errorf("GRAPHCHAT_LIVE_TENANT %q: want the tenant id, a GUID", c.tenant)
	case !strings.EqualFold(claims.TenantID, c.tenant):
		return nil, fmt.Errorf("GRAPHCHAT_LIVE_TOKEN was issued for tenant %s, not GRAPHCHAT_LIVE_TENANT %s", claims.TenantID, c.tenant)
	case claims.Scopes == "" || !isGUID(claims.ObjectID):
		return nil, errors.New("GRAPHCHAT_LIVE_TOKEN: want a delegated token (scp and oid claims): the suite signs in as the test caller")
	case claims.Expires != 0 && time.Now().After(time.Unix(claims.Expires, 0)):
		return nil, fmt.Errorf("GRAPHCHAT_LIVE_TOKEN expired at %s: get a new one", time.Unix(claims.Expires, 0).UTC().Format(time.RFC3339))
	case c.clientID != "" && !strings.EqualFold(c.clientID, claims.AppID):
		return nil, fmt.Errorf("GRAPHCHAT_LIVE_TOKEN was issued to app %s, not GRAPHCHAT_LIVE_CLIENT_ID %s", claims.AppID, c.clientID)
	}
	c.users.caller = strings.ToLower(claims.ObjectID)
	var members []string
	for _, f := range strings.Split(getenv("GRAPHCHAT_LIVE_USERS"), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, v, _ := strings.Cut(f, "=")
		v = strings.ToLower(strings.TrimSpace(v))
		switch k {
		case "member", "guest":
			if !isGUID(v) {
				return nil, fmt.Errorf("GRAPHCHAT_LIVE_USERS %s=%q: want an object id (GUID)", k, v)
			}
			if k == "guest" {
				c.users.guest = v
			} else {
				members = append(members, v)
			}
		case "external":
			id, tenant, _ := strings.Cut(v, "@")
			if !isGUID(id) || !isGUID(tenant) {
				return nil, fmt.Errorf("GRAPHCHAT_LIVE_USERS external=%q: want OBJECTID@TENANTID", v)
			}
			c.users.external, c.users.externalTenant = id, tenant
		default:
			return nil, fmt.Errorf("GRAPHCHAT_LIVE_USERS entry %q: want member=ID, guest=ID or external=ID@TENANT", f)
		}
	}
	if len(members) != 2 {
		return nil, fmt.Errorf("GRAPHCHAT_LIVE_USERS names %d members: want two, member=ID,member=ID", len(members))
	}
	c.users.member1, c.users.member2 = members[0], members[1]
	return c, nil
}

// claims are the token claims the suite reads (not verified: the service
// verifies them).
type claims struct {
	Scopes   string `json:"scp"`
	TenantID string `json:"tid"`
	ObjectID string `json:"oid"`
	AppID    string `json:"appid"`
	Expires  int64  `json:"exp"`
}

func readClaims(tok string) (*claims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, errors.New("not a JWT")
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errors.New("not a JWT")
	}
	return &c, nil
}

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidPattern.MatchString(s) }

// target is where the suite sends its requests.
type target struct {
	cfg    *config
	client *http.Client
	live   bool
	// emu is the emulator, for emulator targets; opts made it.
	emu  *graphchattest.Emulator
	opts graphchattest.Options
	run  string // this run's id, in topics

	mu    sync.Mutex
	group *fixture // the shared group chat, created on first use
}

// fixture is a group chat of the caller and the two members.
type fixture struct {
	id, topic string
}

// emulatorConfig is the emulator's built-in tenant and users.
func emulatorConfig() *config {
	return &config{base: graphHost, tenant: graphchattest.DefaultTenantID, token: callerToken(),
		users: users{caller: graphchattest.MeganID, member1: graphchattest.LeeID, member2: graphchattest.NestorID,
			guest: graphchattest.AdaID, external: graphchattest.GradyID, externalTenant: graphchattest.PartnerTenantID}}
}

// callerScopes are the scopes of the emulator caller's token, those a live
// token needs.
var callerScopes = []string{"Chat.Create", "Chat.ReadWrite", "ChatMember.ReadWrite", "User.ReadBasic.All", "TeamsAppInstallation.ReadForChat"}

func callerToken() string {
	return graphchattest.DelegatedToken(graphchattest.MeganID, callerScopes...)
}

// newEmulatorTarget serves an in-process emulator with opts; the requests
// go through a real HTTP connection to a loopback server.
func newEmulatorTarget(t *testing.T, opts graphchattest.Options) *target {
	t.Helper()
	emu := graphchattest.New(&opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	cfg := emulatorConfig()
	cfg.base = srv.URL + "/v1.0"
	return &target{cfg: cfg, client: srv.Client(), emu: emu, opts: opts, run: runID()}
}

// newLiveTarget sends to cfg.base through transport (nil: the default).
func newLiveTarget(cfg *config, transport http.RoundTripper) *target {
	return &target{cfg: cfg, client: &http.Client{Transport: transport, Timeout: 100 * time.Second}, live: true, run: runID()}
}

func runID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// reply is an answer of the target.
type reply struct {
	live   bool // answered by Microsoft Graph: String holds no body
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// code is the Graph error code of an error answer, "" otherwise.
func (r *reply) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// String is what a failure prints: the status and Graph error code, and,
// from the emulator only, the body (a live body may hold personal data).
func (r *reply) String() string {
	if r.live {
		return fmt.Sprintf("%d %s (request-id %s)", r.status, r.code(), r.header.Get("request-id"))
	}
	return fmt.Sprintf("%d %s", r.status, truncate(string(r.raw), 400))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// do sends a request to the target: path is relative to the version
// (such as "/chats"); body is a JSON value, a string or []byte sent as
// is, or nil; hdr are header pairs, an empty value deleting the header.
// Live, a 429 is retried after its Retry-After (at most 3 times, at most a
// minute each), as the suite must not fail on the service's throttling.
func (tg *target) do(t *testing.T, method, path string, body any, hdr ...string) *reply {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	for attempt := 0; ; attempt++ {
		r := tg.send(t, method, path, data, body != nil, hdr)
		if !tg.live || r.status != http.StatusTooManyRequests || attempt == 3 {
			return r
		}
		wait := time.Duration(10) * time.Second
		if s, err := strconv.ParseFloat(r.header.Get("Retry-After"), 64); err == nil && s >= 0 {
			wait = min(time.Duration(s*float64(time.Second)), time.Minute)
		}
		t.Logf("%s %s: 429, retrying after %s", method, path, wait)
		time.Sleep(wait)
	}
}

func (tg *target) send(t *testing.T, method, path string, data []byte, hasBody bool, hdr []string) *reply {
	t.Helper()
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, tg.cfg.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tg.cfg.token)
	req.Header.Set("client-request-id", newGUID())
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := tg.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	r := &reply{live: tg.live, status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: %d with a body that is not a JSON object (%d bytes)", method, path, resp.StatusCode, len(raw))
		}
	}
	return r
}

func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// member is an aadUserConversationMember of a request body.
func member(user, role string) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": []string{role},
		"user@odata.bind": graphHost + "/users('" + user + "')"}
}

// externalMember is a member of another tenant.
func externalMember(user, tenant string) map[string]any {
	m := member(user, "owner")
	m["tenantId"] = tenant
	return m
}

func members(ms ...map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// topic is a group topic of this run.
func (tg *target) topic(what string) string {
	return "graphchat conformance " + tg.run + " " + what
}

// sharedGroup returns the group chat of the caller and the two members that
// read-only and roster cases share (one group a live run, not one a case).
func (tg *target) sharedGroup(t *testing.T) *fixture {
	t.Helper()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.group != nil {
		return tg.group
	}
	u := tg.cfg.users
	topic := tg.topic("shared")
	r := tg.do(t, "POST", "/chats", map[string]any{"chatType": "group", "topic": topic,
		"members": members(member(u.caller, "owner"), member(u.member1, "owner"), member(u.member2, "owner"))})
	if r.status != http.StatusCreated {
		t.Fatalf("creating the shared group: %s", r)
	}
	tg.group = &fixture{id: r.body["id"].(string), topic: topic}
	return tg.group
}

// chatPath is /chats/{id} with the id escaped as a path segment.
func chatPath(id string) string { return "/chats/" + url.PathEscape(id) }

// membership finds a user's membership id in a chat; "" when not a member.
func (tg *target) membership(t *testing.T, chatID, userID string) string {
	t.Helper()
	r := tg.do(t, "GET", chatPath(chatID)+"/members", nil)
	if r.status != http.StatusOK {
		t.Fatalf("list members: %s", r)
	}
	for _, v := range list(t, r) {
		if strings.EqualFold(str(v["userId"]), userID) {
			return str(v["id"])
		}
	}
	return ""
}

// ensureMember makes a user a member of a chat again when the test ends,
// as it was (the live cleanup of rosters).
func (tg *target) ensureMember(t *testing.T, chatID, userID string) {
	t.Cleanup(func() {
		if tg.membership(t, chatID, userID) == "" {
			if r := tg.do(t, "POST", chatPath(chatID)+"/members", member(userID, "owner")); r.status != http.StatusCreated {
				t.Errorf("cleanup: adding %s back: %s", userID, r)
			}
		}
	})
}

// list returns the value array of a collection answer.
func list(t *testing.T, r *reply) []map[string]any {
	t.Helper()
	vs, ok := r.body["value"].([]any)
	if !ok {
		t.Fatalf("no value array: %s", r)
	}
	out := make([]map[string]any, len(vs))
	for i, v := range vs {
		if out[i], ok = v.(map[string]any); !ok {
			t.Fatalf("value[%d] is not an object: %s", i, r)
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
