package backoff

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestDelay: doubling from Min, capped at Max, jittered within [d/2, d] (the dispatcher's
// defaults: 5 s doubling to 10 min).
func TestDelay(t *testing.T) {
	p := Policy{Min: 5 * time.Second, Max: 10 * time.Minute}
	for _, tc := range []struct {
		n    int
		want time.Duration // the un-jittered wait
	}{{0, 5 * time.Second}, {1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second},
		{8, 640 * time.Second}, {9, p.Max}, {50, p.Max}, {1 << 30, p.Max}} {
		if got := p.Ceiling(tc.n); got != min(tc.want, p.Max) {
			t.Errorf("Ceiling(%d) = %v, want %v", tc.n, got, min(tc.want, p.Max))
		}
		seen := map[time.Duration]bool{}
		for range 200 {
			got := p.Delay(tc.n)
			want := min(tc.want, p.Max)
			if got < want/2 || got > want {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", tc.n, got, want/2, want)
			}
			seen[got] = true
		}
		if len(seen) < 50 {
			t.Errorf("Delay(%d): only %d distinct waits in 200: no jitter?", tc.n, len(seen))
		}
	}
}

// TestDelayEdges: a zero or inverted policy never panics, never goes negative, never exceeds Max.
func TestDelayEdges(t *testing.T) {
	for _, p := range []Policy{{}, {Min: time.Second}, {Max: time.Second}, {Min: time.Minute, Max: time.Second},
		{Min: -time.Second, Max: time.Second}, {Min: 1, Max: 1<<63 - 1}} {
		for _, n := range []int{-1, 0, 1, 2, 62, 63, 64, 1000} {
			got := p.Delay(n)
			if got < 0 || got > max(p.Max, 0) {
				t.Errorf("%+v.Delay(%d) = %v, want within [0, %v]", p, n, got, max(p.Max, 0))
			}
		}
	}
}

// TestRetry: consecutive failures double the wait; a success starts again from Min.
func TestRetry(t *testing.T) {
	r := New(100*time.Millisecond, 10*time.Second)
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		if got := r.Next(); got < want/2 || got > want {
			t.Fatalf("failure %d: Next() = %v, want within [%v, %v]", i+1, got, want/2, want)
		}
	}
	if r.Failures() != 3 {
		t.Fatalf("Failures() = %d, want 3", r.Failures())
	}
	for range 20 {
		r.Next()
	}
	if got := r.Next(); got > 10*time.Second || got < 5*time.Second {
		t.Fatalf("after many failures Next() = %v, want within [5s, 10s]", got)
	}
	r.Reset()
	if got := r.Next(); got > 100*time.Millisecond {
		t.Fatalf("after Reset Next() = %v, want ≤ 100ms", got)
	}
}

// TestSleep: the whole wait passes on a live context; a cancelled one ends it at once.
func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if !Sleep(t.Context(), time.Minute) {
			t.Fatal("Sleep(live ctx, 1m) = false, want true")
		}
		if got := time.Since(start); got != time.Minute {
			t.Fatalf("Sleep took %v, want 1m", got)
		}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel) // the bubble's fake clock: no real wait
		start = time.Now()
		if Sleep(ctx, time.Hour) {
			t.Fatal("Sleep(ctx cancelled after 1s, 1h) = true, want false")
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("cancelled Sleep took %v, want 1s", got)
		}
		if Sleep(ctx, 0) {
			t.Fatal("Sleep(done ctx, 0) = true, want false")
		}
	})
}
