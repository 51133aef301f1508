package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/graphchat/graphchat/cmd/demo/internal/bulkfile"
	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/policy"
)

// result is one record of the results file (JSON Lines).
type resultRecord struct {
	Line     int       `json:"line"`
	Status   string    `json:"status"` // sent, created, existing, recovered, accepted, refused, failed, unknown
	ID       string    `json:"id,omitempty"`
	ChatType string    `json:"chatType,omitempty"`
	At       time.Time `json:"at"`
	Error    *errInfo  `json:"error,omitempty"`

	sentAt time.Time // read back: when the line was first sent
}

type errInfo struct {
	Code      string   `json:"code,omitempty"`  // Graph's code, or the first policy code
	Codes     []string `json:"codes,omitempty"` // every policy code
	Status    int      `json:"status,omitempty"`
	Message   string   `json:"message"`
	RequestID string   `json:"requestId,omitempty"`
}

// done statuses are never redone by a re-run. A group whose status is sent
// (a crash) or unknown (an ambiguous failure) is looked up before anything.
var doneStatus = map[string]bool{"created": true, "existing": true, "recovered": true, "accepted": true}

// bulk creates the chats of a CSV or JSON Lines file.
func (e *env) bulk(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bulk", flag.ContinueOnError)
	var f checkFlags
	var t targetFlags
	f.register(fs)
	t.register(fs)
	results := fs.String("results", "", "results `file` (JSON Lines), written as items finish and read again to resume; default FILE.results.jsonl")
	format := fs.String("format", "", "input format, csv or jsonl (default: from the file's extension)")
	rate := fs.Float64("rate", 30, "creations per second at most (30 is Teams' limit per app and tenant)")
	concurrency := fs.Int("concurrency", 4, "$batch requests in flight")
	lookup := fs.Bool("lookup", true, "look group chats up after ambiguous failures before retrying (adds the list-chats permission: Chat.ReadBasic)")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "bulk [flags] FILE", err)
	}
	f.visit(fs)
	if len(pos) != 1 || pos[0] == "-" {
		return usagef("bulk: want one FILE (CSV or JSON Lines); standard input cannot be resumed")
	}
	input := pos[0]
	if *format == "" {
		switch strings.ToLower(filepath.Ext(input)) {
		case ".csv":
			*format = "csv"
		case ".jsonl", ".ndjson":
			*format = "jsonl"
		default:
			return usagef("bulk: cannot tell the format of %s: use --format csv or --format jsonl", input)
		}
	}
	if *rate <= 0 || *concurrency <= 0 {
		return usagef("--rate and --concurrency must be positive")
	}
	if *results == "" {
		*results = input + ".results.jsonl"
	}
	in, err := os.Open(input)
	if err != nil {
		return usagef("reading %s: %v", input, errors.Unwrap(err))
	}
	chats, bad, err := bulkfile.Read(in, *format)
	in.Close()
	if err != nil {
		return usagef("%s: %v", input, err)
	}
	lines := make([]bulkLine, len(chats))
	for i, c := range chats {
		lines[i] = bulkLine{Line: c.Line, Item: toItem(c)}
	}
	prior, err := readResults(*results)
	if err != nil {
		return err
	}
	ops := []policy.Operation{policy.OpCreateChat}
	if *lookup {
		ops = append(ops, policy.OpListChats, policy.OpResolveUser)
	}
	client, done, err := e.connect(ctx, t, f, ops)
	if err != nil {
		return err
	}
	defer done()
	out, err := os.OpenFile(*results, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return usagef("opening --results: %v", err)
	}
	defer out.Close()
	w := &recorder{w: bufio.NewWriter(out), f: out}
	if err := w.startLine(*results); err != nil {
		return usagef("--results: %v", err)
	}

	sum := bulkSummary{total: len(lines) + len(bad)}
	for _, b := range bad {
		if prior[b.Line].Status == "" {
			w.write(resultRecord{Line: b.Line, Status: "refused", At: time.Now(), Error: &errInfo{Code: "input", Message: b.Msg}})
		}
		sum.add("refused")
		fmt.Fprintf(e.stderr, "line %d: unreadable: %s\n", b.Line, b.Msg)
	}

	// Items sent by an earlier run that never got an answer: one-on-one
	// chats are simply created again; groups are looked up first.
	var todo []bulkLine
	for _, l := range lines {
		p := prior[l.Line]
		switch {
		case doneStatus[p.Status]:
			sum.add("skipped")
			continue
		case (p.Status == "sent" || p.Status == "unknown") && l.Item.Type == policy.ChatTypeGroup:
			if !*lookup {
				w.write(resultRecord{Line: l.Line, Status: "unknown", At: time.Now(), Error: &errInfo{Message: "sent by an earlier run without a clear answer; run with --lookup to find out"}})
				sum.add("unknown")
				continue
			}
			found, err := client.FindGroup(ctx, l.Item.Topic, l.Item.Members, p.sentAt)
			if err != nil {
				return fmt.Errorf("line %d: looking up the chat an earlier run sent: %w", l.Line, err)
			}
			if found != nil {
				w.write(resultRecord{Line: l.Line, Status: "recovered", ID: deref(found.GetId()), ChatType: "group", At: time.Now()})
				sum.add("recovered")
				continue
			}
		}
		todo = append(todo, l)
	}

	progress := e.newProgress(len(todo))
	items := make([]graphchat.Item, len(todo))
	for i, l := range todo {
		items[i] = l.Item
	}
	_, err = client.CreateMany(ctx, items, &graphchat.BulkOptions{
		Rate: *rate, Concurrency: *concurrency,
		OnSend: func(i int) { w.write(resultRecord{Line: todo[i].Line, Status: "sent", At: time.Now()}) },
		OnResult: func(r graphchat.ItemResult) {
			rec := record(todo[r.Index].Line, r)
			w.write(rec)
			sum.add(rec.Status)
			if rec.Error != nil {
				progress.clear()
				fmt.Fprintf(e.stderr, "line %d: %s: %s\n", rec.Line, rec.Status, rec.Error.Message)
			}
			progress.step(sum)
		},
	})
	progress.clear()
	if ferr := w.flush(); ferr != nil && err == nil {
		err = fmt.Errorf("writing %s: %w", *results, ferr)
	}
	if err != nil {
		return err
	}
	sum.print(e.stdout, *results)
	if sum.counts["refused"]+sum.counts["failed"]+sum.counts["unknown"] > 0 {
		return errRefused
	}
	return nil
}

