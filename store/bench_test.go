package store

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkCreateParallel is the durable group commit: concurrent 1 KB uploads, each fsync'd
// before it returns.
func BenchmarkCreateParallel(b *testing.B) {
	s := open(b, Options{Quota: 1 << 40})
	data := make([]byte, 1024)
	b.SetParallelism(32) // 64 writers on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Create(ctx, NewJob{Device: "d", Files: []NewFile{{Name: "body", Data: data}}, Params: ptr(params(1))}); err != nil {
				b.Error(err)
				return
			}
		}
	})
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
				if err := w.tx.Bucket(bData).Put(dataKey(j.ID, 0), []byte("abc")); err != nil {
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
