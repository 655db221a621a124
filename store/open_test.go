package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestOpenOptions measures bbolt's freelist options on a store with a large backlog (make
// bench; MULTIMSG_LOAD=1): the time Open takes from a cold page cache (when this runs as
// root) and from a warm one, and the durable ingest after it — beside the same ingest into an
// empty store. It prints figures and asserts nothing about speed. Besides the rate (which
// follows the machine's load) it prints what does not: pages written per commit, jobs per
// commit, CPU per job, and the free pages the freelist holds (a synced freelist writes 8 bytes
// of each at every commit).
//
//	MULTIMSG_LOAD_OPEN_JOBS=100000  queued ~1 KB jobs in the store (the 500,000-job figures
//	                                are gateway's TestBacklog, with the option kept)
func TestOpenOptions(t *testing.T) {
	if os.Getenv("MULTIMSG_LOAD") != "1" {
		t.Skip("load benchmark: run with MULTIMSG_LOAD=1 (make bench)")
	}
	n := 100_000
	if v := os.Getenv("MULTIMSG_LOAD_OPEN_JOBS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("MULTIMSG_LOAD_OPEN_JOBS=%q: want a number", v)
		}
	}
	path := filepath.Join(t.TempDir(), "backlog.db")
	t0 := time.Now()
	FillQueued(t, path, n, 1000)
	t.Logf("open options: filled %d queued 1 KB jobs in %s, file %.1f MiB", n, time.Since(t0).Round(time.Millisecond), float64(fileSizeOf(path))/(1<<20))
	for _, c := range []struct {
		name   string
		noSync bool
		typ    bolt.FreelistType
	}{
		{"freelist synced, map", false, bolt.FreelistMapType},
		{"freelist synced, array", false, bolt.FreelistArrayType},
		{"freelist not synced, map", true, bolt.FreelistMapType},
		{"freelist not synced, array", true, bolt.FreelistArrayType},
	} {
		o := Options{Quota: 1 << 40, bolt: func(b *bolt.Options) { b.NoFreelistSync, b.FreelistType = c.noSync, c.typ }}
		// once to write the file the way this option leaves it (a synced freelist or none)
		s, err := Open(path, o)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		cold := "not measured (not root)"
		if dropCaches() == nil {
			t0 := time.Now()
			s, err := Open(path, o)
			if err != nil {
				t.Fatal(err)
			}
			cold = time.Since(t0).Round(time.Microsecond).String()
			s.Close()
		}
		t0 := time.Now()
		s, err = Open(path, o)
		if err != nil {
			t.Fatal(err)
		}
		warm := time.Since(t0).Round(time.Microsecond)
		f := measureIngest(t, s, 2*time.Second)
		s.Close()
		t.Logf("open options: %-27s open cold %s, warm %s; then %s", c.name, cold, warm, f)
		e, err := Open(filepath.Join(t.TempDir(), "empty.db"), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("open options: %-27s empty store:          %s", c.name, measureIngest(t, e, 2*time.Second))
		e.Close()
	}
}

// measureIngest runs ingest on s for d and words what it cost: the rate, and the figures that
// do not follow the machine's load (pages written and jobs per commit, CPU per job, the
// freelist's size after).
func measureIngest(t testing.TB, s *Store, d time.Duration) string {
	c0, j0, w0, cpu0 := s.commits.Load(), s.committed.Load(), pageWrites(s), cpuTime()
	rate := ingest(t, s, d)
	commits, jobs := max(s.commits.Load()-c0, 1), max(s.committed.Load()-j0, 1)
	st := s.db.Stats()
	la, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%.0f durable 1 KB jobs/s (32 writers, load average %.5s); %.1f jobs and %.1f pages written a commit, %.0f µs CPU a job; %d free pages",
		rate, la, float64(jobs)/float64(commits), float64(pageWrites(s)-w0)/float64(commits),
		float64((cpuTime()-cpu0).Microseconds())/float64(jobs), st.FreePageN+st.PendingPageN)
}

// dropCaches empties the kernel's page cache (root only), for cold-start figures.
func dropCaches() error {
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200)
}

// ingest is the rate of concurrent Creates of queued 1 KB jobs over d.
func ingest(t testing.TB, s *Store, d time.Duration) float64 {
	data := make([]byte, 1024)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var n int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	t0 := time.Now()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := int64(0)
			for ctx.Err() == nil {
				if _, err := s.Create(context.Background(), NewJob{Device: "d", Files: []NewFile{{Name: "body", Data: data}}, Params: ptr(params(1))}); err != nil {
					t.Error(err)
					return
				}
				k++
			}
			mu.Lock()
			n += k
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(t0).Seconds()
}

func fileSizeOf(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// FillQueued fills the store at path with n queued jobs of one size-byte text file each (mail
// to a@example.com), in big transactions: a backlog for benchmarks, in seconds rather than the
// minutes the HTTP path would take.
func FillQueued(t testing.TB, path string, n, size int) {
	t.Helper()
	s, err := Open(path, Options{Quota: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const per = 20_000
	batch := make([]NewJob, 0, per)
	for done := 0; done < n; {
		batch = batch[:0]
		for i := 0; i < per && done+i < n; i++ {
			text := fmt.Appendf(make([]byte, 0, size), "backlog job %d ", done+i)
			for len(text) < size {
				text = append(text, "lorem ipsum dolor sit amet "...)
			}
			batch = append(batch, NewJob{Device: "local", IP: "127.0.0.1", Files: []NewFile{{Name: "body", Filename: "body.txt", Data: text[:size]}},
				Params: &Params{Service: "mail", Dest: "a@example.com", Types: []string{"text"}}})
		}
		ids, err := s.BulkLoad(context.Background(), batch)
		if err != nil {
			t.Fatalf("BulkLoad after %d jobs: %v", done, err)
		}
		done += len(ids)
	}
}
