package graphchat_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

var ctx = context.Background()

func docsBody(t *testing.T, name string) any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "create-chat", name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The documentation's examples, built with graphchat's helpers, send the
// documentation's request bodies and succeed against the emulator.
func TestDocumentedExamples(t *testing.T) {
	t.Parallel()
	const (
		a   = "8b081ef6-4792-4def-b2c9-c363a1bf41d5"
		b   = "82af01c5-f7cc-4a2e-a728-3a5df21afd9d"
		fed = "4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1"
	)
	tests := []struct {
		file   string
		caller string
		create func(c *graphchat.Client) (*graphchat.Created, error)
	}{
		{"docs-1-one-on-one.json", a, func(c *graphchat.Client) (*graphchat.Created, error) {
			return c.CreateOneOnOne(ctx, graphchat.User(a), graphchat.User(b))
		}},
		{"docs-2-group.json", graphchattest.MeganID, func(c *graphchat.Client) (*graphchat.Created, error) {
			return c.CreateGroup(ctx, "Group chat title", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
		}},
		{"docs-5-one-on-one-upn.json", a, func(c *graphchat.Client) (*graphchat.Created, error) {
			return c.CreateOneOnOne(ctx, graphchat.User("jacob@contoso.com"), graphchat.User("alex@contoso.com"))
		}},
		{"docs-7-one-on-one-federated.json", a, func(c *graphchat.Client) (*graphchat.Created, error) {
			return c.CreateOneOnOne(ctx, graphchat.User(a), graphchat.External(b, fed))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e := setup(t, nil, nil, graphchattest.DelegatedToken(tt.caller, "Chat.Create"))
			got, err := tt.create(e.client)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID() == "" || got.Existed || len(got.Warnings) != 0 {
				t.Errorf("created %+v", got)
			}
			reqs := e.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			var sentBody any
			if err := json.Unmarshal(reqs[0].Body, &sentBody); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(docsBody(t, tt.file), sentBody); diff != "" {
				t.Errorf("sent body differs from the documentation's (-docs +sent):\n%s", diff)
			}
			h := reqs[0].Header
			if h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get("Authorization"), "Bearer ") || h.Get("client-request-id") == "" {
				t.Errorf("headers %v", h)
			}
		})
	}
}

