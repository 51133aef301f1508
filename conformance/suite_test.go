package conformance

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// testCase is one specified behaviour. Cases run in order on one target
// (they share its group chat) and each leaves the group's roster as it
// found it.
type testCase struct {
	name string
	// needs lists what the case needs beyond the caller and two members:
	// "guest", "external", "teamsApp". Without it the case is skipped.
	needs []string
	// emulatorOnly cases need emulator options (faults, forced throttling,
	// lowered limits, minted tokens): they are skipped live.
	emulatorOnly bool
	run          func(t *testing.T, tg *target)
}

// suite lists every case: every endpoint and documented option the
// emulator serves.
var suite = []testCase{
	{name: "create/one-on-one returns the existing chat", run: createOneOnOne},
	{name: "create/group", run: createGroup},
	{name: "create/group with an in-tenant guest", needs: []string{"guest"}, run: createGroupGuest},
	{name: "create/group with an external user", needs: []string{"external"}, run: createGroupExternal},
	{name: "create/installed app: 202, Location, the app listed and found", needs: []string{"teamsApp"}, run: createInstalledApps},
	{name: "create/body encodings", run: createEncodings},
	{name: "create/documented refusals", run: createRefusals},
	{name: "create/refusals that need the guest", needs: []string{"guest"}, run: createGuestRefusals},
	{name: "create/refusals that need the external user", needs: []string{"external"}, run: createExternalRefusals},
	{name: "get chat under each path", run: getChat},
	{name: "list chats under each path with query options", run: listChats},
	{name: "list chats/unsupported query options", emulatorOnly: true, run: listChatsRefused},
	{name: "list members under each path", run: listMembers},
	{name: "members/add one and remove", run: addRemoveMember},
	{name: "members/add one, refusals", emulatorOnly: true, run: addMemberRefusals},
	{name: "members/add action", run: addMembersAction},
	{name: "members/add action, limits", emulatorOnly: true, run: addMembersLimits},
	{name: "messages/send and list under each path", run: messages},
	{name: "messages/one a second per user in a chat, size, application sends", emulatorOnly: true, run: messageLimits},
	{name: "update topic", run: updateTopic},
	{name: "batch", run: batch},
	{name: "batch/inner 429", emulatorOnly: true, run: batchThrottled},
	{name: "users", run: getUsers},
	{name: "methods not allowed", run: methodsNotAllowed},
	{name: "tokens", run: tokens},
	{name: "tokens/expired, other tenant, missing permission", emulatorOnly: true, run: tokensMinted},
	{name: "throttling", emulatorOnly: true, run: throttling},
	{name: "faults", emulatorOnly: true, run: faults},
	{name: "limits", emulatorOnly: true, run: limits},
	{name: "options", emulatorOnly: true, run: options},
}

// runSuite runs every case on a target.
func runSuite(t *testing.T, tg *target) {
	for _, c := range suite {
		t.Run(c.name, func(t *testing.T) {
			if c.emulatorOnly && tg.live {
				t.Skip("emulator-only: needs emulator options")
			}
			for _, n := range c.needs {
				if missing := tg.missing(n); missing != "" {
					t.Skip(missing)
				}
			}
			c.run(t, tg)
		})
	}
}

// missing says what to set for a need the target lacks, or "".
func (tg *target) missing(need string) string {
	u := tg.cfg.users
	switch {
	case need == "guest" && u.guest == "":
		return "needs a guest: add guest=ID to GRAPHCHAT_LIVE_USERS"
	case need == "external" && u.external == "":
		return "needs an external user: add external=ID@TENANT to GRAPHCHAT_LIVE_USERS"
	case need == "teamsApp" && tg.live && tg.cfg.teamsApp == "":
		return "needs a teamsApp id: set GRAPHCHAT_LIVE_TEAMS_APP"
	}
	return ""
}

// want fails the test unless the reply has the status and, when code is
// not "", the Graph error code.
func want(t *testing.T, what string, r *reply, status int, code string) {
	t.Helper()
	if r.status != status || code != "" && r.code() != code {
		t.Errorf("%s: got %d %q, want %d %q: %s", what, r.status, r.code(), status, code, r)
	}
	if r.status >= 400 && code != "" {
		checkErrorBody(t, what, r)
	}
}

