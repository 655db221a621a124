package settings_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"multimsg/gateway/gatewaytest"
	"multimsg/internal/browsertest"
)

// js runs a statement in the page.
func js(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr)); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
}

// fill sets form fields by name (the full keys) and submits the form of the first one.
func fill(t *testing.T, ctx context.Context, kv ...string) {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "document.querySelector(%q).value = %q;", fmt.Sprintf(`[name=%q]`, kv[i]), kv[i+1])
	}
	js(t, ctx, b.String())
}

func submit(t *testing.T, ctx context.Context, formOf string) {
	t.Helper()
	js(t, ctx, fmt.Sprintf(`document.querySelector(%q).form.querySelector("button[type=submit]").click()`, fmt.Sprintf(`[name=%q]`, formOf)))
}

// applied waits for the page after a save and fails with its errors when it was refused.
func applied(t *testing.T, ctx context.Context) {
	t.Helper()
	// readyState: under load the poll can run while the new page is still being parsed
	browsertest.WaitJS(t, ctx, "the answer to the save", `document.readyState === "complete" && (location.search.includes("saved") || !!document.querySelector(".alert"))`)
	msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll(".alert, .error")].map(e => (e.dataset.key || "") + " " + e.textContent).join("\n")`))
	if err != nil || msg != "" {
		t.Fatalf("the save was refused (%v):\n%s", err, msg)
	}
}

// openSettings logs in from the settings page's address (which sends to the login) and opens
// the settings page.
func openSettings(t *testing.T, ctx context.Context, g *gatewaytest.Gateway) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(g.URL+"/admin/settings")); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitJS(t, ctx, "the login form", `location.pathname === "/admin/login"`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("password"), gatewaytest.AdminPassword), chromedp.Click(chromedp.CSS(`#login button`))); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitJS(t, ctx, "the status page", `location.pathname === "/admin"`)
	if err := chromedp.Do(ctx, chromedp.Navigate(g.URL+"/admin/settings")); err != nil {
		t.Fatal(err)
	}
}

// The settings page as an admin uses it (issue 14's CI test): log in; a bad port shows the
// config's error next to the field and changes nothing; add an SMTP sender pointing at a real
// SMTP server, send a test message and see it arrive; with jobs queued on the default sender
// (its relay down), remove it and see them delivered through the new one; the token field never
// holds the token. Screenshots at 1280 and 360 px.
func TestSettingsInBrowser(t *testing.T) {
	const token = "EAAG-NEVER-IN-THE-PAGE-42"
	down, relay := relays(t)
	g := gatewaytest.Start(t, oldRelay(down, fmt.Sprintf(`
[[wpp1.sender]]
name = "meta"
api_url = "http://127.0.0.1:9/v21.0"
phone_number_id = "1234567890"
token = %q
`, token)))
	ctx := browsertest.Start(t, func(text, url string) bool {
		return strings.Contains(text, "status of 422") && strings.Contains(url, "/admin/settings")
	})
	dir := browsertest.Artifacts(t)
	path := filepath.Join(g.DataDir, "multimsg.toml")

	openSettings(t, ctx, g)
	browsertest.WaitJS(t, ctx, "the settings page", `!!document.querySelector("#mail form")`)
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err != nil || strings.Contains(html, token) {
		t.Fatalf("the page holds the token (%v)", err)
	}
	browsertest.WaitJS(t, ctx, "an empty token field that says it is set",
		`(f => f.value === "" && f.type === "password" && f.placeholder.startsWith("set"))(document.querySelector('[name="wpp1.sender[0].token"]'))`)
	browsertest.Shot(t, ctx, dir, "settings-desktop-1280.png", 1280, 900, false)
	browsertest.Shot(t, ctx, dir, "settings-phone-360.png", 360, 740, true)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}

	// A bad port: the config's error next to the field, nothing written.
	before, _ := os.ReadFile(path)
	fill(t, ctx, "mail.sender[0].port", "99999")
	submit(t, ctx, "mail.sender[0].port")
	browsertest.WaitJS(t, ctx, "the port's error next to it",
		`(e => !!e && e.previousElementSibling.name === "mail.sender[0].port" && e.textContent.includes("65535"))(document.querySelector('.error[data-key="mail.sender[0].port"]'))`)
	browsertest.Shot(t, ctx, dir, "settings-bad-port-360.png", 360, 740, true)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("a refused form changed the file")
	}

	// Add an SMTP sender (the form shown after the error still has the bad port: fix it).
	fill(t, ctx, "mail.sender[0].port", fmt.Sprint(down.Port()),
		"mail.sender[1].name", "relay", "mail.sender[1].host", "127.0.0.1", "mail.sender[1].port", fmt.Sprint(relay.Port()),
		"mail.sender[1].from", "box@example.com")
	submit(t, ctx, "mail.sender[1].name")
	applied(t, ctx)

	// A test message through it, seen on the page and at the relay.
	js(t, ctx, `(f => { f.querySelector("[name=sender]").value = "relay"; f.querySelector("[name=dest]").value = "ops@example.com"; f.querySelector("button").click() })(document.querySelector('#mail .test-form'))`)
	browsertest.WaitJS(t, ctx, "the test's outcome", `!!document.querySelector("#mail .test-outcome")`)
	if out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#mail .test-outcome").textContent`)); err != nil || !strings.Contains(out, "Sent through mail/relay") {
		t.Fatalf("the test's outcome: %q (%v)", out, err)
	}
	if m := relay.Wait(t, 1); !strings.Contains(string(m.Data), "multimsg test message") {
		t.Errorf("the relay got %q", m.Data)
	}

	// Jobs queued on the default sender, whose relay is down; remove it from the page.
	ids := queueOnDeadRelay(t, g, 3)
	if err := chromedp.Do(ctx, chromedp.Navigate(g.URL+"/admin/settings")); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitJS(t, ctx, "the settings page again", `!!document.querySelector('[name="remove"][value="mail.sender[0]"]')`)
	js(t, ctx, `document.querySelector('[name="remove"][value="mail.sender[0]"]').checked = true`)
	submit(t, ctx, "mail.sender[0].name")
	applied(t, ctx)
	delivered(t, g, relay, ids)
	browsertest.Shot(t, ctx, dir, "settings-after-desktop-1280.png", 1280, 900, false)
}
