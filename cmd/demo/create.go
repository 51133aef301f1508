package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/policy"
)

// create checks and creates a chat from a body or from flags.
func (e *env) create(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	var f checkFlags
	var t targetFlags
	f.register(fs)
	t.register(fs)
	oneOnOne := fs.Bool("one-on-one", false, "create the one-on-one chat of two users given as arguments")
	group := fs.Bool("group", false, "create a group chat of the users given as arguments")
	topic := fs.String("topic", "", "the group chat's topic")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "", err)
	}
	f.visit(fs)
	t.visit(fs)
	switch {
	case *oneOnOne && *group:
		return usagef("--one-on-one and --group conflict: choose one")
	case *oneOnOne && f.set["topic"]:
		return usagef("--topic is for --group: a one-on-one chat has no topic")
	case !*oneOnOne && !*group && f.set["topic"]:
		return usagef("--topic is for --group; in a body file, set \"topic\"")
	case *oneOnOne && len(pos) != 2:
		return usagef("--one-on-one takes two users, got %d", len(pos))
	case *group && len(pos) < 2:
		return usagef("--group takes at least two users, got %d", len(pos))
	case !*oneOnOne && !*group && len(pos) != 1:
		return usagef("create: want one FILE (or -), or --one-on-one A B, or --group A B C...")
	}
	if err := f.check(); err != nil {
		return err
	}
	// The body is read and parsed once, before signing in.
	var body []byte
	var req *policy.Request
	if !*oneOnOne && !*group {
		if body, err = e.readInput(ctx, "", pos[0], maxBody); err != nil {
			return err
		}
		if req, err = policy.ParseCreateChat(body); err != nil {
			return usagef("%s: %v", inputName(pos[0]), err)
		}
	}
	s, err := e.open(ctx, &f, &t, need{op: policy.OpCreateChat})
	if err != nil {
		return err
	}
	defer s.Close()

	var members []graphchat.Member
	switch {
	case *oneOnOne:
		members = []graphchat.Member{s.know.member(pos[0]), s.know.member(pos[1])}
		req = request(policy.ChatTypeOneOnOne, nil, members)
	case *group:
		for _, u := range pos {
			members = append(members, s.know.member(u))
		}
		var tp *string
		if f.set["topic"] {
			tp = topic
		}
		req = request(policy.ChatTypeGroup, tp, members)
	}
	res := s.know.judge(req)
	if !res.Allowed() {
		return res.Violations
	}

	var created *graphchat.Created
	switch {
	case *oneOnOne:
		created, err = s.client.CreateOneOnOne(ctx, members[0], members[1])
	case *group:
		created, err = s.client.CreateGroup(ctx, *topic, members...)
	default:
		var chat models.Chatable
		if chat, err = graphchat.DecodeChat(body); err != nil {
			return usagef("%s: %v", inputName(pos[0]), err)
		}
		created, err = s.client.Create(ctx, chat, nil)
	}
	if err != nil {
		return e.failed(ctx, res, err)
	}
	return e.printCreated(res, created)
}

func inputName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}

// failed reports a request that was judged allowed and then failed: in
// JSON, the verdict and the error in one document.
func (e *env) failed(ctx context.Context, res *policy.Result, err error) error {
	var list policy.List
	if errors.As(err, &list) {
		return list // refused by the library's own check: nothing was sent
	}
	if !e.json {
		e.printWarnings(res.Warnings)
		return err
	}
	e.emit(struct {
		*verdictDoc
		Error *errorDoc `json:"error"`
	}{newVerdict(res), newErrorDoc(ctx, err)})
	return reported{err}
}

// chatDoc is a created chat in create's JSON document.
type chatDoc struct {
	ID              string  `json:"id,omitempty"`
	ChatType        string  `json:"chatType,omitempty"`
	Topic           *string `json:"topic,omitempty"`
	CreatedDateTime string  `json:"createdDateTime,omitempty"`
	WebURL          *string `json:"webUrl,omitempty"`
	// Existed is true when a one-on-one chat already existed (its id is
	// returned); Recovered when a group was found after an ambiguous failure.
	Existed bool `json:"existed"`
	// Operation is set instead of the fields above when the service
	// accepted the chat for asynchronous creation (installed apps: 202).
	Operation string `json:"operation,omitempty"`
}

