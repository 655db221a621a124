package inbox

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"multimsg/provider"
	"multimsg/store"
)

// FuzzRules: any rule a config can hold either loads or is refused with an error naming it —
// never a panic — and a loaded rule matches any sender and text (of any size) without one.
func FuzzRules(f *testing.F) {
	f.Add("+49*", "(?i)alarm", "webhook", "", "+4917012345678", "ALARM door")
	f.Add("*", "", "none", "", "", "")
	f.Add("+34 600-111", "^code [0-9]{4}$", "mail", "ops@example.com", "34600111", "code 4711")
	f.Add("abc", "(", "fax", "x", "\xff", strings.Repeat("a", 70000))
	f.Fuzz(func(t *testing.T, from, pattern, forward, to, sender, text string) {
		rs, err := compile([]Rule{{From: strings.Split(from, ","), Pattern: pattern, Forward: forward, To: to}})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sms.inbound[0]") && !strings.HasPrefix(err.Error(), "sms.inbound:") {
				t.Fatalf("compile error %q does not name the rule", err)
			}
			return
		}
		r := match(rs, sender, text)
		if r != nil && r.Name != "rule 1" {
			t.Fatalf("matched %q", r.Name)
		}
	})
}

// FuzzInbound: parts with any concatenation header, sender and text are stored or refused with
// an error, never a panic; the store stays consistent; no message holds more parts than it
// has, nor a part twice; handing every part in again changes nothing.
func FuzzInbound(f *testing.F) {
	f.Add("+4915", "part one", 7, 8, 2, 1, "part two", 7, 8, 2, 2)
	f.Add("+4915", "x", 65535, 16, 3, 3, "y", 65535, 16, 3, 3)
	f.Add("", "", 0, 0, 0, 0, "\x00", -1, 99, 300, -5)
	f.Add("+1", "a", 1, 8, 255, 255, "b", 1, 8, 255, 0)
	f.Fuzz(func(t *testing.T, from, t1 string, ref1, bits1, parts1, seq1 int, t2 string, ref2, bits2, parts2, seq2 int) {
		st, err := store.Open(filepath.Join(t.TempDir(), "f.db"), store.Options{InboxMax: 4, InboxBytes: 4 << 10})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ib, err := New(st, Options{Rules: []Rule{{Forward: "none"}}, Registry: registry(t), Settings: Settings{Wait: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		ins := []provider.Inbound{
			{Service: "sms", Sender: "m", From: from, Sent: time.Unix(1e9, 0), Text: t1, Concat: &provider.Concat{Ref: ref1, RefBits: bits1, Parts: parts1, Seq: seq1}},
			{Service: "sms", Sender: "m", From: from, Sent: time.Unix(1e9, 0), Text: t2, Concat: &provider.Concat{Ref: ref2, RefBits: bits2, Parts: parts2, Seq: seq2}},
		}
		for round := range 2 {
			for _, in := range ins {
				_ = ib.Inbound(ctx, in)
			}
			ms, err := st.Inbox(store.InQuery{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for _, m := range ms {
				if len(m.Got) > m.Parts || len(m.Got) == 0 {
					t.Fatalf("message with %d of %d parts", len(m.Got), m.Parts)
				}
				for i := 1; i < len(m.Got); i++ {
					if m.Got[i].Seq <= m.Got[i-1].Seq {
						t.Fatalf("parts out of order or twice: %+v", m.Got)
					}
				}
				if utf8.ValidString(t1) && utf8.ValidString(t2) && !utf8.ValidString(m.Text()) {
					t.Fatalf("text %q not UTF-8", m.Text())
				}
				seen += len(m.Got)
			}
			if round == 0 {
				defer func(n int) {
					if seen != n {
						t.Fatalf("parts stored: %d after the first round, %d after the same parts again", n, seen)
					}
				}(seen)
			}
		}
		if err := st.Check(); err != nil {
			t.Fatal(err)
		}
	})
}
