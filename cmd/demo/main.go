// Command demo shows graphchat at work: with no arguments it walks through
// creating chats on an embedded Microsoft Graph emulator, offline; its
// subcommands check request bodies, create chats (on the emulator or on
// real Microsoft Graph), judge permissions, serve the emulator and mint
// emulator tokens. Run "demo help" for the list.
//
// Every command follows one contract. Exit codes: 0 done or allowed
// (warnings may be printed); 1 refused by the policy, answered with an
// error by the service, or a running emulator target that does not answer;
// 2 bad usage, unreadable or malformed input; 3 authentication (no
// credentials, sign-in failed, an unreadable or expired token, a 401);
// 4 outcome unknown (a creation or a message may or may not have
// happened); 130 interrupted (emulate, a server, exits 0 when
// interrupted: that is how it stops). The result goes to standard output,
// diagnostics to standard error; with --json, standard output holds exactly
// one JSON object.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// Exit codes, the same for every command.
const (
	exitOK          = 0   // done; allowed (warnings may be printed)
	exitRefused     = 1   // refused by the policy, an error answered by the service, a target that does not answer
	exitUsage       = 2   // bad usage, unreadable or malformed input
	exitAuth        = 3   // no credentials, sign-in failed, unreadable or expired token, 401
	exitUnknown     = 4   // outcome unknown: a creation or a message may or may not have happened
	exitInterrupted = 130 // interrupted (Ctrl-C, SIGTERM)
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the program: it parses args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, newCredential: newAzureCredential}
	return e.run(ctx, args)
}

// env is what the program touches outside itself, replaceable in tests.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// newCredential builds the credential for --target graph.
	newCredential func(cfg credentialConfig) (azcore.TokenCredential, error)
	// transport, when set, carries the HTTP requests of --target graph.
	transport http.RoundTripper
	// emulatorStarted, when set, is told of each embedded emulator started
	// (tests read its request log).
	emulatorStarted func(*graphchattest.Server)
	// lookupDelay, when set, is the clients' wait before looking a chat up
	// after an ambiguous failure (Options.LookupDelay; tests shorten it).
	lookupDelay time.Duration
	// wrapResults, when set, wraps bulk's results file once it is open
	// (tests inject write and sync failures with it).
	wrapResults func(*os.File) resultsWriter

	// unredacted is standard output before redaction (see redact.go): the
	// token command alone writes there, as the token is its result.
	unredacted io.Writer

	json    bool // --json was given: standard output holds one JSON document
	emitted bool // that document was written
}

// command is one subcommand of demo.
type command struct {
	name     string
	synopsis string // after "demo "
	summary  string // one line, for "demo help"
	about    string // what -h says before the flags
	examples []string
	run      func(e *env, ctx context.Context, args []string) error
}

