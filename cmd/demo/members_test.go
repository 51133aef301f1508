package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

type createDoc struct {
	Allowed    bool
	Chat       chatDoc
	Candidates []chatInfo
	Duplicates []chatInfo
	Error      *errorDoc
}

// create --reuse returns the group chat the members have, creates it when
// there is none, and never creates one more when several match.
func TestCreateReuse(t *testing.T) {
	t.Parallel()
	s := newFindServer(t)
	reuse := append([]string{"create", "--target", s.url, "--json", "--reuse", "--group", "--topic", "Plan"}, trio...)
	step := func(name string, args []string, code int) createDoc {
		t.Helper()
		r := demo(t, nil, args...)
		var doc createDoc
		docOf(t, r, &doc)
		if r.code != code {
			t.Fatalf("%s: exit %d, want %d: %s", name, r.code, code, r.stdout)
		}
		return doc
	}
	posts := s.chatPosts()
	made := step("first", reuse, exitOK)
	if made.Chat.Existed || made.Chat.ID == "" || s.chatPosts() != posts+1 {
		t.Fatalf("first: %+v, %d posts", made.Chat, s.chatPosts()-posts)
	}
	again := step("again", reuse, exitOK)
	if !again.Chat.Existed || again.Chat.ID != made.Chat.ID || s.chatPosts() != posts+1 {
		t.Errorf("again: %+v, %d posts", again.Chat, s.chatPosts()-posts)
	}
	// By object id and in another order, it is the same chat.
	ids := step("by id", []string{"create", "--target", s.url, "--json", "--reuse", "--group", "--topic", "Plan", graphchattest.NestorID, graphchattest.MeganID, "lee@contoso.com"}, exitOK)
	if ids.Chat.ID != made.Chat.ID {
		t.Errorf("by id: %+v", ids.Chat)
	}
	// Another program made a second one: --reuse lists both and creates
	// nothing, --pick oldest returns the first.
	second := s.seedGroup(t, "Plan", trio...)
	posts = s.chatPosts()
	several := step("several", reuse, exitRefused)
	if diff := cmp.Diff([]string{made.Chat.ID, second}, chatIDs(several.Candidates)); diff != "" || several.Error == nil {
		t.Errorf("several: candidates (-want +got)\n%s%+v", diff, several.Error)
	}
	oldest := step("oldest", append([]string{"create", "--target", s.url, "--json", "--reuse", "--pick", "oldest", "--group", "--topic", "Plan"}, trio...), exitOK)
	if !oldest.Chat.Existed || oldest.Chat.ID != made.Chat.ID {
		t.Errorf("oldest: %+v", oldest.Chat)
	}
	// An application searches the chats of the member it names.
	app := step("application", append([]string{"create", "--target", s.url, "--json", "--auth", "application", "--user", "nestor@contoso.com", "--reuse", "--pick", "oldest", "--group", "--topic", "Plan"}, trio...), exitOK)
	if app.Chat.ID != made.Chat.ID {
		t.Errorf("application: %+v", app.Chat)
	}
	// A one-on-one chat is the one the service keeps.
	one := step("one-on-one", []string{"create", "--target", s.url, "--json", "--reuse", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitOK)
	if one2 := step("one-on-one again", []string{"create", "--target", s.url, "--json", "--reuse", "--one-on-one", "megan@contoso.com", "lee@contoso.com"}, exitOK); !one2.Chat.Existed || one2.Chat.ID != one.Chat.ID {
		t.Errorf("one-on-one: %+v then %+v", one.Chat, one2.Chat)
	}
	if n := s.chatPosts() - posts; n != 2 {
		t.Errorf("%d creations sent, want the two one-on-one requests", n)
	}

	// Refused before sending anything but lookups.
	sent, entries := s.sent(), len(s.emu.Entries())
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"unknown user", []string{"--reuse", "--group", "megan@contoso.com", "lee@contoso.com", "nobody@contoso.com"}, exitRefused},
		{"pick without reuse", append([]string{"--pick", "oldest", "--group"}, trio...), exitUsage},
		{"pick newest", append([]string{"--reuse", "--pick", "newest", "--group"}, trio...), exitUsage},
		{"reuse a body", []string{"--reuse", testdata("docs-2-group.json")}, exitUsage},
		{"user without reuse", append([]string{"--user", "lee@contoso.com", "--group"}, trio...), exitUsage},
		{"application without user", append([]string{"--auth", "application", "--reuse", "--group"}, trio...), exitUsage},
		{"caller missing", []string{"--reuse", "--group", "lee@contoso.com", "nestor@contoso.com", "alex@contoso.com"}, exitRefused},
		{"no list permission", append([]string{"--token", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create"), "--reuse", "--group"}, trio...), exitRefused},
	} {
		r := demo(t, nil, append([]string{"create", "--target", s.url, "--json"}, tt.args...)...)
		docOf(t, r, nil)
		if r.code != tt.code {
			t.Errorf("%s: exit %d, want %d: %s", tt.name, r.code, tt.code, r.stdout)
		}
	}
	// The users of the first were looked up (GET /users/{upn}), nothing
	// else was sent.
	for _, ent := range s.emu.Entries()[entries:] {
		if ent.Method != http.MethodGet || !strings.HasPrefix(ent.Path, "/v1.0/users/") || strings.HasSuffix(ent.Path, "/chats") {
			t.Errorf("sent %s %s", ent.Method, ent.Path)
		}
	}
	if n := s.sent() - sent; n != int64(len(s.emu.Entries())-entries) {
		t.Errorf("%d requests sent", n)
	}
	// Text: the candidates are the result, the error a diagnostic.
	r := demo(t, nil, append([]string{"create", "--target", s.url, "--reuse", "--group", "--topic", "Plan"}, trio...)...)
	if r.code != exitRefused || !strings.Contains(r.stdout, second) || !strings.Contains(r.stderr, "--pick oldest") {
		t.Errorf("text: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// list, get, members and remove-member, each with its JSON document.
func TestChatCommands(t *testing.T) {
	t.Parallel()
	s := newFindServer(t)
	plan := s.seedGroup(t, "Plan", trio...)
	other := s.seedGroup(t, "", "megan@contoso.com", "lee@contoso.com", "alex@contoso.com")
	r := demo(t, nil, "create", "--target", s.url, "--one-on-one", "megan@contoso.com", "nestor@contoso.com", "--json")
	var one createDoc
	docOf(t, r, &one)
	on := func(args ...string) []string { return append(args, "--target", s.url, "--json") }

	t.Run("list", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want []string
		}{
			{on("list"), []string{plan, other, one.Chat.ID}},
			{on("list", "--type", "group"), []string{plan, other}},
			{on("list", "--type", "group", "--topic", "Plan"), []string{plan}},
			{on("list", "--auth", "application", "--user", "nestor@contoso.com"), []string{plan, one.Chat.ID}},
			{on("list", "--token", findToken, "--user", "megan@contoso.com"), []string{plan, other, one.Chat.ID}},
		} {
			r := demo(t, nil, tt.args...)
			var doc chatsDoc
			docOf(t, r, &doc)
			if diff := cmp.Diff(tt.want, chatIDs(doc.Chats)); r.code != exitOK || diff != "" {
				t.Errorf("%v: exit %d (-want +got)\n%s", tt.args, r.code, diff)
			}
		}
	})
	t.Run("get", func(t *testing.T) {
		r := demo(t, nil, on("get", "--chat", plan)...)
		var doc struct{ Chat chatInfo }
		docOf(t, r, &doc)
		if r.code != exitOK || doc.Chat.ID != plan || doc.Chat.ChatType != "group" || doc.Chat.Topic == nil || *doc.Chat.Topic != "Plan" || doc.Chat.CreatedDateTime == "" {
			t.Errorf("exit %d: %+v", r.code, doc.Chat)
		}
		r = demo(t, nil, on("get", "--chat", "19:none@thread.v2")...)
		var missing struct{ Error *errorDoc }
		docOf(t, r, &missing)
		if r.code != exitRefused || missing.Error.Status != http.StatusNotFound || !strings.Contains(missing.Error.Message, "19:none@thread.v2") {
			t.Errorf("no such chat: exit %d: %s", r.code, r.stdout)
		}
	})
	t.Run("members", func(t *testing.T) {
		r := demo(t, nil, on("members", "--chat", plan)...)
		var doc membersDoc
		docOf(t, r, &doc)
		var users []string
		for _, m := range doc.Members {
			users = append(users, m.UserID)
			if m.MembershipID == "" || len(m.Roles) != 1 {
				t.Errorf("member %+v", m)
			}
		}
		if want := []string{graphchattest.MeganID, graphchattest.LeeID, graphchattest.NestorID}; r.code != exitOK || doc.ChatID != plan || !cmp.Equal(want, users) {
			t.Errorf("exit %d: %v", r.code, users)
		}
	})
	t.Run("remove-member", func(t *testing.T) {
		r := demo(t, nil, on("remove-member", "--chat", plan, "lee@contoso.com")...)
		var doc removedDoc
		docOf(t, r, &doc)
		if r.code != exitOK || !doc.Removed || doc.User != "lee@contoso.com" {
			t.Errorf("exit %d: %s", r.code, r.stdout)
		}
		r = demo(t, nil, on("members", "--chat", plan)...)
		var left membersDoc
		docOf(t, r, &left)
		if len(left.Members) != 2 {
			t.Errorf("members left: %+v", left.Members)
		}
		deletes := func() int {
			n := 0
			for _, ent := range s.emu.Entries() {
				if ent.Method == http.MethodDelete {
					n++
				}
			}
			return n
		}
		before := deletes()
		r = demo(t, nil, on("remove-member", "--chat", plan, "lee@contoso.com")...)
		var again struct{ Error *errorDoc }
		docOf(t, r, &again)
		if r.code != exitRefused || !strings.Contains(again.Error.Message, "not a member") || deletes() != before {
			t.Errorf("not a member: exit %d: %s", r.code, r.stdout)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		sent := s.sent()
		for _, tt := range []struct {
			args []string
			code int
		}{
			{on("get"), exitUsage},
			{on("get", "--chat", "nope"), exitUsage},
			{on("get", "--chat", "19:x@thread.v2/members"), exitUsage},
			{on("get", "--chat", plan, "extra"), exitUsage},
			{on("members", "--chat", plan, "extra"), exitUsage},
			{on("remove-member", "--chat", plan), exitUsage},
			{on("remove-member", "--chat", plan, "lee"), exitUsage},
			{on("list", "--auth", "application"), exitUsage},
			{on("list", "--type", "channel"), exitUsage},
			{on("list", "extra"), exitUsage},
			{on("members", "--chat", plan, "--token", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")), exitRefused},
			{on("remove-member", "--chat", plan, "lee@contoso.com", "--token", graphchattest.DelegatedToken(graphchattest.MeganID, "ChatMember.ReadWrite")), exitRefused}, // no User.ReadBasic.All for a name
		} {
			r := demo(t, nil, tt.args...)
			docOf(t, r, nil)
			if r.code != tt.code {
				t.Errorf("%v: exit %d, want %d: %s", tt.args, r.code, tt.code, r.stdout)
			}
		}
		if n := s.sent() - sent; n != 0 {
			t.Errorf("%d requests sent", n)
		}
	})
}

// add-member with several users sends one members/add request and reports
// each member's outcome; a member the policy refuses refuses them all.
func TestAddSeveralMembers(t *testing.T) {
	t.Parallel()
	s := newFindServer(t)
	id := s.seedGroup(t, "", trio...)
	adds := func() int {
		n := 0
		for _, ent := range s.emu.Entries() {
			if ent.Method == http.MethodPost && strings.Contains(ent.Path, "/members") {
				n++
			}
		}
		return n
	}
	r := demo(t, nil, "add-member", "--target", s.url, "--chat", id, "--json", "alex@contoso.com", graphchattest.JacobID, "lee@contoso.com", "nobody@contoso.com")
	var doc struct {
		Allowed bool
		ChatID  string
		Members []addedDoc
		Error   *errorDoc
	}
	docOf(t, r, &doc)
	type outcome struct {
		User  string
		Added bool
		Code  string
	}
	var got []outcome
	for _, m := range doc.Members {
		o := outcome{User: m.User, Added: m.Added}
		if m.Error != nil {
			o.Code = m.Error.Code
		}
		got = append(got, o)
	}
	want := []outcome{{"alex@contoso.com", true, ""}, {graphchattest.JacobID, true, ""}, {"lee@contoso.com", false, "Conflict"}, {"nobody@contoso.com", false, "NotFound"}}
	if diff := cmp.Diff(want, got); diff != "" || r.code != exitRefused || doc.ChatID != id || adds() != 1 {
		t.Errorf("exit %d, %d requests; outcomes (-want +got)\n%s", r.code, adds(), diff)
	}
	// All added: exit 0, in text one line a member.
	r = demo(t, nil, "add-member", "--target", s.url, "--chat", id, "--history", "all", "o'brien@contoso.com", graphchattest.PatID+"x")
	if r.code != exitUsage {
		t.Errorf("not a user: exit %d: %s", r.code, r.stderr)
	}
	before := adds()
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"guest as owner", []string{"--role", "owner", "--guest", graphchattest.AdaID, "o'brien@contoso.com", graphchattest.AdaID}, exitRefused, "members[1].roles"},
		{"tenant id for several", []string{"--tenant-id", graphchattest.PartnerTenantID, "o'brien@contoso.com", graphchattest.GradyID}, exitUsage, "--external"},
		{"twice", []string{"o'brien@contoso.com", "O'BRIEN@contoso.com"}, exitUsage, "twice"},
	} {
		r := demo(t, nil, append([]string{"add-member", "--target", s.url, "--chat", id}, tt.args...)...)
		if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
			t.Errorf("%s: exit %d, want %d, output lacks %q:\n%s%s", tt.name, r.code, tt.code, tt.want, r.stdout, r.stderr)
		}
	}
	if adds() != before {
		t.Errorf("refused additions were sent")
	}
	r = demo(t, nil, "add-member", "--target", s.url, "--chat", id, "o'brien@contoso.com", "--external", graphchattest.GradyID+"="+graphchattest.PartnerTenantID, graphchattest.GradyID)
	if r.code != exitOK || strings.Count(r.stdout, "added ") != 2 || adds() != before+1 {
		t.Errorf("all added: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Every new command has a description, flags and examples in its help.
func TestFindCommandsHelp(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"find", "list", "get", "members", "remove-member", "add-member", "create"} {
		r := demo(t, nil, "help", name)
		if r.code != exitOK || !strings.Contains(r.stdout, "usage: demo "+name) || !strings.Contains(r.stdout, "examples:") || !strings.Contains(r.stdout, "--target") {
			t.Errorf("help %s: exit %d\n%s", name, r.code, r.stdout)
		}
	}
	if r := demo(t, nil, "help", "create"); !strings.Contains(r.stdout, "--reuse") || !strings.Contains(r.stdout, "--pick") {
		t.Errorf("create's help lacks --reuse: %s", r.stdout)
	}
}