// checkErrorBody checks the shape Graph gives every error:
// {"error":{"code","message","innerError":{"date","request-id"}}}.
func checkErrorBody(t *testing.T, what string, r *reply) {
	t.Helper()
	e, _ := r.body["error"].(map[string]any)
	inner, _ := e["innerError"].(map[string]any)
	if inner == nil {
		inner, _ = e["innererror"].(map[string]any) // both spellings occur
	}
	if e == nil || str(e["code"]) == "" || inner == nil || str(inner["request-id"]) == "" || str(inner["date"]) == "" {
		t.Errorf("%s: not a Graph error body: %s", what, r)
	}
}

var (
	groupID    = regexp.MustCompile(`^19:[0-9a-zA-Z_-]+@thread\.v2$`)
	oneOnOneID = regexp.MustCompile(`^19:[0-9a-f-]+_[0-9a-f-]+@unq\.gbl\.spaces$`)
)

// checkChat checks the properties of a chat resource.
func checkChat(t *testing.T, tg *target, c map[string]any, chatType string) {
	t.Helper()
	id := str(c["id"])
	switch {
	case chatType == "group" && !groupID.MatchString(id), chatType == "oneOnOne" && !oneOnOneID.MatchString(id):
		t.Errorf("%s chat id %q", chatType, id)
	case c["chatType"] != chatType:
		t.Errorf("chatType %v, want %s", c["chatType"], chatType)
	case !strings.EqualFold(str(c["tenantId"]), tg.cfg.tenant):
		t.Errorf("tenantId %v, want %s", c["tenantId"], tg.cfg.tenant)
	case !strings.HasPrefix(str(c["webUrl"]), "https://teams.microsoft.com/l/chat/"):
		t.Errorf("webUrl %v", c["webUrl"])
	}
	for _, k := range []string{"createdDateTime", "lastUpdatedDateTime"} {
		if _, err := time.Parse(time.RFC3339Nano, str(c[k])); err != nil {
			t.Errorf("%s %v: %v", k, c[k], err)
		}
	}
}

// checkMember checks the properties of an aadUserConversationMember.
func checkMember(t *testing.T, m map[string]any) {
	t.Helper()
	roles, ok := m["roles"].([]any)
	if m["@odata.type"] != "#microsoft.graph.aadUserConversationMember" || str(m["id"]) == "" || !isGUID(str(m["userId"])) || !ok || !isGUID(str(m["tenantId"])) {
		t.Errorf("member %v", m)
	}
	for _, r := range roles {
		if r != "owner" && r != "guest" {
			t.Errorf("member %v: role %v", m["userId"], r)
		}
	}
}

func oneOnOne(tg *target) map[string]any {
	u := tg.cfg.users
	return map[string]any{"chatType": "oneOnOne", "members": members(member(u.caller, "owner"), member(u.member1, "owner"))}
}

func createOneOnOne(t *testing.T, tg *target) {
	first := tg.do(t, "POST", "/chats", oneOnOne(tg))
	if first.status != http.StatusCreated && first.status != http.StatusOK {
		t.Fatalf("create: %s", first)
	}
	checkChat(t, tg, first.body, "oneOnOne")
	if first.body["topic"] != nil {
		t.Errorf("topic %v, want null", first.body["topic"])
	}
	// "If a one-on-one chat already exists, this operation returns the
	// existing chat" (chat-post); the page does not say with which 2xx.
	again := tg.do(t, "POST", "/chats", oneOnOne(tg))
	if again.status != http.StatusCreated && again.status != http.StatusOK || again.body["id"] != first.body["id"] {
		t.Errorf("again: %s, want the chat %v", again, first.body["id"])
	}
}

func createGroup(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	r := tg.do(t, "GET", chatPath(g.id), nil)
	want(t, "get the created group", r, http.StatusOK, "")
	checkChat(t, tg, r.body, "group")
	if r.body["topic"] != g.topic {
		t.Errorf("topic %v, want %q", r.body["topic"], g.topic)
	}
}

// groupWith creates a group of the caller, member1 and m.
func groupWith(t *testing.T, tg *target, what string, m map[string]any) *reply {
	u := tg.cfg.users
	return tg.do(t, "POST", "/chats", map[string]any{"chatType": "group", "topic": tg.topic(what),
		"members": members(member(u.caller, "owner"), member(u.member1, "owner"), m)})
}

// rosterOf returns a chat's members by user id.
func rosterOf(t *testing.T, tg *target, chatID string) map[string]map[string]any {
	t.Helper()
	r := tg.do(t, "GET", chatPath(chatID)+"/members", nil)
	want(t, "list members", r, http.StatusOK, "")
	out := map[string]map[string]any{}
	for _, m := range list(t, r) {
		checkMember(t, m)
		out[strings.ToLower(str(m["userId"]))] = m
	}
	return out
}

