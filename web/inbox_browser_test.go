package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"multimsg/provider"
)

// TestInboundOnAdminPageInBrowser: SMS received (handed in as the modem side does, through
// the gateway's Receiver) appear on the admin page without a reload — sender masked, no text,
// the rule and the forwarding's outcome — as rendered by the server and as redrawn by the
// script; a message whose webhook refuses it shows the failure.
func TestInboundOnAdminPageInBrowser(t *testing.T) {
	refuse := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-refuse:
			http.Error(w, "no such hook", http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer hook.Close()
	b := startBox(t, "", fmt.Sprintf(`
[[webhook.sender]]
name = "hook"
url = %q
secret = "s"
[[sms.inbound]]
name = "everything"
forward = "webhook"
`, hook.URL))
	ctx := browser(t)
	dir := artifactsDir(t)
	in := func(from, text string) string {
		t.Helper()
		if err := b.g.Inbox.Inbound(context.Background(), provider.Inbound{Service: "sms", Sender: "modem1", From: from, Sent: time.Now(), Text: text}); err != nil {
			t.Fatal(err)
		}
		return text
	}
	secret := in("+34600111222", "code 4711 <b>bold</b>")
	if err := chromedp.Do(ctx, chromedp.Navigate(b.base+"/admin")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the login form", `!!document.querySelector("#password")`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("password"), testPassword), chromedp.Click(chromedp.CSS(`#login button`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the inbound SMS, forwarded", `[...document.querySelectorAll("#inbound tr")].some(r => r.textContent.includes("+346") && r.textContent.includes("everything") && r.querySelector(".c-fwd").textContent === "delivered")`)
	close(refuse)
	in("+4917012345678", "second")
	waitJS(t, ctx, "the second SMS, its forwarding refused", `[...document.querySelectorAll("#inbound tr")].some(r => r.textContent.includes("+491") && r.querySelector(".c-fwd").textContent === "failed" && r.textContent.includes("404"))`)
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"600111222", "12345678", secret, "4711"} {
		if strings.Contains(page, leak) {
			t.Errorf("the page shows %q: senders are masked and texts are not shown", leak)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(b.base+"/admin")); err != nil { // as the server renders it
		t.Fatal(err)
	}
	waitJS(t, ctx, "two rows after a reload", `document.querySelectorAll("#inbound tr[data-id]").length === 2 && document.querySelector("#inbound-total").textContent === "2"`)
	shot(t, ctx, dir, "admin-inbound-1280.png", 1280, 900, false)
	shot(t, ctx, dir, "admin-inbound-phone-360.png", 360, 740, true) // the table scrolls in its card, the page does not widen
}