func (e *env) printCreated(res *policy.Result, c *graphchat.Created) error {
	warnings := append(nonNil(res.Warnings), c.Warnings...)
	warnings = dedup(warnings)
	if e.json {
		doc := chatDoc{Existed: c.Existed}
		if c.Chat != nil {
			doc.ID = c.ID()
			if ct := c.Chat.GetChatType(); ct != nil {
				doc.ChatType = ct.String()
			}
			doc.Topic = c.Chat.GetTopic()
			if t := c.Chat.GetCreatedDateTime(); t != nil {
				doc.CreatedDateTime = t.UTC().Format(time.RFC3339Nano)
			}
			doc.WebURL = c.Chat.GetWebUrl()
		} else {
			doc.Operation = c.Operation
		}
		v := newVerdict(res)
		v.Warnings = warnings
		e.emit(struct {
			*verdictDoc
			Chat chatDoc `json:"chat"`
		}{v, doc})
		return nil
	}
	e.printWarnings(warnings)
	fmt.Fprintln(e.stdout, describeCreated(c))
	return nil
}

// dedup drops repeated findings (the library reports the warnings the
// demo's own judgement found too).
func dedup(l policy.List) policy.List {
	out := policy.List{}
	for _, v := range l {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func describeCreated(c *graphchat.Created) string {
	if c.Chat == nil {
		return "accepted: the chat is being created with its app (operation " + c.Operation + ")"
	}
	verb := "created"
	if c.Existed {
		verb = "existing"
	}
	kind := "chat"
	if ct := c.Chat.GetChatType(); ct != nil {
		kind = strings.ReplaceAll(ct.String(), "oneOnOne", "one-on-one") + " chat"
	}
	s := fmt.Sprintf("%s %s %s", verb, kind, c.ID())
	if t := c.Chat.GetTopic(); t != nil {
		s += fmt.Sprintf(" %q", *t)
	}
	return s
}

// addMember adds a member to a group chat.
func (e *env) addMember(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("add-member", flag.ContinueOnError)
	var f checkFlags
	var t targetFlags
	f.register(fs)
	t.register(fs)
	chatID := fs.String("chat", "", "the group chat's `ID`, such as 19:…@thread.v2")
	role := fs.String("role", "", "owner or guest (default: guest for a guest, owner otherwise)")
	tenantID := fs.String("tenant-id", "", "the home tenant `ID` of an external user (a GUID)")
	history := fs.String("history", "none", "history the member sees: all, none, or from an RFC 3339 time")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "", err)
	}
	f.visit(fs)
	t.visit(fs)
	switch {
	case *chatID == "" || len(pos) != 1:
		return usagef("add-member: want --chat ID and one USER")
	case !strings.HasPrefix(*chatID, "19:") || strings.ContainsAny(*chatID, "/?# "):
		return usagef("--chat %q: want a chat id such as 19:…@thread.v2", *chatID)
	case *tenantID != "" && !policy.IsObjectID(*tenantID):
		return usagef("--tenant-id %q: want the user's home tenant id, a GUID", *tenantID)
	case *role != "" && *role != "owner" && *role != "guest":
		return usagef("--role %q: want owner or guest", *role)
	}
	var from time.Time
	switch *history {
	case "none", "all":
	default:
		if from, err = time.Parse(time.RFC3339, *history); err != nil {
			return usagef("--history %q: want all, none or an RFC 3339 time such as 2026-11-01T00:00:00Z", *history)
		}
	}
	if *tenantID != "" {
		f.externals = append(f.externals, pos[0]+"="+*tenantID)
	}
	s, err := e.open(ctx, &f, &t, need{op: policy.OpAddMember})
	if err != nil {
		return err
	}
	defer s.Close()
	m := s.know.member(pos[0])
	if *role != "" {
		m.Role = policy.Role(*role)
	}
	switch *history {
	case "all":
		m = m.WithAllHistory()
	case "none":
	default:
		m = m.WithHistory(from)
	}
	pm := request(policy.ChatTypeGroup, nil, []graphchat.Member{m}).Members[0]
	res := s.know.judgeMember(&pm)
	if !res.Allowed() {
		return res.Violations
	}
	id, err := s.client.AddMember(ctx, *chatID, m)
	if err != nil {
		return e.failed(ctx, res, err)
	}
	if e.json {
		e.emit(struct {
			*verdictDoc
			Member memberDoc `json:"member"`
		}{newVerdict(res), memberDoc{ChatID: *chatID, MembershipID: id, User: pos[0], Role: string(pm.Roles[0])}})
		return nil
	}
	e.printWarnings(res.Warnings)
	fmt.Fprintf(e.stdout, "added %s to %s as %s (membership %s)\n", pos[0], *chatID, pm.Roles[0], id)
	return nil
}

// memberDoc is an added member in add-member's JSON document.
type memberDoc struct {
	ChatID       string `json:"chatId"`
	MembershipID string `json:"membershipId"`
	User         string `json:"user"`
	Role         string `json:"role"`
}
