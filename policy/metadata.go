package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Scheme is a permission type in Microsoft's permissions metadata.
type Scheme string

// Schemes of the permissions metadata.
const (
	SchemeDelegatedWork     Scheme = "DelegatedWork"
	SchemeDelegatedPersonal Scheme = "DelegatedPersonal"
	SchemeApplication       Scheme = "Application"
)

// SchemeFor returns the metadata scheme of an auth type (work or school
// accounts for delegated).
func SchemeFor(auth AuthType) Scheme {
	if auth == AuthApplication {
		return SchemeApplication
	}
	return SchemeDelegatedWork
}

// Metadata is Microsoft's Graph permissions metadata, the "permissions.json"
// of the microsoftgraph/microsoft-graph-devx-content repository, indexed for
// look-ups by method and path. It is immutable and safe for concurrent use.
type Metadata struct {
	permissions int
	// byLen indexes path templates by their number of segments.
	byLen map[int][]*template
}

type template struct {
	path     string   // as written in the metadata
	segments []string // lower-cased; "" stands for a {parameter}
	literals int
	grants   []MetadataGrant
}

// MetadataGrant is one permission that allows a method on a path template.
type MetadataGrant struct {
	Permission           string `json:"permission"`
	Scheme               Scheme `json:"scheme"`
	Method               string `json:"method"`
	Least                bool   `json:"least"`
	PrivilegeLevel       int    `json:"privilegeLevel"`
	RequiresAdminConsent bool   `json:"requiresAdminConsent"`
	RSC                  bool   `json:"rsc"` // resource-specific consent
}

type metadataFile struct {
	Permissions map[string]struct {
		AuthorizationType string `json:"authorizationType"`
		Schemes           map[Scheme]struct {
			RequiresAdminConsent bool `json:"requiresAdminConsent"`
			PrivilegeLevel       int  `json:"privilegeLevel"`
		} `json:"schemes"`
		PathSets []struct {
			SchemeKeys []Scheme          `json:"schemeKeys"`
			Methods    []string          `json:"methods"`
			Paths      map[string]string `json:"paths"`
		} `json:"pathSets"`
	} `json:"permissions"`
}

// ParseMetadata reads permissions metadata in Microsoft's format: each
// permission has schemes (DelegatedWork, DelegatedPersonal, Application)
// with a privilege level, and path sets of scheme keys, methods and paths,
// where a path's value "least=DelegatedWork,Application" marks the
// permission as least privileged for those schemes.
func ParseMetadata(data []byte) (*Metadata, error) {
	var f metadataFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("policy: permissions metadata: %w", err)
	}
	if f.Permissions == nil {
		return nil, fmt.Errorf("policy: permissions metadata: no \"permissions\" object")
	}
	m := &Metadata{permissions: len(f.Permissions), byLen: map[int][]*template{}}
	byPath := map[string]*template{}
	names := make([]string, 0, len(f.Permissions))
	for name := range f.Permissions {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := f.Permissions[name]
		rsc := strings.EqualFold(p.AuthorizationType, "RSC")
		for _, ps := range p.PathSets {
			for path, value := range ps.Paths {
				least := parseLeast(value)
				key := strings.ToLower(path)
				t := byPath[key]
				if t == nil {
					t = newTemplate(path)
					byPath[key] = t
					m.byLen[len(t.segments)] = append(m.byLen[len(t.segments)], t)
				}
				for _, s := range ps.SchemeKeys {
					sc := p.Schemes[s]
					for _, meth := range ps.Methods {
						t.grants = append(t.grants, MetadataGrant{
							Permission: name, Scheme: s, Method: strings.ToUpper(meth),
							Least: slices.Contains(least, s), PrivilegeLevel: sc.PrivilegeLevel,
							RequiresAdminConsent: sc.RequiresAdminConsent, RSC: rsc,
						})
					}
				}
			}
		}
	}
	for _, ts := range m.byLen {
		slices.SortFunc(ts, func(a, b *template) int { return strings.Compare(a.path, b.path) })
	}
	return m, nil
}

func parseLeast(v string) []Scheme {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "least=")
	if !ok {
		return nil
	}
	var out []Scheme
	for _, s := range strings.Split(rest, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, Scheme(s))
		}
	}
	return out
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func newTemplate(path string) *template {
	t := &template{path: path}
	for _, s := range splitPath(path) {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			t.segments = append(t.segments, "")
			continue
		}
		t.segments = append(t.segments, strings.ToLower(s))
		t.literals++
	}
	return t
}

// Permissions returns the number of permissions in the metadata.
func (m *Metadata) Permissions() int { return m.permissions }

// Match returns the path template that matches a concrete path, such as
// "/chats/{id}/members" for "/chats/19:abc@thread.v2/members". A leading
// /v1.0 or /beta, a query and a trailing slash are ignored; literal segments
// compare case-insensitively and win over parameters. ok is false when no
// template matches.
func (m *Metadata) Match(path string) (template string, ok bool) {
	t := m.match(path)
	if t == nil {
		return "", false
	}
	return t.path, true
}

