package graphchattest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// installation is a teamsAppInstallation in a chat: an app of the catalog
// installed when the chat was created (chat-post's installedApps).
type installation struct {
	ID    string
	AppID string // the catalog's teamsApp id
	// Consented is the consentedPermissionSet given at creation, as sent;
	// nil when none was.
	Consented json.RawMessage
}

// installationProperties are the properties of a teamsAppInstallation
// (v1.0 resource page: id, consentedPermissionSet; relationships teamsApp
// and teamsAppDefinition) and the bind a creation sends.
var installationProperties = []string{"@odata.type", "id", "consentedPermissionSet", "teamsApp", "teamsAppDefinition", "teamsApp@odata.bind"}

// appBindPattern accepts the bind URL of a catalog app, as chat-post's
// example sends it: https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{id}.
var appBindPattern = regexp.MustCompile(`^https://(graph\.microsoft\.com|graph\.microsoft\.us|dod-graph\.microsoft\.us|microsoftgraph\.chinacloudapi\.cn)/(v1\.0|beta)/appCatalogs/teamsApps/([^/?#'()]+)$`)

// permissionSet is a teamsAppPermissionSet, as far as the emulator reads it.
type permissionSet struct {
	ODataType   *string           `json:"@odata.type"`
	Permissions []json.RawMessage `json:"resourceSpecificPermissions"`
}

type rscPermission struct {
	ODataType *string `json:"@odata.type"`
	Value     *string `json:"permissionValue"`
	Type      *string `json:"permissionType"`
}

// readInstalledApp reads installedApps[i] of a POST /chats body: the app's
// id and its consentedPermissionSet, or the message of the 400 that
// refuses it.
func readInstalledApp(i int, data []byte) (*installation, string) {
	where := fmt.Sprintf("installedApps[%d]", i)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return nil, fmt.Sprintf("Unable to read JSON request payload: %s must be a JSON object.", where)
	}
	if k := unknownProperty(raw, installationProperties); k != "" {
		return nil, unknownPropertyMessage(k, "microsoft.graph.teamsAppInstallation")
	}
	var bind string
	if err := json.Unmarshal(raw["teamsApp@odata.bind"], &bind); err != nil || bind == "" {
		return nil, fmt.Sprintf("%s: 'teamsApp@odata.bind' must be the app's catalog URL.", where)
	}
	m := appBindPattern.FindStringSubmatch(bind)
	if m == nil {
		return nil, fmt.Sprintf("Invalid bind property value '%s': want https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{id}", bind)
	}
	appID, err := url.PathUnescape(m[3])
	if err != nil || appID == "" {
		return nil, fmt.Sprintf("Invalid bind property value '%s'", bind)
	}
	in := &installation{AppID: appID}
	if c, ok := raw["consentedPermissionSet"]; ok && string(c) != "null" {
		if msg := checkPermissionSet(where+".consentedPermissionSet", c); msg != "" {
			return nil, msg
		}
		in.Consented = c
	}
	return in, ""
}

// checkPermissionSet checks a teamsAppPermissionSet: resourceSpecificPermissions,
// each with a permissionValue and a permissionType of application or
// delegated (teamsAppResourceSpecificPermission).
func checkPermissionSet(where string, data json.RawMessage) string {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return fmt.Sprintf("%s must be a JSON object.", where)
	}
	if k := unknownProperty(raw, []string{"@odata.type", "resourceSpecificPermissions"}); k != "" {
		return unknownPropertyMessage(k, "microsoft.graph.teamsAppPermissionSet")
	}
	var set permissionSet
	if err := json.Unmarshal(data, &set); err != nil {
		return fmt.Sprintf("%s: %v", where, err)
	}
	for j, p := range set.Permissions {
		var pr map[string]json.RawMessage
		if err := json.Unmarshal(p, &pr); err != nil || pr == nil {
			return fmt.Sprintf("%s.resourceSpecificPermissions[%d] must be a JSON object.", where, j)
		}
		if k := unknownProperty(pr, []string{"@odata.type", "permissionValue", "permissionType"}); k != "" {
			return unknownPropertyMessage(k, "microsoft.graph.teamsAppResourceSpecificPermission")
		}
		var rp rscPermission
		if err := json.Unmarshal(p, &rp); err != nil || rp.Value == nil || *rp.Value == "" || rp.Type == nil ||
			(*rp.Type != "application" && *rp.Type != "delegated") {
			return fmt.Sprintf("%s.resourceSpecificPermissions[%d]: want a permissionValue and a permissionType of 'application' or 'delegated'.", where, j)
		}
	}
	return ""
}

// install records an app in a chat unless it is installed there already;
// the caller holds e.mu.
func (e *Emulator) install(c *chat, in *installation) {
	if slices.ContainsFunc(c.Apps, func(a *installation) bool { return strings.EqualFold(a.AppID, in.AppID) }) {
		return
	}
	in.ID = base64.StdEncoding.EncodeToString([]byte(c.ID + "##" + in.AppID))
	c.Apps = append(c.Apps, in)
}

