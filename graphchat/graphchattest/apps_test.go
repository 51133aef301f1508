package graphchattest_test

import (
	"net/url"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

const (
	appID      = "05F59CEC-A742-4A50-A62E-202A57E478A4"
	appBind    = "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/" + appID
	otherAppID = "9c0b3a2e-1f4d-4e5a-8b6c-7d8e9f0a1b2c"
)

var locationPattern = regexp.MustCompile(`^/chats\('([^']+)'\)/operations\('[^']+'\)$`)

// createWithApp creates a group of three with one app and returns the
// chat id the Location names.
func createWithApp(t *testing.T, c *client, app map[string]any) string {
	t.Helper()
	r := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group",
		"members":       []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")},
		"installedApps": []any{app}})
	m := locationPattern.FindStringSubmatch(r.header.Get("Location"))
	if r.status != 202 || r.body != nil || m == nil {
		t.Fatalf("create: got %d %v %v", r.status, r.header, r.body)
	}
	return m[1]
}

func TestInstalledAppsRecorded(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	perms := map[string]any{"resourceSpecificPermissions": []any{map[string]any{"permissionValue": "ChatMessage.Read.Chat", "permissionType": "application"}}}
	id := createWithApp(t, c, map[string]any{"teamsApp@odata.bind": appBind, "consentedPermissionSet": perms})
	if got := c.srv.Chats(); len(got) != 1 || got[0].ID != id || !cmp.Equal(got[0].Apps, []string{appID}) {
		t.Fatalf("chats %+v", got)
	}
	base := "/v1.0/chats/" + url.PathEscape(id) + "/installedApps"

	c.token = graphchattest.DelegatedToken(graphchattest.MeganID, "TeamsAppInstallation.ReadForChat")
	r := c.do("GET", base+"?$expand=teamsApp,teamsAppDefinition", nil)
	values, _ := r.body["value"].([]any)
	if r.status != 200 || len(values) != 1 {
		t.Fatalf("list: %d %v", r.status, r.body)
	}
	inst := values[0].(map[string]any)
	instID, _ := inst["id"].(string)
	app, _ := inst["teamsApp"].(map[string]any)
	def, _ := inst["teamsAppDefinition"].(map[string]any)
	if instID == "" || instID == appID || app["id"] != appID || def["teamsAppId"] != appID {
		t.Errorf("installation %v", inst)
	}
	if _, ok := inst["consentedPermissionSet"]; ok {
		t.Errorf("consentedPermissionSet without $select: %v", inst)
	}

	r = c.do("GET", base+"/"+url.PathEscape(instID)+"?$select=id,consentedPermissionSet", nil)
	if r.status != 200 || r.body["id"] != instID || !cmp.Equal(r.body["consentedPermissionSet"], perms) {
		t.Errorf("get with $select: %d %v", r.status, r.body)
	}
	if _, ok := r.body["teamsApp"]; ok {
		t.Errorf("teamsApp without $expand: %v", r.body)
	}

	tests := []struct {
		name   string
		token  string
		path   string
		status int
		code   string
		count  int // values of a 200 list; -1 for an entity
	}{
		{"filter on the app", "", base + "?$filter=" + url.QueryEscape("teamsApp/id eq '"+appID+"'"), 200, "", 1},
		{"filter on another app", "", base + "?$filter=" + url.QueryEscape("teamsApp/id eq '"+otherAppID+"'"), 200, "", 0},
		{"filter on externalId", "", base + "?$filter=" + url.QueryEscape("teamsApp/externalId eq 'x'"), 400, "BadRequest", 0},
		{"nested expand", "", base + "?$expand=" + url.QueryEscape("teamsAppDefinition($expand=bot)"), 400, "BadRequest", 0},
		{"unknown installation", "", base + "/bm90LWluc3RhbGxlZA==", 404, "NotFound", 0},
		{"higher delegated", graphchattest.DelegatedToken(graphchattest.MeganID, "TeamsAppInstallation.ReadWriteForChat"), base, 200, "", 1},
		{"application", graphchattest.AppToken("TeamsAppInstallation.ReadForChat.All"), base + "/" + url.PathEscape(instID), 200, "", -1},
		{"chat permissions do not read apps", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadWrite"), base, 403, "Forbidden", 0},
		{"resource-specific consent is not in tokens", graphchattest.AppToken("TeamsAppInstallation.Read.Chat"), base, 403, "Forbidden", 0},
		{"not a member", graphchattest.DelegatedToken(graphchattest.AdaID, "TeamsAppInstallation.ReadForChat"), base, 403, "Forbidden", 0},
		{"unknown chat", "", "/v1.0/chats/" + url.PathEscape("19:00000000000000000000000000000000@thread.v2") + "/installedApps", 404, "NotFound", 0},
		{"POST not served", "", base, 405, "MethodNotAllowed", 0},
		{"operation not served", "", "/v1.0/chats/" + url.PathEscape(id) + "/operations/x", 404, "NotFound", 0},
		{"not under /me", "", "/v1.0/me/chats/" + url.PathEscape(id) + "/installedApps", 404, "NotFound", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *c
			c.t = t
			if tt.token != "" {
				c.token = tt.token
			}
			method := "GET"
			if tt.status == 405 {
				method = "POST"
			}
			r := c.do(method, tt.path, nil)
			if r.status != tt.status || tt.code != "" && errorCode(t, r) != tt.code {
				t.Fatalf("got %d %v", r.status, r.body)
			}
			if values, ok := r.body["value"].([]any); tt.status == 200 && tt.count >= 0 && (!ok || len(values) != tt.count) {
				t.Errorf("values %v, want %d", r.body["value"], tt.count)
			}
		})
	}
}

