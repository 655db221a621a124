package web

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"multimsg/internal/poll"
	"multimsg/provider"
	"multimsg/store"
)

// TestHistoryAfterRestart: a server started over a store that already holds a day of jobs
// answers at once, reads the earlier hours back in the background, and ends with each event
// counted once — those before its start from the store, those after it live, even when the
// store already holds them by the time it is read.
func TestHistoryAfterRestart(t *testing.T) {
	var mu sync.Mutex
	clock := time.Now().Add(-5 * time.Hour)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	set := func(t time.Time) { mu.Lock(); clock = t; mu.Unlock() }
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"), store.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	job := func() *store.Job {
		j, err := st.Create(ctx, store.NewJob{Device: "d", IP: "192.0.2.1",
			Files:  []store.NewFile{{Name: "a", Data: []byte("x")}, {Name: "b", Data: []byte("y")}},
			Params: &store.Params{Service: "mail", Sender: "default", Dest: "ops@example.com", Types: []string{"text", "text"}}})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	record := func(j *store.Job, o store.Outcome) {
		o.Service, o.Sender, o.Attempted = "mail", "default", true
		if _, err := st.Record(ctx, j.ID, []int{0, 1}, o); err != nil {
			t.Fatal(err)
		}
	}
	t5 := now()
	a := job() // 5 h ago: accepted, and both files delivered together (one delivery)
	record(a, store.Outcome{At: t5.Add(time.Minute), OK: true})
	t2 := t5.Add(3 * time.Hour)
	set(t2)
	b := job() // 2 h ago: accepted, failed for good
	record(b, store.Outcome{At: t2, Final: true, Err: "550 no"})

	reg, _ := provider.NewRegistry(&provider.Service{Name: "mail", Types: []string{"text"},
		Senders: []provider.Sender{{Name: "default", Driver: nopDriver{}}}})
	s := New(Options{Store: st, Registry: reg})
	// after the cut, before the store is read: a job accepted and delivered, counted live
	set(s.started.Add(time.Second))
	c := job()
	s.hist.add(histAccepted, now(), 1)
	record(c, store.Outcome{At: now(), OK: true})
	s.hist.add(histDelivered, now(), 1)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Shutdown(ctx)
	poll.Until(t, 10*time.Second, "the chart to be read back", func() bool { return s.hist.begun.Load() && !s.hist.loading.Load() })

	sum := map[int64][3]int64{} // unix hour → accepted, delivered, failed
	count := func(at time.Time, k int) {
		v := sum[at.Unix()/3600]
		v[k]++
		sum[at.Unix()/3600] = v
	}
	count(t5, 0)
	count(t5.Add(time.Minute), 1)
	count(t2, 0)
	count(t2, 2)
	count(now(), 0)
	count(now(), 1)
	for _, h := range s.Snapshot().History {
		got := [3]int64{h.Accepted, h.Delivered, h.Failed}
		if w := sum[h.Start.Unix()/3600]; got != w {
			t.Errorf("hour %s: accepted, delivered, failed = %v, want %v", h.Start.Format("15:04"), got, w)
		}
	}
}
