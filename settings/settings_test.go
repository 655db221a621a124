package settings_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"multimsg/client"
	"multimsg/gateway/gatewaytest"
	"multimsg/internal/peertest"
	"multimsg/internal/poll"
	"multimsg/provider/mail/smtptest"
)

// admin is a browser-like admin client: a cookie jar, the session's CSRF token.
type admin struct {
	t    *testing.T
	g    *gatewaytest.Gateway
	c    *http.Client
	csrf string
}

func login(t *testing.T, g *gatewaytest.Gateway) *admin {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	a := &admin{t: t, g: g, c: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	code, body, _ := a.post("/admin/login", url.Values{"password": {gatewaytest.AdminPassword}})
	if code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", code, body)
	}
	code, body = a.get("/admin/settings")
	if code != 200 {
		t.Fatalf("GET /admin/settings: %d %s", code, body)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the settings page")
	}
	a.csrf = m[1]
	return a
}

func (a *admin) get(path string) (int, string) {
	a.t.Helper()
	resp, err := a.c.Get(a.g.URL + path)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (a *admin) post(path string, form url.Values, hdr ...string) (int, string, http.Header) {
	a.t.Helper()
	req, _ := http.NewRequest("POST", a.g.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// save posts a section's form with the session's token.
func (a *admin) save(section string, kv ...string) (int, string) {
	a.t.Helper()
	f := url.Values{"csrf": {a.csrf}, "section": {section}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	code, body, _ := a.post("/admin/settings", f)
	return code, body
}

func (a *admin) file() string {
	a.t.Helper()
	b, err := os.ReadFile(filepath.Join(a.g.DataDir, "multimsg.toml"))
	if err != nil {
		a.t.Fatal(err)
	}
	return string(b)
}

const maildirMail = `
[[mail.sender]]
name = "outbox"
maildir = "outbox"
`

// Every settings route refuses a caller without a session (or Basic where allowed), a POST
// without the session's CSRF token, and one from another site.
func TestRoutesAuthAndCSRF(t *testing.T) {
	g := gatewaytest.Start(t, maildirMail)
	anon := &admin{t: t, g: g, c: &http.Client{Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if code, _ := anon.get("/admin/settings"); code != http.StatusSeeOther {
		t.Errorf("GET /admin/settings without a session = %d, want 303 to the login", code)
	}
	for _, p := range []string{"/admin/settings", "/admin/settings/test", "/admin/settings/restore", "/admin/settings/backup", "/admin/settings/restart"} {
		if code, _, _ := anon.post(p, url.Values{"section": {"mail"}}); code != http.StatusUnauthorized {
			t.Errorf("POST %s without a session = %d, want 401", p, code)
		}
	}
	if code, _ := anon.get("/admin/settings/backup"); code != http.StatusUnauthorized {
		t.Errorf("GET backup without auth = %d, want 401", code)
	}
	a := login(t, g)
	before := a.file()
	for _, p := range []string{"/admin/settings", "/admin/settings/test", "/admin/settings/restore", "/admin/settings/backup", "/admin/settings/restart"} {
		if code, _, _ := a.post(p, url.Values{"section": {"devices"}, "unknown_device": {"ip"}}); code != http.StatusForbidden {
			t.Errorf("POST %s without the CSRF token = %d, want 403", p, code)
		}
		f := url.Values{"csrf": {a.csrf}, "section": {"devices"}, "unknown_device": {"ip"}}
		if code, _, _ := a.post(p, f, "Origin", "http://evil.example"); code != http.StatusForbidden {
			t.Errorf("POST %s from another origin = %d, want 403", p, code)
		}
	}
	if a.file() != before {
		t.Error("a refused request changed the file")
	}
	if code, _ := a.save("nope"); code != http.StatusBadRequest {
		t.Errorf("unknown section = %d, want 400", code)
	}
	if code, _, _ := a.post("/admin/settings/backup", url.Values{"csrf": {a.csrf}}); code != 200 {
		t.Errorf("POST backup with a session = %d, want 200", code)
	}
}

// A bad value is refused by the config's own check, shown next to its field, and nothing is
// written or applied; a good one is written (old file kept as .bak) and applied live.
func TestValidationAndApply(t *testing.T) {
	g := gatewaytest.Start(t, maildirMail)
	a := login(t, g)
	before := a.file()
	code, body := a.save("mail", "mail.sender[0].name", "outbox", "mail.sender[0].port", "99999")
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("bad port: %d, want 422", code)
	}
	if !regexp.MustCompile(`name="mail.sender\[0\].port" value="99999"[^>]*><p class="error" role="alert" data-key="mail.sender\[0\].port">99999, want 1..65535`).MatchString(body) {
		t.Errorf("the port's error is not next to its field:\n%s", excerpt(body, "99999"))
	}
	if a.file() != before {
		t.Error("a refused form changed the file")
	}
	if _, err := os.Stat(filepath.Join(g.DataDir, "multimsg.toml.bak")); err == nil {
		t.Error("a refused form made a backup")
	}
	// A parse error of the form itself (not a number) is named the same way.
	if code, body = a.save("delivery", "delivery.ttl", "soon"); code != http.StatusUnprocessableEntity || !strings.Contains(body, `data-key="delivery.ttl"`) {
		t.Errorf("ttl=soon: %d, error next to delivery.ttl: %v", code, strings.Contains(body, `data-key="delivery.ttl"`))
	}
	// Live: unknown_device switches at once.
	if code, body = a.save("devices", "unknown_device", "ip", "allow_macs", "02:00:00:00:00:AA"); code != http.StatusSeeOther {
		t.Fatalf("save devices: %d %s", code, excerpt(body, "alert"))
	}
	if got := g.Gateway.Config(); got.UnknownDevice != "ip" || len(got.AllowMACs) != 1 || got.AllowMACs[0] != "02:00:00:00:00:aa" {
		t.Errorf("applied unknown_device %q allow_macs %v", got.UnknownDevice, got.AllowMACs)
	}
	if !strings.Contains(a.file(), `unknown_device = "ip"`) {
		t.Error("the file does not hold the change")
	}
	if b, err := os.ReadFile(filepath.Join(g.DataDir, "multimsg.toml.bak")); err != nil || string(b) != before {
		t.Errorf("the previous file is not kept as .bak (%v)", err)
	}
	// A key only a start reads says so.
	if code, _ = a.save("delivery", "delivery.workers", "8"); code != http.StatusSeeOther {
		t.Fatalf("save workers: %d", code)
	}
	_, page := a.get("/admin/settings?saved=delivery")
	if !strings.Contains(page, "take effect at the next start") || !strings.Contains(page, "delivery.workers") {
		t.Errorf("the page does not say delivery.workers applies at the next start:\n%s", excerpt(page, "notice"))
	}
	// The audit log names who and which keys, on the page and in its file.
	if !strings.Contains(page, "unknown_device, allow_macs") && !strings.Contains(page, "allow_macs, unknown_device") {
		t.Errorf("the audit table does not list the keys:\n%s", excerpt(page, `id="audit"`))
	}
	if b, _ := os.ReadFile(filepath.Join(g.DataDir, "settings-audit.jsonl")); !strings.Contains(string(b), `"delivery.workers"`) {
		t.Errorf("the audit file does not name delivery.workers: %s", b)
	}
}

// Secrets are write-only: never in the page or a plain backup; an empty field keeps them; a
// backup with secrets holds them only on an explicit choice.
func TestSecretsWriteOnly(t *testing.T) {
	const token = "EAAG-SECRET-TOKEN-0123456789"
	g := gatewaytest.Start(t, maildirMail+`
[[wpp1.sender]]
name = "meta"
api_url = "http://127.0.0.1:9/v21.0"
phone_number_id = "1234567890"
token = "`+token+`"
`)
	a := login(t, g)
	_, page := a.get("/admin/settings")
	if strings.Contains(page, token) {
		t.Fatal("the settings page contains the token")
	}
	if !strings.Contains(page, `name="wpp1.sender[0].token" value="" placeholder="set — leave empty to keep it"`) {
		t.Errorf("the token field does not say it is set:\n%s", excerpt(page, "wpp1.sender[0].token"))
	}
	if _, b := a.get("/admin/settings/backup"); strings.Contains(b, token) || !strings.Contains(b, "phone_number_id") {
		t.Errorf("a plain backup holds the token, or not the rest:\n%s", b)
	}
	_, b, _ := a.post("/admin/settings/backup", url.Values{"csrf": {a.csrf}, "secrets": {"1"}})
	if !strings.Contains(b, token) {
		t.Error("a backup with secrets lacks the token")
	}
	code, body := a.save("wpp1", "wpp1.sender[0].name", "meta", "wpp1.sender[0].phone_number_id", "1234567899", "wpp1.sender[0].token", "")
	if code != http.StatusSeeOther {
		t.Fatalf("save wpp1: %d %s", code, excerpt(body, "alert"))
	}
	if f := a.file(); !strings.Contains(f, token) || !strings.Contains(f, "1234567899") {
		t.Errorf("saving with an empty token field lost the token or the change:\n%s", f)
	}
	// Restore a backup without secrets: the token stays.
	_, plain := a.get("/admin/settings/backup")
	plain = strings.Replace(plain, `unknown_device = "reject"`, `unknown_device = "ip"`, 1)
	code, body, _ = a.post("/admin/settings/restore", url.Values{"csrf": {a.csrf}, "toml": {plain}})
	if code != http.StatusSeeOther {
		t.Fatalf("restore: %d %s", code, excerpt(body, "error"))
	}
	if f := a.file(); !strings.Contains(f, token) || !strings.Contains(f, `unknown_device = "ip"`) {
		t.Errorf("restore lost the token or the change:\n%s", f)
	}
	// A broken backup changes nothing and says why next to the box.
	before := a.file()
	code, body, _ = a.post("/admin/settings/restore", url.Values{"csrf": {a.csrf}, "toml": {"[[mail.sender]]\nname = \"x\"\nport = 70000\nhost = \"h\"\n"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `data-key="toml"`) || a.file() != before {
		t.Errorf("a bad restore: %d, error shown %v, file unchanged %v", code, strings.Contains(body, `data-key="toml"`), a.file() == before)
	}
}

// Add an SMTP sender from the page, send a test message through it and see it arrive; then
// make it the default while jobs are queued on a relay that is down, and see them delivered
// through it.
func TestSMTPSenderTestAndSwitch(t *testing.T) {
	down, relay := relays(t)
	g := gatewaytest.Start(t, oldRelay(down, ""))
	a := login(t, g)
	code, body := a.save("mail",
		"mail.sender[0].name", "old",
		"mail.sender[1].name", "relay", "mail.sender[1].host", "127.0.0.1", "mail.sender[1].port", fmt.Sprint(relay.Port()),
		"mail.sender[1].tls", "none", "mail.sender[1].from", "box@example.com")
	if code != http.StatusSeeOther {
		t.Fatalf("add sender: %d %s", code, excerpt(body, "error"))
	}
	code, body, _ = a.post("/admin/settings/test", url.Values{"csrf": {a.csrf}, "service": {"mail"}, "sender": {"relay"}, "dest": {"ops@example.com"}})
	if code != 200 || !strings.Contains(body, "Sent through mail/relay to ops@example.com") {
		t.Fatalf("test message: %d %s", code, excerpt(body, "test-outcome"))
	}
	if m := relay.Wait(t, 1); !strings.Contains(string(m.Data), "multimsg test message") || m.To[0] != "ops@example.com" {
		t.Errorf("the relay got %q to %v", m.Data, m.To)
	}
	// A test through a relay that is down says what the driver met.
	_, body, _ = a.post("/admin/settings/test", url.Values{"csrf": {a.csrf}, "service": {"mail"}, "sender": {"old"}, "dest": {"ops@example.com"}})
	if !strings.Contains(body, "Failed after") {
		t.Errorf("test through a dead relay: %s", excerpt(body, "test-outcome"))
	}
	// Jobs queued on the default ("old", down), then "relay" made the only sender.
	ids := queueOnDeadRelay(t, g, 3)
	code, body = a.save("mail", "mail.sender[0].name", "old", "mail.sender[1].name", "relay", "remove", "mail.sender[0]")
	if code != http.StatusSeeOther {
		t.Fatalf("remove old: %d %s", code, excerpt(body, "error"))
	}
	delivered(t, g, relay, ids)
}

// SIGHUP's path: a hand edit of the file is applied as the page applies it; a broken edit
// changes nothing.
func TestReloadFile(t *testing.T) {
	g := gatewaytest.Start(t, maildirMail)
	path := filepath.Join(g.DataDir, "multimsg.toml")
	b, _ := os.ReadFile(path)
	edited := "unknown_device = \"ip\"\n" + string(b)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := g.Settings.ReloadFile("SIGHUP")
	if err != nil || g.Gateway.Config().UnknownDevice != "ip" || len(a.Live) != 1 {
		t.Fatalf("ReloadFile: %+v, %v; unknown_device %q", a, err, g.Gateway.Config().UnknownDevice)
	}
	if err := os.WriteFile(path, []byte(edited+"\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Settings.ReloadFile("SIGHUP"); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("a broken file: %v, want the unknown key named", err)
	}
	if c := g.Gateway.Config(); c.UnknownDevice != "ip" {
		t.Error("a broken file changed the running configuration")
	}
}

// relays are two SMTP servers: one down (the old default's), one up.
func relays(t *testing.T) (down, up *smtptest.Server) {
	down = smtptest.New(t, smtptest.Options{})
	down.Down()
	return down, smtptest.New(t, smtptest.Options{})
}

// oldRelay is a configuration whose only mail sender, "old", uses the relay that is down;
// retries are quick. extra is added at the end.
func oldRelay(down *smtptest.Server, extra string) string {
	return fmt.Sprintf(`
[delivery]
retry_min = "200ms"
retry_max = "400ms"

[[mail.sender]]
name = "old"
host = "127.0.0.1"
port = %d
timeout = "2s"
%s`, down.Port(), extra)
}

// queueOnDeadRelay queues n mail jobs for the default sender and waits until its relay (down)
// has failed one.
func queueOnDeadRelay(t *testing.T, g *gatewaytest.Gateway, n int) []string {
	t.Helper()
	ids := queueJobs(t, g, n)
	poll.Until(t, 20*time.Second, "a failed attempt on the dead relay", func() bool {
		j, err := g.Store.Get(ids[0])
		return err == nil && j.Files[0].Attempts > 0
	})
	return ids
}

// queueJobs queues n mail jobs for the default sender.
func queueJobs(t *testing.T, g *gatewaytest.Gateway, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id, err := g.Client.Send(context.Background(), []client.File{{Field: "body", ContentType: "text/plain",
			Data: []byte(fmt.Sprintf("alert %d", i))}}, client.Params{Service: "mail", Dest: "ops@example.com"}, false)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// delivered waits for the jobs to be delivered through relay, which also got the test message.
func delivered(t *testing.T, g *gatewaytest.Gateway, relay *smtptest.Server, ids []string) {
	t.Helper()
	for _, id := range ids {
		if st := g.WaitJob(t, id, 30*time.Second); st != "delivered" {
			t.Errorf("job %s: %s, want delivered through the new default", id, st)
		}
	}
	if n := len(relay.Messages()); n != len(ids)+1 {
		t.Errorf("relay got %d messages, want %d (the test and the queued jobs)", n, len(ids)+1)
	}
}

// excerpt is the part of a page around needle, for failure messages.
func excerpt(page, needle string) string {
	i := strings.Index(page, needle)
	if i < 0 {
		return "(" + needle + " not found)"
	}
	return page[max(0, i-300):min(len(page), i+500)]
}

// The ARP interface switches live (a new table on it, the old one closed) and back; one the
// box lacks is refused at its field. A capture socket needs root.
func TestInterfaceLive(t *testing.T) {
	peertest.Root(t, "an ARP capture socket needs CAP_NET_RAW")
	g := gatewaytest.Start(t, maildirMail)
	a := login(t, g)
	before := a.file()
	if code, body := a.save("devices", "interface", "nosuch0"); code != http.StatusUnprocessableEntity ||
		!strings.Contains(body, `data-key="interface">this box has no interface &#34;nosuch0&#34;`) {
		t.Fatalf("interface nosuch0: %d, want 422 at its field:\n%s", code, excerpt(body, "nosuch0"))
	}
	if a.file() != before {
		t.Error("a refused interface changed the file")
	}
	for _, iface := range []string{"lo", ""} {
		if code, body := a.save("devices", "interface", iface); code != http.StatusSeeOther {
			t.Fatalf("interface %q: %d %s", iface, code, excerpt(body, "alert"))
		}
		if got := g.Gateway.Config().Interface; got != iface {
			t.Errorf("applied interface %q, want %q", got, iface)
		}
		if p := g.Settings.Pending(); len(p) != 0 {
			t.Errorf("interface %q waits for a restart: %v", iface, p)
		}
	}
}
