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
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "multimsg.toml")
	text := fmt.Sprintf(`listen = "127.0.0.1:0"
data_dir = %q
interface = ""

[admin]
password_hash = %q

[delivery]
retry_min = "200ms"
retry_max = "1s"

[[mail.sender]]
name = "relay"
host = "127.0.0.1"
port = %d
timeout = "2s"
`, filepath.Join(dir, "data"), hash, relay.Port())
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
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

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values) (int, string) {
		t.Helper()
		resp, err := c.PostForm(s.url(path), form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(s.url(path))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if code, body := post("/admin/login", url.Values{"password": {pass}}); code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", code, body)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get("/admin/settings"))
	if m == nil {
		t.Fatal("no CSRF token on the settings page")
	}
	csrf := m[1]
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
