package sms_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"multimsg/gateway/gatewaytest"
	"multimsg/internal/browsertest"
	"multimsg/internal/poll"
	"multimsg/modem/modemsim"
)

// TestCreditWatchEndToEnd: the whole gateway watches the SIM's credit on the scripted modem.
// The first check after the modem is up finds it below low_balance and queues one alert (a
// mail into the Maildir); checks below it raise no other; a top-up and a second fall raise
// exactly one more. The status JSON, the page and /metrics show the credit; the USSD API
// answers the network's text and refuses what is not a code.
func TestCreditWatchEndToEnd(t *testing.T) {
	const code = "*100#"
	g, sim := smsGateway(t, modemsim.Profile{USSD: modemsim.USSD{Answers: map[string]string{code: "Saldo: 3,10 EUR. Recargue en *111#"}}}, `
[[mail.sender]]
name = "outbox"
maildir = "outbox"
[sim]
balance_ussd = "*100#"
first_check = "100ms"
low_balance = 5.0
alert = { serv = "mail", dest = "ops@example.com" }
`)
	alerts := func() int { return len(g.Maildir(t, "outbox")) }
	poll.Until(t, 60*time.Second, "one alert mail after the first check", func() bool { return alerts() == 1 })
	b, _ := os.ReadFile(g.Maildir(t, "outbox")[0])
	if !strings.Contains(string(b), "SIM credit low: 3.1") || !strings.Contains(string(b), "ops@example.com") {
		t.Errorf("alert mail:\n%s", b)
	}
	check := func(answer string) {
		t.Helper()
		sim.SetUSSD(code, answer)
		if _, err := g.SIM.Check(context.Background()); err != nil {
			t.Fatalf("check with %q: %v", answer, err)
		}
	}
	check("Saldo: 2,00 EUR")
	check("Saldo: 1,00 EUR")
	check("Saldo: 20,00 EUR")
	check("Saldo: 4,99 EUR")
	poll.Until(t, 30*time.Second, "a second alert mail after a top-up and a second fall", func() bool { return alerts() == 2 })
	check("Saldo: 4,00 EUR")
	if st := g.SIM.Status(); st.Alerts != 2 || st.Amount == nil || *st.Amount != 4 || !st.Below {
		t.Errorf("credit status %+v", st)
	}

	// What an admin sees.
	req, _ := http.NewRequest("GET", g.URL+"/admin/api/status", nil)
	req.SetBasicAuth("admin", gatewaytest.AdminPassword)
	req.Header.Set("Accept", "application/json")
	code2, body := gatewaytest.Do(t, req)
	var st struct {
		SIM struct {
			Amount *float64 `json:"amount"`
			Answer string   `json:"answer"`
			Alerts int      `json:"alerts"`
		} `json:"sim"`
	}
	if err := json.Unmarshal([]byte(body), &st); code2 != 200 || err != nil || st.SIM.Amount == nil || *st.SIM.Amount != 4 || st.SIM.Answer != "Saldo: 4,00 EUR" || st.SIM.Alerts != 2 {
		t.Errorf("status %d %v: sim = %+v", code2, err, st.SIM)
	}
	req, _ = http.NewRequest("GET", g.URL+"/metrics", nil)
	req.SetBasicAuth("admin", gatewaytest.AdminPassword)
	if _, m := gatewaytest.Do(t, req); !strings.Contains(m, "multimsg_sim_credit 4\n") || !strings.Contains(m, "multimsg_sim_credit_alerts_total 2\n") {
		t.Errorf("metrics lack the credit:\n%s", grepLines(m, "multimsg_sim"))
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := browser.PostForm(g.URL+"/admin/login", url.Values{"password": {gatewaytest.AdminPassword}}) // 303 to the page
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if page := string(pb); !strings.Contains(page, `id="sim"`) || !strings.Contains(page, "Saldo: 4,00 EUR") || !strings.Contains(page, `action="/admin/api/ussd"`) {
		t.Errorf("the page has no SIM panel with the credit")
	}

	// The USSD API.
	ussd := func(body string) (int, string) {
		req, _ := http.NewRequest("POST", g.URL+"/admin/api/ussd", strings.NewReader(body))
		req.SetBasicAuth("admin", gatewaytest.AdminPassword)
		req.Header.Set("Content-Type", "application/json")
		return gatewaytest.Do(t, req)
	}
	if c, b := ussd(`{"code": "*100#"}`); c != 200 || !strings.Contains(b, `"text":"Saldo: 4,00 EUR"`) {
		t.Errorf("USSD *100#: %d %s", c, b)
	}
	if c, b := ussd(`{"code": "*100#\r\nAT+CFUN=0"}`); c != 400 {
		t.Errorf("a code with a command in it: %d %s, want 400", c, b)
	}
	if c, b := ussd(`{"code": "*999#"}`); c != http.StatusBadGateway || !strings.Contains(b, "not supported") {
		t.Errorf("a code the network does not know: %d %s, want 502", c, b)
	}
	req, _ = http.NewRequest("POST", g.URL+"/admin/api/ussd", strings.NewReader(`{"code": "*100#"}`))
	req.Header.Set("Content-Type", "application/json")
	if c, _ := gatewaytest.Do(t, req); c != 401 {
		t.Errorf("USSD without the admin password: %d, want 401", c)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestUSSDBoxInBrowser: the SIM panel in headless Chromium — the credit as the watch read it,
// and the USSD box sending a code and showing the network's answer (sim.js, under the page's CSP).
func TestUSSDBoxInBrowser(t *testing.T) {
	g, _ := smsGateway(t, modemsim.Profile{USSD: modemsim.USSD{Answers: map[string]string{
		"*100#": "Saldo: 12,50 EUR", "*111#": "Recarga: marque *111*<codigo>#"}}}, `
[sim]
balance_ussd = "*100#"
first_check = "100ms"
`)
	poll.Until(t, 60*time.Second, "the first credit check", func() bool { return g.SIM.Status().Amount != nil })
	ctx := browsertest.Start(t, func(text, url string) bool { return false })
	if err := chromedp.Do(ctx, chromedp.Navigate(g.URL+"/admin")); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitJS(t, ctx, "the login form", `location.pathname === "/admin/login"`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("password"), gatewaytest.AdminPassword), chromedp.Click(chromedp.CSS(`#login button`))); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitJS(t, ctx, "the SIM panel with the credit", `document.querySelector('#sim [data-k="sim_amount"]')?.textContent === "12.5"`)
	// the panel is rendered by the server; the box posts through sim.js once it has run (a
	// submit before that is a plain form POST without the CSRF header: 403)
	browsertest.WaitJS(t, ctx, "the USSD box's script", `document.getElementById("ussd-form")?.dataset.ready === "1"`)
	// typed and sent as a person would, in one script step: the page's refresh may redraw nodes
	// between two protocol calls (chromedp's node ids then go stale)
	sent, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const f = document.getElementById("ussd-form");
		f.elements.code.value = "*111#"; f.requestSubmit(); return true; })()`))
	if err != nil || !sent {
		t.Fatalf("sending the USSD form: %v", err)
	}
	browsertest.WaitJS(t, ctx, "the network's answer under the USSD box", `document.getElementById("ussd-answer").textContent === "Recarga: marque *111*<codigo>#"`)
	browsertest.Shot(t, ctx, browsertest.Artifacts(t), "sim-360.png", 360, 900, true)
}
