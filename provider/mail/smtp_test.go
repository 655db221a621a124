package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"multimsg/internal/poll"
	"multimsg/provider/mail/smtptest"
	"net/mail"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"multimsg/provider"
)

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newDriver(t *testing.T, s *smtptest.Server, tlsMode string, mod func(*Options)) *Driver {
	t.Helper()
	o := Options{
		Name:      "test",
		Host:      "127.0.0.1",
		Port:      s.Addr().Port,
		TLS:       tlsMode,
		From:      "Gateway <gw@example.com>",
		Timeout:   5 * time.Second,
		TLSConfig: &tls.Config{RootCAs: s.CertPool()},
		Hostname:  "box.test",
	}
	if mod != nil {
		mod(&o)
	}
	d, err := New(o, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func infoOf(t testing.TB, kv map[string]any) provider.Info {
	if kv == nil {
		return nil
	}
	in := provider.Info{}
	for k, v := range kv {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		in[k] = b
	}
	return in
}

func textFile(name, body string) provider.File {
	return provider.File{Name: name, Filename: name + ".txt", Type: "text", Data: []byte(body)}
}

func delivery(job, dest string, info provider.Info, files ...provider.File) provider.Delivery {
	return provider.Delivery{JobID: job, Device: "aa:bb:cc:dd:ee:ff", Service: "mail", Sender: "test", Dest: dest, Info: info, Files: files, Attempt: 1}
}

// leaf is one decoded non-multipart part of a parsed message.
type leaf struct {
	mediaType string
	params    map[string]string
	filename  string // from Content-Disposition, RFC 2231 decoded
	body      []byte
	path      string // e.g. "multipart/mixed/multipart/alternative/text/plain"
}

// parseMessage parses raw with net/mail and mime/multipart, as a mail client would.
func parseMessage(t testing.TB, raw []byte) (*mail.Message, []leaf) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v\n%s", err, raw)
	}
	var leaves []leaf
	var walk func(ct, cte, cd string, r io.Reader, path string)
	walk = func(ct, cte, cd string, r io.Reader, path string) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("%s: Content-Type %q: %v", path, ct, err)
		}
		path += mt
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(r, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("%s: NextRawPart: %v", path, err)
				}
				walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p, path+"/")
			}
		}
		switch strings.ToLower(cte) {
		case "quoted-printable":
			r = quotedprintable.NewReader(r)
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, r)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: body: %v", path, err)
		}
		l := leaf{mediaType: mt, params: params, body: body, path: path}
		if cd != "" {
			_, dp, err := mime.ParseMediaType(cd)
			if err != nil {
				t.Fatalf("%s: Content-Disposition %q: %v", path, cd, err)
			}
			l.filename = dp["filename"]
		}
		leaves = append(leaves, l)
	}
	walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), "", m.Body, "")
	return m, leaves
}

