package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// checkFlags describe the call and what is known of its users.
type checkFlags struct {
	auth, tenant, caller, scopes, token string
	guests, externals                   listFlag
	directory                           string
	strict, json                        bool
	set                                 map[string]bool // flags given on the command line
}

func (f *checkFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.auth, "auth", "delegated", "authentication type: delegated or application")
	fs.StringVar(&f.tenant, "tenant", "", "the caller's tenant `ID` (a GUID)")
	fs.StringVar(&f.caller, "caller", "", "the signed-in user, by object `ID or UPN` (delegated)")
	fs.StringVar(&f.scopes, "scopes", "", "granted `permissions`, space- or comma-separated: scopes (delegated) or roles (application)")
	fs.StringVar(&f.token, "token", "", "an access `JWT` giving auth, tenant, caller and scopes (read, not verified)")
	fs.Var(&f.guests, "guest", "a member known to be an in-tenant guest, by `ID or UPN` (repeatable)")
	fs.Var(&f.externals, "external", "a member known to be external, as `ID=TENANT` (repeatable)")
	fs.StringVar(&f.directory, "directory", "", "JSON `file` of users: id, userPrincipalName, userType and, for other tenants, tenantId")
	fs.BoolVar(&f.strict, "strict", false, "treat permissions more privileged than needed as violations")
	fs.BoolVar(&f.json, "json", false, "print one JSON object")
}

func (f *checkFlags) visit(fs *flag.FlagSet) {
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
}

func (f *checkFlags) mode() policy.Mode {
	if f.strict {
		return policy.ModeStrict
	}
	return policy.ModeWarn
}

// check validates the flags' values, naming the flag at fault.
func (f *checkFlags) check() error {
	if f.token != "" {
		for _, name := range []string{"auth", "scopes", "caller", "tenant"} {
			if f.set[name] {
				return usagef("--token and --%s conflict: the token gives auth, scopes, caller and tenant", name)
			}
		}
	}
	if f.set["token"] && f.token == "" {
		return usagef("--token is empty: want an access token (demo token mints one for the emulator)")
	}
	if err := policy.AuthType(f.auth).Validate(); err != nil {
		return usagef("--auth: %v", err)
	}
	if f.tenant != "" && !policy.IsObjectID(f.tenant) {
		return usagef("--tenant %q: want the tenant's id, a GUID such as %s", f.tenant, graphchattest.DefaultTenantID)
	}
	if f.caller != "" {
		if policy.AuthType(f.auth) == policy.AuthApplication {
			return usagef("--caller is for delegated calls: an application call has no signed-in user")
		}
		if !policy.IsUserReference(f.caller) {
			return usagef("--caller %q: want an object id (GUID) or a user principal name (name@domain)", f.caller)
		}
	}
	if f.set["caller"] && f.caller == "" {
		return usagef("--caller is empty: want an object id or a user principal name")
	}
	for _, g := range f.guests {
		if !policy.IsUserReference(g) {
			return usagef("--guest %q: want an object id (GUID) or a user principal name (name@domain)", g)
		}
	}
	for _, x := range f.externals {
		user, tenant, ok := strings.Cut(x, "=")
		if !ok || !policy.IsUserReference(user) || !policy.IsObjectID(tenant) {
			return usagef("--external %q: want ID=TENANT, the user (object id or user principal name) and its home tenant's id", x)
		}
	}
	return nil
}

// knowledge is everything the program knows of the calls a command makes:
// who calls, from which tenant, with which grant, and (Context.Directory)
// what each user is. It is built once per command by know, and validate,
// create, add-member and bulk judge with it the same way: the rules are the
// policy's, the demo only gathers what is known.
type knowledge struct {
	pc *policy.Context
	// token is what is sent to an emulator target: the --token given, or
	// one minted from the flags. Never printed.
	token string
	// emulator is the embedded emulator's directory (--target emulator).
	emulator []graphchattest.User
}

// known is what one source says of a user, before the directory is made.
type known struct {
	policy.User
	source string // such as "--guest" or "the --directory file"
}

// defaultCaller is the signed-in user of an emulator target when neither
// --token nor --caller says who calls.
const defaultCaller = "megan@contoso.com"

