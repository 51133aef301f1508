// Package testrun configures the test binaries of this module.
package testrun

import (
	"flag"
	"runtime"
	"strconv"
)

// Parallel lets n parallel tests run at a time (at least one a core),
// unless -test.parallel was given. graphchat's tests mostly wait (on the
// emulator's pacing and Retry-After, on processes) rather than compute, so
// one test a core leaves the machine idle. Call it from TestMain, before
// m.Run.
func Parallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", strconv.Itoa(max(n, runtime.GOMAXPROCS(0))))
	}
}
