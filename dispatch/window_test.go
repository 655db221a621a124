package dispatch

import (
	"fmt"
	"testing"
	"time"

	"multimsg/store"
)

func newWindow() *window { return &window{items: map[string]*item{}} }

// Trimming jobs that are all due at the same instant keeps the ones it holds covered: the
// next page must not trim the same way forever.
func TestWindowTrimEqualTimes(t *testing.T) {
	w := newWindow()
	at := time.Unix(1000, 0)
	var page []store.Due
	for i := range 30 {
		id := fmt.Sprintf("job%02d", i)
		w.push(id, at)
		if i < 10 {
			page = append(page, store.Due{At: at, ID: id})
		}
	}
	w.cover(page, false)
	gone := w.trim(10)
	if len(gone) != 20 || w.len() != 10 {
		t.Fatalf("trim(10) let go of %d, holds %d; want 20, 10", len(gone), w.len())
	}
	if w.stale() {
		t.Fatalf("after trim the window is stale: upTo %v, head %v", w.upTo, w.h[0].key())
	}
	for i := range 10 {
		id, ok := w.popDue(at)
		if want := fmt.Sprintf("job%02d", i); !ok || id != want {
			t.Fatalf("popDue = %q, %v; want %s", id, ok, want)
		}
	}
	if _, ok := w.popDue(at); ok || !w.stale() {
		t.Errorf("an empty window that does not cover everything must read the index again")
	}
}

// A job turned away while a page is read is not claimed as covered by that page.
func TestWindowTurnedAwayWhileReading(t *testing.T) {
	w := newWindow()
	at := time.Unix(1000, 0)
	w.reading = true
	late := store.Due{At: at.Add(time.Second), ID: "new"}
	w.turnedAway(late)
	w.turnedAway(store.Due{At: at.Add(time.Hour), ID: "later"})
	w.cover([]store.Due{{At: at, ID: "a"}}, true) // the page read before "new" was committed
	if w.covers(late) {
		t.Errorf("window covers %v, turned away during the read", late)
	}
	if w.all || w.reading || w.missed != nil {
		t.Errorf("after cover: all %v, reading %v, missed %v", w.all, w.reading, w.missed)
	}
	w.push("a", at)
	w.earlier("a", at.Add(-time.Second))
	w.earlier("a", at.Add(time.Hour)) // later: ignored
	if next, ok := w.next(); !ok || !next.Equal(at.Add(-time.Second)) {
		t.Errorf("next = %v, want %v", next, at.Add(-time.Second))
	}
}