func decodeSubject(t testing.TB, m *mail.Message) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("Subject %q: %v", m.Header.Get("Subject"), err)
	}
	return s
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestSendSTARTTLSAuthPlainFullMessage(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{StartTLS: true, Users: map[string]string{"user": "secret"}})
	d := newDriver(t, s, "starttls", func(o *Options) { o.Username, o.Password = "user", "secret" })

	pdf := randomBytes(t, 100_000)
	bin := randomBytes(t, 3)
	dl := delivery("JOB_abc-123", `"Doe, Ann" <ann@x.test>, bob@x.test`,
		infoOf(t, map[string]any{"subject": "Alarme: température élevée ✓", "cc": "Carl <carl@x.test>, ann@x.test", "reply_to": "ops@x.test"}),
		textFile("t1", "first line\nsecond line"),
		provider.File{Name: "h", Filename: "h.html", Type: "html", Data: []byte("<p>Hallo <b>Welt</b></p>")},
		textFile("t2", "third\n"),
		provider.File{Name: "rep", Filename: "Überblick 2026.pdf", Type: "file", Data: pdf},
		provider.File{Name: "raw", Filename: "", Type: "file", MIME: "application/x-weird", Data: bin},
	)
	rc, err := d.Send(context.Background(), dl)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := s.Wait(t, 1)
	if got.From != "gw@example.com" {
		t.Errorf("MAIL FROM = %q, want gw@example.com", got.From)
	}
	if want := []string{"ann@x.test", "bob@x.test", "carl@x.test"}; strings.Join(got.To, ",") != strings.Join(want, ",") {
		t.Errorf("RCPT = %v, want %v (to + cc, no duplicate)", got.To, want)
	}
	if !got.TLS || got.User != "user" {
		t.Errorf("TLS = %v, user = %q; want TLS after STARTTLS and AUTH as user", got.TLS, got.User)
	}
	m, leaves := parseMessage(t, got.Data)
	to, err := m.Header.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Name != "Doe, Ann" || to[1].Address != "bob@x.test" {
		t.Errorf("To = %v (%v)", to, err)
	}
	cc, err := m.Header.AddressList("Cc")
	if err != nil || len(cc) != 2 || cc[0].Name != "Carl" {
		t.Errorf("Cc = %v (%v)", cc, err)
	}
	from, err := m.Header.AddressList("From")
	if err != nil || from[0].Address != "gw@example.com" || from[0].Name != "Gateway" {
		t.Errorf("From = %v (%v)", from, err)
	}
	if rt := m.Header.Get("Reply-To"); rt != "<ops@x.test>" {
		t.Errorf("Reply-To = %q", rt)
	}
	if subj := decodeSubject(t, m); subj != "Alarme: température élevée ✓" {
		t.Errorf("Subject = %q", subj)
	}
	if id := m.Header.Get("Message-ID"); id != "<multimsg.JOB_abc-123@example.com>" || rc.MessageID != id {
		t.Errorf("Message-ID = %q, receipt %q", id, rc.MessageID)
	}
	if j := m.Header.Get("X-Multimsg-Job"); j != "JOB_abc-123" {
		t.Errorf("X-Multimsg-Job = %q", j)
	}
	if _, err := m.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if v := m.Header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q", v)
	}
	if len(leaves) != 4 {
		t.Fatalf("got %d parts, want 4: %+v", len(leaves), leaves)
	}
	if l := leaves[0]; l.path != "multipart/mixed/multipart/alternative/text/plain" || string(l.body) != "first line\r\nsecond line\r\n\r\nthird\r\n" || l.params["charset"] != "utf-8" {
		t.Errorf("text part %s = %q", l.path, l.body)
	}
	if l := leaves[1]; l.path != "multipart/mixed/multipart/alternative/text/html" || string(l.body) != "<p>Hallo <b>Welt</b></p>" {
		t.Errorf("html part %s = %q", l.path, l.body)
	}
	if l := leaves[2]; l.filename != "Überblick 2026.pdf" || l.mediaType != "application/pdf" || !bytes.Equal(l.body, pdf) {
		t.Errorf("attachment 1: name %q type %q, identical %v", l.filename, l.mediaType, bytes.Equal(l.body, pdf))
	}
	if l := leaves[3]; l.filename != "raw" || l.mediaType != "application/x-weird" || !bytes.Equal(l.body, bin) {
		t.Errorf("attachment 2: name %q type %q, body %x", l.filename, l.mediaType, l.body)
	}
	for i, line := range bytes.Split(got.Data, []byte("\r\n")) {
		if len(line) > 78 {
			t.Errorf("line %d is %d bytes long: %q", i, len(line), line)
		}
		if bytes.IndexByte(line, '\n') >= 0 || bytes.IndexByte(line, '\r') >= 0 {
			t.Errorf("line %d has a bare CR or LF", i)
		}
	}
	if h := d.Health(); !h.OK || !strings.HasPrefix(h.Facts.(Facts).TLS, "TLS 1.3") {
		t.Errorf("Health = %+v, want OK with TLS 1.3", h)
	}
}

