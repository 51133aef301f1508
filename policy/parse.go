package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MemberODataType is the @odata.type every member of POST /chats must carry.
const MemberODataType = "#microsoft.graph.aadUserConversationMember"

// SyntaxError reports a body that is not a JSON object. It is distinct from
// policy violations: nothing could be checked.
type SyntaxError struct {
	Offset int64 // byte offset of the error; 0 when it concerns the whole input
	Line   int   // 1-based line of Offset
	Column int   // 1-based column (in bytes) of Offset
	Msg    string
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return "policy: malformed body: " + e.Msg
	}
	return fmt.Sprintf("policy: malformed body at line %d, column %d (byte %d): %s", e.Line, e.Column, e.Offset, e.Msg)
}

// syntaxErrorAt locates an error at byte index at of data.
func syntaxErrorAt(data []byte, at int64, msg string) *SyntaxError {
	at = min(max(at, 0), int64(len(data)))
	line := 1 + bytes.Count(data[:at], []byte{'\n'})
	col := int(at) - bytes.LastIndexByte(data[:at], '\n')
	return &SyntaxError{Offset: at, Line: line, Column: col, Msg: msg}
}

var (
	knownChatProps   = []string{"@odata.type", "chatType", "topic", "members", "installedApps"}
	knownMemberProps = []string{"@odata.type", "roles", "user@odata.bind", "tenantId", "visibleHistoryStartDateTime", "displayName", "userId", "email", "id"}
)

// misspelt bind keys seen in published samples (the Python and Go snippets
// of the create-chat docs) and reports.
// Keys that differ from "user@odata.bind" only in letter case are
// property_case violations instead.
var bindKeyTypos = []string{"user@odata_bind", "odataBind", "user@data.bind", "user@odata.bind "}

// ParseCreateChat parses the exact JSON body that POST /chats receives into a
// Request. Problems of shape (a wrong @odata.type, a misspelt bind key, a
// bind URL that is not a Microsoft Graph user URL, a property of the wrong
// type, unknown properties) are kept in the Request and reported by Check
// with the rules, in input order, as are what encoding/json would hide: a
// key given twice in one object (duplicate_key), a key that differs from a
// defined property only in letter case (property_case), and a string value
// that is not valid UTF-8 or holds an unpaired surrogate escape
// (invalid_text). A UTF-8 byte-order mark at the start is skipped. The error
// is non-nil, a *SyntaxError, only when the input is empty, not JSON, or not
// a JSON object.
func ParseCreateChat(data []byte) (*Request, error) {
	body, p, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	r := &Request{}
	p.chat(body, r)
	r.problems, r.warnings = p.violations, p.warnings
	return r, nil
}

// parseObject decodes a request body that must be a JSON object, skipping a
// UTF-8 byte-order mark (positions in errors still count it), and returns
// its properties with the parser that reads them, which holds what the
// walker found and encoding/json hides: keys given twice and strings that
// are not valid text.
func parseObject(data []byte) (map[string]json.RawMessage, *parser, error) {
	orig, skip := data, int64(0)
	if bytes.HasPrefix(data, utf8BOM) {
		data, skip = data[len(utf8BOM):], int64(len(utf8BOM))
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, nil, &SyntaxError{Msg: "empty input: want a JSON object"}
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// encoding/json's offset counts the bytes read, so the offending
			// byte is the one before it, unless the input ended early.
			at := se.Offset
			if at > 0 && !strings.Contains(se.Error(), "unexpected end") {
				at--
			}
			return nil, nil, syntaxErrorAt(orig, skip+at, se.Error())
		}
		return nil, nil, syntaxErrorAt(orig, int64(len(orig)), "invalid JSON")
	}
	if trimmed[0] != '{' {
		return nil, nil, syntaxErrorAt(orig, skip+int64(bytes.Index(data, trimmed[:1])), fmt.Sprintf("the body is a JSON %s: want an object", jsonKind(trimmed)))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, nil, &SyntaxError{Msg: err.Error()}
	}
	p := &parser{}
	w := walker{data: data, p: p}
	w.value()
	p.badText = w.badText
	return obj, p, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

