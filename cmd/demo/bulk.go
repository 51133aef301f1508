package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/graphchat/graphchat/cmd/demo/internal/bulkfile"
	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/policy"
)

// exitError ends a command with a code; err, when set, is printed.
type exitError struct {
	code int
	err  error
}

func (x exitError) Error() string {
	if x.err == nil {
		return fmt.Sprintf("exit %d", x.code)
	}
	return x.err.Error()
}

func (x exitError) Unwrap() error { return x.err }

// bulk creates the chats of a CSV or JSON Lines file, resumably: each line
// is identified by the chat it asks for (bulkfile.Key), and the results
// file records, durably and before each request, what was sent.
func (e *env) bulk(ctx context.Context, args []string) error {
	o, err := e.parseBulk(args)
	if err != nil {
		return err
	}
	in, err := os.Open(o.input)
	if err != nil {
		return usagef("reading %s: %v", o.input, errors.Unwrap(err))
	}
	defer in.Close()
	var size int64
	if st, err := in.Stat(); err == nil {
		size = st.Size()
	}
	counted := &countingReader{r: in}
	rd, err := bulkfile.NewReader(counted, o.format)
	if err != nil {
		return usagef("%s: %v", o.input, err)
	}
	if err := checkResultsPath(o.results); err != nil {
		return err
	}
	lock, err := lockResults(o.results)
	if err != nil {
		return err
	}
	defer lock.unlock()

	// Messages need their own operation (delegated only): whether the input
	// has any is known before anything is sent, so that a run that cannot
	// send them fails once, up front.
	messages, err := inputHasMessages(o.input, o.format)
	if err != nil {
		return err
	}
	ops := []policy.Operation{policy.OpCreateChat}
	if messages {
		ops = append(ops, policy.OpSendMessage)
	}
	s, err := e.open(ctx, &o.f, &o.t, bulkNeeds(ops, authOf(&o.f), o.lookup, o.reuse)...)
	if err != nil {
		return err
	}
	defer s.Close()
	// The results are read once the session says who calls: a results
	// file of another service, tenant or caller is refused.
	res, err := openResults(o.results, o.input, scopeOf(s, &o.t), func(note string) { fmt.Fprintln(e.stderr, "warning:", note) }, e.wrapResults)
	if err != nil {
		return err
	}
	defer res.f.Close()

	b := &bulkRun{e: e, client: s.client, know: s.know, user: o.user, rd: rd, res: res, lookup: o.lookup, reuse: o.reuse, inFlight: map[int]lineRef{},
		progress: e.newProgress(counted, size)}
	b.sum.Input, b.sum.Results = o.input, o.results
	runErr := s.client.CreateEach(ctx, b.items(ctx), &graphchat.BulkOptions{
		Rate: o.rate, Concurrency: o.concurrency,
		Reuse: o.reuse, Pick: graphchat.Pick(o.pick), User: o.user,
		OnSend:         b.sent,
		OnSendMessages: b.sentMessages,
		OnResult:       b.finished,
	})
	b.progress.clear()
	var list policy.List
	if errors.As(runErr, &list) && (b.sum.Lines == 0 || b.started == 0) {
		err := e.grantRefused(list, o.lookup, o.reuse)
		if o.f.json {
			e.emit(struct {
				Error *errorDoc `json:"error"`
			}{&errorDoc{Kind: kindOf(exitRefused), ExitCode: exitRefused, Message: "the token's permissions are refused before any line is sent: " + list.Error()}})
		}
		return err
	}
	return b.end(ctx, runErr, o.f.json)
}

// bulkOptions are the flags and file of a bulk run.
type bulkOptions struct {
	f                      checkFlags
	t                      targetFlags
	input, results, format string
	rate                   float64
	concurrency            int
	lookup, reuse          bool
	lookupDelay            time.Duration
	pick, user             string
}

