package dispatch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"multimsg/internal/peertest"
	"multimsg/internal/poll"
	"multimsg/provider"
	"multimsg/provider/mail"
	"multimsg/store"
)

// openStore opens a store in a fresh directory and checks its consistency at the end.
func openStore(t *testing.T, o store.Options) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "multimsg.db"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		st.Close()
	})
	return st
}

// run starts d and stops it when the test ends.
func run(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// mailJob queues a two-file mail job (one e-mail: a text body and an attachment).
func mailJob(t *testing.T, st *store.Store, sender string) string {
	t.Helper()
	j, err := st.Create(context.Background(), store.NewJob{Device: "02:00:00:00:00:0a", IP: "10.77.0.10",
		Files:  []store.NewFile{{Name: "body", Data: []byte("pressure high")}, {Name: "log", Filename: "log.txt", Data: []byte("p=9 bar")}},
		Params: &store.Params{Service: "mail", Sender: sender, Dest: "ops@example.com", Types: []string{"text", "file"}}})
	if err != nil {
		t.Fatal(err)
	}
	return j.ID
}

// A mail job whose service has no sender left (an admin removed them all) used to dereference
// a nil sender in nextGroup and panic the gateway at every start: a reboot loop (issue 11,
// item 13). Its files then failed for good; now they wait (below).
func TestServiceWithoutSenders(t *testing.T) {
	st := openStore(t, store.Options{})
	id := mailJob(t, st, "old")
	reg, err := provider.NewRegistry(mail.Service(nil, nil, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	d := New(st, reg, Options{})
	run(t, d)
	// Since issue 14 the files wait with the reason instead of failing: an admin who removed
	// the last sender (settings page, SIGHUP) adds another, and the job goes through it.
	var j *store.Job
	poll.Until(t, 10*time.Second, "the reason the job waits", func() bool {
		j, err = st.Get(id)
		return err == nil && strings.Contains(j.Files[0].LastError, "no sender configured") &&
			strings.Contains(j.Files[1].LastError, "no sender configured")
	})
	if j.State != store.Queued || j.Files[0].Attempts != 0 {
		t.Fatalf("job state = %s, attempts %d; want queued, no attempt counted", j.State, j.Files[0].Attempts)
	}
	// The job's files wait as one group (one record, one due time), so they leave together as
	// one message; waited one by one, a Swap between the two split them into two messages.
	if !j.Files[0].NextAt.Equal(j.Files[1].NextAt) {
		t.Errorf("the files wait apart: due %v and %v, want one due time", j.Files[0].NextAt, j.Files[1].NextAt)
	}
	outbox := t.TempDir()
	drv, err := mail.New(mail.Options{Name: "new", Maildir: outbox, From: "gateway@localhost"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	err = d.Swap(nil, func() error {
		return reg.Replace(mail.Service([]provider.Sender{{Name: "new", Driver: drv}}, nil, time.Minute))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Retry(context.Background(), id); err != nil { // as the page's retry does; else it waits its minute
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "the job delivered through the new sender", func() bool {
		j, err = st.Get(id)
		return err == nil && j.State == store.Delivered
	})
	if n := maildirCount(t, outbox); n != 1 {
		t.Errorf("messages in the new sender's Maildir = %d, want 1", n)
	}
	if j.Files[0].Sender != "new" {
		t.Errorf("delivered by sender %q, want new (the old one is gone)", j.Files[0].Sender)
	}
}

// maildirCount is the number of messages delivered into the Maildir dir.
func maildirCount(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(es)
}

// syncBuffer is a log sink safe for the dispatcher's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

// A send the provider accepted is not repeated because the store could not record it (issue
// 11, item 11): while the database file refuses writes (chattr +i: every write fails with
// EPERM, as on a disk that cannot take them), the dispatcher retries the record, not the send;
// once the file takes writes again the job is delivered, with one message sent.
func TestRecordFailureDoesNotResend(t *testing.T) {
	peertest.Root(t, "chattr +i needs CAP_LINUX_IMMUTABLE")
	chattr := peertest.Binary(t, "chattr")
	dbPath := filepath.Join(t.TempDir(), "multimsg.db")
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	st, err := store.Open(dbPath, store.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command(chattr, "-i", dbPath).Run(); st.Close() })
	outbox := t.TempDir()
	drv, err := mail.New(mail.Options{Name: "default", Maildir: outbox, From: "gateway@localhost"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := provider.NewRegistry(mail.Service([]provider.Sender{{Name: "default", Driver: drv}}, nil, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	id := mailJob(t, st, "default")
	if out, err := exec.Command(chattr, "+i", dbPath).CombinedOutput(); err != nil {
		peertest.Missing(t, "chattr +i", fmt.Sprintf("the test directory's file system refused it: %v %s", err, out))
	}
	d := New(st, reg, Options{RetryMin: 20 * time.Millisecond, RetryMax: 40 * time.Millisecond, Log: log})
	run(t, d)
	poll.Until(t, 10*time.Second, "the send, and four failed commits of its outcome", func() bool {
		return maildirCount(t, outbox) >= 1 && logs.count("store: commit failed") >= 4
	})
	if n := maildirCount(t, outbox); n != 1 {
		t.Fatalf("%d messages sent while the outcome could not be recorded, want 1", n)
	}
	if out, err := exec.Command(chattr, "-i", dbPath).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v %s", err, out)
	}
	var j *store.Job
	poll.Until(t, 10*time.Second, "the pending outcome to be recorded", func() bool {
		j, err = st.Get(id)
		return err == nil && j.State.Finished()
	})
	if j.State != store.Delivered || j.Files[0].Attempts != 1 {
		t.Fatalf("job %s with %d attempts, want delivered at the first", j.State, j.Files[0].Attempts)
	}
	if n := maildirCount(t, outbox); n != 1 {
		t.Fatalf("%d messages sent in all, want 1", n)
	}
}
