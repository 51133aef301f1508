package policy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graphchat/graphchat/policy"
)

// TestAmbiguousJSON: what encoding/json would hide (duplicate keys, case
// variants of property names, text it would decode differently) is named
// with its field.
func TestAmbiguousJSON(t *testing.T) {
	t.Parallel()
	const (
		a = `{"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('a@contoso.com')"}`
		b = `{"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('b@contoso.com')"}`
	)
	member := func(fields string) string {
		return `{"@odata.type":"#microsoft.graph.aadUserConversationMember",` + fields + `}`
	}
	body := func(head string, members ...string) string {
		if len(members) == 0 {
			members = []string{a, b}
		}
		return `{` + head + `"members":[` + strings.Join(members, ",") + `]}`
	}
	tests := []struct {
		name     string
		body     string
		codes    []policy.Code
		fields   []string
		warnings []policy.Code
	}{
		{name: "clean", body: body(`"chatType":"oneOnOne",`)},
		{name: "duplicate at the top", body: body(`"chatType":"group","topic":"x","chatType":"oneOnOne",`),
			// The rules read the last value, as encoding/json does.
			codes: []policy.Code{policy.CodeDuplicateKey, policy.CodeTopicOneOnOne}, fields: []string{"chatType", "topic"}},
		{name: "duplicate three times", body: body(`"chatType":"oneOnOne","chatType":"oneOnOne","chatType":"oneOnOne",`),
			codes: []policy.Code{policy.CodeDuplicateKey, policy.CodeDuplicateKey}, fields: []string{"chatType", "chatType"}},
		{name: "duplicate by escape", body: body(`"chatType":"oneOnOne","\u0063hatType":"oneOnOne",`),
			codes: []policy.Code{policy.CodeDuplicateKey}, fields: []string{"chatType"}},
		{name: "duplicate in a member", body: body(`"chatType":"oneOnOne",`, a, member(`"roles":["owner"],"roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('b@contoso.com')"`)),
			codes: []policy.Code{policy.CodeDuplicateKey}, fields: []string{"members[1].roles"}},
		{name: "duplicate deep in an app", body: body(`"chatType":"oneOnOne","installedApps":[{"teamsApp@odata.bind":"x","teamsApp@odata.bind":"x"}],`),
			codes: []policy.Code{policy.CodeDuplicateKey}, fields: []string{"installedApps[0].teamsApp@odata.bind"}},
		{name: "same key in two objects is no duplicate", body: body(`"chatType":"oneOnOne","x":{"k":1},"y":{"k":1},`),
			warnings: []policy.Code{policy.CodeUnknownProperty, policy.CodeUnknownProperty}},
		{name: "duplicate among many keys", body: body(`"chatType":"oneOnOne","x":{` + manyKeys(40) + `,"k7":0},`),
			codes: []policy.Code{policy.CodeDuplicateKey}, fields: []string{"x.k7"}, warnings: []policy.Code{policy.CodeUnknownProperty}},
		{name: "case of chatType", body: body(`"CHATTYPE":"oneOnOne",`),
			codes: []policy.Code{policy.CodePropertyCase}, fields: []string{"CHATTYPE"}},
		{name: "case variant beside the property", body: body(`"chatType":"oneOnOne","Topic":"x",`),
			codes: []policy.Code{policy.CodeTopicOneOnOne, policy.CodePropertyCase}, fields: []string{"topic", "Topic"}},
		{name: "case of roles", body: body(`"chatType":"oneOnOne",`, a, member(`"Roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('b@contoso.com')"`)),
			codes: []policy.Code{policy.CodePropertyCase}, fields: []string{"members[1].Roles"}},
		{name: "case of the bind key", body: body(`"chatType":"oneOnOne",`, a, member(`"roles":["owner"],"user@odata.Bind":"https://graph.microsoft.com/v1.0/users('b@contoso.com')"`)),
			codes: []policy.Code{policy.CodePropertyCase}, fields: []string{"members[1].user@odata.Bind"}},
		{name: "case of tenantId", body: body(`"chatType":"oneOnOne",`, a, member(`"roles":["owner"],"TenantID":"4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1","user@odata.bind":"https://graph.microsoft.com/v1.0/users('b@contoso.com')"`)),
			codes: []policy.Code{policy.CodePropertyCase}, fields: []string{"members[1].TenantID"}},
		{name: "misspelt bind key stays bind_key", body: body(`"chatType":"oneOnOne",`, a, member(`"roles":["owner"],"user@odata_bind":"https://graph.microsoft.com/v1.0/users('b@contoso.com')"`)),
			codes: []policy.Code{policy.CodeBindKey}, fields: []string{"members[1].user@odata_bind"}},
		{name: "unknown property stays a warning", body: body(`"chatType":"oneOnOne","chatKind":"x",`),
			warnings: []policy.Code{policy.CodeUnknownProperty}},
		{name: "topic not UTF-8", body: body(`"chatType":"group","topic":"caf` + "\xe9" + `",`),
			codes: []policy.Code{policy.CodeInvalidText}, fields: []string{"topic"}, warnings: []policy.Code{policy.CodeSmallGroup}},
		{name: "topic UTF-8 surrogate bytes", body: body(`"chatType":"group","topic":"` + "\xed\xa0\x80" + `",`),
			codes: []policy.Code{policy.CodeInvalidText}, fields: []string{"topic"}, warnings: []policy.Code{policy.CodeSmallGroup}},
		{name: "topic lone low surrogate", body: body(`"chatType":"group","topic":"\udc00x",`),
			codes: []policy.Code{policy.CodeInvalidText}, fields: []string{"topic"}, warnings: []policy.Code{policy.CodeSmallGroup}},
		{name: "topic high surrogate then letter", body: body(`"chatType":"group","topic":"\ud83dx",`),
			codes: []policy.Code{policy.CodeInvalidText}, fields: []string{"topic"}, warnings: []policy.Code{policy.CodeSmallGroup}},
		{name: "topic surrogate pair is fine", body: body(`"chatType":"group","topic":"\ud83d\ude00 plan",`),
			warnings: []policy.Code{policy.CodeSmallGroup}},
		{name: "topic U+FFFD written is fine", body: body(`"chatType":"group","topic":"\ufffd` + "\uFFFD" + `",`),
			warnings: []policy.Code{policy.CodeSmallGroup}},
		{name: "topic tab", body: body(`"chatType":"group","topic":"a\tb",`),
			codes: []policy.Code{policy.CodeInvalidText}, fields: []string{"topic"}, warnings: []policy.Code{policy.CodeSmallGroup}},
		{name: "topic C1 control", body: body(`"chatType":"group","topic":"a\u0085b",`),
			codes: []policy.Code{policy.CodeInvalidText}, fields: []string{"topic"}, warnings: []policy.Code{policy.CodeSmallGroup}},
		{name: "bind URL not UTF-8", body: body(`"chatType":"oneOnOne",`, a, member(`"roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('`+"\xff"+`@contoso.com')"`)),
			codes: []policy.Code{policy.CodeInvalidText}, fields: []string{"members[1].user@odata.bind"}},
		{name: "bind URL with an escaped newline", body: body(`"chatType":"oneOnOne",`, a, member(`"roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('b@contoso.com')\n"`)),
			codes: []policy.Code{policy.CodeInvalidText}, fields: []string{"members[1].user@odata.bind"}},
		{name: "tenantId with a control character", body: body(`"chatType":"oneOnOne",`, a, member(`"roles":["owner"],"tenantId":"4dc1fe35-8ac6-4f0d-904a-7ebcd364bea\u0001","user@odata.bind":"https://graph.microsoft.com/v1.0/users('b@contoso.com')"`)),
			codes: []policy.Code{policy.CodeInvalidText}, fields: []string{"members[1].tenantId"}},
		{name: "other string not UTF-8", body: body(`"chatType":"oneOnOne",`, a, member(`"roles":["owner"],"displayName":"`+"\xc3"+`","user@odata.bind":"https://graph.microsoft.com/v1.0/users('b@contoso.com')"`)),
			codes: []policy.Code{policy.CodeInvalidText}, fields: []string{"members[1].displayName"}},
		{name: "empty user", body: body(`"chatType":"oneOnOne",`, a, member(`"roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/beta/users('')"`)),
			codes: []policy.Code{policy.CodeUserMissing}, fields: []string{"members[1].user@odata.bind"}},
		{name: "byte-order mark", body: "\xef\xbb\xbf" + body(`"chatType":"oneOnOne",`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := policy.CheckJSON([]byte(tt.body), &policy.Context{Caller: policy.Caller{UserPrincipalName: "a@contoso.com"}})
			if err != nil {
				t.Fatal(err)
			}
			opt := cmpopts.EquateEmpty()
			var fields []string
			for _, v := range res.Violations {
				fields = append(fields, v.Field)
			}
			if diff := cmp.Diff(tt.codes, res.Violations.Codes(), opt); diff != "" {
				t.Errorf("violations (-want +got):\n%s\n%v", diff, res.Violations)
			}
			if diff := cmp.Diff(tt.fields, fields, opt); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warnings, res.Warnings.Codes(), opt); diff != "" {
				t.Errorf("warnings (-want +got):\n%s\n%v", diff, res.Warnings)
			}
		})
	}
}

func manyKeys(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	return strings.Join(keys, ",")
}

// A byte-order mark is skipped, and positions in syntax errors still count it.
func TestByteOrderMark(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in        string
		line, col int
	}{
		{in: "\xef\xbb\xbf{\"a\": tru}", line: 1, col: 13},
		{in: "\xef\xbb\xbf[]", line: 1, col: 4},
		{in: "\xef\xbb\xbf\xef\xbb\xbf{}", line: 1, col: 4}, // a second mark is not JSON
	} {
		_, err := policy.ParseCreateChat([]byte(tt.in))
		var se *policy.SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("%q: err = %v, want *SyntaxError", tt.in, err)
		}
		if se.Line != tt.line || se.Column != tt.col {
			t.Errorf("%q: line %d col %d, want %d:%d (%v)", tt.in, se.Line, se.Column, tt.line, tt.col, se)
		}
	}
	if _, err := policy.ParseCreateChat([]byte("\xef\xbb\xbf")); err == nil {
		t.Error("a lone byte-order mark parsed")
	}
}
