package web_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"multimsg/dispatch"
	"multimsg/provider"
	"multimsg/store"
	"multimsg/web"
)

// modemFacts stands in for the SMS driver's provider.HealthReporter (the driver lives in
// provider/sms, on its own branch): the contract is the Facts keys present, sim, registered,
// operator, signal_dbm and smsc, which the page and /metrics must show.
type modemFacts struct{ facts map[string]any }

func (m modemFacts) Check(provider.Request) error { return nil }
func (m modemFacts) Send(context.Context, provider.Delivery) (provider.Receipt, error) {
	return provider.Receipt{}, provider.SenderDown("CME 10", context.DeadlineExceeded)
}
func (m modemFacts) Health() provider.Health {
	return provider.Health{OK: true, Detail: "modem ready on /dev/ttyUSB2", Facts: m.facts}
}

// startModemServer runs web.Server alone (no gateway: there is no SMS wiring yet) with one
// SMS sender whose driver reports modem facts.
func startModemServer(t *testing.T) (*box, *web.Server) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	facts := map[string]any{"present": true, "sim": "ready", "registered": "home", "operator": "Movistar AR",
		"signal_dbm": -79, "smsc": "+5491100000000"}
	reg, err := provider.NewRegistry(&provider.Service{Name: "sms", Types: []string{"text"}, PerFile: true,
		Senders: []provider.Sender{{Name: "modem1", Driver: modemFacts{facts}, Concurrency: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(st, reg, dispatch.Options{})
	hash, _ := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	srv := web.New(web.Options{Store: st, Registry: reg, Dispatcher: d, Admin: &web.AdminAuth{Hash: string(hash)},
		Version: "test-modem", DataDir: t.TempDir()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &box{t: t, base: "http://" + ln.Addr().String(),
		http: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, srv
}

func TestAdminModem(t *testing.T) {
	b, _ := startModemServer(t)
	page := b.do("GET", "/admin", nil, "Cookie", b.login())
	for _, want := range []string{`class="modem"`, "-79 dBm", "(3/4)", "Movistar AR", "home", "5491100000000", `aria-label="3 of 4 bars"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("admin page has no %q in the modem block", want)
		}
	}
	fams := b.scrape("Authorization", basic(testPassword))
	for _, c := range []struct {
		name string
		want float64
	}{{"multimsg_modem_signal_dbm", -79}, {"multimsg_modem_registered", 1}, {"multimsg_modem_sim_ready", 1}, {"multimsg_modem_present", 1}} {
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
	// the script redraws the modem block from the JSON status: wait for its first refresh
	waitJS(t, ctx, "a refresh", `!!document.body.dataset.updated`)
	waitJS(t, ctx, "the modem block after the refresh", `document.querySelector("#senders .modem").textContent.includes("-79 dBm") && !!document.querySelector('#senders .modem svg[aria-label="3 of 4 bars"]')`)
	shot(t, ctx, dir, "admin-modem-phone-360.png", 360, 740, true)
}
