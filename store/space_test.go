package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// outage stores n queued jobs of size bytes each, as devices do while the uplink is down
// (in batches: the test's speed, not the store's, is the point here).
func outage(t testing.TB, s *Store, n, size int) []string {
	t.Helper()
	var ids []string
	body := make([]byte, size)
	for len(ids) < n {
		var ns []NewJob
		for i := 0; i < 500 && len(ids)+len(ns) < n; i++ {
			p := params(1)
			ns = append(ns, NewJob{Device: "aa:bb:cc:dd:ee:01", Files: []NewFile{{Name: "f", Data: body}}, Params: &p})
		}
		got, err := s.BulkLoad(context.Background(), ns)
		if err != nil {
			t.Fatalf("BulkLoad after %d jobs: %v", len(ids), err)
		}
		ids = append(ids, got...)
	}
	return ids
}

// drain lets every job run out its life: expired, archived, purged (three sweeps).
func drain(t testing.TB, s *Store, c *clock) {
	t.Helper()
	for range 3 {
		c.Add(2 * time.Hour)
		if _, err := s.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if live, _ := s.Bytes(); live != 0 {
		t.Fatalf("after the drain %d live bytes, want 0", live)
	}
}

// Space freed by a drained outage is reused by the next one of the same size, and a
// compaction gives the rest back to the filesystem (issue 12, item 3).
func TestOutageSpaceReusedThenCompacted(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "o.db")
	s, err := Open(path, Options{Quota: 1 << 30, TTL: time.Hour, Unconsulted: time.Hour, KeepArchived: time.Hour, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	s.compactMin = 1 << 20
	const n, size = 5000, 1024
	outage(t, s, n, size)
	first := s.Space()
	drain(t, s, c)
	outage(t, s, n, size)
	second := s.Space()
	t.Logf("outage of %d × %d B: file %d B, live %d B (×%.2f); second outage: file %d B",
		n, size, first.FileBytes, first.LiveBytes, float64(first.FileBytes)/float64(first.LiveBytes), second.FileBytes)
	if second.FileBytes > first.FileBytes {
		t.Fatalf("second outage grew the file: %d → %d bytes, want freed pages reused", first.FileBytes, second.FileBytes)
	}
	drain(t, s, c)
	sp := s.Space()
	if sp.FreeInFile < sp.FileBytes/2 {
		t.Fatalf("drained store: %d of %d bytes free in the file, want most", sp.FreeInFile, sp.FileBytes)
	}
	// The idle-time step compacts a mostly free file once no commit ran for a while.
	s.lastCommit.Store(time.Now().Add(-time.Hour).UnixNano())
	st, done, err := s.CompactIfSparse(context.Background())
	if err != nil || !done {
		t.Fatalf("CompactIfSparse = %v, %v, want a compaction", done, err)
	}
	t.Logf("compaction: %s", st)
	if st.After >= st.Before/4 {
		t.Fatalf("compaction: %s, want the file mostly gone", st)
	}
	// The store works on: a job written after it survives a reopen.
	ids := outage(t, s, 10, size)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := s.Get(id); err != nil {
			t.Fatalf("Get(%s) after compaction and reopen: %v", id, err)
		}
	}
}

// A compaction a crash interrupted leaves its new file behind; Open removes it and the store
// is the old file, whole.
func TestCompactionCrashLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := outage(t, s, 50, 100)
	s.Close()
	if err := os.WriteFile(compactPath(path), []byte("half a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(compactPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale compaction file after Open: %v, want removed", err)
	}
	for _, id := range ids {
		if _, err := s.Get(id); err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
	}
}

// The file quota counts the database's pages, not only what devices uploaded.
func TestFileQuota(t *testing.T) {
	s := open(t, Options{Quota: 1 << 30, FileQuota: 2 << 20})
	body := make([]byte, 1024)
	var err error
	n := 0
	for ; n < 10000; n++ {
		p := params(1)
		if _, err = s.Create(context.Background(), NewJob{Device: "d", Files: []NewFile{{Name: "f", Data: body}}, Params: &p}); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrQuota) {
		t.Fatalf("Create after %d jobs = %v, want ErrQuota on the file's pages", n, err)
	}
	sp := s.Space()
	t.Logf("refused after %d jobs: %d live bytes, %d bytes of pages in use, file %d", n, sp.LiveBytes, sp.InUse, sp.FileBytes)
	if sp.InUse > 2<<20+commitSlack {
		t.Fatalf("pages in use %d, want at most the file quota %d", sp.InUse, 2<<20)
	}
}

func TestDiskErrorStatus(t *testing.T) {
	for _, e := range []error{fmt.Errorf("write x: %w", errENOSPC), fmt.Errorf("write x: %w", errEIO)} {
		if err := diskError(e); !errors.Is(err, ErrDiskFull) && !errors.Is(err, ErrIO) {
			t.Errorf("diskError(%v) = %v, want ErrDiskFull or ErrIO", e, err)
		}
	}
}
