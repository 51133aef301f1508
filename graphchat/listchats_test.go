package graphchat_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// ListChats returns every chat of the listed user, of the type and topic
// asked for, oldest first, across pages.
func TestListChats(t *testing.T) {
	t.Parallel()
	e := setup(t, &graphchattest.Options{Now: clock()}, &graphchat.Options{Operations: findOps}, findToken())
	c := e.client
	var groups, launch []string
	for i := range 55 { // two pages of 50
		topic := ""
		if i%5 == 0 {
			topic = "Launch"
		}
		id := mustGroup(t, c, topic, megan, lee, nestor)
		groups = append(groups, id)
		if topic != "" {
			launch = append(launch, id)
		}
	}
	one, err := c.CreateOneOnOne(ctx, megan, lee)
	if err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(groups), one.ID())
	tests := []struct {
		name string
		opts *graphchat.FindOptions
		want []string
	}{
		{"every chat", nil, all},
		{"groups", &graphchat.FindOptions{Type: policy.ChatTypeGroup}, groups},
		{"one-on-one", &graphchat.FindOptions{Type: policy.ChatTypeOneOnOne}, []string{one.ID()}},
		{"topic", &graphchat.FindOptions{Type: policy.ChatTypeGroup, Topic: str("Launch")}, launch},
		{"no topic", &graphchat.FindOptions{Type: policy.ChatTypeGroup, Topic: str("")}, without(groups, launch)},
		{"the caller named", &graphchat.FindOptions{User: "megan@contoso.com"}, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ListChats(ctx, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			for _, chat := range got {
				if len(chat.GetMembers()) == 0 {
					t.Errorf("%s: no members listed", deref(chat.GetId()))
				}
			}
		})
	}
}

func without(all, drop []string) []string {
	return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return slices.Contains(drop, s) })
}

// ListChats refuses, before any request, what it cannot list; a page that
// fails is an error, never a partial list.
func TestListChatsErrors(t *testing.T) {
	t.Parallel()
	appOps := []policy.Operation{policy.OpListChats, policy.OpResolveUser}
	appToken := graphchattest.AppToken("Chat.ReadBasic.All", "User.Read.All")
	tests := []struct {
		name    string
		app     bool
		opts    *graphchat.FindOptions
		sent    int
		wantErr string
	}{
		{"application names no user", true, nil, 0, "FindOptions.User"},
		{"application user unknown", true, &graphchat.FindOptions{User: "nobody@contoso.com"}, 1, "nobody@contoso.com"},
		{"delegated names another user", false, &graphchat.FindOptions{User: "lee@contoso.com"}, 0, "lee@contoso.com"},
		{"bad type", false, &graphchat.FindOptions{Type: "channel"}, 0, "channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, nil, &graphchat.Options{Operations: findOps}, findToken())
			if tt.app {
				e = setup(t, nil, &graphchat.Options{Auth: policy.AuthApplication, Operations: appOps}, appToken)
			}
			_, err := e.client.ListChats(ctx, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one naming %q", err, tt.wantErr)
			}
			if n := len(e.requests()); n != tt.sent {
				t.Errorf("%d requests sent, want %d", n, tt.sent)
			}
		})
	}

	// An application lists the named user's chats.
	e := setup(t, nil, &graphchat.Options{Auth: policy.AuthApplication, Operations: appOps}, appToken)
	if _, err := e.client.ListChats(ctx, &graphchat.FindOptions{User: "lee@contoso.com"}); err != nil {
		t.Fatalf("application: %v", err)
	}
	if r := e.requests(); len(r) != 2 || !strings.HasSuffix(r[1].Path, "/users/"+graphchattest.LeeID+"/chats") {
		t.Errorf("requests %v", r)
	}

	// Throttled past the retries on the second page: an error, no list.
	e = setup(t, nil, &graphchat.Options{Operations: findOps}, findToken())
	for range 51 {
		mustGroup(t, e.client, "", megan, lee, nestor)
	}
	e.before = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.URL.Query().Get("$skiptoken") == "" {
			return false
		}
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	got, err := e.client.ListChats(ctx, nil)
	if !errors.Is(err, graphchat.ErrThrottled) || !strings.Contains(err.Error(), "page 2") || got != nil {
		t.Errorf("throttled: %d chats, %v", len(got), err)
	}
}
