package sms

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

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

// TestInboundRulesRefused: a forwarding rule that cannot be used is refused at load, naming
// its key.
func TestInboundRulesRefused(t *testing.T) {
	for _, c := range []struct{ rule, key string }{
		{`forward = "fax"`, "inbound[0].forward"},
		{`pattern = "("` + "\nforward = \"none\"", "inbound[0].pattern"},
		{`forward = "mail"`, "inbound[0].to"},
		{`forward = "webhook"` + "\nsubject = \"x\"", "inbound[0].subject"},
		{`forward = "none"` + "\nfrom = [\"abc\"]", "inbound[0].from[0]"},
		{`to = "x"`, "inbound[0].forward"},
	} {
		cfg := Unit.New().(*Config)
		if _, err := toml.Decode("[[inbound]]\n"+c.rule, cfg); err != nil {
			t.Fatal(err)
		}
		err := setting.Check(cfg)
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("rule %q: %v, want an error naming %s", c.rule, err, c.key)
		}
	}
}
