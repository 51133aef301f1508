package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/graphchat/graphchat/cmd/demo/internal/bulkfile"
	"github.com/graphchat/graphchat/graphchat"
)

// The results file of "demo bulk" is JSON Lines: a header, then records
// appended as the runs go.
//
//	{"format":"graphchat-bulk-results","version":3,"input":"chats.csv","target":"http://127.0.0.1:8080/v1.0","tenant":"...","caller":"...","created":"..."}
//	{"key":"3f9c...","line":4,"status":"sent","at":"..."}
//	{"key":"3f9c...","line":4,"status":"created","id":"19:...","chatType":"group","at":"..."}
//
// A record's key is the identity of the chat its line asks for
// (bulkfile.Key), so that a run applies earlier records to the same chats
// however the input was edited in between; the line is informative. The
// header says what the records are about (resultsScope): a run against
// another service, tenant or caller would find none of those chats, so it
// is refused. Version 3 added the scope; earlier versions are refused.
const (
	resultsFormat  = "graphchat-bulk-results"
	resultsVersion = 3
	// maxRecord is the longest line of a results file.
	maxRecord = 1 << 20
)

type resultsHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Input   string `json:"input"` // the input's file name, without its directory
	resultsScope
	Created time.Time `json:"created"`
}

// targetEmbedded is the scope's target for the embedded emulator: a new,
// empty service each run, so that its results are never resumed.
const targetEmbedded = "emulator"

// resultsScope is what a results file's records are about: where the chats
// were created and by whom. A run resumes a results file only with the same
// scope.
type resultsScope struct {
	// Target is "emulator" (the embedded one), a running emulator's base
	// URL, or "graph:" and the cloud (graph:global).
	Target string `json:"target"`
	Tenant string `json:"tenant,omitempty"` // the caller's tenant id
	// Caller is the signed-in user (delegated), by object id when the
	// token says it, else as given; App is the application (app-only
	// calls), by app id or service principal id.
	Caller string `json:"caller,omitempty"`
	App    string `json:"app,omitempty"`
}

// describe names a scope in messages.
func (s resultsScope) describe() string {
	var who string
	switch {
	case s.App != "":
		who = "the application " + s.App
	case s.Caller != "":
		who = "the user " + s.Caller
	default:
		who = "an unknown caller"
	}
	tenant := s.Tenant
	if tenant == "" {
		tenant = "an unknown tenant"
	}
	target := s.Target
	if target == targetEmbedded {
		target = "the embedded emulator"
	}
	return fmt.Sprintf("%s, tenant %s, %s", target, tenant, who)
}

// same reports whether two scopes are about the same chats.
func (s resultsScope) same(o resultsScope) bool {
	return s.Target == o.Target && strings.EqualFold(s.Tenant, o.Tenant) &&
		strings.EqualFold(s.Caller, o.Caller) && strings.EqualFold(s.App, o.App)
}

// resultRecord is one record of the results file.
type resultRecord struct {
	Key       string `json:"key,omitempty"` // empty for a line that could not be read
	Line      int    `json:"line"`
	Status    string `json:"status"` // a status below
	FirstLine int    `json:"firstLine,omitempty"`
	ID        string `json:"id,omitempty"`
	ChatType  string `json:"chatType,omitempty"`
	// Message is the digest of the line's message (graphchat.MessageDigest)
	// on a chat record of a line that has one, and on message records.
	Message   string    `json:"message,omitempty"`
	MessageID string    `json:"messageId,omitempty"` // message-posted: the message's id
	Recovered bool      `json:"recovered,omitempty"` // message-posted: found by a lookup
	At        time.Time `json:"at"`
	Error     *errInfo  `json:"error,omitempty"`
	// Chat is the chat a "sent" record's line asks for (bulkfile.Chat.Spec),
	// so that a later run can look it up when the line is no longer in the
	// input.
	Chat *bulkfile.Chat `json:"chat,omitempty"`
}

