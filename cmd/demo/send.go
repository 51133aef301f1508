package main

import (
	"context"
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
		return e.helpFor(fs, "send --chat ID (--text T | --file FILE | -) [--html] [--mention USER]... [flags]", err)
	}
	f.visit(fs)
	fromFile := f.set["file"]
	if len(pos) == 1 && pos[0] == "-" && !fromFile {
		*file, pos, fromFile = "-", nil, true
	}
	switch {
	case *chatID == "":
		return usagef("send: --chat ID is required (sending to participants, finding or creating their chat first, is not supported)")
	case len(pos) > 0:
		return usagef("send: unexpected argument %q: give the message with --text, --file FILE or -", pos[0])
	case f.set["text"] == fromFile:
		return usagef("send: give the message with exactly one of --text, --file FILE or -")
	}
	content := *text
	if fromFile {
		data, err := e.readInput(*file)
		if err != nil {
			return err
		}
		content = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	}
	k, err := f.knowledge()
	if err != nil {
		return err
	}
	msg, err := buildMessage(content, *asHTML, mentions, k)
	if err != nil {
		return err
	}
	ops := []policy.Operation{policy.OpSendMessage}
	if *checkMembers {
		ops = append(ops, policy.OpListMembers)
	}
	// The policy first, with what the flags say: an application call is
	// refused here, before any sign-in or request.
	pc, err := f.context(ops...)
	if err != nil {
		return err
	}
	if pc.Auth == policy.AuthApplication {
		m := &policy.Message{Content: content}
		return e.failure(policy.CheckMessage(m, pc).Err(), f.json)
	}

	client, done, err := e.connect(ctx, t, f, ops)
	if err != nil {
		return err
	}
	defer done()
	res, err := client.CheckMessage(ctx, *chatID, msg, &graphchat.SendOptions{FetchMembers: *checkMembers})
	if err != nil {
		return e.failure(err, f.json)
	}
	got, err := client.SendMessage(ctx, *chatID, msg, nil) // checked above, members included
	if err != nil {
		return e.failure(err, f.json)
	}
	return e.printSent(*chatID, got, res.Warnings, f.json)
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

// lookup finds a user's object id and display name in the directory (the
// emulator's when none is given); an object id not in it is used as given.
func (k *knowledge) lookup(ref string) (id, name string, ok bool) {
	for _, u := range directoryOrDefault(k) {
		if strings.EqualFold(u.ID, ref) || strings.EqualFold(u.UserPrincipalName, ref) {
			name = u.DisplayName
			if name == "" {
				name = u.UserPrincipalName
			}
			return u.ID, name, true
		}
	}
	if policy.IsObjectID(ref) {
		return ref, ref, true
	}
	return "", "", false
}

func (e *env) printSent(chatID string, m models.ChatMessageable, warnings policy.List, asJSON bool) error {
	id := ""
	if m != nil && m.GetId() != nil {
		id = *m.GetId()
	}
	if asJSON {
		out := map[string]any{"chatId": chatID, "id": id, "warnings": nonNil(warnings)}
		if m != nil && m.GetCreatedDateTime() != nil {
			out["createdDateTime"] = m.GetCreatedDateTime().UTC().Format(time.RFC3339Nano)
		}
		writeJSON(e.stdout, out)
		return nil
	}
	for _, w := range warnings {
		fmt.Fprintf(e.stderr, "warning: %s %s: %s\n", w.Code, orBody(w.Field), w.Message)
	}
	fmt.Fprintf(e.stdout, "sent message %s to %s\n", id, chatID)
	return nil
}
