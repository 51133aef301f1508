package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Check applies the create-chat rules to a request and, when c.Grant is set,
// judges the grant for least privilege. It reports every problem at once, in
// input order. A nil request is reported as a violation, not a panic.
//
// Each member's kind comes from its declared Kind and HomeTenantID, from
// c.Directory and from its tenantId; contradictions between them are
// kind_conflict (see the package documentation). An empty Member.User is
// user_missing; a user, tenant id or topic that is not valid UTF-8 or holds
// control characters is invalid_text.
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
	if v, bad := authViolation(auth, ""); bad {
		k.add(v)
	}

	k.chatType(r)
	k.topic(r)
	k.memberCount(r)
	for i := range r.Members {
		k.member(i, &r.Members[i], c, i < len(r.userReported) && r.userReported[i])
	}
	k.duplicates(r, c.Directory)
	if auth == AuthDelegated {
		k.caller(r, c.Caller, c.Directory)
	}
	if r.InstalledApps > MaxInstalledApps {
		k.violate(CodeInstalledApps, "installedApps", fmt.Sprintf("%s: at most %d can be installed when a chat is created", count(r.InstalledApps, "app"), MaxInstalledApps))
	}
	return k.result().addGrant(c, OpCreateChat, true)
}

// CheckMember applies the member rules (roles, kind, tenant, reference,
// text, and the knowledge of c.Directory, as Check does) to one member being
// added to an existing group chat, and judges c.Grant for the add-member
// operation. Fields are named "member.roles" and so on. An empty User is
// user_missing (it was bind_missing before).
func CheckMember(m *Member, c *Context) *Result {
	if c == nil {
		c = &Context{}
	}
	var k checker
	if m == nil {
		k.violate(CodeBindMissing, "member", "no member given")
		return k.result()
	}
	k.member(-1, m, c, false)
	return k.result().addGrant(c, OpAddMember, true)
}

// addGrant judges c.Grant, when set, for op and the grant's other
// operations, and adds the decision to res. op is put first when the grant
// does not declare it; when op is not available for the auth type (refused
// already, with what to do instead), it is taken out.
func (res *Result) addGrant(c *Context, op Operation, available bool) *Result {
	if c.Grant == nil {
		return res
	}
	g := *c.Grant
	g.Operations = slices.DeleteFunc(slices.Clone(g.Operations), func(o Operation) bool { return !available && o == op })
	if available && !slices.Contains(g.Operations, op) {
		g.Operations = append([]Operation{op}, g.Operations...)
	}
	d := Evaluate(c.auth(), g)
	res.Permissions = d
	res.Violations = append(res.Violations, d.Violations...)
	res.Warnings = append(res.Warnings, d.Warnings...)
	return res
}

type checker struct {
	violations, warnings List
}