// commands lists the subcommands in the order "demo help" shows them.
func commands() []*command {
	return []*command{
		{name: "walkthrough", synopsis: "[walkthrough] [-v]", summary: "walk through creating chats and sending messages on an embedded emulator (offline)",
			about: "Creates one-on-one and group chats on an in-process emulator through graphchat and the Graph SDK, adds a member,\n" +
				"sends messages to people (to their chat, found or created, with a mention), then shows the policy refusing bad\n" +
				"chats and messages before they are sent. It fails if anything does not happen as it says.",
			examples: []string{"demo", "demo walkthrough -v"},
			run:      (*env).walkthrough},
		{name: "validate", synopsis: "validate [flags] FILE|-", summary: "check a POST /chats JSON body offline",
			about: "Checks a POST /chats body against the service's rules and a permission grant, without sending anything.\n" +
				"What is known of the users (--guest, --external, --directory, and with --target emulator the emulator's\n" +
				"directory) and of the call (--token, or --auth, --tenant, --caller, --scopes) is used exactly as create uses it:\n" +
				"validate --target T refuses what create --target T refuses before sending.",
			examples: []string{
				"demo validate --caller megan@contoso.com --guest ada_fabrikam.com#EXT#@contoso.onmicrosoft.com testdata/create-chat/bad-guest-owner.json",
				"demo validate --token \"$TOKEN\" --directory testdata/demo/users.json --json - < testdata/demo/body.json",
			},
			run: (*env).validate},
		{name: "create", synopsis: "create [flags] FILE|- | --one-on-one A B | --group [--topic T] [--reuse] A B C...", summary: "check and create a chat, or reuse the one the members have",
			about: "Checks a chat with the same knowledge as validate, then creates it on the embedded emulator (default), on a\n" +
				"running emulator (--target http://127.0.0.1:PORT) or on Microsoft Graph (--target graph). A request the policy\n" +
				"refuses is never sent. Problems that would fail every request (an unreadable or expired token, a permission\n" +
				"the token lacks, a target that does not answer) are reported once, before anything is sent.\n" +
				"With --reuse, a group chat whose members are exactly these users and whose topic is exactly --topic is returned\n" +
				"(\"existed\") instead of creating another; several such chats are an error listing them (exit 1), unless\n" +
				"--pick oldest. The listing needs list-chats (Chat.ReadBasic) and, for members given by name, resolve-user\n" +
				"(User.ReadBasic.All); an application names whose chats to search with --user. A listing that fails creates nothing.\n" +
				"With --lookup, a group whose creation failed with its outcome unknown (a timeout, a 5xx, a dropped connection) is\n" +
				"looked up and created again only if it was not; it needs the same permissions as --reuse, so it is off by default.",
			examples: []string{
				"demo create --one-on-one megan@contoso.com lee@contoso.com",
				"demo create --group --topic Launch megan@contoso.com lee@contoso.com nestor@contoso.com",
				"demo create --target http://127.0.0.1:8080 --reuse --group --topic Launch megan@contoso.com lee@contoso.com nestor@contoso.com",
				"demo create --target http://127.0.0.1:8080 --auth application --user megan@contoso.com --reuse --pick oldest --group megan@contoso.com lee@contoso.com nestor@contoso.com",
				"demo create --caller megan@contoso.com testdata/create-chat/docs-2-group.json",
			},
			run: (*env).create},
		{name: "find", synopsis: "find [--type T] [--topic T] [--user U] [flags] USER...", summary: "find the chats whose members are exactly these users",
			about: "Lists the signed-in user's chats (an application: --user's) and prints those whose members are exactly the users\n" +
				"given, compared by object id and home tenant, oldest first; --type and --topic narrow the search (--topic \"\"\n" +
				"matches chats without a topic). Users given by name are resolved to object ids (resolve-user) unless the\n" +
				"directory knows them; an external user is given by object id with --external ID=TENANT. No match is not an\n" +
				"error: \"chats\" is empty. The embedded emulator starts empty: use --target with a running emulator.",
			examples: []string{
				"demo find --target http://127.0.0.1:8080 --type group megan@contoso.com lee@contoso.com nestor@contoso.com",
				"demo find --target http://127.0.0.1:8080 --topic Launch --json megan@contoso.com lee@contoso.com nestor@contoso.com",
				"demo find --target http://127.0.0.1:8080 --auth application --user lee@contoso.com megan@contoso.com lee@contoso.com",
			},
			run: (*env).find},
		{name: "list", synopsis: "list [--type T] [--topic T] [--user U] [flags]", summary: "list the signed-in user's chats (or a user's, for an application)",
			about: "Lists every chat of the signed-in user, or of --user with application auth, oldest first, with the members the\n" +
				"listing gives (at most 25 a chat: \"moreMembers\" says when there may be more; demo members reads them all).\n" +
				"A page that fails (throttled past the retries) is an error: never a partial list.",
			examples: []string{
				"demo list --target http://127.0.0.1:8080 --type group",
				"demo list --target http://127.0.0.1:8080 --auth application --user lee@contoso.com --json",
			},
			run: (*env).list},
		{name: "get", synopsis: "get --chat ID [flags]", summary: "print a chat",
			about:    "Reads a chat (GET /chats/{id}): its type, topic, times and web URL. A chat that does not exist is exit 1 (404).",
			examples: []string{"demo get --target http://127.0.0.1:8080 --chat '19:…@thread.v2' --json"},
			run:      (*env).get},
		{name: "members", synopsis: "members --chat ID [flags]", summary: "list every member of a chat",
			about:    "Lists every member of a chat (GET /chats/{id}/members, every page): user id, roles, display name, tenant.",
			examples: []string{"demo members --target http://127.0.0.1:8080 --chat '19:…@thread.v2'"},
			run:      (*env).members},
		{name: "add-member", synopsis: "add-member --chat ID [flags] USER...", summary: "add members to a group chat",
			about: "Checks each member (role, kind, tenant) and the grant, then adds it to a group chat. Several users are added in\n" +
				"one members/add request (additions are limited per chat per minute), each with its outcome; any member not\n" +
				"added makes the exit code 1. A member the policy refuses refuses them all: nothing is sent.",
			examples: []string{
				"demo add-member --target http://127.0.0.1:8080 --chat '19:…@thread.v2' --history all alex@contoso.com",
				"demo add-member --target http://127.0.0.1:8080 --chat '19:…@thread.v2' --json jacob@contoso.com alex@contoso.com",
			},
			run: (*env).addMember},
		{name: "remove-member", synopsis: "remove-member --chat ID [flags] USER", summary: "remove a user from a group chat",
			about: "Removes a user, by object id or name, from a group chat: the chat's members are listed (list-members) to find\n" +
				"the user's membership, which is removed (remove-member). A user who is not a member is exit 1; nothing is removed.",
			examples: []string{"demo remove-member --target http://127.0.0.1:8080 --chat '19:…@thread.v2' alex@contoso.com"},
			run:      (*env).removeMember},
		{name: "send", synopsis: "send (--chat ID | --one-on-one A B | --group [--topic T] [--pick oldest] A B C...) (--text T | --file FILE | -) [--html] [--mention USER]... [flags]",
			summary: "send a message to a chat, or to people (finding or creating their chat)",
			about: "Checks the message (content, size, HTML, mentions) and the grant, then sends it to a chat given by id, or to\n" +
				"people: the message is checked with them as the chat's members (mentions must name them, the caller must be one)\n" +
				"and their chat by the rules of create, before anything is listed, created or sent; then their chat is found\n" +
				"(a group: exactly these members and topic) or created, and the message sent once. Several matching groups: exit 1\n" +
				"with the candidates, unless --pick oldest. A send whose outcome is unknown is never repeated: exit 4.\n" +
				"Application permissions cannot send chat messages: sign in a user (delegated ChatMessage.Send).",
			examples: []string{
				"demo send --target http://127.0.0.1:8080 --chat '19:…@thread.v2' --text \"Hello world\"",
				"demo send --target http://127.0.0.1:8080 --chat '19:…@thread.v2' --text \"Over to you\" --mention lee@contoso.com",
				"demo send --group --topic Launch megan@contoso.com lee@contoso.com nestor@contoso.com --text \"Kick-off at 10\"",
				"demo send --one-on-one megan@contoso.com lee@contoso.com --json - < note.txt",
			},
			run: (*env).send},
		{name: "bulk", synopsis: "bulk [flags] [--reuse [--pick oldest] [--user U]] FILE.csv|FILE.jsonl", summary: "create many chats ($batch, rate-limited, resumable with --results)",
			about: "Creates the chats of a CSV or JSON Lines file, one a line, checking each with the policy first.\n" +
				"With --reuse, each group chat is first looked for among the signed-in user's chats (an application names whose\n" +
				"with --user, who must be a member of every group line), read once for the whole run: a line whose chat has exactly\n" +
				"its members and topic is \"existing\" with that chat's id, and its message, if any, is posted there; several such\n" +
				"chats fail the line (exit 1, the candidates in its record) unless --pick oldest. The listing needs list-chats\n" +
				"(Chat.ReadBasic) and, for members given by name, resolve-user (User.ReadBasic.All).",
			examples: []string{
				"demo bulk testdata/bulk/chats.csv",
				"demo bulk --target http://127.0.0.1:8080 --reuse testdata/bulk/chats.csv",
				"demo bulk --target http://127.0.0.1:8080 --auth application --user megan@contoso.com --reuse --pick oldest chats.jsonl",
			},
			run: (*env).bulk},
		{name: "permissions", synopsis: "permissions --op OPS [flags] | --metadata FILE --method M --path P [flags]", summary: "least-privileged permissions of operations or Graph paths, and judge a grant",
			about: "Prints the least-privileged permissions of chat operations (from the embedded catalog), or of any Graph method\n" +
				"and path (from Microsoft's permissions.json), and judges a grant given with --scopes.",
			examples: []string{
				"demo permissions --op create-chat,add-member --scopes \"Chat.ReadWrite\" --strict",
				"demo permissions --metadata testdata/permissions/fixture.json --method GET --path /chats/19:x@thread.v2/members",
			},
			run: (*env).permissions},
		{name: "emulate", synopsis: "emulate [flags]", summary: "serve the Microsoft Graph emulator on a loopback address",
			about: emulateAbout,
			examples: []string{
				"demo emulate --addr 127.0.0.1:8080 --latency 20ms --rate-limit 30 --faults \"503=0.05,504-after=0.01\"",
				"demo emulate --directory testdata/demo/users.json",
				"demo emulate --throttle documented --reported-add-member-blocked --max-chats 100000",
			},
			run: (*env).emulate},
		{name: "token", synopsis: "token --scopes \"A B\" | --roles \"A B\" [flags]", summary: "mint an unsigned token the emulator accepts (never Microsoft Graph)",
			about: "Prints an unsigned access token for the emulator: delegated with --scopes, app-only with --roles.\n" +
				"Microsoft Graph never accepts it, and demo never sends it anywhere but a loopback address.",
			examples: []string{"demo token --scopes \"Chat.Create ChatMember.ReadWrite\"", "demo token --roles Chat.Create --expired"},
			run:      (*env).token},
		{name: "version", synopsis: "version [--json]", summary: "print the program's, graphchat's and the Graph SDK's versions",
			about:    "Prints the module version (from the build information), the msgraph-sdk-go version and the Go version.",
			examples: []string{"demo version", "demo --version"},
			run:      (*env).version},
		{name: "help", synopsis: "help [COMMAND]", summary: "list the commands, or describe one",
			examples: []string{"demo help create"},
			run:      (*env).help},
	}
}

func lookupCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (e *env) run(ctx context.Context, args []string) int {
	// Everything written to standard output and standard error, by any
	// command and any path, is redacted on its way out.
	stdout, stderr := e.stdout, e.stderr
	e.unredacted = stdout
	e.stdout, e.stderr = newRedactingWriter(stdout), newRedactingWriter(stderr)
	defer func() { e.stdout, e.stderr, e.unredacted = stdout, stderr, nil }()
	e.json = wantsJSON(args)
	var err error
	cmd, rest := "", args
	if len(args) > 0 {
		cmd, rest = args[0], args[1:]
	}
	switch {
	case cmd == "" || cmd == "-v" || cmd == "--v":
		err = e.walkthrough(ctx, args)
	case cmd == "-h" || cmd == "-help" || cmd == "--help":
		err = e.help(ctx, rest)
	case cmd == "--version" || cmd == "-version":
		err = e.version(ctx, rest)
	default:
		if c := lookupCommand(cmd); c != nil {
			err = c.run(e, ctx, rest)
		} else {
			err = usagef("unknown command %q%s (run \"demo help\" for the commands)", cmd, suggest(cmd, commandNames()))
		}
	}
	code := exitCode(ctx, err)
	if code != exitOK {
		e.report(err, code)
	}
	return code
}

