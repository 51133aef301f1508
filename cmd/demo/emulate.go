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

// emulate serves the emulator until interrupted.
func (e *env) emulate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("emulate", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "loopback `address` to listen on (port 0: any free port)")
	directory := fs.String("directory", "", "JSON `file` of users (default: the built-in directory)")
	anonymous := fs.Bool("anonymous", false, "accept requests without a bearer token")
	latency := fs.Duration("latency", 0, "`duration` added to each request, such as 20ms (at most 1m)")
	rate := fs.Float64("rate-limit", 0, "`requests` per second accepted; more get 429 with Retry-After (0: no limit)")
	faults := fs.String("faults", "", "injected faults, such as 503=0.05,504-after=0.02,drop-after=0.01 (also 504, slow-after)")
	seed := fs.Uint64("seed", 1, "`seed` of the fault injection")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "", err)
	}
	switch {
	case len(pos) > 0:
		return usagef("emulate takes no arguments, got %d", len(pos))
	case *latency < 0 || *latency > time.Minute:
		return usagef("--latency %s: want a duration from 0 to 1m, such as 20ms", *latency)
	case *rate < 0 || math.IsNaN(*rate) || math.IsInf(*rate, 0):
		return usagef("--rate-limit %v: want a number of requests per second, 0 for no limit", *rate)
	}
	opts := &graphchattest.Options{Anonymous: *anonymous, Latency: *latency, RateLimit: *rate, Seed: *seed}
	if opts.Faults, err = graphchattest.ParseFaults(*faults); err != nil {
		return usagef("--faults: %v", err)
	}
	if *directory != "" {
		data, err := e.readInput(ctx, "--directory", *directory, maxDirectory)
		if err != nil {
			return err
		}
		users, err := parseDirectory(data)
		if err != nil {
			return usagef("--directory %s: %v", *directory, err)
		}
		opts.Users = emulatorUsers(users)
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
		return usagef("--addr %s: %v", *addr, err)
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
		fmt.Fprintf(e.stderr, "requests need a bearer token: demo token --scopes Chat.Create\n")
	}
	fmt.Fprintln(e.stderr, "stop with Ctrl+C")
	<-ctx.Done()
	return nil
}
