package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// emulateAbout is what "demo emulate -h" says before the flags: every
// option of the emulator, with the flag that sets it or why none does.
const emulateAbout = `Serves the Microsoft Graph emulator (package graphchattest) on a loopback address until interrupted,
logging each request on standard output (method, path, status, request-id, injected fault). Its endpoints
are Graph's chat endpoints under /v1.0 and /beta: POST /chats, GET /chats, /me/chats, /users/{u}/chats
(and {id}, {id}/members, {id}/messages under each), PATCH /chats/{id}, POST /chats/{id}/members, POST
/chats/{id}/members/add, DELETE /chats/{id}/members/{membership-id}, POST /chats/{id}/messages,
GET /users/{u}, POST /$batch.

Directory: the built-in Contoso users, an in-tenant guest (Ada) and Fabrikam's Grady, or --directory FILE
(a JSON list of users with id, userPrincipalName, userType and, for other tenants, tenantId). The tenant is
graphchattest's Contoso tenant, the one "demo token" mints tokens for.

Tokens: requests need an emulator token (demo token) unless --anonymous; an expired token, or one for
another tenant or audience, gets 401 InvalidAuthenticationToken; a permission missing from it, 403.

Limits (each answered with a Graph error body):
  --rate-limit N            requests a second, all callers together; beyond: 429 + Retry-After
  --throttle documented     Microsoft's documented Teams buckets: 30 requests/s per app, 5/s per user
                            listing or getting chats, 4 member additions a minute per chat, 1 write a
                            second per app on a chat; beyond: 429 TooManyRequests + Retry-After
  --max-chats N             chats held; at the limit a new chat is refused 507 InsufficientStorage
                            (no Retry-After: waiting does not help), so counts never silently miss one;
                            --forget-old-chats forgets the oldest instead
  --max-body-bytes N        largest request body, after gzip; larger: 413 RequestEntityTooLarge
  --max-log N               most recent requests kept in memory (standard output logs every one)
  fixed: 20 requests a $batch, 250 members a group chat, 200 members added in one request, $top 50,
  25 members a chat in a list with $expand=members, a message of about 28 KB, one message a second
  per user in a chat.

Faults (--faults NAME=P,...; the same --seed draws the same sequence): 503 (with Retry-After) and 504
before processing; 504-after (processed, then 504), drop-after (processed, then the connection is closed),
slow-after (processed, then held --slow-delay, past the caller's deadline).

Reported behaviours (seen against the service, not documented; off by default):
  --reported-add-member-blocked  members added to a group created with two members are refused
                                 400 RosterAddMemberBlocked (microsoft-graph-docs-contrib issue 1622)`

// emulate serves the emulator until interrupted.
func (e *env) emulate(ctx context.Context, args []string) error {
	addr, opts, err := e.emulateOptions(ctx, args)
	if err != nil {
		return err
	}
	opts.Log = e.logEntry()
	srv, err := graphchattest.NewServer(addr, opts)
	if err != nil {
		return usagef("--addr %s: %v", addr, err)
	}
	defer srv.Close()
	if e.emulatorStarted != nil {
		e.emulatorStarted(srv)
	}
	users := opts.Users
	if users == nil {
		users = graphchattest.DefaultUsers()
	}
	var names []string
	for _, u := range users {
		names = append(names, u.UserPrincipalName)
	}
	fmt.Fprintf(e.stderr, "emulating Microsoft Graph at %s (tenant %s; users %s)\n", srv.URL, srv.TenantID(), strings.Join(names, ", "))
	if !opts.Anonymous {
		fmt.Fprintf(e.stderr, "requests need a bearer token: demo token --scopes Chat.Create\n")
	}
	fmt.Fprintln(e.stderr, "stop with Ctrl+C")
	<-ctx.Done()
	return nil
}

