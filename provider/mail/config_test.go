package mail

import (
	"strings"
	"testing"

	"multimsg/setting"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		senders []SenderConfig
		key     string
	}{
		{[]SenderConfig{{Name: "a", Maildir: "m"}}, ""},
		{[]SenderConfig{{Name: "a"}}, "sender[0].host"},
		{[]SenderConfig{{Name: "a", Maildir: "m"}, {Name: "a", Host: "h"}}, "sender[1].name"},
		{[]SenderConfig{{Name: "", Host: "h"}}, "sender[0].name"},
	} {
		c := Unit.New().(*Config)
		c.Sender = tc.senders
		setting.ApplyElementDefaults(c)
		err := setting.Check(c)
		if tc.key == "" && err != nil || tc.key != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.key+":")) {
			t.Errorf("Check(%+v) = %v, want key %q", tc.senders, err, tc.key)
		}
	}
}

// TestHeloReachesEHLO: the helo setting becomes Options.Hostname, the name said in EHLO (which
// TestConnectionReuse in smtp_test.go sees on the wire as "EHLO box.test").
func TestHeloReachesEHLO(t *testing.T) {
	s := SenderConfig{Name: "a", Host: "127.0.0.1", Helo: "box.example.com"}
	setting.ApplyDefaults(&s)
	o, err := s.options("/data")
	if err != nil {
		t.Fatal(err)
	}
	o, _, err = o.withDefaults()
	if err != nil || o.Hostname != "box.example.com" || o.Port != 25 || o.TLS != "none" {
		t.Fatalf("options = %+v, %v", o, err)
	}
	if s.MaildirIn("/data") != "" || (SenderConfig{Maildir: "out"}).MaildirIn("/data") != "/data/out" || (SenderConfig{Maildir: "/abs"}).MaildirIn("/data") != "/abs" {
		t.Error("MaildirIn: relative paths go under the data dir, absolute ones stay")
	}
}
