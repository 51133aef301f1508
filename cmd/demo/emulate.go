package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// emulate serves the emulator until interrupted.
func (e *env) emulate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("emulate", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "loopback address to listen on")
	directory := fs.String("directory", "", "JSON `file` of users (default: the built-in directory)")
	anonymous := fs.Bool("anonymous", false, "accept requests without a bearer token")
	latency := fs.Duration("latency", 0, "latency added to each request, such as 20ms")
	rate := fs.Float64("rate-limit", 0, "requests per second accepted; more get 429 with Retry-After (0: no limit)")
	faults := fs.String("faults", "", "injected faults, such as 503=0.05,504-after=0.02,drop-after=0.01 (also 504, slow-after)")
	seed := fs.Uint64("seed", 1, "seed of the fault injection")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "emulate [flags]", err)
	}
	if len(pos) > 0 {
		return usagef("emulate takes no arguments, got %q", pos[0])
	}
	opts := &graphchattest.Options{Anonymous: *anonymous, Latency: *latency, RateLimit: *rate, Seed: *seed}
	if *latency < 0 || *rate < 0 {
		return usagef("--latency and --rate-limit must not be negative")
	}
	if opts.Faults, err = graphchattest.ParseFaults(*faults); err != nil {
		return usagef("--faults: %v", err)
	}
	if *directory != "" {
		data, err := os.ReadFile(*directory)
		if err != nil {
			return usagef("reading --directory: %v", err)
		}
		if opts.Users, err = graphchattest.ParseUsers(data); err != nil {
			return usagef("--directory: %v", err)
		}
	}
	var mu sync.Mutex
	opts.Log = func(en graphchattest.Entry) {
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
	srv, err := graphchattest.NewServer(*addr, opts)
	if err != nil {
		return usagef("%v", err)
	}
	defer srv.Close()
	users := opts.Users
	if users == nil {
		users = graphchattest.DefaultUsers()
	}
	var names []string
	for _, u := range users {
		names = append(names, u.UserPrincipalName)
	}
	fmt.Fprintf(e.stderr, "emulating Microsoft Graph at %s (tenant %s; users %s)\n", srv.URL, srv.TenantID(), strings.Join(names, ", "))
	if !*anonymous {
		fmt.Fprintf(e.stderr, "requests need a bearer token: demo token --scopes \"Chat.Create\"\n")
	}
	fmt.Fprintln(e.stderr, "stop with Ctrl+C")
	<-ctx.Done()
	return nil
}
