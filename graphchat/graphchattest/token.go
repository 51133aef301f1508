package graphchattest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
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
	// Audience is the resource the token is for: Microsoft Graph or the
	// emulator (see [GraphAudience], [GraphAppID] and [EmulatorAudience]).
	// Token sets GraphAudience when empty.
	Audience string `json:"aud,omitempty"`
	// IssuedAt, NotBefore and Expires are Unix times in seconds. Token sets
	// them, when zero, to a token valid from now for TokenLifetime.
	IssuedAt  int64 `json:"iat,omitempty"`
	NotBefore int64 `json:"nbf,omitempty"`
	Expires   int64 `json:"exp,omitempty"`
}

// Audiences a token may be issued for: Microsoft Graph (its URI, with or
// without a final slash, or its application id) or the emulator.
const (
	GraphAudience    = "https://graph.microsoft.com"
	GraphAppID       = "00000003-0000-0000-c000-000000000000"
	EmulatorAudience = "api://graphchattest"
)

// TokenLifetime is how long a token minted by Token is valid, and
// ClockSkew the tolerance the emulator allows on exp and nbf, as Microsoft's
// token validation does by default.
const (
	TokenLifetime = time.Hour
	ClockSkew     = 5 * time.Minute
)

// Token returns an unsigned JWT with the claims, which the emulator accepts
// as a bearer token while it is valid (see [Claims]). It is for tests and local use only: Microsoft Graph
// never accepts it.
func Token(c Claims) string {
	if c.AppID == "" {
		c.AppID = "00000000-0000-0000-0000-0000000c0ffe"
	}
	if c.Audience == "" {
		c.Audience = GraphAudience
	}
	now := time.Now().Unix()
	if c.IssuedAt == 0 {
		c.IssuedAt = now
	}
	if c.NotBefore == 0 {
		c.NotBefore = c.IssuedAt
	}
	if c.Expires == 0 {
		c.Expires = c.IssuedAt + int64(TokenLifetime/time.Second)
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

// invalid returns why the token is not valid at now, as the access-token
// claims reference defines validity, or "": exp present and not passed,
// nbf (when present) reached, aud Microsoft Graph or the emulator, tid
// present. exp and nbf allow ClockSkew.
func (c *Claims) invalid(now time.Time) string {
	switch {
	case c.Expires == 0:
		return "The token has no expiry (exp)."
	case now.After(time.Unix(c.Expires, 0).Add(ClockSkew)):
		return "Lifetime validation failed, the token is expired."
	case c.NotBefore != 0 && now.Before(time.Unix(c.NotBefore, 0).Add(-ClockSkew)):
		return "Lifetime validation failed, the token is not yet valid (nbf)."
	case !slices.Contains([]string{GraphAudience, GraphAudience + "/", GraphAppID, EmulatorAudience}, c.Audience):
		return "Invalid audience: the token is not for Microsoft Graph."
	case c.TenantID == "":
		return "The token has no tenant (tid)."
	}
	return ""
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
