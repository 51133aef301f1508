package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// walkthrough creates chats on an in-process emulator through graphchat and
// the Graph SDK, sends messages to people (finding or creating their chat),
// then shows the policy refusing bad requests, chats and messages, before
// they are sent. It fails if anything does not happen as it says.
func (e *env) walkthrough(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("walkthrough", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "log each HTTP request to standard error")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "[walkthrough] [-v]", err)
	}
	if len(pos) > 0 {
		return usagef("unknown command %q (run \"demo help\" for the commands)", pos[0])
	}
	srv, err := graphchattest.NewServer("", nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	out := e.stdout
	scopes := []string{"Chat.Create", "ChatMember.ReadWrite"}
	ops := []policy.Operation{policy.OpCreateChat, policy.OpAddMember}
	client, err := graphchat.NewFromCredential(graphchat.StaticToken(graphchattest.DelegatedToken(graphchattest.MeganID, scopes...)),
		&graphchat.Options{BaseURL: srv.URL, Operations: ops, Logger: e.logger(*verbose)})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "graphchat walkthrough on the Microsoft Graph emulator at %s\n", srv.URL)
	fmt.Fprintf(out, "signed in as megan@contoso.com (delegated), granted only %s: the least privilege for %s\n\n", strings.Join(scopes, " and "), joinOps(ops))

	if err := showCreations(ctx, out, client); err != nil {
		return err
	}
	// Messaging people needs more: sending, and finding their group chat.
	msgScopes := []string{"Chat.Create", "Chat.ReadBasic", "ChatMessage.Send"}
	msgOps := []policy.Operation{policy.OpCreateChat, policy.OpListChats, policy.OpSendMessage}
	sender, err := graphchat.NewFromCredential(graphchat.StaticToken(graphchattest.DelegatedToken(graphchattest.MeganID, msgScopes...)),
		&graphchat.Options{BaseURL: srv.URL, Operations: msgOps, Logger: e.logger(*verbose)})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nMessaging people: their chat is found or created, then the message is sent (%s: %s)\n", joinOps(msgOps), strings.Join(msgScopes, " "))
	if err := showMessages(ctx, out, sender, srv); err != nil {
		return err
	}

	fmt.Fprintln(out, "\nRefusing bad requests: the policy reports every problem, and nothing is sent")
	before := len(srv.Entries())
	strict, err := graphchat.NewFromCredential(graphchat.StaticToken(graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadWrite")),
		&graphchat.Options{BaseURL: srv.URL, Mode: policy.ModeStrict})
	if err != nil {
		return err
	}
	// An app signed in without a user: it may create chats, not post in them.
	app, err := graphchat.NewFromCredential(graphchat.StaticToken(graphchattest.AppToken("Chat.Create", "Chat.ReadBasic.All", "Teamwork.Migrate.All")),
		&graphchat.Options{BaseURL: srv.URL, Operations: msgOps})
	if err != nil {
		return err
	}
	n, err := showRefusals(ctx, out, client, strict, sender, app)
	if err != nil {
		return err
	}
	after := len(srv.Entries())
	if after != before {
		return fmt.Errorf("the emulator received %d refused requests", after-before)
	}
	fmt.Fprintf(out, "\nThe emulator received none of the %d refused requests (%d requests before them, %d after).\n", n, before, after)
	fmt.Fprintf(out, "%d chats exist on the emulator. Next: \"demo validate FILE\", \"demo create --help\", \"demo send --help\", \"demo emulate\".\n", len(srv.Chats()))
	return nil
}

