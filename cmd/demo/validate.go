package main

import (
	"flag"

	"github.com/graphchat/graphchat/policy"
)

// validate checks a POST /chats body offline.
func (e *env) validate(args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var f checkFlags
	f.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "validate [flags] FILE|-", err)
	}
	f.visit(fs)
	if len(pos) != 1 {
		return usagef("validate: want one FILE (or - for standard input), got %d arguments", len(pos))
	}
	pc, err := f.context(policy.OpCreateChat)
	if err != nil {
		return err
	}
	k, err := f.knowledge()
	if err != nil {
		return err
	}
	data, err := e.readInput(pos[0])
	if err != nil {
		return err
	}
	req, err := policy.ParseCreateChat(data)
	if err != nil {
		return usagef("%s: %v", pos[0], err)
	}
	extra := k.apply(req, pc.TenantID)
	res := policy.Check(req, pc)
	res.Violations = append(res.Violations, extra...)
	return report(e.stdout, res, f.json)
}