// parseBulk reads and checks bulk's flags and file.
func (e *env) parseBulk(args []string) (*bulkOptions, error) {
	o := &bulkOptions{}
	fs := newCallFlags("bulk", &o.f, &o.t)
	fs.StringVar(&o.results, "results", "", "results `file` (JSON Lines), written as items are sent and finish, read again to resume; default FILE.results.jsonl")
	fs.StringVar(&o.format, "format", "", "input format, csv or jsonl (default: from the file's extension)")
	fs.Float64Var(&o.rate, "rate", 30, "creations per second at most (30 is Teams' limit per app and tenant)")
	fs.IntVar(&o.concurrency, "concurrency", 4, "$batch requests in flight")
	fs.BoolVar(&o.lookup, "lookup", true, "look group chats up after ambiguous failures before retrying (adds the list-chats and resolve-user permissions: Chat.ReadBasic, User.ReadBasic.All)")
	fs.DurationVar(&o.lookupDelay, "lookup-delay", 2*time.Second, "how long a chat or message sent without a clear answer is given to finish before it is looked up (doubled at each failed lookup)")
	fs.BoolVar(&o.reuse, "reuse", false, "find each group chat first among the signed-in user's chats (an application: --user's), read once for the run, and create it only when there is none; a line whose chat exists is \"existing\" (adds list-chats and resolve-user, and for delegated auth list-members)")
	fs.StringVar(&o.pick, "pick", "", "with --reuse, when several chats match a line: `oldest` takes the oldest (default: the line fails, naming them)")
	fs.StringVar(&o.user, "user", "", "with --reuse and --auth application: whose chats to search, by `ID or UPN`; every group line must have that user among its members")
	pos, err := e.parseCall(fs, args, &o.f, &o.t)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 || pos[0] == "-" {
		return nil, usagef("bulk: want one FILE (CSV or JSON Lines); standard input cannot be resumed")
	}
	o.input = pos[0]
	if o.format == "" {
		switch strings.ToLower(filepath.Ext(o.input)) {
		case ".csv":
			o.format = "csv"
		case ".jsonl", ".ndjson":
			o.format = "jsonl"
		default:
			return nil, usagef("bulk: cannot tell the format of %s: use --format csv or --format jsonl", o.input)
		}
	}
	set := o.f.set
	switch {
	case o.rate <= 0 || o.concurrency <= 0:
		return nil, usagef("--rate and --concurrency must be positive")
	case o.lookupDelay <= 0:
		return nil, usagef("--lookup-delay %s: want a positive duration, such as 500ms or 2s", o.lookupDelay)
	case set["lookup-delay"] && !o.lookup:
		return nil, usagef("--lookup-delay is for --lookup: drop --lookup=false")
	case set["pick"] && !o.reuse:
		return nil, usagef("--pick is for --reuse")
	case set["pick"] && o.pick != string(graphchat.PickOldest):
		return nil, usagef("--pick %q: want oldest", o.pick)
	case set["user"] && !o.reuse:
		return nil, usagef("--user is for --reuse: it names whose chats are searched")
	case o.reuse && !o.lookup:
		return nil, usagef("--reuse reads the chats, and looks group chats up after ambiguous failures as --lookup does: drop --lookup=false")
	}
	if o.reuse {
		if err := checkListedUser(&o.f, o.user); err != nil {
			return nil, err
		}
	}
	if o.results == "" {
		o.results = o.input + ".results.jsonl"
	}
	if set["lookup-delay"] {
		e.lookupDelay = o.lookupDelay
	}
	return o, nil
}

// end finishes a run that went through CreateEach (runErr is what it
// returned): it counts the lines not reached, settles the orphans, closes
// the results, prints the summary (or the --json document), and returns
// the run's exit code.
func (b *bulkRun) end(ctx context.Context, runErr error, json bool) error {
	b.drain(ctx)
	if b.ended && b.readErr == nil && runErr == nil && ctx.Err() == nil {
		b.orphans(ctx)
	}
	b.progress.clear()
	if cerr := b.res.close(); runErr == nil {
		runErr = cerr
	}
	if runErr == nil {
		runErr = b.readErr
	}
	b.sum.Interrupted = ctx.Err() != nil
	code := b.sum.exitCode()
	var u usageError
	switch {
	case runErr != nil && errors.As(runErr, &u):
		code = max(code, exitUsage)
	case runErr != nil:
		code = max(code, exitRefused)
	}
	if code != exitOK {
		b.sum.Error = b.sum.errorDoc(ctx, code, runErr)
	}
	if json {
		b.e.emit(b.sum)
	} else {
		b.sum.print(b.e.stdout)
	}
	if code != exitOK {
		return exitError{code: code, err: runErr}
	}
	return nil
}

// errorDoc is the "error" member of a run that ends with a non-zero code:
// why the run stopped early (err), or what its counts say.
func (s *bulkSummary) errorDoc(ctx context.Context, code int, err error) *errorDoc {
	d := &errorDoc{}
	if err != nil {
		d = newErrorDoc(ctx, err)
		d.Message = shortText(d.Message)
	} else {
		c := s.Counts
		switch code {
		case exitInterrupted:
			d.Message = fmt.Sprintf("interrupted: %d lines not sent; run the same command again to go on", c.NotSent)
		case exitUnknown:
			d.Message = fmt.Sprintf("the outcome of %d chats and %d messages is unknown: run the same command again (with --lookup) to resolve them", c.Unknown+c.OrphanUnknown, c.MessageUnknown)
		default:
			d.Message = fmt.Sprintf("%d lines refused or unreadable, %d failed at the service, %d not sent; %d messages not posted: see standard error and %s",
				c.Refused+c.Unreadable, c.Failed, c.NotSent, c.MessageFailed+c.MessageNotSent+c.MessageChanged, s.Results)
		}
	}
	d.Kind, d.ExitCode = kindOf(code), code
	return d
}

// bulkNeeds are the operations of a run: ops, and those of --reuse or
// --lookup.
func bulkNeeds(ops []policy.Operation, auth policy.AuthType, lookup, reuse bool) []need {
	if reuse {
		return reuseNeeds(ops, auth)
	}
	var needs []need
	for _, op := range ops {
		needs = append(needs, need{op: op})
	}
	if lookup {
		// A lookup claims a chat only when its members are the requested
		// users by object id: members given by name are resolved.
		needs = append(needs, need{op: policy.OpListChats, without: "run with --lookup=false"},
			need{op: policy.OpResolveUser, without: "give members by object id, or run with --lookup=false"})
	}
	return needs
}

