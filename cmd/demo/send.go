package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/policy"
)

// send checks and sends a message to an existing chat. Sending to
// participants (finding or creating their chat first) is not offered.
func (e *env) send(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	var f checkFlags
	var t targetFlags
	f.register(fs)
	t.register(fs)
	chatID := fs.String("chat", "", "the chat's `ID`")
	text := fs.String("text", "", "the message `text`")
	file := fs.String("file", "", "read the message from a `FILE` (- for standard input); a final line break is dropped")
	asHTML := fs.Bool("html", false, "the text is HTML (default: plain text)")
	var mentions listFlag
	fs.Var(&mentions, "mention", "mention a member, by `ID or UPN` (repeatable); its tag is added at the end of the message, which is sent as HTML")
	checkMembers := fs.Bool("check-members", false, "list the chat's members first to check the caller and mentions (adds the list-members permission)")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "", err)
	}
	f.visit(fs)
	t.visit(fs)
	fromFile := f.set["file"]
	if len(pos) == 1 && pos[0] == "-" && !fromFile {
		*file, pos, fromFile = "-", nil, true
	}
	switch {
	case *chatID == "":
		return usagef("send: --chat ID is required (sending to participants, finding or creating their chat first, is not supported)")
	case !strings.HasPrefix(*chatID, "19:") || strings.ContainsAny(*chatID, "/?# "):
		return usagef("--chat %q: want a chat id such as 19:…@thread.v2", *chatID)
	case len(pos) > 0:
		return usagef("send: unexpected argument %q: give the message with --text, --file FILE or -", pos[0])
	case f.set["text"] == fromFile:
		return usagef("send: give the message with exactly one of --text, --file FILE or -")
	}
	content := *text
	if fromFile {
		data, err := e.readInput(ctx, "the message", *file, 1<<20)
		if err != nil {
			return err
		}
		content = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	}
	// Application permissions cannot send chat messages: refused by the
	// policy here, before any sign-in or request.
	auth := policy.AuthType(f.auth)
	if f.token != "" {
		if claims, err := policy.ParseToken(f.token); err == nil {
			auth = claims.Auth()
		}
	}
	if auth == policy.AuthApplication {
		return policy.CheckMessage(&policy.Message{Content: content}, &policy.Context{Auth: auth}).Violations
	}
	needs := []need{{op: policy.OpSendMessage}}
	if *checkMembers {
		needs = append(needs, need{op: policy.OpListMembers, without: "run without --check-members"})
	}
	s, err := e.open(ctx, &f, &t, needs...)
	if err != nil {
		return err
	}
	defer s.Close()
	msg, err := buildMessage(content, *asHTML, mentions, s.know)
	if err != nil {
		return err
	}
	res, err := s.client.CheckMessage(ctx, *chatID, msg, &graphchat.SendOptions{FetchMembers: *checkMembers})
	if err != nil {
		var list policy.List
		if errors.As(err, &list) {
			return list // refused: nothing was sent
		}
		return err
	}
	got, err := s.client.SendMessage(ctx, *chatID, msg, nil) // checked above, members included
	if err != nil {
		return e.failed(ctx, res, err)
	}
	return e.printSent(*chatID, got, res)
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

func (e *env) printSent(chatID string, m models.ChatMessageable, res *policy.Result) error {
	doc := messageDoc{ChatID: chatID}
	if m != nil {
		if m.GetId() != nil {
			doc.ID = *m.GetId()
		}
		if t := m.GetCreatedDateTime(); t != nil {
			doc.CreatedDateTime = t.UTC().Format(time.RFC3339Nano)
		}
	}
	if e.json {
		e.emit(struct {
			*verdictDoc
			Message messageDoc `json:"message"`
		}{newVerdict(res), doc})
		return nil
	}
	e.printWarnings(res.Warnings)
	fmt.Fprintf(e.stdout, "sent message %s to %s\n", doc.ID, chatID)
	return nil
}

// messageDoc is a sent message in send's JSON document.
type messageDoc struct {
	ChatID          string `json:"chatId"`
	ID              string `json:"id"`
	CreatedDateTime string `json:"createdDateTime,omitempty"`
}
