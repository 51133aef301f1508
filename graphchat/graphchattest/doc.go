// Package graphchattest is a local emulator of Microsoft Graph's chat
// endpoints, for tests and demos, in the spirit of net/http/httptest.
//
// [New] returns an http.Handler; [NewServer] starts it on a loopback port
// and gives its base URL (http://127.0.0.1:PORT/v1.0) to use as
// graphchat.Options.BaseURL. It answers from its own reading of Microsoft's
// v1.0 reference pages, independent of package policy, so that it is a
// second witness: a mistake in one shows up as a disagreement in tests.
//
// # Endpoints
//
// Under /v1.0 and /beta:
//
//   - POST /chats: 201 with the chat; the existing chat for a one-on-one
//     pair; a new chat for every group; with installedApps (one app,
//     teamsApp@odata.bind to appCatalogs/teamsApps/{id}, optionally a
//     consentedPermissionSet) 202, an empty body and a Location
//     /chats('{id}')/operations('{id}'): the chat and the app are recorded
//     at once, and the operation is not served (v1.0 documents no GET of a
//     chat's operations); 400 with a Graph error body for invalid bodies.
//   - GET /chats, /me/chats (delegated) and /users/{id | upn}/chats, with
//     $filter (chatType eq, topic eq, installedApps/any(a:a/teamsApp/id eq
//     '...'), joined by and), $expand (members, at most 25 a chat,
//     and lastMessagePreview), $top (1 to 50) and
//     $orderby=lastMessagePreview/createdDateTime desc; other query options
//     are refused 400, as the page says they are not supported.
//   - GET /chats/{id}, /me/chats/{id}, /users/{id | upn}/chats/{id}, and
//     GET /members under each; PATCH /chats/{id} (topic, group chats only,
//     at most 250 characters, no ':'); POST /chats/{id}/members; DELETE
//     /chats/{id}/members/{membership-id}.
//   - GET /chats/{id}/installedApps and /chats/{id}/installedApps/{id}:
//     the apps installed at creation, with $expand=teamsApp,teamsAppDefinition
//     (the app's id; no catalog, so names and versions are null),
//     $select=id,consentedPermissionSet and, when listing, $filter on
//     teamsApp/id.
//   - POST /chats/{id}/members/add (and under /me/chats/{id},
//     /users/{u}/chats/{id}), the conversationMember add action: body
//     {"values": [...]} of 1 to [MaxMembersAddedAtOnce] (200) members, one
//     aadUserConversationMemberResult a member, 200 when all were added,
//     207 when any was refused (its error: NotFound, Conflict, BadRequest).
//     A group holds at most [MaxChatMembers] (250).
//   - GET /users/{id | upn}: User.Read reads the signed-in user only,
//     User.ReadBasic.All the basic profile (no userType).
//   - POST /$batch as JSON batching describes it: at most 20 requests,
//     unique ids, a known method, a relative url, Content-Type with any
//     body, dependsOn within the batch (424 when a dependency failed).
//
// A documented path with another method gets 405.
//
// # Requests and errors
//
// Bodies are read as the service reads them: property names are
// case-sensitive (a case variant such as "ChatType" or "User@odata.bind" is
// an unknown property, 400), a key repeated in one object is 400, a UTF-8
// byte-order mark is skipped, gzip is accepted. Every error has a Graph body
// {"error":{"code","message","innerError":{"date","request-id",
// "client-request-id"}}}. Where the documentation gives a status and code,
// the emulator uses it; where it is silent, the code is the status text
// without spaces (BadRequest, NotFound, MethodNotAllowed,
// RequestEntityTooLarge, ...) and the reason is in the message. A defect of
// the emulator is answered 500 InternalServerError and counted in
// [Stats].Panics, never a dropped connection.
//
// # Tokens and permissions
//
// Bearer tokens are read, not verified: [Token] mints unsigned ones. A token
// is valid as the access-token claims reference defines it: exp present and
// not passed, nbf reached (both with [ClockSkew], against the real clock,
// not Options.Now), aud Microsoft Graph or [EmulatorAudience], tid present
// and the emulated tenant's; otherwise 401 InvalidAuthenticationToken.
// Without a token the answer is 401 unless Options.Anonymous. Each operation
// is allowed by the permissions its reference page lists (the emulator's
// own table); others get 403. Resource-specific consent (*.Chat) never
// comes in a token, and *.WhereInstalled reaches no chat, as the emulator
// installs no app.
//
// # Options and their defaults
//
// The zero [Options] is a Contoso tenant with the built-in users, requiring
// bearer tokens, with no latency, throttling or fault:
//
//	TenantID                  DefaultTenantID
//	Users                     DefaultUsers(), or a JSON list read by ParseUsers
//	Anonymous                 false: requests need a bearer token
//	Latency                   0: added before each request
//	RateLimit                 0 (off): requests a second, all callers together
//	Throttle                  zero (off); DocumentedLimits(): 30/s per app,
//	                          5/s per user listing, 4/min member additions
//	                          per chat, 1/s writes per app per chat
//	Faults, Seed              none; ParseFaults("503=0.05,504-after=0.01")
//	SlowDelay                 30 s: how long slow-after holds a response
//	ReportedAddMemberBlocked  false: reported, not documented, behaviour
//	Now                       time.Now: dates of chats and members
//	Log                       nil: called once per answered request
//	MaxEntries                DefaultMaxEntries (10,000) recent requests kept
//	MaxChats                  DefaultMaxChats (200,000) chats; at the limit a
//	                          new chat is refused 507 InsufficientStorage
//	ForgetOldChats            false: at MaxChats, forget the oldest instead
//	MaxBodyBytes              DefaultMaxBodyBytes (4 MiB), larger: 413
//
// Memory is bounded under any traffic: [Emulator.Entries] holds the last
// MaxEntries requests while [Emulator.Stats] counts every one exactly.
// Servers started by NewServer read headers within
// [ServerReadHeaderTimeout], whole requests within [ServerReadTimeout], keep
// idle connections [ServerIdleTimeout] and accept [ServerMaxHeaderBytes] of
// headers; they have no write timeout, as latency and slow-after hold
// answers on purpose.
//
// The directory is [DefaultUsers] (the users of Microsoft's examples, an
// in-tenant guest, a user of a partner tenant) or a JSON list
// ([ParseUsers]). Injected faults ([FaultRule]) are 503 or 504 before
// processing, 504 after processing, a connection dropped after processing,
// a response held past the caller's deadline.
package graphchattest
