package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

var reuseToken = graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All", "ChatMessage.Send")

// listings counts the requests that listed chats.
func (s *findServer) listings() int {
	n := 0
	for _, en := range s.emu.Entries() {
		if en.Method == http.MethodGet && strings.HasSuffix(en.Path, "/chats") {
			n++
		}
	}
	return n
}

// groupLine is a JSON Lines group chat, with a first message unless "".
func groupLine(topic, message string, users ...string) string {
	var ms []string
	for _, u := range users {
		ms = append(ms, `{"user":`+jsonString(u)+`}`)
	}
	line := `{"type":"group","topic":` + jsonString(topic) + `,"members":[` + strings.Join(ms, ",") + `]`
	if message != "" {
		line += `,"message":` + jsonString(message)
	}
	return line + "}"
}

// bulk --reuse: lines whose chat exists are "existing" with its id (a first
// message is posted in it), several matches fail the line naming them (or
// --pick oldest takes the oldest), the others are created; the caller's
// chats are listed once a run, one pass over the pages, and no chat that
// exists is asked for again. A re-run with the results file, and one
// without, create nothing more.
func TestBulkReuse(t *testing.T) {
	t.Parallel()
	s := newFindServer(t)
	var seeded []string
	for i := range 60 {
		seeded = append(seeded, s.seedGroup(t, fmt.Sprintf("t%02d", i), trio...))
	}
	mla := []string{"megan@contoso.com", "lee@contoso.com", "alex@contoso.com"}
	dupOld, dupNew := s.seedGroup(t, "dup", mla...), s.seedGroup(t, "dup", mla...)
	byID := []string{graphchattest.NestorID, graphchattest.MeganID, graphchattest.LeeID}
	dir := t.TempDir()
	lines := []string{
		groupLine("t00", "", trio...),
		groupLine("t01", "", byID...),
		groupLine("t02", "hello t02", trio...),
		groupLine("dup", "", mla...),
		groupLine("n1", "", trio...),
	}
	input := writeInput(t, dir, "chats.jsonl", lines...)
	posts, lists := s.chatPosts(), s.listings()

	r := demo(t, nil, "bulk", "--target", s.url, "--token", reuseToken, "--reuse", "--json", input)
	var out bulkJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s\n%s", err, r.stdout, r.stderr)
	}
	if r.code != exitRefused || out.Counts["existing"] != 3 || out.Counts["created"] != 1 || out.Counts["failed"] != 1 || out.Counts["message-posted"] != 1 {
		t.Fatalf("exit %d, counts %v\n%s", r.code, out.Counts, r.stderr)
	}
	recs := map[int]resultRecord{}
	for _, rec := range records(t, input+".results.jsonl") {
		if !strings.HasPrefix(rec.Status, "message-") {
			recs[rec.Line] = rec
		}
	}
	for line, id := range map[int]string{1: seeded[0], 2: seeded[1], 3: seeded[2]} {
		if rec := recs[line]; rec.Status != "existing" || rec.ID != id || rec.ChatType != "group" {
			t.Errorf("line %d: %+v, want existing %s", line, rec, id)
		}
	}
	if rec := recs[4]; rec.Status != "failed" || rec.Error == nil || rec.Error.Code != "multiple_matches" || !slices.Equal(rec.Error.Candidates, []string{dupOld, dupNew}) {
		t.Errorf("line 4: %+v, want failed: multiple_matches %s, %s", rec, dupOld, dupNew)
	}
	if recs[5].Status != "created" || recs[5].ID == "" {
		t.Errorf("line 5: %+v", recs[5])
	}
	if m := s.emu.Messages(seeded[2]); len(m) != 1 || m[0].Content != "hello t02" {
		t.Errorf("the chat of line 3 holds %+v", m)
	}
	if n := s.chatPosts() - posts; n != 1 {
		t.Errorf("%d creations sent, want 1", n)
	}
	// 62 group chats, 50 a page: one pass for the index, and one of the
	// last messages, to see that line 3's chat, found, holds none yet.
	if n := s.listings() - lists; n != 4 {
		t.Errorf("%d listing requests, want 4", n)
	}

	// Again with the results file and --pick oldest: only line 4 is left.
	posts, lists = s.chatPosts(), s.listings()
	r = demo(t, nil, "bulk", "--target", s.url, "--token", reuseToken, "--reuse", "--pick", "oldest", "--json", input)
	json.Unmarshal([]byte(r.stdout), &out)
	if r.code != exitOK || out.Counts["existing"] != 1 || out.Counts["done-earlier"] != 4 || out.Counts["message-posted"] != 0 {
		t.Fatalf("re-run: exit %d, counts %v\n%s", r.code, out.Counts, r.stderr)
	}
	if rec := records(t, input+".results.jsonl"); rec[len(rec)-1].Line != 4 || rec[len(rec)-1].ID != dupOld {
		t.Errorf("re-run: line 4's record %+v, want existing %s", rec[len(rec)-1], dupOld)
	}
	if n := s.chatPosts() - posts; n != 0 {
		t.Errorf("re-run: %d creations sent", n)
	}
	if n := s.listings() - lists; n != 2 {
		t.Errorf("re-run: %d listing requests, want 2", n)
	}

	// Without the results file: every chat exists, and line 3's message,
	// which the chat holds (the caller's last message), is not posted again.
	other := writeInput(t, dir, "again.jsonl", lines...)
	posts = s.chatPosts()
	r = demo(t, nil, "bulk", "--target", s.url, "--token", reuseToken, "--reuse", "--pick", "oldest", "--json", "--results", filepath.Join(dir, "fresh.jsonl"), other)
	json.Unmarshal([]byte(r.stdout), &out)
	if r.code != exitOK || out.Counts["existing"] != 5 || s.chatPosts() != posts || out.Counts["message-posted"] != 1 || out.Counts["message-recovered"] != 1 {
		t.Errorf("fresh results: exit %d, counts %v, %d creations\n%s", r.code, out.Counts, s.chatPosts()-posts, r.stderr)
	}
	if m := s.emu.Messages(seeded[2]); len(m) != 1 {
		t.Errorf("fresh results: the chat of line 3 holds %d messages, want 1", len(m))
	}
}

