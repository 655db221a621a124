package dispatch

import (
	"testing"
	"time"
)

// TestBackoff: doubling from min, capped at max, jittered within [d/2, d].
func TestBackoff(t *testing.T) {
	lo, hi := 5*time.Second, 10*time.Minute
	for _, tc := range []struct {
		attempt int
		want    time.Duration // the un-jittered wait
	}{{1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second}, {8, 640 * time.Second}, {9, hi}, {50, hi}} {
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			got := backoff(tc.attempt, lo, hi)
			want := min(tc.want, hi)
			if got < want/2 || got > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tc.attempt, got, want/2, want)
			}
			seen[got] = true
		}
		if len(seen) < 50 {
			t.Errorf("backoff(%d): only %d distinct waits in 200: no jitter?", tc.attempt, len(seen))
		}
	}
}
