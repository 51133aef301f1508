package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// recorded is one request the live path would send.
type recorded struct {
	method, url string
	header      http.Header
	body        []byte
	status      int // as the emulator answered it
}

// recorder is an http.RoundTripper that records each request and answers
// it with an emulator, in process: the live path runs whole without a
// network, and what it would send to Microsoft Graph can be checked.
type recorder struct {
	emu  *graphchattest.Emulator
	mu   sync.Mutex
	reqs []recorded
}

func (rc *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	if req.URL.Scheme != "https" || req.URL.Host != "graph.microsoft.com" {
		return nil, fmt.Errorf("recorder: a request to %s://%s, not https://graph.microsoft.com", req.URL.Scheme, req.URL.Host)
	}
	in := req.Clone(req.Context())
	in.Body = io.NopCloser(bytes.NewReader(body))
	w := httptest.NewRecorder()
	rc.emu.ServeHTTP(w, in)
	resp := w.Result()
	resp.Request = req
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recorded{method: req.Method, url: req.URL.String(), header: req.Header.Clone(), body: body, status: resp.StatusCode})
	rc.mu.Unlock()
	return resp, nil
}

// fakeEnv is the environment of a live run against the emulator's tenant.
func fakeEnv(token string) func(string) string {
	env := map[string]string{
		"GRAPHCHAT_LIVE_TOKEN":     token,
		"GRAPHCHAT_LIVE_TENANT":    graphchattest.DefaultTenantID,
		"GRAPHCHAT_LIVE_CLIENT_ID": liveAppID,
		"GRAPHCHAT_LIVE_USERS": "member=" + graphchattest.LeeID + ", member=" + graphchattest.NestorID + ",guest=" + graphchattest.AdaID +
			",external=" + graphchattest.GradyID + "@" + graphchattest.PartnerTenantID,
		"GRAPHCHAT_LIVE_TEAMS_APP": "05f7b1a4-44c0-4e0e-8c7a-0d5b5d7e2c71",
	}
	return func(k string) string { return env[k] }
}

const liveAppID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

func liveToken() string {
	return graphchattest.Token(graphchattest.Claims{Scopes: strings.Join(callerScopes, " "), TenantID: graphchattest.DefaultTenantID,
		ObjectID: graphchattest.MeganID, AppID: liveAppID})
}

// endpoint names a request by method and path, ids replaced by their kind.
func endpoint(method, rawURL string) string {
	path, _, _ := strings.Cut(strings.TrimPrefix(rawURL, "https://graph.microsoft.com"), "?")
	seg := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range seg {
		switch {
		case strings.HasPrefix(s, "19:"), strings.HasPrefix(s, "19%3A"), strings.HasPrefix(s, "19%3a"):
			seg[i] = "{chat}"
		case isGUID(s) || strings.Contains(s, "@"):
			seg[i] = "{user}"
		case i > 0 && seg[i-1] == "members" && s != "add":
			seg[i] = "{membership}"
		case i > 0 && seg[i-1] == "installedApps":
			seg[i] = "{installation}"
		}
	}
	return method + " /" + strings.Join(seg, "/")
}

