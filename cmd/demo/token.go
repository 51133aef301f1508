package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// token prints an unsigned token the emulator accepts (never Microsoft Graph).
func (e *env) token(args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	scopes := fs.String("scopes", "", "delegated scopes, space- or comma-separated")
	roles := fs.String("roles", "", "application roles (an app-only token), space- or comma-separated")
	tid := fs.String("tid", graphchattest.DefaultTenantID, "tenant id")
	oid := fs.String("oid", "", "object id of the user (default megan@contoso.com's) or of the app")
	upn := fs.String("upn", "", "user principal name (delegated; default from the built-in directory)")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "token [flags]", err)
	}
	if len(pos) > 0 {
		return usagef("token takes no arguments, got %q", pos[0])
	}
	if *scopes != "" && *roles != "" {
		return usagef("--scopes and --roles conflict: a token is delegated (scopes) or app-only (roles)")
	}
	if !policy.IsObjectID(*tid) || (*oid != "" && !policy.IsObjectID(*oid)) {
		return usagef("--tid and --oid must be GUIDs")
	}
	c := graphchattest.Claims{TenantID: *tid, ObjectID: *oid}
	if *roles != "" {
		c.Roles, c.IDType = policy.SplitPermissions(*roles), "app"
		if c.ObjectID == "" {
			c.ObjectID = "9d3f1c1e-0000-4000-8000-0000000000a1"
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
	fmt.Fprintln(e.stdout, graphchattest.Token(c))
	return nil
}