// know builds the one context of a command from everything it was given:
// the token (--token, or the claims of a Microsoft Graph sign-in), the flags
// (--auth, --tenant, --caller, --scopes, --guest, --external), the
// --directory file, and the emulator's directory when the target is the
// embedded emulator. For an emulator target without --token, it mints the
// token the requests will carry, from the same flags, so that what is
// judged here is what the target is told.
func (e *env) know(ctx context.Context, f *checkFlags, t *targetFlags, claims *policy.Claims, ops []policy.Operation) (*knowledge, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	k := &knowledge{}
	var fileUsers []dirUser
	if f.directory != "" {
		var err error
		if fileUsers, err = e.readDirectory(ctx, f.directory); err != nil {
			return nil, err
		}
	}
	dir, source := fileUsers, "the --directory file"
	if t != nil && t.target == "emulator" {
		if fileUsers != nil {
			k.emulator = emulatorUsers(fileUsers)
		} else {
			k.emulator = graphchattest.DefaultUsers()
			dir, source = fromEmulator(k.emulator), "the emulator's directory"
		}
	}
	claims, err := k.readToken(f, t, claims, dir, ops)
	if err != nil {
		return nil, err
	}
	k.pc = callContext(f, claims, ops)
	if k.pc.Directory, err = knownUsers(f, dir, source); err != nil {
		return nil, err
	}
	return k, nil
}

// readToken returns the claims the call is judged with: those of --token,
// or for an emulator target without one, those of the token minted for it
// (k.token is the token, either way); otherwise the claims given (of a
// Microsoft Graph sign-in), or nil. dir is the directory the caller of a
// minted token is looked up in.
func (k *knowledge) readToken(f *checkFlags, t *targetFlags, claims *policy.Claims, dir []dirUser, ops []policy.Operation) (*policy.Claims, error) {
	switch {
	case f.token != "":
		if t != nil && t.target == "graph" {
			return nil, usagef("--token is for emulator targets; --target graph signs in through azidentity")
		}
		c, err := policy.ParseToken(f.token)
		if err != nil {
			return nil, authf(err, "--token: %v", err)
		}
		k.token = f.token
		return c, nil
	case claims == nil && t != nil && t.isEmulator():
		who := dir
		if len(who) == 0 {
			// A running emulator started without --directory has the
			// built-in one: the caller is looked up there, and nothing
			// more is assumed of its users.
			who = fromEmulator(graphchattest.DefaultUsers())
		}
		tok, c, err := mintFor(f, who, ops)
		if err != nil {
			return nil, err
		}
		k.token = tok
		return c, nil
	}
	return claims, nil
}

// callContext is the policy's context of the calls: from the token's
// claims when there are some, else from --auth, --tenant, --caller and
// --scopes. Its directory is left to knownUsers.
func callContext(f *checkFlags, claims *policy.Claims, ops []policy.Operation) *policy.Context {
	if claims != nil {
		return claims.Context(f.mode(), ops...)
	}
	pc := &policy.Context{Auth: policy.AuthType(f.auth), TenantID: f.tenant}
	if f.caller != "" {
		if policy.IsObjectID(f.caller) {
			pc.Caller.ID = f.caller
		} else {
			pc.Caller.UserPrincipalName = f.caller
		}
	}
	if f.set["scopes"] {
		pc.Grant = &policy.Grant{Permissions: policy.SplitPermissions(f.scopes), Operations: ops, Mode: f.mode()}
	}
	return pc
}

// knownUsers is the policy's directory: the users of dir (which source
// names in messages) with what --guest and --external add, which must agree
// with it.
func knownUsers(f *checkFlags, dir []dirUser, source string) (*policy.Directory, error) {
	var users []known
	for _, u := range dir {
		kind := policy.KindMember
		if u.UserType == "Guest" {
			kind = policy.KindGuest
		}
		users = append(users, known{policy.User{ID: u.ID, UserPrincipalName: u.UserPrincipalName, Kind: kind, HomeTenantID: u.TenantID}, source})
	}
	var err error
	for _, g := range f.guests {
		if users, err = addKnown(users, known{userRef(g, policy.KindGuest, ""), "--guest"}); err != nil {
			return nil, err
		}
	}
	for _, x := range f.externals {
		user, tenant, _ := strings.Cut(x, "=")
		if users, err = addKnown(users, known{userRef(user, policy.KindExternal, tenant), "--external"}); err != nil {
			return nil, err
		}
	}
	list := make([]policy.User, len(users))
	for i, u := range users {
		list[i] = u.User
	}
	d, err := policy.NewDirectory(list...)
	if err != nil {
		return nil, usagef("what is known of the users contradicts itself: %v", err)
	}
	return d, nil
}

func userRef(ref string, kind policy.Kind, home string) policy.User {
	if policy.IsObjectID(ref) {
		return policy.User{ID: ref, Kind: kind, HomeTenantID: home}
	}
	return policy.User{UserPrincipalName: ref, Kind: kind, HomeTenantID: home}
}