func (m *Metadata) match(path string) *template {
	path, _, _ = strings.Cut(path, "?")
	segs := splitPath(path)
	if len(segs) > 0 && (segs[0] == "v1.0" || segs[0] == "beta") {
		segs = segs[1:]
	}
	var best *template
	for _, t := range m.byLen[len(segs)] {
		if t.matches(segs) && (best == nil || t.literals > best.literals || t.literals == best.literals && t.morePrecise(best)) {
			best = t
		}
	}
	return best
}

func (t *template) matches(segs []string) bool {
	for i, s := range t.segments {
		if s == "" {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if !strings.EqualFold(s, segs[i]) {
			return false
		}
	}
	return true
}

// morePrecise breaks ties between templates with as many literal segments:
// the one whose first literal comes earlier wins, so /users/delta/{id} is
// preferred to /users/{id}/delta for /users/delta/delta.
func (t *template) morePrecise(o *template) bool {
	for i := range t.segments {
		if (t.segments[i] == "") != (o.segments[i] == "") {
			return t.segments[i] != ""
		}
	}
	return false
}

// Lookup returns the permissions that allow method on path for a scheme,
// least privileged first, then by privilege level and name. template is the
// matched path template, "" when none matched.
func (m *Metadata) Lookup(method, path string, scheme Scheme) (template string, grants []MetadataGrant) {
	t := m.match(path)
	if t == nil {
		return "", nil
	}
	method = strings.ToUpper(method)
	for _, g := range t.grants {
		if g.Method == method && g.Scheme == scheme {
			grants = append(grants, g)
		}
	}
	slices.SortStableFunc(grants, func(a, b MetadataGrant) int {
		switch {
		case a.Least != b.Least:
			if a.Least {
				return -1
			}
			return 1
		case a.PrivilegeLevel != b.PrivilegeLevel:
			return a.PrivilegeLevel - b.PrivilegeLevel
		}
		return strings.Compare(a.Permission, b.Permission)
	})
	return t.path, grants
}

// Judge judges a grant for one method and path with the engine Evaluate
// uses for the chat catalogue: the permission that allows it (least
// privileged first), whether none does, and which granted permissions that
// allow it are not least privileged for it. A mode other than ModeWarn (the
// default), ModeStrict and ModeOff is an error.
func (m *Metadata) Judge(method, path string, scheme Scheme, granted []string, mode Mode) (*PathDecision, error) {
	if mode == "" {
		mode = ModeWarn
	}
	if err := mode.Validate(); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	tmpl, grants := m.Lookup(method, path, scheme)
	if tmpl == "" {
		return nil, fmt.Errorf("policy: no permission metadata for path %q", path)
	}
	if len(grants) == 0 {
		return nil, fmt.Errorf("policy: no %s permission allows %s %s", scheme, strings.ToUpper(method), tmpl)
	}
	d := &PathDecision{Template: tmpl, Method: strings.ToUpper(method), Scheme: scheme, Grants: grants}
	n := pathNeed(d.Method+" "+tmpl, grants)
	d.Least = n.acceptable
	known := func(p string) (string, bool) { return findFold(n.allows, p) }
	j := judgeGrant([]need{n}, granted, mode, known, excessText{needs: n.name, enough: strings.Join(n.acceptable, " or ")})
	d.AllowedBy, _ = known(j.allowedBy[0]) // as the metadata spells it
	d.Excess, d.Violations, d.Warnings = j.excess, j.violations, j.warnings
	return d, nil
}

// pathNeed is the need of a method on a path, from the permissions that
// allow it, least privileged first: the least-privileged tenant-wide ones
// are acceptable or, when every least-privileged one is resource-specific
// consent, the first tenant-wide one.
func pathNeed(name string, grants []MetadataGrant) need {
	n := need{name: name}
	for _, g := range grants {
		n.allows = append(n.allows, g.Permission)
		if g.Least && !g.RSC {
			n.acceptable = append(n.acceptable, g.Permission)
		}
	}
	if len(n.acceptable) == 0 {
		for _, g := range grants {
			if !g.RSC {
				n.acceptable = append(n.acceptable, g.Permission)
				break
			}
		}
	}
	return n
}

// PathDecision is the judgement of a grant for one method and path.
type PathDecision struct {
	Template   string          `json:"template"`
	Method     string          `json:"method"`
	Scheme     Scheme          `json:"scheme"`
	Grants     []MetadataGrant `json:"grants"` // every permission that allows it, least privileged first
	Least      []string        `json:"least"`
	AllowedBy  string          `json:"allowedBy,omitempty"`
	Excess     []string        `json:"excess,omitempty"`
	Violations List            `json:"violations"`
	Warnings   List            `json:"warnings"`
}
