package policy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Operation names a chat operation of Microsoft Graph.
type Operation string

// Operations in the catalogue.
const (
	OpCreateChat   Operation = "create-chat"   // POST /chats
	OpAddMember    Operation = "add-member"    // POST /chats/{id}/members
	OpRemoveMember Operation = "remove-member" // DELETE /chats/{id}/members/{id}
	OpGetChat      Operation = "get-chat"      // GET /chats/{id}
	OpListMembers  Operation = "list-members"  // GET /chats/{id}/members
	OpListChats    Operation = "list-chats"    // GET /users/{id}/chats, GET /me/chats
	OpSendMessage  Operation = "send-message"  // POST /chats/{id}/messages
	OpGetUser      Operation = "get-user"      // GET /users/{id}, to learn a member's kind
	OpResolveUser  Operation = "resolve-user"  // GET /users/{id | userPrincipalName}?$select=id, a UPN to an object id
)

// Mode says how a grant more privileged than needed is treated.
type Mode string

// Modes. The zero value means ModeWarn.
const (
	ModeWarn   Mode = "warn"   // excess privilege is a warning
	ModeStrict Mode = "strict" // excess privilege is a violation
	ModeOff    Mode = "off"    // no permission findings at all
)

// Validate returns nil for ModeWarn, ModeStrict and ModeOff, and otherwise
// a [Violation] saying what is expected. The zero value is not a mode here:
// a Grant reads it as ModeWarn before.
func (m Mode) Validate() error {
	if v, bad := modeViolation(m, ""); bad {
		return v
	}
	return nil
}

// modeViolation is the one check of a mode; an unknown mode is reported as
// an unknown operation (CodeOperation) on field.
func modeViolation(m Mode, field string) (Violation, bool) {
	switch m {
	case ModeWarn, ModeStrict, ModeOff:
		return Violation{}, false
	}
	return Violation{Code: CodeOperation, Field: field, Message: fmt.Sprintf("mode %q: want %q, %q or %q", m, ModeWarn, ModeStrict, ModeOff)}, true
}

// Grant is the set of permissions an app selected or holds (delegated
// scopes or application roles) with the operations it performs.
type Grant struct {
	Permissions []string
	Operations  []Operation
	Mode        Mode
}

//go:embed catalog.json
var catalogJSON []byte

type catalogEntry struct {
	Least       []string `json:"least"`
	Higher      []string `json:"higher"`
	Unsupported string   `json:"unsupported"`
}

// catalogDeviation records the reference page's answer where the catalogue
// departs from it, and why.
type catalogDeviation struct {
	Reason    string        `json:"reason"`
	Reference PermissionSet `json:"reference"`
}

type catalogSources struct {
	Reference Source `json:"reference"`
	Metadata  struct {
		Source
		Delegated   PermissionSet `json:"delegated"`
		Application PermissionSet `json:"application"`
	} `json:"metadata"`
}

type catalogOp struct {
	Name        Operation                     `json:"name"`
	Method      string                        `json:"method"`
	Path        string                        `json:"path"`
	Note        string                        `json:"note"`
	Delegated   catalogEntry                  `json:"delegated"`
	Application catalogEntry                  `json:"application"`
	Deviations  map[AuthType]catalogDeviation `json:"deviations"`
	Sources     catalogSources                `json:"sources"`
}

type catalogFile struct {
	Source     string      `json:"source"`
	RSC        []string    `json:"rsc"`
	Operations []catalogOp `json:"operations"`
}

// PermissionSet is one answer to which permissions allow an operation: the
// least-privileged ones, any one of which is enough, and the higher ones.
type PermissionSet struct {
	Least  []string `json:"least"`
	Higher []string `json:"higher"`
}

// SourceKind says what kind of document a [Source] is.
type SourceKind string

// Source kinds.
const (
	// SourceReference is the operation's page of Microsoft's Graph v1.0 API
	// reference, whose Permissions section the catalogue follows.
	SourceReference SourceKind = "reference"
	// SourceMetadata is Microsoft's Graph permissions metadata
	// (permissions.json), looked up for the method and path graphchat calls.
	SourceMetadata SourceKind = "metadata"
)

