package gateway_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"multimsg/internal/poll"
)

// TestSIGHUP: the real binary, the file edited by hand and SIGHUP sent: the mail sender moves
// to another Maildir without a restart (same process, same port), and a job sent afterwards
// lands there; a broken edit then is refused, logged, and changes nothing.
func TestSIGHUP(t *testing.T) {
	bin := buildServer(t)
	dir := t.TempDir()
	cfg := serverConfig(t, dir, "")
	s := startServer(t, bin, cfg)
	old, _ := os.ReadFile(cfg)
	edited := strings.Replace(string(old), filepath.Join(dir, "outbox"), filepath.Join(dir, "outbox2"), 1)
	if err := os.WriteFile(cfg, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "the reload in the log", func() bool { return strings.Contains(s.stderr(), "SIGHUP: configuration applied") })
	body, ct := sendBody("after the reload")
	resp, err := http.Post(s.url("/send"), ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/send after SIGHUP: %d", resp.StatusCode)
	}
	poll.Until(t, 30*time.Second, "the job in the new Maildir", func() bool {
		n, _, _ := maildirJobs(filepath.Join(dir, "outbox2"))
		return len(n) == 1
	})
	if err := os.WriteFile(cfg, []byte(edited+"\n[delivery]\nttl = \"forever\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "the refusal in the log", func() bool { return strings.Contains(s.stderr(), "SIGHUP: configuration not applied") })
	s.stop(t)
}