// wantsJSON reports whether --json is among the flags, so that even a
// usage error is one JSON document.
func wantsJSON(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--json", "-json", "--json=true", "-json=true":
			return true
		}
	}
	return false
}

func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

// help prints the list of commands, or one command's help.
func (e *env) help(_ context.Context, args []string) error {
	switch len(args) {
	case 0:
		fmt.Fprint(e.stdout, usageText())
		return nil
	case 1:
		c := lookupCommand(args[0])
		if c == nil {
			return usagef("help: unknown command %q%s", args[0], suggest(args[0], commandNames()))
		}
		if c.name == "help" {
			fmt.Fprint(e.stdout, usageText())
			return nil
		}
		// The command prints its own help, flags included.
		err := c.run(e, context.Background(), []string{"-h"})
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	return usagef("help takes at most one command, got %d", len(args))
}

func usageText() string {
	var b strings.Builder
	b.WriteString("demo: graphchat's demonstration program\n\nusage:\n")
	for _, c := range commands() {
		// A synopsis can be long: it goes on its own line, the summary
		// indented under it.
		fmt.Fprintf(&b, "  demo %s\n      %s\n", c.synopsis, c.summary)
	}
	b.WriteString(`
Flags may come before or after the file; "-" reads standard input. "demo help COMMAND" or
"demo COMMAND -h" describes a command, its flags and examples.

exit codes:
  0     allowed or done (warnings may be printed); emulate stopped by Ctrl-C
  1     refused by the policy, an error answered by the service, or a --target URL that does not answer
  2     bad usage, unreadable or malformed input
  3     authentication: no credentials, sign-in failed, unreadable or expired token, 401
  4     outcome unknown: a creation or a message may or may not have happened (for a group chat,
        create --reuse or --lookup resolves it)
  130   interrupted

Results go to standard output, diagnostics to standard error; with --json, standard output holds
exactly one JSON object.
`)
	return b.String()
}

// parse parses flags that may come before or after positional arguments.
// A flag that is not defined gets the nearest defined name as a suggestion.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			msg := err.Error()
			if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
				var names []string
				fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
				if s := nearest(strings.TrimLeft(name, "-"), names); s != "" {
					msg += fmt.Sprintf(" (did you mean --%s?)", s)
				}
			}
			return nil, usagef("%s: %s", fs.Name(), msg)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// helpFor prints a command's help (description, flags, examples) when err
