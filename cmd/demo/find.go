package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/policy"
)

// chatTypeFlag reads --type: Graph's chat types, "" for any.
func chatTypeFlag(s string) (policy.ChatType, error) {
	switch s {
	case "":
		return "", nil
	case "group", "meeting", "oneOnOne":
		return policy.ChatType(s), nil
	case "one-on-one":
		return policy.ChatTypeOneOnOne, nil
	}
	return "", usagef("--type %q: want group, oneOnOne or meeting%s", s, suggest(s, []string{"group", "oneOnOne", "meeting"}))
}

// authOf is the kind of call a command makes: the token's when --token is
// given and readable, else --auth.
func authOf(f *checkFlags) policy.AuthType {
	if f.token != "" {
		if c, err := policy.ParseToken(f.token); err == nil {
			return c.Auth()
		}
	}
	return policy.AuthType(f.auth)
}

// checkUsers checks users given on the command line: each an object id or
// a user principal name, none twice (as written, without case). what names
// them in messages, such as "find".
func checkUsers(what string, users []string) error {
	for i, u := range users {
		if !policy.IsUserReference(u) {
			return usagef("%s: user %q: want an object id (GUID) or a user principal name (name@domain)", what, u)
		}
		for _, prev := range users[:i] {
			if strings.EqualFold(prev, u) {
				return usagef("%s: user %q is given twice", what, u)
			}
		}
	}
	return nil
}

// resolveNeeds is the resolve-user need of users given by name: their
// object ids are looked up (GET /users/{upn}?$select=id) unless known.
func resolveNeeds(users ...string) []need {
	for _, u := range users {
		if u != "" && !policy.IsObjectID(u) {
			return []need{{op: policy.OpResolveUser, without: "give the users by object id"}}
		}
	}
	return nil
}

// listMembersNeed is the list-members need of a search for n users: a chat
// listed with 25 members (the most the listing expands) is completed with
// GET /chats/{id}/members, and only a search for 25 or more can match one.
func listMembersNeed(n int) []need {
	if n < 25 {
		return nil
	}
	return []need{{op: policy.OpListMembers, without: "search for fewer than 25 users"}}
}

// grantWarnings are the policy's warnings about the grant for the needs,
// such as permission_excess outside strict mode.
func grantWarnings(s *session, needs []need) policy.List {
	if s.know == nil || s.know.pc.Grant == nil {
		return policy.List{}
	}
	pc := s.know.pc
	return policy.Evaluate(pc.Auth, policy.Grant{Permissions: pc.Grant.Permissions, Operations: opsOf(needs), Mode: pc.Grant.Mode}).Warnings
}

// find prints the chats whose members are exactly the users given.
func (e *env) find(ctx context.Context, args []string) error {
	var f checkFlags
	var t targetFlags
	opts, pos, err := e.listingCommand("find", "whose chats to search, by `ID or UPN`: one of the users (required with --auth application)", args, &f, &t)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("find: want the chat's users (object ids or user principal names), the signed-in user among them")
	}
	if err := checkUsers("find", pos); err != nil {
		return err
	}
	if err := checkListedUser(&f, opts.User); err != nil {
		return err
	}
	needs := append([]need{{op: policy.OpListChats}}, resolveNeeds(append([]string{opts.User}, pos...)...)...)
	needs = append(needs, listMembersNeed(len(pos))...)
	s, err := e.open(ctx, &f, &t, needs...)
	if err != nil {
		return e.findFailed(ctx, pos, policy.List{}, err)
	}
	defer s.Close()
	members := make([]graphchat.Member, len(pos))
	for i, u := range pos {
		members[i] = s.know.member(u)
	}
	warnings := grantWarnings(s, needs)
	chats, err := s.client.Find(ctx, members, opts)
	if err != nil {
		return e.findFailed(ctx, pos, warnings, err)
	}
	if e.json {
		e.emit(findDoc{Users: pos, Chats: chatInfos(chats), Warnings: warnings})
		return nil
	}
	e.printWarnings(warnings)
	switch len(chats) {
	case 0:
		fmt.Fprintln(e.stdout, "no chat has exactly these members")
	case 1:
		fmt.Fprintln(e.stdout, "1 chat has exactly these members:")
	default:
		fmt.Fprintf(e.stdout, "%d chats have exactly these members (oldest first):\n", len(chats))
	}
	printChats(e.stdout, chats)
	return nil
}