// scopeOf is what the results of a run on a session are about: its target
// and, from the token's claims (or the flags), its tenant and caller.
func scopeOf(s *session, t *targetFlags) resultsScope {
	var sc resultsScope
	switch {
	case t.target == "graph":
		sc.Target = "graph:" + strings.ToLower(t.cloud)
	case s.base != "":
		sc.Target = s.base
	default:
		sc.Target = targetEmbedded
	}
	claims, _ := policy.ParseToken(s.token)
	switch {
	case claims != nil:
		sc.Tenant = claims.TenantID
		app := claims.Auth() == policy.AuthApplication
		switch {
		case app && claims.AppID != "":
			sc.App = claims.AppID
		case app:
			sc.App = claims.ObjectID
		case claims.ObjectID != "":
			sc.Caller = claims.ObjectID
		default:
			sc.Caller = claims.UserPrincipalName
		}
	case s.know != nil:
		sc.Tenant = s.know.pc.TenantID
		if s.know.pc.Auth != policy.AuthApplication {
			sc.Caller = s.know.pc.Caller.ID
			if sc.Caller == "" {
				sc.Caller = s.know.pc.Caller.UserPrincipalName
			}
		}
	}
	return sc
}

// reuseNeeds are the operations of bulk --reuse: ops, listing the chats
// (once, for every line), resolving members given by name to match them,
// and for delegated auth (where Chat.ReadBasic covers it) reading every
// member of a chat the listing cut at 25.
func reuseNeeds(ops []policy.Operation, auth policy.AuthType) []need {
	var needs []need
	for _, op := range ops {
		needs = append(needs, need{op: op})
	}
	needs = append(needs, need{op: policy.OpListChats, without: "run without --reuse"},
		need{op: policy.OpResolveUser, without: "give members (and --user) by object id, or run without --reuse"})
	if auth != policy.AuthApplication {
		needs = append(needs, need{op: policy.OpListMembers, without: "run without --reuse"})
	}
	return needs
}

// grantRefused explains a grant the policy refuses before any line: once,
// with the fix.
func (e *env) grantRefused(list policy.List, lookup, reuse bool) error {
	fmt.Fprintln(e.stderr, "demo: the token's permissions are refused before any line is sent:")
	for _, v := range list {
		fmt.Fprintf(e.stderr, "  %s %s: %s\n", v.Code, orBody(v.Field), v.Message)
	}
	if reuse {
		fmt.Fprintln(e.stderr, "bulk --reuse reads the chats to find each group chat before creating it: grant what is missing above (Chat.ReadBasic and User.ReadBasic.All for a delegated call), or run without --reuse")
		return errRefused
	}
	if lookup {
		fmt.Fprintln(e.stderr, "bulk looks group chats up after ambiguous failures, so that none is created twice, and resolves members given by name to find them: grant what is missing above (Chat.ReadBasic and User.ReadBasic.All for a delegated call), or run with --lookup=false to report such chats as unknown instead")
	}
	return errRefused
}

// inputHasMessages tells whether the input carries messages.
func inputHasMessages(input, format string) (bool, error) {
	f, err := os.Open(input)
	if err != nil {
		return false, usagef("reading %s: %v", input, errors.Unwrap(err))
	}
	defer f.Close()
	has, err := bulkfile.HasMessages(f, format)
	if err != nil {
		return false, usagef("%s: %v", input, err)
	}
	return has, nil
}

// lineRef is the line and key of an item in flight, and its message.
type lineRef struct {
	line   int
	key    bulkfile.Key
	spec   *bulkfile.Chat // what the line asks for, for its sent record
	digest string         // of the line's message; "" for none
	// chatRecorded is true when the results hold the chat's record (its
	// message is about to go, or an earlier run created it).
	chatRecorded bool
}

// bulkRun is one run: the lines read so far, what is in flight, the counts.
type bulkRun struct {
	e        *env
	client   *graphchat.Client
	know     *knowledge // what is known of the call and its users
	rd       *bulkfile.Reader
	res      *resultsFile
	lookup   bool
	reuse    bool            // group chats are found before they are created (--reuse)
	inFlight map[int]lineRef // by CreateEach's index
	next     int             // the next index
	ended    bool            // the input is read to its end
	readErr  error           // the input could not be read further
	sum      bulkSummary
	progress *progress
	started  int // items yielded to CreateEach

	// The lookup of chats earlier runs sent without an answer for lines
	// no longer in the input: one listing (ix), read at the first.
	user      string // --user: whose chats an application lists
	ix        *graphchat.ChatIndex
	ixErr     error
	announced bool // the lookups of lines earlier runs sent are announced
}