func TestSendImplicitTLSAuthLogin(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{ImplicitTLS: true, Users: map[string]string{"u@x": "pw"}, Mechs: []string{"LOGIN"}})
	d := newDriver(t, s, "tls", func(o *Options) { o.Username, o.Password = "u@x", "pw" })
	if _, err := d.Send(context.Background(), delivery("j1", "a@x.test", nil, textFile("t", "hi"))); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := s.Wait(t, 1)
	if !got.TLS || got.User != "u@x" {
		t.Errorf("TLS = %v, user = %q", got.TLS, got.User)
	}
	m, leaves := parseMessage(t, got.Data)
	if subj := decodeSubject(t, m); subj != "multimsg: message from aa:bb:cc:dd:ee:ff" {
		t.Errorf("default Subject = %q", subj)
	}
	if len(leaves) != 1 || leaves[0].path != "text/plain" || string(leaves[0].body) != "hi" {
		t.Errorf("parts = %+v", leaves)
	}
}

func TestSendPlainNoTLSLoopbackAuth(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{Users: map[string]string{"user": "secret"}})
	d := newDriver(t, s, "none", func(o *Options) { o.Username, o.Password = "user", "secret" })
	if _, err := d.Send(context.Background(), delivery("j1", "a@x.test", nil, provider.File{Name: "h", Type: "html", Data: []byte("<i>x</i>")})); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := s.Wait(t, 1)
	if got.TLS || got.User != "user" {
		t.Errorf("TLS = %v, user = %q", got.TLS, got.User)
	}
	_, leaves := parseMessage(t, got.Data)
	if len(leaves) != 1 || leaves[0].path != "text/html" {
		t.Errorf("parts = %+v", leaves)
	}
}

func TestInsecureAuthRefused(t *testing.T) {
	_, err := New(Options{Host: "smtp.example.com", From: "a@b.c", Username: "u", Password: "p"}, nil)
	if !errors.Is(err, ErrInsecureAuth) {
		t.Fatalf("New(cleartext auth to a remote host) = %v, want ErrInsecureAuth", err)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "127.0.0.2", "::1", "[::1]"} {
		if _, err := New(Options{Host: h, From: "a@b.c", Username: "u", Password: "p"}, nil); err != nil {
			t.Errorf("New(cleartext auth to %s) = %v, want nil (loopback)", h, err)
		}
	}
	if _, err := New(Options{Host: "smtp.example.com", TLS: "starttls", From: "a@b.c", Username: "u"}, nil); err != nil {
		t.Errorf("New(starttls) = %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Host: "h"},                                        // no from
		{Host: "h", From: "not an address"},                // bad from
		{Host: "h", From: "a@b.c", TLS: "ssl"},             // bad tls
		{From: "a@b.c"},                                    // no host, no maildir
		{Host: "h", From: "a@b.c", Port: 70000},            // port
		{Host: "h", From: "a@b.c", DefaultSubject: "a\nb"}, // header injection
	} {
		if _, err := New(o, nil); !errors.Is(err, ErrOptions) {
			t.Errorf("New(%+v) = %v, want ErrOptions", o, err)
		}
	}
}

func TestConnectionReuse(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{StartTLS: true})
	d := newDriver(t, s, "starttls", nil)
	const n = 5
	for i := range n {
		if _, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", strings.Repeat("x", i)))); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	// and concurrently: Sends queue for the one connection
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "concurrent")))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Send: %v", err)
		}
	}
	s.Wait(t, 2*n)
	if c := s.Conns(); c != 1 {
		t.Errorf("%d messages over %d connections, want 1", 2*n, c)
	}
	if c := s.Count("NOOP"); c != 2*n-1 {
		t.Errorf("%d NOOPs, want %d (one before each reuse)", c, 2*n-1)
	}
	if c := s.Count("EHLO box.test"); c != 2 {
		t.Errorf("%d EHLO box.test, want 2 (before and after STARTTLS)", c)
	}
}

