package arp

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/gopacket/layers"
)

// benchTable returns a table holding n pairs 10.x.y.z, learned without capture.
func benchTable(b testing.TB, n int) *Table {
	tb, err := New(context.Background(), Options{}, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		tb.learn(ip, [6]byte{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}, SourceARP)
	}
	return tb
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tb := benchTable(t, 256)
	defer tb.Close()
	hit, miss := netip.AddrFrom4([4]byte{10, 0, 0, 77}), netip.AddrFrom4([4]byte{192, 0, 2, 1})
	if n := testing.AllocsPerRun(1000, func() {
		if _, ok := tb.Lookup(hit); !ok {
			t.Fatal("miss")
		}
		tb.Lookup(miss)
	}); n != 0 {
		t.Fatalf("Lookup allocates %v times per call, want 0", n)
	}
}

func BenchmarkLookup(b *testing.B) {
	tb := benchTable(b, 1000)
	defer tb.Close()
	ip := netip.AddrFrom4([4]byte{10, 0, 1, 77})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := tb.Lookup(ip); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkLookupMiss(b *testing.B) {
	tb := benchTable(b, 1000)
	defer tb.Close()
	ip := netip.AddrFrom4([4]byte{192, 0, 2, 1})
	b.ReportAllocs()
	for b.Loop() {
		tb.Lookup(ip)
	}
}

// BenchmarkLookupParallel is Lookup from every core while a writer refreshes entries, as when
// the web front serves many devices while ARP traffic flows.
func BenchmarkLookupParallel(b *testing.B) {
	tb := benchTable(b, 1000)
	defer tb.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tb.learn(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8 & 3), byte(i)}), [6]byte{2, 0, 0, 0, byte(i >> 8 & 3), byte(i)}, SourceARP)
		}
	}()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ip := netip.AddrFrom4([4]byte{10, 0, 1, 77})
		for pb.Next() {
			if _, ok := tb.Lookup(ip); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.StopTimer()
	close(stop)
	<-done
}

// BenchmarkCaptureKnownPair is the per-frame cost of the common case: decode a frame and
// refresh a pair already known.
func BenchmarkCaptureKnownPair(b *testing.B) {
	tb := benchTable(b, 1000)
	defer tb.Close()
	f := frame(b, layers.ARPRequest, [6]byte{2, 0, 0, 0, 1, 77}, netip.AddrFrom4([4]byte{10, 0, 1, 77}), [6]byte{}, ipBox)
	d := newDecoder()
	b.ReportAllocs()
	for b.Loop() {
		p, err := d.decode(f)
		if err != nil || !p.learnable() {
			b.Fatal(err)
		}
		tb.learn(p.senderIP, p.senderMAC, SourceARP)
	}
}

// BenchmarkLearnNewPair is the cost of a pair never seen before (a new device, or a flood of
// forged senders against a full table of 4096).
func BenchmarkLearnNewPair(b *testing.B) {
	tb := benchTable(b, DefaultMaxEntries)
	defer tb.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		tb.learn(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), [6]byte{2, 1, 0, 0, byte(i >> 8), byte(i)}, SourceARP)
	}
}