// The live path, run with a recording transport: every request it would
// send goes to https://graph.microsoft.com/v1.0 with the token and a
// client-request-id, bodies are JSON of the documented shapes, every
// endpoint is reached, no emulator-only case sends anything, at most the
// documented number of groups is created, and rosters end as they began.
func TestLiveRequests(t *testing.T) {
	t.Parallel()
	token := liveToken()
	cfg, err := liveConfig(fakeEnv(token))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{emu: graphchattest.New(nil)}
	tg := newLiveTarget(cfg, rec)
	if tg.cfg.base != graphHost {
		t.Fatalf("live base %s", tg.cfg.base)
	}
	t.Run("suite", func(t *testing.T) { runSuite(t, tg) })

	seen := map[string]bool{}
	var otherTokens []string
	groups := 0
	for _, r := range rec.reqs {
		ep := endpoint(r.method, r.url)
		seen[ep] = true
		if !strings.HasPrefix(r.url, graphHost+"/") {
			t.Errorf("%s %s: not under %s", r.method, r.url, graphHost)
		}
		if !isGUID(r.header.Get("client-request-id")) {
			t.Errorf("%s: client-request-id %q", ep, r.header.Get("client-request-id"))
		}
		if a := r.header.Get("Authorization"); a != "Bearer "+token {
			otherTokens = append(otherTokens, ep+" "+strings.TrimPrefix(a, "Bearer "))
		}
		if len(r.body) > 0 && r.header.Get("Content-Type") != "application/json" && !(ep == "POST /v1.0/chats" && r.status == 400) {
			t.Errorf("%s: a body with Content-Type %q", ep, r.header.Get("Content-Type"))
		}
		if r.status >= 300 {
			continue // refusals send malformed bodies on purpose
		}
		var body map[string]any
		if len(r.body) > 0 {
			if err := json.Unmarshal(bytes.TrimPrefix(r.body, []byte{0xEF, 0xBB, 0xBF}), &body); err != nil && r.header.Get("Content-Encoding") != "gzip" {
				t.Errorf("%s: body is not a JSON object: %v", ep, err)
			}
		}
		switch ep {
		case "POST /v1.0/chats":
			if body != nil {
				checkMembersShape(t, ep, body["members"])
				checkAppsShape(t, ep, body["installedApps"])
				if body["chatType"] == "group" {
					groups++
				}
			}
		case "POST /v1.0/chats/{chat}/members/add":
			checkMembersShape(t, ep, body["values"])
		case "POST /v1.0/chats/{chat}/members":
			checkMembersShape(t, ep, []any{body})
		}
	}
	want := []string{
		"POST /v1.0/chats", "GET /v1.0/chats", "GET /v1.0/me/chats", "GET /v1.0/users/{user}/chats",
		"GET /v1.0/chats/{chat}", "GET /v1.0/me/chats/{chat}", "GET /v1.0/users/{user}/chats/{chat}",
		"GET /v1.0/chats/{chat}/members", "GET /v1.0/me/chats/{chat}/members", "GET /v1.0/users/{user}/chats/{chat}/members",
		"PATCH /v1.0/chats/{chat}", "POST /v1.0/chats/{chat}/members", "POST /v1.0/chats/{chat}/members/add",
		"DELETE /v1.0/chats/{chat}/members/{membership}", "POST /v1.0/$batch", "GET /v1.0/users/{user}",
		"POST /v1.0/chats/{chat}/messages", "GET /v1.0/chats/{chat}/messages", "GET /v1.0/me/chats/{chat}/messages",
		"GET /v1.0/users/{user}/chats/{chat}/messages",
		"GET /v1.0/chats/{chat}/installedApps", "GET /v1.0/chats/{chat}/installedApps/{installation}",
	}
	for _, ep := range want {
		if !seen[ep] {
			t.Errorf("the live path never sends %s", ep)
		}
	}
	// Only the token case sends another token (none, or not a JWT):
	// emulator-only cases, which mint tokens, send nothing live.
	slices.Sort(otherTokens)
	if w := []string{"GET /v1.0/me/chats ", "GET /v1.0/me/chats not-a-token"}; !slices.Equal(otherTokens, w) {
		t.Errorf("requests without the live token: %q, want %q", otherTokens, w)
	}
	if groups > 4 {
		t.Errorf("%d groups created live; doc.go promises at most 4", groups)
	}
	for _, c := range rec.emu.Chats() {
		if c.ChatType == "group" && len(c.Members) != 3 {
			t.Errorf("group %s ends with %d members, not the 3 it was created with", c.ID, len(c.Members))
		}
	}
}

// checkAppsShape checks installedApps as a creation sends them: absent, or
// one app bound to the catalog of graphHost.
func checkAppsShape(t *testing.T, ep string, v any) {
	t.Helper()
	if v == nil {
		return
	}
	apps, ok := v.([]any)
	if !ok || len(apps) != 1 {
		t.Errorf("%s: installedApps %v, want one app", ep, v)
		return
	}
	a, _ := apps[0].(map[string]any)
	if !strings.HasPrefix(str(a["teamsApp@odata.bind"]), graphHost+"/appCatalogs/teamsApps/") {
		t.Errorf("%s: installedApps[0] %v", ep, a)
	}
}