func TestRedialWhenPooledConnectionDied(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{ReadTimeout: 200 * time.Millisecond}) // drops idle clients quickly
	d := newDriver(t, s, "none", nil)
	if _, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "1"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to drop the idle connection", func() bool { return s.Closed() == 1 })
	if _, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "2"))); err != nil {
		t.Fatalf("Send after the server dropped the pooled connection: %v", err)
	}
	s.Wait(t, 2)
	if c := s.Conns(); c != 2 {
		t.Errorf("connections = %d, want 2 (one redial)", c)
	}
}

func TestIdleTimeoutClosesConnection(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	d := newDriver(t, s, "none", func(o *Options) { o.IdleTimeout = 50 * time.Millisecond })
	if _, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "1"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle connection to be closed", func() bool { return s.Closed() == 1 })
	if _, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "2"))); err != nil {
		t.Fatal(err)
	}
	if c := s.Conns(); c != 2 {
		t.Errorf("connections = %d, want 2", c)
	}
}

// waitFor polls cond until it holds or 10 s pass (no signal exists for a peer's close).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, 10*time.Second, what, cond)
}

func TestServerDownThenUp(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	d := newDriver(t, s, "none", nil)
	s.Down()
	_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	if provider.ClassOf(err) != provider.Temporary || err == nil {
		t.Fatalf("Send to a closed port = %v (%v), want temporary", err, provider.ClassOf(err))
	}
	s.Up(t)
	if _, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x"))); err != nil {
		t.Fatalf("Send after the server came back: %v", err)
	}
	s.Wait(t, 1)
}

func TestClassification(t *testing.T) {
	cases := []struct {
		name     string
		step     string
		reply    *smtp.SMTPError
		class    provider.Class
		code     string
		contains string
		conns    int // connections after the refusal and one good message
	}{
		{"MAIL 550", "MAIL", smtptest.Reply(550, smtp.EnhancedCode{5, 7, 1}, "Sender rejected by policy"), provider.Permanent, "550", "Sender rejected by policy", 1},
		{"MAIL 451", "MAIL", smtptest.Reply(451, smtp.EnhancedCode{4, 3, 0}, "Local error"), provider.Temporary, "451", "Local error", 1},
		{"MAIL 421", "MAIL", smtptest.Reply(421, smtp.EnhancedCode{4, 3, 2}, "Shutting down"), provider.Temporary, "421", "Shutting down", 2},
		{"MAIL 530", "MAIL", smtptest.Reply(530, smtp.EnhancedCode{5, 7, 0}, "Authentication required"), provider.Down, "530", "authentication failed", 1},
		{"RCPT 550", "RCPT", smtptest.Reply(550, smtp.EnhancedCode{5, 1, 1}, "No such user"), provider.Permanent, "550", "5.1.1 No such user", 1},
		{"RCPT 450", "RCPT", smtptest.Reply(450, smtp.EnhancedCode{4, 2, 0}, "Greylisted"), provider.Temporary, "450", "Greylisted", 1},
		{"DATA 554", "DATA", smtptest.Reply(554, smtp.EnhancedCode{5, 6, 0}, "Content rejected"), provider.Permanent, "554", "Content rejected", 1},
		{"DATA 452", "DATA", smtptest.Reply(452, smtp.EnhancedCode{4, 3, 1}, "Out of storage"), provider.Temporary, "452", "Out of storage", 1},
		{"AUTH 535", "AUTH", smtptest.Reply(535, smtp.EnhancedCode{5, 7, 8}, "Bad credentials"), provider.Down, "535", "SMTP 535 authentication failed: 5.7.8 Bad credentials", 2},
		{"AUTH 454", "AUTH", smtptest.Reply(454, smtp.EnhancedCode{4, 7, 0}, "Try later"), provider.Temporary, "454", "Try later", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := smtptest.New(t, smtptest.Options{Users: map[string]string{"u": "p"}})
			d := newDriver(t, s, "none", func(o *Options) { o.Username, o.Password = "u", "p" })
			s.SetFail(c.step, c.reply)
			_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Send = %v, want a *provider.Error", err)
			}
			if pe.Class != c.class || pe.Code != c.code || !strings.Contains(err.Error(), c.contains) {
				t.Errorf("Send = %v (class %v, code %q), want class %v, code %q, containing %q", err, pe.Class, pe.Code, c.class, c.code, c.contains)
			}
			var re *ReplyError
			if !errors.As(err, &re) || re.Code != c.reply.Code {
				t.Errorf("errors.As(ReplyError) = %+v", re)
			}
			// The connection survives a clean refusal (except 421 and AUTH): the next message
			// goes through once the server stops refusing.
			s.SetFail(c.step, nil)
			if _, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "y"))); err != nil {
				t.Fatalf("Send after the refusal was lifted: %v", err)
			}
			if got := s.Wait(t, 1); !strings.Contains(string(got.Data), "\r\n\r\ny") {
				t.Errorf("the delivered message is not the second one:\n%s", got.Data)
			}
			if n := s.Conns(); n != c.conns {
				t.Errorf("%d connections, want %d", n, c.conns)
			}
		})
	}
}

