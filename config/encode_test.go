package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"multimsg/provider/mail"
	"multimsg/provider/sms"
	"multimsg/provider/whatsapp"
)

// full sets a key of every kind in the box and in every service, secrets included.
const full = `
listen = "127.0.0.1:8081"
data_dir = "/srv/mm"
interface = "eth0"
unknown_device = "ip"
allow_macs = ["AA:BB:CC:DD:EE:01"]
block_macs = ["aa-bb-cc-dd-ee-03"]
host_names = ["box.lan"]
restore_clock = true

[device_names]
"AA:BB:CC:DD:EE:01" = "Boiler room"
"aa:bb:cc:dd:ee:02" = "Caméra \"entrée\" = 2"

[admin]
password_hash = "$2a$10$abcdefghijklmnopqrstuv"
metrics_public = true

[delivery]
ttl = "12h"
retry_min = "1s"
workers = 8

[store]
quota = "64MiB"
disk_floor_percent = 0
keep_archived = "3d"

[limits]
max_body = "8MiB"
body_wait = "0s"

[update]
spool_dir = "/run/spool"

[smtp_in]
listen = "127.0.0.1:2525"
relay = false
rate = 0
auth = "required"
[[smtp_in.user]]
name = "cam"
password_hash = "$2a$10$abcdefghijklmnopqrstuv"
mac = "aa:bb:cc:dd:ee:02"
[smtp_in.aliases]
"oncall@box" = ["sms:15551234567", "mail:ops@example.com"]
[smtp_in.text.sms]
content = "subject"
max_chars = 160

[mail]
fallback = ["sms"]
[[mail.sender]]
name = "relay"
host = "smtp.example.com"
port = 587
tls = "starttls"
username = "u"
password = "p@ss \"quoted\""
helo = "box.example.com"
concurrency = 2
[[mail.sender]]
name = "local"
maildir = "outbox"

[wpp1]
fallback = []
fallback_after = "5m"
[[wpp1.sender]]
name = "default"
phone_number_id = "123"
token = "EAAB secret-free-of-spaces"
per_recipient_gap = "-1s"

[[sms.sender]]
name = "m1"
device = "/dev/ttyUSB2"
pin = "1234"
segments = 3

[sms]
report_wait = "30m"

[sms.inbox]
wait = "5m"
devices = ["aa:bb:cc:dd:ee:ff", "local"]

[[sms.inbound]]
name = "alarms"
from = ["+49*"]
pattern = "(?i)^alarm"
forward = "webhook"
to = "alarms"

[[sms.inbound]]
forward = "mail"
to = "ops@example.com"
subject = "SMS"

[[webhook.sender]]
name = "hook"
url = "https://receiver.lan/sms"
secret = "hook-secret"
`

// TestEncodeRoundTrip: a whole configuration, box and services, written back with Encode
// parses to the same value, so a settings page can save what it shows (issue 14).
func TestEncodeRoundTrip(t *testing.T) {
	c, err := Parse(strings.Replace(full, "EAAB secret-free-of-spaces", "EAABsecret", 1), "full")
	if err != nil {
		t.Fatal(err)
	}
	if c.Service("mail").(*mail.Config).Sender[0].Helo != "box.example.com" || c.SMTPIn.Relay || c.Store.DiskFloor != 0 {
		t.Fatalf("parsed = %+v", c)
	}
	if w := c.Service("wpp1").(*whatsapp.Config); len(w.Fallback) != 0 || w.Sender[0].PerRecipientGap.D() >= 0 {
		t.Fatalf("wpp1 = %+v: an empty fallback and a negative gap must stay as written", w)
	}
	for i := 0; i < 2; i++ { // the second pass: what was read back writes the same text
		var buf bytes.Buffer
		if err := c.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := Parse(buf.String(), "encoded")
		if err != nil {
			t.Fatalf("Parse(Encode) = %v\n%s", err, buf.String())
		}
		if !equal(c, back) {
			t.Fatalf("Parse(Encode(c)) differs:\n got %+v\nwant %+v\n%s", back, c, buf.String())
		}
		c = back
	}
	if s := c.Service("sms").(*sms.Config); s.Sender[0].PIN != "1234" {
		t.Errorf("secret pin after the round trip = %q", s.Sender[0].PIN)
	}
	if s := c.Service("sms").(*sms.Config); len(s.Inbound) != 2 || s.Inbound[0].Pattern != "(?i)^alarm" || s.Inbox.Wait.D() != 5*time.Minute || s.Inbox.Keep.D() != 7*24*time.Hour || s.ReportWait.D() != 30*time.Minute {
		t.Errorf("sms receiving keys after the round trip = %+v", s.Receiving)
	}
}

// TestEncodeDefault: the defaults round-trip too (nothing set, every service empty).
func TestEncodeDefault(t *testing.T) {
	c := Default()
	var buf bytes.Buffer
	if err := c.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(buf.String(), "encoded")
	if err != nil || !equal(c, back) {
		t.Fatalf("Parse(Encode(Default())) = %+v, %v\n%s", back, err, buf.String())
	}
}

// equal compares two configurations as a file would: an absent list and an empty one are the
// same ([] is written for both).
func equal(a, b Config) bool {
	var x, y bytes.Buffer
	if a.Encode(&x) != nil || b.Encode(&y) != nil {
		return false
	}
	if x.String() != y.String() {
		return false
	}
	return reflect.DeepEqual(normal(a), normal(b))
}

func normal(c Config) Config {
	if len(c.AllowMACs) == 0 {
		c.AllowMACs = nil
	}
	if len(c.HostNames) == 0 {
		c.HostNames = nil
	}
	if len(c.BlockMACs) == 0 {
		c.BlockMACs = nil
	}
	if len(c.DeviceNames) == 0 {
		c.DeviceNames = nil
	}
	if len(c.SMTPIn.Aliases) == 0 {
		c.SMTPIn.Aliases = nil
	}
	if len(c.SMTPIn.Text) == 0 {
		c.SMTPIn.Text = nil
	}
	return c
}

// FuzzParse: no input panics; what parses writes back to text that parses to the same.
func FuzzParse(f *testing.F) {
	f.Add(full)
	f.Add(Embedded)
	f.Add("[[mail.sender]]\nname = \"a\"\nhots = \"x\"")
	f.Add("[store]\nquota = \"1GiB\"\nkeep_archived = \"7d\"")
	f.Add("[[sms.sender]]\nname = \"a\"\ndevice = \"/dev/x\"\npin = \"12\"")
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 1<<16 {
			return
		}
		c, err := Parse(text, "fuzz")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := c.Encode(&buf); err != nil {
			t.Fatalf("Encode: %v", err)
		}
		back, err := Parse(buf.String(), "encoded")
		if err != nil {
			t.Fatalf("Parse(Encode) = %v\n%s", err, buf.String())
		}
		if !equal(c, back) {
			t.Fatalf("round trip differs\n%s", buf.String())
		}
	})
}