// A chat the caller built with the SDK's models, with an app to install:
// the service answers 202 and a Location.
func TestCreateFromModelWithApp(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, graphchattest.DelegatedToken(graphchattest.JacobID, "Chat.Create"))
	chat := models.NewChat()
	ct := models.ONEONONE_CHATTYPE
	chat.SetChatType(&ct)
	var ms []models.ConversationMemberable
	for _, id := range []string{graphchattest.JacobID, graphchattest.AlexID} {
		m, err := graphchat.User(id).Model(graphchat.CloudGlobal, "v1.0")
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	chat.SetMembers(ms)
	app := models.NewTeamsAppInstallation()
	app.SetAdditionalData(map[string]any{"teamsApp@odata.bind": "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/05F59CEC-A742-4A50-A62E-202A57E478A4"})
	chat.SetInstalledApps([]models.TeamsAppInstallationable{app})
	got, err := e.client.Create(ctx, chat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Chat != nil || !strings.Contains(got.Operation, "/operations('") {
		t.Errorf("created %+v", got)
	}
	var sentBody any
	json.Unmarshal(e.requests()[0].Body, &sentBody)
	if diff := cmp.Diff(docsBody(t, "docs-3-one-on-one-installed-apps.json"), sentBody); diff != "" {
		t.Errorf("(-docs +sent):\n%s", diff)
	}
}

// Every policy rejection is returned untouched and never reaches the server.
func TestRejectedRequestsNeverSent(t *testing.T) {
	t.Parallel()
	megan, lee, nestor := graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID)
	guestAsOwner := graphchat.Guest(graphchattest.AdaID)
	guestAsOwner.Role = policy.RoleOwner
	externalAsGuest := graphchat.External(graphchattest.GradyID, graphchattest.PartnerTenantID)
	externalAsGuest.Role = policy.RoleGuest
	tests := []struct {
		name string
		opts *graphchat.Options
		tok  string
		do   func(c *graphchat.Client) error
		want policy.Code
	}{
		{"guest owner", nil, "", func(c *graphchat.Client) error {
			_, err := c.CreateGroup(ctx, "x", megan, lee, guestAsOwner)
			return err
		}, policy.CodeGuestRole},
		{"external guest", nil, "", func(c *graphchat.Client) error {
			_, err := c.CreateGroup(ctx, "x", megan, lee, externalAsGuest)
			return err
		}, policy.CodeExternalRole},
		{"caller missing", nil, "", func(c *graphchat.Client) error {
			_, err := c.CreateGroup(ctx, "x", lee, nestor, graphchat.User(graphchattest.AlexID))
			return err
		}, policy.CodeCallerMissing},
		{"topic on one-on-one", nil, "", func(c *graphchat.Client) error {
			chat := models.NewChat()
			ct := models.ONEONONE_CHATTYPE
			chat.SetChatType(&ct)
			topic := "hello"
			chat.SetTopic(&topic)
			a, _ := megan.Model(graphchat.CloudGlobal, "v1.0")
			b, _ := lee.Model(graphchat.CloudGlobal, "v1.0")
			chat.SetMembers([]models.ConversationMemberable{a, b})
			_, err := c.Create(ctx, chat, nil)
			return err
		}, policy.CodeTopicOneOnOne},
		{"misspelt bind key in a model", nil, "", func(c *graphchat.Client) error {
			chat := models.NewChat()
			ct := models.ONEONONE_CHATTYPE
			chat.SetChatType(&ct)
			a, _ := megan.Model(graphchat.CloudGlobal, "v1.0")
			b := models.NewAadUserConversationMember()
			b.SetRoles([]string{"owner"})
			b.SetAdditionalData(map[string]any{"odataBind": "https://graph.microsoft.com/v1.0/users('" + graphchattest.LeeID + "')"})
			chat.SetMembers([]models.ConversationMemberable{a, b})
			_, err := c.Create(ctx, chat, nil)
			return err
		}, policy.CodeBindKey},
		{"the documentation's guest example (its id is not a GUID)", nil, "", func(c *graphchat.Client) error {
			_, err := c.CreateGroup(ctx, "Group chat title", megan, lee, graphchat.Guest("8ba98gf6-7fc2-4eb2-c7f2-aef9f21fd98g"))
			return err
		}, policy.CodeUserReference},
		{"three members one-on-one", nil, "", func(c *graphchat.Client) error {
			_, err := c.CreateGroup(ctx, "", megan)
			return err
		}, policy.CodeMemberCount},
		{"more privileged than needed, strict", &graphchat.Options{Mode: policy.ModeStrict}, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadWrite"), func(c *graphchat.Client) error {
			_, err := c.CreateOneOnOne(ctx, megan, lee)
			return err
		}, policy.CodePermissionExcess},
		{"no permission", nil, graphchattest.DelegatedToken(graphchattest.MeganID, "User.Read"), func(c *graphchat.Client) error {
			_, err := c.CreateOneOnOne(ctx, megan, lee)
			return err
		}, policy.CodePermissionMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, nil, tt.opts, tt.tok)
			err := tt.do(e.client)
			var list policy.List
			if !errors.As(err, &list) || !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want a policy.List with %s", err, tt.want)
			}
			if n := len(e.requests()); n != 0 {
				t.Errorf("the server received %d requests", n)
			}
		})
	}
	// Undeclared operations are refused before any request too.
	e := setup(t, nil, nil, "")
	if _, err := e.client.AddMember(ctx, "19:x@thread.v2", graphchat.User(graphchattest.AlexID)); !errors.Is(err, graphchat.ErrUndeclared) {
		t.Errorf("undeclared add-member: %v", err)
	}
	if len(e.requests()) != 0 {
		t.Error("undeclared operation reached the server")
	}
}

