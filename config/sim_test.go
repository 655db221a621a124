package config

import (
	"strings"
	"testing"

	"multimsg/provider/sms"
)

func TestSIMAndCommands(t *testing.T) {
	c, err := Parse(`
[sim]
balance_ussd = "*100#"
low_balance = 5.0
alert = { serv = "mail", dest = "ops@example.com" }
[sms.commands]
allow = ["+34600111222"]
key = "s3cretKey"
`, "test")
	if err != nil {
		t.Fatal(err)
	}
	if c.SIM.BalanceUSSD != "*100#" || c.SIM.BalanceEvery.D().Hours() != 6 || c.SIM.Alert.Dest != "ops@example.com" {
		t.Errorf("sim = %+v", c.SIM)
	}
	if o, on := c.Service("sms").(*sms.Config).Commands.Options(); !on || o.Key != "s3cretKey" || len(o.Allow) != 1 {
		t.Errorf("commands = %+v, %v", o, on)
	}
	for _, bad := range []struct{ text, key string }{
		{"[sim]\nbalance_ussd = \"*100#; AT+CFUN=0\"", "sim.balance_ussd"},
		{"[sim]\nlow_balance = 5.0", "sim.low_balance"},
		{"[sim]\nbalance_ussd = \"*100#\"\nlow_balance = 5.0", "sim.alert"},
		{"[sim]\nbalance_ussd = \"*100#\"\nlow_balance = 5.0\nalert = { serv = \"fax\", dest = \"1\" }", "sim.alert.serv"},
		{"[sim]\nbalance_every = \"10s\"", "sim.balance_every"},
		{"[sms.commands]\nallow = [\"+34600111222\"]\nkey = \"short\"", "sms.commands"},
		{"[sms.commands]\nkey = \"s3cretKey\"", "sms.commands"},
	} {
		_, err := Parse(bad.text, "test")
		if err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("%q: %v, want an error naming %s", bad.text, err, bad.key)
		}
	}
	if c, _ := Parse("", "test"); c.SIM.BalanceUSSD != "" {
		t.Error("the credit is watched by default")
	}
}
