package graphchattest_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

type client struct {
	t     *testing.T
	srv   *graphchattest.Server
	token string
}

func start(t *testing.T, opts *graphchattest.Options) *client {
	t.Helper()
	srv, err := graphchattest.NewServer("", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &client{t: t, srv: srv, token: graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMember.ReadWrite", "Chat.ReadBasic", "User.Read.All")}
}

type result struct {
	status int
	header http.Header
	body   map[string]any
}

func (c *client) do(method, path string, body any, hdr ...string) result {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, strings.TrimSuffix(c.srv.URL, "/v1.0")+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &r.body); err != nil {
			c.t.Fatalf("%s %s: body is not JSON: %q", method, path, data)
		}
	}
	return r
}

func member(user, role string, tenant ...string) map[string]any {
	m := map[string]any{"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": []string{role},
		"user@odata.bind": "https://graph.microsoft.com/v1.0/users('" + user + "')"}
	if len(tenant) > 0 {
		m["tenantId"] = tenant[0]
	}
	return m
}

func errorCode(t *testing.T, r result) string {
	t.Helper()
	e, _ := r.body["error"].(map[string]any)
	if e == nil {
		t.Fatalf("status %d without a Graph error body: %v", r.status, r.body)
	}
	inner, _ := e["innerError"].(map[string]any)
	if inner == nil || inner["request-id"] == "" || inner["date"] == "" || e["message"] == "" {
		t.Errorf("incomplete error body: %v", e)
	}
	code, _ := e["code"].(string)
	return code
}

// Every body of testdata/create-chat gets the status Graph would give it.
func TestTestdataBodies(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	dir := filepath.Join("..", "..", "testdata", "create-chat")
	data, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			File        string
			Context     struct{ Auth, Caller string }
			Violations  []string
			SyntaxError bool
		}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	// Rules the emulator cannot see: it judges users by its directory, not
	// by what a caller declared about them.
	accepted := map[string]bool{"bad-external-no-tenant.json": true, "bad-external-own-tenant.json": true}
	ids := map[string]string{"jacob@contoso.com": graphchattest.JacobID}
	for _, tc := range f.Cases {
		t.Run(tc.File, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, tc.File))
			if err != nil {
				t.Fatal(err)
			}
			if tc.Context.Auth == "application" {
				c.token = graphchattest.AppToken("Chat.Create")
			} else {
				caller := tc.Context.Caller
				if caller == "" { // a case that leaves the caller unknown: sign in as its first member
					caller = graphchattest.JacobID
				}
				if id, ok := ids[caller]; ok {
					caller = id
				}
				c.token = graphchattest.DelegatedToken(caller, "Chat.Create")
			}
			r := c.do("POST", "/v1.0/chats", body)
			want := http.StatusCreated
			switch {
			case strings.Contains(string(body), "installedApps") && len(tc.Violations) == 0:
				want = http.StatusAccepted
			case (len(tc.Violations) > 0 || tc.SyntaxError) && !accepted[tc.File]:
				want = http.StatusBadRequest
			}
			if r.status != want {
				t.Fatalf("status %d, want %d: %v", r.status, want, r.body)
			}
			if want == http.StatusBadRequest {
				if code := errorCode(t, r); code != "BadRequest" {
					t.Errorf("code %q", code)
				}
			}
		})
	}
}

