package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"multimsg/internal/poll"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/crypto/bcrypt"

	"multimsg/config"
	"multimsg/gateway"
)

// The admin tests run the real gateway (gateway.New, as the binary does) on 127.0.0.1:0 with
// a temp data dir, a Maildir mail sender ("default") and an SMTP sender ("relay") pointing at
// an in-process go-smtp server that refuses recipients with 550 until told to accept.

const testPassword = "correct horse battery"

// relay is a real SMTP server (emersion/go-smtp) on loopback.
type relay struct {
	addr   *net.TCPAddr
	refuse atomic.Bool // true: RCPT TO answers 550
	got    atomic.Int32
}

func startRelay(t *testing.T) *relay {
	t.Helper()
	r := &relay{}
	srv := smtp.NewServer(r)
	srv.Domain = "relay.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().(*net.TCPAddr)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *relay) NewSession(*smtp.Conn) (smtp.Session, error) { return &relaySession{r: r}, nil }

type relaySession struct{ r *relay }

func (s *relaySession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.r.refuse.Load() {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable: " + to}
	}
	return nil
}
func (s *relaySession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	s.r.got.Add(1)
	return err
}
func (s *relaySession) Reset()        {}
func (s *relaySession) Logout() error { return nil }

// box is a running gateway.
type box struct {
	t     *testing.T
	g     *gateway.Gateway
	base  string
	relay *relay
	http  *http.Client
}

// startBox runs a gateway; admin is added to its [admin] table, tail to the end of its config.
func startBox(t *testing.T, admin string, tail ...string) *box {
	t.Helper()
	rl := startRelay(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, err := config.Parse(fmt.Sprintf(`
listen = "127.0.0.1:0"
data_dir = %q
[admin]
password_hash = %q
%s
[delivery]
retry_min = "1s"
retry_max = "2s"
[[mail.sender]]
name = "default"
maildir = "outbox"
[[mail.sender]]
name = "relay"
host = "127.0.0.1"
port = %d
timeout = "5s"
%s
`, dir, hash, admin, rl.addr.Port, strings.Join(tail, "\n")), "test")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, gateway.Options{Version: "test-1.0", Console: io.Discard})
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
	b := &box{t: t, g: g, base: "http://" + g.Addr().String(), relay: rl,
		http: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	b.waitFor("the gateway to answer /healthz", func() bool {
		r, err := b.http.Get(b.base + "/healthz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	return b
}

// waitFor polls cond until it holds (there is no signal to wait on from outside the box).
func (b *box) waitFor(what string, cond func() bool) {
	b.t.Helper()
	poll.Until(b.t, 15*time.Second, what, cond)
}

type resp struct {
	code int
	hdr  http.Header
	body string
	// cookies set by the answer
	cookies []*http.Cookie
}

// do sends a request; hdr pairs are header name, value.
func (b *box) do(method, path string, body io.Reader, hdr ...string) resp {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1] // net/http sends req.Host, not a Host header
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	return resp{code: r.StatusCode, hdr: r.Header, body: string(raw), cookies: r.Cookies()}
}

func form(kv ...string) io.Reader {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return strings.NewReader(v.Encode())
}

const formCT = "application/x-www-form-urlencoded"

// login logs in with the admin password and returns the session cookie header value.
func (b *box) login() string {
	b.t.Helper()
	r := b.do("POST", "/admin/login", form("password", testPassword), "Content-Type", formCT)
	if r.code != http.StatusSeeOther {
		b.t.Fatalf("login: %d %s", r.code, r.body)
	}
	for _, c := range r.cookies {
		if c.Name == "multimsg_admin" {
			return c.Name + "=" + c.Value
		}
	}
	b.t.Fatalf("login set no session cookie: %v", r.hdr)
	return ""
}

// send queues a mail job through /send and returns its id.
func (b *box) send(sender, dest, text string) string {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("serv", "mail")
	mw.WriteField("dest", dest)
	if sender != "" {
		mw.WriteField("sender", sender)
	}
	fw, _ := mw.CreateFormFile("body", "alert.txt")
	io.WriteString(fw, text)
	mw.Close()
	r := b.do("POST", "/send", &body, "Content-Type", mw.FormDataContentType())
	if r.code != 200 {
		b.t.Fatalf("/send: %d %s", r.code, r.body)
	}
	return strings.TrimSpace(r.body)
}

// state asks /admin/api/status (HTTP Basic) for a job's state in the recent list.
func (b *box) state(id string) string {
	b.t.Helper()
	st := b.status()
	for _, j := range st.Recent {
		if j.ID == id {
			return j.State
		}
	}
	return ""
}