// Source is a document a catalogue entry was read from, in a public GitHub
// repository.
type Source struct {
	Kind SourceKind `json:"kind"`
	// URL is the published page, for the reference.
	URL  string `json:"url,omitempty"`
	Repo string `json:"repo"`
	File string `json:"file"`
	// Commit is the commit of File that was read, empty when only the
	// published page was (see Note); Read is the date (YYYY-MM-DD) the
	// reference was read.
	Commit string `json:"commit,omitempty"`
	Read   string `json:"read,omitempty"`
	// Path is the path template looked up in the metadata.
	Path string `json:"path,omitempty"`
	Note string `json:"note,omitempty"`
}

// catalog is decoded once at package initialisation and never changed.
var catalog = func() catalogFile {
	var c catalogFile
	dec := json.NewDecoder(bytes.NewReader(catalogJSON))
	dec.DisallowUnknownFields() // a misspelt key would drop a source or a deviation silently
	if err := dec.Decode(&c); err != nil {
		panic("policy: embedded catalog.json: " + err.Error())
	}
	return c
}()

// CatalogSource says where the permission catalogue comes from.
func CatalogSource() string { return catalog.Source }

// OperationInfo describes one operation of the catalogue for one auth type.
type OperationInfo struct {
	Operation Operation `json:"operation"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	// Least are the least-privileged permissions, any one of which allows
	// the operation; Higher allow it too but grant more.
	Least  []string `json:"least"`
	Higher []string `json:"higher"`
	// Unsupported, when not empty, says why the operation cannot be done
	// with this auth type.
	Unsupported string `json:"unsupported,omitempty"`
	// Note, when not empty, is a remark on the entry.
	Note string `json:"note,omitempty"`
	// Sources are the documents the entry was read from: the API reference
	// page ([SourceReference]) first, then the permissions metadata
	// ([SourceMetadata]).
	Sources []Source `json:"sources"`
	// Reference is the API reference page's answer. Least and Higher are
	// the same unless Deviation says why the catalogue departs from the page.
	Reference PermissionSet `json:"reference"`
	Deviation string        `json:"deviation,omitempty"`
	// Metadata is the permissions metadata's answer for Method and the path
	// template of its Source, least privileged first.
	Metadata PermissionSet `json:"metadata"`
	// MetadataDiffers reports whether the reference page's least-privileged
	// permissions differ from the metadata's (as sets, ignoring letter case).
	// The catalogue follows the reference page.
	MetadataDiffers bool `json:"metadataDiffers"`
}

// Operations returns the catalogue's operations in a stable order.
func Operations() []Operation {
	out := make([]Operation, len(catalog.Operations))
	for i, o := range catalog.Operations {
		out[i] = o.Name
	}
	return out
}

// Describe returns the catalogue entry of op for auth, with its sources and
// the answers of the API reference page and of the permissions metadata.
func Describe(op Operation, auth AuthType) (OperationInfo, error) {
	o, ok := lookupOp(op)
	if !ok {
		return OperationInfo{}, fmt.Errorf("policy: unknown operation %q (want one of %s)", op, opNames())
	}
	e, err := o.entry(auth)
	if err != nil {
		return OperationInfo{}, err
	}
	if auth == "" {
		auth = AuthDelegated
	}
	ref := PermissionSet{Least: e.Least, Higher: e.Higher}
	dev, deviates := o.Deviations[auth]
	if deviates {
		ref = dev.Reference
	}
	meta := o.Sources.Metadata.Delegated
	if auth == AuthApplication {
		meta = o.Sources.Metadata.Application
	}
	refSrc, metaSrc := o.Sources.Reference, o.Sources.Metadata.Source
	refSrc.Kind, metaSrc.Kind = SourceReference, SourceMetadata
	return OperationInfo{Operation: o.Name, Method: o.Method, Path: o.Path,
		Least: slices.Clone(e.Least), Higher: slices.Clone(e.Higher), Unsupported: e.Unsupported, Note: o.Note,
		Sources:   []Source{refSrc, metaSrc},
		Reference: ref.clone(), Deviation: dev.Reason,
		Metadata:        meta.clone(),
		MetadataDiffers: !sameFold(ref.Least, meta.Least),
	}, nil
}

func (p PermissionSet) clone() PermissionSet {
	return PermissionSet{Least: slices.Clone(p.Least), Higher: slices.Clone(p.Higher)}
}

// sameFold reports whether two lists hold the same names, ignoring order,
// repeats and letter case.
func sameFold(a, b []string) bool {
	for _, s := range a {
		if !containsFold(b, s) {
			return false
		}
	}
	for _, s := range b {
		if !containsFold(a, s) {
			return false
		}
	}
	return true
}

func lookupOp(op Operation) (*catalogOp, bool) {
	for i := range catalog.Operations {
		if catalog.Operations[i].Name == op {
			return &catalog.Operations[i], true
		}
	}
	return nil, false
}

func opNames() string {
	names := make([]string, len(catalog.Operations))
	for i, o := range catalog.Operations {
		names[i] = string(o.Name)
	}
	return strings.Join(names, ", ")
}

// entry returns the operation's entry for auth ("" is AuthDelegated).
func (o *catalogOp) entry(auth AuthType) (catalogEntry, error) {
	switch auth {
	case AuthDelegated, "":
		return o.Delegated, nil
	case AuthApplication:
		return o.Application, nil
	}
	return catalogEntry{}, fmt.Errorf("policy: %w", auth.Validate())
}

// IsRSC reports whether a permission is resource-specific consent: granted
// per chat by its members, never present in a token.
func IsRSC(permission string) bool {
	return slices.ContainsFunc(catalog.RSC, func(s string) bool { return strings.EqualFold(s, permission) })
}

// acceptable returns the permissions that allow the operation without
// excess privilege and that can be in a token: the least-privileged ones
// that are not resource-specific consent or, when every least-privileged one
// is, the first tenant-wide permission that allows it.
func (e catalogEntry) acceptable() []string {
	var out []string
	for _, p := range e.Least {
		if !IsRSC(p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		for _, p := range e.Higher {
			if !IsRSC(p) {
				return []string{p}
			}
		}
	}
	return out
}

func (e catalogEntry) allows(p string) bool {
	eq := func(s string) bool { return strings.EqualFold(s, p) }
	return slices.ContainsFunc(e.Least, eq) || slices.ContainsFunc(e.Higher, eq)
}

// Minimal returns the smallest set of tenant-wide permissions, each
// least-privileged for some operation, that together allow every operation
// for the auth type. Resource-specific permissions are left out: they are
// granted per chat, not requested.
func Minimal(auth AuthType, ops ...Operation) ([]string, error) {
	entries, err := entriesFor(auth, ops)
	if err != nil {
		return nil, err
	}
	choices := make([][]string, len(entries))
	for i, e := range entries {
		choices[i] = e.acceptable()
	}
	return smallestCover(choices), nil
}

func entriesFor(auth AuthType, ops []Operation) ([]catalogEntry, error) {
	var out []catalogEntry
	for _, op := range ops {
		o, ok := lookupOp(op)
		if !ok {
			return nil, fmt.Errorf("policy: unknown operation %q (want one of %s)", op, opNames())
		}
		e, err := o.entry(auth)
		if err != nil {
			return nil, err
		}
		if e.Unsupported != "" {
			return nil, fmt.Errorf("policy: %s is not available with %s permissions: %s", op, auth, e.Unsupported)
		}
		out = append(out, e)
	}
	return out, nil
}

// smallestCover picks one permission from each choice list so that the
// union is smallest; ties go to the earliest choices. The lists are short
// (one or two names for at most eight operations), so it enumerates.
func smallestCover(choices [][]string) []string {
	var best []string
	var pick func(i int, set []string)
	pick = func(i int, set []string) {
		if best != nil && len(set) >= len(best) {
			return
		}
		if i == len(choices) {
			best = slices.Clone(set)
			return
		}
		for _, p := range choices[i] {
			if slices.Contains(set, p) {
				pick(i+1, set)
				return
			}
		}
		for _, p := range choices[i] {
			pick(i+1, append(set, p))
		}
	}
	pick(0, []string{})
	return best
}

// OperationDecision says which granted permission allows an operation.
type OperationDecision struct {
	Operation Operation `json:"operation"`
	// AllowedBy is the granted permission that allows it, least privileged
	// first; empty when none does.
	AllowedBy string `json:"allowedBy,omitempty"`
	// Least are the permissions that allow it with least privilege.
	Least []string `json:"least"`
}

// Decision is the judgement of a grant against the operations it serves.
type Decision struct {
	Auth       AuthType            `json:"auth"`
	Mode       Mode                `json:"mode"`
	Operations []OperationDecision `json:"operations"`
	// Minimal is the least-privileged set of permissions for the operations.
	Minimal []string `json:"minimal"`
	// Missing are operations no granted permission allows.
	Missing []Operation `json:"missing,omitempty"`
	// Excess are granted chat permissions the operations do not need: more
	// privileged than needed, or (Unneeded) allowing none of them.
	Excess []string `json:"excess,omitempty"`
	// Unneeded are the Excess permissions that allow none of the
	// operations, such as Chat.Create for add-member.
	Unneeded []string `json:"unneeded,omitempty"`
	// Unrelated are granted permissions the catalogue does not know (such as
	// User.Read or openid); they are not judged.
	Unrelated  []string `json:"unrelated,omitempty"`
	Violations List     `json:"violations"`
	Warnings   List     `json:"warnings"`
}

// Err returns the decision's violations as an error, or nil.
func (d *Decision) Err() error { return d.Violations.Err() }

// Evaluate judges a grant: which granted permission allows each operation,
// which operations no granted permission allows (a violation in every mode
// but off: the service would answer 403), and which granted permissions are
// more privileged than the operations need (a warning in ModeWarn, a
// violation in ModeStrict). Permission names compare case-insensitively.
func Evaluate(auth AuthType, g Grant) *Decision {
	if auth == "" {
		auth = AuthDelegated
	}
	mode := g.Mode
	if mode == "" {
		mode = ModeWarn
	}
	d := &Decision{Auth: auth, Mode: mode}
	var k checker
	if v, bad := modeViolation(mode, "grant.mode"); bad {
		k.add(v)
	}
	if v, bad := authViolation(auth, "grant"); bad {
		k.add(v)
		d.Violations, d.Warnings = k.violations, k.warnings
		return d
	}
	ops, needs := catalogNeeds(auth, g.Operations, &k)
	d.Minimal = minimalOf(needs)
	j := judgeGrant(needs, g.Permissions, mode,
		func(p string) (string, bool) { return p, knownPermission(auth, p) },
		excessText{needs: joinOps(ops), enough: strings.Join(d.Minimal, " and ")})
	for i, n := range needs {
		d.Operations = append(d.Operations, OperationDecision{Operation: ops[i], AllowedBy: j.allowedBy[i], Least: n.acceptable})
	}
	for _, i := range j.missing {
		d.Missing = append(d.Missing, ops[i])
	}
	d.Excess, d.Unneeded, d.Unrelated = j.excess, j.unneeded, j.unrelated
	d.Violations = append(k.violations, j.violations...)
	d.Warnings = append(k.warnings, j.warnings...)
	return d
}

// catalogNeeds returns the needs of the operations (repeats dropped) for
// auth, with the operations they are for, reporting an unknown operation or
// one not available for auth on k.
func catalogNeeds(auth AuthType, ops []Operation, k *checker) ([]Operation, []need) {
	var known []Operation
	var needs []need
	for i, op := range dedupOps(ops) {
		field := fmt.Sprintf("grant.operations[%d]", i)
		o, ok := lookupOp(op)
		if !ok {
			k.violate(CodeOperation, field, fmt.Sprintf("unknown operation %q: want one of %s", op, opNames()))
			continue
		}
		e, _ := o.entry(auth)
		if e.Unsupported != "" {
			k.violate(CodeOperationAuth, field, fmt.Sprintf("%s is not available with %s permissions: %s", op, auth, e.Unsupported))
			continue
		}
		known = append(known, op)
		acceptable := e.acceptable()
		// Name an acceptable permission first, then the least privileged other one.
		allows := append(append(slices.Clone(acceptable), e.Least...), e.Higher...)
		needs = append(needs, need{name: string(op), acceptable: acceptable, allows: allows})
	}
	return known, needs
}

// minimalOf returns the smallest set of permissions that has an acceptable
// one for every need.
func minimalOf(needs []need) []string {
	choices := make([][]string, len(needs))
	for i, n := range needs {
		choices[i] = n.acceptable
	}
	return smallestCover(choices)
}

func joinOps(ops []Operation) string {
	if len(ops) == 0 {
		return "no declared operation"
	}
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// knownPermission reports whether the catalogue lists p for any operation
// of the auth type.
func knownPermission(auth AuthType, p string) bool {
	for i := range catalog.Operations {
		e, _ := catalog.Operations[i].entry(auth)
		if e.allows(p) {
			return true
		}
	}
	return false
}

func dedupOps(ops []Operation) []Operation {
	var out []Operation
	for _, o := range ops {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// dedupFold drops empty names and repeats, comparing case-insensitively.
func dedupFold(in []string) []string {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !containsFold(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	_, ok := findFold(list, s)
	return ok
}

func findFold(list []string, s string) (string, bool) {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return x, true
		}
	}
	return "", false
}

// SplitPermissions splits a list of permissions written with spaces or
// commas, as in a token's scp claim or a command-line flag.
func SplitPermissions(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
}
