package main

import (
	"io"
	"regexp"
	"sync"
)

// Tokens are never printed. Rather than each message redacting what it
// quotes, run passes every byte the program writes to standard output and
// standard error through one redactingWriter: a token given in any flag,
// argument or input, and echoed by any path (a violation, a usage error, a
// service error, a log line), is replaced by redactedToken on its way out.
// The one exception is the token command, whose output is the token it
// mints (env.unredacted).

// redactedToken replaces a token in output. It holds no character JSON
// escapes, so a token inside a JSON string is replaced and the document
// stays valid.
const redactedToken = "[redacted token]"

// jwtLike matches what may be an access token: a base64url JSON segment
// ("eyJ", which is `{"` encoded) and whatever follows it, or three
// base64url segments of which the first two are long.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]*)*|[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]*`)

// redact replaces anything that looks like a token in s.
func redact(s string) string { return string(redactBytes([]byte(s))) }

// redactBytes replaces anything that looks like a token in b. A match that
// begins inside a JSON escape (the "n" of \n, the digits of \u00e9) keeps
// the escape whole, so that JSON stays valid.
func redactBytes(b []byte) []byte {
	locs := jwtLike.FindAllIndex(b, -1)
	if locs == nil {
		return b
	}
	out := make([]byte, 0, len(b))
	last := 0
	for _, l := range locs {
		start := l[0] + inEscape(b, l[0])
		if start >= l[1] {
			continue
		}
		out = append(out, b[last:start]...)
		out = append(out, redactedToken...)
		last = l[1]
	}
	return append(out, b[last:]...)
}

// inEscape returns how many bytes from b[i] on belong to a backslash
// escape that began before i (\n, \", \u00e9), or 0.
func inEscape(b []byte, i int) int {
	for j := i - 1; j >= 0 && j >= i-5; j-- {
		if b[j] != '\\' {
			continue
		}
		run := 0
		for k := j; k >= 0 && b[k] == '\\'; k-- {
			run++
		}
		if run%2 == 0 {
			return 0 // an escaped backslash: nothing escapes b[j+1]
		}
		end := j + 2
		if b[j+1] == 'u' {
			end = j + 6
		}
		return max(0, end-i)
	}
	return 0
}

// redactingWriter writes to w what is written to it, redacted (see
// redactBytes). It is safe for concurrent use.
//
// Each Write is redacted on its own: a token split across two Write calls
// would not be recognised. Every writer of this program writes a token
// whole in one call: fmt.Fprint* and the JSON encoder write a whole line or
// document, slog's handlers a whole record, text/tabwriter a whole cell
// (a token holds no tab or line break). A writer that streams text in
// pieces (io.Copy of an input, say) must not be pointed at standard output
// or standard error.
type redactingWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func newRedactingWriter(w io.Writer) *redactingWriter {
	if r, ok := w.(*redactingWriter); ok {
		return r
	}
	return &redactingWriter{w: w}
}

// Write writes p, redacted. It reports len(p) when the redacted bytes were
// all written.
func (r *redactingWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.w.Write(redactBytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