func TestCreateChat(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	one := map[string]any{"chatType": "oneOnOne", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner")}}
	first := c.do("POST", "/v1.0/chats", one, "client-request-id", "0f0e0d0c-0000-4000-8000-000000000001")
	if first.status != 201 {
		t.Fatalf("status %d: %v", first.status, first.body)
	}
	for _, k := range []string{"@odata.context", "id", "createdDateTime", "lastUpdatedDateTime", "chatType", "tenantId", "webUrl"} {
		if first.body[k] == nil {
			t.Errorf("response lacks %s: %v", k, first.body)
		}
	}
	if first.body["topic"] != nil || first.body["createdDateTime"] != first.body["lastUpdatedDateTime"] {
		t.Errorf("topic/dates: %v", first.body)
	}
	wantID := "19:82fe7758-5bb3-4f0d-a43f-e555fd399c6f_8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca@unq.gbl.spaces"
	if first.body["id"] != wantID {
		t.Errorf("id %v, want %s", first.body["id"], wantID)
	}
	if first.header.Get("client-request-id") != "0f0e0d0c-0000-4000-8000-000000000001" || first.header.Get("request-id") == "" {
		t.Errorf("headers %v", first.header)
	}
	// The same pair, in the other order and by UPN: the existing chat.
	time.Sleep(5 * time.Millisecond)
	again := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "oneOnOne", "members": []any{member("lee@contoso.com", "owner"), member("MEGAN@contoso.com", "owner")}})
	if again.status != 201 || again.body["id"] != wantID || again.body["createdDateTime"] != first.body["createdDateTime"] {
		t.Errorf("repeat: %d %v", again.status, again.body)
	}
	group := map[string]any{"chatType": "group", "topic": "Launch", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.AdaID, "guest")}}
	g1, g2 := c.do("POST", "/v1.0/chats", group), c.do("POST", "/beta/chats", group)
	if g1.status != 201 || g2.status != 201 || g1.body["id"] == g2.body["id"] || !strings.HasSuffix(g1.body["id"].(string), "@thread.v2") || g1.body["topic"] != "Launch" {
		t.Errorf("groups: %v / %v", g1.body, g2.body)
	}
	if !strings.Contains(g2.body["@odata.context"].(string), "/beta/") {
		t.Errorf("beta context: %v", g2.body["@odata.context"])
	}
	if n := len(c.srv.Chats()); n != 3 {
		t.Errorf("%d chats, want 3", n)
	}
	// External user: owner with its home tenant.
	ext := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "oneOnOne", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.GradyID, "owner", graphchattest.PartnerTenantID)}})
	if ext.status != 201 {
		t.Errorf("external: %d %v", ext.status, ext.body)
	}

	// gzip bodies are read.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	json.NewEncoder(zw).Encode(group)
	zw.Close()
	if r := c.do("POST", "/v1.0/chats", buf.Bytes(), "Content-Encoding", "gzip"); r.status != 201 {
		t.Errorf("gzip: %d %v", r.status, r.body)
	}
}

func TestCreateChatRefusals(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	ok := []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")}
	tests := []struct {
		name   string
		body   any
		hdr    []string
		status int
		code   string
		msg    string
	}{
		{"no content type", map[string]any{"chatType": "group", "members": ok}, []string{"Content-Type", ""}, 400, "BadRequest", "Content-Type"},
		{"malformed", `{"chatType":`, nil, 400, "BadRequest", "JSON"},
		{"null members", map[string]any{"chatType": "group"}, nil, 400, "BadRequest", "cannot be null"},
		{"member role", map[string]any{"chatType": "group", "members": []any{ok[0], ok[1], member(graphchattest.NestorID, "member")}}, nil, 400, "BadRequest", "'member' is not supported"},
		{"guest owner", map[string]any{"chatType": "group", "members": []any{ok[0], ok[1], member(graphchattest.AdaID, "owner")}}, nil, 400, "BadRequest", "guest"},
		{"external guest", map[string]any{"chatType": "group", "members": []any{ok[0], ok[1], member(graphchattest.GradyID, "guest", graphchattest.PartnerTenantID)}}, nil, 400, "BadRequest", "owner"},
		{"caller missing", map[string]any{"chatType": "group", "members": ok[1:]}, nil, 400, "BadRequest", "initiating"},
		{"unknown user", map[string]any{"chatType": "group", "members": []any{ok[0], ok[1], member("nobody@contoso.com", "owner")}}, nil, 400, "BadRequest", "not found"},
		{"no odata type", map[string]any{"chatType": "group", "members": []any{ok[0], ok[1], map[string]any{"roles": []string{"owner"}, "user@odata.bind": "https://graph.microsoft.com/v1.0/users('" + graphchattest.NestorID + "')"}}}, nil, 400, "BadRequest", "odata.type"},
		{"python bind key", map[string]any{"chatType": "group", "members": []any{ok[0], ok[1], map[string]any{"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": []string{"owner"}, "user@odata_bind": "https://graph.microsoft.com/v1.0/users('" + graphchattest.NestorID + "')"}}}, nil, 400, "BadRequest", "user@odata_bind"},
		{"no bind", map[string]any{"chatType": "group", "members": []any{ok[0], ok[1], map[string]any{"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": []string{"owner"}}}}, nil, 400, "BadRequest", "user@odata.bind"},
		{"other host", map[string]any{"chatType": "group", "members": []any{ok[0], ok[1], map[string]any{"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": []string{"owner"}, "user@odata.bind": "https://evil.example/v1.0/users('" + graphchattest.NestorID + "')"}}}, nil, 400, "BadRequest", "bind"},
		{"two apps", map[string]any{"chatType": "group", "members": ok, "installedApps": []any{map[string]any{}, map[string]any{}}}, nil, 400, "BadRequest", "one app"},
		{"wrong version", map[string]any{"chatType": "group", "members": ok}, nil, 400, "BadRequest", "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/v1.0/chats"
			if tt.name == "wrong version" {
				path = "/v2.0/chats"
			}
			r := c.do("POST", path, tt.body, tt.hdr...)
			if r.status != tt.status || errorCode(t, r) != tt.code {
				t.Fatalf("got %d %v", r.status, r.body)
			}
			if msg := r.body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q lacks %q", msg, tt.msg)
			}
		})
	}
	if n := len(c.srv.Chats()); n != 0 {
		t.Errorf("refused requests created %d chats", n)
	}
}

