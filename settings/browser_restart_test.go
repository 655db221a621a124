package settings_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"multimsg/gateway/gatewaytest"
	"multimsg/internal/browsertest"
)

// The restart as an admin sees it: listen saved from the Box form, the Restart box lists it and
// offers the button (at 1280 and 360 px), the button answers with the page that points at the
// new address, and the gateway stops for its restart.
func TestRestartInBrowser(t *testing.T) {
	g := gatewaytest.Start(t, maildirMail)
	ctx := browsertest.Start(t, nil)
	dir := browsertest.Artifacts(t)
	openSettings(t, ctx, g)
	browsertest.WaitJS(t, ctx, "the settings page", `!!document.querySelector('#box [name="listen"]')`)
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#restart").length`)); err != nil || n != 0 {
		t.Fatalf("a Restart box with nothing pending (%d, %v)", n, err)
	}
	fill(t, ctx, "listen", "127.0.0.1:18099")
	submit(t, ctx, "listen")
	applied(t, ctx)
	browsertest.WaitJS(t, ctx, "the Restart box", `(b => !!b && b.textContent.includes("Pending restart: listen") && !!b.querySelector("button"))(document.querySelector("#restart"))`)
	browsertest.Shot(t, ctx, dir, "restart-pending-1280.png", 1280, 900, false)
	browsertest.Shot(t, ctx, dir, "restart-pending-360.png", 360, 740, true)
	js(t, ctx, `document.querySelector("#restart button").click()`)
	browsertest.WaitJS(t, ctx, "the restarting page", `!!document.querySelector("#restarting")`)
	link, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#restarting a").href`))
	if err != nil || !strings.HasPrefix(link, "http://127.0.0.1:18099/admin/settings") {
		t.Errorf("the restarting page points at %q (%v), want the new address", link, err)
	}
	browsertest.Shot(t, ctx, dir, "restart-restarting-360.png", 360, 740, true)
	browsertest.Shot(t, ctx, dir, "restart-restarting-1280.png", 1280, 600, false)
}