type errInfo struct {
	Code      string   `json:"code,omitempty"`  // Graph's code, or the first policy code
	Codes     []string `json:"codes,omitempty"` // every policy code
	Status    int      `json:"status,omitempty"`
	Message   string   `json:"message"`
	RequestID string   `json:"requestId,omitempty"`
	// Candidates are the chats that match a line of --reuse, oldest first,
	// when there are several (code multiple_matches).
	Candidates []string `json:"candidates,omitempty"`
}

// Statuses of records: "sent" (written and synced before the request
// leaves), the outcomes of graphchat.Outcome, and duplicate_line (a line
// asking for the same chat as an earlier line of the same run: not sent).
//
// A line's first message has records of its own, with the chat's id in
// "id": "message-sent" (written and synced before the request leaves),
// then an outcome of graphchat.MessageOutcome, or "message-changed" (the
// line's message differs from the one an earlier run posted or sent: not
// posted).
//
// A chat sent without an answer whose line is no longer in the input (an
// orphan) is looked up at the end of a run: "orphan-recovered" (it exists:
// its id) or "orphan-absent" (it was not created); without a lookup it is
// recorded "unknown" again.
const (
	statusSent            = "sent"
	statusOrphanRecovered = "orphan-recovered"
	statusOrphanAbsent    = "orphan-absent"
	statusDuplicate       = "duplicate_line"
	statusMessageSent     = "message-sent"
	statusMessageChanged  = "message-changed"
)

// msgStatus is what is known of a line's message.
type msgStatus uint8

const (
	msgNone msgStatus = iota
	msgSent
	msgPosted
	msgFailed
	msgUnknown
	msgNotSent
	msgChanged
)

var msgStatusNames = map[string]msgStatus{
	statusMessageSent:                msgSent,
	string(graphchat.MessagePosted):  msgPosted,
	string(graphchat.MessageFailed):  msgFailed,
	string(graphchat.MessageUnknown): msgUnknown,
	string(graphchat.MessageNotSent): msgNotSent,
	statusMessageChanged:             msgChanged,
}

// msgState is what the records say of the message of a line's chat: kept
// only for lines with a message.
type msgState struct {
	chatID string
	status msgStatus
	digest string // of the message sent or posted
	sentAt int64  // Unix nanoseconds of the first message-sent record of that digest
}

// status is a key's state, small enough to keep one per line of a large input.
type status uint8

const (
	stNone status = iota
	stSent
	stCreated
	stExisting
	stRecovered
	stAccepted
	stRefused
	stFailed
	stUnknown
	stNotSent
	stAbsent // an orphan looked up and not found: never created
)

var statusNames = map[string]status{
	statusSent:                         stSent,
	string(graphchat.OutcomeCreated):   stCreated,
	string(graphchat.OutcomeExisting):  stExisting,
	string(graphchat.OutcomeRecovered): stRecovered,
	string(graphchat.OutcomeAccepted):  stAccepted,
	string(graphchat.OutcomeRefused):   stRefused,
	string(graphchat.OutcomeFailed):    stFailed,
	string(graphchat.OutcomeUnknown):   stUnknown,
	string(graphchat.OutcomeNotSent):   stNotSent,
	statusOrphanRecovered:              stRecovered,
	statusOrphanAbsent:                 stAbsent,
}

// done reports a status a re-run never sends again.
func (s status) done() bool {
	return s == stCreated || s == stExisting || s == stRecovered || s == stAccepted
}

// pending reports a status whose chat may exist though no answer said so.
func (s status) pending() bool { return s == stSent || s == stUnknown || s == stNotSent }

// orphan is a chat an earlier run sent without an answer: what its line
// asked for, kept until a record settles it.
type orphan struct {
	spec *bulkfile.Chat
	line int // its line in the run that sent it
}

// keyState is what is known of one chat: from earlier runs (status, when
// first sent) and from this run (the line that asked for it).
type keyState struct {
	status status
	sentAt int64 // Unix nanoseconds of the first "sent" record; 0 if never sent
	line   int32 // this run's line; 0 until read
}

// resultsWriter is where records go: the results file, or a fault-injecting
// wrapper in tests.
type resultsWriter interface {
	io.Writer
	Sync() error
}

