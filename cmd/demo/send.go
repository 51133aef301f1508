package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"slices"
	"strings"

	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/policy"
)

// send checks and sends a message to a chat given by id (--chat), or to
// people (--one-on-one A B, --group [--topic T] A B C...): their chat is
// found or created first, and the message is checked with them as its
// members before anything is listed, created or sent.
func (e *env) send(ctx context.Context, args []string) error {
	a, err := e.parseSend(args)
	if err != nil {
		return err
	}
	content := a.text
	if a.fromFile {
		data, err := e.readInput(ctx, "the message", a.file, 1<<20)
		if err != nil {
			return err
		}
		content = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	}
	// Application permissions cannot send chat messages: refused by the
	// policy here, before any sign-in or request.
	if auth := authOf(&a.f); auth == policy.AuthApplication {
		return policy.CheckMessage(&policy.Message{Content: content}, &policy.Context{Auth: auth}).Violations
	}
	// A grant the preflight refuses is reported with the message's own
	// problems, in one verdict.
	s, denied, err := e.openJudging(ctx, &a.f, &a.t, a.needs()...)
	if err != nil {
		return err
	}
	defer s.Close()
	msg, err := buildMessage(content, a.asHTML, a.mentions, s.know)
	if err != nil {
		return err
	}
	if denied != nil {
		return a.refusal(s.know, msg, denied) // nothing is listed, created or sent
	}
	if a.toPeople() {
		return e.sendTo(ctx, s, a.group, a.topic, a.users, msg, graphchat.Pick(a.pick))
	}
	return e.sendToChat(ctx, s, a.chatID, msg, a.checkMembers)
}

// refusal is the verdict of a send whose grant the preflight refused
// (denied, with what to do instead): the message's violations, and for a
// send to people their chat's, judged by the policy with what is known,
// followed by denied, as one policy.List. The grant is judged once, by the
// preflight. Nothing is asked of the target: for --chat the members are
// not listed, so the rules that need them are not applied.
func (a *sendArgs) refusal(k *knowledge, msg models.ChatMessageable, denied policy.List) error {
	m, err := messageOf(msg)
	if err != nil {
		return err
	}
	pc := *k.pc
	pc.Grant = nil
	var list policy.List
	if a.toPeople() {
		typ, topic := peopleChat(a.group, a.topic)
		list = append(list, policy.Check(request(typ, topic, k.members(a.users)), &pc).Violations...)
		m.Members = a.users
		// The chat's check has judged the caller against these members:
		// the message's check would say it again.
		pc.Caller = policy.Caller{}
	}
	list = append(list, policy.CheckMessage(m, &pc).Violations...)
	return append(list, denied...)
}

// messageOf is the policy's view of a message: the body the SDK serializes
// for it, read as the service reads it.
func messageOf(msg models.ChatMessageable) (*policy.Message, error) {
	w := jsonserialization.NewJsonSerializationWriter()
	defer w.Close()
	if err := w.WriteObjectValue("", msg); err != nil {
		return nil, fmt.Errorf("serializing the message: %w", err)
	}
	body, err := w.GetSerializedContent()
	if err != nil {
		return nil, fmt.Errorf("serializing the message: %w", err)
	}
	return policy.ParseSendMessage(body)
}

// peopleChat is the type and topic of the chat of people: a one-on-one
// chat, or a group with its topic (none when empty).
func peopleChat(group bool, topic string) (policy.ChatType, *string) {
	if !group {
		return policy.ChatTypeOneOnOne, nil
	}
	if topic == "" {
		return policy.ChatTypeGroup, nil
	}
	return policy.ChatTypeGroup, &topic
}

// sendArgs is what send is asked for: a chat by id, or the people of one
// (--one-on-one, --group), and the message.
type sendArgs struct {
	f               checkFlags
	t               targetFlags
	chatID          string
	oneOnOne, group bool
	topic, pick     string
	users           []string // --one-on-one and --group: the members
	text, file      string
	fromFile        bool // the message is read from file ("-": standard input)
	asHTML          bool
	mentions        listFlag
	checkMembers    bool
}

