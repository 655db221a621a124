package config

import (
	"os"
	"strings"
	"testing"
)

func TestSMTPIn(t *testing.T) {
	c, err := LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPIn.Listen != "" || c.SMTPIn.MaxSize != 10<<20 || !c.SMTPIn.Relay || c.SMTPIn.Auth != "off" {
		t.Fatalf("embedded default smtp_in = %+v, want off, 10 MiB, relay, auth off", c.SMTPIn)
	}
	// the box's factory config turns it on at :25
	b, err := os.ReadFile("../buildroot/board/multimsg/rootfs-overlay/etc/multimsg/multimsg.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(string(b), "factory")
	if err != nil {
		t.Fatalf("factory config: %v", err)
	}
	if f.SMTPIn.Listen != ":25" || !f.SMTPIn.StartTLS {
		t.Errorf("factory smtp_in = %+v, want listen :25 with starttls", f.SMTPIn)
	}
	ok := `[smtp_in]
listen = "127.0.0.1:2525"
max_size = "2MiB"
auth = "required"
[[smtp_in.user]]
name = "cam1"
password_hash = "$2a$04$abcdefghijklmnopqrstuu"
mac = "AA:BB:CC:DD:EE:FF"
[smtp_in.aliases]
"oncall@box" = ["sms:15551234567", "mail:ops@example.com"]
[smtp_in.text.sms]
content = "subject"
max_chars = 160
`
	c, err = Parse(ok, "ok")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.SMTPIn.MaxSize != 2<<20 || c.SMTPIn.Users[0].MAC != "aa:bb:cc:dd:ee:ff" || c.SMTPIn.Text["sms"].MaxChars != 160 {
		t.Errorf("parsed smtp_in = %+v", c.SMTPIn)
	}
	for _, tc := range []struct{ toml, key string }{
		{"[smtp_in]\nlisten = \"25\"", "smtp_in.listen"},
		{"[smtp_in]\nmax_size = 10", "smtp_in.max_size"},
		{"[smtp_in]\nauth = \"maybe\"", "smtp_in.auth"},
		{"[smtp_in]\nauth = \"required\"", "smtp_in.auth"},
		{"[[smtp_in.user]]\nname = \"a\"\npassword_hash = \"secret\"", "smtp_in.user[0].password_hash"},
		{"[[smtp_in.user]]\nname = \"a\"\npassword_hash = \"$2a$x\"\nmac = \"nope\"", "smtp_in.user[0].mac"},
		{"[smtp_in.aliases]\noncall = [\"sms:1555\"]", "smtp_in.aliases"},
		{"[smtp_in.aliases]\n\"a@box\" = [\"fax:1555\"]", "smtp_in.aliases"},
		{"[smtp_in.aliases]\n\"a@box\" = []", "smtp_in.aliases"},
		{"[smtp_in.text.fax]\nmax_chars = 1", "smtp_in.text.fax"},
		{"[smtp_in.text.sms]\ncontent = \"all\"", "smtp_in.text.sms.content"},
		{"[smtp_in]\nburst = 0", "smtp_in"},
	} {
		_, err := Parse(tc.toml, "bad")
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("Parse(%q) = %v, want an error naming %s", tc.toml, err, tc.key)
		}
	}
}