// resultsFile is an open results file and the state its records give.
type resultsFile struct {
	name  string
	f     *os.File
	w     resultsWriter
	state map[bulkfile.Key]keyState
	msgs  map[bulkfile.Key]*msgState // lines with a message
	// sentSpecs are the chats sent without an answer so far (pending),
	// with what their lines asked for: those no line of the input asks
	// for any more are looked up at the end of the run.
	sentSpecs map[bulkfile.Key]orphan
	err       error // the first failed write or sync; nothing is written after it
}

// checkResultsPath refuses a results path that is a symbolic link, a
// directory or anything but a regular file.
func checkResultsPath(name string) error {
	st, err := os.Lstat(name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return usagef("--results %s: %v", name, errors.Unwrap(err))
	case st.Mode()&os.ModeSymlink != 0:
		return usagef("--results %s is a symbolic link: give the path of the file itself (links are not followed)", name)
	case st.IsDir():
		return usagef("--results %s is a directory: give a file, such as %s", name, filepath.Join(name, "results.jsonl"))
	case !st.Mode().IsRegular():
		return usagef("--results %s is not a regular file", name)
	}
	return nil
}

// openResults opens the results file for an input (creating it with its
// header when it does not exist), reads the state of its records, and
// leaves it open for appending. warn receives the notes of a repair.
func openResults(name, input string, scope resultsScope, warn func(string), wrap func(*os.File) resultsWriter) (*resultsFile, error) {
	if err := checkResultsPath(name); err != nil {
		return nil, err
	}
	inputName := filepath.Base(input)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_APPEND|openNoFollow, 0)
	existed := err == nil
	if errors.Is(err, os.ErrNotExist) {
		if err := createResults(name, inputName, scope); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(name, os.O_RDWR|os.O_APPEND|openNoFollow, 0)
	}
	if err != nil {
		return nil, usagef("opening --results %s: %v", name, errors.Unwrap(err))
	}
	r := &resultsFile{name: name, f: f, state: map[bulkfile.Key]keyState{}, msgs: map[bulkfile.Key]*msgState{}, sentSpecs: map[bulkfile.Key]orphan{}}
	if err := r.read(inputName, scope, existed, warn); err != nil {
		f.Close()
		return nil, err
	}
	r.w = f
	if wrap != nil {
		r.w = wrap(f)
	}
	return r, nil
}

// createResults writes a new results file with its header, atomically: a
// crash leaves either no file or a file with a whole header.
func createResults(name, input string, scope resultsScope) error {
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*")
	if err != nil {
		return usagef("creating --results %s: %v", name, errors.Unwrap(err))
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	data, _ := json.Marshal(resultsHeader{Format: resultsFormat, Version: resultsVersion, Input: input, resultsScope: scope, Created: time.Now().UTC()})
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		return fmt.Errorf("creating the results file %s: %w", name, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// read checks the header and applies every record. A record cut short by
// an interrupted write can only be the last line: it is removed, with a
// note. Any other line that is not a record refuses the file.
func (r *resultsFile) read(input string, scope resultsScope, existed bool, warn func(string)) error {
	br := bufio.NewReaderSize(r.f, 64<<10)
	var offset int64 // of the line being read
	for n := 1; ; n++ {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) && len(line) == 0 {
			if n == 1 { // empty: a new results file
				return r.writeHeader(input, scope)
			}
			return nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return usagef("results file %s line %d: longer than %d bytes: not a graphchat results file (choose another --results file)", r.name, n, maxRecord)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the results file %s: %w", r.name, err)
		}
		cut := errors.Is(err, io.EOF) // no final newline
		if n == 1 {
			if err := checkHeader(r.name, line, input, scope, existed); err != nil {
				return err
			}
			if cut {
				return usagef("results file %s: its header does not end with a newline: not a results file this program wrote", r.name)
			}
		} else if cut {
			warn(fmt.Sprintf("results file %s line %d: a record cut short by an interrupted run: removed", r.name, n))
			if err := r.f.Truncate(offset); err != nil {
				return fmt.Errorf("repairing the results file %s: %w", r.name, err)
			}
			return nil
		} else if err := r.apply(line); err != nil {
			return usagef("results file %s line %d: %v: the file is damaged; remove that line (a group chat it recorded as sent may then be created again) or start over with another --results file", r.name, n, err)
		}
		offset += int64(len(line)) + 1
	}
}

// readLine reads a line without its newline; bufio.ErrBufferFull when it is
// longer than maxRecord.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxRecord {
			return nil, bufio.ErrBufferFull
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, err
		}
	}
}