// items reads the input a line at a time and yields the chats to send. A
// line asking for a chat an earlier line of the run asked for, or that an
// earlier run created, is not yielded; a group an earlier run sent without
// an answer is looked up first.
func (b *bulkRun) items(ctx context.Context) iter.Seq[graphchat.Item] {
	return func(yield func(graphchat.Item) bool) {
		for {
			c, ok := b.read()
			if !ok {
				return
			}
			k := c.Key()
			s := b.res.state[k]
			if !b.first(c, k, &s) {
				continue
			}
			it := toItem(c, b.know)
			spec := c.Spec()
			ref := lineRef{line: c.Line, key: k, spec: &spec}
			if it.Message != nil {
				ref.digest = graphchat.MessageDigest(it.Message)
			}
			switch {
			case s.status.done() && it.Message == nil:
				continue
			case s.status.done():
				if !b.messageItem(c, &it, &ref) {
					continue
				}
			case it.Type == policy.ChatTypeGroup && s.sentAt != 0 && s.status.pending():
				// Sent by an earlier run without an answer: CreateEach
				// looks it up first, with the others, in one listing
				// (with --reuse, the run's listing of the chats finds it).
				if !b.lookup {
					b.unknownEarlier(c, k, it)
					continue
				}
				b.announceLookups()
				it.SentAt = time.Unix(0, s.sentAt)
			}
			b.inFlight[b.next] = ref
			b.next++
			b.started++
			if !yield(it) {
				return
			}
		}
	}
}

// read returns the next readable line, reporting unreadable ones.
func (b *bulkRun) read() (bulkfile.Chat, bool) {
	for !b.ended {
		c, err := b.rd.Next()
		var le *bulkfile.LineError
		switch {
		case err == nil:
			b.sum.Lines++
			return c, true
		case errors.As(err, &le):
			b.sum.Lines++
			b.sum.Counts.Unreadable++
			b.res.write(resultRecord{Line: le.Line, Status: string(graphchat.OutcomeRefused), At: time.Now(), Error: &errInfo{Code: "input", Message: shortText(le.Msg)}}, false)
			b.diag("line %d: unreadable: %s", le.Line, shortText(le.Msg))
		case errors.Is(err, io.EOF):
			b.ended = true
		default:
			b.ended = true
			b.readErr = usagef("%s: %v", b.sum.Input, err)
		}
	}
	return bulkfile.Chat{}, false
}

// first marks the line as the one asking for its chat in this run, or
// reports it as a duplicate of the line that did.
func (b *bulkRun) first(c bulkfile.Chat, k bulkfile.Key, s *keyState) bool {
	if s.line != 0 {
		b.sum.Counts.Duplicate++
		b.res.write(resultRecord{Key: k.String(), Line: c.Line, Status: statusDuplicate, FirstLine: int(s.line), At: time.Now()}, false)
		b.diag("line %d: duplicate_line: the same chat as line %d, not sent again", c.Line, s.line)
		return false
	}
	s.line = int32(min(c.Line, 1<<31-1))
	b.res.state[k] = *s
	if s.status.done() {
		b.sum.Counts.DoneEarlier++
	}
	return true
}

// messageItem turns a line whose chat an earlier run created into the
// item of its message, from what the results say of it; it reports false
// when nothing is to be sent: the message was posted, or its outcome stays
// unknown, or it differs from the one an earlier run posted or sent.
func (b *bulkRun) messageItem(c bulkfile.Chat, it *graphchat.Item, ref *lineRef) bool {
	m := b.res.msgs[ref.key]
	if m == nil || m.chatID == "" {
		// Created by a run that did not know of the message (the line
		// gained one since, or the chat was created without its id).
		b.messageSettled(c, ref, msgChanged, "", "the chat was created by an earlier run of this line without a message: the message is not posted (give the line its own new chat, or send it with demo send)")
		return false
	}
	pending := m.status == msgSent || m.status == msgUnknown
	switch {
	case m.status == msgPosted && m.digest == ref.digest:
		b.sum.Counts.MessagesDoneEarlier++
		return false
	case m.status == msgPosted:
		b.messageSettled(c, ref, msgChanged, m.chatID, "the line's message was edited after an earlier run posted it: the new text is not posted (messages are not edited in place)")
		return false
	case pending && m.digest != ref.digest:
		b.messageSettled(c, ref, msgChanged, m.chatID, "the line's message was edited after an earlier run sent it without an answer: it may be in the chat, so the new text is not posted; restore the earlier text to resolve it")
		return false
	case pending && !b.lookup:
		b.messageSettled(c, ref, msgUnknown, m.chatID, "sent by an earlier run without a clear answer; run with --lookup to find out (a message is not sent again blindly)")
		return false
	case pending:
		it.MessageSentAt = time.Unix(0, m.sentAt)
	}
	it.ChatID, ref.chatRecorded = m.chatID, true
	return true
}

// messageSettled records and counts a line's message decided without
// sending anything.
func (b *bulkRun) messageSettled(c bulkfile.Chat, ref *lineRef, st msgStatus, chatID, why string) {
	status := statusMessageChanged
	code := "message_changed"
	if st == msgUnknown {
		status, code = string(graphchat.MessageUnknown), "outcome_unknown"
	}
	rec := resultRecord{Key: ref.key.String(), Line: c.Line, Status: status, ID: chatID, Message: ref.digest, At: time.Now(), Error: &errInfo{Code: code, Message: why}}
	if chatID != "" {
		b.res.write(rec, false)
	}
	b.countMessage(rec)
}

