package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"multimsg/config"
	"multimsg/gateway"
	"multimsg/internal/poll"
	"multimsg/internal/rauctest"
	"multimsg/web"
)

// updateBox is a whole gateway on loopback whose updater talks to the D-Bus at bus, with a
// reboot command that only leaves a mark.
type updateBox struct {
	*box
	spool, rebooted string
}

func startUpdateBox(t *testing.T, bus string, maxBundle string) *updateBox {
	t.Helper()
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", bus)
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir, spool := t.TempDir(), t.TempDir()
	cfg, err := config.Parse(fmt.Sprintf(`
listen = "127.0.0.1:0"
data_dir = %q
[admin]
password_hash = %q
[update]
spool_dir = %q
max_bundle = %q
[[mail.sender]]
name = "default"
maildir = "outbox"
`, dir, hash, spool, maxBundle), "test")
	if err != nil {
		t.Fatal(err)
	}
	rebooted := filepath.Join(t.TempDir(), "rebooted")
	g, err := gateway.New(cfg, gateway.Options{Version: "2.0.0-test", Console: io.Discard,
		RebootCommand: []string{"/bin/sh", "-c", "echo reboot >" + rebooted}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway Run: %v", err)
		}
	})
	b := &box{t: t, g: g, base: "http://" + g.Addr().String(),
		http: &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	b.waitFor("the gateway to answer /healthz", func() bool {
		r, err := b.http.Get(b.base + "/healthz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	return &updateBox{box: b, spool: spool, rebooted: rebooted}
}

func (b *updateBox) updateStatus() web.UpdateStatus {
	b.t.Helper()
	r := b.do("GET", "/admin/api/update", nil, "Authorization", basic(testPassword))
	if r.code != 200 {
		b.t.Fatalf("GET /admin/api/update = %d %s", r.code, r.body)
	}
	var st web.UpdateStatus
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		b.t.Fatalf("GET /admin/api/update: %v in %s", err, r.body)
	}
	return st
}

func (b *updateBox) postFile(path string, hdr ...string) resp {
	b.t.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer f.Close()
	return b.do("POST", "/admin/api/update", f, append([]string{"Content-Type", "application/octet-stream"}, hdr...)...)
}

func jsonError(t *testing.T, r resp) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(r.body), &m); err != nil || m["error"] == "" {
		t.Errorf("answer %d %q is not JSON {\"error\": ...}", r.code, r.body)
	}
	return m["error"]
}

// TestUpdateNotAvailable: without RAUC on the bus (a laptop) the status says why and the
// upload answers 503 with the reason.
func TestUpdateNotAvailable(t *testing.T) {
	b := startUpdateBox(t, "unix:path="+filepath.Join(t.TempDir(), "no-bus"), "512MiB")
	st := b.updateStatus()
	if st.Available || !strings.Contains(st.Reason, "no system D-Bus") || st.Version != "2.0.0-test" {
		t.Errorf("status without RAUC = %+v, want not available with a reason", st)
	}
	r := b.do("POST", "/admin/api/update", strings.NewReader("bundle"), "Content-Type", "application/octet-stream", "Authorization", basic(testPassword))
	if r.code != http.StatusServiceUnavailable || !strings.Contains(jsonError(t, r), "D-Bus") {
		t.Errorf("upload without RAUC = %d %s, want 503 saying why", r.code, r.body)
	}
	r = b.do("POST", "/admin/api/reboot", nil, "Authorization", basic(testPassword))
	if r.code != http.StatusServiceUnavailable {
		t.Errorf("reboot on a system without RAUC = %d %s, want 503 (never reboot a laptop)", r.code, r.body)
	}
	if _, err := os.Stat(b.rebooted); err == nil {
		t.Errorf("the reboot command ran")
	}
}

// rawRequest writes a request's head (and the first bytes of its body, when the request does
// not wait for 100 Continue) and returns the first status line the server sends, with the rest
// of its answer. The body is never sent whole: the refusal must come without it.
func rawRequest(t *testing.T, addr, head string) (string, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(head, "Expect: 100-continue") {
		// What a client that does not wait sends at once. fasthttp reads up to the route's prefetch (4 KiB) of a body
		// before any handler runs (its pre-read for streamed bodies); the refusal comes then.
		c.Write(make([]byte, 8<<10))
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("no answer to a request whose body was never sent: %v", err)
	}
	rest, _ := io.ReadAll(io.LimitReader(br, 4096))
	return strings.TrimSpace(line), string(rest)
}

