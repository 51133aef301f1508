package graphchattest_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// Tokens are valid as the access-token claims reference defines: exp not
// passed, nbf reached, aud Microsoft Graph or the emulator, tid present.
func TestTokenValidity(t *testing.T) {
	t.Parallel()
	now := time.Now().Unix()
	base := graphchattest.Claims{Scopes: "Chat.ReadBasic", TenantID: graphchattest.DefaultTenantID, ObjectID: graphchattest.MeganID}
	with := func(f func(*graphchattest.Claims)) string {
		c := base
		f(&c)
		return graphchattest.Token(c)
	}
	enc := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"minted", graphchattest.Token(base), 200},
		{"Graph app id audience", with(func(c *graphchattest.Claims) { c.Audience = graphchattest.GraphAppID }), 200},
		{"Graph audience with a slash", with(func(c *graphchattest.Claims) { c.Audience = "https://graph.microsoft.com/" }), 200},
		{"emulator audience", with(func(c *graphchattest.Claims) { c.Audience = graphchattest.EmulatorAudience }), 200},
		{"other audience", with(func(c *graphchattest.Claims) { c.Audience = "https://management.azure.com" }), 401},
		{"expired", with(func(c *graphchattest.Claims) { c.IssuedAt, c.Expires = now-7200, now-3600 }), 401},
		{"expired within the skew", with(func(c *graphchattest.Claims) { c.IssuedAt, c.Expires = now-3600, now-60 }), 200},
		{"not yet valid", with(func(c *graphchattest.Claims) { c.NotBefore, c.Expires = now+3600, now+7200 }), 401},
		{"no tenant", with(func(c *graphchattest.Claims) { c.TenantID = "" }), 401},
		{"other tenant", with(func(c *graphchattest.Claims) { c.TenantID = graphchattest.PartnerTenantID }), 401},
		{"no exp", enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"scp":"Chat.ReadBasic","tid":"`+graphchattest.DefaultTenantID+`","aud":"https://graph.microsoft.com"}`)) + ".", 401},
		{"exp not a number", enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"scp":"Chat.ReadBasic","tid":"`+graphchattest.DefaultTenantID+`","aud":"https://graph.microsoft.com","exp":"soon"}`)) + ".", 401},
	}
	c := start(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.token = tt.token
			r := c.do("GET", "/v1.0/me/chats", nil)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %v", r.status, tt.status, r.body)
			}
			if r.status == 401 && errorCode(t, r) != "InvalidAuthenticationToken" {
				t.Errorf("code %v", r.body)
			}
		})
	}
}