// toPeople reports whether the message goes to the chat of people, found
// or created, rather than to a chat given by id.
func (a *sendArgs) toPeople() bool { return a.oneOnOne || a.group }

// parseSend reads send's flags and arguments and refuses conflicting or
// missing ones.
func (e *env) parseSend(args []string) (*sendArgs, error) {
	a := &sendArgs{}
	fs := newCallFlags("send", &a.f, &a.t)
	fs.StringVar(&a.chatID, "chat", "", "the chat's `ID`")
	fs.BoolVar(&a.oneOnOne, "one-on-one", false, "send to the one-on-one chat of two users given as arguments (the service keeps one per pair)")
	fs.BoolVar(&a.group, "group", false, "send to the group chat of exactly the users given as arguments, creating it when there is none")
	fs.StringVar(&a.topic, "topic", "", "with --group: the chat's topic; a chat matches by its members and topic")
	fs.StringVar(&a.pick, "pick", "", "with --group, when several chats match: oldest sends to the oldest (default: nothing is sent, exit 1)")
	fs.StringVar(&a.text, "text", "", "the message `text`")
	fs.StringVar(&a.file, "file", "", "read the message from a `FILE` (- for standard input); a final line break is dropped")
	fs.BoolVar(&a.asHTML, "html", false, "the text is HTML (default: plain text)")
	fs.Var(&a.mentions, "mention", "mention a member, by `ID or UPN` (repeatable); its tag is added at the end of the message, which is sent as HTML")
	fs.BoolVar(&a.checkMembers, "check-members", false, "with --chat: list the chat's members first to check the caller and mentions (adds the list-members permission)")
	pos, err := e.parseCall(fs, args, &a.f, &a.t)
	if err != nil {
		return nil, err
	}
	a.fromFile = a.f.set["file"]
	if i := slices.Index(pos, "-"); i >= 0 && !a.fromFile {
		a.file, pos, a.fromFile = "-", slices.Delete(pos, i, i+1), true
	}
	a.users = pos
	return a, a.validate()
}

// validate refuses send's conflicting or missing flags and arguments.
func (a *sendArgs) validate() error {
	set, pos := a.f.set, a.users
	switch {
	case a.oneOnOne && a.group:
		return usagef("--one-on-one and --group conflict: choose one")
	case a.chatID != "" && a.toPeople():
		return usagef("--chat and --%s conflict: send to a chat by its id, or to its people", map[bool]string{true: "group", false: "one-on-one"}[a.group])
	case !a.toPeople() && a.chatID == "":
		return usagef("send: want --chat ID, or the people of the chat: --one-on-one A B, or --group [--topic T] A B C... (their chat is found or created)")
	case a.chatID != "" && (!strings.HasPrefix(a.chatID, "19:") || strings.ContainsAny(a.chatID, "/?# ")):
		return usagef("--chat %q: want a chat id such as 19:…@thread.v2", a.chatID)
	case a.chatID != "" && len(pos) > 0:
		return usagef("send: unexpected argument %q: give the message with --text, --file FILE or -", pos[0])
	case !a.group && set["topic"]:
		return usagef("--topic is for --group: a one-on-one chat has no topic, and a chat given by id keeps its own")
	case !a.group && set["pick"]:
		return usagef("--pick is for --group: only group chats can match several times")
	case set["pick"] && a.pick != string(graphchat.PickOldest):
		return usagef("--pick %q: want oldest", a.pick)
	case a.toPeople() && a.checkMembers:
		return usagef("--check-members is for --chat: the members of a chat sent to by its people are the users given")
	case a.oneOnOne && len(pos) != 2:
		return usagef("--one-on-one takes two users, got %d", len(pos))
	case a.group && len(pos) < 2:
		return usagef("--group takes at least two users, got %d", len(pos))
	case set["text"] == a.fromFile:
		return usagef("send: give the message with exactly one of --text, --file FILE or -")
	}
	return nil
}

