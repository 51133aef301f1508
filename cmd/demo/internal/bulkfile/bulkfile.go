// Package bulkfile reads the input of "demo bulk": chats to create, one a
// line, as CSV or JSON Lines. It checks the shape of each line; the rules of
// Microsoft Graph are left to package policy, so that they are reported
// with their codes.
package bulkfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Member is one member of a chat to create.
type Member struct {
	User     string `json:"user"`
	Kind     string `json:"kind,omitempty"`     // "" or member, guest, external
	TenantID string `json:"tenantId,omitempty"` // external users' home tenant
	Role     string `json:"role,omitempty"`     // "" (from the kind), owner or guest
}

// Chat is one line: a chat to create.
type Chat struct {
	Line    int      `json:"-"`
	Type    string   `json:"type"` // oneOnOne or group
	Topic   string   `json:"topic,omitempty"`
	Members []Member `json:"members"`
}

// LineError is a line that cannot be read. It does not stop the others.
type LineError struct {
	Line int
	Msg  string
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Read reads CSV (a header with the columns type, topic and members; members
// separated by ";", each USER, USER(guest) or USER(external:TENANT)) or
// JSON Lines (one {"type","topic","members":[{"user","kind","tenantId","role"}]}
// a line). Blank lines and lines starting with # are skipped. Lines that
// cannot be read come back as LineErrors, in order; the error is for input
// that cannot be read at all.
func Read(r io.Reader, format string) ([]Chat, []LineError, error) {
	switch format {
	case "csv":
		return readCSV(r)
	case "jsonl":
		return readJSONL(r)
	}
	return nil, nil, fmt.Errorf("format %q: want csv or jsonl", format)
}

func readJSONL(r io.Reader) ([]Chat, []LineError, error) {
	var chats []Chat
	var bad []LineError
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		var c Chat
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			bad = append(bad, LineError{n, "not a chat object: " + err.Error()})
			continue
		}
		if dec.More() {
			bad = append(bad, LineError{n, "more than one JSON value on the line"})
			continue
		}
		c.Line = n
		if err := c.check(); err != nil {
			bad = append(bad, LineError{n, err.Error()})
			continue
		}
		chats = append(chats, c)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading the input: %w", err)
	}
	return chats, bad, nil
}

func readCSV(r io.Reader) ([]Chat, []LineError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, name := range []string{"type", "members"} {
		if _, ok := col[name]; !ok {
			return nil, nil, fmt.Errorf("the CSV header %q lacks the column %q (want type,topic,members)", strings.Join(header, ","), name)
		}
	}
	var chats []Chat
	var bad []LineError
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return chats, bad, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return chats, bad, fmt.Errorf("reading the input: %w", err)
			}
			// The reader goes on after the bad record; if the error took
			// the rest of the input (an unclosed quote), the next read ends.
			bad = append(bad, LineError{max(pe.StartLine, 1), pe.Err.Error()})
			continue
		}
		line, _ := cr.FieldPos(0) // only after a successful read: it panics otherwise
		field := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		c := Chat{Line: line, Type: field("type"), Topic: field("topic")}
		var perr error
		for _, tok := range strings.Split(field("members"), ";") {
			if tok = strings.TrimSpace(tok); tok == "" {
				continue
			}
			m, err := parseMember(tok)
			if err != nil {
				perr = err
				break
			}
			c.Members = append(c.Members, m)
		}
		if perr == nil {
			perr = c.check()
		}
		if perr != nil {
			bad = append(bad, LineError{line, perr.Error()})
			continue
		}
		chats = append(chats, c)
	}
}

// parseMember reads USER, USER(guest) or USER(external:TENANT).
func parseMember(tok string) (Member, error) {
	user, rest, ok := strings.Cut(tok, "(")
	if !ok {
		return Member{User: tok}, nil
	}
	inner, ok := strings.CutSuffix(rest, ")")
	if !ok {
		return Member{}, fmt.Errorf("member %q: want USER, USER(guest) or USER(external:TENANT)", tok)
	}
	kind, tenant, _ := strings.Cut(inner, ":")
	return Member{User: strings.TrimSpace(user), Kind: strings.TrimSpace(kind), TenantID: strings.TrimSpace(tenant)}, nil
}

// check checks the line's shape.
func (c Chat) check() error {
	if c.Type != "oneOnOne" && c.Type != "group" {
		return fmt.Errorf("type %q: want oneOnOne or group", c.Type)
	}
	for i, m := range c.Members {
		switch {
		case m.User == "":
			return fmt.Errorf("members[%d]: no user", i)
		case m.Kind != "" && m.Kind != "member" && m.Kind != "guest" && m.Kind != "external":
			return fmt.Errorf("members[%d]: kind %q: want member, guest or external", i, m.Kind)
		case m.Kind == "external" && m.TenantID == "":
			return fmt.Errorf("members[%d]: external user %q without its tenant", i, m.User)
		case m.Kind != "external" && m.TenantID != "":
			return fmt.Errorf("members[%d]: tenantId is for external users", i)
		case m.Role != "" && m.Role != "owner" && m.Role != "guest":
			return fmt.Errorf("members[%d]: role %q: want owner or guest", i, m.Role)
		}
	}
	return nil
}