// showCreations creates chats of every kind through client and prints them.
func showCreations(ctx context.Context, out io.Writer, client *graphchat.Client) error {
	fmt.Fprintln(out, "Creating chats: each request is checked by the policy, then sent with the Graph SDK")
	megan, lee, nestor := walkthroughUsers()
	show := func(label string, c *graphchat.Created, err error, note string) error {
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		verb := "created"
		if c.Existed {
			verb = "existing"
		}
		step(out, label, verb, c.ID()+note)
		return nil
	}
	first, err := client.CreateOneOnOne(ctx, megan, lee)
	if err := show("1. one-on-one, by object id", first, err, ""); err != nil {
		return err
	}
	group, err := client.CreateGroup(ctx, "Launch plan", megan, lee, nestor)
	if err := show("2. group with a topic", group, err, ` "Launch plan"`); err != nil {
		return err
	}
	c, err := client.CreateOneOnOne(ctx, graphchat.User("megan@contoso.com"), graphchat.User("alex@contoso.com"))
	if err := show("3. one-on-one, by user principal name", c, err, ""); err != nil {
		return err
	}
	c, err = client.CreateGroup(ctx, "Partners", megan, lee, graphchat.Guest(adaUPN))
	if err := show("4. group with an in-tenant guest", c, err, " (Ada as guest)"); err != nil {
		return err
	}
	c, err = client.CreateOneOnOne(ctx, megan, graphchat.External(graphchattest.GradyID, graphchattest.PartnerTenantID))
	if err := show("5. one-on-one with an external user", c, err, " (Grady of Fabrikam: owner, with his tenantId)"); err != nil {
		return err
	}
	again, err := client.CreateOneOnOne(ctx, graphchat.User("lee@contoso.com"), graphchat.User("megan@contoso.com"))
	if err := show("6. the first one-on-one again", again, err, ""); err != nil {
		return err
	}
	if !again.Existed || again.ID() != first.ID() {
		return fmt.Errorf("6: the service returned %s (existed %v), want the existing chat %s", again.ID(), again.Existed, first.ID())
	}
	step(out, "", "", "the same id as in 1")
	id, err := client.AddMember(ctx, group.ID(), graphchat.User("alex@contoso.com").WithAllHistory())
	if err != nil {
		return fmt.Errorf("7: %w", err)
	}
	step(out, "7. add Alex to the group, all history", "added", group.ID())
	step(out, "", "", "membership "+id)

	return nil
}

// showMessages sends messages to people through SendTo: to the group of
// 2 and 7 (found: its members and topic match exactly) with a mention, and
// to Megan and Nestor, who have no chat yet (created). It checks that
// exactly that chat was created and that each message is in its chat.
func showMessages(ctx context.Context, out io.Writer, sender *graphchat.Client, srv *graphchattest.Server) error {
	megan, lee, nestor := walkthroughUsers()
	chats := len(srv.Chats())
	tag, mention := graphchat.Mention(0, graphchattest.LeeID, "Lee")
	sends := []struct {
		label, topic, note string
		typ                policy.ChatType
		members            []graphchat.Member
		msg                models.ChatMessageable
	}{
		{"8. to Megan, Lee, Nestor and Alex", "Launch plan", ", mentioning Lee", policy.ChatTypeGroup,
			[]graphchat.Member{megan, lee, nestor, graphchat.User(graphchattest.AlexID)}, graphchat.HTMLMessage("<p>Kick-off at 10, "+tag+" leads</p>", mention)},
		{"9. to Megan and Nestor", "", "", policy.ChatTypeOneOnOne,
			[]graphchat.Member{graphchat.User("megan@contoso.com"), graphchat.User("nestor@contoso.com")}, graphchat.TextMessage("Lunch?")},
	}
	for _, s := range sends {
		sent, err := sender.SendTo(ctx, s.typ, s.topic, s.members, s.msg, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", s.label, err)
		}
		verb := "created"
		if sent.Chat.Existed {
			verb = "existing"
		}
		if want := s.typ == policy.ChatTypeGroup; sent.Chat.Existed != want {
			return fmt.Errorf("%s: existed %v, want %v", s.label, sent.Chat.Existed, want)
		}
		stored := srv.Messages(sent.Chat.ID())
		if len(stored) != 1 || sent.Message == nil || stored[0].ID != deref(sent.Message.GetId()) {
			return fmt.Errorf("%s: the chat holds %d messages, want the one sent", s.label, len(stored))
		}
		step(out, s.label, verb, sent.Chat.ID())
		step(out, "", "sent", "message "+stored[0].ID+s.note)
	}
	if n := len(srv.Chats()); n != chats+1 {
		return fmt.Errorf("messaging people created %d chats, want 1", n-chats)
	}
	return nil
}

// adaUPN is the user principal name of Ada, an in-tenant guest of the
// emulator's directory.
const adaUPN = "ada_fabrikam.com#EXT#@contoso.onmicrosoft.com"

func walkthroughUsers() (megan, lee, nestor graphchat.Member) {
	return graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID), graphchat.User(graphchattest.NestorID)
}

