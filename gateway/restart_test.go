package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"multimsg/internal/poll"
	"multimsg/provider/mail/smtptest"
)

// TestRestartFromPage: the real binary. listen is changed on the settings page, which says it
// waits for a restart and offers one; the restart (audited) stops the gateway cleanly and
// re-executes the same binary with the same arguments, in the same process: it answers on the
// new address, the old one is closed, and the jobs that were queued (their relay down) are
// still there and are delivered once the relay is back.
func TestRestartFromPage(t *testing.T) {
	bin := buildServer(t)
	dir := t.TempDir()
	relay := smtptest.New(t, smtptest.Options{})
	relay.Down()
	const pass = "restart-test-password"
	cfg := adminConfig(t, dir, pass, fmt.Sprintf(`
[delivery]
retry_min = "200ms"
retry_max = "1s"

[[mail.sender]]
name = "relay"
host = "127.0.0.1"
port = %d
timeout = "2s"
`, relay.Port()))
	s := startServer(t, bin, cfg)
	pid := s.cmd.Process.Pid
	oldAddr := s.addr

	var ids []string
	for i := range 3 {
		body, ct := sendBody(fmt.Sprintf("queued across the restart %d", i))
		resp, err := http.Post(s.url("/send"), ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		id, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/send: %d %s", resp.StatusCode, id)
		}
		ids = append(ids, strings.TrimSpace(string(id)))
	}
	poll.Until(t, 30*time.Second, "a failed attempt on the relay that is down", func() bool {
		return strings.Contains(s.stderr(), "dispatch: delivery failed")
	})

	// A free port for the new address (the kernel's pick, released for the gateway to take).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	newAddr := ln.Addr().String()
	ln.Close()

	a := loginPage(t, s, pass)
	post, get, csrf := a.post, a.get, a.csrf
	if code, body := post("/admin/settings", url.Values{"csrf": {csrf}, "section": {"box"}, "listen": {newAddr}}); code != http.StatusSeeOther {
		t.Fatalf("save listen: %d %s", code, body)
	}
	page := get("/admin/settings")
	if !strings.Contains(page, "Pending restart: <strong>listen</strong>") || !strings.Contains(page, "Restart the service now") {
		t.Fatalf("the page does not offer the restart listen waits for:\n%s", page)
	}
	if f, _ := os.ReadFile(cfg); !strings.Contains(string(f), newAddr) {
		t.Fatalf("the file does not hold the new address:\n%s", f)
	}
	code, body := post("/admin/settings/restart", url.Values{"csrf": {csrf}})
	if code != 200 || !strings.Contains(body, "http://"+newAddr+"/admin/settings") {
		t.Fatalf("restart: %d %s", code, body)
	}
	poll.Until(t, time.Minute, "the gateway serving on the new address", func() bool {
		return strings.Contains(s.stderr(), `msg="multimsg: serving" addr=`+newAddr)
	})
	select {
	case <-s.done:
		t.Fatalf("the process exited (%v) instead of re-executing itself:\n%s", s.err, s.stderr())
	default:
	}
	if s.cmd.Process.Pid != pid {
		t.Fatal("unreachable: exec keeps the PID")
	}
	if !regexp.MustCompile(`msg="audit: service restart" who="admin from 127.0.0.1" how=restart keys=listen`).MatchString(s.stderr()) {
		t.Errorf("no audit line for the restart:\n%s", s.stderr())
	}
	if c, err := net.DialTimeout("tcp", oldAddr, 5*time.Second); err == nil {
		c.Close()
		t.Errorf("the old address %s still answers", oldAddr)
	}
	s.addr = newAddr
	relay.Up(t)
	for _, id := range ids {
		poll.Until(t, time.Minute, "job "+id+" delivered after the restart", func() bool {
			resp, err := http.PostForm(s.url("/cons"), url.Values{"id": {id}})
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return strings.TrimSpace(string(b)) == "delivered"
		})
	}
	if n := len(relay.Messages()); n < len(ids) {
		t.Errorf("the relay got %d messages, want at least %d", n, len(ids))
	}
	page = get("/admin/settings") // the session did not survive: the login page, no pending restart
	if strings.Contains(page, "Pending restart") {
		t.Errorf("the restarted gateway still shows a pending restart")
	}
	s.stop(t) // the re-executed process stops on SIGTERM as the first did
}

