// Package gatewaytest starts a whole multimsg gateway in-process for end-to-end tests: the
// same wiring as `multimsg serve` (gateway.New), listening on a loopback port, with a fresh
// data directory and a configuration given as TOML.
package gatewaytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"multimsg/client"
	"multimsg/config"
	"multimsg/envelope"
	"multimsg/gateway"
	"multimsg/internal/poll"
)

// AdminPassword is the admin password of every test gateway.
const AdminPassword = "test-admin-password"

// adminHash is bcrypt(AdminPassword) at cost 4, so tests don't pay bcrypt's default cost.
const adminHash = "$2a$04$ZiwiKVSClPpUrLEvpMOSx.b083AGzhzrxiIUNbh3l/6obeARVI6ae"

// Gateway is a running test gateway.
type Gateway struct {
	*gateway.Gateway
	URL     string         // http://127.0.0.1:port
	DataDir string         // its data directory
	Client  *client.Client // a device client (the test process is the device "local")
	Config  config.Config
	cancel  context.CancelFunc
	done    chan error
}

var (
	keyOnce sync.Once
	keyPEM  []byte
	keyErr  error
)

// seedKey puts one process-wide box key into dir, so each test gateway does not spend a
// second or two generating its own RSA-3072 key.
func seedKey(t testing.TB, dir string) {
	t.Helper()
	keyOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "multimsg-key")
		if err != nil {
			keyErr = err
			return
		}
		defer os.RemoveAll(tmp)
		k, err := envelope.LoadOrCreate(tmp)
		if err != nil {
			keyErr = err
			return
		}
		keyPEM, keyErr = os.ReadFile(k.Path())
	})
	if keyErr != nil {
		t.Fatalf("test key: %v", keyErr)
	}
	if _, err := os.Stat(filepath.Join(dir, "box.key")); err == nil {
		return // a restart keeps its key
	}
	if err := os.WriteFile(filepath.Join(dir, "box.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Start runs a gateway configured by toml (data_dir and listen are set for you; anything
// else, e.g. [[mail.sender]] tables, comes from toml). It stops when the test ends.
func Start(t testing.TB, toml string) *Gateway {
	t.Helper()
	dir := t.TempDir()
	return StartIn(t, dir, toml)
}

// StartIn is Start on an existing data directory (a restart).
func StartIn(t testing.TB, dir, toml string) *Gateway {
	t.Helper()
	seedKey(t, dir)
	text := fmt.Sprintf("listen = \"127.0.0.1:0\"\ndata_dir = %q\n%s\n", dir, toml)
	if !strings.Contains(toml, "[admin]") {
		text += fmt.Sprintf("[admin]\npassword_hash = %q\n", adminHash)
	}
	cfg, err := config.Parse(text, t.Name())
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	// The file the settings pages write and SIGHUP reads: in the test's directory, never /etc.
	cfgPath := filepath.Join(dir, "multimsg.toml")
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out io.Writer = io.Discard
	if testing.Verbose() || os.Getenv("MULTIMSG_TEST_LOG") != "" {
		out = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, err := gateway.New(cfg, gateway.Options{Log: log, Version: "test", Console: io.Discard, ConfigPath: cfgPath})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tg := &Gateway{Gateway: g, URL: "http://" + g.Addr().String(), DataDir: dir, Config: cfg, cancel: cancel, done: make(chan error, 1)}
	tg.Client = client.New(tg.URL, &http.Client{Timeout: 30 * time.Second})
	go func() { tg.done <- g.Run(ctx) }()
	t.Cleanup(func() { tg.Stop(t) })
	return tg
}

// Stop shuts the gateway down cleanly and waits for it (idempotent).
func (g *Gateway) Stop(t testing.TB) {
	if g.cancel == nil {
		return
	}
	g.cancel()
	g.cancel = nil
	select {
	case err := <-g.done:
		if err != nil && !errors.Is(err, gateway.ErrRestart) { // a restart from the page stops it too
			t.Errorf("gateway.Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("gateway did not stop within 30s")
	}
}

// Post sends a form (urlencoded) and returns the status and body.
func (g *Gateway) Post(t testing.TB, path string, form url.Values, accept string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return Do(t, req)
}

var httpClient = &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}, Timeout: time.Minute}

// Get fetches url and returns the status and body.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	return Do(t, req)
}

// Do runs req and returns the status and body.
func Do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// WaitState consults id until it reaches a finished state, for at most timeout, and returns
// the last state. A finished answer archives the job.
func (g *Gateway) WaitState(t testing.TB, id string, timeout time.Duration) client.State {
	t.Helper()
	var st client.State
	poll.Wait(timeout, func() bool {
		var err error
		if st, err = g.Client.Consult(context.Background(), id); err != nil {
			t.Fatalf("Consult(%s): %v", id, err)
		}
		return st.Finished()
	})
	return st
}

// WaitJob waits (reading the store, not /cons, so nothing gets archived) until job id is
// finished, for at most timeout, and returns its state.
func (g *Gateway) WaitJob(t testing.TB, id string, timeout time.Duration) string {
	t.Helper()
	var st string
	poll.Wait(timeout, func() bool {
		j, err := g.Store.Get(id)
		if err != nil {
			t.Fatalf("Store.Get(%s): %v", id, err)
		}
		st = string(j.State)
		return j.State.Finished()
	})
	return st
}

// Explain describes job id and every sender, for a failing test's message: each file's
// state, attempts and recent history, and each sender's health.
func (g *Gateway) Explain(id string) string {
	var b strings.Builder
	if j, err := g.Store.Get(id); err != nil {
		fmt.Fprintf(&b, "job %s: %v\n", id, err)
	} else {
		fmt.Fprintf(&b, "job %s: %s, service %s, expires %s\n", id, j.State, j.Service, j.Expires.Format(time.RFC3339Nano))
		for _, f := range j.Files {
			fmt.Fprintf(&b, "  file %s: %s via %s/%s, %d attempts, next %s, last error %q\n",
				f.Name, f.State, f.Service, f.Sender, f.Attempts, f.NextAt.Format(time.RFC3339Nano), f.LastError)
			for _, a := range f.History {
				fmt.Fprintf(&b, "    %s %s/%s ok=%t %s %s\n", a.At.Format("15:04:05.000"), a.Service, a.Sender, a.OK, a.Class, a.Error)
			}
		}
	}
	for _, s := range g.Disp.Senders() {
		fmt.Fprintf(&b, "sender %s/%s: healthy=%t problem=%q last_error=%q", s.Service, s.Name, s.Healthy, s.Problem, s.LastError)
		if s.Driver != nil {
			fmt.Fprintf(&b, " driver=%+v", *s.Driver)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Maildir lists the files delivered into a Maildir under the data dir (e.g. "outbox").
func (g *Gateway) Maildir(t testing.TB, name string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(g.DataDir, name, "new", "*"))
	return m
}
