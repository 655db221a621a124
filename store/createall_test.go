package store

import (
	"errors"
	"testing"
)

// CreateAll (mailin: one job per recipient of a mail) stores all the jobs or none, keeps Via,
// and counts them against the quota together.
func TestCreateAll(t *testing.T) {
	s := open(t, Options{Quota: 8000})
	job := func(n int) NewJob {
		return NewJob{Device: "aa:bb:cc:dd:ee:ff", Via: "mail", Files: []NewFile{{Name: "text", Data: make([]byte, n)}},
			Params: &Params{Service: "sms", Dest: "15551234567", Types: []string{"text"}}}
	}
	ids, err := s.CreateAll(ctx, []NewJob{job(100), job(100)})
	if err != nil || len(ids) != 2 {
		t.Fatalf("CreateAll = %v, %v", ids, err)
	}
	for _, id := range ids {
		j, err := s.Get(id)
		if err != nil || j.Via != "mail" || j.State != Queued {
			t.Fatalf("Get(%s) = %+v, %v; want queued, via mail", id, j, err)
		}
	}
	// the second job does not fit: neither is stored
	_, err = s.CreateAll(ctx, []NewJob{job(100), job(6000)})
	if !errors.Is(err, ErrQuota) {
		t.Fatalf("CreateAll over quota = %v, want ErrQuota", err)
	}
	if counts, _ := s.Counts(); counts[Queued] != 2 {
		t.Fatalf("a refused CreateAll changed the counts: %v", counts)
	}
}