// TestUpdateRefusedBeforeBody: auth and size are judged from the headers; a refused caller gets
// no "100 Continue" and is answered without sending a byte of its body.
func TestUpdateRefusedBeforeBody(t *testing.T) {
	b := startUpdateBox(t, "unix:path="+filepath.Join(t.TempDir(), "no-bus"), "1MiB")
	addr := b.g.Addr().String()
	auth := "Authorization: " + basic(testPassword) + "\r\n"
	for _, c := range []struct {
		name, hdr string
		want      int
	}{
		{"no auth, 100-continue", "Expect: 100-continue\r\n", 401},
		{"no auth, no expect", "", 401},
		{"wrong password", "Authorization: " + basic("wrong password") + "\r\n", 401},
		{"over max_bundle, 100-continue", auth + "Expect: 100-continue\r\n", 413},
		{"over max_bundle", auth, 413},
		{"Basic from another site's page", auth + "Origin: http://evil.example\r\n", 403},
		{"Basic with Sec-Fetch-Site cross-site", auth + "Sec-Fetch-Site: cross-site\r\n", 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			size := 2 << 20
			head := "POST /admin/api/update HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
				strconv.Itoa(size) + "\r\n" + c.hdr + "\r\n"
			line, rest := rawRequest(t, addr, head)
			if !strings.HasPrefix(line, "HTTP/1.1 "+strconv.Itoa(c.want)) {
				t.Errorf("status line = %q, want %d (answer: %s)", line, c.want, rest)
			}
			if !strings.Contains(rest, `{"error":`) {
				t.Errorf("answer without a JSON reason: %s", rest)
			}
		})
	}
	// A page session without its CSRF token is refused too.
	cookie := b.login()
	r := b.do("POST", "/admin/api/update", strings.NewReader("x"), "Content-Type", "application/octet-stream", "Cookie", cookie)
	if r.code != http.StatusForbidden || !strings.Contains(jsonError(t, r), "CSRF") {
		t.Errorf("session without CSRF = %d %s, want 403", r.code, r.body)
	}
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf" content="([^"]+)">`)

// TestUpdateOverHTTP runs an update through the HTTP API against a real RAUC: refusals with
// RAUC's reason (nothing changes), 409 during an upload, v2 raw with Basic (curl's way) and as
// the page's multipart with session and CSRF, status, reboot.
func TestUpdateOverHTTP(t *testing.T) {
	sys := rauctest.Start(t)
	b := startUpdateBox(t, sys.Bus, "64MiB")
	if st := b.updateStatus(); !st.Available || st.Booted != "A" || len(st.Slots) != 2 {
		t.Fatalf("status = %+v, want RAUC available, booted A", st)
	}
	auth := []string{"Authorization", basic(testPassword)}

	evilCert, evilKey := sys.MakeKey("evil")
	evil := sys.Bundle(rauctest.BundleOptions{Version: "2.0.0", Cert: evilCert, Key: evilKey})
	r := b.postFile(evil, auth...)
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(jsonError(t, r), "signature") {
		t.Errorf("evil-signed bundle = %d %s, want 422 naming the signature", r.code, r.body)
	}
	wrong := sys.Bundle(rauctest.BundleOptions{Version: "2.0.0", Compatible: "other-box"})
	if r := b.postFile(wrong, auth...); r.code != http.StatusUnprocessableEntity || !strings.Contains(jsonError(t, r), "compatible") {
		t.Errorf("wrong compatible = %d %s, want 422", r.code, r.body)
	}
	if st := b.updateStatus(); st.LastError == "" || st.Primary != "A" {
		t.Errorf("after refusals: %+v, want last_error set, primary still A", st)
	}

	// 409 while an upload is in flight.
	pr, pw := io.Pipe()
	first := make(chan resp, 1)
	go func() {
		req, _ := http.NewRequest("POST", b.base+"/admin/api/update", pr)
		req.ContentLength = 1 << 20
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Authorization", basic(testPassword))
		res, err := b.http.Do(req)
		if err != nil {
			first <- resp{code: -1, body: err.Error()}
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		first <- resp{code: res.StatusCode, body: string(body)}
	}()
	pw.Write(make([]byte, 100<<10))
	b.waitFor("the first upload to be received", func() bool { return b.updateStatus().Received > 0 })
	if r := b.postFile(evil, auth...); r.code != http.StatusConflict {
		t.Errorf("upload during an upload = %d %s, want 409", r.code, r.body)
	}
	pw.CloseWithError(io.ErrUnexpectedEOF)
	<-first

	// v2, raw body with HTTP Basic (what curl --data-binary does).
	v2 := sys.Bundle(rauctest.BundleOptions{Version: "2.0.0"})
	r = b.postFile(v2, auth...)
	if r.code != http.StatusAccepted || !strings.Contains(r.body, `"version":"2.0.0"`) {
		t.Fatalf("v2 = %d %s, want 202\n%s", r.code, r.body, sys.Log())
	}
	var st web.UpdateStatus
	b.waitFor("v2 to be installed", func() bool { st = b.updateStatus(); return st.Operation == "idle" && st.LastResult != "" })
	if st.LastError != "" || st.Primary != "B" {
		t.Fatalf("after v2: %+v, want primary B and no error", st)
	}
	es, _ := os.ReadDir(b.spool)
	if len(es) != 0 {
		t.Errorf("spool not emptied: %v", es)
	}

	// The page's way: multipart field "bundle", session cookie and X-CSRF-Token.
	cookie := b.login()
	page := b.do("GET", "/admin", nil, "Cookie", cookie)
	m := csrfMeta.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no CSRF meta on the page")
	}
	v21 := sys.Bundle(rauctest.BundleOptions{Version: "2.1.0"})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("bundle", "v2.1.raucb")
	raw, _ := os.ReadFile(v21)
	fw.Write(raw)
	mw.Close()
	r = b.do("POST", "/admin/api/update", &body, "Content-Type", mw.FormDataContentType(), "Cookie", cookie, "X-CSRF-Token", m[1], "Origin", b.base)
	if r.code != http.StatusAccepted || !strings.Contains(r.body, "2.1.0") {
		t.Fatalf("multipart upload from the page = %d %s, want 202", r.code, r.body)
	}
	b.waitFor("2.1.0 to be installed", func() bool { st = b.updateStatus(); return st.Operation == "idle" && st.LastResult != "" })
	if st.LastError != "" || st.Primary != "B" || st.Slots[1].Version != "2.1.0" {
		t.Errorf("after 2.1.0: %+v, want 2.1.0 in B (still booted from A), primary B", st)
	}

	// Reboot: admin + CSRF; the command runs after the answer.
	if r := b.do("POST", "/admin/api/reboot", nil, "Cookie", cookie); r.code != http.StatusForbidden {
		t.Errorf("reboot without CSRF = %d, want 403", r.code)
	}
	if r := b.do("POST", "/admin/api/reboot", nil, "Cookie", cookie, "X-CSRF-Token", m[1]); r.code != http.StatusAccepted {
		t.Errorf("reboot = %d %s, want 202", r.code, r.body)
	}
	poll.Until(t, 10*time.Second, "the reboot command", func() bool { _, err := os.Stat(b.rebooted); return err == nil })
	if st := b.updateStatus(); !st.Rebooting || st.Marked == "" {
		t.Errorf("status after reboot request = %+v, want rebooting, and the slot marked good after the start", st)
	}
}

// rssAnon is the process's anonymous resident memory in bytes.
func rssAnon(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssAnon:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no RssAnon")
	return 0
}

// TestUpdateUploadMemoryFlat streams a 256 MiB upload (more than a small box's free RAM
// headroom) and checks the process's anonymous memory stays flat: the body goes to the spool
// through a small buffer, never into memory. (RAUC then refuses it: it is no bundle.)
func TestUpdateUploadMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 256 MiB upload")
	}
	sys := rauctest.Start(t)
	b := startUpdateBox(t, sys.Bus, "300MiB")
	const size = 256 << 20
	before := rssAnon(t)
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				if v := rssAnon(t); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	req, _ := http.NewRequest("POST", b.base+"/admin/api/update", io.LimitReader(zeros{}, size))
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", basic(testPassword))
	res, err := b.http.Do(req)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("256 MiB of zeros = %d, want 422 (refused by RAUC)", res.StatusCode)
	}
	growth := peak.Load() - before
	t.Logf("RssAnon before %d KiB, peak during a %d MiB upload %d KiB (growth %d KiB)", before>>10, size>>20, peak.Load()>>10, growth>>10)
	if growth > 48<<20 {
		t.Errorf("anonymous memory grew by %d MiB during a %d MiB upload: the body is not streamed", growth>>20, size>>20)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