// showRefusals makes requests the policy refuses, through client, strict
// (a client granted more than it needs, in strict mode), sender (a client
// that sends messages) and app (one signed in without a user), checks
// that each is refused for the expected rule and prints the violations. It
// returns the number of requests refused.
func showRefusals(ctx context.Context, out io.Writer, client, strict, sender, app *graphchat.Client) (int, error) {
	megan, lee, nestor := walkthroughUsers()
	guestOwner := graphchat.Guest(adaUPN)
	guestOwner.Role = policy.RoleOwner
	externalGuest := graphchat.External(graphchattest.GradyID, graphchattest.PartnerTenantID)
	externalGuest.Role = policy.RoleGuest
	refusals := []struct {
		label string
		do    func() error
		want  policy.Code
	}{
		{"a. a guest given \"owner\"", func() error { _, err := client.CreateGroup(ctx, "Partners", megan, lee, guestOwner); return err }, policy.CodeGuestRole},
		{"b. an external user given \"guest\"", func() error { _, err := client.CreateOneOnOne(ctx, megan, externalGuest); return err }, policy.CodeExternalRole},
		{"c. the signed-in caller missing", func() error {
			_, err := client.CreateGroup(ctx, "Ops", lee, nestor, graphchat.User("alex@contoso.com"))
			return err
		}, policy.CodeCallerMissing},
		{"d. a topic on a one-on-one chat", func() error { _, err := client.Create(ctx, oneOnOneWithTopic(megan, lee), nil); return err }, policy.CodeTopicOneOnOne},
		{"e. Chat.ReadWrite granted, strict mode", func() error { _, err := strict.CreateOneOnOne(ctx, megan, lee); return err }, policy.CodePermissionExcess},
		{"f. a message from an app, without a user", func() error {
			_, err := app.SendTo(ctx, policy.ChatTypeGroup, "Launch plan", []graphchat.Member{megan, lee, nestor}, graphchat.TextMessage("Build green"), nil)
			return err
		}, policy.CodeOperationAuth},
		{"g. a mention of Jacob, not among them", func() error {
			tag, jacob := graphchat.Mention(0, graphchattest.JacobID, "Jacob")
			_, err := sender.SendTo(ctx, policy.ChatTypeGroup, "Launch plan", []graphchat.Member{megan, lee, nestor}, graphchat.HTMLMessage("<p>FYI "+tag+"</p>", jacob), nil)
			return err
		}, policy.CodeMentionNotMember},
	}
	for _, r := range refusals {
		err := r.do()
		var list policy.List
		if !errors.As(err, &list) || !errors.Is(err, r.want) {
			return 0, fmt.Errorf("%s: got %v, want a %s violation", r.label, err, r.want)
		}
		for i, v := range list {
			label := r.label
			if i > 0 {
				label = ""
			}
			refusalStep(out, label, v)
		}
	}
	return len(refusals), nil
}

// The walkthrough prints each step in columns: its number and label, what
// happened (a verb such as created, or a refusal's code and field), then
// the result. Each column is at least two characters wider than what it
// holds, so that the columns stay apart; a step's further lines leave the
// label blank.
const (
	labelWidth = 42 // "f. a message from an app, without a user"
	verbWidth  = 9  // "existing"
	codeWidth  = 25 // "operation_not_supported"
	fieldWidth = 31 // "mentions[0].mentioned.user.id"
)

// step prints a line of a step: the label (blank on the step's further
// lines), what happened (such as created) and the result.
func step(out io.Writer, label, verb, result string) {
	fmt.Fprintf(out, "  %-*s %-*s %s\n", labelWidth, label, verbWidth, verb, result)
}

// refusalStep prints a line of a refused step: the label (blank on the
// step's further violations) and a violation.
func refusalStep(out io.Writer, label string, v policy.Violation) {
	fmt.Fprintf(out, "  %-*s %-*s %-*s %s\n", labelWidth, label, codeWidth, v.Code, fieldWidth, v.Field, v.Message)
}

func joinOps(ops []policy.Operation) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, " and ")
}

// oneOnOneWithTopic builds, with the SDK's models, the mistake the service
// would refuse: a topic on a one-on-one chat.
func oneOnOneWithTopic(a, b graphchat.Member) models.Chatable {
	chat, _ := graphchat.ChatModel(graphchat.CloudGlobal, "v1.0", policy.ChatTypeOneOnOne, "Catch-up", a, b)
	return chat
}
