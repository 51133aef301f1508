package graphchattest

import (
	"fmt"
	"strconv"
	"strings"
)

// Fault is a failure the emulator can inject.
type Fault string

// Faults. "Before" faults answer without processing the request; "after"
// faults process it (a chat is created) and then fail, which is what makes
// retrying a non-idempotent request dangerous.
const (
	FaultNone      Fault = ""
	Fault503       Fault = "503"        // 503 + Retry-After, nothing processed
	Fault504       Fault = "504"        // 504, nothing processed
	Fault504After  Fault = "504-after"  // processed, then 504
	FaultDropAfter Fault = "drop-after" // processed, then the connection is closed with no response
	FaultSlowAfter Fault = "slow-after" // processed, then the response is held (Options.SlowDelay, 30 s by default)
)

var faults = []Fault{Fault503, Fault504, Fault504After, FaultDropAfter, FaultSlowAfter}

// FaultRule injects a fault into a share of requests.
type FaultRule struct {
	Fault       Fault
	Probability float64 // 0 to 1
}

// ParseFaults reads a fault specification such as
// "503=0.05,504-after=0.02,drop-after=0.01".
func ParseFaults(spec string) ([]FaultRule, error) {
	var rules []FaultRule
	total := 0.0
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, p, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("graphchattest: fault %q: want NAME=PROBABILITY, such as 503=0.05", part)
		}
		f := Fault(strings.TrimSpace(name))
		known := false
		for _, k := range faults {
			known = known || k == f
		}
		if !known {
			return nil, fmt.Errorf("graphchattest: fault %q: want one of 503, 504, 504-after, drop-after, slow-after", name)
		}
		prob, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || prob < 0 || prob > 1 {
			return nil, fmt.Errorf("graphchattest: fault %s probability %q: want a number from 0 to 1", name, p)
		}
		total += prob
		rules = append(rules, FaultRule{Fault: f, Probability: prob})
	}
	if total > 1 {
		return nil, fmt.Errorf("graphchattest: fault probabilities add up to %g: want at most 1", total)
	}
	return rules, nil
}

// pickFault draws the fault for one request.
func (e *Emulator) pickFault() Fault {
	if len(e.opts.Faults) == 0 {
		return FaultNone
	}
	e.mu.Lock()
	x := e.rng.Float64()
	e.mu.Unlock()
	for _, r := range e.opts.Faults {
		if x < r.Probability {
			return r.Fault
		}
		x -= r.Probability
	}
	return FaultNone
}
