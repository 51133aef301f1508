package graphchat

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"

	"github.com/graphchat/graphchat/policy"
)

// What a Client knows of its caller: the claims of its token (read, not
// verified) or its options, and the credential that gives the token.

// context returns the policy context of an operation: who calls, from
// which tenant, with which grant.
func (c *Client) context(ctx context.Context, op policy.Operation) (*policy.Context, error) {
	if !slices.Contains(c.ops, op) {
		return nil, fmt.Errorf("%w: %s is not among Options.Operations %v: declare it so that its permission is requested and judged", ErrUndeclared, op, c.ops)
	}
	pc := &policy.Context{Auth: c.auth, TenantID: c.tenant, Caller: c.caller}
	grant := c.grant
	if c.tokens != nil {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return nil, err
		}
		// Advisory: the token is read, not verified.
		if claims, err := c.claimsOf(tok); err == nil {
			pc.Auth = claims.Auth()
			if claims.TenantID != "" {
				pc.TenantID = claims.TenantID
			}
			if who := claims.Caller(); !who.IsZero() {
				pc.Caller = who
			}
			grant = claims.Permissions()
		}
	}
	if grant != nil {
		pc.Grant = &policy.Grant{Permissions: grant, Operations: c.ops, Mode: c.mode}
	}
	return pc, nil
}

// claimsOf reads a token's claims, once per token: the credential hands out
// the same token until it is renewed.
func (c *Client) claimsOf(tok string) (*policy.Claims, error) {
	if cached := c.claims.Load(); cached != nil && cached.token == tok {
		return cached.claims, nil
	}
	claims, err := policy.ParseToken(tok)
	if err != nil {
		return nil, err
	}
	c.claims.Store(&tokenClaims{token: tok, claims: claims})
	return claims, nil
}

type tokenClaims struct {
	token  string
	claims *policy.Claims
}

// tokenProvider gets tokens from an azcore credential for exactly one host,
// and fails (instead of silently sending no token, as the SDK's provider
// does) for any other.
type tokenProvider struct {
	cred     azcore.TokenCredential
	scopes   []string
	host     string
	loopback bool
}

func (p *tokenProvider) GetAuthorizationToken(ctx context.Context, u *url.URL, _ map[string]any) (string, error) {
	if u == nil || !strings.EqualFold(u.Host, p.host) {
		return "", fmt.Errorf("graphchat: refusing to send a token to %q: only %q is allowed", hostOf(u), p.host)
	}
	if u.Scheme != "https" && !(p.loopback && u.Scheme == "http") {
		return "", fmt.Errorf("graphchat: refusing to send a token over %s", u.Scheme)
	}
	return p.token(ctx)
}

func (p *tokenProvider) token(ctx context.Context) (string, error) {
	tok, err := p.cred.GetToken(ctx, azpolicy.TokenRequestOptions{Scopes: p.scopes})
	if err != nil {
		return "", fmt.Errorf("graphchat: getting a token for %s: %w", strings.Join(p.scopes, " "), err)
	}
	return tok.Token, nil
}

func (p *tokenProvider) GetAllowedHostsValidator() *absauth.AllowedHostsValidator {
	v, _ := absauth.NewAllowedHostsValidatorErrorCheck([]string{p.host})
	return v
}

func hostOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Host
}

// StaticToken returns a credential that always hands out token, for a token
// obtained elsewhere or one the emulator minted (graphchattest.Token). It
// never refreshes it.
func StaticToken(token string) azcore.TokenCredential { return staticToken(token) }

type staticToken string

func (s staticToken) GetToken(context.Context, azpolicy.TokenRequestOptions) (azcore.AccessToken, error) {
	if s == "" {
		return azcore.AccessToken{}, errors.New("graphchat: StaticToken: the token is empty")
	}
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
