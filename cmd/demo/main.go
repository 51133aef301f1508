// Command demo shows graphchat at work: with no arguments it walks through
// creating chats on an embedded Microsoft Graph emulator, offline; its
// subcommands check request bodies, create chats (on the emulator or on
// real Microsoft Graph), judge permissions, serve the emulator and mint
// emulator tokens. Run "demo help" for the list.
package main

import (
	"context"
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

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Exit codes.
const (
	exitOK      = 0 // done; allowed (warnings may be printed)
	exitRefused = 1 // refused by the policy or by the service
	exitUsage   = 2 // bad usage, unreadable or malformed input, missing credentials
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
}

// usageError is bad usage or input: exit code 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// errRefused is a refusal already printed: exit code 1.
var errRefused = errors.New("refused")

func (e *env) run(ctx context.Context, args []string) int {
	var err error
	cmd, rest := "", args
	if len(args) > 0 {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "", "walkthrough":
		err = e.walkthrough(ctx, rest)
	case "validate":
		err = e.validate(rest)
	case "create":
		err = e.create(ctx, rest)
	case "add-member":
		err = e.addMember(ctx, rest)
	case "bulk":
		err = e.bulk(ctx, rest)
	case "permissions":
		err = e.permissions(rest)
	case "emulate":
		err = e.emulate(ctx, rest)
	case "token":
		err = e.token(rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	default:
		err = usagef("unknown command %q (run \"demo help\" for the commands)", cmd)
	}
	var u usageError
	var x exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &x):
		if x.err != nil {
			fmt.Fprintln(e.stderr, "demo:", x.err)
		}
		return x.code
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errRefused):
		return exitRefused
	case errors.As(err, &u):
		fmt.Fprintln(e.stderr, "demo:", u.msg)
		return exitUsage
	default:
		fmt.Fprintln(e.stderr, "demo:", err)
		return exitRefused
	}
}

const usage = `demo: graphchat's demonstration program

  demo                        walk through creating chats on an embedded emulator (offline)
  demo validate [flags] FILE|-   check a POST /chats JSON body offline
  demo create [flags] FILE|-     check and create a chat from a body
  demo create [flags] --one-on-one A B
  demo create [flags] --group [--topic T] A B C...
  demo add-member --chat ID [--role owner|guest] [--tenant-id T] [--history all|none|RFC3339] USER
  demo bulk [flags] FILE.csv|FILE.jsonl  create many chats ($batch, rate-limited, resumable with --results)
  demo permissions --op create-chat[,add-member,...] [--auth ...] [--scopes "..."] [--strict]
  demo permissions --metadata permissions.json --method POST --path /chats [--auth ...] [--scopes "..."]
  demo emulate [--addr 127.0.0.1:8080] [--directory FILE] [--anonymous] [--latency D] [--rate-limit RPS] [--faults SPEC]
  demo token [--scopes "A B" | --roles "A B"] [--tid T] [--oid O] [--upn U]

Flags may come before or after the file; "-" reads standard input. Run "demo COMMAND -h" for a
command's flags. Exit codes: 0 allowed or done, 1 refused by the policy or the service,
2 bad usage, unreadable or malformed input, or missing credentials.
`

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
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

// helpFor prints a command's flags when -h is given.
func (e *env) helpFor(fs *flag.FlagSet, synopsis string, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(e.stdout, "usage: demo %s\n\nflags:\n", synopsis)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
	}
	return err
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

// readInput reads a file, or standard input for "-".
func (e *env) readInput(name string) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(io.LimitReader(e.stdin, 8<<20))
		if err != nil {
			return nil, usagef("reading standard input: %v", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, usagef("reading %s: %v", name, errors.Unwrap(err))
	}
	return data, nil
}
