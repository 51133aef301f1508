package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/graphchat/graphchat/cmd/demo/internal/bulkfile"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// inputCopy copies a file of testdata/bulk into a temporary directory, so
// that its results file is written there.
func inputCopy(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "bulk", name))
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return to
}

// chatsNamed counts the emulator's chats with a topic.
func chatsNamed(srv *graphchattest.Server, topic string) int {
	n := 0
	for _, c := range srv.Chats() {
		if c.Topic == topic {
			n++
		}
	}
	return n
}

// records reads a results file's records, after its header.
func records(t *testing.T, name string) []resultRecord {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []resultRecord
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if n == 1 {
			var h resultsHeader
			if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Format != resultsFormat || h.Version != resultsVersion {
				t.Fatalf("bad header %q: %v", sc.Text(), err)
			}
			continue
		}
		var r resultRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad record %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// final is the last status of each line.
func final(rs []resultRecord) map[int]string {
	out := map[int]string{}
	for _, r := range rs {
		out[r.Line] = r.Status
	}
	return out
}

// keyOfLine is the key of an input's line.
func keyOfLine(t *testing.T, input string, line int) string {
	t.Helper()
	f, err := os.Open(input)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	format := strings.TrimPrefix(filepath.Ext(input), ".")
	chats, _, err := bulkfile.Read(f, format)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chats {
		if c.Line == line {
			return c.Key().String()
		}
	}
	t.Fatalf("%s has no chat on line %d", input, line)
	return ""
}

// scopeFor is the scope of runs on a running emulator at url with a token,
// or with the token minted for megan when token is "".
func scopeFor(t *testing.T, url, token string) resultsScope {
	t.Helper()
	if !strings.HasSuffix(url, "/v1.0") {
		url += "/v1.0"
	}
	sc := resultsScope{Target: url, Tenant: graphchattest.DefaultTenantID, Caller: graphchattest.MeganID}
	if token != "" {
		c, err := policy.ParseToken(token)
		if err != nil {
			t.Fatal(err)
		}
		sc.Tenant, sc.Caller = c.TenantID, c.ObjectID
	}
	return sc
}

// writeResults writes a results file for an input of a scope: a header and
// records.
func writeResults(t *testing.T, scope resultsScope, name, input string, tail string, recs ...resultRecord) {
	t.Helper()
	data, _ := json.Marshal(resultsHeader{Format: resultsFormat, Version: resultsVersion, Input: filepath.Base(input), resultsScope: scope, Created: time.Now()})
	data = append(data, '\n')
	for _, r := range recs {
		line, _ := json.Marshal(r)
		data = append(append(data, line...), '\n')
	}
	if err := os.WriteFile(name, append(data, tail...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBulkCSV(t *testing.T) {
	t.Parallel()
	input := inputCopy(t, "chats.csv")
	srv := emulator(t)
	r := demo(t, nil, "bulk", "--target", srv.URL, input)
	if r.code != exitRefused { // the file holds refused lines on purpose
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	want := map[int]string{3: "created", 4: "created", 5: "created", 6: "created", 7: "created", 8: "refused", 9: "refused", 10: "refused"}
	got := final(records(t, input+".results.jsonl"))
	for line, status := range want {
		if got[line] != status {
			t.Errorf("line %d: %q, want %q (all: %v)", line, got[line], status, got)
		}
	}
	for _, w := range []string{"line 8: refused", "topic_on_one_on_one", "line 9: refused", "topic_colon", "member_count"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "8 items: 5 created") || len(srv.Chats()) != 5 {
		t.Errorf("summary %q, %d chats", r.stdout, len(srv.Chats()))
	}
	if !strings.Contains(r.stderr, "progress: ") {
		t.Errorf("no plain progress lines when not on a terminal:\n%s", r.stderr)
	}

	// A re-run with the same results file skips what is done: no request.
	before := len(srv.Entries())
	r = demo(t, nil, "bulk", "--target", srv.URL, input)
	if !strings.Contains(r.stdout, "5 done in an earlier run") || len(srv.Chats()) != 5 {
		t.Errorf("re-run: %s, %d chats", r.stdout, len(srv.Chats()))
	}
	for _, en := range srv.Entries()[before:] {
		if en.Method == "POST" {
			t.Errorf("the re-run sent %s %s", en.Method, en.Path)
		}
	}
}

// After a crash, a group the earlier run sent without an answer is looked
// up and not created again; a one-on-one chat is simply asked for again.
func TestBulkResumeAfterCrash(t *testing.T) {
	t.Parallel()
	input := inputCopy(t, "chats.jsonl")
	srv := emulator(t)
	// The earlier run: line 2's group was created, but its answer was lost.
	sentAt := time.Now().Add(-time.Second)
	r := demo(t, nil, "create", "--target", srv.URL, "--group", "--topic", "Launch plan", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com")
	if r.code != exitOK {
		t.Fatalf("create: %d %s", r.code, r.stderr)
	}
	results := input + ".results.jsonl"
	// The crash also cut a record short: it is removed, with a warning.
	writeResults(t, scopeFor(t, srv.URL, ""), results, input, `{"key": "`+keyOfLine(t, input, 1)+`", "status": "cre`, resultRecord{Key: keyOfLine(t, input, 2), Line: 2, Status: "sent", At: sentAt})
	r = demo(t, nil, "bulk", "--target", srv.URL, input)
	got := final(records(t, results))
	want := map[int]string{1: "created", 2: "recovered", 3: "created", 4: "created", 5: "refused", 6: "refused"}
	for line, status := range want {
		if got[line] != status {
			t.Errorf("line %d: %q, want %q", line, got[line], status)
		}
	}
	if groups := chatsNamed(srv, "Launch plan"); groups != 1 {
		t.Errorf("%d chats named Launch plan, want 1", groups)
	}
	if !strings.Contains(r.stderr, "line 6: unreadable") || !strings.Contains(r.stderr, "guest_role") || !strings.Contains(r.stderr, "line 3: a record cut short") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestBulkUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"bulk"},
		{"bulk", "-"},
		{"bulk", "chats.txt"},
		{"bulk", "missing.csv"},
		{"bulk", "--rate", "0", "../../testdata/bulk/chats.csv"},
		{"bulk", "--format", "xml", "x.csv"},
	} {
		if r := demo(t, nil, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, %s", args, r.code, r.stderr)
		}
	}
}

// A group recorded "unknown" (an ambiguous failure) is looked up by the
// re-run, from the time it was first sent, and not created again.
func TestBulkResumeUnknownGroup(t *testing.T) {
	t.Parallel()
	input := inputCopy(t, "chats.jsonl")
	srv := emulator(t)
	sentAt := time.Now().Add(-time.Second)
	r := demo(t, nil, "create", "--target", srv.URL, "--group", "--topic", "Partners", "megan@contoso.com", "lee@contoso.com",
		"--guest", "ada_fabrikam.com#EXT#@contoso.onmicrosoft.com", "ada_fabrikam.com#EXT#@contoso.onmicrosoft.com")
	if r.code != exitOK {
		t.Fatalf("create: %d %s", r.code, r.stderr)
	}
	results := input + ".results.jsonl"
	key := keyOfLine(t, input, 3)
	writeResults(t, scopeFor(t, srv.URL, ""), results, input, "", resultRecord{Key: key, Line: 3, Status: "sent", At: sentAt},
		resultRecord{Key: key, Line: 3, Status: "unknown", At: time.Now(), Error: &errInfo{Code: "outcome_unknown", Message: "504"}})
	demo(t, nil, "bulk", "--target", srv.URL, input)
	if got := final(records(t, results)); got[3] != "recovered" {
		t.Errorf("line 3: %q, want recovered", got[3])
	}
	if n := chatsNamed(srv, "Partners"); n != 1 {
		t.Errorf("%d chats named Partners, want 1", n)
	}
}

// writeInput writes an input file into a temporary directory.
func writeInput(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	to := filepath.Join(dir, name)
	if err := os.WriteFile(to, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return to
}

// groupLines returns CSV lines of n groups of megan, lee and nestor with
// the topics prefix-000, prefix-001...
func groupLines(prefix string, n int) []string {
	lines := []string{"type,topic,members"}
	for i := range n {
		lines = append(lines, fmt.Sprintf("group,%s-%03d,megan@contoso.com;lee@contoso.com;nestor@contoso.com", prefix, i))
	}
	return lines
}

// assertOnce fails unless every topic names exactly one chat of the
// emulator, and the emulator holds no other chat.
func assertOnce(t *testing.T, srv *graphchattest.Server, topics ...string) {
	t.Helper()
	byTopic := map[string]int{}
	for _, c := range srv.Chats() {
		byTopic[c.Topic]++
	}
	for _, topic := range topics {
		if byTopic[topic] != 1 {
			t.Errorf("%d chats named %q, want 1", byTopic[topic], topic)
		}
	}
	if len(srv.Chats()) != len(topics) {
		t.Errorf("%d chats, want %d", len(srv.Chats()), len(topics))
	}
}

// Inserting, removing and reordering lines between runs neither skips nor
// duplicates a chat: a line is the chat it asks for, wherever it stands.
func TestBulkEditedInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := emulator(t)
	line := func(topic string) string {
		return "group," + topic + ",megan@contoso.com;lee@contoso.com;nestor@contoso.com"
	}
	input := writeInput(t, dir, "chats.csv", "type,topic,members", line("A"), line("B"), line("C"), line("D"))
	if r := demo(t, nil, "bulk", "--target", srv.URL, input); r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	// A new first line, B removed, D before C, and a one-on-one chat.
	writeInput(t, dir, "chats.csv", "type,topic,members", line("N"), line("A"), line("D"), "oneOnOne,,megan@contoso.com;lee@contoso.com", line("C"))
	r := demo(t, nil, "bulk", "--target", srv.URL, input)
	if r.code != exitOK || !strings.Contains(r.stdout, "5 items: 2 created") || !strings.Contains(r.stdout, "3 done in an earlier run") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	byTopic := map[string]int{}
	for _, c := range srv.Chats() {
		byTopic[c.Topic]++
	}
	if want := map[string]int{"A": 1, "B": 1, "C": 1, "D": 1, "N": 1, "": 1}; !maps.Equal(byTopic, want) {
		t.Errorf("chats by topic %v, want %v", byTopic, want)
	}
	if got := final(records(t, input+".results.jsonl")); got[2] != "created" {
		t.Errorf("line 2 (the new line N): %q, want created", got[2])
	}
}

// Two lines asking for the same chat: the second is reported and not sent.
func TestBulkDuplicateLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := emulator(t)
	input := writeInput(t, dir, "chats.jsonl",
		`{"type":"group","topic":"Same","members":[{"user":"megan@contoso.com"},{"user":"lee@contoso.com"},{"user":"nestor@contoso.com"}]}`,
		`{"type":"group","topic":"Other","members":[{"user":"megan@contoso.com"},{"user":"lee@contoso.com"},{"user":"nestor@contoso.com"}]}`,
		`{"type":"group","topic":"Same","members":[{"user":"Nestor@Contoso.com"},{"user":"megan@contoso.com","kind":"member"},{"user":"lee@contoso.com","role":"owner"}]}`)
	r := demo(t, nil, "bulk", "--target", srv.URL, input)
	if r.code != exitOK || !strings.Contains(r.stderr, "line 3: duplicate_line: the same chat as line 1") || !strings.Contains(r.stdout, "1 duplicate lines") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	assertOnce(t, srv, "Same", "Other")
	var dup resultRecord
	for _, rec := range records(t, input+".results.jsonl") {
		if rec.Status == statusDuplicate {
			dup = rec
		}
	}
	if dup.Line != 3 || dup.FirstLine != 1 || dup.Key != keyOfLine(t, input, 1) {
		t.Errorf("duplicate record %+v", dup)
	}
	r = demo(t, nil, "bulk", "--target", srv.URL, input)
	if r.code != exitOK || !strings.Contains(r.stdout, "1 duplicate lines, 2 done in an earlier run") {
		t.Errorf("re-run: exit %d\n%s", r.code, r.stdout)
	}
	assertOnce(t, srv, "Same", "Other")
}

// A results file that is not one this program can resume from is refused,
// named, left untouched, and nothing is sent.
func TestBulkResultsRefused(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	scope := scopeFor(t, srv.URL, "")
	headerOf := func(input string, version int, sc resultsScope) string {
		data, _ := json.Marshal(resultsHeader{Format: resultsFormat, Version: version, Input: input, resultsScope: sc, Created: time.Now()})
		return string(data) + "\n"
	}
	header := func(input string, version int) string { return headerOf(input, version, scope) }
	with := func(change func(*resultsScope)) resultsScope {
		sc := scope
		change(&sc)
		return sc
	}
	record := `{"key":"00112233445566778899aabbccddeeff","line":2,"status":"created","at":"2026-01-01T00:00:00Z"}` + "\n"
	tests := []struct {
		name    string
		content string // of the results file; "" for the special cases
		setup   func(t *testing.T, results string)
		want    string
	}{
		{"another JSON file", `{"name": "config", "values": [1, 2]}` + "\n", nil, "not a graphchat bulk results file"},
		{"a text file", "hello\n", nil, "not a graphchat bulk results file"},
		{"the line-number format", `{"line":2,"status":"sent","at":"2026-01-01T00:00:00Z"}` + "\n", nil, "earlier version"},
		{"another version", header("chats.csv", 99), nil, "version 99"},
		{"version 2, without a scope", header("chats.csv", 2), nil, "version 2 of the format, which does not say"},
		{"another target", headerOf("chats.csv", resultsVersion, with(func(s *resultsScope) { s.Target = "http://127.0.0.1:1/v1.0" })), nil, "records chats of http://127.0.0.1:1/v1.0"},
		{"Microsoft Graph", headerOf("chats.csv", resultsVersion, with(func(s *resultsScope) { s.Target = "graph:global" })), nil, "records chats of graph:global"},
		{"another tenant", headerOf("chats.csv", resultsVersion, with(func(s *resultsScope) { s.Tenant = "11111111-2222-3333-4444-555555555555" })), nil, "tenant 11111111-2222-3333-4444-555555555555"},
		{"another caller", headerOf("chats.csv", resultsVersion, with(func(s *resultsScope) { s.Caller = graphchattest.LeeID })), nil, "the user " + graphchattest.LeeID},
		{"an application's", headerOf("chats.csv", resultsVersion, with(func(s *resultsScope) { s.Caller, s.App = "", appObjectID })), nil, "the application " + appObjectID},
		{"the embedded emulator's", headerOf("chats.csv", resultsVersion, with(func(s *resultsScope) { s.Target = targetEmbedded })), nil, "a new, empty service each run"},
		{"another input", header("other.csv", resultsVersion), nil, `records the input "other.csv"`},
		{"a corrupted line", header("chats.csv", resultsVersion) + record + "{garbage\n" + record, nil, "line 3"},
		{"an unknown status", header("chats.csv", resultsVersion) + strings.Replace(record, "created", "done", 1), nil, "line 2"},
		{"a bad key", header("chats.csv", resultsVersion) + strings.Replace(record, "0011", "zz11", 1), nil, "line 2"},
		{"an over-long line", header("chats.csv", resultsVersion) + strings.Repeat("x", maxRecord+10) + "\n", nil, "line 2: longer than"},
		{"a directory", "", func(t *testing.T, results string) { os.Mkdir(results, 0o755) }, "is a directory"},
		{"a symbolic link", "", func(t *testing.T, results string) {
			target := results + ".real"
			os.WriteFile(target, []byte(header("chats.csv", resultsVersion)), 0o644)
			os.Symlink(target, results)
		}, "symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := inputCopy(t, "chats.csv")
			results := input + ".results.jsonl"
			if tt.setup != nil {
				tt.setup(t, results)
			} else if err := os.WriteFile(results, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			r := demo(t, nil, "bulk", "--target", srv.URL, input)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, results) {
				t.Errorf("exit %d, stderr lacks %q or the file's name:\n%s", r.code, tt.want, r.stderr)
			}
			if tt.content != "" {
				if data, _ := os.ReadFile(results); string(data) != tt.content {
					t.Errorf("the results file was changed")
				}
			}
			if len(srv.Entries()) != 0 {
				t.Errorf("%d requests were sent", len(srv.Entries()))
			}
		})
	}
}

// Two runs on one results file at once: the second fails at once, naming
// the holder.
func TestBulkLocked(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	input := inputCopy(t, "chats.csv")
	l, err := lockResults(input + ".results.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	r := demo(t, nil, "bulk", "--target", srv.URL, input)
	holder := regexp.MustCompile(`\(pid \d+, started [0-9TZ:-]+\)`)
	if r.code != exitUsage || !strings.Contains(r.stderr, "in use by another run") || !strings.Contains(r.stderr, fmt.Sprintf("pid %d", os.Getpid())) || !holder.MatchString(r.stderr) {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	if len(srv.Entries()) != 0 {
		t.Errorf("%d requests were sent", len(srv.Entries()))
	}
	l.unlock()
	if r := demo(t, nil, "bulk", "--target", srv.URL, input); r.code != exitRefused { // the file's refused lines
		t.Errorf("after unlocking: exit %d\n%s", r.code, r.stderr)
	}
}

// failingFile fails its nth sync, or its nth write, with ENOSPC.
type failingFile struct {
	f             *os.File
	syncs, writes int
	failSync      int
	failWrite     int
}

func (w *failingFile) Write(p []byte) (int, error) {
	if w.writes++; w.writes == w.failWrite || (w.failWrite > 0 && w.writes > w.failWrite) {
		return 0, syscall.ENOSPC
	}
	return w.f.Write(p)
}

func (w *failingFile) Sync() error {
	if w.syncs++; w.syncs == w.failSync || (w.failSync > 0 && w.syncs > w.failSync) {
		return syscall.ENOSPC
	}
	return w.f.Sync()
}

// When a sent record cannot be written or synced, its request is not sent
// and nothing more is: the run stops with the error; the re-run creates
// each chat once.
func TestBulkWriteFailureStops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		failSync, failWrite int
	}{
		{"the second request's sync", 2, 0},
		{"a write", 0, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := emulator(t)
			lines := groupLines("w", 60)
			input := writeInput(t, t.TempDir(), "chats.csv", lines...)
			var fake *failingFile
			e, _, _ := newEnv("")
			e.wrapResults = func(f *os.File) resultsWriter {
				fake = &failingFile{f: f, failSync: tt.failSync, failWrite: tt.failWrite}
				return fake
			}
			r := demo(t, e, "bulk", "--target", srv.URL, "--concurrency", "1", input)
			if r.code != exitRefused || !strings.Contains(r.stderr, "no space left on device") || !strings.Contains(r.stderr, input+".results.jsonl") {
				t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			sent := 0
			for _, rec := range records(t, input+".results.jsonl") {
				if rec.Status == statusSent {
					sent++
				}
			}
			if n := len(srv.Chats()); n > sent || n >= 60 {
				t.Errorf("%d chats, %d sent records: a request went out without its record", n, sent)
			}
			r = demo(t, nil, "bulk", "--target", srv.URL, input)
			if r.code != exitOK {
				t.Fatalf("re-run: exit %d\n%s", r.code, r.stderr)
			}
			var topics []string
			for i := range 60 {
				topics = append(topics, fmt.Sprintf("w-%03d", i))
			}
			assertOnce(t, srv, topics...)
		})
	}
}

// A results file on a full file system (a tiny tmpfs; root only): the run
// stops when the disk is full; after it grows, the re-run creates each
// chat once.
func TestBulkFullDisk(t *testing.T) {
	t.Parallel()
	mnt := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt).Run(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): TestBulkWriteFailureStops covers the failure with a fake file", err)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	srv := emulator(t)
	input := writeInput(t, t.TempDir(), "chats.csv", groupLines("f", 300)...)
	results := filepath.Join(mnt, "results.jsonl")
	r := demo(t, nil, "bulk", "--target", srv.URL, "--rate", "1000", "--results", results, input)
	if r.code != exitRefused || !strings.Contains(r.stderr, "no space left on device") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	full := len(srv.Chats())
	if full == 0 || full >= 300 {
		t.Fatalf("%d chats before the disk filled up", full)
	}
	if err := exec.Command("mount", "-o", "remount,size=4m", mnt).Run(); err != nil {
		t.Fatal(err)
	}
	r = demo(t, nil, "bulk", "--target", srv.URL, "--rate", "1000", "--results", results, input)
	if r.code != exitOK {
		t.Fatalf("re-run: exit %d\n%s", r.code, r.stderr)
	}
	var topics []string
	for i := range 300 {
		topics = append(topics, fmt.Sprintf("f-%03d", i))
	}
	assertOnce(t, srv, topics...)
	t.Logf("%d chats created before the disk was full; the re-run created the rest", full)
}

// An error answered inside a $batch keeps the service's code and
// request-id, in the results file and on standard error.
func TestBulkServiceErrorDetails(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	input := writeInput(t, t.TempDir(), "chats.csv", "type,topic,members", "group,X,megan@contoso.com;lee@contoso.com;nobody@contoso.com")
	r := demo(t, nil, "bulk", "--target", srv.URL, input)
	recs := records(t, input+".results.jsonl")
	last := recs[len(recs)-1]
	if r.code != exitRefused || last.Status != "failed" || last.Error == nil || last.Error.Code == "" || last.Error.RequestID == "" || last.Error.Status == 0 {
		t.Fatalf("exit %d, record %+v", r.code, last.Error)
	}
	if !strings.Contains(r.stderr, "line 2: failed") || !strings.Contains(r.stderr, last.Error.Code) || !strings.Contains(r.stderr, last.Error.RequestID) {
		t.Errorf("stderr lacks the code %s or the request-id %s:\n%s", last.Error.Code, last.Error.RequestID, r.stderr)
	}
}

// A token without the lookup permission fails once, before any line, with
// the fix.
func TestBulkGrantRefusedOnce(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	input := inputCopy(t, "chats.csv")
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	r := demo(t, nil, "bulk", "--target", srv.URL, "--token", tok, input)
	out := r.stdout + r.stderr // the refusal is the result (standard output)
	if r.code != exitRefused || !strings.Contains(r.stdout, "permission_missing") || !strings.Contains(out, "Chat.ReadBasic") || !strings.Contains(out, "--lookup=false") || regexp.MustCompile(`line \d`).MatchString(out) {
		t.Errorf("exit %d\n%s", r.code, out)
	}
	if len(srv.Entries()) != 0 {
		t.Errorf("%d requests were sent", len(srv.Entries()))
	}
	if r := demo(t, nil, "bulk", "--target", srv.URL, "--token", tok, "--lookup=false", input); r.code != exitRefused || len(srv.Chats()) != 5 {
		t.Errorf("--lookup=false: exit %d, %d chats\n%s", r.code, len(srv.Chats()), r.stderr)
	}
}

type bulkJSON struct {
	Input, Results string
	Lines          int
	Counts         map[string]int
	Interrupted    bool
	Error          *errorDoc
}

func TestBulkJSON(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	input := inputCopy(t, "chats.csv")
	r := demo(t, nil, "bulk", "--json", "--target", srv.URL, input)
	var out bulkJSON
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&out); err != nil || dec.More() {
		t.Fatalf("stdout is not one JSON document (%v):\n%s", err, r.stdout)
	}
	want := map[string]int{"created": 5, "recovered": 0, "existing": 0, "accepted": 0, "refused": 3, "unreadable": 0, "failed": 0, "unknown": 0, "not-sent": 0, "duplicate_line": 0, "done-earlier": 0,
		"message-posted": 0, "message-recovered": 0, "message-failed": 0, "message-unknown": 0, "message-not-sent": 0, "message-changed": 0, "message-posted-earlier": 0,
		"orphan-recovered": 0, "orphan-absent": 0, "orphan-unknown": 0}
	if r.code != exitRefused || out.Lines != 8 || !maps.Equal(out.Counts, want) || out.Results != input+".results.jsonl" || out.Interrupted {
		t.Errorf("exit %d, %+v", r.code, out)
	}
	if d := out.Error; d == nil || d.Kind != "refused" || d.ExitCode != exitRefused {
		t.Errorf("the document's error: %+v, want kind refused, exit code 1", d)
	}
	// A run that ends well has no error member.
	r = demo(t, nil, "bulk", "--json", "--target", srv.URL, input)
	if r.code != exitRefused { // the refused lines are refused again
		t.Fatalf("re-run: exit %d", r.code)
	}
	ok := writeInput(t, t.TempDir(), "ok.csv", groupLines("ok", 1)...)
	r = demo(t, nil, "bulk", "--json", "--target", srv.URL, ok)
	if r.code != exitOK || strings.Contains(r.stdout, `"error"`) {
		t.Errorf("a run that ends well: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// Interrupted: the lines never sent have their own count, the exit code is
// 130, and the re-run creates each chat once.
func TestBulkInterrupted(t *testing.T) {
	t.Parallel()
	srv, err := graphchattest.NewServer("", &graphchattest.Options{Latency: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	input := writeInput(t, t.TempDir(), "chats.csv", groupLines("i", 200)...)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(400*time.Millisecond, cancel)
	e, _, _ := newEnv("")
	code := e.run(ctx, []string{"bulk", "--json", "--target", srv.URL, "--rate", "100", "--concurrency", "1", input})
	var out bulkJSON
	if err := json.Unmarshal([]byte(e.stdout.(*syncBuffer).String()), &out); err != nil {
		t.Fatalf("%v\n%s", err, e.stderr.(*syncBuffer).String())
	}
	c := out.Counts
	if code != exitInterrupted || !out.Interrupted || c["not-sent"] == 0 || c["failed"] != 0 || c["created"]+c["unknown"]+c["not-sent"] != 200 {
		t.Errorf("exit %d, %+v", code, out)
	}
	if d := out.Error; d == nil || d.Kind != "interrupted" || d.ExitCode != exitInterrupted || d.Message == "" {
		t.Errorf("the document's error: %+v, want kind interrupted, exit code 130", d)
	}
	if r := demo(t, nil, "bulk", "--target", srv.URL, "--rate", "1000", input); r.code != exitOK {
		t.Fatalf("re-run: exit %d\n%s", r.code, r.stderr)
	}
	var topics []string
	for i := range 200 {
		topics = append(topics, fmt.Sprintf("i-%03d", i))
	}
	assertOnce(t, srv, topics...)
}

// Lines with a first message: each message is posted once after its chat;
// a refused message refuses its line (no chat); a re-run posts nothing
// again; an edited message is reported, not posted; application auth
// fails once, before anything is sent.
func TestBulkMessages(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	input := filepath.Join(t.TempDir(), "chats.jsonl")
	lines := []string{
		`{"type":"group","topic":"Launch","members":[{"user":"megan@contoso.com"},{"user":"lee@contoso.com"},{"user":"nestor@contoso.com"}],"message":"Welcome"}`,
		`{"type":"oneOnOne","members":[{"user":"megan@contoso.com"},{"user":"alex@contoso.com"}],"message":{"text":"<p>Hi Alex</p>","html":true}}`,
		`{"type":"group","topic":"Broken","members":[{"user":"megan@contoso.com"},{"user":"lee@contoso.com"},{"user":"jacob@contoso.com"}],"message":{"text":"<p>unclosed","html":true}}`,
		`{"type":"group","topic":"Quiet","members":[{"user":"megan@contoso.com"},{"user":"lee@contoso.com"},{"user":"alex@contoso.com"}]}`,
	}
	write := func() {
		if err := os.WriteFile(input, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write()
	messagesOf := func(topic string) []graphchattest.Message {
		for _, c := range srv.Chats() {
			if c.Topic == topic && (topic != "" || c.ChatType == "oneOnOne") {
				return srv.Messages(c.ID)
			}
		}
		return nil
	}

	if r := demo(t, nil, "bulk", "--target", srv.URL, "--auth", "application", "--scopes", "Chat.Create", input); r.code == exitOK || len(srv.Entries()) != 0 {
		t.Fatalf("application auth: exit %d, %d requests\n%s", r.code, len(srv.Entries()), r.stderr)
	}

	r := demo(t, nil, "bulk", "--json", "--target", srv.URL, input)
	var out bulkJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if r.code != exitRefused || out.Counts["message-posted"] != 2 || out.Counts["refused"] != 1 || out.Counts["created"] != 3 {
		t.Fatalf("first run: exit %d, %v\n%s", r.code, out.Counts, r.stderr)
	}
	if m := messagesOf("Launch"); len(m) != 1 || m[0].Content != "Welcome" || m[0].From != graphchattest.MeganID {
		t.Errorf("Launch holds %+v", m)
	}
	if m := messagesOf(""); len(m) != 1 || m[0].ContentType != "html" {
		t.Errorf("the one-on-one chat holds %+v", m)
	}
	if chatsNamed(srv, "Broken") != 0 || len(messagesOf("Quiet")) != 0 {
		t.Error("the refused line's chat was created, or a line without a message got one")
	}
	st := map[string]int{}
	for _, rec := range records(t, input+".results.jsonl") {
		st[rec.Status]++
		if rec.Status == "message-posted" && (rec.ID == "" || rec.MessageID == "" || rec.Message == "") {
			t.Errorf("message-posted record without chat id, message id or digest: %+v", rec)
		}
	}
	if st["message-sent"] != 2 || st["message-posted"] != 2 {
		t.Errorf("records %v", st)
	}

	// Again: nothing is posted twice.
	r = demo(t, nil, "bulk", "--json", "--target", srv.URL, input)
	json.Unmarshal([]byte(r.stdout), &out)
	if out.Counts["message-posted-earlier"] != 2 || out.Counts["message-posted"] != 0 || len(messagesOf("Launch")) != 1 {
		t.Errorf("re-run: %v, Launch holds %d messages\n%s", out.Counts, len(messagesOf("Launch")), r.stderr)
	}

	// An edited message is reported, not posted.
	lines[0] = strings.Replace(lines[0], "Welcome", "Welcome, all", 1)
	write()
	r = demo(t, nil, "bulk", "--json", "--target", srv.URL, input)
	json.Unmarshal([]byte(r.stdout), &out)
	if r.code != exitRefused || out.Counts["message-changed"] != 1 || len(messagesOf("Launch")) != 1 || !strings.Contains(r.stderr, "message-changed") {
		t.Errorf("edited: exit %d, %v, Launch holds %d messages\n%s", r.code, out.Counts, len(messagesOf("Launch")), r.stderr)
	}
}

// A results file says which service, tenant and caller its chats belong
// to: a run on another is refused before anything is sent, and a file of
// the embedded emulator (empty each run) is never resumed.
func TestBulkResultsScope(t *testing.T) {
	t.Parallel()
	input := inputCopy(t, "chats.csv")
	results := input + ".results.jsonl"
	if r := demo(t, nil, "bulk", input); r.code != exitRefused { // some lines are refused on purpose
		t.Fatalf("embedded run: exit %d\n%s", r.code, r.stderr)
	}
	embedded, _ := os.ReadFile(results)
	srv := emulator(t)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"the embedded emulator again", []string{"bulk", input}, "never resumed"},
		{"a running emulator", []string{"bulk", "--target", srv.URL, input}, "records a run on the embedded emulator"},
	} {
		r := demo(t, nil, tt.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "--results") {
			t.Errorf("%s: exit %d, stderr lacks %q:\n%s", tt.name, r.code, tt.want, r.stderr)
		}
		if data, _ := os.ReadFile(results); string(data) != string(embedded) {
			t.Errorf("%s: the results file was changed", tt.name)
		}
	}
	if n := len(srv.Entries()); n != 0 {
		t.Errorf("%d requests sent to the running emulator", n)
	}
	// Microsoft Graph: refused after signing in, before any request.
	e, _, _ := newEnv("")
	e.newCredential = func(credentialConfig) (azcore.TokenCredential, error) {
		return &fakeCredential{token: graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All")}, nil
	}
	e.transport = failTransport{t}
	if r := demo(t, e, "bulk", "--target", "graph", "--use-cli", input); r.code != exitUsage || !strings.Contains(r.stderr, "embedded emulator") {
		t.Errorf("graph: exit %d\n%s", r.code, r.stderr)
	}

	// A running emulator's results: the same caller resumes, another is refused.
	other := filepath.Join(t.TempDir(), "r.jsonl")
	if r := demo(t, nil, "bulk", "--target", srv.URL, "--results", other, input); r.code != exitRefused {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if r := demo(t, nil, "bulk", "--target", srv.URL, "--results", other, input); !strings.Contains(r.stdout, "5 done in an earlier run") {
		t.Errorf("same scope: %s\n%s", r.stdout, r.stderr)
	}
	r := demo(t, nil, "bulk", "--target", srv.URL, "--caller", "lee@contoso.com", "--results", other, input)
	if r.code != exitUsage || !strings.Contains(r.stderr, "the user "+graphchattest.LeeID) {
		t.Errorf("another caller: exit %d\n%s", r.code, r.stderr)
	}
	if n := len(srv.Chats()); n != 5 {
		t.Errorf("%d chats, want 5", n)
	}
}

// Chats a killed run sent without an answer are not forgotten when their
// lines are edited or removed before the re-run: each is looked up and
// reported, found (with its id) or absent; without --lookup, unknown.
func TestBulkOrphans(t *testing.T) {
	t.Parallel()
	for _, lookup := range []bool{true, false} {
		t.Run(fmt.Sprintf("lookup=%v", lookup), func(t *testing.T) {
			srv := emulator(t)
			dir := t.TempDir()
			// The killed run's input: lines 1 and 2 were sent, line 1's
			// chat created (its answer lost), line 2's not.
			before := writeInput(t, dir, "chats.csv", groupLines("old", 2)...)
			var recs []resultRecord
			sentAt := time.Now().Add(-time.Second)
			rd, _ := os.Open(before)
			chats, _, err := bulkfile.Read(rd, "csv")
			rd.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range chats {
				spec := c.Spec()
				recs = append(recs, resultRecord{Key: c.Key().String(), Line: c.Line, Status: "sent", At: sentAt, Chat: &spec})
			}
			if r := demo(t, nil, "create", "--target", srv.URL, "--group", "--topic", "old-000", "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"); r.code != exitOK {
				t.Fatalf("create: %d %s", r.code, r.stderr)
			}
			created := srv.Chats()[0].ID
			// The lines are then edited: other topics.
			input := writeInput(t, dir, "chats.csv", groupLines("new", 2)...)
			results := input + ".results.jsonl"
			writeResults(t, scopeFor(t, srv.URL, ""), results, input, "", recs...)
			args := []string{"bulk", "--target", srv.URL, "--json", input}
			if !lookup {
				args = append(args, "--lookup=false")
			}
			r := demo(t, nil, args...)
			var doc struct {
				Counts bulkCounts `json:"counts"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("%v: %s", err, r.stdout)
			}
			got := map[string]string{}
			for _, rec := range records(t, results)[len(recs):] {
				if rec.Key == recs[0].Key || rec.Key == recs[1].Key {
					got[rec.Key] = rec.Status + " " + rec.ID
				}
			}
			if lookup {
				if r.code != exitOK || doc.Counts.OrphanRecovered != 1 || doc.Counts.OrphanAbsent != 1 || doc.Counts.Created != 2 {
					t.Errorf("exit %d, counts %+v\n%s", r.code, doc.Counts, r.stderr)
				}
				if got[recs[0].Key] != "orphan-recovered "+created || got[recs[1].Key] != "orphan-absent " {
					t.Errorf("records %v, want line 1 orphan-recovered %s, line 2 orphan-absent", got, created)
				}
				if !strings.Contains(r.stderr, "looking up 2 chats sent by an earlier run") || !strings.Contains(r.stderr, created) {
					t.Errorf("stderr:\n%s", r.stderr)
				}
				// Settled: a third run reports nothing of them.
				r = demo(t, nil, args...)
				if strings.Contains(r.stderr, "orphan") || r.code != exitOK {
					t.Errorf("third run: exit %d\n%s", r.code, r.stderr)
				}
			} else if r.code != exitUnknown || doc.Counts.OrphanUnknown != 2 || got[recs[0].Key] != "unknown " {
				t.Errorf("exit %d, counts %+v, records %v\n%s", r.code, doc.Counts, got, r.stderr)
			}
		})
	}
}

// A token in a bulk input (a member, a topic) is not written to the
// results file, as it is not printed: records are redacted.
func TestBulkResultsRedacted(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	const short = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln" // a topic holds 250 characters at most
	input := writeInput(t, t.TempDir(), "chats.csv", "type,topic,members",
		"group,t,megan@contoso.com;lee@contoso.com;"+tok,
		"group,about "+short+",megan@contoso.com;lee@contoso.com;nestor@contoso.com")
	r := demo(t, nil, "bulk", "--target", srv.URL, input)
	data, err := os.ReadFile(input + ".results.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Split(tok, ".")[1]
	if strings.Contains(string(data), payload) || strings.Contains(string(data), short) || !strings.Contains(string(data), redactedToken) {
		t.Errorf("the results file holds the token or no redaction:\n%s", data)
	}
	if strings.Contains(r.stderr+r.stdout, payload) {
		t.Errorf("the token was printed")
	}
	records(t, input+".results.jsonl") // still records
	if got := final(records(t, input+".results.jsonl")); got[2] != "refused" || got[3] != "created" {
		t.Errorf("records %v, want line 2 refused, line 3 created\n%s", got, r.stderr)
	}
}

// The progress bar is drawn on a terminal (a character device) under the
// redacting writer that wraps standard error.
func TestBulkProgressOnTerminal(t *testing.T) {
	t.Parallel()
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Skip("no character device")
	}
	e := &env{stderr: newRedactingWriter(f)}
	if p := e.newProgress(&countingReader{}, 1); !p.tty {
		t.Error("no bar on a terminal behind the redacting writer")
	}
}

// An over-long line is refused, naming its line and the limit; a long
// value of a line is not copied whole to standard error, --json or the
// results file.
func TestBulkLongLines(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	huge := strings.Repeat("x", 600<<10) + "@contoso.com"
	input := writeInput(t, t.TempDir(), "chats.jsonl",
		`{"type":"group","members":[{"user":"megan@contoso.com"},{"user":"lee@contoso.com"},{"user":"`+strings.Repeat("y", 2<<20)+`"}]}`,
		`{"type":"group","members":[{"user":"megan@contoso.com"},{"user":"lee@contoso.com"},{"user":"`+huge+`"}]}`,
		`{"type":"group","topic":"fine","members":[{"user":"megan@contoso.com"},{"user":"lee@contoso.com"},{"user":"nestor@contoso.com"}]}`)
	for _, json := range []bool{false, true} {
		results := filepath.Join(t.TempDir(), "r.jsonl")
		args := []string{"bulk", "--target", srv.URL, "--results", results, input}
		if json {
			args = append(args, "--json")
		}
		r := demo(t, nil, args...)
		data, _ := os.ReadFile(results)
		if r.code != exitRefused || len(r.stdout)+len(r.stderr) > 8<<10 || len(data) > 8<<10 {
			t.Errorf("json=%v: exit %d, %d bytes of output, %d of results", json, r.code, len(r.stdout)+len(r.stderr), len(data))
		}
		if !json && !strings.Contains(r.stderr, "line 1: unreadable: longer than 1048576 bytes") {
			t.Errorf("stderr:\n%.2000s", r.stderr)
		}
		// Unreadable lines are counted apart from refusals by the policy.
		if json && (!strings.Contains(r.stdout, `"unreadable": 1,`) || !strings.Contains(r.stdout, `"refused": 1,`)) {
			t.Errorf("counts:\n%.2000s", r.stdout)
		}
		if !json && !strings.Contains(r.stdout, "1 refused by the policy, 1 unreadable") {
			t.Errorf("summary:\n%.2000s", r.stdout)
		}
		if got := final(records(t, results)); got[1] != "refused" || got[2] != "refused" || got[3] != "created" {
			t.Errorf("records %v", got)
		}
	}
}

// The progress lines' counts add up to the lines finished.
func TestBulkProgressAddsUp(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	input := inputCopy(t, "chats.jsonl") // created, refused and unreadable lines
	r := demo(t, nil, "bulk", "--target", srv.URL, input)
	re := regexp.MustCompile(`progress: (\d+) finished \(\d+% of the input read\)((?:  [a-z ]+ \d+)+)`)
	lines := re.FindAllStringSubmatch(r.stderr, -1)
	if len(lines) == 0 {
		t.Fatalf("no progress line:\n%s", r.stderr)
	}
	for _, m := range lines {
		sum := 0
		for _, n := range regexp.MustCompile(`\d+`).FindAllString(m[2], -1) {
			v, _ := strconv.Atoi(n)
			sum += v
		}
		if total, _ := strconv.Atoi(m[1]); sum != total {
			t.Errorf("%q: the counts add up to %d", m[0], sum)
		}
	}
}

// A re-run after a killed run says that it looks up the chats that run
// sent without an answer, and shows its progress to the last line; they
// are looked up in one listing of the chats, matched in memory.
func TestBulkResumeSays(t *testing.T) {
	t.Parallel()
	srv := emulator(t)
	input := writeInput(t, t.TempDir(), "chats.csv", groupLines("k", 30)...)
	rd, _ := os.Open(input)
	chats, _, err := bulkfile.Read(rd, "csv")
	rd.Close()
	if err != nil {
		t.Fatal(err)
	}
	sentAt := time.Now().Add(-time.Second)
	var recs []resultRecord
	for _, c := range chats {
		spec := c.Spec()
		recs = append(recs, resultRecord{Key: c.Key().String(), Line: c.Line, Status: "sent", At: sentAt, Chat: &spec})
	}
	for i := range 10 { // created, their answers lost
		if r := demo(t, nil, "create", "--target", srv.URL, "--group", "--topic", fmt.Sprintf("k-%03d", i), "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"); r.code != exitOK {
			t.Fatal(r.stderr)
		}
	}
	writeResults(t, scopeFor(t, srv.URL, ""), input+".results.jsonl", input, "", recs...)
	before := len(srv.Entries())
	r := demo(t, nil, "bulk", "--target", srv.URL, "--json", input)
	var out bulkJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != exitOK || out.Counts["recovered"] != 10 || out.Counts["created"] != 20 {
		t.Errorf("exit %d, %v %+v\n%s", r.code, err, out.Counts, r.stderr)
	}
	if !strings.Contains(r.stderr, "looking up 30 chats sent by an earlier run without an answer") || !strings.Contains(r.stderr, "progress: 30 finished") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	lists := 0
	for _, en := range srv.Entries()[before:] {
		if en.Method == "GET" && strings.HasSuffix(en.Path, "/chats") {
			lists++
		}
	}
	if lists != 1 {
		t.Errorf("%d listings of the chats, want 1", lists)
	}
	var topics []string
	for i := range 30 {
		topics = append(topics, fmt.Sprintf("k-%03d", i))
	}
	assertOnce(t, srv, topics...)
}