func TestPartialRecipients(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	d := newDriver(t, s, "none", nil)
	s.SetFail("RCPT:bad@x.test", smtptest.Reply(550, smtp.EnhancedCode{5, 1, 1}, "No such user"))

	// some refused for good: the others get it, Send succeeds, Health tells
	if _, err := d.Send(context.Background(), delivery("j", "good@x.test, bad@x.test", nil, textFile("t", "x"))); err != nil {
		t.Fatalf("Send = %v, want success for the accepted recipient", err)
	}
	if got := s.Wait(t, 1); strings.Join(got.To, ",") != "good@x.test" {
		t.Errorf("RCPT = %v, want only good@x.test", got.To)
	}
	if f := d.Health().Facts.(Facts).LastRejected; !strings.Contains(f, "bad@x.test") {
		t.Errorf("Health last_rejected_recipients = %v", f)
	}

	// all refused for good: Perm naming them
	_, err := d.Send(context.Background(), delivery("j", "bad@x.test", nil, textFile("t", "x")))
	var rs *RecipientsError
	if provider.ClassOf(err) != provider.Permanent || !errors.As(err, &rs) || !strings.Contains(err.Error(), "<bad@x.test> rejected: 5.1.1 No such user") {
		t.Errorf("Send(all refused) = %v, want permanent naming bad@x.test", err)
	}

	// one refused temporarily: nothing is sent, Temp
	s.SetFail("RCPT:grey@x.test", smtptest.Reply(450, smtp.EnhancedCode{4, 2, 0}, "Greylisted"))
	_, err = d.Send(context.Background(), delivery("j", "good@x.test, grey@x.test", nil, textFile("t", "x")))
	if provider.ClassOf(err) != provider.Temporary || err == nil {
		t.Errorf("Send(one greylisted) = %v, want temporary", err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages delivered, want still 1", n)
	}
	if c := s.Count("RSET"); c < 1 {
		t.Errorf("no RSET after a refused transaction")
	}
	if c := s.Conns(); c != 1 {
		t.Errorf("%d connections, want 1: refusals keep the connection", c)
	}
}

func TestStalledServerTimesOut(t *testing.T) {
	for _, step := range []string{"MAIL", "DATA"} {
		t.Run(step, func(t *testing.T) {
			s := smtptest.New(t, smtptest.Options{})
			const timeout = 300 * time.Millisecond
			d := newDriver(t, s, "none", func(o *Options) { o.Timeout = timeout })
			s.SetStall(step)
			start := time.Now()
			_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
			el := time.Since(start)
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Class != provider.Temporary || pe.Code != "timeout" {
				t.Fatalf("Send to a stalled server = %v, want temporary timeout", err)
			}
			if el > 10*timeout {
				t.Errorf("Send took %v with Timeout %v", el, timeout)
			}
		})
	}
}

func TestContextCancelStopsSend(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	d := newDriver(t, s, "none", func(o *Options) { o.Timeout = time.Minute })
	s.SetStall("DATA")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-s.Stalled()
		cancel()
	}()
	_, err := d.Send(ctx, delivery("j", "a@x.test", nil, textFile("t", "x")))
	if !provider.IsContext(err) || provider.ClassOf(err) != provider.Temporary {
		t.Fatalf("Send after cancel = %v, want a temporary context.Canceled", err)
	}
}

