package web

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"multimsg/store"
)

// The 24-hour chart: jobs accepted, deliveries made and deliveries failed for good, per hour.
//
// The counters live in memory, in a ring of 24 hourly slots, fed live from the moment the
// server is built: accepted by successful /send and /msg answers, deliveries and failures by
// the dispatcher's Observe hook, cancels by the admin action. What happened before that moment
// (the cut) is read back from the store's creation-time index once the listener is up, in the
// background (jobs created in the last 24 h: accepted at ParamsAt, each distinct delivery time
// of a delivered file a delivery, each distinct failure time of a failed file a failure — the
// same units the live feed counts), counting only events before the cut, so nothing is counted
// twice. Start-up therefore does not grow with the store (issue 19): at 50 k jobs the read
// takes about half a second, and until it ends the chart shows the day so far without the
// older hours (Status.HistoryLoading says so). Nothing is written to disk for the chart, so a
// restart never loses the picture. (A wall clock stepped back across the cut after start could
// count an event twice; a box's clock steps forward, see restore_clock.)

const historyHours = 24

// Hour is one hour of the chart.
type Hour struct {
	Start     time.Time `json:"start"`     // the hour's beginning (UTC)
	Accepted  int64     `json:"accepted"`  // jobs given parameters (/send, /msg)
	Delivered int64     `json:"delivered"` // deliveries made (a mail job is one, an SMS per file)
	Failed    int64     `json:"failed"`    // deliveries failed for good (incl. admin cancels)
}

type history struct {
	mu    sync.Mutex // guards slots
	slots [historyHours]struct {
		hour    int64 // unix hour this slot counts; stale slots are reset on use
		a, d, f int64
	}

	cut     time.Time     // events before it come from the store, later ones live
	begun   atomic.Bool   // the read of the store has started
	loading atomic.Bool   // … and has not ended
	stop    atomic.Bool   // Shutdown asks it to end
	once    sync.Once     // starts it
	done    chan struct{} // closed when it has ended
}

func newHistory(cut time.Time) *history {
	return &history{cut: cut, done: make(chan struct{})}
}

// load reads the events before the cut from st, once, in the background.
func (h *history) load(st *store.Store, log *slog.Logger) {
	h.once.Do(func() {
		h.loading.Store(true)
		h.begun.Store(true)
		go func() {
			defer close(h.done)
			defer h.loading.Store(false)
			t0 := time.Now()
			if err := h.rebuild(st); err != nil {
				log.Error("web: reading the 24-hour chart back from the store", "err", err)
				return
			}
			log.Debug("web: 24-hour chart read back", "took", time.Since(t0))
		}()
	})
}

// halt ends the read (if one runs) and waits for it, up to ctx.
func (h *history) halt(ctx context.Context) {
	h.stop.Store(true)
	if !h.begun.Load() {
		return
	}
	select {
	case <-h.done:
	case <-ctx.Done():
	}
}

type histKind int

const (
	histAccepted histKind = iota
	histDelivered
	histFailed
)

func (h *history) add(k histKind, at time.Time, n int64) {
	hr := at.Unix() / 3600
	i := int(((hr % historyHours) + historyHours) % historyHours)
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &h.slots[i]
	if s.hour != hr {
		if s.hour > hr {
			return // older than the ring
		}
		s.hour, s.a, s.d, s.f = hr, 0, 0, 0
	}
	switch k {
	case histAccepted:
		s.a += n
	case histDelivered:
		s.d += n
	case histFailed:
		s.f += n
	}
}

// last returns the 24 hours ending with now's, oldest first.
func (h *history) last(now time.Time) []Hour {
	cur := now.Unix() / 3600
	out := make([]Hour, historyHours)
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range historyHours {
		hr := cur - int64(historyHours-1-k)
		out[k].Start = time.Unix(hr*3600, 0).UTC()
		s := h.slots[int(((hr%historyHours)+historyHours)%historyHours)]
		if s.hour == hr {
			out[k].Accepted, out[k].Delivered, out[k].Failed = s.a, s.d, s.f
		}
	}
	return out
}

// rebuild adds the events before the cut of the jobs created in the 24 hours before it.
func (h *history) rebuild(st *store.Store) error {
	from := h.cut.Add(-historyHours * time.Hour).Truncate(time.Hour)
	return st.Since(from, func(j *store.Job) bool {
		if h.stop.Load() {
			return false
		}
		if !j.ParamsAt.IsZero() && j.ParamsAt.Before(h.cut) {
			h.add(histAccepted, j.ParamsAt, 1)
		}
		var seen [4]int64 // distinct done times: a mail job's files are done together
		ns := seen[:0]
		for _, f := range j.Files {
			if f.DoneAt.IsZero() || !f.DoneAt.Before(h.cut) || slices.Contains(ns, f.DoneAt.UnixNano()) {
				continue
			}
			ns = append(ns, f.DoneAt.UnixNano())
			switch f.State {
			case store.FileDelivered:
				h.add(histDelivered, f.DoneAt, 1)
			case store.FileFailed:
				h.add(histFailed, f.DoneAt, 1)
			}
		}
		return true
	})
}
