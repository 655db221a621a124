// Package backoff is the one retry wait of multimsg: exponential from a first wait, doubling up
// to a cap, jittered, and cancelled by a context. The dispatcher's retries of a delivery, the
// modem supervisor's reopening of its port and the ARP watcher's re-reads and re-opens of its
// socket all wait by it (they were four hand-written loops with the same shape and different
// details).
//
// Every wait is jittered into [d/2, d]: a box with several modems, or many jobs failing at the
// same moment, does not retry in lock-step. The jitter comes from math/rand/v2 (no seeding,
// safe for concurrent use).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy says how long to wait before the next attempt: Min before the second attempt, twice
// that before the third, and so on, never more than Max.
type Policy struct {
	Min, Max time.Duration
}

// Delay is the wait after attempt n failed (n ≥ 1; n < 1 counts as 1): Min·2^(n-1), capped
// at Max, jittered into [d/2, d]. A Max below Min caps at Max.
func (p Policy) Delay(n int) time.Duration {
	return Jitter(p.Ceiling(n))
}

// Ceiling is Delay without the jitter: the longest wait after attempt n.
func (p Policy) Ceiling(n int) time.Duration {
	d := max(p.Min, 0)
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2 // stops at Max long before it could overflow: Max is a time.Duration too
	}
	return min(d, max(p.Max, 0))
}

// Jitter spreads d over [d/2, d].
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// Retry counts consecutive failures for a loop that retries one thing (a port, a socket). The
// zero value of the counter starts at the first attempt; a Retry belongs to one goroutine.
type Retry struct {
	Policy
	n int
}

// New returns a Retry that waits by p.
func New(min, max time.Duration) *Retry { return &Retry{Policy: Policy{Min: min, Max: max}} }

// Next counts a failure and returns the wait before the next attempt.
func (r *Retry) Next() time.Duration {
	r.n++
	return r.Delay(r.n)
}

// Reset starts the count again after a success: the next failure waits about Min.
func (r *Retry) Reset() { r.n = 0 }

// Failures is how many failures were counted since the last Reset.
func (r *Retry) Failures() int { return r.n }

// Sleep waits d, or less when ctx ends first; it reports whether the whole wait passed (false:
// ctx is done, stop retrying).
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