// is flag.ErrHelp, and returns err. synopsis is used for a command that is
// not in the table.
func (e *env) helpFor(fs *flag.FlagSet, synopsis string, err error) error {
	if !errors.Is(err, flag.ErrHelp) {
		return err
	}
	c := lookupCommand(fs.Name())
	if c == nil {
		c = &command{synopsis: synopsis}
	}
	w := e.stdout
	fmt.Fprintf(w, "usage: demo %s\n", c.synopsis)
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", c.about)
	}
	var any bool
	fs.VisitAll(func(*flag.Flag) { any = true })
	if any {
		fmt.Fprint(w, "\nflags:\n")
		printFlags(w, fs)
	}
	if len(c.examples) > 0 {
		fmt.Fprint(w, "\nexamples:\n")
		for _, x := range c.examples {
			fmt.Fprintf(w, "  %s\n", x)
		}
	}
	return err
}

// printFlags prints a flag set's flags as aligned columns. A usage of
// several lines continues under its first: each line keeps a cell in the
// first column, so that the flags after it stay aligned with those before.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			name = " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		first, rest, _ := strings.Cut(usage, "\n")
		fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Name, name, first)
		for _, line := range strings.Split(rest, "\n") {
			if line != "" {
				fmt.Fprintf(tw, "\t%s\n", line)
			}
		}
	})
	tw.Flush()
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func (e *env) logger(verbose bool) *slog.Logger {
	if !verbose {
		return nil
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// suggest returns ` (did you mean "x"?)` for the nearest of names, or "".
func suggest(s string, names []string) string {
	if n := nearest(s, names); n != "" {
		return fmt.Sprintf(" (did you mean %q?)", n)
	}
	return ""
}

// nearest returns the name closest to s by edit distance, when it is close
// enough to be a typing mistake (at most a third of its length, and 2).
func nearest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		d := editDistance(strings.ToLower(s), strings.ToLower(n))
		if d < bestD && d <= max(1, len(n)/3) {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// usageError is bad usage or input: exit code 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// authError is a problem with credentials or a token: exit code 3.
type authError struct {
	msg string
	err error // the cause, if any
}

func (a *authError) Error() string { return a.msg }
func (a *authError) Unwrap() error { return a.err }

func authf(cause error, format string, a ...any) error {
	return &authError{msg: fmt.Sprintf(format, a...), err: cause}
}

// errRefused is a refusal already printed: exit code 1.
var errRefused = errors.New("refused")

// reported is an error the command already printed (in its JSON document,
// or as its result): run classifies it and prints nothing more.
type reported struct{ err error }

func (r reported) Error() string { return r.err.Error() }
func (r reported) Unwrap() error { return r.err }

// exitCode classifies an error into the program's exit code; every command
// returns its error to run, which uses this one classification. Precedence:
// interrupted, outcome unknown, authentication, usage, refused.
func exitCode(ctx context.Context, err error) int {
	var (
		x   exitError
		u   usageError
		ae  *authError
		te  *policy.TokenError
		se  *policy.SyntaxError
		afe *azidentity.AuthenticationFailedError
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &x): // a command that decided its code itself (bulk)
		return x.code
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, graphchat.ErrOutcomeUnknown):
		return exitUnknown
	case errors.As(err, &ae), errors.As(err, &te), errors.As(err, &afe), errors.Is(err, graphchat.ErrUnauthorized):
		return exitAuth
	case errors.As(err, &u), errors.As(err, &se), errors.Is(err, graphchat.ErrUndeclared):
		return exitUsage
	}
	return exitRefused // a policy.List, errRefused, a *graphchat.Error, anything else
}

// kindOf names an exit code in JSON documents.
func kindOf(code int) string {
	switch code {
	case exitRefused:
		return "refused"
	case exitUsage:
		return "usage"
	case exitAuth:
		return "auth"
	case exitUnknown:
		return "unknown"
	case exitInterrupted:
		return "interrupted"
	}
	return "ok"
}

// errorDoc is the "error" member of every command's JSON document.
type errorDoc struct {
	Kind     string `json:"kind"` // usage, auth, refused, unknown or interrupted, as the exit code
	ExitCode int    `json:"exitCode"`
	Message  string `json:"message"`
	// For errors answered by the service:
	Status            int     `json:"status,omitempty"`
	Code              string  `json:"code,omitempty"`
	RequestID         string  `json:"requestId,omitempty"`
	ClientRequestID   string  `json:"clientRequestId,omitempty"`
	RetryAfterSeconds float64 `json:"retryAfterSeconds,omitempty"`
}

func newErrorDoc(ctx context.Context, err error) *errorDoc {
	code := exitCode(ctx, err)
	d := &errorDoc{Kind: kindOf(code), ExitCode: code, Message: message(err)}
	var ge *graphchat.Error
	if errors.As(err, &ge) {
		d.Status, d.Code, d.RequestID, d.ClientRequestID = ge.StatusCode, ge.Code, ge.RequestID, ge.ClientRequestID
		d.RetryAfterSeconds = ge.RetryAfter.Seconds()
	}
	return d
}

// message is an error's text with its remedy, when there is one, in the
// program's terms: its commands and flags (the library's own errors speak
// of Options).
func message(err error) string {
	var (
		sendUnknown   *graphchat.MessageAmbiguousError
		createUnknown *graphchat.AmbiguousError
	)
	switch {
	case errors.As(err, &sendUnknown):
		return err.Error() + ": the message may or may not have been posted to " + sendUnknown.ChatID + "; read the chat before sending it again"
	case errors.As(err, &createUnknown):
		msg := "create-chat: outcome unknown, not retried so that the group chat is not created twice: " + createUnknown.Err.Error()
		if createUnknown.LookupErr != nil {
			return msg + "; looking it up failed too: " + createUnknown.LookupErr.Error() +
				": the chat may or may not have been created; create --reuse returns it if it was (and creates it if not), demo find lists it"
		}
		return msg + ": the chat may or may not have been created; create --reuse returns it if it was (and creates it if not), demo find lists it;" +
			" with --lookup, create looks the chat up itself after such a failure and retries only if it was not created"
	case errors.Is(err, graphchat.ErrOutcomeUnknown):
		return err.Error() + ": the outcome is unknown; look before doing it again"
	case errors.Is(err, graphchat.ErrUnauthorized):
		return err.Error() + ": the token was refused; get a new one (demo token for an emulator, sign in again for Microsoft Graph)"
	}
	return err.Error()
}

// report prints an error the command has not printed: a refusal by the
// policy as the result (standard output), anything else as a diagnostic
// (standard error); with --json, as the one JSON document.
func (e *env) report(err error, code int) {
	if errors.As(err, new(reported)) || errors.Is(err, errRefused) || errors.Is(err, flag.ErrHelp) {
		return
	}
	if x, ok := errors.AsType[exitError](err); ok {
		if x.err == nil {
			return // the command printed its outcome
		}
		err = x.err
	}
	var list policy.List
	if errors.As(err, &list) {
		e.printVerdict(&policy.Result{Violations: list}, "refused by the policy before anything was sent")
		return
	}
	if e.json && !e.emitted {
		e.emit(struct {
			Error *errorDoc `json:"error"`
		}{newErrorDoc(interruptedCtx(code), err)})
		return
	}
	fmt.Fprintln(e.stderr, "demo:", message(err))
}

// interruptedCtx returns a context that is done when code says the program
// was interrupted, so that newErrorDoc classifies as run did.
func interruptedCtx(code int) context.Context {
	if code != exitInterrupted {
		return context.Background()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// emit writes the command's one JSON document to standard output.
func (e *env) emit(v any) { e.emitTo(e.stdout, v) }

// emitTo writes the command's one JSON document to w, standard output
// redacted or not.
func (e *env) emitTo(w io.Writer, v any) {
	e.emitted = true
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