// needs are the operations of the send.
func (a *sendArgs) needs() []need {
	needs := []need{{op: policy.OpSendMessage}}
	if a.checkMembers {
		needs = append(needs, need{op: policy.OpListMembers, without: "run without --check-members"})
	}
	if a.toPeople() {
		needs = append(needs, peopleNeeds(a.group, a.users, len(a.mentions) > 0)...)
	}
	return needs
}

// sendToChat checks the message (with the chat's members when
// checkMembers) and sends it to the chat given by id.
func (e *env) sendToChat(ctx context.Context, s *session, chatID string, msg models.ChatMessageable, checkMembers bool) error {
	res, err := s.client.CheckMessage(ctx, chatID, msg, &graphchat.SendOptions{FetchMembers: checkMembers})
	if err != nil {
		var list policy.List
		if errors.As(err, &list) {
			return list // refused: nothing was sent
		}
		return err
	}
	got, err := s.client.SendMessage(ctx, chatID, msg, nil) // checked above, members included
	if err != nil {
		return e.sendFailed(ctx, res, nil, err)
	}
	return e.printSent(res, nil, chatID, got)
}

// peopleNeeds are the operations of sending to people: creating their
// chat, for a group finding it (by object id: names are resolved when
// the directory does not know them), and identifying members given by
// name when mentions must be compared with them.
func peopleNeeds(group bool, users []string, mentions bool) []need {
	needs := []need{{op: policy.OpCreateChat}}
	if group {
		needs = append(needs, need{op: policy.OpListChats})
		if len(users) >= 25 {
			// The listing expands at most 25 members of a chat.
			needs = append(needs, need{op: policy.OpListMembers})
		}
	}
	if (group || mentions) && slices.ContainsFunc(users, func(u string) bool { return !policy.IsObjectID(u) }) {
		needs = append(needs, need{op: policy.OpResolveUser, without: "give the users by object id"})
	}
	return needs
}

// sendTo sends to the chat of people, found or created by the library's
// SendTo, which checks the message and the chat before anything is sent.
func (e *env) sendTo(ctx context.Context, s *session, group bool, topic string, users []string, msg models.ChatMessageable, pick graphchat.Pick) error {
	typ, tp := peopleChat(group, topic)
	members := s.know.members(users)
	res := s.know.judge(request(typ, tp, members)) // the chat's verdict, with the permissions decision
	sent, err := s.client.SendTo(ctx, typ, topic, members, msg, &graphchat.SendToOptions{Pick: pick})
	if err != nil {
		return e.sendFailed(ctx, res, sent, err)
	}
	return e.printSent(res, sent, sent.Chat.ID(), sent.Message)
}

// buildMessage makes the message of the flags: plain text, or HTML; with
// mentions, HTML with each mention's tag added at the end.
func buildMessage(content string, asHTML bool, mentions []string, k *knowledge) (models.ChatMessageable, error) {
	if len(mentions) == 0 {
		if asHTML {
			return graphchat.HTMLMessage(content), nil
		}
		return graphchat.TextMessage(content), nil
	}
	if !asHTML {
		content = html.EscapeString(content)
	}
	var entries []models.ChatMessageMentionable
	for i, ref := range mentions {
		id, name, ok := k.lookup(ref)
		if !ok {
			return nil, usagef("--mention %q: not in the directory: give the user's object id, or a --directory that knows the user", ref)
		}
		tag, m := graphchat.Mention(i, id, name)
		content += " " + tag
		entries = append(entries, m)
	}
	return graphchat.HTMLMessage(content, entries...), nil
}

// lookup finds a user's object id and display name from what the command
// knows (the directory, the embedded emulator's users); an object id not
// known is used as given, and so is its name.
func (k *knowledge) lookup(ref string) (id, name string, ok bool) {
	id, name = ref, ref
	if u, found := k.pc.Directory.Lookup(ref); found && u.ID != "" {
		id, name = u.ID, u.UserPrincipalName
	}
	for _, u := range k.emulator {
		if strings.EqualFold(u.ID, id) && u.DisplayName != "" {
			name = u.DisplayName
		}
	}
	return id, name, policy.IsObjectID(id)
}

