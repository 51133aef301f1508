package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/policy"
)

// checkChatID checks --chat: a chat id such as 19:…@thread.v2, which goes
// into a URL path as one segment.
func checkChatID(id string) error {
	switch {
	case id == "":
		return usagef("--chat is required: want a chat id such as 19:…@thread.v2")
	case !strings.HasPrefix(id, "19:") || strings.ContainsAny(id, "/?# "):
		return usagef("--chat %q: want a chat id such as 19:…@thread.v2", id)
	}
	return nil
}

// chatCommand parses the flags of a command on one chat (--chat ID and
// the flags of the target and the call) and returns its arguments.
func (e *env) chatCommand(name string, args []string, f *checkFlags, t *targetFlags) (chatID string, pos []string, err error) {
	fs := newCallFlags(name, f, t)
	chat := fs.String("chat", "", "the chat's `ID`, such as 19:…@thread.v2")
	if pos, err = e.parseCall(fs, args, f, t); err != nil {
		return "", nil, err
	}
	return *chat, pos, checkChatID(*chat)
}

// get prints a chat.
func (e *env) get(ctx context.Context, args []string) error {
	var f checkFlags
	var t targetFlags
	chatID, pos, err := e.chatCommand("get", args, &f, &t)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("get: unexpected argument %q: want --chat ID", pos[0])
	}
	needs := []need{{op: policy.OpGetChat}}
	s, err := e.open(ctx, &f, &t, needs...)
	if err != nil {
		return err
	}
	defer s.Close()
	chat, err := s.client.GetChat(ctx, chatID)
	if err != nil {
		return err
	}
	if chat == nil {
		return fmt.Errorf("get: the service answered no chat for %s", chatID)
	}
	ci := newChatInfo(chat)
	warnings := grantWarnings(s, needs)
	if e.json {
		e.emit(struct {
			Chat     chatInfo    `json:"chat"`
			Warnings policy.List `json:"warnings"`
		}{ci, warnings})
		return nil
	}
	e.printWarnings(warnings)
	fmt.Fprintf(e.stdout, "%s  %s  created %s  updated %s", ci.ID, ci.ChatType, orUnknown(ci.CreatedDateTime), orUnknown(ci.LastUpdatedDateTime))
	if ci.Topic != nil {
		fmt.Fprintf(e.stdout, "  %q", *ci.Topic)
	}
	fmt.Fprintln(e.stdout)
	if ci.WebURL != nil {
		fmt.Fprintf(e.stdout, "  %s\n", *ci.WebURL)
	}
	return nil
}

// members prints every member of a chat.
func (e *env) members(ctx context.Context, args []string) error {
	var f checkFlags
	var t targetFlags
	chatID, pos, err := e.chatCommand("members", args, &f, &t)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("members: unexpected argument %q: want --chat ID", pos[0])
	}
	needs := []need{{op: policy.OpListMembers}}
	s, err := e.open(ctx, &f, &t, needs...)
	if err != nil {
		return err
	}
	defer s.Close()
	got, err := s.client.ListMembers(ctx, chatID)
	if err != nil {
		return err
	}
	list := make([]memberInfo, 0, len(got))
	for _, m := range got {
		if m != nil {
			list = append(list, newMemberInfo(m))
		}
	}
	warnings := grantWarnings(s, needs)
	if e.json {
		e.emit(membersDoc{ChatID: chatID, Members: list, Warnings: warnings})
		return nil
	}
	e.printWarnings(warnings)
	fmt.Fprintf(e.stdout, "%d member%s of %s:\n", len(list), plural(len(list)), chatID)
	for _, m := range list {
		fmt.Fprintf(e.stdout, "  %s  %-6s  %s", orUnknown(m.UserID), strings.Join(m.Roles, ","), m.DisplayName)
		if m.TenantID != "" {
			fmt.Fprintf(e.stdout, "  (tenant %s)", m.TenantID)
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}

// membersDoc is the JSON document of members.
type membersDoc struct {
	ChatID   string       `json:"chatId"`
	Members  []memberInfo `json:"members"`
	Warnings policy.List  `json:"warnings"`
}

// removeMember removes a user from a group chat: the chat's members are
// listed to find the user's membership, which is removed.
func (e *env) removeMember(ctx context.Context, args []string) error {
	var f checkFlags
	var t targetFlags
	chatID, pos, err := e.chatCommand("remove-member", args, &f, &t)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("remove-member: want --chat ID and one USER")
	}
	if err := checkUsers("remove-member", pos); err != nil {
		return err
	}
	needs := append([]need{{op: policy.OpListMembers}, {op: policy.OpRemoveMember}}, resolveNeeds(pos[0])...)
	s, err := e.open(ctx, &f, &t, needs...)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.client.RemoveMemberByUser(ctx, chatID, pos[0]); err != nil {
		return err
	}
	warnings := grantWarnings(s, needs)
	if e.json {
		e.emit(removedDoc{ChatID: chatID, User: pos[0], Removed: true, Warnings: warnings})
		return nil
	}
	e.printWarnings(warnings)
	fmt.Fprintf(e.stdout, "removed %s from %s\n", pos[0], chatID)
	return nil
}

