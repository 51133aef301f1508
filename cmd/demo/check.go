package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

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
	fs.StringVar(&f.tenant, "tenant", "", "the caller's tenant `ID`")
	fs.StringVar(&f.caller, "caller", "", "the signed-in user, by object `ID or UPN` (delegated)")
	fs.StringVar(&f.scopes, "scopes", "", "granted or selected permissions, space- or comma-separated: scopes (delegated) or roles (application)")
	fs.StringVar(&f.token, "token", "", "an access `JWT` to derive auth, tenant, caller and scopes from (read, not verified)")
	fs.Var(&f.guests, "guest", "a member known to be an in-tenant guest, by `ID or UPN` (repeatable)")
	fs.Var(&f.externals, "external", "a member known to be external, as `ID=TENANT` (repeatable)")
	fs.StringVar(&f.directory, "directory", "", "JSON `file` of users (id, userPrincipalName, userType, tenantId)")
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

// context builds the policy context from the flags.
func (f *checkFlags) context(ops ...policy.Operation) (*policy.Context, error) {
	if f.token != "" {
		for _, name := range []string{"auth", "scopes", "caller", "tenant"} {
			if f.set[name] {
				return nil, usagef("--token and --%s conflict: the token gives auth, scopes, caller and tenant", name)
			}
		}
		claims, err := policy.ParseToken(f.token)
		if err != nil {
			return nil, usagef("--token: %v", err)
		}
		return claims.Context(f.mode(), ops...), nil
	}
	auth := policy.AuthType(f.auth)
	if auth != policy.AuthDelegated && auth != policy.AuthApplication {
		return nil, usagef("--auth %q: want delegated or application", f.auth)
	}
	c := &policy.Context{Auth: auth, TenantID: f.tenant}
	if f.caller != "" {
		if auth == policy.AuthApplication {
			return nil, usagef("--caller is for delegated calls: an application call has no signed-in user")
		}
		if policy.IsObjectID(f.caller) {
			c.Caller.ID = f.caller
		} else {
			c.Caller.UserPrincipalName = f.caller
		}
	}
	if f.set["scopes"] {
		c.Grant = &policy.Grant{Permissions: policy.SplitPermissions(f.scopes), Operations: ops, Mode: f.mode()}
	}
	return c, nil
}

// knowledge is what the flags and the directory say of users.
type knowledge struct {
	users     []graphchattest.User
	guests    []string
	externals map[string]string // user -> home tenant
}

func (f *checkFlags) knowledge() (*knowledge, error) {
	k := &knowledge{guests: f.guests, externals: map[string]string{}}
	for _, x := range f.externals {
		user, tenant, ok := strings.Cut(x, "=")
		if !ok || user == "" || !policy.IsObjectID(tenant) {
			return nil, usagef("--external %q: want ID=TENANT, the user and its home tenant id", x)
		}
		k.externals[strings.ToLower(user)] = tenant
	}
	if f.directory != "" {
		data, err := os.ReadFile(f.directory)
		if err != nil {
			return nil, usagef("reading --directory: %v", err)
		}
		users, err := graphchattest.ParseUsers(data)
		if err != nil {
			return nil, usagef("--directory %s: %v", f.directory, err)
		}
		k.users = users
	}
	return k, nil
}

// kind says what is known of a user, with the home tenant of an external one.
func (k *knowledge) kind(user, callerTenant string) (policy.Kind, string) {
	for _, g := range k.guests {
		if strings.EqualFold(g, user) {
			return policy.KindGuest, ""
		}
	}
	if t, ok := k.externals[strings.ToLower(user)]; ok {
		return policy.KindExternal, t
	}
	for _, u := range k.users {
		if strings.EqualFold(u.ID, user) || strings.EqualFold(u.UserPrincipalName, user) {
			switch {
			case u.TenantID != "" && callerTenant != "" && !strings.EqualFold(u.TenantID, callerTenant):
				return policy.KindExternal, u.TenantID
			case u.UserType == "Guest":
				return policy.KindGuest, ""
			}
			return policy.KindMember, ""
		}
	}
	return policy.KindUnknown, ""
}

// apply sets the members' kinds and reports a member whose tenantId
// contradicts the home tenant the flags give.
func (k *knowledge) apply(r *policy.Request, callerTenant string) policy.List {
	var extra policy.List
	for i := range r.Members {
		m := &r.Members[i]
		kind, home := k.kind(m.User, callerTenant)
		if kind == policy.KindUnknown {
			continue
		}
		m.Kind = kind
		if kind == policy.KindExternal && m.TenantID != "" && !strings.EqualFold(m.TenantID, home) {
			extra = append(extra, policy.Violation{Code: policy.CodeKindConflict, Field: fmt.Sprintf("members[%d].tenantId", i),
				Message: fmt.Sprintf("%q, but the user's home tenant is %q", m.TenantID, home)})
		}
	}
	return extra
}

// report prints a result and returns errRefused when it has violations.
func report(w io.Writer, res *policy.Result, asJSON bool) error {
	if asJSON {
		out := struct {
			Allowed     bool             `json:"allowed"`
			Violations  policy.List      `json:"violations"`
			Warnings    policy.List      `json:"warnings"`
			Permissions *policy.Decision `json:"permissions,omitempty"`
		}{res.Allowed(), nonNil(res.Violations), nonNil(res.Warnings), res.Permissions}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else {
		printResult(w, res)
	}
	if !res.Allowed() {
		return errRefused
	}
	return nil
}

func nonNil(l policy.List) policy.List {
	if l == nil {
		return policy.List{}
	}
	return l
}

func printResult(w io.Writer, res *policy.Result) {
	if res.Allowed() {
		fmt.Fprintf(w, "allowed")
	} else {
		fmt.Fprintf(w, "refused: %d violation%s", len(res.Violations), plural(len(res.Violations)))
	}
	if n := len(res.Warnings); n > 0 {
		fmt.Fprintf(w, " (%d warning%s)", n, plural(n))
	}
	fmt.Fprintln(w)
	for _, v := range res.Violations {
		fmt.Fprintf(w, "  violation  %-22s %-28s %s\n", v.Code, orBody(v.Field), v.Message)
	}
	for _, v := range res.Warnings {
		fmt.Fprintf(w, "  warning    %-22s %-28s %s\n", v.Code, orBody(v.Field), v.Message)
	}
	if d := res.Permissions; d != nil {
		printDecision(w, d)
	}
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