func createGroupGuest(t *testing.T, tg *target) {
	u := tg.cfg.users
	r := groupWith(t, tg, "guest", member(u.guest, "guest"))
	want(t, "create", r, http.StatusCreated, "")
	if r.status == http.StatusCreated {
		m := rosterOf(t, tg, str(r.body["id"]))[u.guest]
		if roles, _ := m["roles"].([]any); len(roles) != 1 || roles[0] != "guest" {
			t.Errorf("guest member %v", m)
		}
	}
}

func createGroupExternal(t *testing.T, tg *target) {
	u := tg.cfg.users
	r := groupWith(t, tg, "external", externalMember(u.external, u.externalTenant))
	want(t, "create", r, http.StatusCreated, "")
	if r.status == http.StatusCreated {
		m := rosterOf(t, tg, str(r.body["id"]))[u.external]
		if !strings.EqualFold(str(m["tenantId"]), u.externalTenant) {
			t.Errorf("external member %v: want tenantId %s", m, u.externalTenant)
		}
	}
}

var operationLocation = regexp.MustCompile(`^/chats\('([^']+)'\)/operations\('[^']+'\)$`)

// createInstalledApps: creation with an app answers 202, an empty body and
// a Location naming the chat's operation (chat-post); the app is then
// listed and got in the chat (chat-list-installedapps,
// chat-get-installedapps), and list chats finds the chat by the app
// (chat-list). The operation itself is not polled: v1.0 documents no GET
// of a chat's operations.
func createInstalledApps(t *testing.T, tg *target) {
	u := tg.cfg.users
	app := tg.cfg.teamsApp
	if app == "" {
		app = "05f7b1a4-44c0-4e0e-8c7a-0d5b5d7e2c71" // the emulator has no catalog
	}
	r := tg.do(t, "POST", "/chats", map[string]any{"chatType": "group", "topic": tg.topic("app"),
		"members":       members(member(u.caller, "owner"), member(u.member1, "owner"), member(u.member2, "owner")),
		"installedApps": []any{map[string]any{"teamsApp@odata.bind": graphHost + "/appCatalogs/teamsApps/" + app}}})
	want(t, "create with an app", r, http.StatusAccepted, "")
	if len(bytes.TrimSpace(r.raw)) != 0 {
		t.Errorf("create with an app: a body, want none: %s", r)
	}
	m := operationLocation.FindStringSubmatch(r.header.Get("Location"))
	if m == nil {
		t.Fatalf("Location %q, want /chats('{id}')/operations('{id}')", r.header.Get("Location"))
	}
	chatID := m[1]
	apps := chatPath(chatID) + "/installedApps"

	// The service installs asynchronously: live, wait for the app (the
	// resource page asks for more than 30 seconds between checks).
	var inst map[string]any
	for attempt := 0; inst == nil; attempt++ {
		r = tg.do(t, "GET", apps+"?$expand=teamsApp,teamsAppDefinition", nil)
		if r.status == http.StatusOK {
			for _, v := range list(t, r) {
				if a, _ := v["teamsApp"].(map[string]any); strings.EqualFold(str(a["id"]), app) {
					inst = v
				}
			}
		}
		if inst != nil || !tg.live || attempt == 5 {
			break
		}
		t.Logf("list installed apps: %d, the app not yet installed; checking again in 31 s", r.status)
		time.Sleep(31 * time.Second)
	}
	if inst == nil {
		t.Fatalf("list installed apps: the app %s is not listed: %s", app, r)
	}
	instID := str(inst["id"])
	def, _ := inst["teamsAppDefinition"].(map[string]any)
	if instID == "" || strings.EqualFold(instID, app) || !strings.EqualFold(str(def["teamsAppId"]), app) {
		t.Errorf("installation: id %q, teamsAppDefinition %v; want its own id and the app's definition", instID, def)
	}

	r = tg.do(t, "GET", apps+"/"+url.PathEscape(instID), nil)
	want(t, "get installed app", r, http.StatusOK, "")
	if str(r.body["id"]) != instID {
		t.Errorf("get installed app: id %q, want %q", str(r.body["id"]), instID)
	}
	r = tg.do(t, "GET", apps+"?$filter="+query("teamsApp/id eq '"+app+"'"), nil)
	want(t, "list installed apps, $filter teamsApp/id", r, http.StatusOK, "")
	if vs := list(t, r); len(vs) != 1 || str(vs[0]["id"]) != instID {
		t.Errorf("$filter teamsApp/id eq: %s, want the installation only", r)
	}

	byApp := "installedApps/any(a:a/teamsApp/id eq '" + app + "')"
	for _, f := range []string{byApp, "chatType eq 'group' and " + byApp} {
		r = tg.do(t, "GET", "/me/chats?$filter="+query(f), nil)
		want(t, "list chats, $filter "+f, r, http.StatusOK, "")
		found := false
		for _, c := range list(t, r) {
			found = found || c["id"] == chatID
		}
		if !found {
			t.Errorf("list chats, $filter %s: the chat is not listed: %s", f, r)
		}
	}
}