type parser struct {
	checker
	badText []string // fields whose text was reported invalid
}

// reported reports whether field's text was already reported invalid.
// The field is formatted only when some text was reported.
func (p *parser) reportedText(field func() string) bool {
	if len(p.badText) == 0 {
		return false
	}
	return slices.Contains(p.badText, field())
}

// get returns the property name of obj, or, when it is absent or null, a
// key that differs from it only in letter case (reported as property_case
// by known). key is the key found.
func get(obj map[string]json.RawMessage, name string) (raw json.RawMessage, key string, ok bool) {
	if raw, ok := obj[name]; ok && !isNull(raw) {
		return raw, name, true
	}
	// Of several variants, the first in byte order, so that the answer does
	// not depend on the map's order.
	for k, v := range obj {
		if k != name && strings.EqualFold(k, name) && !isNull(v) && (!ok || k < key) {
			raw, key, ok = v, k, true
		}
	}
	return raw, key, ok
}

// known reports the keys of obj that are not among props: a key that differs
// from a defined property only in letter case is a violation (the service
// reads property names case-sensitively), any other is a warning unless
// skip says it is reported elsewhere.
func (p *parser) known(obj map[string]json.RawMessage, props []string, field func(string) string, what string, skip func(string) bool) {
	for _, k := range sortedKeys(obj) {
		if slices.Contains(props, k) {
			continue
		}
		if i := slices.IndexFunc(props, func(s string) bool { return strings.EqualFold(s, k) }); i >= 0 {
			p.violate(CodePropertyCase, field(k), fmt.Sprintf("property %q: property names are case-sensitive, write %q", k, props[i]))
			continue
		}
		if skip != nil && skip(k) {
			continue
		}
		p.warn(CodeUnknownProperty, field(k), fmt.Sprintf("property %q is not part of %s and will be ignored or rejected by the service", k, what))
	}
}

func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// str decodes a JSON string; ok is false (and a violation recorded) otherwise.
// The field is formatted only when the value is not a string.
func (p *parser) str(raw json.RawMessage, field func() string) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.violate(CodeFieldType, field(), fmt.Sprintf("a JSON %s: want a string", jsonKind(raw)))
		return "", false
	}
	return s, true
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (p *parser) chat(body map[string]json.RawMessage, r *Request) {
	p.known(body, knownChatProps, func(k string) string { return k }, "a POST /chats body", nil)
	if raw, key, ok := get(body, "@odata.type"); ok {
		if s, ok := p.str(raw, func() string { return key }); ok && s != "#microsoft.graph.chat" {
			p.violate(CodeODataType, key, fmt.Sprintf("%q: want \"#microsoft.graph.chat\" or no @odata.type", s))
		}
	}
	if raw, key, ok := get(body, "chatType"); ok {
		if s, ok := p.str(raw, func() string { return key }); ok {
			r.ChatType = ChatType(s)
		}
	}
	if raw, key, ok := get(body, "topic"); ok {
		if s, ok := p.str(raw, func() string { return key }); ok {
			r.Topic = &s
		}
	}
	if raw, key, ok := get(body, "members"); ok {
		var members []json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			p.violate(CodeFieldType, key, fmt.Sprintf("a JSON %s: want an array of members", jsonKind(raw)))
		} else {
			r.Members = make([]Member, len(members))
			r.userReported = make([]bool, len(members))
			for i, m := range members {
				r.Members[i], r.userReported[i] = p.member(key, i, m)
			}
		}
	}
	if raw, key, ok := get(body, "installedApps"); ok {
		var apps []json.RawMessage
		if err := json.Unmarshal(raw, &apps); err != nil {
			p.violate(CodeFieldType, key, fmt.Sprintf("a JSON %s: want an array of apps", jsonKind(raw)))
		} else {
			r.InstalledApps = len(apps)
		}
	}
}