// bulkLine is a chat of the input with its line number.
type bulkLine struct {
	Line int
	Item graphchat.Item
}

// toItem turns a line the reader checked into a graphchat item.
func toItem(c bulkfile.Chat) graphchat.Item {
	it := graphchat.Item{Type: policy.ChatType(c.Type), Topic: c.Topic}
	for _, m := range c.Members {
		var gm graphchat.Member
		switch m.Kind {
		case "guest":
			gm = graphchat.Guest(m.User)
		case "external":
			gm = graphchat.External(m.User, m.TenantID)
		default:
			gm = graphchat.User(m.User)
		}
		gm.Role = policy.Role(m.Role)
		it.Members = append(it.Members, gm)
	}
	return it
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// record turns an item's result into a results-file record.
func record(line int, r graphchat.ItemResult) resultRecord {
	rec := resultRecord{Line: line, At: time.Now()}
	if r.Err == nil && r.Created != nil {
		switch c := r.Created; {
		case c.Chat == nil:
			rec.Status = "accepted"
		case c.Existed:
			rec.Status = "existing"
		case c.Recovered:
			rec.Status = "recovered"
		default:
			rec.Status = "created"
		}
		rec.ID = r.Created.ID()
		if r.Created.Chat != nil && r.Created.Chat.GetChatType() != nil {
			rec.ChatType = r.Created.Chat.GetChatType().String()
		}
		return rec
	}
	var list policy.List
	var ge *graphchat.Error
	switch {
	case errors.As(r.Err, &list):
		rec.Status = "refused"
		rec.Error = &errInfo{Code: string(list[0].Code), Message: list.Error()}
		for _, v := range list {
			rec.Error.Codes = append(rec.Error.Codes, string(v.Code))
		}
	case errors.Is(r.Err, graphchat.ErrOutcomeUnknown):
		rec.Status = "unknown"
		rec.Error = &errInfo{Code: "outcome_unknown", Message: r.Err.Error()}
	case errors.As(r.Err, &ge):
		rec.Status = "failed"
		rec.Error = &errInfo{Code: ge.Code, Status: ge.StatusCode, Message: ge.Error(), RequestID: ge.RequestID}
	default:
		rec.Status = "failed"
		rec.Error = &errInfo{Message: r.Err.Error()}
	}
	return rec
}

// readResults reads an earlier results file: the last record of each line.
func readResults(name string) (map[int]resultRecord, error) {
	out := map[int]resultRecord{}
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, usagef("reading --results: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var r resultRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Line <= 0 {
			// A record cut short by a crash: only the last line can be.
			continue
		}
		r.sentAt = out[r.Line].sentAt
		if r.sentAt.IsZero() && r.Status == "sent" {
			r.sentAt = r.At
		}
		out[r.Line] = r
	}
	return out, sc.Err()
}