// unknownEarlier records a group an earlier run sent without an answer,
// which a run without --lookup cannot look up: its outcome stays unknown.
func (b *bulkRun) unknownEarlier(c bulkfile.Chat, k bulkfile.Key, it graphchat.Item) {
	rec := resultRecord{Key: k.String(), Line: c.Line, At: time.Now(), Status: string(graphchat.OutcomeUnknown),
		Error: &errInfo{Code: "outcome_unknown", Message: "sent by an earlier run without a clear answer; run with --lookup to find out"}}
	if it.Message != nil {
		rec.Message = graphchat.MessageDigest(it.Message)
	}
	b.res.write(rec, false)
	b.count(rec)
}

// announceLookups says, at the first line an earlier run sent without an
// answer, how many there may be: they are looked up in one listing of the
// chats while the other lines are sent.
func (b *bulkRun) announceLookups() {
	if b.announced {
		return
	}
	b.announced = true
	n := 0
	for k, s := range b.res.state {
		if s.status.pending() && s.sentAt != 0 {
			if o, ok := b.res.sentSpecs[k]; !ok || o.spec.Type == string(policy.ChatTypeGroup) {
				n++
			}
		}
	}
	b.diag("looking up %d chat%s sent by an earlier run without an answer (one listing of the chats, while the other lines are sent)", n, plural(n))
}

// index is the one listing of the chats that finds what earlier runs sent
// without an answer, read at its first use.
func (b *bulkRun) index(ctx context.Context) (*graphchat.ChatIndex, error) {
	if b.ix == nil && b.ixErr == nil {
		b.ix, b.ixErr = b.client.NewChatIndex(ctx, &graphchat.FindOptions{User: b.user})
	}
	return b.ix, b.ixErr
}

// sent records, durably, the lines a request is about to send; an error
// vetoes the request and stops the run.
func (b *bulkRun) sent(indexes []int) error {
	recs := make([]resultRecord, len(indexes))
	now := time.Now()
	for i, idx := range indexes {
		ref := b.inFlight[idx]
		recs[i] = resultRecord{Key: ref.key.String(), Line: ref.line, Status: statusSent, At: now, Chat: ref.spec}
	}
	return b.res.writeSent(recs)
}

// sentMessages records, durably, the messages a request is about to send,
// each with its chat's record first when the results lack it; an error
// vetoes the request and stops the run.
func (b *bulkRun) sentMessages(sends []graphchat.MessageSend) error {
	var recs []resultRecord
	now := time.Now()
	for _, s := range sends {
		ref := b.inFlight[s.Index]
		if !ref.chatRecorded {
			rec := record(ref, graphchat.ItemResult{Created: s.Chat})
			rec.At = now
			recs = append(recs, rec)
			b.count(rec)
			ref.chatRecorded = true
			b.inFlight[s.Index] = ref
		}
		recs = append(recs, resultRecord{Key: ref.key.String(), Line: ref.line, Status: statusMessageSent, ID: s.Chat.ID(), Message: ref.digest, At: now})
	}
	return b.res.writeSent(recs)
}

// finished records an item's result: its chat's, unless already recorded,
// and its message's.
func (b *bulkRun) finished(r graphchat.ItemResult) {
	ref := b.inFlight[r.Index]
	delete(b.inFlight, r.Index)
	if !ref.chatRecorded {
		rec := record(ref, r)
		b.res.write(rec, false) // a failure stops the next request: see sent
		b.count(rec)
	}
	if ref.digest == "" {
		return
	}
	if r.Created == nil || r.Created.Chat == nil { // no chat to post in: the chat's record says why
		if r.Outcome() == graphchat.OutcomeAccepted {
			b.sum.Counts.MessageNotSent++ // created later by the service
		}
		return
	}
	rec := resultRecord{Key: ref.key.String(), Line: ref.line, Status: string(r.MessageOutcome()), ID: r.Created.ID(), Message: ref.digest, At: time.Now()}
	switch {
	case r.Posted != nil:
		rec.MessageID, rec.Recovered = r.Posted.ID, r.Posted.Recovered
	default:
		rec.Error = errorInfo(r.MessageErr)
	}
	b.res.write(rec, false)
	b.countMessage(rec)
}

func (b *bulkRun) countMessage(rec resultRecord) {
	c := &b.sum.Counts
	switch rec.Status {
	case string(graphchat.MessagePosted):
		c.MessagesPosted++
		if rec.Recovered {
			c.MessagesRecovered++
		}
	case string(graphchat.MessageUnknown):
		c.MessageUnknown++
	case string(graphchat.MessageNotSent):
		c.MessageNotSent++
	case statusMessageChanged:
		c.MessageChanged++
	default:
		c.MessageFailed++
	}
	if rec.Error != nil && rec.Status != string(graphchat.MessageNotSent) {
		b.diag("line %d: %s: %s", rec.Line, rec.Status, rec.Error.Message)
	}
}

