package gateway_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash and load tests run the real binary as a separate process: only a process that is
// killed for real shows what survives a SIGKILL, and only a server in its own process shows its
// own memory and CPU next to the load generator's.

// buildServer builds cmd/multimsg into a temporary directory (once per test).
func buildServer(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "multimsg")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/multimsg")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/multimsg: %v\n%s", err, out)
	}
	return bin
}

// serverConfig writes a configuration for a server on a free loopback port (the kernel picks
// it; the server logs it) whose mail sender delivers into dir/outbox, and returns its path.
// senderExtra is added to the mail sender's table (e.g. "rate = 0.5"), limits to [limits].
// Every client of these tests comes from 127.0.0.1, so max_conns_per_ip is raised.
func serverConfig(t testing.TB, dir, senderExtra string, limits ...string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen = "127.0.0.1:0"
data_dir = %q
interface = ""
unknown_device = "reject"

[delivery]
ttl = "1h"

[store]
quota = "4GiB"   # the load test's bursts; every job's metadata counts toward the quota too

[[mail.sender]]
name = "default"
maildir = %q
from = "gateway@localhost"
%s

[limits]
max_conns_per_ip = 1024
%s
`, filepath.Join(dir, "data"), filepath.Join(dir, "outbox"), senderExtra, strings.Join(limits, "\n"))
	path := filepath.Join(dir, "multimsg.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// server is one running `multimsg serve`.
type server struct {
	cmd  *exec.Cmd
	addr string // host:port it listens on
	done chan struct{}
	err  error // Wait's result, once done is closed

	mu  sync.Mutex
	log bytes.Buffer // its stderr, for failure messages
}

// startServer runs `bin serve -config cfg [args]` and returns once it listens.
func startServer(t testing.TB, bin, cfg string, args ...string) *server {
	t.Helper()
	// info, the default level: the server logs a line per delivery, as it does on a box.
	s := &server{cmd: exec.Command(bin, append([]string{"serve", "-config", cfg, "-log-level", "info"}, args...)...), done: make(chan struct{})}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			if s.log.Len() < 1<<20 {
				s.log.WriteString(line + "\n")
			}
			s.mu.Unlock()
			if strings.Contains(line, `msg="multimsg: serving"`) {
				if i := strings.Index(line, " addr="); i >= 0 {
					a, _, _ := strings.Cut(line[i+len(" addr="):], " ")
					select {
					case addr <- a:
					default:
					}
				}
			}
		}
		io.Copy(io.Discard, stderr)
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	select {
	case s.addr = <-addr:
	case <-s.done:
		t.Fatalf("multimsg serve exited before listening (%v):\n%s", s.err, s.stderr())
	case <-time.After(2 * time.Minute): // a million-job store is opened first
		s.cmd.Process.Kill()
		t.Fatalf("multimsg serve did not listen within 2 minutes:\n%s", s.stderr())
	}
	t.Cleanup(func() { s.kill() })
	return s
}

func (s *server) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// kill SIGKILLs the server and waits for it to be gone.
func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop asks the server to shut down (SIGTERM) and waits up to 30 s for a clean exit.
func (s *server) stop(t testing.TB) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.err != nil {
			t.Errorf("multimsg serve after SIGTERM: %v\n%s", s.err, s.stderr())
		}
	case <-time.After(30 * time.Second):
		s.kill()
		t.Errorf("multimsg serve did not stop within 30s of SIGTERM:\n%s", s.stderr())
	}
}

// sendBody is a /send request: one text file for the mail service, in a Maildir.
func sendBody(text string) (body []byte, contentType string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("serv", "mail")
	w.WriteField("dest", "ops@example.com")
	w.WriteField("type", `{"body":"text"}`)
	fw, _ := w.CreateFormFile("body", "body.txt")
	fw.Write([]byte(text))
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}

// maildirJobs reads every message in dir/new and returns, per X-Multimsg-Job id, the number
// of messages and the decoded body of one of them.
func maildirJobs(dir string) (map[string]int, map[string]string, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "new"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]int{}, map[string]string{}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	count := make(map[string]int, len(ents))
	bodies := make(map[string]string, len(ents))
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		if err != nil {
			return nil, nil, err
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, fmt.Errorf("message %s: %w", e.Name(), err)
		}
		id := m.Header.Get("X-Multimsg-Job")
		if id == "" {
			return nil, nil, fmt.Errorf("message %s has no X-Multimsg-Job header", e.Name())
		}
		var body io.Reader = m.Body
		if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(m.Body)
		}
		text, err := io.ReadAll(body)
		if err != nil {
			return nil, nil, fmt.Errorf("message %s: body: %w", e.Name(), err)
		}
		count[id]++
		bodies[id] = string(text)
	}
	return count, bodies, nil
}
