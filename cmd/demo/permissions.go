package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/graphchat/graphchat/policy"
)

// permissions prints the least-privileged permissions of operations, or of
// a Graph method and path from Microsoft's metadata, and judges a grant.
func (e *env) permissions(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("permissions", flag.ContinueOnError)
	ops := fs.String("op", "", "operations, comma-separated: "+strings.Join(opNames(), ", "))
	auth := fs.String("auth", "delegated", "delegated or application")
	scopes := fs.String("scopes", "", "a grant to judge: scopes (delegated) or roles (application), space- or comma-separated")
	strict := fs.Bool("strict", false, "permissions more privileged than needed are violations")
	asJSON := fs.Bool("json", false, "print one JSON object")
	metadata := fs.String("metadata", "", "Microsoft's permissions.json `file`, to judge any Graph path")
	method := fs.String("method", "", "HTTP `method` (GET, POST, PATCH, PUT or DELETE), with --metadata")
	path := fs.String("path", "", "Graph `path` such as /chats/19:x@thread.v2/members, with --metadata")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if len(pos) > 0 {
		return usagef("permissions takes no arguments, got %q", pos[0])
	}
	a := policy.AuthType(*auth)
	if err := a.Validate(); err != nil {
		return usagef("--auth: %v", err)
	}
	mode := policy.ModeWarn
	if *strict {
		mode = policy.ModeStrict
	}
	if *metadata != "" {
		if *ops != "" {
			return usagef("--op and --metadata conflict: --metadata judges one --method and --path")
		}
		m, err := methodAndPath(*method, *path)
		if err != nil {
			return err
		}
		if !set["scopes"] {
			mode = policy.ModeOff // no grant given: nothing to judge
		}
		return e.judgePath(ctx, *metadata, m, *path, a, policy.SplitPermissions(*scopes), mode, *asJSON)
	}
	if *method != "" || *path != "" {
		return usagef("--method and --path are for --metadata")
	}
	if *ops == "" {
		return usagef("permissions: want --op (one or more of %s) or --metadata", strings.Join(opNames(), ", "))
	}
	list, err := operationsFlag(*ops)
	if err != nil {
		return err
	}
	var grant *policy.Grant
	if set["scopes"] {
		grant = &policy.Grant{Permissions: policy.SplitPermissions(*scopes), Operations: list, Mode: mode}
	}
	return e.judgeOps(a, list, grant, *asJSON)
}

// methodAndPath checks --method and --path of --metadata and returns the
// method in upper case.
func methodAndPath(method, path string) (string, error) {
	if method == "" || path == "" {
		return "", usagef("--metadata needs --method and --path")
	}
	m := strings.ToUpper(method)
	switch m {
	case "GET", "POST", "PATCH", "PUT", "DELETE":
	default:
		return "", usagef("--method %q: want GET, POST, PATCH, PUT or DELETE", method)
	}
	if !strings.HasPrefix(path, "/") {
		return "", usagef("--path %q: want a Graph path starting with /, such as /chats", path)
	}
	return m, nil
}

// operationsFlag reads --op: operations of the catalogue, space- or
// comma-separated.
func operationsFlag(ops string) ([]policy.Operation, error) {
	var list []policy.Operation
	for _, o := range policy.SplitPermissions(ops) {
		if _, err := policy.Describe(policy.Operation(o), policy.AuthDelegated); err != nil {
			return nil, usagef("--op %q: want one or more of %s%s", o, strings.Join(opNames(), ", "), suggest(o, opNames()))
		}
		list = append(list, policy.Operation(o))
	}
	return list, nil
}

