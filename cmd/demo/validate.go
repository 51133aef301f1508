package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/graphchat/graphchat/policy"
)

// validate checks a POST /chats body offline.
func (e *env) validate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var f checkFlags
	f.register(fs)
	var t targetFlags
	fs.StringVar(&t.target, "target", "", "judge as create --target `TARGET` would, sending nothing: emulator (adds the emulator's directory and its\n"+
		"default caller, megan@contoso.com) or a running emulator's URL (default: only what the flags say)")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "", err)
	}
	f.visit(fs)
	if len(pos) != 1 {
		return usagef("validate: want one FILE (or - for standard input), got %d arguments", len(pos))
	}
	if err := f.check(); err != nil {
		return err
	}
	target := &t
	switch t.target {
	case "":
		target = nil
	case "graph":
		return usagef("--target graph: validate never signs in; give the token with --token to judge a Microsoft Graph call")
	default:
		if _, err := t.baseURL(); err != nil {
			return err
		}
	}
	data, err := e.readInput(ctx, "", pos[0], maxBody)
	if err != nil {
		return err
	}
	req, err := policy.ParseCreateChat(data)
	if err != nil {
		return usagef("%s: %v", inputName(pos[0]), err)
	}
	k, err := e.know(ctx, &f, target, nil, []policy.Operation{policy.OpCreateChat})
	if err != nil {
		return err
	}
	if exp, ok := tokenExpiry(k.token); ok && !exp.After(time.Now()) && !e.json {
		fmt.Fprintf(e.stderr, "warning: the token expired at %s: create would refuse to use it\n", exp.UTC().Format(time.RFC3339))
	}
	res := k.judge(req)
	e.printVerdict(res, "refused")
	if !res.Allowed() {
		return errRefused
	}
	return nil
}