// checkHeader refuses a file that is not a results file of this format for
// this input and scope, saying what to do. A file that existed before this
// run is never resumed when it records a run on the embedded emulator.
func checkHeader(name string, line []byte, input string, scope resultsScope, existed bool) error {
	var h resultsHeader
	if err := json.Unmarshal(line, &h); err != nil || h.Format != resultsFormat {
		var old struct {
			Line   *int    `json:"line"`
			Status *string `json:"status"`
		}
		if json.Unmarshal(line, &old) == nil && old.Line != nil && old.Status != nil {
			return usagef("results file %s was written by an earlier version of demo bulk, which keyed records by line number: it cannot be applied safely to an input that may have changed. "+
				"Move it away and re-run: one-on-one chats it created come back as existing, but group chats it created would be created again; "+
				"to avoid that, finish the run with the earlier version first", name)
		}
		return usagef("%s is not a graphchat bulk results file (its first line is not a %q header): it is left untouched; choose another --results file", name, resultsFormat)
	}
	if h.Version == 2 {
		return usagef("results file %s has version 2 of the format, which does not say which service, tenant and caller its chats were created for: "+
			"it cannot be resumed safely; finish it with the program that wrote it, or delete it (or give another --results file) to start over", name)
	}
	if h.Version != resultsVersion {
		return usagef("results file %s has version %d of the format; this program reads version %d: use the program that wrote it, or another --results file", name, h.Version, resultsVersion)
	}
	if h.Input != input {
		return usagef("results file %s records the input %q, not %q: give each input its own --results file", name, h.Input, input)
	}
	if h.Target == targetEmbedded && existed {
		return usagef("results file %s records a run on the embedded emulator (--target emulator), a new, empty service each run: "+
			"the chats it records ended with that run, so it is never resumed; delete it, or give another --results file", name)
	}
	if !h.resultsScope.same(scope) {
		return usagef("results file %s records chats of %s; this run is for %s: its records say nothing of that service's chats. "+
			"Give this run another --results file, or delete that one to start over", name, h.resultsScope.describe(), scope.describe())
	}
	return nil
}

func (r *resultsFile) writeHeader(input string, scope resultsScope) error {
	data, _ := json.Marshal(resultsHeader{Format: resultsFormat, Version: resultsVersion, Input: input, resultsScope: scope, Created: time.Now().UTC()})
	if _, err := r.f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("writing the results file %s: %w", r.name, err)
	}
	if err := r.f.Sync(); err != nil {
		return fmt.Errorf("writing the results file %s: %w", r.name, err)
	}
	return nil
}

// apply applies one record to the state.
func (r *resultsFile) apply(line []byte) error {
	if len(bytes.TrimSpace(line)) == 0 {
		return errors.New("an empty line")
	}
	var rec resultRecord
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return fmt.Errorf("not a record (%v)", err)
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	if ms, ok := msgStatusNames[rec.Status]; ok {
		return r.applyMessage(rec, ms)
	}
	st, known := statusNames[rec.Status]
	if rec.Status == statusDuplicate {
		return nil // says nothing of the chat: its first line does
	}
	if !known {
		return fmt.Errorf("status %q is not one this program writes", rec.Status)
	}
	if rec.Key == "" {
		if st == stRefused {
			return nil // a line that could not be read
		}
		return fmt.Errorf("a %q record without a key", rec.Status)
	}
	k, err := bulkfile.ParseKey(rec.Key)
	if err != nil {
		return err
	}
	if rec.Message != "" && rec.ID != "" && st.done() {
		m := r.msgs[k]
		if m == nil {
			m = &msgState{}
			r.msgs[k] = m
		}
		m.chatID = rec.ID
	}
	s := r.state[k]
	if s.status.done() {
		return nil // a chat that exists stays so
	}
	if st == stSent && s.sentAt == 0 {
		s.sentAt = rec.At.UnixNano()
	}
	s.status = st
	r.state[k] = s
	switch {
	case st == stSent && rec.Chat != nil:
		r.sentSpecs[k] = orphan{spec: rec.Chat, line: rec.Line}
	case !st.pending():
		delete(r.sentSpecs, k)
	}
	return nil
}

