package graphchattest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// User is a user of the emulated directory.
type User struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName,omitempty"`
	Mail              string `json:"mail,omitempty"`
	// UserType is "Member" or "Guest", as in Microsoft Entra ID.
	UserType string `json:"userType"`
	// TenantID is the user's home tenant; empty means the emulator's tenant.
	// Users of another tenant are external (federated) users.
	TenantID string `json:"tenantId,omitempty"`
}

// Tenants of the built-in directory.
const (
	// DefaultTenantID is the emulated organisation, Contoso.
	DefaultTenantID = "2432b57b-0abd-43db-aa7b-16eadd115d34"
	// PartnerTenantID is a federated organisation, Fabrikam, used by the
	// documentation's federated example.
	PartnerTenantID = "4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1"
)

// Ids of the built-in users: the users of Microsoft's create-chat examples.
const (
	JacobID   = "8b081ef6-4792-4def-b2c9-c363a1bf41d5" // jacob@contoso.com
	AlexID    = "82af01c5-f7cc-4a2e-a728-3a5df21afd9d" // alex@contoso.com
	MeganID   = "8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca" // megan@contoso.com
	LeeID     = "82fe7758-5bb3-4f0d-a43f-e555fd399c6f" // lee@contoso.com
	NestorID  = "3626a173-f2bc-4883-bcf7-01514c3bfb82" // nestor@contoso.com
	AdaID     = "1ee28e5a-e2b4-4d84-9fb1-59a1c5e9e4b8" // an in-tenant B2B guest
	GradyID   = "5a0b8c2e-7d4f-4e31-9a6b-2c8d1e0f3a47" // a Fabrikam user, external to Contoso
	PatID     = "c5e1d7a2-3b4f-4c6d-8e9f-0a1b2c3d4e5f" // o'brien@contoso.com: a quote in a user principal name
	IsaiahID  = "4b822dfc-2864-44e6-aa1e-7e0e8552168f" // isaiah@contoso.com, of the RSC-granted apps example
	JohannaID = "6d1e1501-7a3d-45b7-b71b-68d372e5ce14" // johanna@contoso.com, of the same example
)

// DefaultUsers returns the built-in directory: the users of Microsoft's
// create-chat examples as Contoso members, an in-tenant guest, and a user of
// the partner tenant.
func DefaultUsers() []User {
	return []User{
		{ID: JacobID, UserPrincipalName: "jacob@contoso.com", DisplayName: "Jacob Hancock", Mail: "jacob@contoso.com", UserType: "Member"},
		{ID: AlexID, UserPrincipalName: "alex@contoso.com", DisplayName: "Alex Wilber", Mail: "alex@contoso.com", UserType: "Member"},
		{ID: MeganID, UserPrincipalName: "megan@contoso.com", DisplayName: "Megan Bowen", Mail: "megan@contoso.com", UserType: "Member"},
		{ID: LeeID, UserPrincipalName: "lee@contoso.com", DisplayName: "Lee Gu", Mail: "lee@contoso.com", UserType: "Member"},
		{ID: NestorID, UserPrincipalName: "nestor@contoso.com", DisplayName: "Nestor Wilke", Mail: "nestor@contoso.com", UserType: "Member"},
		{ID: IsaiahID, UserPrincipalName: "isaiah@contoso.com", DisplayName: "Isaiah Langer", Mail: "isaiah@contoso.com", UserType: "Member"},
		{ID: JohannaID, UserPrincipalName: "johanna@contoso.com", DisplayName: "Johanna Lorenz", Mail: "johanna@contoso.com", UserType: "Member"},
		{ID: PatID, UserPrincipalName: "o'brien@contoso.com", DisplayName: "Pat O'Brien", Mail: "o'brien@contoso.com", UserType: "Member"},
		{ID: AdaID, UserPrincipalName: "ada_fabrikam.com#EXT#@contoso.onmicrosoft.com", DisplayName: "Ada Lovelace (Fabrikam)", Mail: "ada@fabrikam.com", UserType: "Guest"},
		{ID: GradyID, UserPrincipalName: "grady@fabrikam.com", DisplayName: "Grady Archie", Mail: "grady@fabrikam.com", UserType: "Member", TenantID: PartnerTenantID},
	}
}

// ParseUsers reads a directory: a JSON array of users with id,
// userPrincipalName, displayName, userType ("Member" or "Guest") and, for
// users of another tenant, tenantId.
func ParseUsers(data []byte) ([]User, error) {
	var users []User
	if err := json.Unmarshal(data, &users); err != nil {
		return nil, fmt.Errorf("graphchattest: directory: %w", err)
	}
	seen := map[string]int{}
	for i, u := range users {
		if !isGUID(u.ID) {
			return nil, fmt.Errorf("graphchattest: directory[%d].id %q: want a GUID", i, u.ID)
		}
		if !strings.Contains(u.UserPrincipalName, "@") {
			return nil, fmt.Errorf("graphchattest: directory[%d].userPrincipalName %q: want name@domain", i, u.UserPrincipalName)
		}
		if u.UserType != "Member" && u.UserType != "Guest" {
			return nil, fmt.Errorf("graphchattest: directory[%d].userType %q: want \"Member\" or \"Guest\"", i, u.UserType)
		}
		if u.TenantID != "" && !isGUID(u.TenantID) {
			return nil, fmt.Errorf("graphchattest: directory[%d].tenantId %q: want a GUID", i, u.TenantID)
		}
		for _, k := range []string{strings.ToLower(u.ID), strings.ToLower(u.UserPrincipalName)} {
			if j, dup := seen[k]; dup {
				return nil, fmt.Errorf("graphchattest: directory[%d] repeats directory[%d] (%s)", i, j, k)
			}
			seen[k] = i
		}
	}
	return users, nil
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
