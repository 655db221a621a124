package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func sentSMS(t *testing.T, s *Store, at time.Time, dest string, refs ...int) *Job {
	t.Helper()
	ctx := context.Background()
	j, err := s.Create(ctx, NewJob{Device: "dev", Files: []NewFile{{Name: "t", Data: []byte("alarm")}},
		Params: &Params{Service: "sms", Dest: dest, Types: []string{"text"}}})
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]PartRef, len(refs))
	for i, r := range refs {
		parts[i] = PartRef{Ref: r, Recipient: dest}
	}
	j, err = s.Record(ctx, j.ID, []int{0}, Outcome{At: at, Service: "sms", Sender: "modem1", OK: true, Attempted: true, Parts: parts})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestReportsMatchedPerPart(t *testing.T) {
	now := time.Date(2026, 12, 4, 7, 0, 0, 0, time.UTC)
	s, err := Open(filepath.Join(t.TempDir(), "m.db"), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	old := sentSMS(t, s, now.Add(-time.Hour), "34600111222", 7)      // MR 7 long ago, never reported
	two := sentSMS(t, s, now.Add(-time.Minute), "34600111222", 7, 8) // MR 7 again (wrapped), then 8
	if st, _ := two.Files[0].Report(now, time.Hour); st != ReportAccepted {
		t.Fatalf("before reports: %q, want accepted", st)
	}
	// The network writes the recipient in its own form; the newest part with MR 7 is two's.
	j, err := s.ReportPart(ctx, StatusReport{Sender: "modem1", Recipient: "+34600111222", Ref: 7, Status: 0})
	if err != nil || j.ID != two.ID {
		t.Fatalf("ReportPart = %v, %v; want job %s", j, err, two.ID)
	}
	if st, _ := j.Files[0].Report(now, time.Hour); st != ReportAccepted {
		t.Fatalf("one of two reported: %q, want accepted", st)
	}
	if _, err := s.ReportPart(ctx, StatusReport{Sender: "modem2", Recipient: "34600111222", Ref: 8}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a report from another modem = %v, want ErrNotFound", err)
	}
	// a temporary status first: the part stays matchable for the final one
	if _, err := s.ReportPart(ctx, StatusReport{Sender: "modem1", Recipient: "600111222", Ref: 8, Status: 0x21}); err != nil {
		t.Fatal(err)
	}
	j, err = s.ReportPart(ctx, StatusReport{Sender: "modem1", Recipient: "600111222", Ref: 8, Status: 0})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := j.Files[0].Report(now, time.Hour); st != ReportHandset {
		t.Fatalf("both reported delivered: %q, want handset", st)
	}
	// the older part with MR 7 is next in line for a report with MR 7
	j, err = s.ReportPart(ctx, StatusReport{Sender: "modem1", Recipient: "34600111222", Ref: 7, Status: 0x46})
	if err != nil || j.ID != old.ID {
		t.Fatalf("second MR 7 report = %v, %v; want the older job", j, err)
	}
	st, p := j.Files[0].Report(now, time.Hour)
	if st != ReportFailed || p == nil || p.Status != 0x46 {
		t.Fatalf("failed report: %q %+v", st, p)
	}
	// no report within the wait: unconfirmed
	three := sentSMS(t, s, now.Add(-2*time.Hour), "15551234567", 9)
	if st, _ := three.Files[0].Report(now, time.Hour); st != ReportUnconfirmed {
		t.Fatalf("no report after the wait: %q, want unconfirmed", st)
	}
	// removing a job removes its parts from the index
	if err := s.write(ctx, func(w *wtx) error {
		j, err := getJob(w.tx, three.ID)
		if err != nil {
			return err
		}
		return w.remove(j)
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReportPart(ctx, StatusReport{Sender: "modem1", Recipient: "15551234567", Ref: 9}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("report for a removed job = %v, want ErrNotFound", err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
