// Package policy holds the rules of Microsoft Graph's POST /chats and the
// least-privilege permission selection for the chat operations, as pure
// functions: standard library only, no I/O, no mutable state.
//
// # Create-chat rules
//
// Describe a request as a [Request] (or parse the exact JSON body with
// [ParseCreateChat]) and call [Check] with a [Context]: the authentication
// type, the caller's tenant, the signed-in caller for delegated calls and,
// optionally, a [Grant] to judge. Check reports every problem at once, in
// the order of the body:
//
//   - chatType is "oneOnOne" or "group";
//   - a oneOnOne chat has exactly 2 members and no topic; a group chat has 2
//     to 250 members (a warning at exactly 2: the service is reported to
//     refuse later additions to such a group);
//   - a topic has at most 250 characters and no ':';
//   - every member has exactly one role, "owner" or "guest"; an in-tenant
//     guest must be "guest"; an external user (tenantId other than the
//     caller's) must be "owner" and carry its home tenantId;
//   - a delegated request lists its caller; no user is listed twice; a user
//     is referenced by object id (GUID) or user principal name, never empty
//     (an empty key in the bind URL, or an empty Member.User: user_missing);
//   - at most one app is installed with the chat;
//   - the topic, the users and the tenant ids are valid UTF-8 without control
//     characters (U+0000 to U+001F, U+007F to U+009F), tab and newline
//     included: the service would store another text than the one checked
//     (invalid_text).
//
// # Knowledge of users
//
// The kind of a member (in-tenant member, in-tenant guest, external) decides
// its role rules. It comes from what the caller declares on the [Member]
// (Kind, and HomeTenantID, the home tenant declared for the user), from the
// [Directory] in [Context] (looked up by object id or user principal name,
// case-insensitively) and from the tenantId sent:
//
//   - a member whose Kind is unknown takes the directory's; a directory
//     entry or a declared home tenant other than the caller's tenant makes
//     the user external;
//   - a declared Kind or home tenant that contradicts the directory, an
//     in-tenant Kind with another home tenant, a tenantId other than the
//     declared or known home tenant, and a tenantId other than the caller's
//     for a user known to be in-tenant are all kind_conflict (the last two
//     on members[i].tenantId);
//   - an external user carries its home tenant as tenantId, and its home
//     tenant is not the caller's (external_tenant);
//   - with a directory, the caller is found by either of its names and the
//     same user given by id and by user principal name is a duplicate.
//
// Parsing a raw body adds the rules of its shape: every member's @odata.type
// is "#microsoft.graph.aadUserConversationMember"; the bind key is exactly
// "user@odata.bind" (the published Python and Go snippets misspell it); the
// bind URL is https on a Microsoft Graph host with /v1.0/ or /beta/ and
// users('{key}') or users/{key}. Other hosts are refused, never contacted.
//
// A body is read as the service reads it, not as encoding/json would: a key
// given twice in one object is duplicate_key (encoding/json keeps the last
// value silently; the rules then read that last value); a key that differs
// from a defined property only in letter case ("ChatType", "Roles",
// "User@odata.bind") is property_case, as property names are case-sensitive
// (its value is still read when the property itself is absent, so that the
// other rules do not cascade); any other unknown property is only a warning.
// A string value anywhere in the body that is not valid UTF-8 or holds an
// unpaired UTF-16 surrogate escape such as \ud800 is invalid_text, found on
// the raw bytes (encoding/json would replace it with U+FFFD). A UTF-8
// byte-order mark at the start of the body is skipped; positions in a
// [SyntaxError] still count it.
//
// # Errors
//
// Check returns a [*Result]: Violations block the request, Warnings do not.
// [Result.Err] is nil when nothing blocks; otherwise it is a [List] of
// [Violation] values, each with a stable [Code], a Field such as
// "members[2].roles" and a message. Codes are the contract, messages may
// change. Use errors.Is(err, policy.CodeGuestRole) to test for a rule, and
// errors.As(err, &list) for the whole list. A body that is not a JSON object
// gives a [*SyntaxError] with its line and column instead: nothing could be
// checked. An unreadable token gives a [*TokenError], which never holds the
// token.
//
// # Permissions
//
// The package embeds a catalogue of the chat operations ([Operation]) with
// their least-privileged and higher-privileged permissions for delegated
// (work or school) and application calls, taken from Microsoft's Graph API
// reference ([CatalogSource]). Personal Microsoft accounts cannot use these
// APIs. [Minimal] returns the least-privileged set for a list of operations;
// [Evaluate] judges a grant: which permission allows each operation, which
// operation nothing allows (a violation in every mode but [ModeOff]: the
// service would answer 403), and which granted permissions are more
// privileged than needed (a warning in [ModeWarn], the default; a violation
// in [ModeStrict]).
//
// The resolve-user operation ([OpResolveUser], GET /users/{id |
// userPrincipalName}?$select=id) turns a user principal name into an object
// id with the basic profile; get-user ([OpGetUser]) reads userType, which
// needs the full profile. Every entry records its sources and, where they
// disagree, both answers ([OperationInfo].Sources, [OperationInfo].MetadataDiffers).
//
// [ParseToken] reads scp, roles, tid, oid, idtyp and upn from an access
// token without verifying it, to derive the grant, tenant and caller.
// Microsoft asks clients to treat Graph tokens as opaque: these claims are
// advisory, good for failing fast and for warnings, never for security.
//
// [ParseMetadata] loads Microsoft's full permissions metadata (the
// permissions.json of microsoftgraph/microsoft-graph-devx-content) so that
// least privilege can be judged for any Graph method and path with
// [Metadata.Judge]; concrete paths match templates ("/chats/19:x@thread.v2/members"
// matches "/chats/{id}/members").
package policy