// applyMessage applies a record of a line's message.
func (r *resultsFile) applyMessage(rec resultRecord, st msgStatus) error {
	if rec.Key == "" || rec.ID == "" || rec.Message == "" {
		return fmt.Errorf("a %q record without its key, chat id or message digest", rec.Status)
	}
	k, err := bulkfile.ParseKey(rec.Key)
	if err != nil {
		return err
	}
	s := r.state[k]
	if !s.status.done() { // a message goes only to a chat that exists
		s.status = stCreated
		r.state[k] = s
		delete(r.sentSpecs, k)
	}
	m := r.msgs[k]
	if m == nil {
		m = &msgState{}
		r.msgs[k] = m
	}
	m.chatID = rec.ID
	pending := m.status == msgSent || m.status == msgUnknown // sent, outcome not known
	switch {
	case st == msgChanged:
		return nil // a report: says nothing of what is in the chat
	case m.status == msgPosted:
		return nil // a posted message stays so
	case pending && rec.Message != m.digest:
		return nil // this program never sends another text while one is pending
	}
	if st == msgSent && !pending {
		m.sentAt = rec.At.UnixNano() // the first send of this text since the last sure outcome
	}
	m.status, m.digest = st, rec.Message
	return nil
}

// write appends a record; sync makes it durable before returning. After a
// failure nothing more is written and every call returns the failure.
func (r *resultsFile) write(rec resultRecord, sync bool) error {
	if r.err != nil {
		return r.err
	}
	data, _ := json.Marshal(redactRecord(rec))
	_, err := r.w.Write(append(data, '\n'))
	if err == nil && sync {
		err = r.w.Sync()
	}
	if err != nil {
		r.err = fmt.Errorf("writing the results file %s: %w", r.name, err)
	}
	return r.err
}

// writeSent appends the "sent" records of the lines of one request and
// syncs them, with one write and one sync.
func (r *resultsFile) writeSent(recs []resultRecord) error {
	if r.err != nil {
		return r.err
	}
	var buf []byte
	for _, rec := range recs {
		data, _ := json.Marshal(redactRecord(rec))
		buf = append(append(buf, data...), '\n')
	}
	_, err := r.w.Write(buf)
	if err == nil {
		err = r.w.Sync()
	}
	if err != nil {
		r.err = fmt.Errorf("writing the results file %s: %w", r.name, err)
	}
	return r.err
}

// redactRecord is a record as written: what may quote the input (an
// error's message, the chat a line asks for) has anything that looks like
// a token replaced (redact), as on standard error. The fields a re-run
// compares (key, chat id, message digest) are hashes and ids, left as they
// are.
func redactRecord(rec resultRecord) resultRecord {
	if rec.Error != nil {
		e := *rec.Error
		e.Message = redact(e.Message)
		rec.Error = &e
	}
	if rec.Chat != nil {
		c := *rec.Chat
		c.Topic = redact(c.Topic)
		c.Members = slices.Clone(c.Members)
		for i, m := range c.Members {
			c.Members[i].User, c.Members[i].TenantID = redact(m.User), redact(m.TenantID)
		}
		rec.Chat = &c
	}
	return rec
}

// redacted reports whether a recorded chat had something redacted: it
// cannot be looked up as it was asked for.
func redacted(c *bulkfile.Chat) bool {
	if strings.Contains(c.Topic, redactedToken) {
		return true
	}
	for _, m := range c.Members {
		if strings.Contains(m.User, redactedToken) || strings.Contains(m.TenantID, redactedToken) {
			return true
		}
	}
	return false
}

// close syncs and closes the file.
func (r *resultsFile) close() error {
	err := r.err
	if err == nil {
		if err = r.w.Sync(); err != nil {
			err = fmt.Errorf("writing the results file %s: %w", r.name, err)
		}
	}
	r.f.Close()
	return err
}