// listingCommand parses the flags of a command that reads a user's chats
// (find, list): those of the call and the target, and --type, --topic and
// --user (userUsage describes it), which make the listing's options.
// --topic narrows the listing only when given.
func (e *env) listingCommand(name, userUsage string, args []string, f *checkFlags, t *targetFlags) (*graphchat.FindOptions, []string, error) {
	fs := newCallFlags(name, f, t)
	typ := fs.String("type", "", "only chats of this `type`: group, oneOnOne or meeting (default any)")
	topic := fs.String("topic", "", "only chats whose topic is exactly `T`; --topic \"\" for chats without one (default any topic)")
	user := fs.String("user", "", userUsage)
	pos, err := e.parseCall(fs, args, f, t)
	if err != nil {
		return nil, nil, err
	}
	ct, err := chatTypeFlag(*typ)
	if err != nil {
		return nil, nil, err
	}
	if ct == policy.ChatTypeOneOnOne && *topic != "" {
		return nil, nil, usagef("--topic is for group chats: a one-on-one chat has no topic")
	}
	opts := &graphchat.FindOptions{Type: ct, User: *user}
	if f.set["topic"] {
		opts.Topic = topic
	}
	return opts, pos, nil
}

// checkListedUser checks --user: required for an application (it has no
// signed-in user). That it is one of the users is graphchat's to decide,
// by object id.
func checkListedUser(f *checkFlags, user string) error {
	switch {
	case user == "" && authOf(f) == policy.AuthApplication:
		return usagef("--user is required with application auth: an application has no chats of its own; name the user whose chats to read")
	case user != "" && !policy.IsUserReference(user):
		return usagef("--user %q: want an object id (GUID) or a user principal name (name@domain)", user)
	}
	return nil
}

// findDoc is find's JSON document. A failure keeps its shape, with no
// chats, and adds the error; a refusal by the policy adds the verdict too.
type findDoc struct {
	Users      []string    `json:"users"` // as given
	Chats      []chatInfo  `json:"chats"` // oldest first; empty when none
	Warnings   policy.List `json:"warnings"`
	Allowed    *bool       `json:"allowed,omitempty"`    // false when refused by the policy
	Violations policy.List `json:"violations,omitempty"` // when refused by the policy
	Error      *errorDoc   `json:"error,omitempty"`
}

// findFailed reports a find that failed once its users were read: with
// --json, find's document with no chats, warnings (those known) and the
// error, and the violations when the policy refused. Bad usage stays a
// plain usage error, as in every command, and so does text mode.
func (e *env) findFailed(ctx context.Context, users []string, warnings policy.List, err error) error {
	if !e.json || exitCode(ctx, err) == exitUsage {
		return err
	}
	doc := findDoc{Users: users, Chats: []chatInfo{}, Warnings: warnings, Error: newErrorDoc(ctx, err)}
	var list policy.List
	if errors.As(err, &list) {
		doc.Allowed, doc.Violations = new(bool), list
	}
	e.emit(doc)
	return reported{err}
}

// list prints the chats of the signed-in user, or of a user for an
// application.
func (e *env) list(ctx context.Context, args []string) error {
	var f checkFlags
	var t targetFlags
	opts, pos, err := e.listingCommand("list", "whose chats to list, by `ID or UPN` (required with --auth application; delegated: the signed-in user only)", args, &f, &t)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("list: unexpected argument %q: the chats listed are the signed-in user's, or --user's", pos[0])
	}
	if err := checkListedUser(&f, opts.User); err != nil {
		return err
	}
	needs := append([]need{{op: policy.OpListChats}}, resolveNeeds(opts.User)...)
	s, err := e.open(ctx, &f, &t, needs...)
	if err != nil {
		return err
	}
	defer s.Close()
	chats, err := s.client.ListChats(ctx, opts)
	if err != nil {
		return err
	}
	warnings := grantWarnings(s, needs)
	if e.json {
		e.emit(listDoc{User: opts.User, Type: string(opts.Type), Chats: chatInfos(chats), Warnings: warnings})
		return nil
	}
	e.printWarnings(warnings)
	whose := "the signed-in user"
	if opts.User != "" {
		whose = opts.User
	}
	fmt.Fprintf(e.stdout, "%d chat%s of %s (oldest first):\n", len(chats), plural(len(chats)), whose)
	printChats(e.stdout, chats)
	return nil
}

