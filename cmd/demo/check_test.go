package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/graphchat/graphchat/policy"
)

// rowColumns checks that a printed finding is its kind, code, field and
// message in that order, two spaces at least between them, and returns the
// columns (in characters) where the code, the field and the message start.
func rowColumns(t *testing.T, line, kind string, v policy.Violation) (cols [3]int, ok bool) {
	t.Helper()
	rest, found := strings.CutPrefix(line, "  "+kind)
	for i, want := range []string{string(v.Code), orBody(v.Field), v.Message} {
		gap := len(rest) - len(strings.TrimLeft(rest, " "))
		if !found || gap < 2 || !strings.HasPrefix(rest[gap:], want) {
			t.Errorf("row %q: want %s, %s, %s and %q, two spaces at least between them", line, kind, v.Code, orBody(v.Field), v.Message)
			return cols, false
		}
		rest = rest[gap:]
		cols[i] = utf8.RuneCountInString(line[:len(line)-len(rest)])
		rest = rest[len(want):]
	}
	if rest != "" {
		t.Errorf("row %q: %q after the message", line, rest)
		return cols, false
	}
	return cols, true
}

// The columns of a verdict fit their content: every row's field starts in
// the same column, and so does every row's message, violations (standard
// output) and warnings (standard error) alike, however long a field is.
func TestVerdictColumns(t *testing.T) {
	t.Parallel()
	long := "mentions[0].mentioned.user.id"
	tests := []struct {
		name string
		res  policy.Result
	}{
		{"long field first", policy.Result{Violations: policy.List{
			{Code: policy.CodeMentionUser, Field: long, Message: "missing: graphchat sends mentions of users, named by object id"},
			{Code: policy.CodeBodyMissing, Field: "body.content", Message: "missing or empty: a message needs content"},
			{Code: policy.CodePermissionMissing, Message: "no granted permission allows send-message"},
		}}},
		{"long field last, with warnings", policy.Result{
			Violations: policy.List{
				{Code: policy.CodeTopicOneOnOne, Field: "topic", Message: "a oneOnOne chat has no topic"},
				{Code: policy.CodeMentionNotMember, Field: "mentions[12].mentioned.user.id", Message: "not a member of the chat"},
			},
			Warnings: policy.List{
				{Code: policy.CodeUnknownProperty, Field: "members[0].visibleHistoryStartDateTimeExtra", Message: "not part of a chat member"},
				{Code: policy.CodeCallerUnknown, Message: "no caller given"},
			},
		}},
		{"one row", policy.Result{Violations: policy.List{{Code: policy.CodeBodyMissing, Field: "body.content", Message: "missing"}}}},
		{"non-ASCII field", policy.Result{Violations: policy.List{
			{Code: policy.CodeUnknownProperty, Field: "tøpic", Message: "unknown"},
			{Code: policy.CodeMemberCount, Field: "members", Message: "1 member"},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, out, errOut := newEnv("")
			e.printVerdict(&tt.res, "refused")
			checkColumns(t, out.String(), errOut.String(), tt.res.Violations, tt.res.Warnings)
		})
	}
}

// checkColumns checks the rows of a printed verdict against its findings:
// in order, each in its stream, fields and messages each in one column.
func checkColumns(t *testing.T, stdout, stderr string, violations, warnings policy.List) {
	t.Helper()
	rows := func(text, kind string) []string {
		var l []string
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "  "+kind+" ") {
				l = append(l, line)
			}
		}
		return l
	}
	var first [3]int
	seen := false
	for _, s := range []struct {
		kind  string
		rows  []string
		found policy.List
	}{{"violation", rows(stdout, "violation"), violations}, {"warning", rows(stderr, "warning"), warnings}} {
		if len(s.rows) != len(s.found) {
			t.Fatalf("%d %s rows, want %d:\n%s\n%s", len(s.rows), s.kind, len(s.found), stdout, stderr)
		}
		for i, line := range s.rows {
			cols, ok := rowColumns(t, line, s.kind, s.found[i])
			if !ok {
				continue
			}
			if !seen {
				first, seen = cols, true
			}
			if cols != first {
				t.Errorf("row %q: code, field and message at columns %v; want %v, as the first row\n%s%s", line, cols, first, stdout, stderr)
			}
		}
	}
}

// The columns of validate's verdict, with a field longer than the old
// fixed width (28 characters).
func TestValidateColumns(t *testing.T) {
	t.Parallel()
	body := filepath.Join(t.TempDir(), "body.json")
	const data = `{"chatType":"oneOnOne","topic":"x","members":[{"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":["owner"],` +
		`"user@odata.bind":"https://graph.microsoft.com/v1.0/users('megan@contoso.com')","visibleHistoryStartDateTimeExtra":"x"}]}`
	if err := os.WriteFile(body, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"validate", "--caller", "megan@contoso.com", body}
	var doc struct{ Violations, Warnings policy.List }
	r := demo(t, nil, append(args, "--json")...)
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != exitRefused || len(doc.Violations) < 2 || len(doc.Warnings) == 0 {
		t.Fatalf("--json: exit %d %v\n%s", r.code, err, r.stdout)
	}
	if !strings.Contains(r.stdout, "visibleHistoryStartDateTimeExtra") {
		t.Fatalf("no long field to lay out:\n%s", r.stdout)
	}
	r = demo(t, nil, args...)
	if r.code != exitRefused {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	checkColumns(t, r.stdout, r.stderr, doc.Violations, doc.Warnings)
}