func (b *bulkRun) count(rec resultRecord) {
	c := &b.sum.Counts
	switch graphchat.Outcome(rec.Status) {
	case graphchat.OutcomeCreated:
		c.Created++
	case graphchat.OutcomeRecovered:
		c.Recovered++
	case graphchat.OutcomeExisting:
		c.Existing++
	case graphchat.OutcomeAccepted:
		c.Accepted++
	case graphchat.OutcomeRefused:
		c.Refused++
	case graphchat.OutcomeUnknown:
		c.Unknown++
	case graphchat.OutcomeNotSent:
		c.NotSent++
	default:
		c.Failed++
	}
	if rec.Error != nil && rec.Status != string(graphchat.OutcomeNotSent) {
		b.diag("line %d: %s: %s", rec.Line, rec.Status, rec.Error.Message)
	}
	b.progress.step(b.sum.Counts, b.sum.Lines)
}

// drain counts the lines a stopped run did not reach: never sent, unless
// done in an earlier run or duplicates. Nothing more is written.
func (b *bulkRun) drain(ctx context.Context) {
	for {
		c, ok := b.read()
		if !ok {
			return
		}
		k := c.Key()
		s := b.res.state[k]
		if !b.first(c, k, &s) || s.status.done() {
			continue
		}
		b.sum.Counts.NotSent++
	}
}

// orphans settles the chats earlier runs sent without an answer whose
// lines are no longer in the input (edited or removed since): each is
// looked up in one listing of the chats, and reported found (with its id)
// or absent; without --lookup, its outcome stays unknown.
func (b *bulkRun) orphans(ctx context.Context) {
	type found struct {
		key bulkfile.Key
		orphan
		sentAt int64
	}
	var list []found
	for k, o := range b.res.sentSpecs {
		if s := b.res.state[k]; s.line == 0 && s.status.pending() && s.sentAt != 0 {
			list = append(list, found{k, o, s.sentAt})
		}
	}
	if len(list) == 0 {
		return
	}
	slices.SortFunc(list, func(a, b found) int { return cmp.Compare(a.line, b.line) })
	var ix *graphchat.ChatIndex
	var ixErr error
	if b.lookup {
		b.diag("looking up %d chat%s sent by an earlier run without an answer, for lines no longer in the input", len(list), plural(len(list)))
		ix, ixErr = b.index(ctx)
	}
	for i, o := range list {
		rec := resultRecord{Key: o.key.String(), Line: o.line, At: time.Now()}
		const gone = "sent by an earlier run without an answer, for a line no longer in the input"
		switch {
		case !b.lookup:
			rec.Status, rec.Error = string(graphchat.OutcomeUnknown), &errInfo{Code: "outcome_unknown", Message: gone + ": it may or may not exist; run with --lookup to find out"}
		case redacted(o.spec):
			rec.Status, rec.Error = string(graphchat.OutcomeUnknown), &errInfo{Code: "outcome_unknown", Message: gone + ": its record had what looks like a token redacted, so it cannot be looked up as it was asked for; find it with demo find"}
		case ixErr != nil:
			rec.Status, rec.Error = string(graphchat.OutcomeUnknown), errorInfo(ixErr)
			rec.Error.Message = gone + ", and looking it up failed: " + rec.Error.Message
		default:
			id, err := findOrphan(ctx, ix, b.toItem(*o.spec), time.Unix(0, o.sentAt))
			switch {
			case err != nil:
				rec.Status, rec.Error = string(graphchat.OutcomeUnknown), errorInfo(err)
				rec.Error.Message = gone + ", and looking it up failed: " + rec.Error.Message
			case id != "":
				rec.Status, rec.ID, rec.ChatType = statusOrphanRecovered, id, o.spec.Type
			default:
				rec.Status = statusOrphanAbsent
			}
		}
		b.res.write(rec, false)
		c := &b.sum.Counts
		switch rec.Status {
		case statusOrphanRecovered:
			c.OrphanRecovered++
			b.diag("line %d of an earlier run: orphan-recovered: %s: its chat exists though its line is gone: %s", o.line, gone, rec.ID)
		case statusOrphanAbsent:
			c.OrphanAbsent++
			b.diag("line %d of an earlier run: orphan-absent: %s: it was not created", o.line, gone)
		default:
			c.OrphanUnknown++
			b.diag("line %d of an earlier run: unknown: %s", o.line, rec.Error.Message)
		}
		b.progress.lookedUp(i+1, len(list))
	}
}

// findOrphan returns the id of the chat an orphan asked for, created since
// it was sent (a minute's allowance for clocks; a one-on-one chat may be
// older: the service returns the one that exists), or "".
func findOrphan(ctx context.Context, ix *graphchat.ChatIndex, it graphchat.Item, since time.Time) (string, error) {
	var topic *string
	if it.Type == policy.ChatTypeGroup {
		topic = &it.Topic
	}
	chats, err := ix.Find(ctx, it.Members, topic)
	if err != nil {
		return "", err
	}
	for _, c := range chats {
		if c.GetChatType() == nil || c.GetChatType().String() != string(it.Type) {
			continue
		}
		if it.Type == policy.ChatTypeGroup && (c.GetCreatedDateTime() == nil || c.GetCreatedDateTime().Before(since.Add(-time.Minute))) {
			continue
		}
		return deref(c.GetId()), nil
	}
	return "", nil
}

func (b *bulkRun) toItem(c bulkfile.Chat) graphchat.Item { return toItem(c, b.know) }

