//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"multimsg/internal/browsertest"
	"multimsg/internal/nslan"
)

// relayFrom forwards connections to a local port (in the test's namespace, where Chromium
// runs) to addr as dialled from host's namespace: the box sees them come from host's IP and
// MAC, so the browser is that device on the LAN. It stops when the test ends.
func relayFrom(t *testing.T, host *nslan.Host, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			var out net.Conn
			if err := host.Do(func() (err error) { out, err = net.Dial("tcp", addr); return err }); err != nil {
				in.Close()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				done := make(chan struct{})
				go func() { io.Copy(out, in); out.(*net.TCPConn).CloseWrite(); close(done) }()
				io.Copy(in, out)
				in.(*net.TCPConn).CloseWrite()
				<-done
				in.Close()
				out.Close()
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// jsRun runs a statement in the page.
func jsRun(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr)); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
}

// shots saves the page at 1280 and 360 px, and at each width the element with the HTML id
// alone (a full page is too tall to read the part under test); then back to 1280.
func shots(t *testing.T, ctx context.Context, dir, page, id string) {
	t.Helper()
	for _, w := range []struct {
		width, height int64
		phone         bool
	}{{1280, 900, false}, {360, 740, true}} {
		name := fmt.Sprintf("%s-%s-%d.png", page, id, w.width)
		browsertest.Shot(t, ctx, dir, page+"-"+fmt.Sprint(w.width)+".png", w.width, w.height, w.phone)
		png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID(id)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
}

func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
}

// e2eDevicesInBrowser is issue 14's devices as an admin does it, in headless Chromium on a
// real LAN: the admin's browser is itself device A (its connections come from A's namespace).
// Name A from the settings page and see the name on the status page; block it and see its
// own next device request refused; unblock it. Screenshots at 1280 and 360 px.
func e2eDevicesInBrowser(t *testing.T, bin string) {
	_, gw, a, _ := e2eLAN(t)
	s := startE2EServerWith(t, bin, gw, `unknown_device = "reject"`, e2eOptions{tables: "\n[sms.inbox]\ndevices = [\"*\"]\n"})
	s.upload(t, a, "a job of A's")
	base := relayFrom(t, a, gw.IP.String()+":8080")
	ctx := browsertest.Start(t, func(text, url string) bool {
		// the refusal itself, and the favicon a browser asks of a page that is not the admin's
		return strings.Contains(text, "status of 403") && strings.HasSuffix(url, "/inbox") ||
			strings.Contains(text, "status of 404") && strings.HasSuffix(url, "/favicon.ico")
	})
	dir := browsertest.Artifacts(t)
	row := `document.getElementById("dev-` + strings.ReplaceAll(a.MAC, ":", "") + `")`
	// saved: the page after an action, whole (under load a poll can run while it is still
	// being parsed), with cond true of A's row r
	saved := func(cond string) string {
		return `document.readyState === "complete" && location.search.includes("saved") && (r => !!r && ` + cond + `)(` + row + `)`
	}

	navigate(t, ctx, base+"/admin/login")
	browsertest.WaitJS(t, ctx, "the login form", `!!document.getElementById("password")`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("password"), e2eAdminPassword), chromedp.Click(chromedp.CSS(`#login button`))); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitJS(t, ctx, "the status page", `location.pathname === "/admin"`)

	// Name A from its row of the settings page.
	navigate(t, ctx, base+"/admin/settings#device-list")
	browsertest.WaitJS(t, ctx, "A's row", `!!`+row)
	jsRun(t, ctx, `(f => { f.querySelector("[name=name]").value = "Boiler room 3"; f.querySelector("button[value=name]").click() })(`+row+`)`)
	browsertest.WaitJS(t, ctx, "the saved name", saved(`r.querySelector("[name=name]").value === "Boiler room 3"`))

	// The status page shows it beside the MAC: the device list and A's job, as rendered and
	// after the script's refresh from the JSON.
	navigate(t, ctx, base+"/admin")
	for _, when := range []string{"rendered", "refreshed"} {
		if when == "refreshed" {
			jsRun(t, ctx, `document.querySelector("#devices .dname").remove()`)
		}
		browsertest.WaitJS(t, ctx, "the name in the devices list ("+when+")",
			`[...document.querySelectorAll("#devices tr")].some(r => r.textContent.includes("Boiler room 3") && r.textContent.includes("`+a.MAC+`"))`)
	}
	browsertest.WaitJS(t, ctx, "the name on A's job", `[...document.querySelectorAll("#recent .c-dev")].some(c => c.textContent.includes("Boiler room 3"))`)
	shots(t, ctx, dir, "status", "devices-card")

	// Block A: the browser's own next device request is refused, saying why.
	navigate(t, ctx, base+"/admin/settings#device-list")
	browsertest.WaitJS(t, ctx, "A's row", `!!`+row)
	jsRun(t, ctx, row+`.querySelector("button[value=block]").click()`)
	browsertest.WaitJS(t, ctx, "A blocked", saved(`!!r.querySelector("button[value=unblock]")`))
	shots(t, ctx, dir, "settings", "device-list")
	navigate(t, ctx, base+"/inbox")
	browsertest.WaitJS(t, ctx, "the refusal", `document.body.innerText.includes("is blocked on this box")`)
	browsertest.Shot(t, ctx, dir, "blocked-refused-360.png", 360, 300, false) // JSON: no mobile viewport to emulate
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	navigate(t, ctx, base+"/admin")
	browsertest.WaitJS(t, ctx, "A blocked on the status page",
		`[...document.querySelectorAll("#devices tr.refused")].some(r => r.textContent.includes("Boiler room 3") && r.textContent.includes("blocked"))`)

	// Unblock: let in again.
	navigate(t, ctx, base+"/admin/settings#device-list")
	browsertest.WaitJS(t, ctx, "A's row", `!!`+row)
	jsRun(t, ctx, row+`.querySelector("button[value=unblock]").click()`)
	browsertest.WaitJS(t, ctx, "A unblocked", saved(`!!r.querySelector("button[value=block]")`))
	navigate(t, ctx, base+"/inbox")
	browsertest.WaitJS(t, ctx, "the inbox", `document.body.innerText.includes("messages")`)
}