func TestOneOnOneExisted(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64 // the emulator's clock, relative to now
	emuOpts := &graphchattest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }}
	e := setup(t, emuOpts, nil, "")
	first, err := e.client.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID))
	if err != nil || first.Existed {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := e.client.CreateOneOnOne(ctx, graphchat.User("lee@contoso.com"), graphchat.User(graphchattest.MeganID))
	if err != nil || !again.Existed || again.ID() != first.ID() {
		t.Fatalf("again: %+v %v", again, err)
	}
	// Another client, with no memory of it: decided by the service's clock.
	// The chat with Nestor is created an hour "ago".
	offset.Store(int64(-time.Hour))
	if _, err := e.client.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.NestorID)); err != nil {
		t.Fatal(err)
	}
	offset.Store(0)
	other, err := graphchat.NewFromCredential(e.cred, &graphchat.Options{BaseURL: e.url})
	if err != nil {
		t.Fatal(err)
	}
	old, err := other.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.NestorID))
	if err != nil || !old.Existed {
		t.Errorf("hour-old chat: %+v %v", old, err)
	}
	fresh, err := other.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.AlexID))
	if err != nil || fresh.Existed {
		t.Errorf("new chat: %+v %v", fresh, err)
	}
}

func TestMembers(t *testing.T) {
	t.Parallel()
	ops := []policy.Operation{policy.OpCreateChat, policy.OpAddMember, policy.OpRemoveMember, policy.OpGetChat, policy.OpListMembers}
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "ChatMember.ReadWrite", "Chat.ReadBasic")
	e := setup(t, nil, &graphchat.Options{Operations: ops}, tok)
	g, err := e.client.CreateGroup(ctx, "Plan", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.Guest(graphchattest.AdaID))
	if err != nil {
		t.Fatal(err)
	}
	// The least-privileged scopes of the declared operations, nothing more.
	want := []string{"https://graph.microsoft.com/Chat.Create", "https://graph.microsoft.com/ChatMember.ReadWrite", "https://graph.microsoft.com/Chat.ReadBasic"}
	if len(e.cred.asked) == 0 || !cmp.Equal(e.cred.asked[0], want) {
		t.Errorf("scopes asked: %v, want %v", e.cred.asked, want)
	}
	id, err := e.client.AddMember(ctx, g.ID(), graphchat.User(graphchattest.AlexID).WithAllHistory())
	if err != nil || id == "" {
		t.Fatalf("add: %q %v", id, err)
	}
	var addBody map[string]any
	reqs := e.requests()
	json.Unmarshal(reqs[len(reqs)-1].Body, &addBody)
	if addBody["visibleHistoryStartDateTime"] != "0001-01-01T00:00:00Z" {
		t.Errorf("add body %v", addBody)
	}
	members, err := e.client.ListMembers(ctx, g.ID())
	if err != nil || len(members) != 4 || deref(members[3].GetId()) != id {
		t.Fatalf("members: %d %v", len(members), err)
	}
	roles := members[2].GetRoles()
	if len(roles) != 1 || roles[0] != "guest" {
		t.Errorf("guest roles %v", roles)
	}
	if err := e.client.RemoveMember(ctx, g.ID(), id); err != nil {
		t.Fatal(err)
	}
	chat, err := e.client.GetChat(ctx, g.ID())
	if err != nil || deref(chat.GetTopic()) != "Plan" || chat.GetChatType() == nil || *chat.GetChatType() != models.GROUP_CHATTYPE {
		t.Fatalf("get: %v", err)
	}
	one, _ := e.client.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID))
	_, err = e.client.AddMember(ctx, one.ID(), graphchat.User(graphchattest.AlexID))
	var ge *graphchat.Error
	if !errors.As(err, &ge) || !errors.Is(err, graphchat.ErrBadRequest) {
		t.Errorf("add to one-on-one: %v", err)
	}
	// The whole history is an explicit choice: a zero time is refused, not
	// taken for it, and a mistaken member is never sent.
	before := len(e.requests())
	var unset time.Time
	for _, m := range []graphchat.Member{
		graphchat.User(graphchattest.AlexID).WithHistory(unset),
		{User: graphchattest.AlexID, VisibleHistoryStart: &unset},
		{User: graphchattest.AlexID, AllHistory: true, VisibleHistoryStart: &before2000},
	} {
		if _, err := e.client.AddMember(ctx, g.ID(), m); err == nil || !strings.Contains(err.Error(), "History") {
			t.Errorf("add with history %v/%v: err = %v", m.AllHistory, m.VisibleHistoryStart, err)
		}
	}
	if len(e.requests()) != before {
		t.Errorf("%d requests sent for refused history", len(e.requests())-before)
	}
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	if _, err := e.client.AddMember(ctx, g.ID(), graphchat.User(graphchattest.NestorID).WithAllHistory().WithHistory(since)); err != nil {
		t.Fatal(err)
	}
	reqs = e.requests()
	addBody = nil
	json.Unmarshal(reqs[len(reqs)-1].Body, &addBody)
	if addBody["visibleHistoryStartDateTime"] != "2026-01-02T02:04:05Z" {
		t.Errorf("add body %v", addBody)
	}
	before = len(e.requests())
	guestOwner := graphchat.Guest(graphchattest.AdaID)
	guestOwner.Role = policy.RoleOwner
	if _, err := e.client.AddMember(ctx, g.ID(), guestOwner); !errors.Is(err, policy.CodeGuestRole) || len(e.requests()) != before {
		t.Errorf("guest as owner: %v", err)
	}
}