// appQuery is what the query options of the installed-app endpoints ask
// for: $expand of teamsApp and teamsAppDefinition, $select of id and
// consentedPermissionSet, and (list only) $filter on teamsApp/id.
type appQuery struct {
	teamsApp, definition bool
	consented            bool   // $select names consentedPermissionSet
	appID                string // $filter=teamsApp/id eq '...'
	filtered             bool
}

var appFilter = regexp.MustCompile(`^\s*teamsApp/id\s+eq\s+'((?:[^']|'')*)'\s*$`)

// readAppQuery reads the query options of list (list true) and get of
// installed apps; a non-empty message is the reason for a 400.
func readAppQuery(query url.Values, list bool) (appQuery, string) {
	var aq appQuery
	for k := range query {
		switch {
		case k == "$expand", k == "$select", k == "$filter" && list:
		case strings.HasPrefix(k, "$"):
			return aq, fmt.Sprintf("The query parameter '%s' is not supported here.", k)
		}
	}
	if x := query.Get("$expand"); x != "" {
		for _, p := range strings.Split(x, ",") {
			switch strings.TrimSpace(p) {
			case "teamsApp":
				aq.teamsApp = true
			case "teamsAppDefinition":
				aq.definition = true
			default:
				return aq, fmt.Sprintf("$expand supports teamsApp and teamsAppDefinition, not '%s'.", strings.TrimSpace(p))
			}
		}
	}
	if s := query.Get("$select"); s != "" {
		for _, p := range strings.Split(s, ",") {
			switch strings.TrimSpace(p) {
			case "id":
			case "consentedPermissionSet":
				aq.consented = true
			default:
				return aq, fmt.Sprintf("$select supports id and consentedPermissionSet, not '%s'.", strings.TrimSpace(p))
			}
		}
	}
	if f := query.Get("$filter"); f != "" {
		m := appFilter.FindStringSubmatch(f)
		if m == nil {
			return aq, fmt.Sprintf("Unsupported $filter clause '%s': the emulator filters installed apps on teamsApp/id only.", strings.TrimSpace(f))
		}
		aq.appID, aq.filtered = strings.ReplaceAll(m[1], "''", "'"), true
	}
	return aq, ""
}

// installationJSON renders a teamsAppInstallation. The emulator has no app
// catalog: an expanded teamsApp or teamsAppDefinition carries the app's id
// and null for what only the catalog knows (names, versions).
func installationJSON(in *installation, aq appQuery) map[string]any {
	out := map[string]any{"id": in.ID}
	if aq.consented {
		var set any
		if in.Consented != nil {
			set = in.Consented
		}
		out["consentedPermissionSet"] = set
	}
	if aq.teamsApp {
		out["teamsApp"] = map[string]any{"id": in.AppID, "externalId": nil, "displayName": nil, "distributionMethod": nil}
	}
	if aq.definition {
		out["teamsAppDefinition"] = map[string]any{
			"id":          base64.StdEncoding.EncodeToString([]byte(in.AppID)),
			"teamsAppId":  in.AppID,
			"displayName": nil, "version": nil, "azureADAppId": nil, "publishingState": nil,
			"shortDescription": nil, "description": nil, "lastModifiedDateTime": nil, "createdBy": nil,
		}
	}
	return out
}

func (e *Emulator) installedAppsContext(q *request, c *chat) string {
	return fmt.Sprintf("https://graph.microsoft.com/%s/$metadata#chats('%s')/installedApps", q.version, url.QueryEscape(c.ID))
}

// listInstalledApps answers GET /chats/{id}/installedApps
// (chat-list-installedapps).
func (e *Emulator) listInstalledApps(q *request, id string) *response {
	aq, msg := readAppQuery(q.r.URL.Query(), true)
	return e.onChat(q, opListInstalledApps, scope{kind: "chats"}, id, func(c *chat) *response {
		if msg != "" {
			return e.badRequest(q, msg)
		}
		values := []any{}
		for _, in := range c.Apps {
			if aq.filtered && !strings.EqualFold(in.AppID, aq.appID) {
				continue
			}
			values = append(values, installationJSON(in, aq))
		}
		return e.jsonResponse(http.StatusOK, map[string]any{
			"@odata.context": e.installedAppsContext(q, c),
			"@odata.count":   len(values),
			"value":          values,
		}, nil)
	})
}

// getInstalledApp answers GET /chats/{id}/installedApps/{installation-id}
// (chat-get-installedapps).
func (e *Emulator) getInstalledApp(q *request, id, installationID string) *response {
	aq, msg := readAppQuery(q.r.URL.Query(), false)
	return e.onChat(q, opGetInstalledApp, scope{kind: "chats"}, id, func(c *chat) *response {
		if msg != "" {
			return e.badRequest(q, msg)
		}
		i := slices.IndexFunc(c.Apps, func(in *installation) bool { return in.ID == installationID })
		if i < 0 {
			return e.graphError(q, http.StatusNotFound, "NotFound", fmt.Sprintf("App installation '%s' was not found in the chat.", installationID), nil)
		}
		out := installationJSON(c.Apps[i], aq)
		out["@odata.context"] = e.installedAppsContext(q, c) + "/$entity"
		return e.jsonResponse(http.StatusOK, out, nil)
	})
}
