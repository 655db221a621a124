package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"multimsg/provider/mail"
	"multimsg/provider/sms"
	"multimsg/provider/whatsapp"
)

func TestEmbeddedDefault(t *testing.T) {
	c, err := LoadDefault()
	if err != nil {
		t.Fatalf("LoadDefault: %v", err)
	}
	m := c.Service("mail").(*mail.Config)
	if c.Listen != ":8080" || len(m.Sender) != 1 || m.Sender[0].MaildirIn(c.DataDir) != "/var/lib/multimsg/outbox" {
		t.Fatalf("embedded default = listen %q, mail senders %+v", c.Listen, m.Sender)
	}
	if c.Delivery.TTL.D() != 24*time.Hour || c.Store.QuotaBytes != 256<<20 || c.Limits.MaxFiles != 16 {
		t.Fatalf("defaults: ttl %v quota %d files %d", c.Delivery.TTL.D(), c.Store.QuotaBytes, c.Limits.MaxFiles)
	}
	w := c.Service("wpp1").(*whatsapp.Config)
	if len(w.Fallback) != 1 || w.Fallback[0] != "sms" || w.FallbackAfter.D() != 2*time.Minute {
		t.Fatalf("wpp1 fallback default = %v after %v", w.Fallback, w.FallbackAfter.D())
	}
}

// TestSpecExample: SPEC §6's example file parses as it is.
func TestSpecExample(t *testing.T) {
	const spec = `
listen = ":8080"
data_dir = "/var/lib/multimsg"
interface = "eth0"
unknown_device = "reject"
allow_macs = []

[admin]
password_hash = ""

[delivery]
ttl = "24h"

[[mail.sender]]
name = "default"
host = "127.0.0.1"
port = 25
tls = "none"
username = ""
password = ""
from = "gateway@localhost"

[wpp1]
fallback = ["sms"]
fallback_after = "2m"

[[wpp1.sender]]
name = "default"
api_url = "https://graph.facebook.com/v21.0"
phone_number_id = "123"
token = "t"

[[sms.sender]]
name = "default"
device = "/dev/ttyUSB2"
baud = 115200
pin = ""
`
	c, err := Parse(spec, "spec")
	if err != nil {
		t.Fatal(err)
	}
	if c.Interface != "eth0" || c.Service("sms").(*sms.Config).Sender[0].Segments != 6 || c.Service("wpp1").(*whatsapp.Config).Sender[0].PhoneNumberID != "123" {
		t.Fatalf("parsed = %+v", c)
	}
}

func TestRejects(t *testing.T) {
	for _, tc := range []struct {
		toml string
		want string // the key the error must name
	}{
		{`lissten = ":80"`, "lissten"},
		{"[[mail.sender]]\nname = \"a\"\nhots = \"x\"", "mail.sender.hots"},
		{`listen = "8080"`, "listen"},
		{`unknown_device = "maybe"`, "unknown_device"},
		{`allow_macs = ["aa:bb"]`, "allow_macs[0]"},
		{`block_macs = ["02:00:00:00:00:01", "nope"]`, "block_macs[1]"},
		{"[device_names]\n\"aa:bb\" = \"x\"", "device_names: \"aa:bb\" is not a MAC"},
		{"[device_names]\n\"02:00:00:00:00:01\" = \"  \"", "device_names: 02:00:00:00:00:01: the name is empty"},
		{"[device_names]\n\"02:00:00:00:00:01\" = \"" + strings.Repeat("é", 65) + "\"", "device_names: 02:00:00:00:00:01: the name has 65 characters, at most 64"},
		{"[device_names]\n\"02:00:00:00:00:01\" = \"a\\nb\"", "device_names: 02:00:00:00:00:01: the name holds U+000A"},
		{"[device_names]\n\"02:00:00:00:00:01\" = \"a\\u202eb\"", "U+202E, not a printable"},
		{"[device_names]\n\"02:00:00:00:00:01\" = \"a\"\n\"02-00-00-00-00-01\" = \"b\"", "device_names: 02:00:00:00:00:01 is named twice"},
		{"[delivery]\nttl = \"soon\"", "soon"},
		{"[delivery]\nttl = \"-1h\"", "delivery.ttl"},
		{"[store]\nquota = \"lots\"", "lots"},
		{"[store]\nmax_devices = 0", "store.max_devices"},
		{"[store]\nmax_preprocess = -1", "store.max_preprocess"},
		{"[store]\ndevice_idle = \"0s\"", "store.device_idle"},
		{"[limits]\nmax_files = 0", "limits.max_files"},
		{"[admin]\npassword_hash = \"plain\"", "admin.password_hash"},
		{"[wpp1]\nfallback = [\"fax\"]", "wpp1.fallback[0]"},
		{"[[mail.sender]]\nname = \"a\"\nhost = \"h\"\ntls = \"ssl\"", "mail.sender[0].tls"},
		{"[[mail.sender]]\nname = \"a\"", "mail.sender[0].host"},
		{"[[mail.sender]]\nname = \"a\"\nmaildir = \"m\"\n[[mail.sender]]\nname = \"a\"\nmaildir = \"n\"", "mail.sender[1].name"},
		{"[[wpp1.sender]]\nname = \"a\"\nphone_number_id = \"1\"", "wpp1.sender[0]"},
		{"[[wpp1.sender]]\nname = \"a\"\nphone_number_id = \"1\"\ntoken = \"t\"\nrate = 500", "wpp1.sender[0].rate"},
		{"[[sms.sender]]\nname = \"a\"", "sms.sender[0].device"},
		{"[[sms.sender]]\nname = \"a\"\ndevice = \"/dev/x\"\npin = \"12\"", "sms.sender[0].pin"},
	} {
		_, err := Parse(tc.toml, "t")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error naming %q", tc.toml, err, tc.want)
		}
	}
}

