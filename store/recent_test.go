package store

import (
	"sync"
	"testing"
	"time"
)

func TestRecent(t *testing.T) {
	c := newClock()
	s := open(t, Options{Now: c.Now, Unparameterised: time.Hour})
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, upload(t, s, "dev", 1).ID)
		c.Add(time.Second)
	}
	got, err := s.Recent(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != ids[4] || got[1].ID != ids[3] || got[2].ID != ids[2] {
		t.Fatalf("Recent(3) = %v, want the last three newest first %v", jobIDs(got), ids[2:])
	}
	var since []string
	if err := s.Since(c.Now().Add(-2500*time.Millisecond), func(j *Job) bool { since = append(since, j.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if len(since) != 2 || since[0] != ids[3] || since[1] != ids[4] {
		t.Fatalf("Since(now-2.5s) = %v, want %v", since, ids[3:])
	}
	// the sweep deletes unparameterised jobs: they leave the index too
	c.Add(2 * time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Recent(10); len(got) != 0 {
		t.Fatalf("Recent after purge = %v, want none", jobIDs(got))
	}
}

// TestSinceChunks: Since reads in several transactions and hands out every job once, in order,
// across the chunk boundaries, and stops when told to.
func TestSinceChunks(t *testing.T) {
	c := newClock()
	n := 2*sinceChunk + 7
	s := open(t, Options{Now: c.Now, MaxPreprocess: n})
	var ids []string
	for range n {
		ids = append(ids, upload(t, s, "dev", 1).ID)
		c.Add(time.Millisecond)
	}
	var got []string
	if err := s.Since(time.Time{}, func(j *Job) bool { got = append(got, j.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("Since read %d jobs, want %d", len(got), n)
	}
	for i := range got {
		if got[i] != ids[i] {
			t.Fatalf("Since job %d = %s, want %s", i, got[i], ids[i])
		}
	}
	k := 0
	if err := s.Since(time.Time{}, func(*Job) bool { k++; return k < sinceChunk+3 }); err != nil || k != sinceChunk+3 {
		t.Fatalf("Since stopped after %d jobs (%v), want %d", k, err, sinceChunk+3)
	}
}

func jobIDs(js []*Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

// fillRecent creates n jobs with parameters, 32 writers at once (group commit keeps it quick).
func fillRecent(b *testing.B, s *Store, n int) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				_, err := s.Create(ctx, NewJob{Device: "dev", IP: "192.0.2.1", Files: []NewFile{{Name: "body", Data: []byte("alert")}},
					Params: &Params{Service: "mail", Sender: "default", Dest: "ops@example.com", Types: []string{"text"}}})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRecent50 lists the admin page's 50 newest jobs of 20k: O(limit), whatever the store holds.
func BenchmarkRecent50(b *testing.B) {
	s := open(b, Options{})
	fillRecent(b, s, 20000)
	b.ReportAllocs()
	for b.Loop() {
		if js, err := s.Recent(50); err != nil || len(js) != 50 {
			b.Fatal(len(js), err)
		}
	}
}

// BenchmarkSince20k is the admin chart's rebuild at start over a day of 20k jobs (per job).
func BenchmarkSince20k(b *testing.B) {
	s := open(b, Options{})
	fillRecent(b, s, 20000)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := s.Since(time.Time{}, func(*Job) bool { n++; return true }); err != nil || n != 20000 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20000, "ns/job")
}