func TestInstalledApps(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	r := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")},
		"installedApps": []any{map[string]any{"teamsApp@odata.bind": "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/05F59CEC-A742-4A50-A62E-202A57E478A4"}}})
	if r.status != 202 || r.body != nil || !strings.HasPrefix(r.header.Get("Location"), "/chats('19:") || !strings.Contains(r.header.Get("Location"), "/operations('") {
		t.Fatalf("got %d %v %v", r.status, r.header, r.body)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	body := map[string]any{"chatType": "oneOnOne", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner")}}
	c.token = ""
	if r := c.do("POST", "/v1.0/chats", body); r.status != 401 || errorCode(t, r) != "InvalidAuthenticationToken" {
		t.Errorf("no token: %d %v", r.status, r.body)
	}
	c.token = "not-a-jwt"
	if r := c.do("POST", "/v1.0/chats", body); r.status != 401 {
		t.Errorf("bad token: %d", r.status)
	}
	c.token = graphchattest.DelegatedToken(graphchattest.MeganID, "User.Read", "Chat.ReadBasic")
	if r := c.do("POST", "/v1.0/chats", body); r.status != 403 || errorCode(t, r) != "Forbidden" {
		t.Errorf("wrong scope: %d %v", r.status, r.body)
	}
	c.token = graphchattest.AppToken("Chat.ReadWrite.All") // does not allow POST /chats
	if r := c.do("POST", "/v1.0/chats", body); r.status != 403 {
		t.Errorf("app without Chat.Create: %d %v", r.status, r.body)
	}
	c.token = graphchattest.AppToken("Chat.Create") // app-only: no caller rule
	if r := c.do("POST", "/v1.0/chats", body); r.status != 201 {
		t.Errorf("app: %d %v", r.status, r.body)
	}
	anon := start(t, &graphchattest.Options{Anonymous: true})
	anon.token = ""
	if r := anon.do("POST", "/v1.0/chats", body); r.status != 201 {
		t.Errorf("anonymous: %d %v", r.status, r.body)
	}
}

func TestMembersAndUsers(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	g := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "topic": "Plan", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")}})
	id := g.body["id"].(string)
	add := member(graphchattest.AlexID, "owner")
	add["visibleHistoryStartDateTime"] = "0001-01-01T00:00:00Z"
	r := c.do("POST", "/v1.0/chats/"+id+"/members", add)
	if r.status != 201 || !strings.Contains(r.header.Get("Location"), "/members('") {
		t.Fatalf("add: %d %v %v", r.status, r.header, r.body)
	}
	if r := c.do("POST", "/v1.0/chats/"+id+"/members", add); r.status != 409 {
		t.Errorf("add twice: %d", r.status)
	}
	list := c.do("GET", "/v1.0/chats/"+id+"/members", nil)
	values := list.body["value"].([]any)
	if list.status != 200 || len(values) != 4 {
		t.Fatalf("list: %d %v", list.status, list.body)
	}
	alex := values[3].(map[string]any)
	if alex["userId"] != graphchattest.AlexID || alex["visibleHistoryStartDateTime"] != "0001-01-01T00:00:00.000Z" || alex["@odata.type"] != "#microsoft.graph.aadUserConversationMember" {
		t.Errorf("member: %v", alex)
	}
	if r := c.do("DELETE", "/v1.0/chats/"+id+"/members/"+alex["id"].(string), nil); r.status != 204 {
		t.Errorf("remove: %d %v", r.status, r.body)
	}
	if r := c.do("DELETE", "/v1.0/chats/"+id+"/members/"+alex["id"].(string), nil); r.status != 404 {
		t.Errorf("remove twice: %d", r.status)
	}
	if r := c.do("GET", "/v1.0/chats/"+id, nil); r.status != 200 || r.body["topic"] != "Plan" {
		t.Errorf("get: %d %v", r.status, r.body)
	}
	if r := c.do("GET", "/v1.0/chats/19:nope@thread.v2", nil); r.status != 404 || errorCode(t, r) != "NotFound" {
		t.Errorf("get missing: %d", r.status)
	}
	one := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "oneOnOne", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner")}})
	if r := c.do("POST", "/v1.0/chats/"+one.body["id"].(string)+"/members", add); r.status != 400 {
		t.Errorf("add to oneOnOne: %d", r.status)
	}
	two := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner")}})
	// Documented: members can be added to a group later, whatever its size.
	if r := c.do("POST", "/v1.0/chats/"+two.body["id"].(string)+"/members", add); r.status != 201 {
		t.Errorf("add to group of two: %d %v", r.status, r.body)
	}
	// Reported, opt-in: a group created with two members refuses additions.
	rep := start(t, &graphchattest.Options{ReportedAddMemberBlocked: true})
	two = rep.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner")}})
	if r := rep.do("POST", "/v1.0/chats/"+two.body["id"].(string)+"/members", add); r.status != 400 || errorCode(t, r) != "RosterAddMemberBlocked" {
		t.Errorf("reported, add to group of two: %d %v", r.status, r.body)
	}

	u := c.do("GET", "/v1.0/users/ada_fabrikam.com%23EXT%23@contoso.onmicrosoft.com?$select=id,userType,userPrincipalName", nil)
	if u.status != 200 || u.body["userType"] != "Guest" || u.body["id"] != graphchattest.AdaID || u.body["displayName"] != nil {
		t.Errorf("user: %d %v", u.status, u.body)
	}
	c.token = graphchattest.DelegatedToken(graphchattest.MeganID, "User.ReadBasic.All")
	if u := c.do("GET", "/v1.0/users/"+graphchattest.AdaID+"?$select=id,userType", nil); u.status != 200 || u.body["userType"] != nil {
		t.Errorf("basic profile shows userType: %v", u.body)
	}
	if u := c.do("GET", "/v1.0/users/nobody@contoso.com", nil); u.status != 404 {
		t.Errorf("unknown user: %d", u.status)
	}
}

func TestListChats(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	ms := []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")}
	for _, topic := range []string{"A", "B", "A", "it's"} {
		c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "topic": topic, "members": ms})
	}
	c.do("POST", "/v1.0/chats", map[string]any{"chatType": "oneOnOne", "members": ms[:2]})
	count := func(path string) int {
		r := c.do("GET", path, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %v", path, r.status, r.body)
		}
		return len(r.body["value"].([]any))
	}
	if n := count("/v1.0/me/chats"); n != 5 {
		t.Errorf("all: %d", n)
	}
	if n := count("/v1.0/me/chats?$filter=chatType%20eq%20'group'%20and%20topic%20eq%20'A'&$expand=members"); n != 2 {
		t.Errorf("filtered: %d", n)
	}
	if n := count("/v1.0/me/chats?$filter=topic%20eq%20'it''s'"); n != 1 {
		t.Errorf("quoted: %d", n)
	}
	r := c.do("GET", "/v1.0/me/chats?$top=2", nil)
	if len(r.body["value"].([]any)) != 2 || r.body["@odata.nextLink"] == nil {
		t.Errorf("paging: %v", r.body)
	}
	c.token = graphchattest.AppToken("Chat.ReadBasic.All")
	if n := count("/v1.0/users/" + graphchattest.NestorID + "/chats?$filter=chatType%20eq%20'oneOnOne'"); n != 0 {
		t.Errorf("nestor oneOnOne: %d", n)
	}
	if r := c.do("GET", "/v1.0/me/chats", nil); r.status != 400 {
		t.Errorf("/me app-only: %d", r.status)
	}
}

