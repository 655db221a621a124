package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCreateParallel is the durable group commit: concurrent 1 KB uploads, each fsync'd
// before it returns.
func BenchmarkCreateParallel(b *testing.B) {
	createParallel(b, open(b, Options{Quota: 1 << 40}))
}

// BenchmarkCreateBacklog is BenchmarkCreateParallel on an empty store and on one holding a
// backlog of queued 1 KB jobs (issue 12: ingest must hold under a week's outage). The CPU and
// page writes per job compare between the two where jobs/s, on a shared machine, do not.
//
//	MULTIMSG_BENCH_BACKLOG=500000   the backlog (default 100,000: the fill takes ~2 s per 100k)
func BenchmarkCreateBacklog(b *testing.B) {
	n := 100_000
	if v := os.Getenv("MULTIMSG_BENCH_BACKLOG"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("MULTIMSG_BENCH_BACKLOG=%q: want a number", v)
		}
	}
	for _, backlog := range []int{0, n} {
		// Filled once: b.Run calls its function again for each b.N it tries.
		s := open(b, Options{Quota: 1 << 40})
		data := make([]byte, 1024)
		batch := make([]NewJob, 0, 20_000)
		for done := 0; done < backlog; done += len(batch) {
			batch = batch[:0]
			for i := 0; i < cap(batch) && done+i < backlog; i++ {
				batch = append(batch, NewJob{Device: "d", Files: []NewFile{{Name: "body", Data: data}}, Params: ptr(params(1))})
			}
			if _, err := s.BulkLoad(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("queued=%d", backlog), func(b *testing.B) { createParallel(b, s) })
	}
}

func createParallel(b *testing.B, s *Store) {
	data := make([]byte, 1024)
	b.SetParallelism(32) // 64 writers on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, pages0 := cpuTime(), pageWrites(s)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Create(ctx, NewJob{Device: "d", Files: []NewFile{{Name: "body", Data: data}}, Params: ptr(params(1))}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(pageWrites(s)-pages0)/float64(b.N), "pwrites/op")
	b.ReportMetric(float64(s.committed.Load())/float64(max(s.commits.Load(), 1)), "ops/commit")
	if testing.Verbose() {
		st := s.db.Stats().TxStats
		n := time.Duration(max(s.commits.Load(), 1))
		b.Logf("per commit: spill %v, write+fdatasync %v", st.GetSpillTime()/n, st.GetWriteTime()/n)
	}
}

// cpuTime is the CPU time (user and system) this process has used: on a machine shared with
// other work, CPU per operation compares between runs where wall time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func pageWrites(s *Store) int64 {
	st := s.db.Stats()
	return st.TxStats.GetWrite()
}

func ptr[T any](v T) *T { return &v }

// BenchmarkConsult measures a /cons lookup (read transaction, B+tree search, decode) with 1k
// and 1M jobs stored: O(log n), so the two should be close.
func BenchmarkConsult(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		if n > 1000 && testing.Short() {
			continue
		}
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "c.db"), Options{Quota: 1 << 40})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ids := fill(b, s, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Consult(ctx, ids[i%len(ids)], "d"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fill stores n small queued jobs quickly (direct batches, not the request path) and returns
// a sample of 1000 of their ids.
func fill(b *testing.B, s *Store, n int) []string {
	b.Helper()
	const per = 20_000
	var ids []string
	for done := 0; done < n; {
		k := min(per, n-done)
		jobs := make([]*Job, k)
		err := s.write(ctx, func(w *wtx) error {
			for i := range jobs {
				j := &Job{ID: newID(), Device: "d", State: Queued, Files: []File{{Name: "body", Type: "text", Size: 3, State: FilePending}}}
				jobs[i] = j
				if err := w.tx.Bucket(bData).Put(dataKey(j, 0), []byte("abc")); err != nil {
					return err
				}
				if err := w.put(j, j.Deadline); err != nil {
					return err
				}
			}
			return nil
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(jobs) && len(ids) < 1000; i += max(1, n/1000) {
			ids = append(ids, jobs[i].ID)
		}
		done += k
	}
	return ids
}
