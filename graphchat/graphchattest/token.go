package graphchattest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// Claims are the access-token claims the emulator reads.
type Claims struct {
	Scopes            string   `json:"scp,omitempty"`   // delegated: space-separated scopes
	Roles             []string `json:"roles,omitempty"` // application permissions
	TenantID          string   `json:"tid,omitempty"`
	ObjectID          string   `json:"oid,omitempty"`
	IDType            string   `json:"idtyp,omitempty"`
	UserPrincipalName string   `json:"upn,omitempty"`
	AppID             string   `json:"appid,omitempty"`
}

// Token returns an unsigned JWT with the claims, which the emulator accepts
// as a bearer token. It is for tests and local use only: Microsoft Graph
// never accepts it.
func Token(c Claims) string {
	if c.AppID == "" {
		c.AppID = "00000000-0000-0000-0000-0000000c0ffe"
	}
	payload, _ := json.Marshal(c) // a struct of strings: cannot fail
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}

// DelegatedToken returns a token for a signed-in user of the default tenant
// with the given scopes. Like Microsoft's tokens it carries the user's
// principal name (upn) when the built-in directory knows the user.
func DelegatedToken(userID string, scopes ...string) string {
	c := Claims{Scopes: strings.Join(scopes, " "), TenantID: DefaultTenantID, ObjectID: userID}
	for _, u := range DefaultUsers() {
		if strings.EqualFold(u.ID, userID) {
			c.UserPrincipalName = u.UserPrincipalName
		}
	}
	return Token(c)
}

// AppToken returns an app-only token of the default tenant with the given
// application permissions.
func AppToken(roles ...string) string {
	return Token(Claims{Roles: roles, TenantID: DefaultTenantID, ObjectID: "9d3f1c1e-0000-4000-8000-0000000000a1", IDType: "app"})
}

var errToken = errors.New("the access token is not a JWT")

// parseToken reads a JWT's claims without verifying it, as the emulator has
// no keys.
func parseToken(tok string) (*Claims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, errToken
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errToken
	}
	return &c, nil
}

func (c *Claims) app() bool {
	return strings.EqualFold(c.IDType, "app") || (c.Scopes == "" && len(c.Roles) > 0)
}

func (c *Claims) permissions() []string {
	if c.app() {
		return c.Roles
	}
	return strings.Fields(c.Scopes)
}
