package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestCrossSiteSeedFormQueuesNothing: a page on another origin posts the seed form to the box
// from headless Chromium, as a web page opened by someone on the LAN could; nothing is queued
// (issue 11, item 9).
func TestCrossSiteSeedFormQueuesNothing(t *testing.T) {
	b := startBox(t, "")
	ctx := browser(t)
	page := fmt.Sprintf(`<!doctype html><form id=f method=post action=%q enctype="multipart/form-data">
<input name=serv value=mail><input name=dest value="victim@example.com">
<textarea name=body>spam from a web page</textarea></form>
<script>document.getElementById('f').submit()</script>`, b.base+"/send")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			w.WriteHeader(http.StatusNoContent) // favicon.ico
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page)
	}))
	defer evil.Close()
	if _, err := chromedp.Run(ctx, chromedp.Navigate(evil.URL)); err != nil {
		t.Fatal(err)
	}
	// the page submits itself; the navigation to the box's answer ends the first page
	waitJS(t, ctx, "the box's answer to the form", `location.href.indexOf("/send") >= 0 && document.body && document.body.innerText.length > 0`)
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "web pages are refused") {
		t.Errorf("the box answered the cross-site form with %q, want the refusal", text)
	}
	if n := len(b.status().Recent); n != 0 {
		t.Fatalf("%d jobs queued by a cross-site form, want none", n)
	}
}