// removedDoc is the JSON document of remove-member.
type removedDoc struct {
	ChatID   string      `json:"chatId"`
	User     string      `json:"user"` // as given
	Removed  bool        `json:"removed"`
	Warnings policy.List `json:"warnings"`
}

// addMember adds a member to a group chat.
func (e *env) addMember(ctx context.Context, args []string) error {
	a, err := e.parseAddMember(args)
	if err != nil {
		return err
	}
	needs := []need{{op: policy.OpAddMember}}
	if len(a.users) > 1 {
		// The members/add action reports each outcome by object id: names
		// are resolved to tell whose outcome it is.
		needs = append(needs, resolveNeeds(a.users...)...)
	}
	s, err := e.open(ctx, &a.f, &a.t, needs...)
	if err != nil {
		return err
	}
	defer s.Close()
	members := a.members(s.know)
	if len(members) > 1 {
		return e.addMembers(ctx, s, a.chatID, members, a.users)
	}
	m := members[0]
	pm := request(policy.ChatTypeGroup, nil, []graphchat.Member{m}).Members[0]
	res := s.know.judgeMember(&pm)
	if !res.Allowed() {
		return res.Violations
	}
	id, err := s.client.AddMember(ctx, a.chatID, m)
	if err != nil {
		return e.failed(ctx, res, err)
	}
	if e.json {
		e.emit(struct {
			*verdictDoc
			Member memberDoc `json:"member"`
		}{newVerdict(res), memberDoc{ChatID: a.chatID, MembershipID: id, User: a.users[0], Role: string(pm.Roles[0])}})
		return nil
	}
	e.printWarnings(res.Warnings)
	fmt.Fprintf(e.stdout, "added %s to %s as %s (membership %s)\n", a.users[0], a.chatID, pm.Roles[0], id)
	return nil
}

// addMemberArgs is what add-member is asked for.
type addMemberArgs struct {
	f       checkFlags
	t       targetFlags
	chatID  string
	role    string    // --role, "" for the kind's
	history string    // all, none, or a time
	from    time.Time // the time of --history
	users   []string
}

// parseAddMember reads add-member's flags and users and refuses
// conflicting or malformed ones. An external user given with --tenant-id
// is added to what --external says.
func (e *env) parseAddMember(args []string) (*addMemberArgs, error) {
	a := &addMemberArgs{}
	fs := newCallFlags("add-member", &a.f, &a.t)
	fs.StringVar(&a.chatID, "chat", "", "the group chat's `ID`, such as 19:…@thread.v2")
	fs.StringVar(&a.role, "role", "", "owner or guest, for every USER (default: guest for a guest, owner otherwise)")
	tenantID := fs.String("tenant-id", "", "the home tenant `ID` of an external user (a GUID; one USER only: else --external)")
	fs.StringVar(&a.history, "history", "none", "history the members see: all, none, or from an RFC 3339 time")
	pos, err := e.parseCall(fs, args, &a.f, &a.t)
	if err != nil {
		return nil, err
	}
	switch {
	case a.chatID == "" || len(pos) == 0:
		return nil, usagef("add-member: want --chat ID and one USER or more")
	case len(pos) > maxAddAtOnce:
		return nil, usagef("add-member: %d users: at most %d can be added at a time", len(pos), maxAddAtOnce)
	case *tenantID != "" && len(pos) > 1:
		return nil, usagef("--tenant-id is for one USER: for several, give --external ID=TENANT for each external user")
	case *tenantID != "" && !policy.IsObjectID(*tenantID):
		return nil, usagef("--tenant-id %q: want the user's home tenant id, a GUID", *tenantID)
	case a.role != "" && a.role != "owner" && a.role != "guest":
		return nil, usagef("--role %q: want owner or guest", a.role)
	}
	if err := checkChatID(a.chatID); err != nil {
		return nil, err
	}
	if len(pos) > 1 {
		if err := checkUsers("add-member", pos); err != nil {
			return nil, err
		}
	}
	switch a.history {
	case "none", "all":
	default:
		if a.from, err = time.Parse(time.RFC3339, a.history); err != nil {
			return nil, usagef("--history %q: want all, none or an RFC 3339 time such as 2026-11-01T00:00:00Z", a.history)
		}
	}
	if *tenantID != "" {
		a.f.externals = append(a.f.externals, pos[0]+"="+*tenantID)
	}
	a.users = pos
	return a, nil
}

