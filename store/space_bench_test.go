package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkOutageSpace: an outage of ~1 KB jobs until the store refuses (quota and file quota
// 32 MiB, as the gateway sets them from [store] quota), drained, a second outage of the same
// size, compacted full, drained, compacted empty. It reports the file against the quota, the second
// outage's growth and the compaction (issue 12, item 3; docs/LOAD.md).
func BenchmarkOutageSpace(b *testing.B) {
	for range b.N {
		const quota = 32 << 20
		c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		s, err := Open(filepath.Join(b.TempDir(), "o.db"), Options{Quota: quota, FileQuota: quota,
			TTL: time.Hour, Unconsulted: time.Hour, KeepArchived: time.Hour, Now: c.Now})
		if err != nil {
			b.Fatal(err)
		}
		s.compactMin = 1 << 20
		fill := func() int {
			body := make([]byte, 1024)
			n := 0
			for {
				var ns []NewJob
				for range 256 {
					p := params(1)
					ns = append(ns, NewJob{Device: "d", Files: []NewFile{{Name: "f", Data: body}}, Params: &p})
				}
				_, err := s.BulkLoad(context.Background(), ns)
				if errors.Is(err, ErrQuota) || errors.Is(err, ErrDiskFull) {
					return n
				}
				if err != nil {
					b.Fatal(err)
				}
				n += len(ns)
			}
		}
		n1 := fill()
		sp1 := s.Space()
		drain(b, s, c)
		n2 := fill()
		sp2 := s.Space()
		full, err := s.Compact(context.Background()) // a full store: the worst wait for writers
		if err != nil {
			b.Fatal(err)
		}
		drain(b, s, c)
		st, err := s.Compact(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
		b.ReportMetric(float64(n1), "jobs/outage")
		b.ReportMetric(float64(sp1.FileBytes)/quota, "file/quota")
		b.ReportMetric(float64(sp1.FileAlloc)/quota, "alloc/quota")
		b.ReportMetric(float64(sp1.LiveBytes)/quota, "live/quota")
		b.ReportMetric(float64(n2), "jobs/outage2")
		b.ReportMetric(float64(sp2.FileBytes-sp1.FileBytes), "growth-B/outage2")
		b.ReportMetric(float64(full.Took.Milliseconds()), "compact-full-ms")
		b.ReportMetric(float64(full.After)/float64(full.Before), "compact-full-after/before")
		b.ReportMetric(float64(st.Took.Milliseconds()), "compact-ms")
		b.ReportMetric(float64(st.After), "compacted-B")
	}
}
