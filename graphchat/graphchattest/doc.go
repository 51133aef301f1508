// Package graphchattest is a local emulator of Microsoft Graph's chat
// endpoints, for tests and demos, in the spirit of net/http/httptest.
//
// [New] returns an http.Handler; [NewServer] starts it on a loopback port
// and gives its base URL (http://127.0.0.1:PORT/v1.0) to use as
// graphchat.Options.BaseURL. It answers as Graph does, with its own checks
// (independent of package policy, so that it is a second opinion):
//
//   - POST /v1.0/chats and /beta/chats: 201 with the chat; the existing chat
//     for a one-on-one pair; a new chat for every group; 202 and a Location
//     with installedApps; 400 with a Graph error body for invalid bodies
//     (roles, counts, topic, unknown users, duplicates, @odata.type, bind,
//     caller missing from a delegated request, malformed JSON, missing
//     Content-Type). Gzip request bodies are accepted.
//   - GET /chats/{id}, GET and POST /chats/{id}/members, DELETE
//     /chats/{id}/members/{membership-id}, GET /users/{id or UPN},
//     GET /me/chats and /users/{id}/chats ($filter on chatType and topic,
//     $expand=members, $top), POST /$batch (at most 20 requests, unique ids,
//     424 for a failed dependency).
//   - Bearer tokens are read, not verified: [Token] mints them (unsigned).
//     401 without one unless [Options].Anonymous; 403 when the token holds
//     no permission that allows the operation.
//   - Every error body has code, message and innerError with date,
//     request-id and the request's client-request-id.
//
// The directory is [DefaultUsers] (the users of Microsoft's examples, an
// in-tenant guest, a user of a partner tenant) or a JSON list ([ParseUsers]).
// Options add latency, a rate limit answering 429 with Retry-After, and
// injected faults ([FaultRule]): 503 or 504 before processing, 504 after
// processing, a connection dropped after processing, a response held past
// the caller's deadline.
package graphchattest