// sendVerdict is the verdict of a send: res with the warnings the library
// found about the chat and the message.
func sendVerdict(res *policy.Result, sent *graphchat.Sent) *verdictDoc {
	if sent == nil {
		return newVerdict(res)
	}
	var chat policy.List
	if sent.Chat != nil {
		chat = sent.Chat.Warnings
	}
	return verdictWith(res, chat, sent.Warnings)
}

// printSent prints a sent message and, when sent to people, their chat.
func (e *env) printSent(res *policy.Result, sent *graphchat.Sent, chatID string, m models.ChatMessageable) error {
	v := sendVerdict(res, sent)
	doc := messageDoc{ChatID: chatID}
	if m != nil {
		doc.ID, doc.CreatedDateTime = deref(m.GetId()), timeString(m.GetCreatedDateTime())
	}
	if e.json {
		e.emit(struct {
			*verdictDoc
			Chat    *chatDoc   `json:"chat,omitempty"`
			Message messageDoc `json:"message"`
		}{v, sentChat(sent), doc})
		return nil
	}
	e.printWarnings(v.Warnings)
	if c := sentCreated(sent); c != nil {
		fmt.Fprintln(e.stdout, describeCreated(c))
	}
	fmt.Fprintf(e.stdout, "sent message %s to %s\n", doc.ID, chatID)
	return nil
}

// sentChat is the chat of a send to people in JSON; nil for a send by id.
func sentChat(sent *graphchat.Sent) *chatDoc {
	c := sentCreated(sent)
	if c == nil {
		return nil
	}
	doc := newChatDoc(c)
	return &doc
}

// sentCreated is the chat a send to people found or created; nil for a
// send by id, or before the chat was known.
func sentCreated(sent *graphchat.Sent) *graphchat.Created {
	if sent == nil || sent.Chat == nil || sent.Chat.Chat == nil {
		return nil
	}
	return sent.Chat
}

// sendFailed reports a send that was allowed and then failed: several
// chats matching (with the candidates; nothing was sent), a message whose
// outcome is unknown (exit 4), or an error, with the chat when it was found
// or created. In JSON, one document.
func (e *env) sendFailed(ctx context.Context, res *policy.Result, sent *graphchat.Sent, err error) error {
	var list policy.List
	if errors.As(err, &list) {
		return list // refused by the library's check: nothing was sent
	}
	var several *graphchat.MatchesError
	msg := message(err)
	switch {
	case errors.As(err, &several):
		msg = fmt.Sprintf("%d group chats have exactly the members %s and this topic: nothing was sent; send to one of them with --chat ID, or to the oldest with --pick oldest",
			len(several.Candidates), strings.Join(several.Members, ", "))
	}
	if e.json {
		doc := newErrorDoc(ctx, err)
		doc.Message = msg
		var candidates []chatDoc
		if several != nil {
			for _, c := range several.Candidates {
				candidates = append(candidates, newChatDoc(&graphchat.Created{Chat: c, Existed: true}))
			}
		}
		e.emit(struct {
			*verdictDoc
			Chat       *chatDoc  `json:"chat,omitempty"`
			Candidates []chatDoc `json:"candidates,omitempty"`
			Error      *errorDoc `json:"error"`
		}{sendVerdict(res, sent), sentChat(sent), candidates, doc})
		return reported{err}
	}
	e.printWarnings(sendVerdict(res, sent).Warnings)
	if c := sentCreated(sent); c != nil {
		fmt.Fprintln(e.stdout, describeCreated(c))
	}
	fmt.Fprintln(e.stderr, "demo:", msg)
	if several != nil {
		for _, c := range several.Candidates {
			created := ""
			if t := timeString(c.GetCreatedDateTime()); t != "" {
				created = " created " + t
			}
			fmt.Fprintf(e.stderr, "  candidate %s%s\n", deref(c.GetId()), created)
		}
	}
	return reported{err}
}

// messageDoc is a sent message in send's JSON document.
type messageDoc struct {
	ChatID          string `json:"chatId"`
	ID              string `json:"id"`
	CreatedDateTime string `json:"createdDateTime,omitempty"`
}