func (b *bulkRun) diag(format string, a ...any) {
	b.progress.clear()
	fmt.Fprintf(b.e.stderr, format+"\n", a...)
}

// toItem turns a line the reader checked into a graphchat item. A member
// of no declared kind is built from what is known of its user (know), as
// create --group builds it: a known guest gets the guest role, a known
// home tenant is sent as tenantId. A role the line gives is kept.
func toItem(c bulkfile.Chat, know *knowledge) graphchat.Item {
	it := graphchat.Item{Type: policy.ChatType(c.Type), Topic: c.Topic}
	for _, m := range c.Members {
		var gm graphchat.Member
		switch {
		case m.Kind == "guest":
			gm = graphchat.Guest(m.User)
		case m.Kind == "external":
			gm = graphchat.External(m.User, m.TenantID)
		case m.Kind == "member":
			gm = graphchat.Member{User: m.User, Kind: policy.KindMember}
		case know != nil:
			gm = know.member(m.User) // of no declared kind
		default:
			gm = graphchat.User(m.User)
		}
		if m.Role != "" {
			gm.Role = policy.Role(m.Role)
		}
		it.Members = append(it.Members, gm)
	}
	if m := c.Message; m != nil {
		if m.HTML {
			it.Message = graphchat.HTMLMessage(m.Text)
		} else {
			it.Message = graphchat.TextMessage(m.Text)
		}
	}
	return it
}

// maxText is the most of an error's message a record or a diagnostic
// holds: service and policy messages may quote a value of the input.
const maxText = 500

// shortText cuts s to maxText bytes, on a character boundary, saying so.
func shortText(s string) string {
	if len(s) <= maxText {
		return s
	}
	cut := maxText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// record turns an item's result into a results-file record.
func record(ref lineRef, r graphchat.ItemResult) resultRecord {
	rec := resultRecord{Key: ref.key.String(), Line: ref.line, Status: string(r.Outcome()), At: time.Now()}
	if r.Err == nil && r.Created != nil {
		rec.ID = r.Created.ID()
		if rec.ID != "" {
			rec.Message = ref.digest // the line has a message: its chat's id is kept
		}
		if r.Created.Chat != nil && r.Created.Chat.GetChatType() != nil {
			rec.ChatType = r.Created.Chat.GetChatType().String()
		}
		return rec
	}
	rec.Error = errorInfo(r.Err)
	return rec
}

// errorInfo keeps what an error says for a record: the policy's codes, or
// the service's status, code, message and request-id.
func errorInfo(err error) *errInfo {
	if err == nil {
		return &errInfo{Message: "no chat and no error"}
	}
	info := &errInfo{Message: shortText(err.Error())}
	var list policy.List
	var ge *graphchat.Error
	var several *graphchat.MatchesError
	switch {
	case errors.As(err, &list):
		info.Code = string(list[0].Code)
		for _, v := range list {
			info.Codes = append(info.Codes, string(v.Code))
		}
	case errors.As(err, &ge): // also inside an *AmbiguousError
		info.Code, info.Status, info.RequestID = ge.Code, ge.StatusCode, ge.RequestID
	case errors.As(err, &several):
		info.Code = "multiple_matches"
		for _, c := range several.Candidates {
			info.Candidates = append(info.Candidates, deref(c.GetId()))
		}
	case errors.Is(err, graphchat.ErrOutcomeUnknown):
		info.Code = "outcome_unknown"
	case errors.Is(err, graphchat.ErrNotSent):
		info.Code = "not_sent"
	}
	return info
}

// bulkSummary is the result of a run: standard output's JSON document with
// --json.
type bulkSummary struct {
	Input       string     `json:"input"`
	Results     string     `json:"results"`
	Lines       int        `json:"lines"` // lines with a chat, readable or not
	Counts      bulkCounts `json:"counts"`
	Interrupted bool       `json:"interrupted"`
	// Error is set when the run ends with a non-zero exit code: its kind,
	// code and why (the error that stopped it early, or the counts).
	Error *errorDoc `json:"error,omitempty"`
}

// bulkCounts count lines by status.
type bulkCounts struct {
	Created     int `json:"created"`   // new chats
	Recovered   int `json:"recovered"` // created, found by a lookup after an ambiguous failure or a crash
	Existing    int `json:"existing"`
	Accepted    int `json:"accepted"`
	Refused     int `json:"refused"`    // by the policy
	Unreadable  int `json:"unreadable"` // lines that could not be read
	Failed      int `json:"failed"`     // answered with an error by the service
	Unknown     int `json:"unknown"`    // may or may not exist: a re-run resolves it
	NotSent     int `json:"not-sent"`
	Duplicate   int `json:"duplicate_line"` // the same chat as an earlier line: not sent again
	DoneEarlier int `json:"done-earlier"`   // done in an earlier run: not sent again

	// Chats earlier runs sent without an answer for lines no longer in the
	// input, looked up at the end of the run.
	OrphanRecovered int `json:"orphan-recovered"` // exists
	OrphanAbsent    int `json:"orphan-absent"`    // was not created
	OrphanUnknown   int `json:"orphan-unknown"`   // not looked up (--lookup=false) or the lookup failed

	// First messages, for lines with one.
	MessagesPosted      int `json:"message-posted"`         // MessagesRecovered included
	MessagesRecovered   int `json:"message-recovered"`      // found by a lookup after a send without a clear answer
	MessageFailed       int `json:"message-failed"`         // answered with an error by the service
	MessageUnknown      int `json:"message-unknown"`        // may or may not be in the chat
	MessageNotSent      int `json:"message-not-sent"`       // not sent (no chat, interrupted)
	MessageChanged      int `json:"message-changed"`        // differs from the one an earlier run posted or sent: not posted
	MessagesDoneEarlier int `json:"message-posted-earlier"` // posted in an earlier run
}

func (s *bulkSummary) print(w io.Writer) {
	c := s.Counts
	fmt.Fprintf(w, "%d items: %d created (%d after a lookup), %d existing, %d accepted, %d refused by the policy, %d unreadable, %d failed at the service, %d outcome unknown, %d not sent, %d duplicate lines, %d done in an earlier run\n",
		s.Lines, c.Created+c.Recovered, c.Recovered, c.Existing, c.Accepted, c.Refused, c.Unreadable, c.Failed, c.Unknown, c.NotSent, c.Duplicate, c.DoneEarlier)
	if n := c.MessagesPosted + c.MessageFailed + c.MessageUnknown + c.MessageNotSent + c.MessageChanged + c.MessagesDoneEarlier; n > 0 {
		fmt.Fprintf(w, "%d first messages: %d posted (%d after a lookup), %d failed at the service, %d outcome unknown, %d not sent, %d changed since an earlier run, %d posted in an earlier run\n",
			n, c.MessagesPosted, c.MessagesRecovered, c.MessageFailed, c.MessageUnknown, c.MessageNotSent, c.MessageChanged, c.MessagesDoneEarlier)
	}
	if n := c.OrphanRecovered + c.OrphanAbsent + c.OrphanUnknown; n > 0 {
		fmt.Fprintf(w, "%d chats sent by an earlier run without an answer, for lines no longer in the input: %d exist, %d were not created, %d outcome unknown\n",
			n, c.OrphanRecovered, c.OrphanAbsent, c.OrphanUnknown)
	}
	fmt.Fprintf(w, "results: %s\n", s.Results)
	if s.Interrupted {
		fmt.Fprintln(w, "interrupted: run the same command again to go on")
	}
}

// exitCode: 130 if interrupted, else 4 if any outcome (of a chat or a
// message) is unknown, else 1 if any line was refused, failed or not sent,
// or its message was not posted.
func (s *bulkSummary) exitCode() int {
	c := s.Counts
	switch {
	case s.Interrupted:
		return exitInterrupted
	case c.Unknown+c.MessageUnknown+c.OrphanUnknown > 0:
		return exitUnknown
	case c.Refused+c.Unreadable+c.Failed+c.NotSent+c.MessageFailed+c.MessageNotSent+c.MessageChanged > 0:
		return exitRefused
	}
	return exitOK
}

// countingReader counts the bytes read, for the progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progress shows a bar on a terminal and a line every tenth of the input
// otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	in    *countingReader
	size  int64
	shown int64
	drawn bool
}

