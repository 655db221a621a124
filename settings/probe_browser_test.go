package settings_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"multimsg/internal/browsertest"
	"multimsg/modem/modemsim"
)

// The probe in headless Chromium: log in, pick the live modem in the SMS card's probe form,
// press Probe, and see the verdict, the health and every bring-up step; then a port that does
// not exist says so. Screenshots at 1280 and 360 px.
func TestProbeInBrowser(t *testing.T) {
	sim := scriptedModem(t, modemsim.Profile{Operator: "Probe Telecom"})
	g := modemGateway(t, sim.Path())
	ctx := browsertest.Start(t, nil)
	dir := browsertest.Artifacts(t)

	openSettings(t, ctx, g)
	browsertest.WaitJS(t, ctx, "the probe form", `!!document.querySelector("#probe select[name=sender]")`)
	js(t, ctx, `(f => { f.querySelector("[name=sender]").value = "modem1"; f.querySelector("button").click() })(document.querySelector("#probe"))`)
	browsertest.WaitJS(t, ctx, "the probe's steps", `document.querySelectorAll(".probe-steps tbody tr").length > 10`)
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".probe-outcome").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"modem1", "through the running sender: ready to send", "AT+CFUN?", "AT+CSQ", "Probe Telecom", "-73 dBm"} {
		if !strings.Contains(out, want) {
			t.Errorf("the probe's outcome lacks %q:\n%s", want, out)
		}
	}
	if hash, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash`)); hash != "#probe" {
		t.Errorf("the page after the probe is at %q, want #probe (the outcome in view)", hash)
	}
	browsertest.Shot(t, ctx, dir, "probe-desktop-1280.png", 1280, 900, false)
	browsertest.Shot(t, ctx, dir, "probe-phone-360.png", 360, 740, true)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}

	// A modem typed into the "add one" fieldset, not saved: its own button probes it with the
	// PIN typed there; nothing is saved.
	free := scriptedModem(t, modemsim.Profile{PIN: "2468", Operator: "Unsaved Net"})
	js(t, ctx, `document.querySelector("#sms details.add").open = true`)
	fill(t, ctx, "sms.sender[1].name", "modem2", "sms.sender[1].device", free.Path(), "sms.sender[1].pin", "2468")
	js(t, ctx, `document.querySelector('button.probe-this[data-base="sms.sender[1]"]').click()`)
	browsertest.WaitJS(t, ctx, "the unsaved modem's probe", `(e => !!e && e.innerText.includes("opened for the probe: ready to send"))(document.querySelector(".probe-outcome .verdict"))`)
	if out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".probe-outcome").innerText`)); err != nil || !strings.Contains(out, "Unsaved Net") || !strings.Contains(out, `AT+CPIN="****"`) || strings.Contains(out, "2468") {
		t.Errorf("the unsaved modem's probe (%v):\n%s", err, out)
	}
	browsertest.WaitJS(t, ctx, "the unsaved sender as typed, still open", fmt.Sprintf(
		`document.querySelector("#sms details.add").open && document.querySelector('[name="sms.sender[1].name"]').value === "modem2" && document.querySelector('[name="sms.sender[1].device"]').value === %q && document.querySelector('[name="sms.sender[1].pin"]').value === ""`, free.Path()))
	browsertest.Shot(t, ctx, dir, "probe-unsaved-360.png", 360, 740, true)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	cfg := g.Gateway.Config()
	if c := fmt.Sprint(cfg.Service("sms")); !strings.Contains(c, "modem1") || strings.Contains(c, "modem2") {
		t.Error("a probe saved the sender it probed")
	}

	js(t, ctx, `(f => { f.querySelector("[name=sender]").value = ""; f.querySelector("[name=device]").value = "/dev/ttyUSB-gone"; f.querySelector("button").click() })(document.querySelector("#probe"))`)
	browsertest.WaitJS(t, ctx, "the missing port's error", `(e => !!e && e.innerText.includes("/dev/ttyUSB-gone does not exist"))(document.querySelector(".probe-outcome .verdict.bad"))`)
}
