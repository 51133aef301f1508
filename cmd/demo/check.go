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
	if a := policy.AuthType(f.auth); a != policy.AuthDelegated && a != policy.AuthApplication {
		return usagef("--auth %q: want delegated or application", f.auth)
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
// who calls, from which tenant, with which grant (Context), and what each
// user is (users). It is built once per command by know, and validate,
// create, add-member and bulk judge with it the same way.
type knowledge struct {
	pc    *policy.Context
	users []knownUser
	// token is what is sent to an emulator target: the --token given, or
	// one minted from the flags. Never printed.
	token string
	// emulator is the embedded emulator's directory (--target emulator).
	emulator []graphchattest.User
}

// knownUser is what is known of one user, and where it comes from.
type knownUser struct {
	ID, UserPrincipalName string
	Kind                  policy.Kind
	HomeTenantID          string
	source                string // such as "--guest" or "the --directory file"
}

func (u knownUser) is(ref string) bool {
	return ref != "" && (strings.EqualFold(u.ID, ref) || strings.EqualFold(u.UserPrincipalName, ref))
}

// defaultCaller is the signed-in user of an emulator target when neither
// --token nor --caller says who calls.
const defaultCaller = "megan@contoso.com"

// know builds the one context of a command from everything it was given:
// the token (--token, or claims of a Microsoft Graph sign-in), the flags
// (--auth, --tenant, --caller, --scopes, --guest, --external), the
// --directory file and the emulator's directory when the target is the
// embedded emulator. For an emulator target without --token, it mints the
// token the requests will carry, from the same context.
func (e *env) know(ctx context.Context, f *checkFlags, t *targetFlags, claims *policy.Claims, ops []policy.Operation) (*knowledge, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	k := &knowledge{}
	var fileUsers []dirUser
	if f.directory != "" {
		data, err := e.readInput(ctx, "--directory", f.directory, maxDirectory)
		if err != nil {
			return nil, err
		}
		if fileUsers, err = parseDirectory(data); err != nil {
			return nil, usagef("--directory %s: %v", f.directory, err)
		}
	}
	emulatorTarget := t != nil && t.isEmulator()
	var dir []dirUser // the directory of the call's tenant
	switch {
	case t != nil && t.target == "emulator":
		if fileUsers != nil {
			k.emulator = emulatorUsers(fileUsers)
		} else {
			k.emulator = graphchattest.DefaultUsers()
		}
		dir = fromEmulator(k.emulator, graphchattest.DefaultTenantID)
	case emulatorTarget:
		// A running emulator's directory is known only from --directory,
		// which is what it was started with; its tenant is the default one.
		dir = fromEmulator(emulatorUsers(fileUsers), graphchattest.DefaultTenantID)
	default:
		dir = fileUsers
	}

	switch {
	case f.token != "":
		if t != nil && t.target == "graph" {
			return nil, usagef("--token is for emulator targets; --target graph signs in through azidentity")
		}
		c, err := policy.ParseToken(f.token)
		if err != nil {
			return nil, authf(err, "--token: %v", err)
		}
		claims, k.token = c, f.token
	case claims == nil && emulatorTarget:
		who := dir
		if len(who) == 0 {
			// A running emulator started without --directory has the
			// built-in one: the caller is looked up there, and nothing
			// more is assumed of its users.
			who = fromEmulator(graphchattest.DefaultUsers(), graphchattest.DefaultTenantID)
		}
		tok, c, err := mintFor(f, who, ops)
		if err != nil {
			return nil, err
		}
		claims, k.token = c, tok
	}
	if claims != nil {
		k.pc = claims.Context(f.mode(), ops...)
	} else {
		k.pc = &policy.Context{Auth: policy.AuthType(f.auth), TenantID: f.tenant}
		if f.caller != "" {
			if policy.IsObjectID(f.caller) {
				k.pc.Caller.ID = f.caller
			} else {
				k.pc.Caller.UserPrincipalName = f.caller
			}
		}
		if f.set["scopes"] {
			k.pc.Grant = &policy.Grant{Permissions: policy.SplitPermissions(f.scopes), Operations: ops, Mode: f.mode()}
		}
	}

	source := "the emulator's directory"
	if f.directory != "" {
		source = "the --directory file"
	}
	for _, u := range dir {
		ku := knownUser{ID: u.ID, UserPrincipalName: u.UserPrincipalName, HomeTenantID: u.TenantID, Kind: policy.KindMember, source: source}
		switch {
		case u.TenantID != "" && k.pc.TenantID != "" && !strings.EqualFold(u.TenantID, k.pc.TenantID):
			ku.Kind = policy.KindExternal
		case u.TenantID != "" && k.pc.TenantID == "":
			ku.Kind = policy.KindUnknown // another tenant or not: the caller's tenant is not known
		case u.UserType == "Guest":
			ku.Kind = policy.KindGuest
		}
		k.users = append(k.users, ku)
	}
	for _, g := range f.guests {
		if err := k.add(knownUser{ID: g, Kind: policy.KindGuest, source: "--guest"}); err != nil {
			return nil, err
		}
	}
	for _, x := range f.externals {
		user, tenant, _ := strings.Cut(x, "=")
		if err := k.add(knownUser{ID: user, Kind: policy.KindExternal, HomeTenantID: tenant, source: "--external"}); err != nil {
			return nil, err
		}
	}
	// The caller, given by id or by name, is both when the directory knows it.
	if c := &k.pc.Caller; !c.IsZero() {
		for _, u := range k.users {
			if u.is(c.ID) || u.is(c.UserPrincipalName) {
				if c.ID == "" && policy.IsObjectID(u.ID) {
					c.ID = u.ID
				}
				if c.UserPrincipalName == "" {
					c.UserPrincipalName = u.UserPrincipalName
				}
			}
		}
	}
	return k, nil
}

// add adds what a flag says of a user; it must agree with the directory.
func (k *knowledge) add(n knownUser) error {
	if !policy.IsObjectID(n.ID) {
		n.UserPrincipalName, n.ID = n.ID, ""
	}
	for _, u := range k.users {
		if !u.is(n.ID) && !u.is(n.UserPrincipalName) {
			continue
		}
		if u.Kind != n.Kind && u.Kind != policy.KindUnknown || n.Kind == policy.KindExternal && u.HomeTenantID != "" && !strings.EqualFold(u.HomeTenantID, n.HomeTenantID) {
			return usagef("%s %s contradicts %s, which has the user as %s", n.source, n.ID+n.UserPrincipalName, u.source, describeKind(u))
		}
	}
	k.users = append([]knownUser{n}, k.users...)
	return nil
}

func describeKind(u knownUser) string {
	switch u.Kind {
	case policy.KindExternal:
		return "external (home tenant " + u.HomeTenantID + ")"
	case policy.KindGuest:
		return "a guest"
	case policy.KindMember:
		return "a member"
	}
	return "of another tenant (" + u.HomeTenantID + ")"
}

// lookup returns what is known of a user.
func (k *knowledge) lookup(ref string) (knownUser, bool) {
	for _, u := range k.users {
		if u.is(ref) {
			return u, true
		}
	}
	return knownUser{}, false
}

// member builds a graphchat member from what is known of the user.
func (k *knowledge) member(user string) graphchat.Member {
	u, ok := k.lookup(user)
	switch {
	case !ok || u.Kind == policy.KindUnknown:
		return graphchat.Member{User: user}
	case u.Kind == policy.KindGuest:
		return graphchat.Guest(user)
	case u.Kind == policy.KindExternal:
		return graphchat.External(user, u.HomeTenantID)
	}
	return graphchat.User(user)
}

// apply sets the members' kinds from what is known, and reports a member
// whose tenantId contradicts the home tenant known for it.
func (k *knowledge) apply(members []policy.Member, field func(i int) string) policy.List {
	var extra policy.List
	for i := range members {
		m := &members[i]
		u, ok := k.lookup(m.User)
		if !ok || u.Kind == policy.KindUnknown {
			continue
		}
		m.Kind = u.Kind
		if u.Kind == policy.KindExternal && m.TenantID != "" && !strings.EqualFold(m.TenantID, u.HomeTenantID) {
			extra = append(extra, policy.Violation{Code: policy.CodeKindConflict, Field: field(i),
				Message: fmt.Sprintf("%q, but the user's home tenant is %q", m.TenantID, u.HomeTenantID)})
		}
	}
	return extra
}

// judge is the policy's verdict on a request with what is known: the one
// judgement validate prints and create, add-member and bulk apply before
// sending anything.
func (k *knowledge) judge(req *policy.Request) *policy.Result {
	extra := k.apply(req.Members, func(i int) string { return fmt.Sprintf("members[%d].tenantId", i) })
	res := policy.Check(req, k.pc)
	res.Violations = append(res.Violations, extra...)
	return res
}

// judgeMember is judge for a member added to an existing chat.
func (k *knowledge) judgeMember(m *policy.Member) *policy.Result {
	ms := []policy.Member{*m}
	extra := k.apply(ms, func(int) string { return "member.tenantId" })
	*m = ms[0]
	res := policy.CheckMember(m, k.pc)
	res.Violations = append(res.Violations, extra...)
	return res
}

// kinds maps a request's members to what is known of them, for
// graphchat.CreateOptions.
func (k *knowledge) kinds(req *policy.Request) map[string]policy.Kind {
	out := map[string]policy.Kind{}
	for _, m := range req.Members {
		if m.Kind != policy.KindUnknown {
			out[m.User] = m.Kind
		}
	}
	return out
}

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
	return &verdictDoc{res.Allowed(), nonNil(res.Violations), nonNil(res.Warnings), res.Permissions}
}

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
	for _, v := range res.Violations {
		fmt.Fprintf(w, "  violation  %-22s %-28s %s\n", v.Code, orBody(v.Field), v.Message)
	}
	e.printWarnings(res.Warnings)
	if d := res.Permissions; d != nil {
		printDecision(w, d)
	}
}

// printWarnings prints warnings on standard error (text mode).
func (e *env) printWarnings(l policy.List) {
	if e.json {
		return
	}
	for _, v := range l {
		fmt.Fprintf(e.stderr, "  warning    %-22s %-28s %s\n", v.Code, orBody(v.Field), v.Message)
	}
}

func nonNil(l policy.List) policy.List {
	if l == nil {
		return policy.List{}
	}
	return l
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
