package web_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"multimsg/modem"
	"multimsg/modem/modemsim"
	"multimsg/provider"
)

// TestAdminModem: a gateway with an SMS sender on the scripted modem (modemsim, a pseudo-terminal
// that answers AT commands as modems do): the modem's SIM, registration, operator, signal and
// SMSC reach the page, the JSON and /metrics; unplugged and replugged, the page follows.
func TestAdminModem(t *testing.T) {
	sim := modemsim.New(modemsim.Profile{Operator: "Movistar AR", CSQ: 15, SMSC: "+5491100000000", Model: "SIM7600G"}, slog.New(slog.DiscardHandler))
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	b := startBox(t, "", fmt.Sprintf("[[sms.sender]]\nname = \"modem1\"\ndevice = %q\ntimeout = \"2s\"", sim.Path()))
	// the modem is brought up in the background: wait until the sender reports it registered
	b.waitFor("the modem to register", func() bool {
		for _, s := range b.status().Senders {
			if s.Service == "sms" && s.Driver != nil && s.Driver.Facts != nil {
				var h modem.Health
				if err := s.Driver.Facts.(provider.JSONFacts).Decode(&h); err == nil && h.Registered == true {
					return true
				}
			}
		}
		return false
	})
	page := b.do("GET", "/admin", nil, "Cookie", b.login())
	// CSQ 15 is −83 dBm: 3 bars
	for _, want := range []string{`class="modem"`, "-83 dBm (3/4)", `aria-label="3 of 4 bars"`, "Movistar AR", "READY", "5491100000000", "SIM7600G", ">present<"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("admin page has no %q in the modem block", want)
		}
	}
	fams := b.scrape("Authorization", basic(testPassword))
	for _, c := range []struct {
		name string
		want float64
	}{{"multimsg_modem_signal_dbm", -83}, {"multimsg_modem_registered", 1}, {"multimsg_modem_sim_ready", 1}, {"multimsg_modem_present", 1}} {
		if v, ok := value(fams, c.name, "service", "sms", "sender", "modem1"); !ok || v != c.want {
			t.Errorf("%s = %v (present %v), want %v", c.name, v, ok, c.want)
		}
	}

	ctx := browser(t)
	dir := artifactsDir(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(b.base+"/admin/login"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword), chromedp.Click(chromedp.CSS(`#login button`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the status page", `location.pathname === "/admin" && !!document.querySelector("#counts")`)
	waitJS(t, ctx, "a refresh", `!!document.body.dataset.updated`)
	shot(t, ctx, dir, "admin-modem-phone-360.png", 360, 740, true)
	// the modem is unplugged (its port vanishes): the script redraws the block from the JSON
	sim.Unplug()
	waitJS(t, ctx, "the unplugged modem on the page", `document.querySelector("#senders .modem").textContent.includes("not present") && !!document.querySelector("#senders .modem dd.stale") && !!document.querySelector('#senders .modem svg[aria-label="0 of 4 bars"]')`)
	shot(t, ctx, dir, "admin-modem-unplugged-desktop-1280.png", 1280, 900, false)
	if err := sim.Replug(); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the modem back", `!document.querySelector("#senders .modem").textContent.includes("not present")`)
}