func TestBatch(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	one := func(id, user string, dep ...string) map[string]any {
		return map[string]any{"id": id, "method": "POST", "url": "/chats", "headers": map[string]string{"Content-Type": "application/json"},
			"body": map[string]any{"chatType": "oneOnOne", "members": []any{member(graphchattest.MeganID, "owner"), member(user, "owner")}}, "dependsOn": dep}
	}
	r := c.do("POST", "/v1.0/$batch", map[string]any{"requests": []any{one("1", graphchattest.LeeID), one("2", "nobody@contoso.com"), one("3", graphchattest.NestorID, "2"), one("4", graphchattest.AlexID, "1")}})
	if r.status != 200 {
		t.Fatalf("batch: %d %v", r.status, r.body)
	}
	got := map[string]float64{}
	for _, x := range r.body["responses"].([]any) {
		m := x.(map[string]any)
		got[m["id"].(string)] = m["status"].(float64)
	}
	if fmt.Sprint(got) != "map[1:201 2:400 3:424 4:201]" {
		t.Errorf("statuses %v", got)
	}
	many := []any{}
	for i := range 21 {
		many = append(many, one(fmt.Sprint(i), graphchattest.LeeID))
	}
	if r := c.do("POST", "/v1.0/$batch", map[string]any{"requests": many}); r.status != 400 {
		t.Errorf("21 requests: %d", r.status)
	}
	if r := c.do("POST", "/v1.0/$batch", map[string]any{"requests": []any{one("1", graphchattest.LeeID), one("1", graphchattest.AlexID)}}); r.status != 400 {
		t.Errorf("duplicate ids: %d", r.status)
	}
	noCT := one("1", graphchattest.LeeID)
	delete(noCT, "headers")
	if r := c.do("POST", "/v1.0/$batch", map[string]any{"requests": []any{noCT}}); r.status != 400 {
		t.Errorf("body without content type: %d", r.status)
	}
}

