package dispatch

import (
	"container/heap"
	"slices"
	"time"

	"multimsg/store"
)

// window is the part of the store's due index the dispatcher holds in memory: at most about
// Options.Window jobs, ordered by due time, whatever the backlog. The store's "due" bucket is
// the truth (written in the same transaction as each job's state); the window is a cache of
// its head, read again from the store every heartbeat and whenever it runs out.
//
// Its promise: every indexed job whose key (due time, id) is at or before upTo is in the
// window or running. Jobs beyond upTo may be in the window too (extras), but none is started
// before the window covers it, so jobs start in due order. Lowering upTo is always safe (it
// promises less); a page read from the start of the index raises it again.
type window struct {
	h     dueHeap
	items map[string]*item
	upTo  store.Due // covered: every index entry up to here is held or running
	all   bool      // the last page reached the end of the index: everything is covered

	reading bool       // a page is being read (refill), see missed
	missed  *store.Due // the earliest job turned away while reading
}

func (w *window) len() int { return len(w.h) }

// covers says whether the window promises to hold the job with key k.
func (w *window) covers(k store.Due) bool { return w.all || !w.upTo.Before(k) }

// shrink lowers what the window covers to before k (it holds less than it said).
func (w *window) shrink(k store.Due) {
	below := store.Due{At: k.At} // before every id at that time, so before k
	if w.all || below.Before(w.upTo) {
		w.upTo = below
	}
	w.all = false
}

// turnedAway notes a job not taken into the window: if a page is being read, it may not be
// in it, and the window must not claim to cover it.
func (w *window) turnedAway(k store.Due) {
	if w.reading && (w.missed == nil || k.Before(*w.missed)) {
		w.missed = &k
	}
}

func (w *window) push(id string, at time.Time) {
	it := &item{id: id, at: at}
	w.items[id] = it
	heap.Push(&w.h, it)
}

// earlier moves id's entry to at if that comes sooner.
func (w *window) earlier(id string, at time.Time) {
	if it := w.items[id]; it != nil && at.Before(it.at) {
		it.at = at
		heap.Fix(&w.h, it.index)
	}
}

// next is the earliest due time held.
func (w *window) next() (time.Time, bool) {
	if len(w.h) == 0 {
		return time.Time{}, false
	}
	return w.h[0].at, true
}

// popDue takes the earliest job if it is due at now and covered.
func (w *window) popDue(now time.Time) (string, bool) {
	if len(w.h) == 0 || w.h[0].at.After(now) || !w.covers(w.h[0].key()) {
		return "", false
	}
	it := heap.Pop(&w.h).(*item)
	delete(w.items, it.id)
	return it.id, true
}

// stale says the window must read the index again before it can start anything: it is out
// of what it covers.
func (w *window) stale() bool {
	if w.all {
		return false
	}
	return len(w.h) == 0 || !w.covers(w.h[0].key())
}

// cover records that the page just read holds the index from its start; end: it is the
// whole index.
func (w *window) cover(page []store.Due, end bool) {
	w.all = end
	if len(page) > 0 {
		w.upTo = page[len(page)-1]
	}
	if w.missed != nil && w.covers(*w.missed) {
		w.shrink(*w.missed)
	}
	w.reading, w.missed = false, nil
}

// trim keeps the n earliest entries and returns the ids it let go (they stay in the index).
func (w *window) trim(n int) []string {
	if len(w.h) <= n {
		return nil
	}
	all := slices.Clone(w.h)
	slices.SortFunc(all, func(a, b *item) int {
		switch {
		case a.key().Before(b.key()):
			return -1
		case b.key().Before(a.key()):
			return 1
		}
		return 0
	})
	var gone []string
	for _, it := range all[n:] {
		delete(w.items, it.id)
		gone = append(gone, it.id)
	}
	// cover up to the last entry kept (not just before the first let go: at equal due times
	// that would leave the kept ones uncovered, and the next page would trim the same way)
	if last := all[n-1].key(); w.all || last.Before(w.upTo) {
		w.upTo = last
	}
	w.all = false
	w.h = all[:n]
	for i, it := range w.h {
		it.index = i
	}
	heap.Init(&w.h)
	return gone
}

type item struct {
	id    string
	at    time.Time
	index int
}

func (it *item) key() store.Due { return store.Due{At: it.at, ID: it.id} }

// dueHeap orders jobs by their next due time, then id (the index's order).
type dueHeap []*item

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].key().Before(h[j].key()) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *dueHeap) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return it
}