// member parses members[i]; reported is true when a problem with its user
// reference was reported (so Check does not report it again).
func (p *parser) member(list string, i int, raw json.RawMessage) (m Member, reported bool) {
	field := func(name string) string { return fmt.Sprintf("%s[%d]%s", list, i, name) }
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		p.violate(CodeFieldType, field(""), fmt.Sprintf("a JSON %s: want a member object", jsonKind(raw)))
		return m, true
	}
	p.known(obj, knownMemberProps, func(k string) string { return field("." + k) }, "a chat member",
		func(k string) bool { return slices.Contains(bindKeyTypos, k) })

	switch raw, key, ok := get(obj, "@odata.type"); {
	case !ok:
		p.violate(CodeODataType, field(".@odata.type"), fmt.Sprintf("missing: want %q", MemberODataType))
	default:
		if s, ok := p.str(raw, func() string { return field("." + key) }); ok && s != MemberODataType {
			p.violate(CodeODataType, field("."+key), fmt.Sprintf("%q: want %q", s, MemberODataType))
		}
	}

	if raw, key, ok := get(obj, "roles"); ok {
		var roles []string
		if err := json.Unmarshal(raw, &roles); err != nil {
			p.violate(CodeFieldType, field("."+key), fmt.Sprintf("a JSON %s: want an array of strings such as [\"owner\"]", jsonKind(raw)))
		} else {
			m.Roles = make([]Role, len(roles))
			for j, s := range roles {
				m.Roles[j] = Role(s)
			}
		}
	}

	if raw, key, ok := get(obj, "tenantId"); ok {
		if s, ok := p.str(raw, func() string { return field("." + key) }); ok {
			m.TenantID = s
			// Text that is not valid is reported once, as invalid_text
			// (here or by Check), not as a malformed tenant id too.
			if validText(s) && !p.reportedText(func() string { return field("." + key) }) && !IsObjectID(s) {
				p.violate(CodeFieldType, field("."+key), fmt.Sprintf("%q: want a tenant id (GUID)", s))
			}
		}
	}

	m.User, reported = p.user(obj, field)
	return m, reported
}

// user reads a member's user from its bind URL. reported is true when the
// bind key is missing, or the bind URL is not text, not valid text or not a
// user's bind URL; a misspelt bind key is reported and read.
func (p *parser) user(obj map[string]json.RawMessage, field func(string) string) (user string, reported bool) {
	rawBind, bindKey, ok := get(obj, "user@odata.bind")
	if !ok {
		var typo string
		for _, t := range bindKeyTypos {
			if r, found := obj[t]; found {
				typo, rawBind, ok = t, r, true
				break
			}
		}
		switch {
		case typo != "":
			p.violate(CodeBindKey, field("."+typo), fmt.Sprintf("the bind key is written %q: the service reads only \"user@odata.bind\"", typo))
			bindKey = typo
		default:
			p.violate(CodeBindMissing, field(".user@odata.bind"), "missing: want \"user@odata.bind\": \"https://graph.microsoft.com/v1.0/users('{id or userPrincipalName}')\"")
			return "", true
		}
	}
	bindField := func() string { return field("." + bindKey) }
	s, ok := p.str(rawBind, bindField)
	if !ok || p.reportedText(bindField) {
		return "", true
	}
	if !validText(s) {
		p.violate(CodeInvalidText, field("."+bindKey), fmt.Sprintf("%+q: %s", truncate(s, 200), textProblem(s)))
		return "", true
	}
	b, err := ParseBindURL(s)
	switch {
	case errors.Is(err, errEmptyKey):
		p.violate(CodeUserMissing, field("."+bindKey), fmt.Sprintf("%q: empty user: want the user's object id or user principal name", truncate(s, 200)))
		return "", true
	case err != nil:
		p.violate(CodeBindURL, field("."+bindKey), fmt.Sprintf("%q: %v", truncate(s, 200), err))
		return "", true
	}
	return b.User, false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// CheckJSON parses a raw POST /chats body and checks it. The error is a
// *SyntaxError when the body cannot be read; otherwise use Result.Err.
func CheckJSON(data []byte, c *Context) (*Result, error) {
	r, err := ParseCreateChat(data)
	if err != nil {
		return nil, err
	}
	return Check(r, c), nil
}

// String returns the chat type's wire value.
func (t ChatType) String() string { return string(t) }
