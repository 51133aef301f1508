package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Claims are the claims of a Microsoft identity platform access token that
// matter for chat requests. They are read without verifying the token's
// signature: Microsoft asks clients to treat Graph tokens as opaque, so use
// them for early warnings and checks only, never for security decisions.
type Claims struct {
	Scopes            []string `json:"scp,omitempty"`   // delegated permissions, from the space-separated scp claim
	Roles             []string `json:"roles,omitempty"` // application permissions
	TenantID          string   `json:"tid,omitempty"`
	ObjectID          string   `json:"oid,omitempty"` // the user (delegated) or the service principal (app-only)
	IDType            string   `json:"idtyp,omitempty"`
	UserPrincipalName string   `json:"upn,omitempty"` // upn, or preferred_username when upn is absent
	AppID             string   `json:"appid,omitempty"`
}

// TokenError reports a token that cannot be read. It never holds the token.
type TokenError struct{ Msg string }

func (e *TokenError) Error() string { return "policy: unreadable access token: " + e.Msg }

// ParseToken reads the claims of a JWT access token's payload without
// verifying it. A "Bearer " prefix is accepted. The error is a *TokenError
// that never contains the token.
func ParseToken(token string) (*Claims, error) {
	token = strings.TrimSpace(token)
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, &TokenError{Msg: fmt.Sprintf("want three dot-separated parts (header.payload.signature), found %d", len(parts))}
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return nil, &TokenError{Msg: "payload is not base64url: " + firstLine(err)}
	}
	var raw struct {
		Scp               json.RawMessage `json:"scp"`
		Roles             json.RawMessage `json:"roles"`
		Tid               json.RawMessage `json:"tid"`
		Oid               json.RawMessage `json:"oid"`
		Idtyp             json.RawMessage `json:"idtyp"`
		Upn               json.RawMessage `json:"upn"`
		PreferredUsername json.RawMessage `json:"preferred_username"`
		Appid             json.RawMessage `json:"appid"`
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	if err := d.Decode(&raw); err != nil {
		return nil, &TokenError{Msg: "payload is not a JSON object"}
	}
	c := &Claims{}
	var errs []string
	str := func(name string, v json.RawMessage, dst *string) {
		if len(v) == 0 || isNull(v) {
			return
		}
		if err := json.Unmarshal(v, dst); err != nil {
			errs = append(errs, fmt.Sprintf("claim %s is a JSON %s, want a string", name, jsonKind(v)))
		}
	}
	var scp string
	str("scp", raw.Scp, &scp)
	c.Scopes = strings.Fields(scp)
	if len(raw.Roles) > 0 && !isNull(raw.Roles) {
		if err := json.Unmarshal(raw.Roles, &c.Roles); err != nil {
			errs = append(errs, fmt.Sprintf("claim roles is a JSON %s, want an array of strings", jsonKind(raw.Roles)))
		}
	}
	str("tid", raw.Tid, &c.TenantID)
	str("oid", raw.Oid, &c.ObjectID)
	str("idtyp", raw.Idtyp, &c.IDType)
	str("upn", raw.Upn, &c.UserPrincipalName)
	if c.UserPrincipalName == "" {
		str("preferred_username", raw.PreferredUsername, &c.UserPrincipalName)
	}
	str("appid", raw.Appid, &c.AppID)
	if len(errs) > 0 {
		return nil, &TokenError{Msg: strings.Join(errs, "; ")}
	}
	return c, nil
}

func decodeSegment(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	return base64.RawURLEncoding.DecodeString(s)
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// Auth returns the token's authentication type: application when it has
// roles and no scopes (or idtyp is "app"), delegated otherwise.
func (c *Claims) Auth() AuthType {
	if strings.EqualFold(c.IDType, "app") || (len(c.Scopes) == 0 && len(c.Roles) > 0) {
		return AuthApplication
	}
	return AuthDelegated
}

// Permissions returns the granted permissions for the token's auth type:
// the scopes of a delegated token, the roles of an app-only one.
func (c *Claims) Permissions() []string {
	if c.Auth() == AuthApplication {
		return append([]string(nil), c.Roles...)
	}
	return append([]string(nil), c.Scopes...)
}

// Caller returns the signed-in user of a delegated token; zero for app-only.
func (c *Claims) Caller() Caller {
	if c.Auth() == AuthApplication {
		return Caller{}
	}
	return Caller{ID: c.ObjectID, UserPrincipalName: c.UserPrincipalName}
}

// Context returns the check context the token describes, with a grant for
// the operations in the given mode.
func (c *Claims) Context(mode Mode, ops ...Operation) *Context {
	return &Context{
		Auth:     c.Auth(),
		TenantID: c.TenantID,
		Caller:   c.Caller(),
		Grant:    &Grant{Permissions: c.Permissions(), Operations: ops, Mode: mode},
	}
}
