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
	"slices"
	"strings"
)

// Member is one member of a chat to create.
type Member struct {
	User     string `json:"user"`
	Kind     string `json:"kind,omitempty"`     // "" or member, guest, external
	TenantID string `json:"tenantId,omitempty"` // external users' home tenant
	Role     string `json:"role,omitempty"`     // "" (from the kind), owner or guest
}

// Chat is one line: a chat to create, and optionally a first message to
// post in it.
type Chat struct {
	Line    int      `json:"-"`
	Type    string   `json:"type"` // oneOnOne or group
	Topic   string   `json:"topic,omitempty"`
	Members []Member `json:"members"`
	Message *Message `json:"message,omitempty"`
}

// Message is a line's first message: in JSON Lines a string (plain text) or
// {"text": "...", "html": true}; in CSV the column message (plain text).
type Message struct {
	Text string `json:"text"`
	HTML bool   `json:"html,omitempty"` // the text is HTML
}

// UnmarshalJSON reads a string or an object with text and html.
func (m *Message) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		m.HTML = false
		return json.Unmarshal(data, &m.Text)
	}
	var obj struct {
		Text *string `json:"text"`
		HTML bool    `json:"html"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("message: want a string or {\"text\": \"...\", \"html\": false}: %v", err)
	}
	if obj.Text == nil {
		return errors.New(`message: no "text"`)
	}
	m.Text, m.HTML = *obj.Text, obj.HTML
	return nil
}

// HasMessages reports whether an input may carry messages, without reading
// it as chats: a CSV input when its header has the column message, a JSON
// Lines input when a line has a "message" member (lines that mention the
// word are decoded to tell). It reads the input to its end at most.
func HasMessages(r io.Reader, format string) (bool, error) {
	switch format {
	case "csv":
		rd, err := NewReader(r, format)
		if err != nil {
			return false, err
		}
		_, ok := rd.col["message"]
		return ok, nil
	case "jsonl":
		lr := newLineReader(r)
		key := []byte(`"message"`)
		for {
			line, _, err := lr.next()
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			if line == nil || !bytes.Contains(line, key) {
				continue // an over-long line is refused when read
			}
			var probe struct {
				Message json.RawMessage `json:"message"`
			}
			if json.Unmarshal(line, &probe) == nil && len(probe.Message) > 0 && string(probe.Message) != "null" {
				return true, nil
			}
		}
	}
	return false, fmt.Errorf("format %q: want csv or jsonl", format)
}

// LineError is a line that cannot be read. It does not stop the others.
type LineError struct {
	Line int
	Msg  string
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Read reads a whole input: CSV (a header with the columns type, topic,
// members and, optionally, message; members separated by ";", each USER,
// USER(guest) or USER(external:TENANT)) or JSON Lines (one
// {"type","topic","members":[{"user","kind","tenantId","role"}],"message"}
// a line).
// Blank lines and lines starting with # are skipped. Lines that cannot be
// read come back as LineErrors, in order; the error is for input that cannot
// be read at all. Programs that handle large inputs use NewReader.
func Read(r io.Reader, format string) ([]Chat, []LineError, error) {
	rd, err := NewReader(r, format)
	if err != nil {
		return nil, nil, err
	}
	var chats []Chat
	var bad []LineError
	for {
		c, err := rd.Next()
		var le *LineError
		switch {
		case err == nil:
			chats = append(chats, c)
		case errors.As(err, &le):
			bad = append(bad, *le)
		case errors.Is(err, io.EOF):
			return chats, bad, nil
		default:
			return nil, nil, err
		}
	}
}

// Reader reads an input a line at a time, in the formats Read describes.
type Reader struct {
	lr     *lineReader    // jsonl
	cr     *csv.Reader    // csv
	col    map[string]int // csv: the column of each name
	header []string
}

// MaxLine is the longest line a Reader accepts: 1 MiB, far more than a
// chat of 250 members and a 28 KB message take. A longer JSON Lines line is
// a LineError (the others are read); a longer CSV line stops the reading
// (a CSV record may span lines), with an error naming it.
const MaxLine = 1 << 20

// maxQuote is the most of a value of the input a message quotes.
const maxQuote = 64

// quote quotes a value of the input for a message, cut to maxQuote
// characters.
func quote(s string) string {
	r := []rune(s)
	if len(r) <= maxQuote {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q… (%d bytes)", string(r[:maxQuote]), len(s))
}

// errLineTooLong is a line longer than MaxLine.
func errLineTooLong(line int) error {
	return fmt.Errorf("line %d: longer than %d bytes (1 MiB), the longest line bulk reads", line, MaxLine)
}

// lineReader reads lines of at most MaxLine bytes: a longer one is
// skipped to its end and reported.
type lineReader struct {
	br *bufio.Reader
	n  int // the number of the last line read
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its line break, or nil and tooLong
// when it is longer than MaxLine; io.EOF at the end.
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := l.br.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			if len(bytes.TrimRight(buf, "\r\n")) > MaxLine {
				tooLong, buf = true, nil
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) == 0 && !tooLong:
			return nil, false, io.EOF
		case err != nil && !errors.Is(err, io.EOF):
			return nil, false, err
		}
		l.n++
		if tooLong {
			return nil, true, nil
		}
		return bytes.TrimRight(buf, "\r\n"), false, nil
	}
}

// boundedLines passes an input through, failing at a line longer than
// MaxLine (for CSV, whose reader has no bound of its own).
type boundedLines struct {
	r    io.Reader
	line int // the current line, from 1
	len  int // bytes of the current line so far
}

func (b *boundedLines) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			b.line++
			b.len = 0
			continue
		}
		if b.len++; b.len > MaxLine {
			return i, errLineTooLong(b.line + 1)
		}
	}
	return n, err
}

// NewReader returns a reader of format "csv" or "jsonl". For CSV it reads
// the header, and fails when the header lacks a column.
func NewReader(r io.Reader, format string) (*Reader, error) {
	switch format {
	case "jsonl":
		return &Reader{lr: newLineReader(r)}, nil
	case "csv":
		cr := csv.NewReader(&boundedLines{r: r})
		cr.FieldsPerRecord = -1
		cr.Comment = '#'
		cr.ReuseRecord = true
		rd := &Reader{cr: cr, col: map[string]int{}}
		header, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rd, nil // empty: no line
		}
		if err != nil {
			return nil, fmt.Errorf("reading the CSV header: %w", err)
		}
		for i, h := range header {
			rd.col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
		}
		for _, name := range []string{"type", "members"} {
			if _, ok := rd.col[name]; !ok {
				return nil, fmt.Errorf("the CSV header %q lacks the column %q (want type,topic,members)", strings.Join(header, ","), name)
			}
		}
		rd.header = slices.Clone(header)
		return rd, nil
	}
	return nil, fmt.Errorf("format %q: want csv or jsonl", format)
}

// Next returns the next chat. A line that cannot be read is a *LineError;
// the reader goes on after it. At the end it returns io.EOF; any other
// error means the input cannot be read further.
func (r *Reader) Next() (Chat, error) {
	if r.lr != nil {
		return r.nextJSONL()
	}
	if r.header == nil {
		return Chat{}, io.EOF
	}
	return r.nextCSV()
}

func (r *Reader) nextJSONL() (Chat, error) {
	for {
		line, tooLong, err := r.lr.next()
		if errors.Is(err, io.EOF) {
			return Chat{}, io.EOF
		}
		if err != nil {
			return Chat{}, fmt.Errorf("reading the input: %w", err)
		}
		n := r.lr.n
		if tooLong {
			return Chat{}, &LineError{n, fmt.Sprintf("longer than %d bytes (1 MiB), the longest line bulk reads: not read", MaxLine)}
		}
		text := bytes.TrimSpace(line)
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		var c Chat
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return Chat{}, &LineError{n, "not a chat object: " + err.Error()}
		}
		if dec.More() {
			return Chat{}, &LineError{n, "more than one JSON value on the line"}
		}
		c.Line = n
		if err := c.check(); err != nil {
			return Chat{}, &LineError{n, err.Error()}
		}
		return c, nil
	}
}

func (r *Reader) nextCSV() (Chat, error) {
	rec, err := r.cr.Read()
	if errors.Is(err, io.EOF) {
		return Chat{}, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			return Chat{}, fmt.Errorf("reading the input: %w: not read further", err)
		}
		// The reader goes on after the bad record; if the error took
		// the rest of the input (an unclosed quote), the next read ends.
		return Chat{}, &LineError{max(pe.StartLine, 1), pe.Err.Error()}
	}
	line, _ := r.cr.FieldPos(0) // only after a successful read: it panics otherwise
	field := func(name string) string {
		if i, ok := r.col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	c := Chat{Line: line, Type: field("type"), Topic: field("topic")}
	if i, ok := r.col["message"]; ok && i < len(rec) && rec[i] != "" {
		c.Message = &Message{Text: rec[i]} // as written: spaces are the message's
	}
	for _, tok := range strings.Split(field("members"), ";") {
		if tok = strings.TrimSpace(tok); tok == "" {
			continue
		}
		m, err := parseMember(tok)
		if err != nil {
			return Chat{}, &LineError{line, err.Error()}
		}
		c.Members = append(c.Members, m)
	}
	if err := c.check(); err != nil {
		return Chat{}, &LineError{line, err.Error()}
	}
	return c, nil
}

// parseMember reads USER, USER(guest) or USER(external:TENANT).
func parseMember(tok string) (Member, error) {
	user, rest, ok := strings.Cut(tok, "(")
	if !ok {
		return Member{User: tok}, nil
	}
	inner, ok := strings.CutSuffix(rest, ")")
	if !ok {
		return Member{}, fmt.Errorf("member %s: want USER, USER(guest) or USER(external:TENANT)", quote(tok))
	}
	kind, tenant, _ := strings.Cut(inner, ":")
	return Member{User: strings.TrimSpace(user), Kind: strings.TrimSpace(kind), TenantID: strings.TrimSpace(tenant)}, nil
}

// check checks the line's shape.
func (c Chat) check() error {
	if c.Type != "oneOnOne" && c.Type != "group" {
		return fmt.Errorf("type %s: want oneOnOne or group", quote(c.Type))
	}
	if c.Message != nil && c.Message.Text == "" {
		return errors.New("message: empty (leave it out for none)")
	}
	for i, m := range c.Members {
		switch {
		case m.User == "":
			return fmt.Errorf("members[%d]: no user", i)
		case m.Kind != "" && m.Kind != "member" && m.Kind != "guest" && m.Kind != "external":
			return fmt.Errorf("members[%d]: kind %s: want member, guest or external", i, quote(m.Kind))
		case m.Kind == "external" && m.TenantID == "":
			return fmt.Errorf("members[%d]: external user %s without its tenant", i, quote(m.User))
		case m.Kind != "external" && m.TenantID != "":
			return fmt.Errorf("members[%d]: tenantId is for external users", i)
		case m.Role != "" && m.Role != "owner" && m.Role != "guest":
			return fmt.Errorf("members[%d]: role %s: want owner or guest", i, quote(m.Role))
		}
	}
	return nil
}