func TestRateLimitAndFaults(t *testing.T) {
	t.Parallel()
	c := start(t, &graphchattest.Options{RateLimit: 2})
	body := map[string]any{"chatType": "oneOnOne", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner")}}
	var limited result
	for range 4 {
		if r := c.do("POST", "/v1.0/chats", body); r.status == 429 {
			limited = r
		}
	}
	if limited.status != 429 || errorCode(t, limited) != "TooManyRequests" || !strings.Contains(limited.header.Get("Retry-After"), ".") {
		t.Fatalf("rate limit: %d %v %v", limited.status, limited.header, limited.body)
	}

	// 504 after processing: the chat exists though the answer is an error.
	f := start(t, &graphchattest.Options{Faults: []graphchattest.FaultRule{{Fault: graphchattest.Fault504After, Probability: 1}}})
	group := map[string]any{"chatType": "group", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")}}
	if r := f.do("POST", "/v1.0/chats", group); r.status != 504 || len(f.srv.Chats()) != 1 {
		t.Errorf("504-after: %d, %d chats", r.status, len(f.srv.Chats()))
	}
	b := start(t, &graphchattest.Options{Faults: []graphchattest.FaultRule{{Fault: graphchattest.Fault503, Probability: 1}}})
	if r := b.do("POST", "/v1.0/chats", group); r.status != 503 || r.header.Get("Retry-After") == "" || len(b.srv.Chats()) != 0 {
		t.Errorf("503: %d, %d chats", r.status, len(b.srv.Chats()))
	}
	d := start(t, &graphchattest.Options{Faults: []graphchattest.FaultRule{{Fault: graphchattest.FaultDropAfter, Probability: 1}}})
	req, _ := http.NewRequest("POST", d.srv.URL+"/chats", strings.NewReader(`{"chatType":"group","members":[]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Errorf("drop-after answered %d", resp.StatusCode)
	} else if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") {
		t.Errorf("drop-after: %v, want the connection closed with no response", err)
	}

	for _, bad := range []string{"503", "x=0.1", "503=2", "503=0.7,504=0.7"} {
		if _, err := graphchattest.ParseFaults(bad); err == nil {
			t.Errorf("ParseFaults(%q) accepted", bad)
		}
	}
	rules, err := graphchattest.ParseFaults("503=0.05, 504-after=0.02,drop-after=0.01")
	if err != nil || len(rules) != 3 || rules[1].Fault != graphchattest.Fault504After {
		t.Errorf("ParseFaults: %v %v", rules, err)
	}
	if _, err := graphchattest.NewServer("0.0.0.0:0", nil); err == nil {
		t.Error("non-loopback address accepted")
	}
}