// createEncodings: a byte-order mark is skipped, gzip is read.
func createEncodings(t *testing.T, tg *target) {
	body := []byte(fmt.Sprintf(`{"chatType":"oneOnOne","members":[%s,%s]}`, jsonOf(member(tg.cfg.users.caller, "owner")), jsonOf(member(tg.cfg.users.member1, "owner"))))
	r := tg.do(t, "POST", "/chats", append([]byte{0xEF, 0xBB, 0xBF}, body...))
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Errorf("with a byte-order mark: %s", r)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(body)
	zw.Close()
	r = tg.do(t, "POST", "/chats", z.Bytes(), "Content-Encoding", "gzip")
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Errorf("gzip: %s", r)
	}
}

// refusal is a body POST /chats refuses, with its status and code.
type refusal struct {
	name   string
	body   any
	hdr    []string
	status int
	code   string
}

func runRefusals(t *testing.T, tg *target, rs []refusal) {
	for _, r := range rs {
		t.Run(r.name, func(t *testing.T) {
			want(t, "POST /chats", tg.do(t, "POST", "/chats", r.body, r.hdr...), r.status, r.code)
		})
	}
}

// createRefusals: the refusals the pages document, each by status and code.
// Bodies are one-on-one where they can be, so that a service accepting one
// returns an existing chat rather than creating a group.
func createRefusals(t *testing.T, tg *target) {
	u := tg.cfg.users
	caller, m1, m2 := member(u.caller, "owner"), member(u.member1, "owner"), member(u.member2, "owner")
	noType := member(u.member1, "owner")
	delete(noType, "@odata.type")
	badKey := member(u.member1, "owner")
	badKey["user@odata_bind"] = badKey["user@odata.bind"]
	delete(badKey, "user@odata.bind")
	one := fmt.Sprintf(`{"chatType":"oneOnOne","members":[%s,%s]}`, jsonOf(caller), jsonOf(m1))
	runRefusals(t, tg, []refusal{
		{"chatType missing", map[string]any{"members": members(caller, m1)}, nil, 400, "BadRequest"},
		{"chatType not oneOnOne or group", map[string]any{"chatType": "meeting", "members": members(caller, m1)}, nil, 400, "BadRequest"},
		{"members null", map[string]any{"chatType": "oneOnOne", "members": nil}, nil, 400, "BadRequest"},
		{"one-on-one of three", map[string]any{"chatType": "oneOnOne", "members": members(caller, m1, m2)}, nil, 400, "BadRequest"},
		{"group of one", map[string]any{"chatType": "group", "members": members(caller)}, nil, 400, "BadRequest"},
		{"topic on one-on-one", map[string]any{"chatType": "oneOnOne", "topic": "x", "members": members(caller, m1)}, nil, 400, "BadRequest"},
		{"role not owner or guest", map[string]any{"chatType": "oneOnOne", "members": members(caller, member(u.member1, "member"))}, nil, 400, "BadRequest"},
		{"caller not a member", map[string]any{"chatType": "oneOnOne", "members": members(m1, m2)}, nil, 400, "BadRequest"},
		{"odata.type missing", map[string]any{"chatType": "oneOnOne", "members": members(caller, noType)}, nil, 400, "BadRequest"},
		{"bind key misspelt", map[string]any{"chatType": "oneOnOne", "members": members(caller, badKey)}, nil, 400, "BadRequest"},
		{"property in another case", strings.Replace(one, `"chatType"`, `"ChatType"`, 1), nil, 400, "BadRequest"},
		{"key given twice", strings.Replace(one, `"chatType":"oneOnOne"`, `"chatType":"oneOnOne","chatType":"oneOnOne"`, 1), nil, 400, "BadRequest"},
		{"not JSON", `{"chatType":`, nil, 400, "BadRequest"},
		{"no Content-Type", one, []string{"Content-Type", ""}, 400, "BadRequest"},
	})
}

func createGuestRefusals(t *testing.T, tg *target) {
	u := tg.cfg.users
	runRefusals(t, tg, []refusal{
		{"guest given owner", map[string]any{"chatType": "oneOnOne", "members": members(member(u.caller, "owner"), member(u.guest, "owner"))}, nil, 400, "BadRequest"},
	})
}

