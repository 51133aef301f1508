package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
	tokens := [][]string{nil, {"--token", tok}}
	dirs := [][]string{nil, {"--directory", "../../testdata/demo/users.json"}}
	kinds := [][]string{nil,
		{"--guest", graphchattest.AdaID},
		{"--external", graphchattest.GradyID + "=" + graphchattest.PartnerTenantID},
		{"--external", graphchattest.AlexID + "=" + graphchattest.PartnerTenantID},
	}
	targets := []string{"emulator", strings.TrimSuffix(running.URL, "/v1.0")}
	var allowed, refused, usage, serviceRefused int
	for _, file := range files {
		for _, target := range targets {
			for _, tk := range tokens {
				for _, d := range dirs {
					for _, kf := range kinds {
						flags := append(append(append([]string{"--json", "--target", target}, tk...), d...), kf...)
						name := fmt.Sprintf("%s %v", filepath.Base(file), strings.Join(flags, " "))
						name = strings.ReplaceAll(name, tok, "TOKEN")

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
	t.Logf("%d allowed, %d refused, %d not judged (bad input or usage); %d allowed then refused by the service", allowed, refused, usage, serviceRefused)
	if allowed == 0 || refused == 0 {
		t.Errorf("the combinations do not cover both verdicts")
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
