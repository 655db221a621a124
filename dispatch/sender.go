package dispatch

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"multimsg/provider"
)

// senderState is one sender's slots, pacing and health.
type senderState struct {
	service string
	name    string
	drv     provider.Driver
	slots   chan struct{} // Concurrency deliveries at once
	picked  atomic.Int32  // deliveries assigned to this sender and not finished (load sharing)
	gap     time.Duration // 1/Rate; 0: no pacing

	mu          sync.Mutex // guards the fields below
	nextSend    time.Time
	paused      bool
	downUntil   time.Time
	downWhy     string
	lastOK      time.Time
	lastErr     string
	lastErrAt   time.Time
	failingFrom time.Time
	sent        int64
	failures    int64
	readyAt     time.Time // the driver last said it can send again (provider.ReadyNotifier)
}

func newSenderState(svc *provider.Service, s *provider.Sender) *senderState {
	c := max(s.Concurrency, 1)
	ss := &senderState{service: svc.Name, name: s.Name, drv: s.Driver, slots: make(chan struct{}, c)}
	if s.Rate > 0 {
		ss.gap = time.Duration(float64(time.Second) / s.Rate)
	}
	return ss
}

// pausedWait is how long files wait before they look at a paused sender again.
const pausedWait = time.Minute

// blocked says how long the sender's work must wait, and why: paused by an admin, or down
// (needs an operator; the wait counts as failing, toward fallback_after).
func (s *senderState) blocked(now time.Time) (wait time.Duration, why string, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.paused:
		return pausedWait, ErrPaused.Error(), false
	case now.Before(s.downUntil):
		return s.downUntil.Sub(now), "sender unhealthy: " + s.downWhy, true
	}
	return 0, "", false
}

// send takes a slot, waits for the pace, and calls the driver with a bounded context.
func (s *senderState) send(ctx context.Context, d provider.Delivery, timeout time.Duration, clock func() time.Time) (provider.Receipt, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return provider.Receipt{}, ctx.Err()
	}
	defer func() { <-s.slots }()
	if s.gap > 0 {
		s.mu.Lock()
		now := clock()
		at := s.nextSend
		if at.Before(now) {
			at = now
		}
		s.nextSend = at.Add(s.gap)
		s.mu.Unlock()
		if wait := at.Sub(now); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return provider.Receipt{}, ctx.Err()
			}
		}
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return s.drv.Send(sctx, d)
}

// failing reports whether the sender's last attempt failed (temporarily).
func (s *senderState) failing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.failingFrom.IsZero()
}

func (s *senderState) succeeded(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastOK, s.sent = now, s.sent+1
	s.failingFrom, s.downUntil, s.downWhy = time.Time{}, time.Time{}, ""
}

func (s *senderState) failed(now time.Time, class provider.Class, err error, hold time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures++
	s.lastErr, s.lastErrAt = err.Error(), now
	if class == provider.Permanent {
		return // this message's fault, not the sender's
	}
	if s.failingFrom.IsZero() {
		s.failingFrom = now
	}
	if class == provider.Down {
		// an operator must act: hold the sender's work, probing again after a while
		s.downUntil, s.downWhy = now.Add(min(hold, time.Minute)), err.Error()
	}
}

// SenderStatus is one sender as admins see it: the one health of a sender, owned by the
// dispatcher. It joins the dispatcher's record of outcomes with the driver's own view
// (Driver: what only the driver knows, typed by it), by the rule in senderState.status.
type SenderStatus struct {
	Service     string           `json:"service"`
	Name        string           `json:"name"`
	Healthy     bool             `json:"healthy"`
	Paused      bool             `json:"paused"`
	Problem     string           `json:"problem,omitempty"`
	LastOK      time.Time        `json:"last_ok,omitzero"`
	LastError   string           `json:"last_error,omitempty"`
	LastErrorAt time.Time        `json:"last_error_at,omitzero"`
	FailingFrom time.Time        `json:"failing_from,omitzero"`
	Sent        int64            `json:"sent"`
	Failures    int64            `json:"failures"`
	Driver      *provider.Health `json:"driver,omitempty"`
}

// status is the sender's health at now. The rule, in one place:
//   - down: an error that needs an operator (provider.Down) came after the last success, or
//     its hold has not run out; its reason is the problem;
//   - else a driver that says it cannot send (Health.OK false: a modem not ready, a token
//     refused) gives the problem, in its own words;
//   - healthy: no problem and the last attempt did not fail (temporarily).
func (s *senderState) status(now time.Time) SenderStatus {
	s.mu.Lock()
	st := SenderStatus{Service: s.service, Name: s.name, Paused: s.paused, LastOK: s.lastOK,
		LastError: s.lastErr, LastErrorAt: s.lastErrAt, FailingFrom: s.failingFrom, Sent: s.sent, Failures: s.failures}
	down := now.Before(s.downUntil) || (s.downWhy != "" && s.lastOK.Before(s.lastErrAt))
	if down {
		st.Problem = s.downWhy
	}
	s.mu.Unlock()
	if hr, ok := s.drv.(provider.HealthReporter); ok {
		h := hr.Health()
		st.Driver = &h
		if !h.OK && st.Problem == "" {
			st.Problem = h.Detail
		}
	}
	st.Healthy = !down && st.Problem == "" && st.FailingFrom.IsZero()
	return st
}

// Senders reports every sender's health, sorted by service and name.
func (d *Dispatcher) Senders() []SenderStatus {
	now := d.o.Now()
	senders := d.senderMap()
	out := make([]SenderStatus, 0, len(senders))
	for _, s := range senders {
		out = append(out, s.status(now))
	}
	sort.Slice(out, func(i, k int) bool {
		if out[i].Service != out[k].Service {
			return out[i].Service < out[k].Service
		}
		return out[i].Name < out[k].Name
	})
	return out
}

// Pause stops (or, with false, resumes) deliveries through a sender. It reports whether the
// sender exists.
func (d *Dispatcher) Pause(service, sender string, pause bool) bool {
	s, ok := d.senderMap()[service+"/"+sender]
	if !ok {
		return false
	}
	s.mu.Lock()
	s.paused = pause
	s.mu.Unlock()
	// Work held back while paused was recorded due again a minute later (pausedWait) and
	// goes out then: the due index is the one place that says when, and a resume does not
	// rewrite it for the whole backlog.
	d.poke()
	return true
}

func decodeInfo(raw json.RawMessage) provider.Info {
	if len(raw) == 0 {
		return nil
	}
	var m provider.Info
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}
