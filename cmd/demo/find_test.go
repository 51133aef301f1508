package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// findServer is an emulator behind a loopback server that counts every
// request and may answer some itself (throttle).
type findServer struct {
	emu      *graphchattest.Emulator
	url      string // base URL, /v1.0 included
	requests atomic.Int64
	mu       sync.Mutex
	throttle func(r *http.Request) bool // answered 429 when true
}

// newFindServer starts one with the built-in directory and the extra
// users.
func newFindServer(t *testing.T, extra ...graphchattest.User) *findServer {
	t.Helper()
	base := time.Now().Add(-time.Hour)
	var n atomic.Int64
	s := &findServer{emu: graphchattest.New(&graphchattest.Options{
		Users: append(graphchattest.DefaultUsers(), extra...),
		// Creation times a second apart: "oldest" is decided by the date.
		Now: func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) },
	})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		throttle := s.throttle
		s.mu.Unlock()
		if throttle != nil && throttle(r) {
			w.Header().Set("Retry-After", "120") // beyond the pipeline's longest wait: no retry
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"code":"TooManyRequests","message":"Too many requests."}}`))
			return
		}
		s.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/v1.0"
	return s
}

func (s *findServer) setThrottle(f func(*http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = f
}

// sent is the number of requests the server received.
func (s *findServer) sent() int64 { return s.requests.Load() }

// chatPosts counts the creations the emulator was asked for.
func (s *findServer) chatPosts() int { return countChatPosts(s.emu.Entries()) }

// seedGroup creates a group chat as Megan directly on the emulator (not
// through the demo) and returns its id.
func (s *findServer) seedGroup(t *testing.T, topic string, users ...string) string {
	t.Helper()
	body := groupBody(users...)
	if topic != "" {
		body = strings.Replace(body, `{"chatType":"group",`, `{"chatType":"group","topic":`+jsonString(topic)+`,`, 1)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/chats", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var chat struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&chat); err != nil || resp.StatusCode != http.StatusCreated || chat.ID == "" {
		t.Fatalf("seeding a chat: %d %v", resp.StatusCode, err)
	}
	return chat.ID
}

// manyUsers are n made-up users of the emulated tenant.
func manyUsers(n int) []graphchattest.User {
	var us []graphchattest.User
	for i := 1; i <= n; i++ {
		us = append(us, graphchattest.User{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), UserPrincipalName: fmt.Sprintf("user%d@contoso.com", i), UserType: "Member"})
	}
	return us
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// docOf decodes standard output as exactly one JSON document into v, and
// checks that nothing was printed on standard error and that a failure is
// an error member carrying the exit code, or a refusal by the policy.
func docOf(t *testing.T, r result, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil || dec.More() {
		t.Fatalf("stdout is not exactly one JSON document (%v):\n%s\n%s", err, r.stdout, r.stderr)
	}
	if strings.TrimSpace(r.stderr) != "" {
		t.Errorf("standard error with --json: %q", r.stderr)
	}
	var e struct {
		Error      *errorDoc
		Allowed    *bool
		Violations []json.RawMessage
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	refused := e.Allowed != nil && !*e.Allowed && len(e.Violations) > 0 // by the policy
	switch {
	case refused && r.code != exitRefused:
		t.Errorf("refused by the policy with exit %d", r.code)
	case e.Error == nil && !refused && r.code != exitOK:
		t.Errorf("exit %d without an error member: %s", r.code, raw)
	case e.Error != nil && (e.Error.ExitCode != r.code || e.Error.Kind != kindOf(r.code) || e.Error.Message == ""):
		t.Errorf("error member %+v with exit %d", e.Error, r.code)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
}

type chatsDoc struct {
	Users    []string
	Chats    []chatInfo
	Warnings []json.RawMessage
	Error    *errorDoc
}

func chatIDs(cs []chatInfo) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

var (
	findToken = graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadBasic", "User.ReadBasic.All")
	trio      = []string{"megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"}
)

// find prints the chats whose members are exactly the users, oldest first,
// narrowed by type and topic; bad input is an error naming it, and what is
// refused before sending sends nothing.
func TestFindCommand(t *testing.T) {
	t.Parallel()
	s := newFindServer(t)
	first := s.seedGroup(t, "Plan", trio...)
	second := s.seedGroup(t, "Plan", graphchattest.MeganID, graphchattest.LeeID, graphchattest.NestorID)
	other := s.seedGroup(t, "Other", trio...)
	untitled := s.seedGroup(t, "", trio...)
	s.seedGroup(t, "Plan", append(trio, "alex@contoso.com")...) // one member more
	s.seedGroup(t, "Plan", "megan@contoso.com", "lee@contoso.com", "alex@contoso.com")
	on := []string{"find", "--target", s.url, "--json"}
	past := time.Now().Add(-2 * time.Hour).Unix()
	expired := graphchattest.Token(graphchattest.Claims{Scopes: "Chat.ReadBasic User.ReadBasic.All", ObjectID: graphchattest.MeganID, TenantID: graphchattest.DefaultTenantID, IssuedAt: past, Expires: past + 60})
	tests := []struct {
		name   string
		args   []string
		code   int
		want   []string // chat ids, oldest first
		names  string   // in the error message
		listed bool     // whether chats may have been listed
	}{
		{"every match", append(on, trio...), exitOK, []string{first, second, other, untitled}, "", true},
		{"by object id, any order", append(on, graphchattest.NestorID, "LEE@contoso.com", graphchattest.MeganID), exitOK, []string{first, second, other, untitled}, "", true},
		{"topic", append(on, append([]string{"--topic", "Plan"}, trio...)...), exitOK, []string{first, second}, "", true},
		{"no topic", append(on, append([]string{"--topic", ""}, trio...)...), exitOK, []string{untitled}, "", true},
		{"type", append(on, append([]string{"--type", "oneOnOne"}, trio...)...), exitOK, []string{}, "", true},
		{"no match", append(on, "megan@contoso.com", "nestor@contoso.com"), exitOK, []string{}, "", true},
		{"with a token", append(on, append([]string{"--token", findToken, "--type", "group", "--topic", "Other"}, trio...)...), exitOK, []string{other}, "", true},
		{"application", append(on, append([]string{"--auth", "application", "--user", "lee@contoso.com", "--topic", "Other"}, trio...)...), exitOK, []string{other}, "", true},
		{"unknown user", append(on, "megan@contoso.com", "nobody@contoso.com"), exitRefused, nil, "nobody@contoso.com", false},
		{"external by name", append(on, "megan@contoso.com", "--external", "grady@fabrikam.com="+graphchattest.PartnerTenantID, "grady@fabrikam.com"), exitRefused, nil, "grady@fabrikam.com", false},
		{"other tenant's name unknown", append(on, "megan@contoso.com", "grady@fabrikam.com"), exitRefused, nil, "grady@fabrikam.com", false},
		{"caller not among them", append(on, "lee@contoso.com", "nestor@contoso.com"), exitRefused, nil, graphchattest.MeganID, false},
		{"application user not among them", append(on, "--auth", "application", "--user", "alex@contoso.com", "megan@contoso.com", "lee@contoso.com"), exitRefused, nil, "alex@contoso.com", false},
		{"no users", on, exitUsage, nil, "users", false},
		{"bad type", append(on, append([]string{"--type", "chanel"}, trio...)...), exitUsage, nil, "chanel", false},
		{"topic on one-on-one", append(on, "--type", "oneOnOne", "--topic", "x", "megan@contoso.com", "lee@contoso.com"), exitUsage, nil, "--topic", false},
		{"not a user", append(on, "megan@contoso.com", "lee"), exitUsage, nil, `"lee"`, false},
		{"twice", append(on, "megan@contoso.com", "lee@contoso.com", "LEE@contoso.com"), exitUsage, nil, "LEE@contoso.com", false},
		{"application without --user", append(on, append([]string{"--auth", "application"}, trio...)...), exitUsage, nil, "--user", false},
		{"missing permission", append(on, append([]string{"--token", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")}, trio...)...), exitRefused, nil, "permission_missing", false},
		{"names without resolve-user", append(on, append([]string{"--token", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadBasic")}, trio...)...), exitRefused, nil, "User.ReadBasic.All", false},
		{"expired token", append(on, append([]string{"--token", expired}, trio...)...), exitAuth, nil, "expired", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.emu.Entries())
			r := demo(t, nil, tt.args...)
			var doc chatsDoc
			docOf(t, r, &doc)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tt.code, r.stdout)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, chatIDs(doc.Chats)); diff != "" {
					t.Errorf("chats (-want +got)\n%s", diff)
				}
			}
			if tt.names != "" && (doc.Error == nil || !strings.Contains(doc.Error.Message, tt.names)) && (doc.Error != nil || !strings.Contains(r.stdout, tt.names)) {
				t.Errorf("the error does not name %q: %s", tt.names, r.stdout)
			}
			for _, ent := range s.emu.Entries()[before:] {
				if ent.Method != http.MethodGet || !tt.listed && strings.HasSuffix(ent.Path, "/chats") {
					t.Errorf("sent %s %s", ent.Method, ent.Path)
				}
			}
		})
	}
	// Matches come with all their members.
	r := demo(t, nil, append(on, append([]string{"--topic", "Other"}, trio...)...)...)
	var doc chatsDoc
	docOf(t, r, &doc)
	if len(doc.Chats) != 1 || len(doc.Chats[0].Members) != 3 || doc.Chats[0].Members[0].UserID == "" || *doc.Chats[0].Topic != "Other" {
		t.Errorf("%+v", doc.Chats)
	}
	// Text: the result on standard output.
	r = demo(t, nil, append([]string{"find", "--target", s.url, "--topic", "Plan"}, trio...)...)
	if r.code != exitOK || !strings.Contains(r.stdout, "2 chats have exactly these members") || !strings.Contains(r.stdout, first) || r.stderr != "" {
		t.Errorf("text: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = demo(t, nil, "find", "--target", s.url, "megan@contoso.com", "nobody@contoso.com")
	if r.code != exitRefused || r.stdout != "" || !strings.Contains(r.stderr, "nobody@contoso.com") {
		t.Errorf("text error: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// On the embedded emulator (the default target), find reads the chats the
// emulator holds.
func TestFindEmbedded(t *testing.T) {
	t.Parallel()
	e, _, _ := newEnv("")
	var id string
	e.emulatorStarted = func(srv *graphchattest.Server) {
		s := &findServer{emu: srv.Emulator, url: srv.URL}
		id = s.seedGroup(t, "Plan", trio...)
	}
	r := demo(t, e, append([]string{"find", "--json"}, trio...)...)
	var doc chatsDoc
	docOf(t, r, &doc)
	if r.code != exitOK || len(doc.Chats) != 1 || doc.Chats[0].ID != id {
		t.Errorf("exit %d: %s", r.code, r.stdout)
	}
}

// A listing throttled part way is an error naming the page and the wait,
// in find, list and create --reuse; nothing is created.
func TestListingThrottled(t *testing.T) {
	t.Parallel()
	s := newFindServer(t)
	for range 51 { // two pages of 50
		s.seedGroup(t, "", trio...)
	}
	s.setThrottle(func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/chats") && r.URL.Query().Get("$skiptoken") != ""
	})
	posts := s.chatPosts()
	for _, args := range [][]string{
		append([]string{"find", "--target", s.url, "--json"}, trio...),
		{"list", "--target", s.url, "--json"},
		append([]string{"create", "--target", s.url, "--json", "--reuse", "--group"}, trio...),
	} {
		r := demo(t, nil, args...)
		var doc chatsDoc
		docOf(t, r, &doc)
		if r.code != exitRefused || doc.Error == nil || doc.Error.Status != http.StatusTooManyRequests || doc.Error.RetryAfterSeconds != 120 || !strings.Contains(doc.Error.Message, "page 2") {
			t.Errorf("%s: exit %d: %s", args[0], r.code, r.stdout)
		}
		if len(doc.Chats) != 0 {
			t.Errorf("%s: a partial answer: %d chats", args[0], len(doc.Chats))
		}
	}
	if n := s.chatPosts() - posts; n != 0 {
		t.Errorf("%d chats created", n)
	}
}

// A chat listed with 25 members, the most the listing expands, is
// completed with its members before it matches (list-members).
func TestFindCompletesLargeChats(t *testing.T) {
	t.Parallel()
	many := manyUsers(25)
	s := newFindServer(t, many...)
	users := []string{graphchattest.MeganID}
	for _, u := range many {
		users = append(users, u.ID)
	}
	id := s.seedGroup(t, "", users...) // 26 members
	memberReads := func() int {
		n := 0
		for _, ent := range s.emu.Entries() {
			if ent.Method == http.MethodGet && strings.HasSuffix(ent.Path, "/members") {
				n++
			}
		}
		return n
	}
	for _, tt := range []struct {
		name  string
		users []string
		want  []string
	}{
		{"all 26", users, []string{id}},
		{"25 of them", users[:25], []string{}},
	} {
		before := memberReads()
		r := demo(t, nil, append([]string{"find", "--target", s.url, "--json"}, tt.users...)...)
		var doc chatsDoc
		docOf(t, r, &doc)
		if diff := cmp.Diff(tt.want, chatIDs(doc.Chats)); r.code != exitOK || diff != "" {
			t.Errorf("%s: exit %d (-want +got)\n%s", tt.name, r.code, diff)
		}
		if len(doc.Chats) == 1 && len(doc.Chats[0].Members) != 26 {
			t.Errorf("%s: %d members", tt.name, len(doc.Chats[0].Members))
		}
		if memberReads() != before+1 {
			t.Errorf("%s: the members were read %d times, want once", tt.name, memberReads()-before)
		}
	}
}

// A failed find --json keeps the document of a successful one (users as
// given, chats empty, warnings) and adds the error, and the verdict when the
// policy refused; bad usage is a plain usage error, as in create.
func TestFindJSONFailureShape(t *testing.T) {
	t.Parallel()
	s := newFindServer(t)
	s.seedGroup(t, "Plan", trio...)
	past := time.Now().Add(-2 * time.Hour).Unix()
	expired := graphchattest.Token(graphchattest.Claims{Scopes: "Chat.ReadBasic User.ReadBasic.All", ObjectID: graphchattest.MeganID, TenantID: graphchattest.DefaultTenantID, IssuedAt: past, Expires: past + 60})
	on := []string{"find", "--target", s.url, "--json"}
	tests := []struct {
		name    string
		flags   []string
		users   []string
		code    int
		refused bool // by the policy: allowed false, with violations
	}{
		{"unknown user (the service)", nil, []string{"megan@contoso.com", "nobody@contoso.com"}, exitRefused, false},
		{"caller not among them", nil, []string{"lee@contoso.com", "nestor@contoso.com"}, exitRefused, false},
		{"missing permission (the policy)", []string{"--token", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")}, trio, exitRefused, true},
		{"expired token", []string{"--token", expired}, trio, exitAuth, false},
		{"running emulator gone", []string{"--target", "http://127.0.0.1:1"}, trio, exitRefused, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := demo(t, nil, slices.Concat(on, tt.flags, tt.users)...)
			var doc map[string]json.RawMessage
			docOf(t, r, &doc)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tt.code, r.stdout)
			}
			for _, k := range []string{"users", "chats", "warnings", "error"} {
				if _, ok := doc[k]; !ok {
					t.Errorf("no %q in %s", k, r.stdout)
				}
			}
			var users []string
			if json.Unmarshal(doc["users"], &users) != nil || !slices.Equal(users, tt.users) {
				t.Errorf("users %s, want %q", doc["users"], tt.users)
			}
			if string(doc["chats"]) != "[]" {
				t.Errorf("chats %s, want []", doc["chats"])
			}
			var v struct {
				Allowed    *bool
				Violations []struct{ Code string }
			}
			json.Unmarshal([]byte(r.stdout), &v)
			if got := v.Allowed != nil && !*v.Allowed && len(v.Violations) > 0; got != tt.refused {
				t.Errorf("refused by the policy: %v, want %v: %s", got, tt.refused, r.stdout)
			}
			if tt.refused && v.Violations[0].Code != "permission_missing" {
				t.Errorf("violations %+v, want permission_missing", v.Violations)
			}
		})
	}
	// Bad usage: a plain usage error, as create --json gives.
	r := demo(t, nil, append(on, "megan@contoso.com", "lee")...)
	var doc map[string]json.RawMessage
	docOf(t, r, &doc)
	if _, ok := doc["error"]; r.code != exitUsage || !ok || len(doc) != 1 {
		t.Errorf("usage: exit %d: %s", r.code, r.stdout)
	}
}
