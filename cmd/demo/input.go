package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Limits of what the program reads. A larger input is refused with an
// error naming it and the limit: nothing is cut silently.
const (
	maxBody      = 4 << 20  // a POST /chats body
	maxDirectory = 16 << 20 // a --directory file of users
	maxMetadata  = 64 << 20 // Microsoft's permissions.json (about 2 MB in 2025)
)

// utf8BOM is the UTF-8 byte-order mark, accepted (and dropped) at the start
// of every input.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readInput reads a file, or standard input for "-", up to limit bytes. It
// returns when ctx is done even while a read blocks (standard input waiting
// for a terminal, a pipe that never closes), with an error that wraps
// ctx.Err(). A leading byte-order mark is dropped. Errors are usage errors
// naming the input (what, such as "--directory", and the file) and the
// limit.
func (e *env) readInput(ctx context.Context, what, name string, limit int64) ([]byte, error) {
	label := name
	if name == "-" {
		label = "standard input"
	}
	if what != "" {
		label = what + " " + label
	}
	var r io.Reader
	if name == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, usagef("reading %s: %v", label, err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return nil, usagef("reading %s: is a directory, want a file", label)
		}
		r = f
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		done <- result{data, err}
	}()
	var res result
	select {
	case <-ctx.Done():
		// The read goes on in its goroutine until the process exits; a
		// file is closed by the deferred Close, which ends it.
		return nil, fmt.Errorf("reading %s: %w", label, ctx.Err())
	case res = <-done:
	}
	if res.err != nil {
		return nil, usagef("reading %s: %v", label, res.err)
	}
	if int64(len(res.data)) > limit {
		return nil, usagef("reading %s: larger than %s, the limit for this input", label, size(limit))
	}
	return bytes.TrimPrefix(res.data, utf8BOM), nil
}

// size writes a byte count in binary units.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
