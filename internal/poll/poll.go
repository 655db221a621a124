// Package poll waits in tests for a condition that no signal announces (a file appearing in a
// Maildir, a peer closing its end): it checks the condition on a ticker until it holds or a
// deadline passes. Where a signal exists, tests wait on the signal instead.
package poll

import (
	"testing"
	"time"
)

// Every is how often Until checks.
const Every = 5 * time.Millisecond

// Until checks cond every few milliseconds until it holds, and fails t naming what it waited
// for when timeout passes first.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Wait(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// Wait checks cond every few milliseconds until it holds (true) or timeout passes (false).
func Wait(timeout time.Duration, cond func() bool) bool {
	if cond() {
		return true
	}
	tick := time.NewTicker(Every)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return true
			}
		case <-deadline.C:
			return cond()
		}
	}
}