func createExternalRefusals(t *testing.T, tg *target) {
	u := tg.cfg.users
	ext := externalMember(u.external, u.externalTenant)
	ext["roles"] = []string{"guest"}
	runRefusals(t, tg, []refusal{
		{"external user given guest", map[string]any{"chatType": "oneOnOne", "members": members(member(u.caller, "owner"), ext)}, nil, 400, "BadRequest"},
	})
}

// scopes are the three documented paths to a chat of the caller.
func scopes(tg *target) map[string]string {
	return map[string]string{"chats": "/chats", "me": "/me/chats", "users": "/users/" + tg.cfg.users.caller + "/chats"}
}

func getChat(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	for name, base := range scopes(tg) {
		t.Run(name, func(t *testing.T) {
			path := base + "/" + strings.TrimPrefix(chatPath(g.id), "/chats/")
			r := tg.do(t, "GET", path, nil)
			want(t, "get", r, http.StatusOK, "")
			if r.body["id"] != g.id {
				t.Errorf("id %v, want %s", r.body["id"], g.id)
			}
			checkChat(t, tg, r.body, "group")
			r = tg.do(t, "GET", path+"?$expand=members", nil)
			want(t, "get with $expand=members", r, http.StatusOK, "")
			ms, _ := r.body["members"].([]any)
			if len(ms) != 3 {
				t.Errorf("$expand=members: %d members, want 3", len(ms))
			}
		})
	}
	r := tg.do(t, "GET", "/chats/19:00000000000000000000000000000000@thread.v2", nil)
	want(t, "get an unknown chat", r, http.StatusNotFound, "NotFound")
}

// query escapes an OData query the way clients send it.
func query(s string) string {
	return strings.NewReplacer(" ", "%20", "'", "%27").Replace(s)
}

func listChats(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	byTopic := "$filter=" + query("topic eq '"+g.topic+"'")
	for name, base := range scopes(tg) {
		t.Run(name, func(t *testing.T) {
			r := tg.do(t, "GET", base, nil)
			want(t, "list", r, http.StatusOK, "")
			list(t, r)

			r = tg.do(t, "GET", base+"?"+byTopic, nil)
			want(t, "$filter topic", r, http.StatusOK, "")
			if vs := list(t, r); len(vs) != 1 || vs[0]["id"] != g.id {
				t.Errorf("$filter topic eq: %s, want the shared group only", r)
			}

			r = tg.do(t, "GET", base+"?"+byTopic+"&$expand=members", nil)
			want(t, "$expand=members", r, http.StatusOK, "")
			for _, c := range list(t, r) {
				if ms, _ := c["members"].([]any); len(ms) != 3 {
					t.Errorf("$expand=members: %d members, want 3", len(ms))
				}
			}

			r = tg.do(t, "GET", base+"?$filter="+query("chatType eq 'group'")+"&$top=1", nil)
			want(t, "$filter chatType, $top", r, http.StatusOK, "")
			vs := list(t, r)
			if len(vs) != 1 || vs[0]["chatType"] != "group" {
				t.Errorf("$filter chatType eq 'group' with $top=1: %d chats: %s", len(vs), r)
			}

			r = tg.do(t, "GET", base+"?$expand=lastMessagePreview&$orderby="+query("lastMessagePreview/createdDateTime desc")+"&$top=2", nil)
			want(t, "$expand=lastMessagePreview, $orderby", r, http.StatusOK, "")
			if vs := list(t, r); len(vs) > 2 {
				t.Errorf("$top=2: %d chats", len(vs))
			}
		})
	}
}

// listChatsRefused: the page says other query options are not supported;
// the emulator refuses them 400.
func listChatsRefused(t *testing.T, tg *target) {
	for _, q := range []string{"$select=id", "$top=51", "$top=0", "$filter=" + query("members/any(m: m/displayName eq 'x')"), "$orderby=topic", "$expand=messages"} {
		want(t, "GET /me/chats?"+q, tg.do(t, "GET", "/me/chats?"+q, nil), 400, "BadRequest")
	}
}

func listMembers(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	u := tg.cfg.users
	for name, base := range scopes(tg) {
		t.Run(name, func(t *testing.T) {
			r := tg.do(t, "GET", base+"/"+strings.TrimPrefix(chatPath(g.id), "/chats/")+"/members", nil)
			want(t, "list members", r, http.StatusOK, "")
			got := map[string]bool{}
			for _, m := range list(t, r) {
				checkMember(t, m)
				got[strings.ToLower(str(m["userId"]))] = true
			}
			if len(got) != 3 || !got[u.caller] || !got[u.member1] || !got[u.member2] {
				t.Errorf("members %v, want the caller and the two members", got)
			}
		})
	}
}