// listDoc is list's JSON document.
type listDoc struct {
	User     string      `json:"user,omitempty"` // --user, as given
	Type     string      `json:"type,omitempty"` // --type
	Chats    []chatInfo  `json:"chats"`          // oldest first
	Warnings policy.List `json:"warnings"`
}

// chatInfo is a chat in the JSON documents of find, list and get.
type chatInfo struct {
	ID                  string  `json:"id"`
	ChatType            string  `json:"chatType,omitempty"`
	Topic               *string `json:"topic"` // null when the chat has none
	CreatedDateTime     string  `json:"createdDateTime,omitempty"`
	LastUpdatedDateTime string  `json:"lastUpdatedDateTime,omitempty"`
	TenantID            string  `json:"tenantId,omitempty"`
	WebURL              *string `json:"webUrl,omitempty"`
	// Members are the chat's members as listed (find: all of them; list:
	// at most 25); absent for get, which does not read them.
	Members []memberInfo `json:"members,omitempty"`
	// MoreMembers is true when the listing gave 25 members, the most it
	// expands: the chat may have more (demo members reads them all).
	MoreMembers bool `json:"moreMembers,omitempty"`
}

// memberInfo is a chat member in JSON documents. The email address is
// left out: the object id identifies the user.
type memberInfo struct {
	MembershipID string   `json:"membershipId,omitempty"`
	UserID       string   `json:"userId,omitempty"`
	TenantID     string   `json:"tenantId,omitempty"`
	DisplayName  string   `json:"displayName,omitempty"`
	Roles        []string `json:"roles"`
	// VisibleHistoryStartDateTime is from when the member sees the
	// chat's history.
	VisibleHistoryStartDateTime string `json:"visibleHistoryStartDateTime,omitempty"`
}

// expandedMembers is the most members list chats returns for a chat (the
// known issue on the List chats page).
const expandedMembers = 25

func chatInfos(chats []models.Chatable) []chatInfo {
	out := make([]chatInfo, 0, len(chats))
	for _, c := range chats {
		if c == nil {
			continue
		}
		ci := newChatInfo(c)
		for _, m := range c.GetMembers() {
			if m != nil {
				ci.Members = append(ci.Members, newMemberInfo(m))
			}
		}
		ci.MoreMembers = len(c.GetMembers()) >= expandedMembers
		out = append(out, ci)
	}
	return out
}

func newChatInfo(c models.Chatable) chatInfo {
	ci := chatInfo{ID: stringOf(c.GetId()), Topic: c.GetTopic(), TenantID: stringOf(c.GetTenantId()), WebURL: c.GetWebUrl()}
	if ct := c.GetChatType(); ct != nil {
		ci.ChatType = ct.String()
	}
	ci.CreatedDateTime = timeString(c.GetCreatedDateTime())
	ci.LastUpdatedDateTime = timeString(c.GetLastUpdatedDateTime())
	return ci
}

func newMemberInfo(m models.ConversationMemberable) memberInfo {
	mi := memberInfo{MembershipID: stringOf(m.GetId()), DisplayName: stringOf(m.GetDisplayName()), Roles: m.GetRoles()}
	if mi.Roles == nil {
		mi.Roles = []string{}
	}
	mi.VisibleHistoryStartDateTime = timeString(m.GetVisibleHistoryStartDateTime())
	if am, ok := m.(models.AadUserConversationMemberable); ok {
		mi.UserID, mi.TenantID = stringOf(am.GetUserId()), stringOf(am.GetTenantId())
	}
	return mi
}

func stringOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func timeString(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// printChats prints one line a chat: id, type, creation time, topic and
// member count.
func printChats(w io.Writer, chats []models.Chatable) {
	for _, ci := range chatInfos(chats) {
		fmt.Fprintf(w, "  %s  %s  created %s", ci.ID, ci.ChatType, orUnknown(ci.CreatedDateTime))
		if ci.Topic != nil {
			fmt.Fprintf(w, "  %q", *ci.Topic)
		}
		if n := len(ci.Members); n > 0 {
			more := ""
			if ci.MoreMembers {
				more = " or more"
			}
			fmt.Fprintf(w, "  %d member%s%s", n, plural(n), more)
		}
		fmt.Fprintln(w)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
