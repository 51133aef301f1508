package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// token prints an unsigned token the emulator accepts (never Microsoft Graph).
func (e *env) token(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	scopes := fs.String("scopes", "", "delegated `scopes`, space- or comma-separated")
	roles := fs.String("roles", "", "application `roles` (an app-only token), space- or comma-separated")
	tid := fs.String("tid", graphchattest.DefaultTenantID, "tenant `ID` (a GUID)")
	oid := fs.String("oid", "", "object `ID` of the user (default megan@contoso.com's) or of the app (a GUID)")
	upn := fs.String("upn", "", "user principal `name` (delegated; default from the built-in directory)")
	expired := fs.Bool("expired", false, "mint a token that expired an hour ago (to test how expiry is handled)")
	asJSON := fs.Bool("json", false, "print one JSON object: {\"token\": ...}")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "", err)
	}
	switch {
	case len(pos) > 0:
		return usagef("token takes no arguments, got %d", len(pos))
	case *scopes != "" && *roles != "":
		return usagef("--scopes and --roles conflict: a token is delegated (scopes) or app-only (roles)")
	case len(policy.SplitPermissions(*scopes)) == 0 && len(policy.SplitPermissions(*roles)) == 0:
		return usagef("token: give --scopes (delegated) or --roles (app-only): a token without permissions is refused by every request")
	case !policy.IsObjectID(*tid):
		return usagef("--tid %q: want the tenant's id, a GUID", *tid)
	case *oid != "" && !policy.IsObjectID(*oid):
		return usagef("--oid %q: want an object id, a GUID", *oid)
	case *upn != "" && !policy.IsUserPrincipalName(*upn):
		return usagef("--upn %q: want a user principal name (name@domain)", *upn)
	case *upn != "" && *roles != "":
		return usagef("--upn is for delegated tokens: an app-only token has no user")
	}
	c := graphchattest.Claims{TenantID: *tid, ObjectID: *oid}
	if *roles != "" {
		c.Roles, c.IDType = policy.SplitPermissions(*roles), "app"
		if c.ObjectID == "" {
			c.ObjectID = appObjectID
		}
	} else {
		c.Scopes = strings.Join(policy.SplitPermissions(*scopes), " ")
		if c.ObjectID == "" {
			c.ObjectID = graphchattest.MeganID
		}
		c.UserPrincipalName = *upn
		for _, u := range graphchattest.DefaultUsers() {
			if c.UserPrincipalName == "" && strings.EqualFold(u.ID, c.ObjectID) {
				c.UserPrincipalName = u.UserPrincipalName
			}
		}
	}
	tok := graphchattest.Token(c)
	if *expired {
		tok = withExpiry(c, time.Now().Add(-time.Hour))
	}
	// The token is the result: it is written past the redaction that
	// every other output goes through.
	out := e.unredacted
	if out == nil {
		out = e.stdout
	}
	if *asJSON {
		e.emitTo(out, map[string]string{"token": tok})
		return nil
	}
	fmt.Fprintln(out, tok)
	return nil
}

// withExpiry is graphchattest.Token with an exp claim (and iat and nbf an
// hour before it).
func withExpiry(c graphchattest.Claims, exp time.Time) string {
	tok := graphchattest.Token(c)
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(payload, &m) // graphchattest.Token's own output: a JSON object
	m["exp"], m["iat"], m["nbf"] = exp.Unix(), exp.Add(-time.Hour).Unix(), exp.Add(-time.Hour).Unix()
	payload, _ = json.Marshal(m)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}
