package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graphchat/graphchat/cmd/demo/internal/bulkfile"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
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

// writeResults writes a results file for an input: a header and records.
func writeResults(t *testing.T, name, input string, tail string, recs ...resultRecord) {
	t.Helper()
	data, _ := json.Marshal(resultsHeader{Format: resultsFormat, Version: resultsVersion, Input: filepath.Base(input), Created: time.Now()})
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
	writeResults(t, results, input, `{"key": "`+keyOfLine(t, input, 1)+`", "status": "cre`, resultRecord{Key: keyOfLine(t, input, 2), Line: 2, Status: "sent", At: sentAt})
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
	writeResults(t, results, input, "", resultRecord{Key: key, Line: 3, Status: "sent", At: sentAt},
		resultRecord{Key: key, Line: 3, Status: "unknown", At: time.Now(), Error: &errInfo{Code: "outcome_unknown", Message: "504"}})
	demo(t, nil, "bulk", "--target", srv.URL, input)
	if got := final(records(t, results)); got[3] != "recovered" {
		t.Errorf("line 3: %q, want recovered", got[3])
	}
	if n := chatsNamed(srv, "Partners"); n != 1 {
		t.Errorf("%d chats named Partners, want 1", n)
	}
}
