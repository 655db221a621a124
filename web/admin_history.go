package web

import (
	"sync"
	"time"

	"multimsg/store"
)

// The 24-hour chart: jobs accepted, deliveries made and deliveries failed for good, per hour.
//
// The counters live in memory, in a ring of 24 hourly slots. At start they are rebuilt from
// the store's creation-time index (jobs created in the last 24 h: accepted at ParamsAt, each
// distinct delivery time of a delivered file a delivery, each distinct failure time of a
// failed file a failure — the same units the live feed counts); afterwards they are fed live:
// accepted by successful /send and /msg answers, deliveries and failures by the dispatcher's
// Observe hook, cancels by the admin action. Nothing is written to disk for them, so a restart
// costs one read of the last day's jobs and never loses the picture.

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

// rebuild fills the ring from the jobs created in the 24 hours before now.
func (h *history) rebuild(st *store.Store, now time.Time) error {
	from := now.Add(-historyHours * time.Hour).Truncate(time.Hour)
	return st.Since(from, func(j *store.Job) bool {
		if !j.ParamsAt.IsZero() {
			h.add(histAccepted, j.ParamsAt, 1)
		}
		seen := map[int64]bool{}
		for _, f := range j.Files {
			if f.DoneAt.IsZero() || seen[f.DoneAt.UnixNano()] {
				continue
			}
			seen[f.DoneAt.UnixNano()] = true
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
