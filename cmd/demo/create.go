package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/policy"
)

// create checks and creates a chat from a body or from flags.
func (e *env) create(ctx context.Context, args []string) error {
	c, err := e.parseCreate(args)
	if err != nil {
		return err
	}
	// The body is read and parsed once, before signing in.
	var body []byte
	var req *policy.Request
	if c.file != "" {
		if body, err = e.readInput(ctx, "", c.file, maxBody); err != nil {
			return err
		}
		if req, err = policy.ParseCreateChat(body); err != nil {
			return usagef("%s: %v", inputName(c.file), err)
		}
		if c.lookup && req.ChatType == policy.ChatTypeOneOnOne {
			return usagef("--lookup is for group chats: %s is a one-on-one chat, which the service never creates twice", inputName(c.file))
		}
	}
	// A grant the preflight refuses is reported with the chat's own
	// violations, in one verdict: the one validate gives.
	s, denied, err := e.openJudging(ctx, &c.f, &c.t, c.needs(req)...)
	if err != nil {
		return err
	}
	defer s.Close()

	var members []graphchat.Member
	if c.file == "" {
		members, req = c.request(s.know)
	}
	res := s.know.judgeGranted(req, denied)
	if !res.Allowed() {
		// Nothing is listed or created. The refusal is validate's verdict,
		// warnings included.
		e.printVerdict(res, refusedBefore)
		return errRefused
	}

	var created *graphchat.Created
	switch {
	case c.findGroup():
		opts := &graphchat.FindOrCreateOptions{Pick: graphchat.Pick(c.pick), User: c.user}
		created, err = s.client.FindOrCreate(ctx, policy.ChatTypeGroup, c.topic, members, opts)
		var several *graphchat.MatchesError
		if errors.As(err, &several) {
			return e.severalMatch(ctx, res, several)
		}
		if err != nil && created != nil && created.Chat != nil {
			return e.createdWithError(ctx, res, created, err)
		}
	case c.oneOnOne:
		created, err = s.client.CreateOneOnOne(ctx, members[0], members[1])
	case c.group:
		created, err = s.client.CreateGroup(ctx, c.topic, members...)
	default:
		var chat models.Chatable
		if chat, err = graphchat.DecodeChat(body); err != nil {
			return usagef("%s: %v", inputName(c.file), err)
		}
		created, err = s.client.Create(ctx, chat, nil)
	}
	if err != nil {
		return e.failed(ctx, res, err)
	}
	return e.printCreated(res, created)
}

// createArgs is what create is asked for: a body FILE, or the members of a
// one-on-one chat or a group given as arguments.
type createArgs struct {
	f                      checkFlags
	t                      targetFlags
	oneOnOne, group, reuse bool
	lookup                 bool // --lookup: look a group up after an ambiguous failure
	topic, pick, user      string
	users                  []string // --one-on-one and --group: the members
	file                   string   // otherwise: the body's file, or "-"
}

// parseCreate reads create's flags and arguments and refuses conflicting
// or missing ones.
func (e *env) parseCreate(args []string) (*createArgs, error) {
	c := &createArgs{}
	fs := newCallFlags("create", &c.f, &c.t)
	fs.BoolVar(&c.oneOnOne, "one-on-one", false, "create the one-on-one chat of two users given as arguments")
	fs.BoolVar(&c.group, "group", false, "create a group chat of the users given as arguments")
	fs.StringVar(&c.topic, "topic", "", "the group chat's topic")
	fs.BoolVar(&c.reuse, "reuse", false, "with --group: return the group chat that has exactly these members and this topic when there is one, instead of creating another (lists the signed-in user's chats, or --user's)")
	fs.StringVar(&c.pick, "pick", "", "with --reuse, when several chats match: `oldest` returns the oldest (default: exit 1, listing them)")
	fs.StringVar(&c.user, "user", "", "with --reuse --group and --auth application: whose chats to search, by `ID or UPN`, one of the members")
	fs.BoolVar(&c.lookup, "lookup", false, "for a group: after a failure that leaves the outcome unknown (a timeout, 500/502/503/504, a dropped\n"+
		"connection), look the chat up and retry only if it was not created; adds list-chats (Chat.ReadBasic) and, for\n"+
		"members given by name, resolve-user (User.ReadBasic.All). Off by default, for least privilege: without it such\n"+
		"a failure is exit 4, and nothing is retried")
	pos, err := e.parseCall(fs, args, &c.f, &c.t)
	if err != nil {
		return nil, err
	}
	set := c.f.set
	fromBody := !c.oneOnOne && !c.group
	switch {
	case c.oneOnOne && c.group:
		return nil, usagef("--one-on-one and --group conflict: choose one")
	case c.oneOnOne && c.lookup:
		return nil, usagef("--lookup is for --group: the service never creates a one-on-one chat twice, so it is simply asked for again")
	case c.oneOnOne && set["topic"]:
		return nil, usagef("--topic is for --group: a one-on-one chat has no topic")
	case fromBody && set["topic"]:
		return nil, usagef("--topic is for --group; in a body file, set \"topic\"")
	case c.oneOnOne && len(pos) != 2:
		return nil, usagef("--one-on-one takes two users, got %d", len(pos))
	case c.group && len(pos) < 2:
		return nil, usagef("--group takes at least two users, got %d", len(pos))
	case fromBody && len(pos) != 1:
		return nil, usagef("create: want one FILE (or -), or --one-on-one A B, or --group A B C...")
	case c.reuse && fromBody:
		return nil, usagef("--reuse is for --group (and --one-on-one): give the members as arguments, not in a body file")
	case set["pick"] && !c.reuse:
		return nil, usagef("--pick is for --reuse")
	case set["pick"] && c.pick != string(graphchat.PickOldest):
		return nil, usagef("--pick %q: want oldest", c.pick)
	case set["user"] && !c.findGroup():
		return nil, usagef("--user is for --reuse --group: it names whose chats are searched")
	}
	if err := c.f.check(); err != nil {
		return nil, err
	}
	if c.findGroup() {
		if err := checkListedUser(&c.f, c.user); err != nil {
			return nil, err
		}
	}
	if fromBody {
		c.file = pos[0]
	} else {
		c.users = pos
	}
	return c, nil
}

