package main

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The walkthrough's steps share one layout: two spaces in, numbered in
// order (1., 2., ... then a., b., ...), then columns apart by two spaces or
// more (text within a column is one space apart). Every step starts its
// columns where the first step of its section does, the label column is
// as wide in every section, and a step's further lines leave the label
// blank and start in one of the step's other columns.
func TestWalkthroughLayout(t *testing.T) {
	t.Parallel()
	r := demo(t, nil, "walkthrough")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	header := regexp.MustCompile(`^  ([0-9]+|[a-z])\. `)
	var (
		ids        []string
		cols       []int // the columns of the section's first step; nil outside a section's steps
		labelWidth int   // where the second column starts, the same in every section
	)
	for n, line := range strings.Split(r.stdout, "\n") {
		if !strings.HasPrefix(line, "  ") {
			cols = nil // a heading, or a blank line between sections
			continue
		}
		starts := columnStarts(line)
		m := header.FindStringSubmatch(line)
		switch {
		case m != nil && cols == nil:
			ids = append(ids, m[1])
			cols = starts
			if len(cols) < 3 {
				t.Errorf("line %d: step %s has %d columns, want its label and at least two more:\n%q", n+1, m[1], len(cols), line)
				continue
			}
			if labelWidth == 0 {
				labelWidth = cols[1]
			} else if cols[1] != labelWidth {
				t.Errorf("line %d: step %s starts its second column at %d, the first section at %d:\n%q", n+1, m[1], cols[1], labelWidth, line)
			}
		case m != nil:
			ids = append(ids, m[1])
			if !slices.Equal(starts, cols) {
				t.Errorf("line %d: step %s has columns at %v, its section's first step at %v:\n%q", n+1, m[1], starts, cols, line)
			}
		case cols == nil:
			t.Errorf("line %d: an indented line outside a section's steps:\n%q", n+1, line)
		default:
			for _, s := range starts {
				if !slices.Contains(cols[1:], s) {
					t.Errorf("line %d: a step's further line has text at %d, not in one of the step's columns %v after the label:\n%q", n+1, s, cols[1:], line)
				}
			}
		}
	}
	var want []string
	for i := range 9 {
		want = append(want, strconv.Itoa(i+1))
	}
	for c := 'a'; c <= 'g'; c++ {
		want = append(want, string(c))
	}
	if !slices.Equal(ids, want) {
		t.Errorf("steps numbered %v, want %v", ids, want)
	}
}

// columnStarts are where a line's columns start: text after two spaces or
// more.
func columnStarts(line string) []int {
	var out []int
	for i := 2; i < len(line); i++ {
		if line[i] != ' ' && line[i-1] == ' ' && line[i-2] == ' ' {
			out = append(out, i)
		}
	}
	return out
}