func addRemoveMember(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	u := tg.cfg.users
	tg.ensureMember(t, g.id, u.member2)
	id := tg.membership(t, g.id, u.member2)
	want(t, "remove", tg.do(t, "DELETE", chatPath(g.id)+"/members/"+id, nil), http.StatusNoContent, "")
	if tg.membership(t, g.id, u.member2) != "" {
		t.Fatal("still a member after the removal")
	}
	add := member(u.member2, "owner")
	add["visibleHistoryStartDateTime"] = "0001-01-01T00:00:00Z"
	r := tg.do(t, "POST", chatPath(g.id)+"/members", add)
	want(t, "add", r, http.StatusCreated, "")
	if r.header.Get("Location") == "" {
		t.Error("add: no Location")
	}
	if tg.membership(t, g.id, u.member2) == "" {
		t.Error("not a member after the addition")
	}
}

func addMemberRefusals(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	u := tg.cfg.users
	want(t, "add a member twice", tg.do(t, "POST", chatPath(g.id)+"/members", member(u.member1, "owner")), http.StatusConflict, "Conflict")
	want(t, "remove an unknown membership", tg.do(t, "DELETE", chatPath(g.id)+"/members/bm9uZQ==", nil), http.StatusNotFound, "NotFound")
	one := tg.do(t, "POST", "/chats", oneOnOne(tg))
	want(t, "add to a one-on-one chat", tg.do(t, "POST", chatPath(str(one.body["id"]))+"/members", member(u.member2, "owner")), http.StatusBadRequest, "BadRequest")
	want(t, "add a guest as owner", tg.do(t, "POST", chatPath(g.id)+"/members", member(u.guest, "owner")), http.StatusBadRequest, "BadRequest")
}

// memberResults reads the answer of the add action by user id: the error
// code, "" when added.
func memberResults(t *testing.T, r *reply) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range list(t, r) {
		if v["@odata.type"] != "#microsoft.graph.aadUserConversationMemberResult" {
			t.Errorf("result type %v", v["@odata.type"])
		}
		code := ""
		switch e := v["error"].(type) {
		case nil:
		case map[string]any:
			code = str(e["code"])
		default:
			t.Errorf("result error %v: want null or an object", e)
		}
		out[strings.ToLower(str(v["userId"]))] = code
	}
	return out
}

func addMembersAction(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	u := tg.cfg.users
	tg.ensureMember(t, g.id, u.member2)
	remove := func() {
		id := tg.membership(t, g.id, u.member2)
		want(t, "remove", tg.do(t, "DELETE", chatPath(g.id)+"/members/"+id, nil), http.StatusNoContent, "")
	}
	remove()
	r := tg.do(t, "POST", chatPath(g.id)+"/members/add", map[string]any{"values": members(member(u.member2, "owner"))})
	want(t, "add action", r, http.StatusOK, "")
	if got := memberResults(t, r); len(got) != 1 || got[u.member2] != "" {
		t.Errorf("results %v, want %s added", got, u.member2)
	}
	remove()
	unknown := newGUID()
	r = tg.do(t, "POST", chatPath(g.id)+"/members/add", map[string]any{"values": members(member(u.member2, "owner"), member(unknown, "owner"))})
	want(t, "add action, partly refused", r, http.StatusMultiStatus, "")
	if got := memberResults(t, r); len(got) != 2 || got[u.member2] != "" || got[unknown] != "NotFound" {
		t.Errorf("results %v, want %s added and %s NotFound", got, u.member2, unknown)
	}
	if tg.membership(t, g.id, u.member2) == "" {
		t.Error("not a member after the action")
	}
}

func addMembersLimits(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	values := make([]any, 201)
	for i := range values {
		values[i] = member(newGUID(), "owner")
	}
	for _, c := range []struct {
		name string
		body any
	}{
		{"no member", map[string]any{"values": []any{}}},
		{"201 members", map[string]any{"values": values}},
		{"values missing", map[string]any{}},
		{"a parameter other than values", map[string]any{"members": values[:1]}},
	} {
		want(t, c.name, tg.do(t, "POST", chatPath(g.id)+"/members/add", c.body), http.StatusBadRequest, "BadRequest")
	}
	one := tg.do(t, "POST", "/chats", oneOnOne(tg))
	want(t, "one-on-one", tg.do(t, "POST", chatPath(str(one.body["id"]))+"/members/add", map[string]any{"values": members(member(tg.cfg.users.member2, "owner"))}), http.StatusBadRequest, "BadRequest")
}