// An application names whose chats --reuse reads with --user; a group line
// without that user fails (its chats cannot hold the line's chat).
func TestBulkReuseApplication(t *testing.T) {
	t.Parallel()
	s := newFindServer(t)
	existing := s.seedGroup(t, "app", trio...)
	input := writeInput(t, t.TempDir(), "chats.jsonl",
		groupLine("app", "", trio...),
		groupLine("app", "", "megan@contoso.com", "nestor@contoso.com", "alex@contoso.com"))
	tok := graphchattest.AppToken("Chat.Create", "Chat.ReadBasic.All", "User.Read.All")
	posts := s.chatPosts()
	r := demo(t, nil, "bulk", "--target", s.url, "--token", tok, "--reuse", "--user", "lee@contoso.com", input)
	got := final(records(t, input+".results.jsonl"))
	if r.code != exitRefused || got[1] != "existing" || got[2] != "failed" || !strings.Contains(r.stderr, "line 2: failed") {
		t.Errorf("exit %d, %v\n%s", r.code, got, r.stderr)
	}
	if s.chatPosts() != posts {
		t.Errorf("%d creations sent", s.chatPosts()-posts)
	}
	if rs := records(t, input+".results.jsonl"); rs[len(rs)-2].ID != existing && rs[len(rs)-1].ID != existing {
		t.Errorf("records %+v: want line 1 existing %s", rs, existing)
	}
}

