package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// verdictOf decodes a validate or create JSON document into what the
// equivalence is about: allowed, the violation codes, or the exit code of
// an error.
type verdictOf struct {
	Allowed    bool
	Violations []policy.Violation
	Error      *errorDoc
}

func (v verdictOf) codes() []string {
	var out []string
	for _, x := range v.Violations {
		out = append(out, string(x.Code)+"@"+x.Field)
	}
	return out
}

func decodeDoc(t *testing.T, r result) verdictOf {
	t.Helper()
	var v verdictOf
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", r.stdout)
	}
	return v
}

// countChatPosts counts the creations a server was asked for.
func countChatPosts(entries []graphchattest.Entry) int {
	n := 0
	for _, e := range entries {
		if e.Method == "POST" && strings.HasSuffix(e.Path, "/chats") {
			n++
		}
	}
	return n
}

// For every body of testdata/create-chat and every combination of what is
// known (a token or none, a directory or none, a guest or external flag or
// none), on the embedded emulator and on a running one: validate's verdict
// is what create refuses before sending, and what validate allows is sent.
func TestValidateAgreesWithCreate(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(testdata("*.json"))
	if err != nil || len(files) < 50 {
		t.Fatalf("bodies: %v %d", err, len(files))
	}
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "cases.json") })
	running := emulator(t)
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	// Without Chat.Create, create's verdict holds the body's violations
	// and the permission, as validate's does.
	noCreate := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadBasic")
	tokens := [][]string{nil, {"--token", tok}, {"--token", noCreate}, {"--scopes", "Chat.ReadBasic"}}
	dirs := [][]string{nil, {"--directory", "../../testdata/demo/users.json"}}
	kinds := [][]string{nil,
		{"--guest", graphchattest.AdaID},
		{"--external", graphchattest.GradyID + "=" + graphchattest.PartnerTenantID},
		{"--external", graphchattest.AlexID + "=" + graphchattest.PartnerTenantID},
	}
	targets := []string{"emulator", strings.TrimSuffix(running.URL, "/v1.0")}
	var allowed, refused, usage, serviceRefused, withPermission int
	for _, file := range files {
		for _, target := range targets {
			for _, tk := range tokens {
				for _, d := range dirs {
					for _, kf := range kinds {
						flags := append(append(append([]string{"--json", "--target", target}, tk...), d...), kf...)
						name := fmt.Sprintf("%s %v", filepath.Base(file), strings.Join(flags, " "))
						name = strings.ReplaceAll(strings.ReplaceAll(name, tok, "TOKEN"), noCreate, "TOKEN-WITHOUT-CHAT.CREATE")

						val := demo(t, nil, append([]string{"validate", file}, flags...)...)
						var posts int
						e, _, _ := newEnv("")
						var srv *graphchattest.Server
						e.emulatorStarted = func(s *graphchattest.Server) { srv = s }
						before := countChatPosts(running.Entries())
						cr := demo(t, e, append([]string{"create", file}, flags...)...)
						if target == "emulator" {
							if srv != nil {
								posts = countChatPosts(srv.Entries())
							}
						} else {
							posts = countChatPosts(running.Entries()) - before
						}
						vv, cv := decodeDoc(t, val), decodeDoc(t, cr)
						switch val.code {
						case exitOK:
							allowed++
							if posts != 1 {
								t.Errorf("%s: validate allows it, but create sent %d requests (exit %d)\n%s", name, posts, cr.code, cr.stdout)
							}
							// Only a running emulator's directory can be unknown
							// (no --directory): it may then refuse what the
							// demo could not know. Everywhere else, it accepts.
							if cr.code != exitOK {
								if target == "emulator" || d != nil {
									serviceRefused++
									t.Errorf("%s: allowed, then refused by the emulator: %v", name, cv.Error)
								} else {
									t.Logf("%s: allowed with the directory unknown, then refused by the emulator: %v", name, cv.Error.Code)
								}
							}
						case exitRefused:
							refused++
							if codes := vv.codes(); len(codes) > 1 && slices.Contains(codes, string(policy.CodePermissionMissing)+"@grant.permissions") {
								withPermission++
							}
							if cr.code != exitRefused || posts != 0 || !slices.Equal(vv.codes(), cv.codes()) {
								t.Errorf("%s: validate refuses %v; create: exit %d, %d sent, %v\n%s", name, vv.codes(), cr.code, posts, cv.codes(), cr.stdout)
							}
						default:
							usage++
							if cr.code != val.code || posts != 0 {
								t.Errorf("%s: validate exit %d (%v); create exit %d, %d sent", name, val.code, vv.Error, cr.code, posts)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d allowed, %d refused (%d with the permission and more), %d not judged (bad input or usage); %d allowed then refused by the service", allowed, refused, withPermission, usage, serviceRefused)
	if allowed == 0 || refused == 0 || withPermission == 0 {
		t.Errorf("the combinations do not cover both verdicts, and a refusal of the permission with the body's violations")
	}
}

// The defects that made validate and create disagree, each on its own.
func TestOneKnowledge(t *testing.T) {
	t.Parallel()
	users := "../../testdata/demo/users.json"
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	megangrady := `{"chatType":"oneOnOne","members":[
	  {"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('megan@contoso.com')"},
	  {"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('` + graphchattest.GradyID + `')"}]}`
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		codes []string // violation codes, when refused
		sent  int
	}{
		// With a token and a directory, an external member without its
		// tenantId is refused by both (create used to send it: 400).
		{"external without tenant, token and directory", megangrady, []string{"create", "--json", "--token", tok, "--directory", users, "-"}, exitRefused, []string{"external_tenant"}, 0},
		{"the same, validated", megangrady, []string{"validate", "--json", "--token", tok, "--directory", users, "-"}, exitRefused, []string{"external_tenant"}, 0},
		// The embedded emulator's directory knows Ada is a guest: built
		// from it, she is sent as a guest and the chat is created.
		{"guest known to the emulator", "", []string{"create", "--json", "--group", "megan@contoso.com", "lee@contoso.com", "ada_fabrikam.com#EXT#@contoso.onmicrosoft.com"}, exitOK, nil, 1},
		// In a body, the same guest as owner is refused before sending.
		{"guest owner known to the emulator", "", []string{"create", "--json", testdata("bad-guest-owner.json")}, exitRefused, []string{"guest_role"}, 0},
		// An external user of the emulator's directory carries its tenant.
		{"external known to the emulator", "", []string{"create", "--json", "--one-on-one", "megan@contoso.com", graphchattest.GradyID}, exitOK, nil, 1},
		// An empty user is refused before sending.
		{"empty user", "", []string{"create", "--json", "--group", "megan@contoso.com", "lee@contoso.com", ""}, exitRefused, []string{"user_missing"}, 0},
		// Flags that contradict the directory are bad usage.
		{"guest flag against the directory", "", []string{"create", "--json", "--guest", "lee@contoso.com", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitUsage, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := newEnv(tt.stdin)
			var srv *graphchattest.Server
			e.emulatorStarted = func(s *graphchattest.Server) { srv = s }
			r := demo(t, e, tt.args...)
			doc := decodeDoc(t, r)
			sent := 0
			if srv != nil {
				sent = countChatPosts(srv.Entries())
			}
			var codes []string
			for _, v := range doc.Violations {
				codes = append(codes, string(v.Code))
			}
			if r.code != tt.code || sent != tt.sent || !slices.Equal(codes, tt.codes) {
				t.Errorf("exit %d (want %d), %d sent (want %d), codes %v (want %v)\n%s\n%s", r.code, tt.code, sent, tt.sent, codes, tt.codes, r.stdout, r.stderr)
			}
		})
	}
}

// bulkLine turns a create-chat body into the bulk JSON line that asks for
// the same chat, when a line can express it: a chat type, a topic (a
// non-empty string, or none), members bound by users('X') with one role
// and no tenantId, nothing else.
func bulkLine(body []byte) (string, bool) {
	if !utf8.Valid(body) || strings.Contains(string(body), `\ud`) || strings.Contains(string(body), `\uD`) || hasDuplicateKey(body) {
		return "", false // read differently by a JSON line (invalid text, a key given twice)
	}
	var b struct {
		ChatType string `json:"chatType"`
		Topic    *string
		Members  []map[string]any `json:"members"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if dec.Decode(&b) != nil || (b.Topic != nil && *b.Topic == "") {
		return "", false
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil || raw["topic"] != nil && b.Topic == nil { // "topic": null
		return "", false
	}
	for k := range raw {
		if k != "chatType" && k != "topic" && k != "members" {
			return "", false
		}
	}
	type member struct {
		User string `json:"user"`
		Role string `json:"role"`
	}
	var members []member
	var err error
	for _, m := range b.Members {
		roles, _ := m["roles"].([]any)
		bind, _ := m["user@odata.bind"].(string)
		var user string
		user, ok := strings.CutPrefix(bind, "https://graph.microsoft.com/v1.0/users('")
		user, ok2 := strings.CutSuffix(user, "')")
		if len(m) != 3 || m["@odata.type"] != "#microsoft.graph.aadUserConversationMember" || len(roles) != 1 || !ok || !ok2 || user == "" || strings.ContainsAny(user, "'()/") {
			return "", false
		}
		if strings.Contains(user, "#") { // a fragment in a URL: not the user
			return "", false
		}
		if user, err = url.PathUnescape(user); err != nil || strings.ContainsFunc(user, unicode.IsControl) {
			return "", false
		}
		role, _ := roles[0].(string)
		if role != "owner" && role != "guest" {
			return "", false
		}
		members = append(members, member{user, role})
	}
	if (b.ChatType != "group" && b.ChatType != "oneOnOne") || len(members) == 0 {
		return "", false
	}
	line := map[string]any{"type": b.ChatType, "members": members}
	if b.Topic != nil {
		if strings.ContainsFunc(*b.Topic, unicode.IsControl) {
			return "", false
		}
		line["topic"] = *b.Topic
	}
	data, _ := json.Marshal(line)
	return string(data), true
}

// hasDuplicateKey reports a JSON object with a key given twice.
func hasDuplicateKey(body []byte) bool {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	var walk func() bool
	walk = func() bool { // reads one value; true on a duplicate
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, _ := dec.Token()
				key, _ := k.(string)
				if seen[key] || walk() {
					return true
				}
				seen[key] = true
			}
			dec.Token()
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
			dec.Token()
		}
		return false
	}
	return walk()
}

// For the bodies of testdata/create-chat that a bulk line can express, and
// the combinations of what is known of TestValidateAgreesWithCreate: bulk
// refuses a line before sending it exactly when validate refuses the body,
// with the same codes.
func TestBulkAgreesWithValidate(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(testdata("*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var bodies []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		line, ok := bulkLine(data)
		if !ok || slices.ContainsFunc(lines, func(l string) bool { return strings.EqualFold(l, line) }) {
			continue // a line the same as another's would be a duplicate_line
		}
		lines, bodies = append(lines, line), append(bodies, f)
	}
	if len(lines) < 10 {
		t.Fatalf("%d bodies a bulk line can express", len(lines))
	}
	running := emulator(t)
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	input := writeInput(t, t.TempDir(), "bodies.jsonl", lines...)
	var refused, allowed int
	for _, target := range []string{"emulator", strings.TrimSuffix(running.URL, "/v1.0")} {
		for _, tk := range [][]string{nil, {"--token", tok}} {
			for _, d := range [][]string{nil, {"--directory", "../../testdata/demo/users.json"}} {
				for _, kf := range [][]string{nil,
					{"--guest", graphchattest.AdaID},
					{"--external", graphchattest.GradyID + "=" + graphchattest.PartnerTenantID},
					{"--external", graphchattest.AlexID + "=" + graphchattest.PartnerTenantID},
				} {
					flags := append(append(append([]string{"--json", "--target", target}, tk...), d...), kf...)
					name := strings.ReplaceAll(strings.Join(flags, " "), tok, "TOKEN")
					results := filepath.Join(t.TempDir(), "r.jsonl")
					br := demo(t, nil, append(append([]string{"bulk", "--lookup=false", "--results", results}, flags...), input)...)
					recs := map[int]resultRecord{}
					if br.code != exitUsage {
						for _, r := range records(t, results) {
							if r.Status != "sent" {
								recs[r.Line] = r
							}
						}
					}
					for i, body := range bodies {
						if len(kf) == 2 && kf[0] == "--external" && strings.Contains(strings.ToLower(lines[i]), strings.ToLower(strings.Split(kf[1], "=")[0])) {
							// A line's member of no kind whose home tenant is
							// known carries it (as create --group sends it):
							// not the body, which lacks tenantId.
							continue
						}
						val := demo(t, nil, append([]string{"validate", body}, flags...)...)
						vv := decodeDoc(t, val)
						rec := recs[i+1]
						var got []string
						if rec.Error != nil {
							got = slices.Clone(rec.Error.Codes)
						}
						var want []string
						for _, v := range vv.Violations {
							want = append(want, string(v.Code))
						}
						slices.Sort(got)
						slices.Sort(want)
						switch {
						case br.code == exitUsage:
							if val.code != exitUsage {
								t.Errorf("%s: bulk refuses the flags (%s), validate %s exits %d", name, br.stderr, filepath.Base(body), val.code)
							}
						case val.code == exitRefused:
							refused++
							if rec.Status != "refused" || !slices.Equal(got, want) {
								t.Errorf("%s %s: validate refuses %v; bulk: %s %v", name, filepath.Base(body), want, rec.Status, got)
							}
						case val.code == exitOK:
							allowed++
							if rec.Status == "refused" {
								t.Errorf("%s %s: validate allows it; bulk refuses it: %v (%s)", name, filepath.Base(body), got, rec.Error.Message)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d bodies as lines: %d allowed, %d refused", len(lines), allowed, refused)
	if allowed == 0 || refused == 0 {
		t.Errorf("the combinations do not cover both verdicts")
	}
}

// A member of no declared kind in a bulk line is what the program knows of
// its user, as for create --group: a known guest gets the guest role.
func TestBulkMemberFromKnowledge(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	input := writeInput(t, t.TempDir(), "g.csv", "type,topic,members", "group,with a guest,megan@contoso.com;lee@contoso.com;"+graphchattest.AdaID)
	cr := demo(t, nil, "create", "--target", srv.URL, "--group", "--topic", "with a guest", "--guest", graphchattest.AdaID, "megan@contoso.com", "lee@contoso.com", graphchattest.AdaID)
	br := demo(t, nil, "bulk", "--target", srv.URL, "--guest", graphchattest.AdaID, input)
	if cr.code != exitOK || br.code != exitOK {
		t.Errorf("create: exit %d %s; bulk: exit %d %s", cr.code, cr.stderr, br.code, br.stderr)
	}
}