// emulateOptions reads emulate's flags, and the --directory file, into the
// address to listen on and the emulator's options.
func (e *env) emulateOptions(ctx context.Context, args []string) (string, *graphchattest.Options, error) {
	fs := flag.NewFlagSet("emulate", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "loopback `address` to listen on (port 0: any free port)")
	directory := fs.String("directory", "", "JSON `file` of users (default: the built-in directory)")
	anonymous := fs.Bool("anonymous", false, "accept requests without a bearer token, as an app holding every permission")
	latency := fs.Duration("latency", 0, "`duration` added to each request, such as 20ms (at most 1m)")
	rate := fs.Float64("rate-limit", 0, "`requests` per second accepted; more get 429 with Retry-After (0: no limit)")
	throttle := fs.String("throttle", "off", "throttling `buckets`: documented (Microsoft's Teams limits) or off")
	faults := fs.String("faults", "", "injected faults, such as 503=0.05,504-after=0.02,drop-after=0.01 (also 504, slow-after)")
	seed := fs.Uint64("seed", 1, "`seed` of the fault injection")
	slow := fs.Duration("slow-delay", 30*time.Second, "`duration` slow-after holds a processed response (at most 10m)")
	blocked := fs.Bool("reported-add-member-blocked", false, "refuse members added to a group created with two members (reported, not documented)")
	maxChats := fs.Int("max-chats", graphchattest.DefaultMaxChats, "`chats` held; then new chats get 507 (-1: no limit)")
	forget := fs.Bool("forget-old-chats", false, "at --max-chats, forget the oldest chat instead of refusing a new one")
	maxBody := fs.Int64("max-body-bytes", graphchattest.DefaultMaxBodyBytes, "largest request body in `bytes`, after gzip; larger get 413")
	maxLog := fs.Int("max-log", graphchattest.DefaultMaxEntries, "most recent `requests` kept in memory (0: none)")
	pos, err := parse(fs, args)
	if err != nil {
		return "", nil, e.helpFor(fs, "", err)
	}
	switch {
	case len(pos) > 0:
		return "", nil, usagef("emulate takes no arguments, got %d", len(pos))
	case *latency < 0 || *latency > time.Minute:
		return "", nil, usagef("--latency %s: want a duration from 0 to 1m, such as 20ms", *latency)
	case *rate < 0 || math.IsNaN(*rate) || math.IsInf(*rate, 0):
		return "", nil, usagef("--rate-limit %v: want a number of requests per second, 0 for no limit", *rate)
	case *slow <= 0 || *slow > 10*time.Minute:
		return "", nil, usagef("--slow-delay %s: want a duration from 1ms to 10m, such as 30s", *slow)
	case *maxChats == 0 || *maxChats < -1:
		return "", nil, usagef("--max-chats %d: want a positive number of chats, or -1 for no limit", *maxChats)
	case *maxBody <= 0 || *maxBody > 1<<30:
		return "", nil, usagef("--max-body-bytes %d: want a number of bytes from 1 to 1073741824", *maxBody)
	case *maxLog < 0:
		return "", nil, usagef("--max-log %d: want a number of requests, 0 to keep none", *maxLog)
	}
	opts := &graphchattest.Options{Anonymous: *anonymous, Latency: *latency, RateLimit: *rate, Seed: *seed, SlowDelay: *slow,
		ReportedAddMemberBlocked: *blocked, MaxChats: *maxChats, ForgetOldChats: *forget, MaxBodyBytes: *maxBody, MaxEntries: *maxLog}
	if *maxLog == 0 {
		opts.MaxEntries = -1 // the Options' "none"
	}
	switch *throttle {
	case "off":
	case "documented":
		opts.Throttle = graphchattest.DocumentedThrottle
	default:
		return "", nil, usagef("--throttle %q: want documented or off", *throttle)
	}
	if opts.Faults, err = graphchattest.ParseFaults(*faults); err != nil {
		return "", nil, usagef("--faults: %v", err)
	}
	if *directory != "" {
		users, err := e.readDirectory(ctx, *directory)
		if err != nil {
			return "", nil, err
		}
		opts.Users = emulatorUsers(users)
	}
	return *addr, opts, nil
}

// logEntry returns the emulator's log of answered requests: one line each
// on standard output (time, method, path, status, request-id, fault), never
// a body or a token.
func (e *env) logEntry() func(graphchattest.Entry) {
	var mu sync.Mutex
	return func(en graphchattest.Entry) {
		mu.Lock()
		defer mu.Unlock()
		status := fmt.Sprint(en.Status)
		if en.Status == 0 {
			status = "dropped"
		}
		line := fmt.Sprintf("%s %s %s %s request-id=%s", time.Now().UTC().Format("15:04:05.000"), en.Method, en.Path, status, en.RequestID)
		if en.Fault != "" {
			line += " fault=" + string(en.Fault)
		}
		if en.Batch {
			line += " (in $batch)"
		}
		fmt.Fprintln(e.stdout, line)
	}
}