// What --reuse cannot honour is refused before anything is sent.
func TestBulkReuseUsage(t *testing.T) {
	t.Parallel()
	s := newFindServer(t)
	input := writeInput(t, t.TempDir(), "chats.jsonl", groupLine("x", "", trio...))
	app := graphchattest.AppToken("Chat.Create", "Chat.ReadBasic.All", "User.Read.All")
	noList := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"pick without reuse", []string{"--pick", "oldest"}, exitUsage, "--pick is for --reuse"},
		{"user without reuse", []string{"--user", "lee@contoso.com"}, exitUsage, "--user is for --reuse"},
		{"unknown pick", []string{"--reuse", "--pick", "newest"}, exitUsage, "--pick"},
		{"reuse without lookup", []string{"--reuse", "--lookup=false"}, exitUsage, "--lookup=false"},
		{"application without user", []string{"--reuse", "--token", app}, exitUsage, "--user is required"},
		{"bad user", []string{"--reuse", "--token", app, "--user", "not a user"}, exitUsage, "--user"},
		{"token without list-chats", []string{"--reuse", "--token", noList}, exitRefused, "run without --reuse"},
		{"negative lookup delay", []string{"--lookup-delay", "-1s"}, exitUsage, "--lookup-delay -1s: want a positive duration"},
		{"zero lookup delay", []string{"--lookup-delay", "0s"}, exitUsage, "--lookup-delay 0s: want a positive duration"},
		{"lookup delay without lookup", []string{"--lookup-delay", "1s", "--lookup=false"}, exitUsage, "--lookup-delay is for --lookup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.sent()
			r := demo(t, nil, append(append([]string{"bulk", "--target", s.url}, tc.args...), input)...)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.says) {
				t.Errorf("exit %d, want %d with %q\n%s", r.code, tc.code, tc.says, r.stderr)
			}
			if n := s.sent() - before; n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

// With --reuse, groups an earlier run sent without an answer (killed, or
// unknown) are looked up together, in one listing of their own (the index
// of chats to reuse may be older than their creation), not by a listing
// each; absent there, they are looked for among the chats to reuse: chats
// that existed before are existing, the others created.
func TestBulkReuseResumesSentLines(t *testing.T) {
	t.Parallel()
	s := newFindServer(t)
	dir := t.TempDir()
	input := writeInput(t, dir, "chats.jsonl",
		groupLine("a", "", trio...), groupLine("b", "", trio...), groupLine("c", "", trio...))
	made := map[string]string{"a": s.seedGroup(t, "a", trio...), "b": s.seedGroup(t, "b", trio...)} // c was not created
	sentAt := time.Now().Add(-time.Minute)
	var recs []resultRecord
	for line := 1; line <= 3; line++ {
		recs = append(recs, resultRecord{Key: keyOfLine(t, input, line), Line: line, Status: "sent", At: sentAt})
	}
	recs[1].Status = "unknown" // after its sent record
	recs = append(recs, resultRecord{Key: recs[1].Key, Line: 2, Status: "sent", At: sentAt})
	writeResults(t, scopeFor(t, s.url, reuseToken), input+".results.jsonl", input, "", recs...)
	posts, lists := s.chatPosts(), s.listings()
	r := demo(t, nil, "bulk", "--target", s.url, "--token", reuseToken, "--reuse", input)
	got := final(records(t, input+".results.jsonl"))
	if r.code != exitOK || got[1] != "existing" || got[2] != "existing" || got[3] != "created" {
		t.Fatalf("exit %d, %v\n%s", r.code, got, r.stderr)
	}
	for _, rec := range records(t, input+".results.jsonl") {
		if rec.Status == "existing" && rec.ID != made[map[int]string{1: "a", 2: "b"}[rec.Line]] {
			t.Errorf("line %d: %s, want %s", rec.Line, rec.ID, made[map[int]string{1: "a", 2: "b"}[rec.Line]])
		}
	}
	if n := s.chatPosts() - posts; n != 1 {
		t.Errorf("%d creations sent, want 1", n)
	}
	if n := s.listings() - lists; n != 2 {
		t.Errorf("%d listing requests, want 2 (the lines sent earlier, the chats to reuse)", n)
	}
}
