package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Check applies the create-chat rules to a request and, when c.Grant is set,
// judges the grant for least privilege. It reports every problem at once, in
// input order. A nil request is reported as a violation, not a panic.
//
// Check never modifies r and is safe for concurrent use.
func Check(r *Request, c *Context) *Result {
	if c == nil {
		c = &Context{}
	}
	var k checker
	if r == nil {
		k.violate(CodeMemberCount, "members", "no request given: want a chat type and members")
		return k.result()
	}
	k.violations = append(k.violations, r.problems...)
	k.warnings = append(k.warnings, r.warnings...)
	auth := c.auth()
	if auth != AuthDelegated && auth != AuthApplication {
		k.violate(CodeAuthType, "", fmt.Sprintf("authentication type %q: want %q or %q", auth, AuthDelegated, AuthApplication))
	}

	k.chatType(r)
	k.topic(r)
	k.memberCount(r)
	for i := range r.Members {
		k.member(i, &r.Members[i], c)
	}
	k.duplicates(r)
	if auth == AuthDelegated {
		k.caller(r, c.Caller)
	}
	if r.InstalledApps > MaxInstalledApps {
		k.violate(CodeInstalledApps, "installedApps", fmt.Sprintf("%s: at most %d can be installed when a chat is created", count(r.InstalledApps, "app"), MaxInstalledApps))
	}
	res := k.result()
	if c.Grant != nil {
		g := *c.Grant
		if !slices.Contains(g.Operations, OpCreateChat) {
			g.Operations = append([]Operation{OpCreateChat}, g.Operations...)
		}
		d := Evaluate(auth, g)
		res.Permissions = d
		res.Violations = append(res.Violations, d.Violations...)
		res.Warnings = append(res.Warnings, d.Warnings...)
	}
	return res
}

// CheckMember applies the member rules (roles, kind, tenant, reference) to
// one member being added to an existing group chat, and judges c.Grant for
// the add-member operation. Fields are named "member.roles" and so on.
func CheckMember(m *Member, c *Context) *Result {
	if c == nil {
		c = &Context{}
	}
	var k checker
	if m == nil {
		k.violate(CodeBindMissing, "member", "no member given")
		return k.result()
	}
	if m.User == "" {
		k.violate(CodeBindMissing, "member.user@odata.bind", "missing: want the user's object id or user principal name")
	}
	k.member(-1, m, c)
	res := k.result()
	if c.Grant != nil {
		g := *c.Grant
		if !slices.Contains(g.Operations, OpAddMember) {
			g.Operations = append([]Operation{OpAddMember}, g.Operations...)
		}
		d := Evaluate(c.auth(), g)
		res.Permissions = d
		res.Violations = append(res.Violations, d.Violations...)
		res.Warnings = append(res.Warnings, d.Warnings...)
	}
	return res
}

type checker struct {
	violations, warnings List
}

func (k *checker) violate(code Code, field, msg string) {
	k.violations = append(k.violations, Violation{Code: code, Field: field, Message: msg})
}

func (k *checker) warn(code Code, field, msg string) {
	k.warnings = append(k.warnings, Violation{Code: code, Field: field, Message: msg})
}

// result orders the findings by where they are in the body (stable, so
// findings on one field keep the order the rules produced them).
func (k *checker) result() *Result {
	sortByField(k.violations)
	sortByField(k.warnings)
	return &Result{Violations: k.violations, Warnings: k.warnings}
}

func sortByField(l List) {
	slices.SortStableFunc(l, func(a, b Violation) int {
		ra, ia := fieldRank(a.Field)
		rb, ib := fieldRank(b.Field)
		if ra != rb {
			return ra - rb
		}
		return ia - ib
	})
}

// fieldRank orders fields as a request body is written: the body, chatType,
// topic, members (the list, then each member by index), installedApps.
func fieldRank(field string) (rank, index int) {
	name, rest, _ := strings.Cut(field, "[")
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[:i]
	}
	switch name {
	case "":
		return 0, 0
	case "chatType":
		return 1, 0
	case "topic":
		return 2, 0
	case "members":
		if end := strings.IndexByte(rest, ']'); end > 0 {
			if n, err := strconv.Atoi(rest[:end]); err == nil {
				return 3, n
			}
		}
		return 3, -1
	case "installedApps":
		return 4, 0
	default:
		return 5, 0
	}
}

func (k *checker) chatType(r *Request) {
	switch r.ChatType {
	case ChatTypeOneOnOne, ChatTypeGroup:
	case "":
		k.violate(CodeChatType, "chatType", `missing or empty: want "oneOnOne" or "group"`)
	case ChatTypeMeeting:
		k.violate(CodeChatType, "chatType", `"meeting" chats are created by online meetings, not by POST /chats: want "oneOnOne" or "group"`)
	default:
		k.violate(CodeChatType, "chatType", fmt.Sprintf(`%q: want "oneOnOne" or "group"`, r.ChatType))
	}
}

func (k *checker) topic(r *Request) {
	if r.Topic == nil {
		return
	}
	t := *r.Topic
	if r.ChatType == ChatTypeOneOnOne {
		k.violate(CodeTopicOneOnOne, "topic", "a oneOnOne chat has no topic: remove it or use chatType \"group\"")
	}
	if n := utf8.RuneCountInString(t); n > MaxTopicLength {
		k.violate(CodeTopicLength, "topic", fmt.Sprintf("%d characters: want at most %d", n, MaxTopicLength))
	}
	if i := strings.IndexByte(t, ':'); i >= 0 {
		k.violate(CodeTopicColon, "topic", fmt.Sprintf("contains ':' at character %d: the service does not allow ':' in a topic", utf8.RuneCountInString(t[:i])+1))
	}
}