// addKnown adds what a flag says of a user. When a directory already knows
// the user, the flag must agree with it (a guest there, or the same home
// tenant for an external user), and adds nothing.
func addKnown(users []known, n known) ([]known, error) {
	for _, u := range users {
		if !sameRef(u.User, n.ID) && !sameRef(u.User, n.UserPrincipalName) {
			continue
		}
		agree := u.Kind == n.Kind && strings.EqualFold(u.HomeTenantID, n.HomeTenantID)
		if n.Kind == policy.KindExternal {
			agree = u.HomeTenantID != "" && strings.EqualFold(u.HomeTenantID, n.HomeTenantID)
		}
		if !agree {
			return nil, usagef("%s %s contradicts %s, which has the user as %s", n.source, n.ID+n.UserPrincipalName, u.source, describeKnown(u.User))
		}
		return users, nil
	}
	return append(users, n), nil
}

func sameRef(u policy.User, ref string) bool {
	return ref != "" && (strings.EqualFold(u.ID, ref) || strings.EqualFold(u.UserPrincipalName, ref))
}

func describeKnown(u policy.User) string {
	s := string(u.Kind)
	if s == "" {
		s = "of unknown kind"
	}
	if u.HomeTenantID != "" {
		s += " of tenant " + u.HomeTenantID
	}
	return s
}

// member builds the member to send for a user given on the command line,
// from what is known of it: a known guest gets the guest role, a user whose
// home tenant is known carries it as tenantId. Its kind is left for the
// policy to take from the directory, so that what is sent is what is judged.
func (k *knowledge) member(user string) graphchat.Member {
	m := graphchat.Member{User: user, Role: policy.RoleOwner}
	if u, ok := k.pc.Directory.Lookup(user); ok {
		if u.Kind == policy.KindGuest {
			m.Role = policy.RoleGuest
		}
		m.TenantID = u.HomeTenantID
	}
	return m
}

// judge is the policy's verdict on a request with what is known: the one
// judgement validate prints and create, add-member and bulk apply before
// sending anything.
func (k *knowledge) judge(req *policy.Request) *policy.Result { return policy.Check(req, k.pc) }

// judgeGranted is judge after the preflight (see openJudging): when the
// preflight refused the grant (denied), the grant's violations are the
// preflight's, which say what to do instead, after the request's own; the
// warnings and the permissions decision are judge's.
func (k *knowledge) judgeGranted(req *policy.Request, denied policy.List) *policy.Result {
	res := k.judge(req)
	if denied == nil {
		return res
	}
	pc := *k.pc
	pc.Grant = nil
	res.Violations = append(policy.Check(req, &pc).Violations, denied...)
	return res
}

// judgeMember is judge for a member added to an existing chat.
func (k *knowledge) judgeMember(m *policy.Member) *policy.Result { return policy.CheckMember(m, k.pc) }

// request is the policy's view of a chat built from members given on the
// command line: what graphchat will send for them.
func request(typ policy.ChatType, topic *string, members []graphchat.Member) *policy.Request {
	req := &policy.Request{ChatType: typ, Topic: topic}
	for _, m := range members {
		role := m.Role
		if role == "" {
			role = policy.RoleOwner
			if m.Kind == policy.KindGuest {
				role = policy.RoleGuest
			}
		}
		req.Members = append(req.Members, policy.Member{User: m.User, Roles: []policy.Role{role}, TenantID: m.TenantID, Kind: m.Kind})
	}
	return req
}

// mintFor makes the token an emulator target gets when no --token is given:
// for the caller (default megan@contoso.com) as the directory knows it, of
// the given tenant (default the emulator's), with the given scopes or the
// least-privileged ones for the operations.
func mintFor(f *checkFlags, dir []dirUser, ops []policy.Operation) (string, *policy.Claims, error) {
	auth := policy.AuthType(f.auth)
	perms := policy.SplitPermissions(f.scopes)
	if !f.set["scopes"] {
		var err error
		if perms, err = policy.Minimal(auth, ops...); err != nil {
			return "", nil, usagef("%v", err)
		}
	}
	tenant := f.tenant
	if tenant == "" {
		tenant = graphchattest.DefaultTenantID
	}
	c := graphchattest.Claims{TenantID: tenant}
	if auth == policy.AuthApplication {
		c.Roles, c.ObjectID, c.IDType = perms, appObjectID, "app"
	} else {
		who := f.caller
		if who == "" {
			who = defaultCaller
		}
		c.Scopes = strings.Join(perms, " ")
		for _, u := range dir {
			if strings.EqualFold(u.ID, who) || strings.EqualFold(u.UserPrincipalName, who) {
				c.ObjectID, c.UserPrincipalName = u.ID, u.UserPrincipalName
			}
		}
		if c.ObjectID == "" {
			return "", nil, usagef("--caller %q is not in the emulator's directory (give --directory, or --token)", who)
		}
	}
	tok := graphchattest.Token(c)
	claims, err := policy.ParseToken(tok)
	if err != nil {
		return "", nil, err
	}
	return tok, claims, nil
}

