package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// chatBody is the POST /chats body of a chat type, topic (none when empty)
// and members given as create takes them (object id or user principal
// name), each an owner: what create --one-on-one or --group sends.
func chatBody(typ, topic string, users ...string) string {
	var members []string
	for _, u := range users {
		members = append(members, fmt.Sprintf(`{"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('%s')"}`, u))
	}
	t := ""
	if topic != "" {
		t = fmt.Sprintf(`"topic":%q,`, topic)
	}
	return fmt.Sprintf(`{"chatType":%q,%s"members":[%s]}`, typ, t, strings.Join(members, ","))
}

// textVerdict is the codes and fields of the violations of a verdict
// printed in text, as code@field.
func textVerdict(stdout string) []string {
	var out []string
	for _, line := range strings.Split(stdout, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "violation" {
			field := f[2]
			if field == "(body)" {
				field = ""
			}
			out = append(out, f[1]+"@"+field)
		}
	}
	return out
}

// create refuses what validate refuses with the same verdict, a permission
// the token lacks included with the body's own violations, in text and in
// JSON, and nothing reaches the service: a body file, --one-on-one and
// --group alike.
func TestCreateRefusalIsValidates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	readBasic := []string{"--token", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadBasic")} // no Chat.Create
	granted := []string{"--token", graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")}
	megan, lee, nestor := "megan@contoso.com", "lee@contoso.com", "nestor@contoso.com"
	tests := []struct {
		name   string
		flags  []string // for both commands
		create []string // create's arguments: FILE is the body
		body   string   // the body validate judges, the same chat
		want   []string // the codes, each once at least
	}{
		// The body's violations and the permission.
		{"file, one-on-one with a topic, --scopes", []string{"--scopes", "Chat.ReadBasic"}, []string{"FILE"},
			chatBody("oneOnOne", "Lunch", megan), []string{"topic_on_one_on_one", "member_count", "permission_missing"}},
		{"file, one-on-one with a topic, token", readBasic, []string{"FILE"},
			chatBody("oneOnOne", "Lunch", megan), []string{"topic_on_one_on_one", "member_count", "permission_missing"}},
		{"one-on-one without the caller", readBasic, []string{"--one-on-one", lee, nestor},
			chatBody("oneOnOne", "", lee, nestor), []string{"caller_missing", "permission_missing"}},
		{"one-on-one, one user twice", readBasic, []string{"--one-on-one", megan, megan},
			chatBody("oneOnOne", "", megan, megan), []string{"duplicate_member", "permission_missing"}},
		{"group, topic with a colon", readBasic, []string{"--group", "--topic", "Launch: day 1", megan, lee, nestor},
			chatBody("group", "Launch: day 1", megan, lee, nestor), []string{"topic_colon", "permission_missing"}},
		{"group without the caller, --scopes", []string{"--scopes", "Chat.ReadBasic"}, []string{"--group", lee, nestor, "alex@contoso.com"},
			chatBody("group", "", lee, nestor, "alex@contoso.com"), []string{"caller_missing", "permission_missing"}},
		// Only the permission.
		{"file, only the permission", readBasic, []string{"FILE"},
			chatBody("group", "Launch", megan, lee, nestor), []string{"permission_missing"}},
		{"one-on-one, only the permission", readBasic, []string{"--one-on-one", megan, lee},
			chatBody("oneOnOne", "", megan, lee), []string{"permission_missing"}},
		{"group, only the permission", readBasic, []string{"--group", megan, lee, nestor},
			chatBody("group", "", megan, lee, nestor), []string{"permission_missing"}},
		// Only the body.
		{"file, only the body", granted, []string{"FILE"},
			chatBody("oneOnOne", "Lunch", megan), []string{"topic_on_one_on_one", "member_count"}},
		{"one-on-one, only the body", granted, []string{"--one-on-one", lee, nestor},
			chatBody("oneOnOne", "", lee, nestor), []string{"caller_missing"}},
		{"group, only the body", granted, []string{"--group", "--topic", "a:b", megan, lee, nestor},
			chatBody("group", "a:b", megan, lee, nestor), []string{"topic_colon"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := emulator(t)
			file := filepath.Join(dir, fmt.Sprintf("body-%d.json", i))
			if err := os.WriteFile(file, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			create := slices.Clone(tt.create)
			if create[0] == "FILE" {
				create[0] = file
			}
			common := append([]string{"--target", srv.URL}, tt.flags...)
			val := demo(t, nil, append([]string{"validate", "--json", file}, common...)...)
			want := decodeDoc(t, val).codes()
			for _, code := range tt.want {
				if !slices.ContainsFunc(want, func(c string) bool { return strings.HasPrefix(c, code+"@") }) {
					t.Fatalf("validate: %v lacks %s: the case does not test what it says\n%s", want, code, val.stdout)
				}
			}
			if val.code != exitRefused {
				t.Fatalf("validate: exit %d, want %d", val.code, exitRefused)
			}
			for _, asJSON := range []bool{false, true} {
				args := append(append([]string{"create"}, common...), create...)
				if asJSON {
					args = append(args, "--json")
				}
				r := demo(t, nil, args...)
				got := textVerdict(r.stdout)
				if asJSON {
					got = decodeDoc(t, r).codes()
				}
				if r.code != exitRefused || !slices.Equal(got, want) {
					t.Errorf("json %v: create exit %d (want %d), %v; validate %v\n%s\n%s", asJSON, r.code, exitRefused, got, want, r.stdout, r.stderr)
				}
			}
			if n := len(srv.Entries()); n != 0 || len(srv.Chats()) != 0 {
				t.Errorf("the emulator received %d requests and has %d chats, want none: %+v", n, len(srv.Chats()), srv.Entries())
			}
		})
	}
}
