package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
		return e.helpFor(fs, "create [flags] FILE|- | --one-on-one A B | --group [--topic T] A B C...", err)
	}
	f.visit(fs)
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
	k, err := f.knowledge()
	if err != nil {
		return err
	}
	var body []byte
	if !*oneOnOne && !*group {
		if body, err = e.readInput(pos[0]); err != nil {
			return err
		}
		if _, err := policy.ParseCreateChat(body); err != nil {
			return usagef("%s: %v", pos[0], err)
		}
	}
	client, done, err := e.connect(ctx, t, f, []policy.Operation{policy.OpCreateChat})
	if err != nil {
		return err
	}
	defer done()

	var created *graphchat.Created
	switch {
	case *oneOnOne:
		created, err = client.CreateOneOnOne(ctx, k.member(pos[0], f.tenant), k.member(pos[1], f.tenant))
	case *group:
		members := make([]graphchat.Member, len(pos))
		for i, u := range pos {
			members[i] = k.member(u, f.tenant)
		}
		created, err = client.CreateGroup(ctx, *topic, members...)
	default:
		var chat models.Chatable
		if chat, err = graphchat.DecodeChat(body); err != nil {
			return usagef("%s: %v", pos[0], err)
		}
		var known []policy.User // what the flags say of the body's members
		for u, kind := range k.kinds(body, f.tenant) {
			pu := policy.User{UserPrincipalName: u, Kind: kind}
			if policy.IsObjectID(u) {
				pu = policy.User{ID: u, Kind: kind}
			}
			known = append(known, pu)
		}
		dir, derr := policy.NewDirectory(known...)
		if derr != nil {
			return usagef("%v", derr)
		}
		created, err = client.Create(ctx, chat, &graphchat.CreateOptions{Directory: dir})
	}
	if err != nil {
		return e.failure(err, f.json)
	}
	return e.printCreated(created, f.json)
}

// member builds a graphchat member from what is known of the user.
func (k *knowledge) member(user, callerTenant string) graphchat.Member {
	switch kind, home := k.kind(user, callerTenant); kind {
	case policy.KindGuest:
		return graphchat.Guest(user)
	case policy.KindExternal:
		return graphchat.External(user, home)
	case policy.KindUnknown:
		return graphchat.Member{User: user}
	}
	return graphchat.User(user)
}

// kinds maps the body's members to what is known of them.
func (k *knowledge) kinds(body []byte, callerTenant string) map[string]policy.Kind {
	req, err := policy.ParseCreateChat(body)
	if err != nil {
		return nil
	}
	out := map[string]policy.Kind{}
	for _, m := range req.Members {
		if kind, _ := k.kind(m.User, callerTenant); kind != policy.KindUnknown {
			out[m.User] = kind
		}
	}
	return out
}

// failure prints why a request was refused and returns errRefused.
func (e *env) failure(err error, asJSON bool) error {
	var list policy.List
	if errors.As(err, &list) {
		out := e.stdout
		if !asJSON {
			fmt.Fprintln(out, "refused by the policy before anything was sent:")
		}
		report(out, &policy.Result{Violations: list}, asJSON)
		return errRefused
	}
	var se *policy.SyntaxError
	if errors.As(err, &se) {
		return usagef("%v", err)
	}
	var ge *graphchat.Error
	if errors.As(err, &ge) && asJSON {
		writeJSON(e.stdout, map[string]any{"error": map[string]any{"status": ge.StatusCode, "code": ge.Code, "message": ge.Message,
			"requestId": ge.RequestID, "clientRequestId": ge.ClientRequestID, "retryAfterSeconds": ge.RetryAfter.Seconds()}})
		return errRefused
	}
	if errors.Is(err, graphchat.ErrUndeclared) {
		return usagef("%v", err)
	}
	fmt.Fprintln(e.stderr, "demo:", err)
	return errRefused
}

func (e *env) printCreated(c *graphchat.Created, asJSON bool) error {
	if asJSON {
		out := map[string]any{"existed": c.Existed, "warnings": nonNil(c.Warnings)}
		if c.Chat != nil {
			out["id"] = c.ID()
			if ct := c.Chat.GetChatType(); ct != nil {
				out["chatType"] = ct.String()
			}
			out["topic"] = c.Chat.GetTopic()
			if t := c.Chat.GetCreatedDateTime(); t != nil {
				out["createdDateTime"] = t.UTC().Format(time.RFC3339Nano)
			}
			out["webUrl"] = c.Chat.GetWebUrl()
		} else {
			out["operation"] = c.Operation
		}
		writeJSON(e.stdout, out)
		return nil
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(e.stderr, "warning: %s %s: %s\n", w.Code, orBody(w.Field), w.Message)
	}
	fmt.Fprintln(e.stdout, describeCreated(c))
	return nil
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

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// addMember adds a member to a group chat.
func (e *env) addMember(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("add-member", flag.ContinueOnError)
	var f checkFlags
	var t targetFlags
	f.register(fs)
	t.register(fs)
	chatID := fs.String("chat", "", "the group chat's `ID`")
	role := fs.String("role", "", "owner or guest (default: guest for a --guest, owner otherwise)")
	tenantID := fs.String("tenant-id", "", "the home tenant of an external user")
	history := fs.String("history", "none", "history the member sees: all, none, or from an RFC 3339 time")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "add-member --chat ID [flags] USER", err)
	}
	f.visit(fs)
	if *chatID == "" || len(pos) != 1 {
		return usagef("add-member: want --chat ID and one USER")
	}
	k, err := f.knowledge()
	if err != nil {
		return err
	}
	m := k.member(pos[0], f.tenant)
	if *tenantID != "" {
		m = graphchat.External(pos[0], *tenantID)
	}
	switch *role {
	case "":
	case "owner", "guest":
		m.Role = policy.Role(*role)
	default:
		return usagef("--role %q: want owner or guest", *role)
	}
	switch *history {
	case "none":
	case "all":
		m = m.WithAllHistory()
	default:
		at, err := time.Parse(time.RFC3339, *history)
		if err != nil {
			return usagef("--history %q: want all, none or an RFC 3339 time such as 2026-11-01T00:00:00Z", *history)
		}
		m = m.WithHistory(at)
	}
	client, done, err := e.connect(ctx, t, f, []policy.Operation{policy.OpAddMember})
	if err != nil {
		return err
	}
	defer done()
	id, err := client.AddMember(ctx, *chatID, m)
	if err != nil {
		return e.failure(err, f.json)
	}
	if f.json {
		writeJSON(e.stdout, map[string]string{"chatId": *chatID, "membershipId": id})
	} else {
		fmt.Fprintf(e.stdout, "added %s to %s (membership %s)\n", pos[0], *chatID, id)
	}
	return nil
}