var adaIsAGuest, _ = policy.NewDirectory(policy.User{ID: graphchattest.AdaID, Kind: policy.KindGuest})

var before2000 = time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	t.Run("400", func(t *testing.T) {
		e := setup(t, nil, nil, "")
		_, err := e.client.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User("nobody@contoso.com"))
		var ge *graphchat.Error
		if !errors.As(err, &ge) || !errors.Is(err, graphchat.ErrBadRequest) || ge.StatusCode != 400 || ge.Code != "BadRequest" ||
			ge.RequestID == "" || ge.ClientRequestID != e.requests()[0].Header.Get("client-request-id") || !strings.Contains(ge.Message, "not found") {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("401", func(t *testing.T) {
		e := setup(t, nil, &graphchat.Options{Mode: policy.ModeOff}, graphchattest.Token(graphchattest.Claims{Scopes: "Chat.Create", TenantID: "00000000-0000-0000-0000-00000000beef", ObjectID: graphchattest.MeganID}))
		_, err := e.client.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID))
		if !errors.Is(err, graphchat.ErrUnauthorized) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("403", func(t *testing.T) {
		e := setup(t, nil, &graphchat.Options{Mode: policy.ModeOff}, graphchattest.DelegatedToken(graphchattest.MeganID, "User.Read"))
		_, err := e.client.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID))
		if !errors.Is(err, graphchat.ErrForbidden) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("404", func(t *testing.T) {
		e := setup(t, nil, &graphchat.Options{Operations: []policy.Operation{policy.OpGetChat}}, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadBasic"))
		_, err := e.client.GetChat(ctx, "19:0000@thread.v2")
		if !errors.Is(err, graphchat.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("429 retried", func(t *testing.T) {
		e := setup(t, nil, nil, "")
		var n atomic.Int32
		e.before = func(w http.ResponseWriter, r *http.Request) bool {
			if n.Add(1) > 2 {
				return false
			}
			w.Header().Set("Retry-After", "0.05")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"code":"TooManyRequests","message":"slow down","innerError":{"request-id":"r1"}}}`))
			return true
		}
		start := time.Now()
		got, err := e.client.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
		if err != nil || got.ID() == "" {
			t.Fatalf("err = %v", err)
		}
		reqs := e.requests()
		if len(reqs) != 3 || time.Since(start) < 100*time.Millisecond {
			t.Errorf("%d requests in %s", len(reqs), time.Since(start))
		}
		if reqs[0].Header.Get("client-request-id") != reqs[2].Header.Get("client-request-id") || reqs[2].Header.Get("Retry-Attempt") != "2" {
			t.Errorf("retry headers %v / %v", reqs[0].Header, reqs[2].Header)
		}
		if len(e.emu.Chats()) != 1 {
			t.Errorf("%d chats", len(e.emu.Chats()))
		}
	})
	t.Run("429 beyond MaxWait", func(t *testing.T) {
		e := setup(t, nil, &graphchat.Options{Retry: graphchat.RetryOptions{MaxWait: time.Second}}, "")
		e.before = func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		_, err := e.client.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID))
		var ge *graphchat.Error
		if !errors.As(err, &ge) || !errors.Is(err, graphchat.ErrThrottled) || ge.RetryAfter != 120*time.Second || len(e.requests()) != 1 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("503 group not retried", func(t *testing.T) {
		e := setup(t, &graphchattest.Options{Faults: []graphchattest.FaultRule{{Fault: graphchattest.Fault503, Probability: 1}}}, nil, "")
		_, err := e.client.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
		if !errors.Is(err, graphchat.ErrServer) || e.chatPosts() != 1 {
			t.Fatalf("err = %v after %d requests", err, e.chatPosts())
		}
	})
	t.Run("504 after processing: group not retried, one chat", func(t *testing.T) {
		e := setup(t, &graphchattest.Options{Faults: []graphchattest.FaultRule{{Fault: graphchattest.Fault504After, Probability: 1}}}, nil, "")
		_, err := e.client.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
		if !errors.Is(err, graphchat.ErrServer) || e.chatPosts() != 1 || len(e.emu.Chats()) != 1 {
			t.Fatalf("err = %v, %d requests, %d chats", err, e.chatPosts(), len(e.emu.Chats()))
		}
	})
	t.Run("503 one-on-one retried", func(t *testing.T) {
		e := setup(t, nil, nil, "")
		var n atomic.Int32
		e.before = func(w http.ResponseWriter, r *http.Request) bool {
			if n.Add(1) > 1 {
				return false
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		got, err := e.client.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID))
		if err != nil || got.ID() == "" || e.chatPosts() != 2 {
			t.Fatalf("err = %v after %d requests", err, e.chatPosts())
		}
	})
	t.Run("error body without a message", func(t *testing.T) {
		e := setup(t, nil, nil, "")
		e.before = func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("request-id", "from-header")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte(`{"error":{}}`))
			return true
		}
		_, err := e.client.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
		var ge *graphchat.Error
		if !errors.As(err, &ge) || ge.StatusCode != 502 || ge.RequestID != "from-header" || err.Error() == "" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("empty error body", func(t *testing.T) {
		e := setup(t, nil, nil, "")
		e.before = func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		_, err := e.client.CreateGroup(ctx, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
		if !errors.Is(err, graphchat.ErrServer) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestResolver(t *testing.T) {
	t.Parallel()
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "User.Read.All")
	e := setup(t, nil, &graphchat.Options{ResolveKinds: true}, tok)
	// Ada is a guest in the directory but is given through User (role
	// owner, kind not declared); Megan is declared a member.
	declared := graphchat.Member{User: graphchattest.MeganID, Kind: policy.KindMember}
	_, err := e.client.CreateGroup(ctx, "x", declared, graphchat.User(graphchattest.LeeID), graphchat.User("ada_fabrikam.com#EXT#@contoso.onmicrosoft.com"))
	if !errors.Is(err, policy.CodeGuestRole) {
		t.Fatalf("err = %v", err)
	}
	if e.chatPosts() != 0 {
		t.Error("the refused chat was sent")
	}
	var lookups int
	for _, r := range e.requests() {
		if strings.HasPrefix(r.Path, "/v1.0/users/") {
			lookups++
		}
	}
	if lookups != 2 { // Lee and Ada; Megan's declared kind is respected
		t.Errorf("%d lookups", lookups)
	}
	if got := e.cred.asked[0]; !cmp.Equal(got, []string{"https://graph.microsoft.com/Chat.Create", "https://graph.microsoft.com/User.Read.All"}) {
		t.Errorf("scopes %v", got)
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	got, _ := graphchat.Scopes(policy.AuthApplication, graphchat.CloudUSGov, policy.OpCreateChat)
	if !cmp.Equal(got, []string{"https://graph.microsoft.us/.default"}) {
		t.Errorf("application: %v", got)
	}
	got, _ = graphchat.Scopes(policy.AuthDelegated, graphchat.CloudGlobal, policy.OpCreateChat, policy.OpListMembers)
	if !cmp.Equal(got, []string{"https://graph.microsoft.com/Chat.Create", "https://graph.microsoft.com/Chat.ReadBasic"}) {
		t.Errorf("delegated: %v", got)
	}
	if _, err := graphchat.Scopes(policy.AuthApplication, graphchat.CloudGlobal, policy.OpSendMessage); err == nil {
		t.Error("send-message with application permissions accepted")
	}
}

func TestConstruction(t *testing.T) {
	t.Parallel()
	cred := &fakeCredential{token: "x"}
	for _, bad := range []graphchat.Options{
		{BaseURL: "http://graph.example.com/v1.0"},
		{BaseURL: "https://graph.example.com/v1.0"},
		{BaseURL: "https://graph.microsoft.com.evil.example/v1.0"},
		{BaseURL: "https://graph.microsoft.com:8443/v1.0"},
		{BaseURL: "http://graph.microsoft.com/v1.0"},
		{BaseURL: "https://graph.microsoft.com"},
		{BaseURL: "https://user:pw@graph.microsoft.com/v1.0"},
		{Auth: "robot"},
		{Mode: "loud"},
		{Operations: []policy.Operation{"fly"}},
		{Auth: policy.AuthApplication, Operations: []policy.Operation{policy.OpSendMessage}},
	} {
		if _, err := graphchat.NewFromCredential(cred, &bad); err == nil {
			t.Errorf("NewFromCredential(%+v) accepted", bad)
		}
	}
	if _, err := graphchat.NewFromCredential(nil, nil); err == nil {
		t.Error("nil credential accepted")
	}
	if _, err := graphchat.New(nil, nil); err == nil {
		t.Error("nil adapter accepted")
	}
	c, err := graphchat.NewFromCredential(cred, nil)
	if err != nil || c == nil {
		t.Fatalf("defaults: %v", err)
	}
}

// A client built on an adapter the caller owns (as from a GraphServiceClient).
func TestNewOnAdapter(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, "")
	adapter, err := graphchat.NewRequestAdapter(staticAuth{graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")}, &graphchat.Options{BaseURL: e.url})
	if err != nil {
		t.Fatal(err)
	}
	c, err := graphchat.New(adapter, &graphchat.Options{Caller: policy.Caller{ID: graphchattest.MeganID}, Grant: []string{"Chat.Create"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID)); err != nil {
		t.Fatal(err)
	}
	// Its caller is checked from the options.
	if _, err := c.CreateOneOnOne(ctx, graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID)); !errors.Is(err, policy.CodeCallerMissing) {
		t.Fatalf("err = %v", err)
	}
}

// The library must not import the root SDK package: it more than doubles
// every user's cold build.
func TestNoRootSDKImport(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if line == "github.com/microsoftgraph/msgraph-sdk-go" {
			t.Fatal("graphchat depends on github.com/microsoftgraph/msgraph-sdk-go")
		}
	}
}

// A Client is safe for concurrent use: the same one-on-one chat asked for
// from many goroutines is one chat; every group is its own.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, "")
	const n = 16
	errs := make(chan error, 2*n)
	ids := make(chan string, n)
	for range n {
		go func() {
			c, err := e.client.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID))
			if err == nil {
				ids <- c.ID()
			}
			errs <- err
		}()
		go func() {
			_, err := e.client.CreateGroup(ctx, "", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
			errs <- err
		}()
	}
	for range 2 * n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(ids)
	first := <-ids
	for id := range ids {
		if id != first {
			t.Fatalf("one-on-one ids differ: %s, %s", first, id)
		}
	}
	if got := len(e.emu.Chats()); got != n+1 {
		t.Errorf("%d chats, want %d", got, n+1)
	}
}

// Each of the documentation's seven bodies, read into the SDK's models and
// created with Client.Create, is sent as written in the documentation; the
// one whose guest id is not a GUID is refused and never sent.
func TestDocumentedBodiesRoundTrip(t *testing.T) {
	t.Parallel()
	callers := map[string]string{
		"docs-1-one-on-one.json":                graphchattest.JacobID,
		"docs-2-group.json":                     graphchattest.MeganID,
		"docs-3-one-on-one-installed-apps.json": graphchattest.JacobID,
		"docs-4-one-on-one-rsc-apps.json":       graphchattest.IsaiahID,
		"docs-5-one-on-one-upn.json":            graphchattest.JacobID,
		"docs-6-group-in-tenant-guest.json":     graphchattest.MeganID,
		"docs-7-one-on-one-federated.json":      graphchattest.JacobID,
	}
	for file, caller := range callers {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "testdata", "create-chat", file))
			if err != nil {
				t.Fatal(err)
			}
			chat, err := graphchat.DecodeChat(data)
			if err != nil {
				t.Fatal(err)
			}
			e := setup(t, nil, nil, graphchattest.DelegatedToken(caller, "Chat.Create"))
			_, err = e.client.Create(ctx, chat, nil)
			if file == "docs-6-group-in-tenant-guest.json" {
				if !errors.Is(err, policy.CodeUserReference) || len(e.requests()) != 0 {
					t.Fatalf("err = %v after %d requests", err, len(e.requests()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var sentBody any
			if err := json.Unmarshal(e.requests()[0].Body, &sentBody); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(docsBody(t, file), sentBody); diff != "" {
				t.Errorf("(-docs +sent):\n%s", diff)
			}
		})
	}
}

// A page link to another host is not followed: the token would go there.
func TestNextLinkToAnotherHostRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &graphchat.Options{Operations: []policy.Operation{policy.OpListMembers}}, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadBasic"))
	e.before = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"value":[],"@odata.nextLink":"https://evil.example/v1.0/chats/x/members?$skiptoken=1"}`))
		return true
	}
	_, err := e.client.ListMembers(ctx, "19:x@thread.v2")
	if err == nil || !strings.Contains(err.Error(), "refusing to follow") || len(e.requests()) != 1 {
		t.Fatalf("err = %v after %d requests", err, len(e.requests()))
	}
}

// With a logger, each request is logged with its ids, never with the token.
func TestLogsHoldNoToken(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	e := setup(t, nil, &graphchat.Options{Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, nil)), Mode: policy.ModeWarn}, tok)
	if _, err := e.client.CreateOneOnOne(ctx, graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID)); err != nil {
		t.Fatal(err)
	}
	logs := buf.String()
	if !strings.Contains(logs, "graph request") || !strings.Contains(logs, "request-id=") || !strings.Contains(logs, "status=201") {
		t.Errorf("logs: %s", logs)
	}
	payload := strings.Split(tok, ".")[1]
	if strings.Contains(logs, payload) || strings.Contains(logs, "Bearer") || strings.Contains(logs, "8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca')") {
		t.Errorf("the logs hold a token or a body: %s", logs)
	}
}

