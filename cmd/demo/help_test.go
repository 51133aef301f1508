package main

import (
	"strings"
	"testing"
)

// In every command's help, the flags' descriptions start in one column,
// continuation lines included.
func TestHelpFlagsAligned(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		r := demo(t, nil, "help", c.name)
		_, flags, ok := strings.Cut(r.stdout, "\nflags:\n")
		if !ok {
			continue
		}
		flags, _, _ = strings.Cut(flags, "\n\n")
		col := -1
		for _, line := range strings.Split(flags, "\n") {
			at := len(line) - len(strings.TrimLeft(line, " ")) // a continuation line
			if m := flagLine.FindStringIndex(line); m != nil && strings.HasPrefix(line, "  --") {
				at = m[1] - 1
			}
			if col < 0 {
				col = at
			}
			if at != col {
				t.Errorf("help %s: description at column %d, not %d: %q", c.name, at, col, line)
			}
		}
	}
	// The command table says what the walkthrough does: messages too.
	if w := lookupCommand("walkthrough"); !strings.Contains(w.summary, "messages") || !strings.Contains(w.about, "messages") {
		t.Errorf("walkthrough: %q / %q", w.summary, w.about)
	}
}