func (e *env) newProgress(in *countingReader, size int64) *progress {
	p := &progress{w: e.stderr, in: in, size: size}
	w := e.stderr
	if r, ok := w.(*redactingWriter); ok {
		w = r.w // the terminal, if any, is under the redaction
	}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// step shows the counts after a line finished; lines is the lines read so
// far. Off a terminal, a line is written at each tenth of the input read,
// then, once it is all read, at each tenth of its lines finished.
func (p *progress) step(c bulkCounts, lines int) {
	if p.size <= 0 {
		return
	}
	read := min(p.in.n, p.size)
	// Every count of a finished line is shown, so that they add up.
	finished := c.Created + c.Recovered + c.Existing + c.Accepted + c.Refused + c.Unreadable + c.Failed + c.Unknown + c.NotSent
	status := fmt.Sprintf("%d finished (%d%% of the input read)  created %d  existing %d  accepted %d  refused %d  unreadable %d  failed %d  unknown %d  not sent %d",
		finished, 100*read/p.size, c.Created+c.Recovered, c.Existing, c.Accepted, c.Refused, c.Unreadable, c.Failed, c.Unknown, c.NotSent)
	if p.tty {
		const width = 30
		filled := int(width * read / p.size)
		fmt.Fprintf(p.w, "\r[%s%s] %s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), status)
		p.drawn = true
		return
	}
	tenth := 10 * read / p.size
	if read == p.size && lines > 0 {
		tenth = 10 + int64(10*finished/lines)
	}
	if tenth > p.shown {
		p.shown = tenth
		fmt.Fprintf(p.w, "progress: %s\n", status)
	}
}

// lookedUp shows the progress of a lookup of n chats.
func (p *progress) lookedUp(done, n int) {
	if p.tty {
		fmt.Fprintf(p.w, "\rlooked up %d of %d", done, n)
		p.drawn = true
		return
	}
	if done == n || (10*done/n) > (10*(done-1)/n) {
		fmt.Fprintf(p.w, "progress: looked up %d of %d\n", done, n)
	}
}

func (p *progress) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}