// The device keys: MACs in any case and separator are held as ARP writes them; labels trimmed.
func TestDeviceKeys(t *testing.T) {
	c, err := Parse(`allow_macs = ["02-00-00-00-00-0A"]
block_macs = ["02:00:00:00:00:0B"]
[device_names]
"02:00:00:00:00:0A" = "  Boiler room 3 — «north»  "
"02-00-00-00-00-0b" = "Caméra d'entrée"
`, "t")
	if err != nil {
		t.Fatal(err)
	}
	if c.AllowMACs[0] != "02:00:00:00:00:0a" || c.BlockMACs[0] != "02:00:00:00:00:0b" {
		t.Errorf("allow_macs %v block_macs %v, want lower case with colons", c.AllowMACs, c.BlockMACs)
	}
	want := map[string]string{"02:00:00:00:00:0a": "Boiler room 3 — «north»", "02:00:00:00:00:0b": "Caméra d'entrée"}
	if !reflect.DeepEqual(c.DeviceNames, want) {
		t.Errorf("device_names = %q, want %q", c.DeviceNames, want)
	}
	var many strings.Builder
	many.WriteString("[device_names]\n")
	for i := 0; i <= MaxDeviceMACs; i++ {
		fmt.Fprintf(&many, "\"02:00:00:00:%02x:%02x\" = \"d\"\n", i>>8, i&0xff)
	}
	if _, err := Parse(many.String(), "t"); err == nil || !strings.Contains(err.Error(), "device_names: 4097 names, at most 4096") {
		t.Errorf("Parse(4097 names) = %v, want the bound named", err)
	}
}

func TestSizesAndDurations(t *testing.T) {
	c, err := Parse("[store]\nquota = \"1GiB\"\nkeep_archived = \"7d\"\n[limits]\nmax_body = 1048576", "t")
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.QuotaBytes != 1<<30 || c.Store.KeepArchived.D() != 7*24*time.Hour || c.Limits.MaxBody != 1<<20 {
		t.Fatalf("quota %d keep %v body %d", c.Store.QuotaBytes, c.Store.KeepArchived.D(), c.Limits.MaxBody)
	}
}

// Issue 11's store keys: defaults, and values read from the file.
func TestStoreLimits(t *testing.T) {
	d := Default()
	if d.Store.MaxDevices != 1024 || d.Store.MaxPreprocess != 100 || d.Store.DeviceIdle.D() != 30*24*time.Hour {
		t.Fatalf("defaults: max_devices %d max_preprocess %d device_idle %v", d.Store.MaxDevices, d.Store.MaxPreprocess, d.Store.DeviceIdle.D())
	}
	c, err := Parse("[store]\nmax_devices = 64\nmax_preprocess = 5\ndevice_idle = \"7d\"", "t")
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.MaxDevices != 64 || c.Store.MaxPreprocess != 5 || c.Store.DeviceIdle.D() != 7*24*time.Hour {
		t.Fatalf("parsed: max_devices %d max_preprocess %d device_idle %v", c.Store.MaxDevices, c.Store.MaxPreprocess, c.Store.DeviceIdle.D())
	}
}

func TestUpdateTable(t *testing.T) {
	c, err := Parse("[update]\nmax_bundle = \"256MiB\"\nspool_dir = \"/tmp/spool\"\n", "t")
	if err != nil || c.Update.MaxBundle != 256<<20 || c.Update.SpoolDir != "/tmp/spool" {
		t.Fatalf("Parse([update]) = %+v, %v", c.Update, err)
	}
	if d := Default().Update; d.MaxBundle != 512<<20 || d.SpoolDir != "/run/multimsg/update" {
		t.Errorf("default [update] = %+v, want 512MiB in /run/multimsg/update", d)
	}
	for _, bad := range []string{
		"[update]\nspool_dir = \"/var/lib/multimsg/spool\"\n",
		"[update]\nspool_dir = \"spool\"\n",
		"[update]\nmax_bundle = \"1KiB\"\n",
	} {
		if _, err := Parse(bad, "t"); err == nil || !strings.Contains(err.Error(), "update.") {
			t.Errorf("Parse(%q) = %v, want an error naming the update key", bad, err)
		}
	}
}
