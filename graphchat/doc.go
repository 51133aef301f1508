// Package graphchat creates Microsoft Teams chats through Microsoft Graph
// correctly the first time. It is a thin façade over the official Go SDK
// (msgraph-sdk-go): every request is checked by package policy before any
// I/O, then sent with the SDK's generated chats request builders, and the
// SDK's own models come back.
//
// # Building a client
//
// [NewFromCredential] takes an azcore.TokenCredential (azidentity) and
// builds its own pipeline; [New] takes a kiota RequestAdapter, such as the
// adapter of a GraphServiceClient, and uses it as it is. nil [Options] mean
// the defaults: the global cloud, v1.0, delegated calls, creating chats
// only, warnings for excess privilege. A Client is safe for concurrent use.
//
//	cred, _ := azidentity.NewDeviceCodeCredential(nil)
//	client, err := graphchat.NewFromCredential(cred, &graphchat.Options{
//		Operations: []policy.Operation{policy.OpCreateChat, policy.OpAddMember},
//	})
//	chat, err := client.CreateGroup(ctx, "Launch",
//		graphchat.User("megan@contoso.com"),           // the signed-in user
//		graphchat.User("lee@contoso.com"),
//		graphchat.Guest("ada_fabrikam.com#EXT#@contoso.onmicrosoft.com"),
//		graphchat.External("5a0b8c2e-7d4f-4e31-9a6b-2c8d1e0f3a47", fabrikamTenantID))
//
// graphchat does not import the root SDK package: it builds its adapter with
// msgraph-sdk-go-core and registers the JSON and text serializers itself,
// which keeps a program's cold build at about half.
//
// # Permissions
//
// Declare the operations the app performs in Options.Operations. A
// delegated client requests exactly their least-privileged scopes (such as
// Chat.Create for creating chats), never ".default"; an application client
// requests ".default". The token's claims are then read (not verified:
// advisory) to fail fast when a needed permission is missing, and to warn,
// or fail in policy.ModeStrict, when the grant is more privileged than the
// operations need. An operation not declared is refused with ErrUndeclared.
//
// # Members
//
// [User], [Guest] and [External] build members with the role the service
// requires (owner, guest, owner with tenantId); [Member.Model] gives the
// SDK model with a correct user@odata.bind (' doubled, # percent-encoded).
// A kind is respected only when the caller declared it: Guest and External
// declare theirs, User declares none, and a Member's Kind field declares
// one. Members of no declared kind are looked up when Options.ResolveKinds
// is on (GET /users/{id}?$select=id,userType,userPrincipalName, which needs
// User.Read.All: userType is not in the basic profile), so that a guest
// given through User is refused the owner role before anything is sent.
// [Member.WithHistory] and [Member.WithAllHistory] set what history a member
// added by [Client.AddMember] sees; the zero time is refused, never taken
// for the whole history.
//
// # One-on-one chats
//
// Only one one-on-one chat can exist between two users: the service returns
// the existing one. [Created.Existed] says so, decided on the service's
// clock (see its documentation). One-on-one creation is idempotent and may
// be retried.
//
// # No duplicate group chat
//
// Group creation is not idempotent. After an ambiguous failure (a timeout,
// 500, 502, 503 or 504, a connection dropped after sending), graphchat
// waits (Options.LookupDelay, default 2 s, doubling at each further
// lookup) and looks the chat up before any retry: the caller's chats of
// type group with the same topic, created since the attempt began, whose
// members are exactly the requested users as a set of (user id, tenant
// id). If it exists, it is returned ([Created.Recovered]); only if it does
// not is the request sent again. The lookup needs policy.OpListChats declared
// (Chat.ReadBasic, or Chat.ReadBasic.All for application calls); without
// it the error is an [*AmbiguousError] matching [ErrOutcomeUnknown], and
// nothing is retried.
//
// The lookup compares object ids only. Members given by user principal
// name are identified before the lookup: from the signed-in
// user's claims, from Options.Directory, or with GET
// /users/{upn}?$select=id when resolve-user is declared (User.ReadBasic.All
// delegated, User.Read.All application;
// answers are cached by the Client). When a member cannot be identified,
// an ambiguous failure is reported as an [*AmbiguousError] saying why: a
// chat is never claimed on a guess.
//
// # What is known of users
//
// Options.Directory (a policy.Directory) is what the app knows of users;
// every check gives it to the policy, which applies kinds and the home
// tenant rule: creation, adding a member, and each item of CreateMany.
// CreateOptions.Directory adds to it for one chat. Options.ResolveKinds
// adds what Graph says of members of unknown kind.
//
// # Bulk creation
//
// [Client.CreateMany] creates many chats through JSON batching (20 creations
// a $batch request) with bounded concurrency and a rate limit (default 30
// creations a second, the Teams limit per app and tenant), each checked by
// the policy first. Throttled creations are retried after their own
// Retry-After, which also slows the whole run; the rest of a batch goes on.
// Every item gets exactly one [ItemResult]. Group chats and messages whose
// outcome is unknown are looked up together, outside the batches in flight:
// one listing matches every item then pending, while the others go on
// being sent. Items an earlier run sent without an answer are handed in
// with [Item.SentAt] (messages: [Item.MessageSentAt]) and looked up the
// same way before anything is sent for them.
//
// # Errors
//
// A request the policy refuses returns the policy's error untouched: a
// policy.List of violations, usable with errors.Is(err, policy.CodeGuestRole);
// nothing was sent. An error answered by Graph is an [*Error] with the
// status, Graph's code and message, request-id, client-request-id and
// Retry-After; errors.Is matches [ErrBadRequest], [ErrUnauthorized],
// [ErrForbidden], [ErrNotFound], [ErrThrottled] and [ErrServer], and
// errors.As reaches the SDK's *odataerrors.ODataError. Transport errors are
// wrapped with the operation's name. No error or log line holds a token or
// a request body.
//
// # Retries
//
// The pipeline is built in a fixed order. Throttled requests (429) are
// retried after their Retry-After (seconds, decimals or an HTTP date);
// 503, 504 and transport errors only for GET requests and one-on-one
// creation. See [RetryOptions]. Redirects are followed only on the base
// URL's scheme and host (307 and 308 with the same method and body; 301,
// 302 and 303 for GET requests only); a redirect to any other host is
// refused with an error, and nothing is sent there.
package graphchat