// recorder appends records to the results file and syncs each one, so that
// a crash loses at most the record being written.
type recorder struct {
	w   *bufio.Writer
	f   *os.File
	err error
}

func (r *recorder) write(rec resultRecord) {
	if r.err != nil {
		return
	}
	data, _ := json.Marshal(rec)
	r.w.Write(append(data, '\n'))
	if r.err = r.w.Flush(); r.err == nil {
		r.err = r.f.Sync()
	}
}

// startLine ends a record a crash cut short, so that the next one starts
// on a line of its own.
func (r *recorder) startLine(name string) error {
	data, err := os.ReadFile(name)
	if err != nil || len(data) == 0 || data[len(data)-1] == '\n' {
		return err
	}
	_, err = r.f.Write([]byte{'\n'})
	return err
}

func (r *recorder) flush() error {
	if r.err != nil {
		return r.err
	}
	return r.w.Flush()
}

type bulkSummary struct {
	total  int
	counts map[string]int
}

func (s *bulkSummary) add(status string) {
	if s.counts == nil {
		s.counts = map[string]int{}
	}
	s.counts[status]++
}

func (s *bulkSummary) print(w io.Writer, results string) {
	c := s.counts
	fmt.Fprintf(w, "%d items: %d created (%d after a lookup), %d existing, %d accepted, %d refused by the policy, %d failed at the service, %d outcome unknown, %d done in an earlier run\n",
		s.total, c["created"]+c["recovered"], c["recovered"], c["existing"], c["accepted"], c["refused"], c["failed"], c["unknown"], c["skipped"])
	fmt.Fprintf(w, "results: %s\n", results)
}

// progress shows a bar on a terminal and a line every tenth otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	done  int
	shown int
	drawn bool
}

func (e *env) newProgress(total int) *progress {
	p := &progress{w: e.stderr, total: total}
	if f, ok := e.stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) step(s bulkSummary) {
	p.done++
	if p.total == 0 {
		return
	}
	c := s.counts
	status := fmt.Sprintf("%d/%d  created %d  existing %d  refused %d  failed %d", p.done, p.total, c["created"]+c["recovered"], c["existing"], c["refused"], c["failed"]+c["unknown"])
	if p.tty {
		const width = 30
		filled := width * p.done / p.total
		fmt.Fprintf(p.w, "\r[%s%s] %s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), status)
		p.drawn = true
		return
	}
	if tenth := 10 * p.done / p.total; tenth > p.shown || p.done == p.total {
		p.shown = tenth
		fmt.Fprintf(p.w, "progress: %s\n", status)
	}
}

func (p *progress) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}