func (k *checker) add(v Violation) { k.violations = append(k.violations, v) }

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
	if !validText(t) {
		k.violate(CodeInvalidText, "topic", textProblem(t)+": the service would store another text than the one checked")
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
// userReported is true when parsing already reported the member's user.
func (k *checker) member(index int, m *Member, c *Context, userReported bool) {
	field := func(name string) string {
		if index < 0 {
			return "member" + name
		}
		return fmt.Sprintf("members[%d]%s", index, name)
	}
	switch {
	case userReported:
	case m.User == "":
		k.violate(CodeUserMissing, field(".user@odata.bind"), "empty user: want the user's object id or user principal name")
	case !validText(m.User):
		k.violate(CodeInvalidText, field(".user@odata.bind"), fmt.Sprintf("%+q: %s", truncate(m.User, 200), textProblem(m.User)))
	case !IsUserReference(m.User):
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

	// Text of the tenants: a tenant that would be stored or compared
	// differently decides nothing.
	if m.TenantID != "" && !validText(m.TenantID) {
		k.violate(CodeInvalidText, field(".tenantId"), fmt.Sprintf("%+q: %s", truncate(m.TenantID, 200), textProblem(m.TenantID)))
		return
	}
	if m.HomeTenantID != "" && !validText(m.HomeTenantID) {
		k.violate(CodeInvalidText, field(""), fmt.Sprintf("declared home tenant %+q: %s", truncate(m.HomeTenantID, 200), textProblem(m.HomeTenantID)))
		return
	}

	kind, ok := k.kind(m, c, field)
	if !ok {
		return
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
	}
}

// kind works out the member's kind from what is declared (Kind,
// HomeTenantID), what the directory knows, the tenantId sent and the
// caller's tenant, reporting any contradiction between them and the tenant
// rules of external users. ok is false when a contradiction was reported:
// the role rules that depend on the kind are then not applied.
func (k *checker) kind(m *Member, c *Context, field func(string) string) (kind Kind, ok bool) {
	kind = m.Kind
	switch kind {
	case KindUnknown, KindMember, KindGuest, KindExternal:
	default:
		k.violate(CodeKindConflict, field(""), fmt.Sprintf("kind %q: want %q, %q or %q", kind, KindMember, KindGuest, KindExternal))
		return "", false
	}
	tenant := c.TenantID
	home := m.HomeTenantID
	if differ(home, tenant) {
		if kind == KindMember || kind == KindGuest {
			k.violate(CodeKindConflict, field(""), fmt.Sprintf("declared an in-tenant %s, but its declared home tenant %q is not the caller's tenant %q", kind, home, tenant))
			return "", false
		}
		kind = KindExternal
	}
	if u, found := c.Directory.Lookup(m.User); found {
		known := u.kindIn(tenant)
		if kind != KindUnknown && known != KindUnknown && kind != known {
			k.violate(CodeKindConflict, field(""), fmt.Sprintf("declared %s, but the directory knows %q as %s", describeKind(kind), m.User, describeKind(known)))
			return "", false
		}
		if differ(home, u.HomeTenantID) {
			k.violate(CodeKindConflict, field(""), fmt.Sprintf("declared home tenant %q, but the directory gives %q", home, u.HomeTenantID))
			return "", false
		}
		if kind == KindUnknown {
			kind = known
		}
		if home == "" {
			home = u.HomeTenantID
		}
	}
	if differ(m.TenantID, home) {
		k.violate(CodeKindConflict, field(".tenantId"), fmt.Sprintf("%q, but the user's home tenant is %q", m.TenantID, home))
		return "", false
	}
	if differ(m.TenantID, tenant) {
		if kind == KindMember || kind == KindGuest {
			k.violate(CodeKindConflict, field(".tenantId"), fmt.Sprintf("tenant %q is not the caller's tenant %q, but the user is %s", m.TenantID, tenant, describeKind(kind)))
			return "", false
		}
		kind = KindExternal
	}
	if kind != KindExternal {
		return kind, true
	}
	switch {
	case home != "" && tenant != "" && strings.EqualFold(home, tenant):
		k.violate(CodeExternalTenant, field(".tenantId"), fmt.Sprintf("the home tenant of this external user is %q, the caller's own tenant: an external user belongs to another tenant", home))
	case m.TenantID == "" && home != "":
		k.violate(CodeExternalTenant, field(".tenantId"), fmt.Sprintf("missing: an external user must carry the id of its home tenant, %q", home))
	case m.TenantID == "":
		k.violate(CodeExternalTenant, field(".tenantId"), "missing: an external user must carry the id of its home tenant")
	case tenant != "" && strings.EqualFold(m.TenantID, tenant):
		k.violate(CodeExternalTenant, field(".tenantId"), fmt.Sprintf("%q is the caller's own tenant: an external user carries its home tenant", m.TenantID))
	}
	return kind, true
}

// differ reports whether two tenant ids are both known and differ.
func differ(a, b string) bool { return a != "" && b != "" && !strings.EqualFold(a, b) }

func describeKind(k Kind) string {
	switch k {
	case KindMember:
		return "an in-tenant member"
	case KindGuest:
		return "an in-tenant guest"
	case KindExternal:
		return "an external user"
	}
	return "of unknown kind"
}

func (k *checker) duplicates(r *Request, d *Directory) {
	// Object ids and user principal names both compare case-insensitively;
	// a user the directory knows is compared by its object id, so that the
	// same user given by id and by user principal name is found.
	seen := make(map[string]int, len(r.Members))
	for i, m := range r.Members {
		if m.User == "" {
			continue
		}
		key := m.User
		if u, ok := d.Lookup(m.User); ok && u.ID != "" {
			key = u.ID
		}
		key = strings.ToLower(key)
		if j, ok := seen[key]; ok {
			also := ""
			if !strings.EqualFold(m.User, r.Members[j].User) {
				also = fmt.Sprintf(" (%q, the same user in the directory)", r.Members[j].User)
			}
			k.violate(CodeDuplicateMember, fmt.Sprintf("members[%d].user@odata.bind", i), fmt.Sprintf("%q is already members[%d]%s: list each user once", m.User, j, also))
			continue
		}
		seen[key] = i
	}
}

func (k *checker) caller(r *Request, who Caller, d *Directory) {
	if who.IsZero() {
		k.warn(CodeCallerUnknown, "members", "delegated call with no caller given: cannot check that the signed-in user is a member")
		return
	}
	// The directory may know the caller's other name.
	if u, ok := d.Lookup(who.ID); ok && who.UserPrincipalName == "" {
		who.UserPrincipalName = u.UserPrincipalName
	} else if u, ok := d.Lookup(who.UserPrincipalName); ok && who.ID == "" {
		who.ID = u.ID
	}
	for _, m := range r.Members {
		if sameUser(m.User, who.ID) || sameUser(m.User, who.UserPrincipalName) {
			return
		}
		if u, ok := d.Lookup(m.User); ok && (sameUser(u.ID, who.ID) || sameUser(u.UserPrincipalName, who.UserPrincipalName)) {
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
		u, _ := d.Lookup(m.User)
		if (who.ID == "" && IsObjectID(m.User) && u.UserPrincipalName == "") || (who.UserPrincipalName == "" && IsUserPrincipalName(m.User) && u.ID == "") {
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

// validText reports whether s is valid UTF-8 without control characters
// (U+0000 to U+001F, U+007F to U+009F), the text the service stores as sent.
func validText(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || unicode.IsControl(r) {
			return false
		}
		i += n
	}
	return true
}

// textProblem describes why s is not valid text: where the first invalid
// byte or control character is, counted in characters from 1.
func textProblem(s string) string {
	chars := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		chars++
		switch {
		case r == utf8.RuneError && n == 1:
			return fmt.Sprintf("not valid UTF-8 (byte 0x%02X at character %d)", s[i], chars)
		case unicode.IsControl(r):
			return fmt.Sprintf("control character %U at character %d", r, chars)
		}
		i += n
	}
	return "valid text"
}
