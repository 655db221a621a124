package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "test.db"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Check(); err != nil {
			t.Errorf("consistency check: %v", err)
		}
		s.Close()
	})
	return s
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

var ctx = context.Background()

func upload(t testing.TB, s *Store, dev string, n int) *Job {
	t.Helper()
	var files []NewFile
	for i := 0; i < n; i++ {
		files = append(files, NewFile{Name: fmt.Sprintf("f%d", i), Filename: fmt.Sprintf("f%d.txt", i), Data: []byte(fmt.Sprintf("content %d", i))})
	}
	j, err := s.Create(ctx, NewJob{Device: dev, IP: "192.0.2.1", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func params(n int) Params {
	types := make([]string, n)
	for i := range types {
		types[i] = "text"
	}
	return Params{Service: "mail", Sender: "default", Dest: "a@example.com", Types: types}
}

func TestLifecycle(t *testing.T) {
	c := newClock()
	s := open(t, Options{Now: c.Now})
	j := upload(t, s, "aa:bb:cc:dd:ee:01", 2)
	if !ValidID(j.ID) || j.State != Preprocess {
		t.Fatalf("Create = %q %s, want a valid id in preprocess", j.ID, j.State)
	}
	if _, err := s.View(j.ID, "aa:bb:cc:dd:ee:02"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("View(other device) = %v, want ErrNotFound", err)
	}
	got, err := s.Consult(ctx, j.ID, "aa:bb:cc:dd:ee:01")
	if err != nil || got.State != Preprocess {
		t.Fatalf("Consult = %v, %v; want preprocess", got, err)
	}
	var woke []string
	s.OnQueued(func(id string) { woke = append(woke, id) })
	if _, err := s.SetParams(ctx, j.ID, "aa:bb:cc:dd:ee:02", params(2)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetParams(other device) = %v, want ErrNotFound", err)
	}
	q, err := s.SetParams(ctx, j.ID, "aa:bb:cc:dd:ee:01", params(2))
	if err != nil || q.State != Queued {
		t.Fatalf("SetParams = %v, %v; want queued", q, err)
	}
	if len(woke) != 1 || woke[0] != j.ID {
		t.Fatalf("OnQueued calls = %v, want [%s]", woke, j.ID)
	}
	if _, err := s.SetParams(ctx, j.ID, "aa:bb:cc:dd:ee:01", params(2)); !errors.Is(err, ErrState) {
		t.Fatalf("second SetParams = %v, want ErrState", err)
	}
	var queued []string
	s.Queued(func(j *Job) bool { queued = append(queued, j.ID); return true })
	if len(queued) != 1 {
		t.Fatalf("Queued = %v, want one job", queued)
	}
	// file 0 delivered, file 1 retried then failed for good: partial
	r, err := s.Record(ctx, j.ID, []int{0}, Outcome{At: c.Now(), Service: "mail", Sender: "default", OK: true, MessageID: "m1", Attempted: true})
	if err != nil || r.State != Queued || r.Files[0].State != FileDelivered {
		t.Fatalf("Record ok = %+v, %v", r, err)
	}
	r, _ = s.Record(ctx, j.ID, []int{1}, Outcome{At: c.Now(), Service: "mail", Err: "421 busy", NextAt: c.Now().Add(time.Minute), Attempted: true})
	if r.Files[1].State != FilePending || r.Files[1].Attempts != 1 || r.Files[1].FailingFrom.IsZero() {
		t.Fatalf("Record temporary = %+v", r.Files[1])
	}
	r, _ = s.Record(ctx, j.ID, []int{1}, Outcome{At: c.Now(), Service: "mail", Err: "550 no such user", Final: true, Attempted: true})
	if r.State != Partial || r.Files[1].LastError != "550 no such user" || len(r.Files[1].History) != 2 {
		t.Fatalf("Record permanent = %s %+v", r.State, r.Files[1])
	}
	counts, archived := s.Counts()
	if counts[Partial] != 1 || counts[Queued] != 0 || archived != 0 {
		t.Fatalf("Counts = %v %d", counts, archived)
	}
	// the finished answer archives it: the device can no longer consult it
	if r, err := s.Consult(ctx, j.ID, "aa:bb:cc:dd:ee:01"); err != nil || r.State != Partial {
		t.Fatalf("Consult(finished) = %v, %v", r, err)
	}
	if _, err := s.Consult(ctx, j.ID, "aa:bb:cc:dd:ee:01"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Consult(archived) = %v, want ErrNotFound", err)
	}
	if a, err := s.Get(j.ID); err != nil || !a.Archived {
		t.Fatalf("admin Get(archived) = %v, %v", a, err)
	}
	counts, archived = s.Counts()
	if counts[Partial] != 0 || archived != 1 {
		t.Fatalf("Counts after archive = %v %d", counts, archived)
	}
	// purged after keep_archived
	c.Add(7*24*time.Hour + time.Second)
	st, err := s.Sweep(ctx)
	if err != nil || st.Purged != 1 {
		t.Fatalf("Sweep = %v, %v; want 1 purged", st, err)
	}
	if _, err := s.Get(j.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(purged) = %v", err)
	}
	if used, _ := s.Bytes(); used != 0 {
		t.Fatalf("Bytes after purge = %d, want 0", used)
	}
}

func TestRetention(t *testing.T) {
	c := newClock()
	s := open(t, Options{Now: c.Now, TTL: time.Hour})
	unparam := upload(t, s, "d", 1)
	expiring := upload(t, s, "d", 1)
	s.SetParams(ctx, expiring.ID, "d", params(1))
	finished := upload(t, s, "d", 1)
	s.SetParams(ctx, finished.ID, "d", params(1))
	s.Record(ctx, finished.ID, []int{0}, Outcome{At: c.Now(), OK: true, Service: "mail", Attempted: true})

	c.Add(time.Hour + time.Second) // TTL passed
	st, _ := s.Sweep(ctx)
	if st.Expired != 1 || st.Deleted != 0 {
		t.Fatalf("Sweep after 1h = %v", st)
	}
	e, _ := s.Get(expiring.ID)
	if e.State != Failed || e.Files[0].LastError == "" {
		t.Fatalf("expired job = %s %q, want failed with a reason", e.State, e.Files[0].LastError)
	}
	c.Add(24 * time.Hour)
	st, _ = s.Sweep(ctx)
	if st.Deleted != 1 || st.Archived != 2 {
		t.Fatalf("Sweep after 25h = %v, want 1 deleted (unparameterised), 2 archived (unconsulted)", st)
	}
	if _, err := s.Get(unparam.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unparameterised job still there: %v", err)
	}
	if f, _ := s.Get(finished.ID); !f.Archived {
		t.Fatalf("unconsulted finished job not archived")
	}
}

func TestQuota(t *testing.T) {
	s := open(t, Options{Quota: 4000})
	if _, err := s.Create(ctx, NewJob{Device: "d", Files: []NewFile{{Name: "a", Data: make([]byte, 2000)}}}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Create(ctx, NewJob{Device: "d", Files: []NewFile{{Name: "b", Data: make([]byte, 2000)}}})
	if !errors.Is(err, ErrQuota) {
		t.Fatalf("Create over quota = %v, want ErrQuota", err)
	}
	if counts, _ := s.Counts(); counts[Preprocess] != 1 {
		t.Fatalf("a refused upload changed the counts: %v", counts)
	}
}

// TestGroupCommitIsolation: a failing write in a batch does not take the others down.
func TestGroupCommitConcurrent(t *testing.T) {
	s := open(t, Options{Quota: 1 << 20, MaxPreprocess: 1000})
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := 0; i < 200; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := s.Create(ctx, NewJob{Device: "d", Files: []NewFile{{Name: "a", Data: make([]byte, 1000)}}})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := s.SetParams(ctx, "AAAAAAAAAAAAAAAAAAAAAA", "d", params(1))
			if !errors.Is(err, ErrNotFound) {
				errs <- fmt.Errorf("SetParams(unknown) = %v", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if counts, _ := s.Counts(); counts[Preprocess] != 200 {
		t.Fatalf("Counts = %v, want 200 preprocess", counts)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "re.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	j := upload(t, s, "d", 3)
	s.SetParams(ctx, j.ID, "d", params(3))
	s.TouchDevice("aa:bb:cc:dd:ee:ff", "192.0.2.9", time.Now())
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(j.ID)
	if err != nil || got.State != Queued || len(got.Files) != 3 {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
	data, _ := s.Data(j.ID)
	if string(data[2].Data) != "content 2" {
		t.Fatalf("Data after reopen = %q", data[2].Data)
	}
	if counts, _ := s.Counts(); counts[Queued] != 1 {
		t.Fatalf("counts after reopen = %v", counts)
	}
	if len(s.Devices()) != 2 { // "d" and the touched MAC
		t.Fatalf("Devices after reopen = %v", s.Devices())
	}
}

func TestRetryAndCancel(t *testing.T) {
	c := newClock()
	s := open(t, Options{Now: c.Now})
	j := upload(t, s, "d", 1)
	s.SetParams(ctx, j.ID, "d", params(1))
	s.Record(ctx, j.ID, []int{0}, Outcome{At: c.Now(), Final: true, Err: "550", Attempted: true})
	r, err := s.Retry(ctx, j.ID)
	if err != nil || r.State != Queued || r.Files[0].State != FilePending {
		t.Fatalf("Retry = %+v, %v", r, err)
	}
	r, err = s.Cancel(ctx, j.ID, "cancelled by admin")
	if err != nil || r.State != Failed || r.Files[0].LastError != "cancelled by admin" {
		t.Fatalf("Cancel = %+v, %v", r, err)
	}
	if counts, _ := s.Counts(); counts[Failed] != 1 || counts[Queued] != 0 {
		t.Fatalf("counts = %v", counts)
	}
}

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{{newID(), true}, {"", false}, {"1", false}, {"AAAAAAAAAAAAAAAAAAAAA/", false}, {"AAAAAAAAAAAAAAAAAAAAA_", true}} {
		if got := ValidID(tc.in); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
