//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// openNoFollow makes opening a symbolic link fail.
const openNoFollow = syscall.O_NOFOLLOW

// runLock is the exclusive lock of one results file for a whole run: an
// flock on NAME.lock, which holds the pid and start time of its holder. The
// kernel releases it when the process ends, however it ends; the file stays.
type runLock struct{ f *os.File }

func lockResults(results string) (*runLock, error) {
	name := results + ".lock"
	if st, err := os.Lstat(name); err == nil && !st.Mode().IsRegular() {
		return nil, usagef("%s is not a regular file (a link or a directory): remove it; it is the lock of %s", name, results)
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|openNoFollow, 0o644)
	if err != nil {
		return nil, usagef("opening the lock %s: %v", name, errors.Unwrap(err))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := make([]byte, 256)
		n, _ := f.ReadAt(holder, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			var parts []string // "pid N", "started T"
			for _, l := range strings.Split(string(holder[:n]), "\n") {
				if l = strings.TrimSpace(l); l != "" {
					parts = append(parts, l)
				}
			}
			who := strings.Join(parts, ", ")
			if who == "" {
				who = "a run that has not written its pid yet"
			}
			return nil, usagef("%s is in use by another run of demo bulk (%s): wait for it to end, or stop it; two runs on one results file would create every chat twice", results, who)
		}
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	holder := fmt.Sprintf("pid %d\nstarted %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(holder), 0)
	}
	return &runLock{f: f}, nil
}

// unlock releases the lock; the file stays (removing it would let a run
// that opened it before lock a file no other run sees).
func (l *runLock) unlock() {
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