// judgeOps prints the catalogue entries of operations for auth, their
// least-privileged permissions and, when grant is not nil, its judgement.
func (e *env) judgeOps(a policy.AuthType, list []policy.Operation, grant *policy.Grant, asJSON bool) error {
	minimal, err := policy.Minimal(a, list...)
	if err != nil {
		return usagef("--op: %v", err)
	}
	infos := make([]policy.OperationInfo, len(list))
	for i, op := range list {
		if infos[i], err = policy.Describe(op, a); err != nil {
			return usagef("--op: %v", err)
		}
	}
	var d *policy.Decision
	if grant != nil {
		d = policy.Evaluate(a, *grant)
	}
	if asJSON {
		doc := permissionsDoc{Auth: a, Operations: list, Minimal: minimal, Entries: infos, Decision: d}
		if d != nil {
			allowed := d.Err() == nil
			doc.Allowed = &allowed
		}
		e.emit(doc)
	} else {
		names := make([]string, len(list))
		for i, op := range list {
			names[i] = string(op)
		}
		fmt.Fprintf(e.stdout, "least-privileged %s permissions for %s: %s\n", a, strings.Join(names, ", "), strings.Join(minimal, " "))
		for _, info := range infos {
			fmt.Fprintf(e.stdout, "  %-14s %-6s %-26s least %s", info.Operation, info.Method, info.Path, strings.Join(info.Least, " or "))
			if len(info.Higher) > 0 {
				fmt.Fprintf(e.stdout, "; also allowed by %s", strings.Join(info.Higher, ", "))
			}
			fmt.Fprintln(e.stdout)
			printSources(e.stdout, info)
		}
		if d != nil {
			e.printVerdict(&policy.Result{Violations: d.Violations, Warnings: d.Warnings, Permissions: d}, "refused")
		}
	}
	if d != nil && d.Err() != nil {
		return errRefused
	}
	return nil
}

// permissionsDoc is permissions' JSON document for --op.
type permissionsDoc struct {
	Auth       policy.AuthType    `json:"auth"`
	Operations []policy.Operation `json:"operations"`
	Minimal    []string           `json:"minimal"`
	// Entries are the catalogue entries of the operations, with their
	// sources and whether the reference page and the metadata differ.
	Entries  []policy.OperationInfo `json:"entries"`
	Allowed  *bool                  `json:"allowed,omitempty"`  // with --scopes
	Decision *policy.Decision       `json:"decision,omitempty"` // with --scopes
}

// printSources prints where a catalogue entry comes from and, when they
// disagree, the reference page's and the metadata's least-privileged
// permissions.
func printSources(w io.Writer, info policy.OperationInfo) {
	for _, src := range info.Sources {
		at := src.File
		if src.Commit != "" {
			at += " at " + src.Commit
		}
		switch src.Kind {
		case policy.SourceReference:
			fmt.Fprintf(w, "      reference page: %s (%s %s, read %s)\n", src.URL, src.Repo, at, src.Read)
		case policy.SourceMetadata:
			fmt.Fprintf(w, "      metadata: %s %s, %s %s\n", src.Repo, at, info.Method, src.Path)
		}
	}
	if info.MetadataDiffers {
		follows := "; the catalogue follows the reference page"
		if info.Deviation != "" {
			follows = ""
		}
		fmt.Fprintf(w, "      differs: least privileged on the reference page %s, in the metadata %s%s\n",
			orNone(info.Reference.Least), orNone(info.Metadata.Least), follows)
	}
	if info.Deviation != "" {
		fmt.Fprintf(w, "      departs from the reference page (least %s): %s\n", orNone(info.Reference.Least), info.Deviation)
	}
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, " or ")
}

func opNames() []string {
	var out []string
	for _, o := range policy.Operations() {
		out = append(out, string(o))
	}
	return out
}

func (e *env) judgePath(ctx context.Context, file, method, path string, auth policy.AuthType, granted []string, mode policy.Mode, asJSON bool) error {
	data, err := e.readInput(ctx, "--metadata", file, maxMetadata)
	if err != nil {
		return err
	}
	m, err := policy.ParseMetadata(data)
	if err != nil {
		return usagef("--metadata %s: %v", file, err)
	}
	d, err := m.Judge(method, path, policy.SchemeFor(auth), granted, mode)
	if err != nil {
		return usagef("%v", err)
	}
	if asJSON {
		e.emit(d)
	} else {
		fmt.Fprintf(e.stdout, "%s %s matches %s; least-privileged %s: %s\n", strings.ToUpper(method), path, d.Template, policy.SchemeFor(auth), strings.Join(d.Least, " or "))
		for _, g := range d.Grants {
			mark := " "
			if g.Least {
				mark = "*"
			}
			extra := ""
			if g.RSC {
				extra = " (resource-specific consent)"
			}
			fmt.Fprintf(e.stdout, "  %s %-32s privilege level %d%s\n", mark, g.Permission, g.PrivilegeLevel, extra)
		}
		if len(granted) > 0 {
			e.printVerdict(&policy.Result{Violations: d.Violations, Warnings: d.Warnings}, "refused")
		}
	}
	if d.Violations.Err() != nil {
		return errRefused
	}
	return nil
}