// checkMembersShape checks members as a request sends them.
func checkMembersShape(t *testing.T, ep string, v any) {
	t.Helper()
	ms, ok := v.([]any)
	if !ok || len(ms) == 0 {
		t.Errorf("%s: members %v", ep, v)
		return
	}
	for _, x := range ms {
		m, _ := x.(map[string]any)
		roles, _ := m["roles"].([]any)
		if m["@odata.type"] != "#microsoft.graph.aadUserConversationMember" || len(roles) != 1 ||
			!strings.HasPrefix(str(m["user@odata.bind"]), graphHost+"/users('") {
			t.Errorf("%s: member %v", ep, m)
		}
	}
}

// liveConfig refuses settings it cannot run with, naming the variable.
func TestLiveConfig(t *testing.T) {
	t.Parallel()
	good := fakeEnv(liveToken())
	with := func(k, v string) func(string) string {
		return func(key string) string {
			if key == k {
				return v
			}
			return good(key)
		}
	}
	expired := graphchattest.Token(graphchattest.Claims{Scopes: "Chat.Create", TenantID: graphchattest.DefaultTenantID, ObjectID: graphchattest.MeganID,
		IssuedAt: time.Now().Add(-3 * time.Hour).Unix(), Expires: time.Now().Add(-2 * time.Hour).Unix()})
	tests := []struct {
		name   string
		getenv func(string) string
		want   string // in the error; "" for none
	}{
		{"complete", good, ""},
		{"no token", with("GRAPHCHAT_LIVE_TOKEN", ""), "GRAPHCHAT_LIVE_TOKEN, GRAPHCHAT_LIVE_TENANT and GRAPHCHAT_LIVE_USERS"},
		{"not a JWT", with("GRAPHCHAT_LIVE_TOKEN", "abc"), "GRAPHCHAT_LIVE_TOKEN"},
		{"expired", with("GRAPHCHAT_LIVE_TOKEN", expired), "expired"},
		{"app-only", with("GRAPHCHAT_LIVE_TOKEN", graphchattest.AppToken("Chat.Create")), "delegated"},
		{"tenant not a GUID", with("GRAPHCHAT_LIVE_TENANT", "contoso"), "GRAPHCHAT_LIVE_TENANT"},
		{"another tenant", with("GRAPHCHAT_LIVE_TENANT", graphchattest.PartnerTenantID), "GRAPHCHAT_LIVE_TENANT"},
		{"another app", with("GRAPHCHAT_LIVE_CLIENT_ID", graphchattest.GradyID), "GRAPHCHAT_LIVE_CLIENT_ID"},
		{"one member", with("GRAPHCHAT_LIVE_USERS", "member="+graphchattest.LeeID), "two"},
		{"member by name", with("GRAPHCHAT_LIVE_USERS", "member=lee@contoso.com,member="+graphchattest.NestorID), "object id"},
		{"unknown kind", with("GRAPHCHAT_LIVE_USERS", "owner="+graphchattest.LeeID), "member=ID"},
		{"external without tenant", with("GRAPHCHAT_LIVE_USERS", "member="+graphchattest.LeeID+",member="+graphchattest.NestorID+",external="+graphchattest.GradyID), "OBJECTID@TENANTID"},
		{"plain http", with("GRAPHCHAT_LIVE_BASE", "http://graph.microsoft.com/v1.0"), "GRAPHCHAT_LIVE_BASE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := liveConfig(tt.getenv)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.want == "":
				if cfg.users.caller != graphchattest.MeganID || cfg.users.externalTenant != graphchattest.PartnerTenantID {
					t.Errorf("users %+v", cfg.users)
				}
			case err == nil || !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %v, want one naming %q", err, tt.want)
			}
			if tt.name == "no token" && (!errors.Is(err, errNoCredentials) || strings.Contains(err.Error(), "\n")) {
				t.Errorf("without a token: %v, want the one-line skip", err)
			}
			if err != nil && strings.Contains(err.Error(), liveToken()) {
				t.Error("the error holds the token")
			}
		})
	}
}
