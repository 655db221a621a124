package sms

import (
	"testing"

	"multimsg/setting"
)

// TestSenderDefaults: the [[sms.sender]] tags say what New does with a zero Options.
func TestSenderDefaults(t *testing.T) {
	var s SenderConfig
	setting.ApplyDefaults(&s)
	if s.Segments != DefaultSegments || s.Baud != DefaultBaud {
		t.Errorf("SenderConfig defaults = %+v, want segments %d, baud %d", s, DefaultSegments, DefaultBaud)
	}
	for _, f := range setting.Fields(&s) {
		if f.Key == "segments" && (f.Min != "1" || f.Max != "255" || MaxSegments != 255) {
			t.Errorf("segments bounds %s..%s, New takes 1..%d", f.Min, f.Max, MaxSegments)
		}
	}
}

func TestMaxText(t *testing.T) {
	for _, tc := range []struct {
		segs []int
		want int
	}{{nil, 402}, {[]int{1}, 70}, {[]int{6}, 402}, {[]int{10, 3}, 201}} {
		var ss []SenderConfig
		for _, n := range tc.segs {
			ss = append(ss, SenderConfig{Segments: n})
		}
		if got := maxText(ss); got != tc.want {
			t.Errorf("maxText(%v) = %d, want %d", tc.segs, got, tc.want)
		}
	}
}
