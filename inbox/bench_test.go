package inbox

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"multimsg/provider"
	"multimsg/store"
)

// BenchmarkInbound: one 160-character SMS handed in, committed, matched and its forwarding job
// created (a webhook), as the modem side calls it. Besides time and allocations per message it
// reports what one stored message costs: bytes charged to the quota for the message and its
// job (stored-B/msg), bytes of database file per message (file-B/msg), and heap kept per
// message after a GC (heap-B/msg: the inbox keeps nothing in memory, so this should be ~0).
func BenchmarkInbound(b *testing.B) {
	st, err := store.Open(filepath.Join(b.TempDir(), "b.db"), store.Options{Quota: 1 << 34, InboxMax: 1 << 30, InboxBytes: 1 << 34})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ib, err := New(st, Options{Rules: []Rule{hookAll}, Registry: registry(b)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	text := strings.Repeat("Alarm zone 3 ", 13)[:160]
	used0, _ := st.Bytes()
	size0 := st.FileSize()
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	t0 := time.Unix(1.7e9, 0)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := ib.Inbound(ctx, provider.Inbound{Service: "sms", Sender: "modem1", From: "+4917012345678", Sent: t0.Add(time.Duration(i) * time.Second), Text: text}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	n, _ := st.InCounts()
	used, _ := st.Bytes()
	b.ReportMetric(float64(used-used0)/float64(n), "stored-B/msg")
	b.ReportMetric(float64(st.FileSize()-size0)/float64(n), "file-B/msg")
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(n), "heap-B/msg")
}