// members builds the members to add from what is known of the users, with
// --role and --history.
func (a *addMemberArgs) members(k *knowledge) []graphchat.Member {
	members := make([]graphchat.Member, len(a.users))
	for i, u := range a.users {
		m := k.member(u)
		if a.role != "" {
			m.Role = policy.Role(a.role)
		}
		switch a.history {
		case "all":
			m = m.WithAllHistory()
		case "none":
		default:
			m = m.WithHistory(a.from)
		}
		members[i] = m
	}
	return members
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

// addMembers adds several members to a group chat in one members/add
// request, after the policy allowed every one of them, and prints each
// member's outcome. Any member not added makes the exit code 1.
func (e *env) addMembers(ctx context.Context, s *session, chatID string, members []graphchat.Member, users []string) error {
	res := &policy.Result{}
	for i := range members {
		pm := request(policy.ChatTypeGroup, nil, members[i:i+1]).Members[0]
		r := s.know.judgeMember(&pm)
		for _, v := range r.Violations {
			v.Field = fmt.Sprintf("members[%d]%s", i, strings.TrimPrefix(v.Field, "member"))
			res.Violations = append(res.Violations, v)
		}
		res.Warnings = append(res.Warnings, r.Warnings...)
		if res.Permissions == nil {
			res.Permissions = r.Permissions
		}
	}
	res.Warnings = dedup(res.Warnings)
	if !res.Allowed() {
		return res.Violations
	}
	results, err := s.client.AddMembers(ctx, chatID, members...)
	if err != nil {
		return e.failed(ctx, res, err)
	}
	outcomes := make([]addedDoc, 0, len(results))
	failed := 0
	for _, r := range results {
		d := addedDoc{UserID: r.UserID, MembershipID: r.MembershipID, Added: r.Err == nil}
		if r.Index >= 0 && r.Index < len(users) {
			d.User, d.Role = users[r.Index], string(members[r.Index].Role)
		}
		if r.Err != nil {
			failed++
			d.Error = &memberErrorDoc{Message: redact(r.Err.Error())}
			var me *graphchat.MemberError
			if errors.As(r.Err, &me) {
				d.Error.Code, d.Error.Message = me.Code, redact(me.Message)
			}
		}
		outcomes = append(outcomes, d)
	}
	var fail error
	if failed > 0 {
		fail = fmt.Errorf("add-member: %d of %d members were not added to %s", failed, len(results), chatID)
	}
	if e.json {
		doc := struct {
			*verdictDoc
			ChatID  string     `json:"chatId"`
			Members []addedDoc `json:"members"`
			Error   *errorDoc  `json:"error,omitempty"`
		}{verdictDoc: newVerdict(res), ChatID: chatID, Members: outcomes}
		if fail != nil {
			doc.Error = newErrorDoc(ctx, fail)
		}
		e.emit(doc)
		if fail != nil {
			return reported{fail}
		}
		return nil
	}
	e.printWarnings(res.Warnings)
	for _, d := range outcomes {
		who := d.User
		if who == "" {
			who = d.UserID
		}
		if d.Added {
			fmt.Fprintf(e.stdout, "added %s to %s", who, chatID)
			if d.Role != "" {
				fmt.Fprintf(e.stdout, " as %s", d.Role)
			}
			fmt.Fprintln(e.stdout)
			continue
		}
		fmt.Fprintf(e.stdout, "not added %s: %s: %s\n", who, d.Error.Code, d.Error.Message)
	}
	return fail
}

// addedDoc is one member's outcome in the JSON document of add-member with
// several users.
type addedDoc struct {
	User         string          `json:"user,omitempty"` // as given; absent for a user the service reported that was not asked for
	UserID       string          `json:"userId,omitempty"`
	Role         string          `json:"role,omitempty"`
	MembershipID string          `json:"membershipId,omitempty"`
	Added        bool            `json:"added"`
	Error        *memberErrorDoc `json:"error,omitempty"`
}

// memberErrorDoc is the service's refusal of one member.
type memberErrorDoc struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}
