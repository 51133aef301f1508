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
	reuse := fs.Bool("reuse", false, "with --group: return the group chat that has exactly these members and this topic when there is one, instead of creating another (lists the signed-in user's chats, or --user's)")
	pick := fs.String("pick", "", "with --reuse, when several chats match: `oldest` returns the oldest (default: exit 1, listing them)")
	user := fs.String("user", "", "with --reuse --group and --auth application: whose chats to search, by `ID or UPN`, one of the members")
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
	case *reuse && !*oneOnOne && !*group:
		return usagef("--reuse is for --group (and --one-on-one): give the members as arguments, not in a body file")
	case f.set["pick"] && !*reuse:
		return usagef("--pick is for --reuse")
	case f.set["pick"] && *pick != string(graphchat.PickOldest):
		return usagef("--pick %q: want oldest", *pick)
	case f.set["user"] && !(*reuse && *group):
		return usagef("--user is for --reuse --group: it names whose chats are searched")
	}
	if err := f.check(); err != nil {
		return err
	}
	// A one-on-one chat is found by creating it (the service returns the
	// one it has); a group is looked for in the listing first.
	findGroup := *reuse && *group
	needs := []need{{op: policy.OpCreateChat}}
	if findGroup {
		if err := checkListedUser(&f, *user); err != nil {
			return err
		}
		needs = append(needs, need{op: policy.OpListChats, without: "run without --reuse"})
		needs = append(needs, resolveNeeds(append([]string{*user}, pos...)...)...)
		needs = append(needs, listMembersNeed(len(pos))...)
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
	s, err := e.open(ctx, &f, &t, needs...)
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
	case findGroup:
		opts := &graphchat.FindOrCreateOptions{Pick: graphchat.Pick(*pick), User: *user}
		created, err = s.client.FindOrCreate(ctx, policy.ChatTypeGroup, *topic, members, opts)
		var several *graphchat.MatchesError
		if errors.As(err, &several) {
			return e.severalMatch(ctx, res, several)
		}
		if err != nil && created != nil && created.Chat != nil {
			return e.createdWithError(ctx, res, created, err)
		}
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

// severalMatch reports that several group chats have the members and
// topic of create --reuse, so that none was returned or created: the
// candidates are the result (oldest first), and the exit code is 1.
func (e *env) severalMatch(ctx context.Context, res *policy.Result, several *graphchat.MatchesError) error {
	err := fmt.Errorf("create --reuse: %d group chats have exactly these members and this topic, and nothing was created: run with --pick oldest, or use one of them", len(several.Candidates))
	if e.json {
		e.emit(struct {
			*verdictDoc
			Candidates []chatInfo `json:"candidates"`
			Error      *errorDoc  `json:"error"`
		}{newVerdict(res), chatInfos(several.Candidates), newErrorDoc(ctx, err)})
		return reported{err}
	}
	e.printWarnings(res.Warnings)
	fmt.Fprintf(e.stdout, "%d chats have exactly these members and this topic (oldest first):\n", len(several.Candidates))
	printChats(e.stdout, several.Candidates)
	return err
}

// createdWithError reports a chat that create --reuse created, when the
// check for duplicates that follows failed: the chat is the result, and
// the error makes the exit code.
func (e *env) createdWithError(ctx context.Context, res *policy.Result, c *graphchat.Created, err error) error {
	if e.json {
		v := newVerdict(res)
		v.Warnings = dedup(append(nonNil(res.Warnings), c.Warnings...))
		e.emit(struct {
			*verdictDoc
			Chat  chatDoc   `json:"chat"`
			Error *errorDoc `json:"error"`
		}{v, newChatDoc(c), newErrorDoc(ctx, err)})
		return reported{err}
	}
	e.printWarnings(dedup(append(nonNil(res.Warnings), c.Warnings...)))
	fmt.Fprintln(e.stdout, describeCreated(c))
	return err
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

func newChatDoc(c *graphchat.Created) chatDoc {
	doc := chatDoc{Existed: c.Existed}
	if c.Chat == nil {
		doc.Operation = c.Operation
		return doc
	}
	doc.ID = c.ID()
	if ct := c.Chat.GetChatType(); ct != nil {
		doc.ChatType = ct.String()
	}
	doc.Topic = c.Chat.GetTopic()
	if t := c.Chat.GetCreatedDateTime(); t != nil {
		doc.CreatedDateTime = t.UTC().Format(time.RFC3339Nano)
	}
	doc.WebURL = c.Chat.GetWebUrl()
	return doc
}

func (e *env) printCreated(res *policy.Result, c *graphchat.Created) error {
	warnings := append(nonNil(res.Warnings), c.Warnings...)
	warnings = dedup(warnings)
	if e.json {
		v := newVerdict(res)
		v.Warnings = warnings
		doc := struct {
			*verdictDoc
			Chat chatDoc `json:"chat"`
			// Duplicates (create --reuse) are other chats with the same
			// members and topic, created at the same time by another
			// program: the oldest is what --pick oldest returns.
			Duplicates []chatInfo `json:"duplicates,omitempty"`
		}{v, newChatDoc(c), nil}
		if len(c.Duplicates) > 0 {
			doc.Duplicates = chatInfos(c.Duplicates)
		}
		e.emit(doc)
		return nil
	}
	e.printWarnings(warnings)
	fmt.Fprintln(e.stdout, describeCreated(c))
	if len(c.Duplicates) > 0 {
		fmt.Fprintf(e.stderr, "warning: %d other chat%s with these members and this topic were created at the same time (another program); --pick oldest returns the oldest:\n", len(c.Duplicates), plural(len(c.Duplicates)))
		printChats(e.stderr, c.Duplicates)
	}
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
	role := fs.String("role", "", "owner or guest, for every USER (default: guest for a guest, owner otherwise)")
	tenantID := fs.String("tenant-id", "", "the home tenant `ID` of an external user (a GUID; one USER only: else --external)")
	history := fs.String("history", "none", "history the members see: all, none, or from an RFC 3339 time")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "", err)
	}
	f.visit(fs)
	t.visit(fs)
	switch {
	case *chatID == "" || len(pos) == 0:
		return usagef("add-member: want --chat ID and one USER or more")
	case len(pos) > maxAddAtOnce:
		return usagef("add-member: %d users: at most %d can be added at a time", len(pos), maxAddAtOnce)
	case *tenantID != "" && len(pos) > 1:
		return usagef("--tenant-id is for one USER: for several, give --external ID=TENANT for each external user")
	case *tenantID != "" && !policy.IsObjectID(*tenantID):
		return usagef("--tenant-id %q: want the user's home tenant id, a GUID", *tenantID)
	case *role != "" && *role != "owner" && *role != "guest":
		return usagef("--role %q: want owner or guest", *role)
	}
	if err := checkChatID(*chatID); err != nil {
		return err
	}
	if len(pos) > 1 {
		if err := checkUsers("add-member", pos); err != nil {
			return err
		}
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
	needs := []need{{op: policy.OpAddMember}}
	if len(pos) > 1 {
		// The members/add action reports each outcome by object id: names
		// are resolved to tell whose outcome it is.
		needs = append(needs, resolveNeeds(pos...)...)
	}
	s, err := e.open(ctx, &f, &t, needs...)
	if err != nil {
		return err
	}
	defer s.Close()
	members := make([]graphchat.Member, len(pos))
	for i, u := range pos {
		m := s.know.member(u)
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
		members[i] = m
	}
	if len(members) > 1 {
		return e.addMembers(ctx, s, *chatID, members, pos)
	}
	m := members[0]
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

// maxAddAtOnce is the most members add-member adds at a time: "only 200
// members at a time can be added to a group chat" (Teams limits).
const maxAddAtOnce = 200

// memberDoc is an added member in add-member's JSON document.
type memberDoc struct {
	ChatID       string `json:"chatId"`
	MembershipID string `json:"membershipId"`
	User         string `json:"user"`
	Role         string `json:"role"`
}
