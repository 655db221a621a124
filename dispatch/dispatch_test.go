package dispatch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

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
// item 13). Its files now fail for good, saying why.
func TestServiceWithoutSenders(t *testing.T) {
	st := openStore(t, store.Options{})
	id := mailJob(t, st, "default")
	reg, err := provider.NewRegistry(mail.Service(nil, nil, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	run(t, New(st, reg, Options{}))
	var j *store.Job
	poll.Until(t, 10*time.Second, "the job to finish", func() bool {
		j, err = st.Get(id)
		return err == nil && j.State.Finished()
	})
	if j.State != store.Failed {
		t.Fatalf("job state = %s, want failed", j.State)
	}
	for _, f := range j.Files {
		if f.State != store.FileFailed || f.LastError == "" {
			t.Errorf("file %s: state %s, error %q; want failed with a reason", f.Name, f.State, f.LastError)
		}
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