func TestInstalledAppsRefused(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	tests := []struct {
		name string
		app  any
	}{
		{"no bind", map[string]any{}},
		{"not an object", "app"},
		{"bind to a user", map[string]any{"teamsApp@odata.bind": "https://graph.microsoft.com/v1.0/users/" + appID}},
		{"bind without an id", map[string]any{"teamsApp@odata.bind": "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/"}},
		{"bind in another case", map[string]any{"teamsapp@odata.bind": appBind}},
		{"unknown property", map[string]any{"teamsApp@odata.bind": appBind, "version": "1"}},
		{"permission type", map[string]any{"teamsApp@odata.bind": appBind, "consentedPermissionSet": map[string]any{
			"resourceSpecificPermissions": []any{map[string]any{"permissionValue": "ChatMessage.Read.Chat", "permissionType": "app"}}}}},
		{"permission set not an object", map[string]any{"teamsApp@odata.bind": appBind, "consentedPermissionSet": []any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *c
			c.t = t
			r := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group",
				"members":       []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")},
				"installedApps": []any{tt.app}})
			if r.status != 400 || errorCode(t, r) != "BadRequest" {
				t.Errorf("got %d %v", r.status, r.body)
			}
		})
	}
	if n := len(c.srv.Chats()); n != 0 {
		t.Errorf("refused requests created %d chats", n)
	}
}

// List chats applies installedApps/any(...), alone and with the other
// documented filters.
func TestListChatsFilterInstalledApps(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	withApp := createWithApp(t, c, map[string]any{"teamsApp@odata.bind": appBind})
	if r := c.do("POST", "/v1.0/chats", map[string]any{"chatType": "group", "topic": "no app",
		"members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner"), member(graphchattest.NestorID, "owner")}}); r.status != 201 {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	// The same app again into the existing one-on-one chat is still one
	// installation; the one-on-one chat gets the app.
	one := map[string]any{"chatType": "oneOnOne", "members": []any{member(graphchattest.MeganID, "owner"), member(graphchattest.LeeID, "owner")},
		"installedApps": []any{map[string]any{"teamsApp@odata.bind": appBind}}}
	for range 2 {
		if r := c.do("POST", "/v1.0/chats", one); r.status != 202 {
			t.Fatalf("one-on-one with an app: %d %v", r.status, r.body)
		}
	}
	oneID := ""
	for _, ch := range c.srv.Chats() {
		if ch.ChatType == "oneOnOne" {
			oneID = ch.ID
			if len(ch.Apps) != 1 {
				t.Errorf("one-on-one apps %v", ch.Apps)
			}
		}
	}
	tests := []struct {
		filter string
		want   []string
	}{
		{"installedApps/any(a:a/teamsApp/id eq '" + appID + "')", []string{oneID, withApp}},
		{"installedApps/any(x: x/teamsApp/id eq '" + otherAppID + "')", nil},
		{"chatType eq 'group' and installedApps/any(a:a/teamsApp/id eq '" + appID + "')", []string{withApp}},
		{"installedApps/any(a:a/teamsApp/id eq '" + appID + "') and topic eq 'no app'", nil},
	}
	for _, tt := range tests {
		r := c.do("GET", "/v1.0/me/chats?$filter="+url.QueryEscape(tt.filter), nil)
		if r.status != 200 {
			t.Errorf("%s: %d %v", tt.filter, r.status, r.body)
			continue
		}
		var got []string
		for _, v := range r.body["value"].([]any) {
			got = append(got, v.(map[string]any)["id"].(string))
		}
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b string) bool { return a == b })); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.filter, diff)
		}
	}
	if r := c.do("GET", "/v1.0/me/chats?$filter="+url.QueryEscape("installedApps/any(a:b/teamsApp/id eq '"+appID+"')"), nil); r.status != 400 {
		t.Errorf("mismatched lambda variable: %d", r.status)
	}
}