// With -listen on the command line, a listen saved on the page goes into the file, but the page
// says the restart keeps the command line's value, and it does: the arguments are kept.
func TestRestartKeepsFlags(t *testing.T) {
	bin := buildServer(t)
	dir := t.TempDir()
	const pass = "restart-flag-password"
	cfg := adminConfig(t, dir, pass, "")
	s := startServer(t, bin, cfg, "-listen", "127.0.0.1:0")
	a := loginPage(t, s, pass)
	if code, body := a.post("/admin/settings", url.Values{"csrf": {a.csrf}, "section": {"box"}, "listen": {"127.0.0.1:1"}}); code != http.StatusSeeOther {
		t.Fatalf("save listen: %d %s", code, body)
	}
	if f, _ := os.ReadFile(cfg); !strings.Contains(string(f), `listen = "127.0.0.1:1"`) {
		t.Errorf("the file does not hold the saved listen:\n%s", f)
	}
	page := a.get("/admin/settings")
	if !strings.Contains(page, "listen is set on the command line (-listen 127.0.0.1:0): a restart keeps 127.0.0.1:0") {
		t.Fatalf("the page does not say the command line's listen wins:\n%s", page)
	}
	if code, body := a.post("/admin/settings/restart", url.Values{"csrf": {a.csrf}}); code != 200 {
		t.Fatalf("restart: %d %s", code, body)
	}
	poll.Until(t, time.Minute, "the gateway serving again", func() bool {
		return strings.Count(s.stderr(), `msg="multimsg: serving"`) == 2
	})
	if strings.Contains(s.stderr(), `msg="multimsg: serving" addr=127.0.0.1:1 `) {
		t.Errorf("the restart took the file's listen over -listen:\n%s", s.stderr())
	}
	s.stop(t)
}

// pageClient is an admin's browser on a server's settings page: its cookie jar, the session's
// CSRF token.
type pageClient struct {
	t    *testing.T
	s    *server
	c    *http.Client
	csrf string
}

// loginPage logs in with pass and reads the settings page's CSRF token.
func loginPage(t *testing.T, s *server, pass string) *pageClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	a := &pageClient{t: t, s: s, c: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if code, body := a.post("/admin/login", url.Values{"password": {pass}}); code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", code, body)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(a.get("/admin/settings"))
	if m == nil {
		t.Fatal("no CSRF token on the settings page")
	}
	a.csrf = m[1]
	return a
}

func (a *pageClient) post(path string, form url.Values) (int, string) {
	a.t.Helper()
	resp, err := a.c.PostForm(a.s.url(path), form)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (a *pageClient) get(path string) string {
	a.t.Helper()
	resp, err := a.c.Get(a.s.url(path))
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// adminConfig writes a configuration whose admin password is pass, with extra after it.
func adminConfig(t *testing.T, dir, pass, extra string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "multimsg.toml")
	text := fmt.Sprintf("listen = \"127.0.0.1:0\"\ndata_dir = %q\ninterface = \"\"\n\n[admin]\npassword_hash = %q\n%s",
		filepath.Join(dir, "data"), hash, extra)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The audit reaches the service's log — on the box the syslog (-syslog hands the same slog
// handler the syslog writer instead of stderr): one line per change, with when, who, how and
// the keys, never a secret's value (a token, the new admin password).
func TestAuditInServiceLog(t *testing.T) {
	bin := buildServer(t)
	dir := t.TempDir()
	const pass = "audit-test-password"
	cfg := adminConfig(t, dir, pass, fmt.Sprintf("\n[[mail.sender]]\nname = \"outbox\"\nmaildir = %q\n", filepath.Join(dir, "outbox")))
	s := startServer(t, bin, cfg)
	a := loginPage(t, s, pass)
	const token, newPass = "EAAG-secret-token-0123456789", "a-new-admin-password"
	saves := []url.Values{
		{"section": {"wpp1"}, "wpp1.sender[0].name": {"meta"}, "wpp1.sender[0].phone_number_id": {"1234567890"}, "wpp1.sender[0].token": {token}},
		{"section": {"admin"}, "admin.password": {newPass}, "admin.confirm": {newPass}},
	}
	for _, f := range saves {
		f.Set("csrf", a.csrf)
		if code, body := a.post("/admin/settings", f); code != http.StatusSeeOther {
			t.Fatalf("save %s: %d %s", f.Get("section"), code, body)
		}
	}
	log := s.stderr()
	lines := regexp.MustCompile(`(?m)^time=(\S+) level=INFO msg="audit: settings changed" who="admin from 127.0.0.1" how=page keys=(\S+).*$`).FindAllStringSubmatch(log, -1)
	if len(lines) != 2 {
		t.Fatalf("%d audit lines, want one per save (2):\n%s", len(lines), log)
	}
	for i, want := range []string{"wpp1.sender[0]", "admin.password_hash"} {
		if _, err := time.Parse(time.RFC3339, lines[i][1]); err != nil {
			t.Errorf("audit line %d: time %q: %v", i, lines[i][1], err)
		}
		if !strings.Contains(lines[i][2], want) {
			t.Errorf("audit line %d names keys %s, want %s among them", i, lines[i][2], want)
		}
	}
	for _, secret := range []string{token, newPass} {
		if strings.Contains(log, secret) {
			t.Errorf("the service's log holds a secret value %q:\n%s", secret, log)
		}
	}
	s.stop(t)
}
