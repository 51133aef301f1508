package graphchattest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// operation names an endpoint the emulator authorizes.
type operation string

const (
	opCreateChat   operation = "create-chat"   // POST /chats
	opGetChat      operation = "get-chat"      // GET /chats/{id}
	opUpdateChat   operation = "update-chat"   // PATCH /chats/{id}
	opListChats    operation = "list-chats"    // GET /chats, /me/chats, /users/{id}/chats
	opListMembers  operation = "list-members"  // GET /chats/{id}/members
	opAddMember    operation = "add-member"    // POST /chats/{id}/members
	opRemoveMember operation = "remove-member" // DELETE /chats/{id}/members/{membership-id}
	opGetUser      operation = "get-user"      // GET /users/{id | userPrincipalName}

	opListInstalledApps operation = "list-installed-apps" // GET /chats/{id}/installedApps
	opGetInstalledApp   operation = "get-installed-app"   // GET /chats/{id}/installedApps/{installation-id}
)

// grant lists the permissions that allow an operation, as the section
// "Permissions" of its page in Microsoft Graph's v1.0 API reference gives
// them: least privileged first, then higher privileged.
type grant struct {
	delegatedLeast, delegatedHigher     []string
	applicationLeast, applicationHigher []string
}

// permissionTable is the emulator's own reading of the reference pages
// chat-post, chat-get, chat-patch, chat-list, chat-list-members,
// chat-post-members, chat-delete-members, user-get, chat-list-installedapps
// and chat-get-installedapps (v1.0). It is written
// independently of package policy's catalogue so that the two witness each
// other; TestPermissionTableAgainstPolicy lists where they differ.
var permissionTable = map[operation]grant{
	opCreateChat: {
		delegatedLeast: []string{"Chat.Create"}, delegatedHigher: []string{"Chat.ReadWrite"},
		applicationLeast: []string{"Chat.Create"},
	},
	opGetChat: {
		delegatedLeast: []string{"Chat.ReadBasic"}, delegatedHigher: []string{"Chat.Read", "Chat.ReadWrite"},
		applicationLeast:  []string{"Chat.ReadBasic.WhereInstalled"},
		applicationHigher: []string{"Chat.Manage.Chat", "Chat.Read.All", "Chat.ReadBasic.All", "Chat.ReadWrite.All", "ChatSettings.Read.Chat", "ChatSettings.ReadWrite.Chat"},
	},
	opUpdateChat: {
		delegatedLeast:   []string{"Chat.ReadWrite"},
		applicationLeast: []string{"ChatSettings.ReadWrite.Chat"}, applicationHigher: []string{"Chat.ReadWrite.All"},
	},
	opListChats: {
		delegatedLeast: []string{"Chat.ReadBasic"}, delegatedHigher: []string{"Chat.Read", "Chat.ReadWrite"},
		applicationLeast: []string{"Chat.ReadBasic.All"}, applicationHigher: []string{"Chat.Read.All", "Chat.ReadWrite.All"},
	},
	opListMembers: {
		delegatedLeast: []string{"Chat.ReadBasic"}, delegatedHigher: []string{"ChatMember.ReadWrite", "Chat.Read", "Chat.ReadWrite", "ChatMember.Read"},
		applicationLeast:  []string{"ChatMember.Read.All"},
		applicationHigher: []string{"Chat.Manage.Chat", "Chat.Read.All", "Chat.ReadBasic.All", "Chat.ReadWrite.All", "ChatMember.Read.Chat", "ChatMember.ReadWrite.All"},
	},
	opAddMember: {
		delegatedLeast: []string{"ChatMember.ReadWrite"}, delegatedHigher: []string{"Chat.ReadWrite"},
		applicationLeast: []string{"Chat.Manage.Chat"}, applicationHigher: []string{"Chat.ReadWrite.All", "ChatMember.ReadWrite.All"},
	},
	opRemoveMember: {
		delegatedLeast:   []string{"ChatMember.ReadWrite"},
		applicationLeast: []string{"ChatMember.ReadWrite.All"}, applicationHigher: []string{"Chat.Manage.Chat"},
	},
	opListInstalledApps: {
		delegatedLeast: []string{"TeamsAppInstallation.ReadForChat"},
		delegatedHigher: []string{"TeamsAppInstallation.ReadWriteSelfForChat", "TeamsAppInstallation.ManageSelectedForChat",
			"TeamsAppInstallation.ReadWriteAndConsentForChat", "TeamsAppInstallation.ReadWriteAndConsentSelfForChat", "TeamsAppInstallation.ReadWriteForChat"},
		applicationLeast: []string{"TeamsAppInstallation.ReadForChat.All"},
		applicationHigher: []string{"TeamsAppInstallation.ReadWriteSelfForChat.All", "Chat.Manage.Chat", "TeamsAppInstallation.ManageSelectedForChat.All",
			"TeamsAppInstallation.Read.All", "TeamsAppInstallation.Read.Chat", "TeamsAppInstallation.ReadWriteAndConsentForChat.All",
			"TeamsAppInstallation.ReadWriteAndConsentSelfForChat.All", "TeamsAppInstallation.ReadWriteForChat.All"},
	},
	opGetInstalledApp: {
		delegatedLeast:   []string{"TeamsAppInstallation.ReadForChat"},
		delegatedHigher:  []string{"TeamsAppInstallation.ReadWriteSelfForChat", "TeamsAppInstallation.ManageSelectedForChat", "TeamsAppInstallation.ReadWriteForChat"},
		applicationLeast: []string{"TeamsAppInstallation.ReadForChat.All"},
		applicationHigher: []string{"TeamsAppInstallation.ReadWriteSelfForChat.All", "Chat.Manage.Chat", "TeamsAppInstallation.ManageSelectedForChat.All",
			"TeamsAppInstallation.Read.All", "TeamsAppInstallation.Read.Chat", "TeamsAppInstallation.ReadWriteForChat.All"},
	},
	opGetUser: {
		delegatedLeast:   []string{"User.Read"},
		delegatedHigher:  []string{"User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		applicationLeast: []string{"User.Read.All"}, applicationHigher: []string{"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	},
}

// tokenPermission reports whether a permission can be carried by an access
// token. Resource-specific consent (names ending in ".Chat") is granted per
// chat and never appears in a token; ".WhereInstalled" permissions reach
// only chats where the app is installed, which the emulator does not model:
// it installs no app, so they reach none.
func tokenPermission(p string) bool {
	return !strings.HasSuffix(p, ".Chat") && !strings.HasSuffix(p, ".WhereInstalled")
}

// allowed returns the permissions in a token that allow op, for the token's
// kind (delegated or application).
func allowedPermissions(op operation, app bool) []string {
	g := permissionTable[op]
	all := append(slices.Clone(g.delegatedLeast), g.delegatedHigher...)
	if app {
		all = append(slices.Clone(g.applicationLeast), g.applicationHigher...)
	}
	return slices.DeleteFunc(all, func(p string) bool { return !tokenPermission(p) })
}

// authorize checks that the token holds a permission that allows op.
func (e *Emulator) authorize(q *request, op operation) *response {
	if q.claims == nil {
		return nil
	}
	allowed := allowedPermissions(op, q.claims.app())
	for _, p := range q.claims.permissions() {
		if slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, p) }) {
			return nil
		}
	}
	return e.graphError(q, http.StatusForbidden, "Forbidden", fmt.Sprintf("Missing role permissions on the request. API requires one of '%s'.", strings.Join(allowed, ", ")), nil)
}

// holds reports whether the token holds one of perms.
func (c *Claims) holds(perms ...string) bool {
	return slices.ContainsFunc(c.permissions(), func(p string) bool {
		return slices.ContainsFunc(perms, func(a string) bool { return strings.EqualFold(a, p) })
	})
}
