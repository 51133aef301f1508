package policy_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graphchat/graphchat/policy"
)

type messageCase struct {
	File    string `json:"file"`
	Source  string `json:"source"`
	Context struct {
		Auth    policy.AuthType `json:"auth"`
		Caller  string          `json:"caller"`
		Members []string        `json:"members"`
		Scopes  *string         `json:"scopes"`
		Strict  bool            `json:"strict"`
	} `json:"context"`
	SyntaxError bool          `json:"syntaxError"`
	Violations  []policy.Code `json:"violations"`
	Warnings    []policy.Code `json:"warnings"`
}

func loadMessageCases(t testing.TB) (dir string, cases []messageCase) {
	t.Helper()
	dir = filepath.Join("..", "testdata", "send-message")
	data, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []messageCase }
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return dir, f.Cases
}

func (tc messageCase) context() *policy.Context {
	c := &policy.Context{Auth: tc.Context.Auth, Caller: policy.Caller{ID: tc.Context.Caller}}
	if tc.Context.Scopes != nil {
		c.Grant = &policy.Grant{Permissions: policy.SplitPermissions(*tc.Context.Scopes)}
		if tc.Context.Strict {
			c.Grant.Mode = policy.ModeStrict
		}
	}
	return c
}

// TestMessageCases checks every fixture of testdata/send-message: the codes,
// in order, and that every finding names a field and has a message.
func TestMessageCases(t *testing.T) {
	t.Parallel()
	dir, cases := loadMessageCases(t)
	seen := map[string]bool{}
	for _, tc := range cases {
		name := strings.TrimSuffix(tc.File, ".json")
		if tc.Source != "" {
			name += "/" + tc.Source
		}
		t.Run(name, func(t *testing.T) {
			seen[tc.File] = true
			data, err := os.ReadFile(filepath.Join(dir, tc.File))
			if err != nil {
				t.Fatal(err)
			}
			m, err := policy.ParseSendMessage(data)
			if tc.SyntaxError {
				var se *policy.SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("got %v, want a *SyntaxError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m.Members = tc.Context.Members
			res := policy.CheckMessage(m, tc.context())
			if diff := cmp.Diff(tc.Violations, res.Violations.Codes(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("violations (-want +got):\n%s\n%v", diff, res.Violations)
			}
			if diff := cmp.Diff(tc.Warnings, res.Warnings.Codes(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s\n%v", diff, res.Warnings)
			}
			for _, v := range append(slices.Clone(res.Violations), res.Warnings...) {
				if v.Message == "" || !slices.Contains(policy.Codes(), v.Code) {
					t.Errorf("finding %+v: want a known code and a message", v)
				}
			}
			if (res.Err() == nil) != (len(tc.Violations) == 0) {
				t.Errorf("Err() = %v with %d violations", res.Err(), len(tc.Violations))
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		if base := filepath.Base(f); base != "cases.json" && !seen[base] {
			t.Errorf("%s has no case in cases.json", base)
		}
	}
}

func TestCheckMessageStruct(t *testing.T) {
	t.Parallel()
	const (
		megan = "8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca"
		lee   = "82fe7758-5bb3-4f0d-a43f-e555fd399c6f"
	)
	leeMention := policy.Mention{ID: 0, Text: "Lee", UserID: lee}
	tests := []struct {
		name       string
		msg        *policy.Message
		ctx        *policy.Context
		violations []policy.Code
		warnings   []policy.Code
	}{
		{"nil", nil, nil, []policy.Code{policy.CodeBodyMissing}, nil},
		{"text", &policy.Message{Content: "hi"}, nil, nil, nil},
		{"empty", &policy.Message{}, nil, []policy.Code{policy.CodeBodyMissing}, nil},
		{"at the size limit", &policy.Message{Content: strings.Repeat("a", policy.MaxMessageBytes)}, nil, nil, nil},
		{"one byte over", &policy.Message{Content: strings.Repeat("a", policy.MaxMessageBytes+1)}, nil, []policy.Code{policy.CodeMessageSize}, nil},
		{"mentions count against the size", &policy.Message{ContentType: policy.ContentHTML, Content: `<at id="0">Lee</at>` + strings.Repeat("a", policy.MaxMessageBytes-19), Mentions: []policy.Mention{leeMention}},
			nil, []policy.Code{policy.CodeMessageSize}, nil},
		{"invalid utf-8", &policy.Message{Content: "a\xffb"}, nil, []policy.Code{policy.CodeInvalidText}, nil},
		{"mention entities", &policy.Message{ContentType: policy.ContentHTML, Content: `<at id="0">Tom &amp; Jerry</at>`, Mentions: []policy.Mention{{ID: 0, Text: "Tom & Jerry", UserID: lee}}}, nil, nil, nil},
		{"single-quoted and unquoted ids", &policy.Message{ContentType: policy.ContentHTML, Content: `<at id='0'>Lee</at> <AT ID=1>Megan</AT>`,
			Mentions: []policy.Mention{leeMention, {ID: 1, Text: "Megan", UserID: megan}}}, nil, nil, nil},
		{"a tag id that is not a number", &policy.Message{ContentType: policy.ContentHTML, Content: `<at id="lee">Lee</at>`}, nil, []policy.Code{policy.CodeMentionMatch}, nil},
		{"crossed tags", &policy.Message{ContentType: policy.ContentHTML, Content: `<b><i>x</b></i>`}, nil, []policy.Code{policy.CodeHTMLMalformed}, nil},
		{"unclosed tag bracket", &policy.Message{ContentType: policy.ContentHTML, Content: `<b class="x"`}, nil, []policy.Code{policy.CodeHTMLMalformed}, nil},
		{"unclosed comment", &policy.Message{ContentType: policy.ContentHTML, Content: `<!-- x`}, nil, []policy.Code{policy.CodeHTMLMalformed}, nil},
		{"literal less-than in html", &policy.Message{ContentType: policy.ContentHTML, Content: `1 < 2 <br/>`}, nil, nil, nil},
		{"application", &policy.Message{Content: "hi"}, &policy.Context{Auth: policy.AuthApplication}, []policy.Code{policy.CodeOperationAuth}, nil},
		{"unknown auth", &policy.Message{Content: "hi"}, &policy.Context{Auth: "robot"}, []policy.Code{policy.CodeAuthType}, nil},
		{"caller by name, members by id", &policy.Message{Content: "hi", Members: []string{megan, lee}}, &policy.Context{Caller: policy.Caller{UserPrincipalName: "megan@contoso.com"}}, nil, []policy.Code{policy.CodeCallerUnknown}},
		{"caller by name, members by name", &policy.Message{Content: "hi", Members: []string{"lee@contoso.com", "nestor@contoso.com"}}, &policy.Context{Caller: policy.Caller{UserPrincipalName: "megan@contoso.com"}}, []policy.Code{policy.CodeCallerMissing}, nil},
		{"caller found by the directory", &policy.Message{Content: "hi", Members: []string{"megan@contoso.com", lee}}, &policy.Context{Caller: policy.Caller{ID: megan}, Directory: mustDirectory(t, policy.User{ID: megan, UserPrincipalName: "megan@contoso.com"})}, nil, nil},
		{"mention found by the directory", &policy.Message{ContentType: policy.ContentHTML, Content: `<at id="0">Lee</at>`, Mentions: []policy.Mention{leeMention}, Members: []string{megan, "lee@contoso.com"}},
			&policy.Context{Caller: policy.Caller{ID: megan}, Directory: mustDirectory(t, policy.User{ID: lee, UserPrincipalName: "lee@contoso.com"})}, nil, nil},
		{"application and no members rule for the caller", &policy.Message{Content: "hi", Members: []string{lee}}, &policy.Context{Auth: policy.AuthApplication}, []policy.Code{policy.CodeOperationAuth}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := policy.CheckMessage(tt.msg, tt.ctx)
			if diff := cmp.Diff(tt.violations, res.Violations.Codes(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("violations (-want +got):\n%s\n%v", diff, res.Violations)
			}
			if diff := cmp.Diff(tt.warnings, res.Warnings.Codes(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s\n%v", diff, res.Warnings)
			}
		})
	}
}

func mustDirectory(t *testing.T, users ...policy.User) *policy.Directory {
	t.Helper()
	d, err := policy.NewDirectory(users...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestParseSendMessage(t *testing.T) {
	t.Parallel()
	// A byte-order mark is skipped; the mention is read as sent.
	m, err := policy.ParseSendMessage([]byte("\xef\xbb\xbf" + `{"body":{"contentType":"html","content":"<at id=\"3\">Lee</at>"},"mentions":[{"id":3,"mentionText":"Lee","mentioned":{"user":{"id":"82fe7758-5bb3-4f0d-a43f-e555fd399c6f","displayName":"Lee Gu"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &policy.Message{ContentType: policy.ContentHTML, Content: `<at id="3">Lee</at>`,
		Mentions: []policy.Mention{{ID: 3, Text: "Lee", UserID: "82fe7758-5bb3-4f0d-a43f-e555fd399c6f", UserName: "Lee Gu"}}}
	if diff := cmp.Diff(want, m, cmpopts.IgnoreUnexported(policy.Message{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "  ", "nul", `{"body":`, `"text"`, "\xef\xbb\xbf"} {
		var se *policy.SyntaxError
		if _, err := policy.ParseSendMessage([]byte(bad)); !errors.As(err, &se) {
			t.Errorf("%q: got %v, want a *SyntaxError", bad, err)
		}
	}
	// Fields name where the problem is.
	m, err = policy.ParseSendMessage([]byte(`{"body":{"content":"x","contentType":"text","CONTENT":"y"},"mentions":[{"id":0,"mentioned":{"user":{"id":"x","id":"y"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := policy.CheckMessage(m, nil)
	var fields []string
	for _, v := range res.Violations {
		fields = append(fields, string(v.Code)+" "+v.Field)
	}
	want2 := []string{"duplicate_key mentions[0].mentioned.user.id", "property_case body.CONTENT", "mention_html body.contentType", "mention_user mentions[0].mentioned.user.id"}
	if diff := cmp.Diff(want2, fields); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCheckMessageDeterministic checks the same message twice and checks
// that CheckMessage leaves the message as it was.
func TestCheckMessageDeterministic(t *testing.T) {
	t.Parallel()
	dir, cases := loadMessageCases(t)
	for _, tc := range cases {
		if tc.SyntaxError {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, tc.File))
		m, err := policy.ParseSendMessage(data)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := json.Marshal(m)
		a, b := policy.CheckMessage(m, tc.context()), policy.CheckMessage(m, tc.context())
		after, _ := json.Marshal(m)
		if !reflect.DeepEqual(a, b) || string(before) != string(after) {
			t.Errorf("%s: two checks differ, or the message changed", tc.File)
		}
	}
}

// FuzzCheckMessageJSON parses and checks arbitrary message bodies: no
// panic, the same answer twice, a *SyntaxError or findings with known codes.
func FuzzCheckMessageJSON(f *testing.F) {
	dir, cases := loadMessageCases(f)
	for _, tc := range cases {
		data, err := os.ReadFile(filepath.Join(dir, tc.File))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
	}
	f.Add([]byte(`{"body":{"contentType":"html","content":"<at id=\"0\"><b>x</at></b>"},"mentions":[null,{"id":1e3}]}`), true)
	f.Fuzz(func(t *testing.T, data []byte, members bool) {
		c := &policy.Context{Caller: policy.Caller{ID: "8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca"}}
		check := func() (*policy.Result, error) {
			m, err := policy.ParseSendMessage(data)
			if err != nil {
				return nil, err
			}
			if members {
				m.Members = []string{"82fe7758-5bb3-4f0d-a43f-e555fd399c6f", "megan@contoso.com"}
			}
			return policy.CheckMessage(m, c), nil
		}
		checkTwice(t, check)
	})
}