// Check returns the policy's result whenever the policy ran (refused
// requests included, so that res.Allowed() is false for them), and a nil
// result only with an error; a typed nil model is an error, not a panic.
func TestCheckResult(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, "")
	var typedNil *models.Chat
	guestOwner := graphchat.Guest(graphchattest.AdaID)
	guestOwner.Role = policy.RoleOwner
	refused, _ := graphchat.ChatModel(graphchat.CloudGlobal, "v1.0", policy.ChatTypeGroup, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), guestOwner)
	allowed, _ := graphchat.ChatModel(graphchat.CloudGlobal, "v1.0", policy.ChatTypeGroup, "x", graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID))
	for _, tc := range []struct {
		name       string
		chat       models.Chatable
		wantResult bool
		wantCodes  []policy.Code
	}{
		{"nil", nil, false, nil},
		{"typed nil", typedNil, false, nil},
		{"empty", models.NewChat(), true, []policy.Code{policy.CodeChatType, policy.CodeMemberCount, policy.CodeCallerMissing}},
		{"refused", refused, true, []policy.Code{policy.CodeGuestRole}},
		{"allowed", allowed, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// What the app knows: Ada is a guest (a model has no kinds).
			res, err := e.client.Check(ctx, tc.chat, &graphchat.CreateOptions{Directory: adaIsAGuest})
			if res == nil && err == nil {
				t.Fatal("nil result with a nil error")
			}
			if (res != nil) != tc.wantResult {
				t.Fatalf("result %v, err %v", res, err)
			}
			if res == nil {
				return
			}
			var list policy.List
			errors.As(err, &list)
			if diff := cmp.Diff(tc.wantCodes, list.Codes(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("codes of the error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCodes, res.Violations.Codes(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("codes of the result (-want +got):\n%s", diff)
			}
			if res.Allowed() != (len(tc.wantCodes) == 0) {
				t.Errorf("Allowed() = %v", res.Allowed())
			}
		})
	}
	if len(e.requests()) != 0 {
		t.Errorf("%d requests sent by Check", len(e.requests()))
	}
}
