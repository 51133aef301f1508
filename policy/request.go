package policy

import "fmt"

// ChatType is the type of a chat, equal to its wire value.
type ChatType string

// Chat types. Only ChatTypeOneOnOne and ChatTypeGroup can be created.
const (
	ChatTypeOneOnOne           ChatType = "oneOnOne"
	ChatTypeGroup              ChatType = "group"
	ChatTypeMeeting            ChatType = "meeting"
	ChatTypeUnknownFutureValue ChatType = "unknownFutureValue"
)

// Role is a chat member's role, equal to its wire value.
type Role string

// Roles a member can be given when a chat is created.
const (
	RoleOwner Role = "owner"
	RoleGuest Role = "guest"
)

// Kind is what is known of a user relative to the caller's tenant.
type Kind string

// Kinds of users. KindUnknown means nothing is known: the role rules that
// depend on the kind are then not applied.
const (
	KindUnknown  Kind = ""
	KindMember   Kind = "member"   // member of the caller's tenant
	KindGuest    Kind = "guest"    // B2B guest account in the caller's tenant
	KindExternal Kind = "external" // user of another tenant (external, federated)
)

// AuthType says whether a call is made for a signed-in user or as the app itself.
type AuthType string

// Authentication types.
const (
	AuthDelegated   AuthType = "delegated"   // a signed-in user; scopes in the token's scp claim
	AuthApplication AuthType = "application" // app-only; roles in the token's roles claim
)

// Validate returns nil for AuthDelegated and AuthApplication, and otherwise
// a [Violation] with CodeAuthType saying what is expected. The zero value is
// not an auth type here: a Context, Evaluate and graphchat's Options read it
// as AuthDelegated before.
func (a AuthType) Validate() error {
	if v, bad := authViolation(a, ""); bad {
		return v
	}
	return nil
}

// authViolation is the one check of an auth type, reported on field.
func authViolation(a AuthType, field string) (Violation, bool) {
	switch a {
	case AuthDelegated, AuthApplication:
		return Violation{}, false
	}
	return Violation{Code: CodeAuthType, Field: field, Message: fmt.Sprintf("authentication type %q: want %q or %q", a, AuthDelegated, AuthApplication)}, true
}

// Limits of POST /chats.
const (
	MaxTopicLength    = 250 // characters
	MaxGroupMembers   = 250
	MinGroupMembers   = 2
	OneOnOneMembers   = 2
	MaxInstalledApps  = 1
	practicalMinGroup = 3 // a group created with 2 members refuses later additions
)

// Request is a plain description of a POST /chats request body.
type Request struct {
	ChatType ChatType
	// Topic is the chat's topic; nil when absent (a JSON null is absent too).
	Topic   *string
	Members []Member
	// InstalledApps is the number of apps to install with the chat.
	InstalledApps int

	// problems found while parsing a raw body, reported by Check in input order.
	problems []Violation
	warnings []Violation
	// userReported[i] is true when parsing reported members[i]'s user
	// (missing, misspelt or malformed bind): Check does not report it again.
	userReported []bool
}

// Member is one member of a chat being created.
type Member struct {
	// User is the user's object id (a GUID) or user principal name, decoded
	// from the bind URL when the request was parsed.
	User string
	// Roles as sent: exactly one of RoleOwner or RoleGuest is expected.
	Roles []Role
	// TenantID is the member's tenantId as sent on the wire; required for
	// external users, and then equal to their home tenant.
	TenantID string
	// Kind is what the caller declares of the user; KindUnknown if nothing:
	// the kind is then taken from Context.Directory, when it knows the user.
	Kind Kind
	// HomeTenantID is the home tenant the caller declares for the user (as
	// for an external user given with its tenant); empty if not declared.
	// A home tenant other than the caller's makes the user external, and
	// TenantID, when sent, must equal it.
	HomeTenantID string
}

// Caller identifies the signed-in user of a delegated call. Either or both
// fields may be set; a member matches when its User equals either.
type Caller struct {
	ID                string // object id
	UserPrincipalName string
}

// IsZero reports whether nothing is known of the caller.
func (c Caller) IsZero() bool { return c.ID == "" && c.UserPrincipalName == "" }

// Context is what is known of the call besides its body.
type Context struct {
	// Auth is the authentication type; the zero value means AuthDelegated.
	Auth AuthType
	// TenantID is the caller's tenant. Members whose TenantID differs from it
	// are external users.
	TenantID string
	// Caller is the signed-in user for delegated calls; ignored for
	// application calls.
	Caller Caller
	// Grant, when non-nil, is checked for least privilege.
	Grant *Grant
	// Directory, when non-nil, is what is known of users: a member whose
	// Kind or HomeTenantID is not declared takes them from its entry, and a
	// declaration that contradicts the entry is a violation (kind_conflict).
	Directory *Directory
}

func (c *Context) auth() AuthType {
	if c == nil || c.Auth == "" {
		return AuthDelegated
	}
	return c.Auth
}