// appObjectID is the service principal of app-only emulator tokens.
const appObjectID = "9d3f1c1e-0000-4000-8000-0000000000a1"

// tokenExpiry reads a token's exp claim; ok is false when it has none.
// Like every claim here, it is read, not verified.
func tokenExpiry(tok string) (exp time.Time, ok bool) {
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var c struct {
		Exp *json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Exp == nil {
		return time.Time{}, false
	}
	sec, err := c.Exp.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(sec), 0), true
}

// verdictDoc is the policy's verdict in JSON documents.
type verdictDoc struct {
	Allowed     bool             `json:"allowed"`
	Violations  policy.List      `json:"violations"`
	Warnings    policy.List      `json:"warnings"`
	Permissions *policy.Decision `json:"permissions,omitempty"`
}

func newVerdict(res *policy.Result) *verdictDoc {
	return &verdictDoc{res.Allowed(), res.Violations, res.Warnings, res.Permissions}
}

// refusedBefore heads the verdict of a command the policy refused before
// sending anything.
const refusedBefore = "refused by the policy before anything was sent"

// printVerdict prints a verdict in text: the verdict and its violations on
// standard output, warnings on standard error; with --json, the verdict
// document. refused heads a refusal, such as "refused".
func (e *env) printVerdict(res *policy.Result, refused string) {
	if e.json {
		e.emit(newVerdict(res))
		return
	}
	w := e.stdout
	if res.Allowed() {
		fmt.Fprint(w, "allowed")
	} else {
		fmt.Fprintf(w, "%s: %d violation%s", refused, len(res.Violations), plural(len(res.Violations)))
	}
	if n := len(res.Warnings); n > 0 {
		fmt.Fprintf(w, " (%d warning%s on standard error)", n, plural(n))
	}
	fmt.Fprintln(w)
	// Violations and warnings share their columns: on a terminal, where
	// both streams show, they line up.
	cols := columnsOf(res.Violations, res.Warnings)
	cols.print(w, "violation", res.Violations)
	cols.print(e.stderr, "warning", res.Warnings)
	if d := res.Permissions; d != nil {
		printDecision(w, d)
	}
}

// printWarnings prints warnings on standard error (text mode).
func (e *env) printWarnings(l policy.List) {
	if e.json {
		return
	}
	columnsOf(l).print(e.stderr, "warning", l)
}

// findingColumns are the widths of the code and field columns of printed
// findings (violations and warnings): the widest of the rows, so that every
// row's message starts in the same column.
type findingColumns struct{ code, field int }

// columnsOf fits the columns to the findings of every list.
func columnsOf(lists ...policy.List) findingColumns {
	var c findingColumns
	for _, l := range lists {
		for _, v := range l {
			c.code = max(c.code, utf8.RuneCountInString(string(v.Code)))
			c.field = max(c.field, utf8.RuneCountInString(orBody(v.Field)))
		}
	}
	return c
}

// print writes one row per finding: kind ("violation" or "warning"), code,
// field and message, two spaces at least between columns.
func (c findingColumns) print(w io.Writer, kind string, l policy.List) {
	for _, v := range l {
		fmt.Fprintf(w, "  %-9s  %s  %s  %s\n", kind, pad(string(v.Code), c.code), pad(orBody(v.Field), c.field), v.Message)
	}
}

// pad fills s with spaces to width characters.
func pad(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s)))
}

func printDecision(w io.Writer, d *policy.Decision) {
	fmt.Fprintf(w, "permissions (%s, %s mode): least privileged %s\n", d.Auth, d.Mode, strings.Join(d.Minimal, " "))
	for _, o := range d.Operations {
		by := o.AllowedBy
		if by == "" {
			by = "nothing granted"
		}
		fmt.Fprintf(w, "  %-14s allowed by %s\n", o.Operation, by)
	}
	if len(d.Excess) > 0 {
		fmt.Fprintf(w, "  more than needed: %s\n", strings.Join(d.Excess, " "))
	}
	if len(d.Unrelated) > 0 {
		fmt.Fprintf(w, "  not judged (not chat permissions): %s\n", strings.Join(d.Unrelated, " "))
	}
}

func orBody(field string) string {
	if field == "" {
		return "(body)"
	}
	return field
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
