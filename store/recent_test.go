package store

import (
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

func jobIDs(js []*Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}
