package web_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"multimsg/internal/rauctest"
)

func browserLogin(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/login")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the login form", `!!document.querySelector("#password")`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("password"), testPassword), chromedp.Click(chromedp.CSS(`#login button`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the status page", `location.pathname === "/admin" && !!document.querySelector("#counts")`)
}

// TestUpdatePanelInBrowser drives the Update panel in Chromium against a real RAUC: slots
// shown, a refused bundle with RAUC's reason, a bundle installed with progress, the reboot
// button (confirm dialog accepted), usable at 360 px; and on a system without RAUC the panel
// says updates are not available.
func TestUpdatePanelInBrowser(t *testing.T) {
	sys := rauctest.Start(t)
	b := startUpdateBox(t, sys.Bus, "64MiB")
	ctx := browser(t)
	dir := artifactsDir(t)
	err := chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}) // the reboot's confirm()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	browserLogin(t, ctx, b.base)
	waitJS(t, ctx, "the Update panel with both slots", `!document.querySelector("#update-card").hidden && document.querySelectorAll("#update-card .up-slots tbody tr").length === 2`)

	evilCert, evilKey := sys.MakeKey("evil")
	evil := sys.Bundle(rauctest.BundleOptions{Version: "2.0.0", Cert: evilCert, Key: evilKey})
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#up-file"), []string{evil}),
		chromedp.Click(chromedp.CSS(`#update-card .up-form button`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the refusal with RAUC's reason", `document.querySelector("#update-card .up-note.bad") && document.querySelector("#update-card .up-note").textContent.includes("signature")`)

	v2 := sys.Bundle(rauctest.BundleOptions{Version: "2.0.0"})
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#up-file"), []string{v2}),
		chromedp.Click(chromedp.CSS(`#update-card .up-form button`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the installation's result", `!!document.querySelector("#update-card .up-banner.ok") && document.querySelector("#update-card .up-banner.ok").textContent.includes("Installed 2.0.0")`)
	waitJS(t, ctx, "slot B to boot next", `[...document.querySelectorAll("#update-card .up-slots tbody tr")].some(r => r.textContent.includes("2.0.0") && r.textContent.includes("boots next"))`)
	shot(t, ctx, dir, "update-desktop-1280.png", 1280, 900, false)
	shot(t, ctx, dir, "update-phone-360.png", 360, 740, true)
	waitJS(t, ctx, "no horizontal scrolling at 360 px", `document.documentElement.scrollWidth <= window.innerWidth`)
	waitJS(t, ctx, "the Install and Reboot buttons inside the screen", `[...document.querySelectorAll("#update-card button")].every(el => el.getBoundingClientRect().right <= window.innerWidth)`)

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("up-reboot"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the rebooting notice", `document.querySelector("#update-card").textContent.includes("Rebooting")`)

	// A box without RAUC: the panel says so.
	nb := startUpdateBox(t, "unix:path="+filepath.Join(t.TempDir(), "no-bus"), "64MiB")
	browserLogin(t, ctx, nb.base)
	waitJS(t, ctx, "the not-available notice", `!!document.querySelector("#update-card .up-unavail") && document.querySelector("#update-card .up-unavail").textContent.includes("not available on this system")`)
	shot(t, ctx, dir, "update-unavailable-1280.png", 1280, 900, false)
	// Leave the page before the boxes stop, so its polling does not report their absence.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
}
