//go:build !unix

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// openNoFollow: no such flag here; checkResultsPath refuses links first.
const openNoFollow = 0

// runLock is the exclusive lock of one results file for a whole run: the
// file NAME.lock, created exclusively with the pid and start time of its
// holder, removed at the end. A run that crashed leaves it: remove it by
// hand after checking that the pid it names is gone.
type runLock struct{ name string }

func lockResults(results string) (*runLock, error) {
	name := results + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		holder, _ := os.ReadFile(name)
		who := strings.TrimSpace(strings.ReplaceAll(string(holder), "\n", ", "))
		return nil, usagef("%s is in use by another run of demo bulk (%s): wait for it to end; if that process is gone, remove %s", results, who, name)
	}
	if err != nil {
		return nil, usagef("creating the lock %s: %v", name, errors.Unwrap(err))
	}
	fmt.Fprintf(f, "pid %d\nstarted %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	f.Close()
	return &runLock{name: name}, nil
}

func (l *runLock) unlock() { os.Remove(l.name) }