// findGroup reports whether create looks for the group in the listing
// first (--reuse --group). A one-on-one chat is found by creating it: the
// service returns the one it has.
func (c *createArgs) findGroup() bool { return c.reuse && c.group }

// needs are create's operations: create-chat, and for --reuse --group or
// --lookup the listing, with what it takes to tell the members by object
// id. req is the body's request (nil when the members are arguments).
func (c *createArgs) needs(req *policy.Request) []need {
	needs := []need{{op: policy.OpCreateChat}}
	users := c.users
	if req != nil {
		users = nil
		for _, m := range req.Members {
			users = append(users, m.User)
		}
	}
	switch {
	case c.findGroup():
		needs = append(needs, need{op: policy.OpListChats, without: "run without --reuse"})
		needs = append(needs, resolveNeeds(append([]string{c.user}, users...)...)...)
		needs = append(needs, listMembersNeed(len(users))...)
	case c.lookup:
		needs = append(needs, need{op: policy.OpListChats, without: "run without --lookup"})
		for _, n := range resolveNeeds(users...) {
			n.without = "give the members by object id, or run without --lookup"
			needs = append(needs, n)
		}
		needs = append(needs, listMembersNeed(len(users))...)
	}
	return needs
}

// request builds the members given as arguments from what is known of
// them, and the policy's view of the chat they make.
func (c *createArgs) request(k *knowledge) ([]graphchat.Member, *policy.Request) {
	members := k.members(c.users)
	if c.oneOnOne {
		return members, request(policy.ChatTypeOneOnOne, nil, members)
	}
	var topic *string
	if c.f.set["topic"] {
		topic = &c.topic
	}
	return members, request(policy.ChatTypeGroup, topic, members)
}

// members are the users given as arguments, as members, from what is
// known of them (see member).
func (k *knowledge) members(users []string) []graphchat.Member {
	members := make([]graphchat.Member, len(users))
	for i, u := range users {
		members[i] = k.member(u)
	}
	return members
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
		v.Warnings = dedup(slices.Concat(res.Warnings, c.Warnings))
		e.emit(struct {
			*verdictDoc
			Chat  chatDoc   `json:"chat"`
			Error *errorDoc `json:"error"`
		}{v, newChatDoc(c), newErrorDoc(ctx, err)})
		return reported{err}
	}
	e.printWarnings(dedup(slices.Concat(res.Warnings, c.Warnings)))
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
	// Existed is true when the chat already existed: a one-on-one chat the
	// service returned, or a group --reuse found.
	Existed bool `json:"existed"`
	// Recovered is true when the creation failed with its outcome unknown
	// and the chat was then found (--lookup): it was created once.
	Recovered bool `json:"recovered,omitempty"`
	// Operation is set instead of the fields above when the service
	// accepted the chat for asynchronous creation (installed apps: 202).
	Operation string `json:"operation,omitempty"`
}

func newChatDoc(c *graphchat.Created) chatDoc {
	doc := chatDoc{Existed: c.Existed, Recovered: c.Recovered}
	if c.Chat == nil {
		doc.Operation = c.Operation
		return doc
	}
	doc.ID = c.ID()
	if ct := c.Chat.GetChatType(); ct != nil {
		doc.ChatType = ct.String()
	}
	doc.Topic = c.Chat.GetTopic()
	doc.CreatedDateTime = timeString(c.Chat.GetCreatedDateTime())
	doc.WebURL = c.Chat.GetWebUrl()
	return doc
}

func (e *env) printCreated(res *policy.Result, c *graphchat.Created) error {
	v := verdictWith(res, c.Warnings)
	if e.json {
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
	e.printWarnings(v.Warnings)
	fmt.Fprintln(e.stdout, describeCreated(c))
	if len(c.Duplicates) > 0 {
		fmt.Fprintf(e.stderr, "warning: %d other chat%s with these members and this topic were created at the same time (another program); --pick oldest returns the oldest:\n", len(c.Duplicates), plural(len(c.Duplicates)))
		printChats(e.stderr, c.Duplicates)
	}
	return nil
}

// dedup drops repeated findings (the library reports the warnings the
// demo's own judgement found too).
// verdictWith is the verdict of res with, after its warnings, those the
// library found (about the chat, the message): each once.
func verdictWith(res *policy.Result, found ...policy.List) *verdictDoc {
	v := newVerdict(res)
	for _, l := range found {
		v.Warnings = append(v.Warnings, l...)
	}
	v.Warnings = dedup(v.Warnings)
	return v
}

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
	if c.Recovered {
		s += " (the creation's answer was lost; the chat was found: created once)"
	}
	return s
}