func updateTopic(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	topic := tg.topic("renamed")
	r := tg.do(t, "PATCH", chatPath(g.id), map[string]any{"topic": topic})
	want(t, "update", r, http.StatusOK, "")
	if r = tg.do(t, "GET", chatPath(g.id), nil); r.body["topic"] != topic {
		t.Errorf("topic after the update %v, want %q", r.body["topic"], topic)
	} else {
		tg.mu.Lock()
		g.topic = topic
		tg.mu.Unlock()
	}
	want(t, "topic with ':'", tg.do(t, "PATCH", chatPath(g.id), map[string]any{"topic": "a:b"}), http.StatusBadRequest, "BadRequest")
	want(t, "topic of 251 characters", tg.do(t, "PATCH", chatPath(g.id), map[string]any{"topic": strings.Repeat("t", 251)}), http.StatusBadRequest, "BadRequest")
	one := tg.do(t, "POST", "/chats", oneOnOne(tg))
	want(t, "topic of a one-on-one chat", tg.do(t, "PATCH", chatPath(str(one.body["id"])), map[string]any{"topic": "x"}), http.StatusBadRequest, "BadRequest")
}

// batchItem is one request of a JSON batch.
func batchItem(id, method, url string, dependsOn ...string) map[string]any {
	m := map[string]any{"id": id, "method": method, "url": url}
	if len(dependsOn) > 0 {
		m["dependsOn"] = dependsOn
	}
	return m
}

// batchStatuses reads a batch answer: status by id.
func batchStatuses(t *testing.T, r *reply) map[string]int {
	t.Helper()
	rs, _ := r.body["responses"].([]any)
	out := map[string]int{}
	for _, v := range rs {
		m, _ := v.(map[string]any)
		n, _ := m["status"].(float64)
		out[str(m["id"])] = int(n)
	}
	return out
}

func batch(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	r := tg.do(t, "POST", "/$batch", map[string]any{"requests": []any{
		batchItem("1", "GET", chatPath(g.id)), batchItem("2", "GET", chatPath(g.id)+"/members")}})
	want(t, "batch", r, http.StatusOK, "")
	if got := batchStatuses(t, r); got["1"] != 200 || got["2"] != 200 || len(got) != 2 {
		t.Errorf("statuses %v", got)
	}
	r = tg.do(t, "POST", "/$batch", map[string]any{"requests": []any{
		batchItem("1", "GET", "/chats/19:00000000000000000000000000000000@thread.v2"), batchItem("2", "GET", chatPath(g.id), "1")}})
	want(t, "batch with a failed dependency", r, http.StatusOK, "")
	if got := batchStatuses(t, r); got["1"] != 404 || got["2"] != 424 {
		t.Errorf("statuses %v, want 1:404 2:424", got)
	}
	many := make([]any, 21)
	for i := range many {
		many[i] = batchItem(fmt.Sprint(i+1), "GET", chatPath(g.id))
	}
	want(t, "21 requests", tg.do(t, "POST", "/$batch", map[string]any{"requests": many}), http.StatusBadRequest, "BadRequest")
	want(t, "ids repeated", tg.do(t, "POST", "/$batch", map[string]any{"requests": []any{batchItem("1", "GET", "/me/chats"), batchItem("1", "GET", "/me/chats")}}), http.StatusBadRequest, "BadRequest")
	post := batchItem("1", "POST", "/chats")
	post["body"] = oneOnOne(tg)
	want(t, "a body without Content-Type", tg.do(t, "POST", "/$batch", map[string]any{"requests": []any{post}}), http.StatusBadRequest, "BadRequest")
}

func batchThrottled(t *testing.T, tg *target) {
	opts := tg.opts
	opts.RateLimit = 2 // the batch takes one, its first request the other
	e := newEmulatorTarget(t, opts)
	r := e.do(t, "POST", "/$batch", map[string]any{"requests": []any{batchItem("1", "GET", "/me/chats"), batchItem("2", "GET", "/me/chats"), batchItem("3", "GET", "/me/chats")}})
	want(t, "batch", r, http.StatusOK, "")
	rs, _ := r.body["responses"].([]any)
	throttled := 0
	for _, v := range rs {
		m, _ := v.(map[string]any)
		if m["status"] == float64(429) {
			throttled++
			h, _ := m["headers"].(map[string]any)
			if str(h["Retry-After"]) == "" {
				t.Errorf("inner 429 without Retry-After: %v", m)
			}
		}
	}
	if throttled == 0 {
		t.Errorf("no inner 429: %s", r)
	}
}

