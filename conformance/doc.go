// Package conformance is a black-box HTTP specification of the Microsoft
// Graph chat endpoints that graphchat uses, written as tests. It speaks
// plain net/http and JSON (no graphchat, no SDK), asserts statuses, Graph
// error codes and the shape of bodies (never this project's messages), and
// runs against two targets:
//
//   - the emulator (package graphchattest), in process, always (TestEmulator).
//     This is what CI runs; it is the emulator's specification.
//   - Microsoft Graph, when credentials are given in the environment (TestLive).
//
// The commands:
//
//	go test ./conformance
//	GRAPHCHAT_LIVE_TOKEN=... GRAPHCHAT_LIVE_TENANT=... GRAPHCHAT_LIVE_USERS=... go test -run TestLive -v ./conformance
//
// Without GRAPHCHAT_LIVE_TOKEN, TestLive is skipped with one line saying how
// to run it.
//
// # Live settings
//
//   - GRAPHCHAT_LIVE_TOKEN: a delegated access token for Microsoft Graph,
//     signed in as the test caller, holding Chat.Create, Chat.ReadWrite,
//     ChatMember.ReadWrite and User.ReadBasic.All. The caller is the token's
//     oid claim. The token is never printed.
//   - GRAPHCHAT_LIVE_TENANT: the tenant id (GUID); it must be the token's tid.
//   - GRAPHCHAT_LIVE_USERS: the other test users by object id,
//     "member=ID,member=ID[,guest=ID][,external=ID@TENANT]": two members of
//     the tenant, optionally an in-tenant guest and a user of another
//     (federated) tenant with that tenant's id. Cases that need a guest or an
//     external user are skipped without them.
//   - GRAPHCHAT_LIVE_CLIENT_ID (optional): the app registration the token was
//     issued to; when set it must be the token's appid claim.
//   - GRAPHCHAT_LIVE_BASE (optional): default https://graph.microsoft.com/v1.0.
//   - GRAPHCHAT_LIVE_TEAMS_APP (optional): a teamsApp id from the tenant's
//     app catalog, for the case that installs an app with a chat. That case
//     also needs TeamsAppInstallation.ReadForChat in the token (it lists the
//     chat's apps) and, as the service installs asynchronously, checks for
//     the app every 31 seconds, at most 6 times.
//
// # What a live run leaves behind
//
// Microsoft Graph does not let a delegated caller who is not a Teams
// administrator delete a chat, so the group chats a live run creates stay
// (at most 4, their topics starting with "graphchat conformance"; one-on-one
// chats are the existing ones), with the one message a run sends. Every
// member a run removes or adds is restored, also when a case fails. Cases that need emulator options (faults, forced
// throttling, limits lowered, expired tokens, missing permissions) are
// emulator-only and skipped live.
package conformance