func TestCertificateErrorIsSenderDown(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{StartTLS: true})
	d := newDriver(t, s, "starttls", func(o *Options) { o.TLSConfig = &tls.Config{} }) // system roots: the test CA is unknown
	_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Class != provider.Down || pe.Code != "tls-cert" {
		t.Fatalf("Send with an untrusted certificate = %v, want sender-down tls-cert", err)
	}
	if d.Health().OK {
		t.Errorf("Health OK after a certificate error")
	}

	s2 := smtptest.New(t, smtptest.Options{ImplicitTLS: true})
	d2 := newDriver(t, s2, "tls", func(o *Options) { o.TLSConfig = &tls.Config{RootCAs: s2.CertPool(), ServerName: "mail.example.com"} })
	_, err = d2.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	if !errors.As(err, &pe) || pe.Class != provider.Down || pe.Code != "tls-cert" {
		t.Fatalf("Send with a certificate for another name = %v, want sender-down tls-cert", err)
	}
}

func TestNoSTARTTLSIsSenderDown(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	d := newDriver(t, s, "starttls", nil)
	_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	if provider.ClassOf(err) != provider.Down || !errors.Is(err, ErrNoSTARTTLS) {
		t.Fatalf("Send = %v, want sender-down ErrNoSTARTTLS", err)
	}
}

func TestSendAfterClose(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	d := newDriver(t, s, "none", nil)
	if _, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x"))); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "QUIT to close the connection", func() bool { return s.Closed() == 1 })
	if _, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x"))); !errors.Is(err, ErrClosed) || provider.ClassOf(err) != provider.Temporary {
		t.Errorf("Send after Close = %v, want temporary ErrClosed", err)
	}
}

func TestCloseCutsSendInProgress(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	d := newDriver(t, s, "none", func(o *Options) { o.Timeout = time.Minute })
	s.SetStall("DATA")
	go func() {
		<-s.Stalled()
		d.Close()
	}()
	_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	if !provider.IsContext(err) {
		t.Fatalf("Send cut by Close = %v, want context.Canceled", err)
	}
}

func TestMessageLargerThanServerSIZE(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{MaxBytes: 1000})
	d := newDriver(t, s, "none", nil)
	_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", strings.Repeat("x", 2000))))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Class != provider.Permanent || pe.Code != "552" || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Send of a message over SIZE = %v, want permanent 552 ErrTooLarge", err)
	}
	if _, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "small"))); err != nil {
		t.Fatalf("Send of a small message after: %v", err)
	}
}

func TestNoAuthMechanismIsSenderDown(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{}) // offers no AUTH
	d := newDriver(t, s, "none", func(o *Options) { o.Username, o.Password = "u", "p" })
	_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	if provider.ClassOf(err) != provider.Down || !errors.Is(err, ErrNoAuthMech) {
		t.Fatalf("Send = %v, want sender-down ErrNoAuthMech", err)
	}
}

func TestImplicitTLSAgainstPlainPortIsSenderDown(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{}) // plain SMTP
	d := newDriver(t, s, "tls", nil)
	_, err := d.Send(context.Background(), delivery("j", "a@x.test", nil, textFile("t", "x")))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Class != provider.Down || pe.Code != "config" {
		t.Fatalf("Send with tls = \"tls\" to a plain port = %v, want sender-down config", err)
	}
}