func getUsers(t *testing.T, tg *target) {
	u := tg.cfg.users
	r := tg.do(t, "GET", "/users/"+u.member1+"?$select=id,displayName,userPrincipalName", nil)
	want(t, "get a user", r, http.StatusOK, "")
	if !strings.EqualFold(str(r.body["id"]), u.member1) || str(r.body["userPrincipalName"]) == "" {
		t.Errorf("user %v", r.body)
	}
	if upn := str(r.body["userPrincipalName"]); upn != "" {
		r = tg.do(t, "GET", "/users/"+strings.ReplaceAll(upn, "#", "%23"), nil)
		want(t, "get a user by principal name", r, http.StatusOK, "")
	}
	want(t, "an unknown user", tg.do(t, "GET", "/users/"+newGUID(), nil), http.StatusNotFound, "Request_ResourceNotFound")
}

func methodsNotAllowed(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	for _, c := range []struct{ method, path string }{
		{"PUT", "/chats"},
		{"DELETE", chatPath(g.id) + "/members"},
		{"GET", chatPath(g.id) + "/members/add"},
	} {
		r := tg.do(t, c.method, c.path, nil)
		want(t, c.method+" "+c.path, r, http.StatusMethodNotAllowed, "")
	}
}

func tokens(t *testing.T, tg *target) {
	want(t, "no token", tg.do(t, "GET", "/me/chats", nil, "Authorization", ""), http.StatusUnauthorized, "InvalidAuthenticationToken")
	want(t, "not a JWT", tg.do(t, "GET", "/me/chats", nil, "Authorization", "Bearer not-a-token"), http.StatusUnauthorized, "InvalidAuthenticationToken")
}

// messages sends one message to the shared group (it stays: a live run
// leaves it) and reads it back newest first under each path.
func messages(t *testing.T, tg *target) {
	g := tg.sharedGroup(t)
	text := tg.topic("message")
	r := tg.do(t, "POST", chatPath(g.id)+"/messages", map[string]any{"body": map[string]any{"content": text}})
	want(t, "send", r, http.StatusCreated, "")
	body, _ := r.body["body"].(map[string]any)
	from, _ := r.body["from"].(map[string]any)
	user, _ := from["user"].(map[string]any)
	if str(r.body["id"]) == "" || r.body["messageType"] != "message" || r.body["chatId"] != g.id || body["content"] != text ||
		!strings.EqualFold(str(user["id"]), tg.cfg.users.caller) {
		t.Errorf("message %v", r.body)
	}
	for name, base := range scopes(tg) {
		t.Run(name, func(t *testing.T) {
			l := tg.do(t, "GET", base+"/"+strings.TrimPrefix(chatPath(g.id), "/chats/")+"/messages?$top=1", nil)
			want(t, "list", l, http.StatusOK, "")
			if vs := list(t, l); len(vs) != 1 || vs[0]["id"] != r.body["id"] {
				t.Errorf("newest message: %s, want %v", l, r.body["id"])
			}
		})
	}
	want(t, "an empty message", tg.do(t, "POST", chatPath(g.id)+"/messages", map[string]any{"body": map[string]any{"content": ""}}), http.StatusBadRequest, "BadRequest")
}

func messageLimits(t *testing.T, tg *target) {
	created := tg.do(t, "POST", "/chats", groupOfThree(tg)) // no message sent yet
	want(t, "create", created, http.StatusCreated, "")
	id := str(created.body["id"])
	send := func(content string, hdr ...string) *reply {
		return tg.do(t, "POST", chatPath(id)+"/messages", map[string]any{"body": map[string]any{"content": content}}, hdr...)
	}
	want(t, "first", send("one"), http.StatusCreated, "")
	r := send("two")
	want(t, "second in the same second", r, http.StatusTooManyRequests, "TooManyRequests")
	retryAfter(t, "429", r)
	want(t, "over about 28 KB", send(strings.Repeat("x", 30<<10)), http.StatusRequestEntityTooLarge, "RequestEntityTooLarge")
	want(t, "application permissions", send("app", "Authorization", "Bearer "+graphchattest.AppToken("Chat.ReadWrite.All")), http.StatusForbidden, "Forbidden")
	want(t, "$top over 50", tg.do(t, "GET", chatPath(id)+"/messages?$top=51", nil), http.StatusBadRequest, "BadRequest")
}