func (k *checker) memberCount(r *Request) {
	n := len(r.Members)
	switch r.ChatType {
	case ChatTypeOneOnOne:
		if n != OneOnOneMembers {
			k.violate(CodeMemberCount, "members", fmt.Sprintf("%s: a oneOnOne chat has exactly %d, the caller and one other user", count(n, "member"), OneOnOneMembers))
		}
	case ChatTypeGroup:
		switch {
		case n < MinGroupMembers || n > MaxGroupMembers:
			k.violate(CodeMemberCount, "members", fmt.Sprintf("%s: a group chat has %d to %d", count(n, "member"), MinGroupMembers, MaxGroupMembers))
		case n < practicalMinGroup:
			k.warn(CodeSmallGroup, "members", fmt.Sprintf("%d members: the service is reported to refuse adding members later to a group created with %d; create it with at least %d", n, n, practicalMinGroup))
		}
	default:
		if n == 0 {
			k.violate(CodeMemberCount, "members", "no members: list every participant, the caller included")
		}
	}
}

// member applies the member rules to members[index], or to "member" when
// index is negative. Field names are formatted only when a rule fails.
func (k *checker) member(index int, m *Member, c *Context) {
	field := func(name string) string {
		if index < 0 {
			return "member" + name
		}
		return fmt.Sprintf("members[%d]%s", index, name)
	}
	if m.User != "" && !IsUserReference(m.User) {
		k.violate(CodeUserReference, field(".user@odata.bind"), fmt.Sprintf("%q is neither an object id (GUID) nor a user principal name", m.User))
	}

	// Roles.
	var role Role
	switch len(m.Roles) {
	case 1:
		role = m.Roles[0]
		if role != RoleOwner && role != RoleGuest {
			k.violate(CodeRoleValue, field(".roles[0]"), fmt.Sprintf("%q: want \"owner\" or \"guest\"", role))
			role = ""
		}
	case 0:
		k.violate(CodeRoleCount, field(".roles"), `no role: want exactly one, "owner" or "guest"`)
	default:
		k.violate(CodeRoleCount, field(".roles"), fmt.Sprintf("%s: want exactly one, \"owner\" or \"guest\"", count(len(m.Roles), "role")))
	}

	// Kind, from what was declared and the tenant.
	kind := m.Kind
	switch kind {
	case KindUnknown, KindMember, KindGuest, KindExternal:
	default:
		k.violate(CodeKindConflict, field(""), fmt.Sprintf("kind %q: want %q, %q or %q", kind, KindMember, KindGuest, KindExternal))
		return
	}
	otherTenant := m.TenantID != "" && c.TenantID != "" && !strings.EqualFold(m.TenantID, c.TenantID)
	if otherTenant {
		if kind == KindMember || kind == KindGuest {
			k.violate(CodeKindConflict, field(".tenantId"), fmt.Sprintf("tenant %q is not the caller's tenant %q, but the user was declared an in-tenant %s", m.TenantID, c.TenantID, kind))
			return
		}
		kind = KindExternal
	}
	switch kind {
	case KindGuest:
		if role == RoleOwner {
			k.violate(CodeGuestRole, field(".roles"), `an in-tenant guest user must have role "guest", not "owner"`)
		}
	case KindExternal:
		if role == RoleGuest {
			k.violate(CodeExternalRole, field(".roles"), `an external (out-of-tenant) user must have role "owner", not "guest"`)
		}
		switch {
		case m.TenantID == "":
			k.violate(CodeExternalTenant, field(".tenantId"), "missing: an external user must carry the id of its home tenant")
		case c.TenantID != "" && strings.EqualFold(m.TenantID, c.TenantID):
			k.violate(CodeExternalTenant, field(".tenantId"), fmt.Sprintf("%q is the caller's own tenant: an external user carries its home tenant", m.TenantID))
		}
	}
}

func (k *checker) duplicates(r *Request) {
	// Object ids and user principal names both compare case-insensitively.
	seen := make(map[string]int, len(r.Members))
	for i, m := range r.Members {
		if m.User == "" {
			continue
		}
		key := strings.ToLower(m.User)
		if j, ok := seen[key]; ok {
			k.violate(CodeDuplicateMember, fmt.Sprintf("members[%d].user@odata.bind", i), fmt.Sprintf("%q is already members[%d]: list each user once", m.User, j))
			continue
		}
		seen[key] = i
	}
}

func (k *checker) caller(r *Request, who Caller) {
	if who.IsZero() {
		k.warn(CodeCallerUnknown, "members", "delegated call with no caller given: cannot check that the signed-in user is a member")
		return
	}
	for _, m := range r.Members {
		if sameUser(m.User, who.ID) || sameUser(m.User, who.UserPrincipalName) {
			return
		}
	}
	// When the caller is known by one name only and members use the other,
	// the rule cannot be decided: warn instead of rejecting.
	names := []string{}
	for _, s := range []string{who.ID, who.UserPrincipalName} {
		if s != "" {
			names = append(names, strconv.Quote(s))
		}
	}
	decidable := true
	for _, m := range r.Members {
		if (who.ID == "" && IsObjectID(m.User)) || (who.UserPrincipalName == "" && IsUserPrincipalName(m.User)) {
			decidable = false
		}
	}
	msg := fmt.Sprintf("the signed-in user %s is not a member: a delegated request must list its caller", strings.Join(names, " / "))
	if decidable {
		k.violate(CodeCallerMissing, "members", msg)
	} else {
		k.warn(CodeCallerUnknown, "members", msg+" (members use another form of reference, so this may be a false alarm: give the caller's object id and user principal name)")
	}
}

// count writes "1 member", "3 members".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
