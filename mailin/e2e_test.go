package mailin_test

// End-to-end tests: the whole gateway (gatewaytest: the wiring of `multimsg serve`) with its
// SMTP listener on a loopback port, real peers behind it (the Cloud API stand-in, the scripted
// modem, an SMTP relay), and SMTP clients that are not ours: Python's smtplib, swaks, curl.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"multimsg/gateway/gatewaytest"
	"multimsg/internal/peertest"
	"multimsg/modem/modemsim"
	"multimsg/provider/mail/smtptest"
	"multimsg/provider/whatsapp/cloudapitest"
)

var acct = cloudapitest.Account{PhoneNumberID: "106540352242922", Token: "EAAG-token-mailin"}

type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) { w.t.Log(strings.TrimSpace(string(p))); return len(p), nil }

// box is a gateway with every service on a real peer and smtp_in on.
type box struct {
	gw    *gatewaytest.Gateway
	api   *cloudapitest.Server
	sim   *modemsim.Sim
	relay *smtptest.Server
	addr  string // the SMTP listener, host:port
}

// startBox runs the peers and the gateway; smtpIn is added to the [smtp_in] table.
func startBox(t *testing.T, smtpIn string) *box {
	t.Helper()
	b := &box{}
	b.api = cloudapitest.Start(t, cloudapitest.Options{Accounts: []cloudapitest.Account{acct}})
	b.sim = modemsim.New(modemsim.Profile{}, slog.New(slog.NewTextHandler(tlog{t}, nil)))
	if err := b.sim.Start(t.TempDir()); err != nil {
		peertest.Missing(t, "pty", "the scripted modem: "+err.Error())
	}
	t.Cleanup(func() { b.sim.Close() })
	b.relay = smtptest.New(t, smtptest.Options{})
	b.gw = gatewaytest.Start(t, fmt.Sprintf(`
[delivery]
retry_min = "50ms"
retry_max = "200ms"
send_timeout = "10s"

[wpp1]
fallback = []

[[wpp1.sender]]
name = "wa"
api_url = %q
phone_number_id = %q
token = %q
per_recipient_gap = "-1s"

[[sms.sender]]
name = "modem1"
device = %q
timeout = "2s"

[[mail.sender]]
name = "relay"
host = "127.0.0.1"
port = %d
from = "gateway@box.test"
timeout = "5s"

[smtp_in]
listen = "127.0.0.1:0"
max_size = "4MiB"
%s
`, b.api.URL(), acct.PhoneNumberID, acct.Token, b.sim.Path(), b.relay.Port(), smtpIn))
	b.addr = b.gw.MailAddr().String()
	return b
}

const aliases = `
[smtp_in.aliases]
"oncall@box" = ["sms:15551234567", "mail:ops@example.com"]
`

func python(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		peertest.Missing(t, "/usr/bin/python3", "Python's smtplib as an SMTP client not ours")
	}
	return "/usr/bin/python3"
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// jpeg is a small JPEG-looking file (SOI … EOI): the stand-in stores media as uploaded.
func jpeg(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	b[0], b[1], b[2], b[3] = 0xff, 0xd8, 0xff, 0xe0
	b[n-2], b[n-1] = 0xff, 0xd9
	return b
}

// A camera's motion alert with a snapshot, sent by Python's smtplib to a number @wpp1,
// arrives at the Cloud API stand-in as a text and an image with the snapshot's bytes.
func TestCameraMailToWhatsAppAsTextAndImage(t *testing.T) {
	py := python(t)
	b := startBox(t, "")
	img := jpeg(30 << 10)
	dir := t.TempDir()
	imgPath := filepath.Join(dir, "snap.jpg")
	if err := os.WriteFile(imgPath, img, 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(b.addr)
	script := `
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "camera-3@nvr.lan"
m["To"] = "15551234567@wpp1"
m["Subject"] = "Motion detected: Gate"
m.set_content("Motion on channel 3 (Gate) at 03:12:44.")
m.add_attachment(open(sys.argv[3], "rb").read(), maintype="image", subtype="jpeg", filename="snap.jpg")
with smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=30) as s:
    s.send_message(m)
print("sent")
`
	run(t, py, "-c", script, host, port, imgPath)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msgs, err := b.api.WaitMessages(ctx, 2)
	if err != nil {
		t.Fatalf("Cloud API got %d messages, want 2: %v", len(msgs), err)
	}
	var text, image *cloudapitest.Message
	for i := range msgs {
		switch msgs[i].Type {
		case "text":
			text = &msgs[i]
		case "image":
			image = &msgs[i]
		}
	}
	if text == nil || image == nil {
		t.Fatalf("messages = %+v, want a text and an image", msgs)
	}
	if text.To != "15551234567" || !strings.Contains(text.Text, "Motion detected: Gate") || !strings.Contains(text.Text, "channel 3") {
		t.Errorf("text = to %s %q, want the subject and the body to 15551234567", text.To, text.Text)
	}
	if image.Media == nil || !bytes.Equal(image.Media.Data, img) {
		t.Errorf("image media differs from the snapshot (%v)", image.Media != nil)
	}
	// the job is an ordinary job, marked as arrived by mail, owned by the sender ("local")
	recent, err := b.gw.Store.Recent(5)
	if err != nil || len(recent) != 1 {
		t.Fatalf("Recent = %d jobs, %v", len(recent), err)
	}
	if j := recent[0]; j.Via != "mail" || j.Device != "local" || j.Service != "wpp1" {
		t.Errorf("job via %q device %q service %q, want mail, local, wpp1", j.Via, j.Device, j.Service)
	}
	// the admin sees it marked, and /metrics counts it under route "smtp"
	admin := adminClient(t, b.gw)
	status := adminGet(t, admin, b.gw.URL+"/admin/api/status")
	if !strings.Contains(status, `"via":"mail"`) {
		t.Errorf("/admin/api/status does not mark the job as arrived by mail:\n%.2000s", status)
	}
	if page := adminGet(t, admin, b.gw.URL+"/admin"); !strings.Contains(page, `<span class="via"`) {
		t.Errorf("/admin does not mark the job as arrived by mail")
	}
	metrics := adminGet(t, admin, b.gw.URL+"/metrics")
	if !strings.Contains(metrics, `multimsg_jobs_accepted_total{route="smtp",service="wpp1",sender="wa"} 1`) {
		t.Errorf("/metrics has no smtp route for the job:\n%s", grep(metrics, "accepted"))
	}
}

// adminClient logs in to the admin page and returns a client that carries the session.
func adminClient(t *testing.T, g *gatewaytest.Gateway) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(g.URL+"/admin/login", url.Values{"password": {gatewaytest.AdminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin login: %d", resp.StatusCode)
	}
	return c
}

func adminGet(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A UPS's plain alert to an alias, sent by swaks, reaches the scripted modem as an SMS and the
// relay as a mail.
func TestUPSMailToAliasReachesModemAndRelay(t *testing.T) {
	swaks := peertest.Binary(t, "swaks")
	b := startBox(t, aliases)
	host, port, _ := net.SplitHostPort(b.addr)
	run(t, swaks, "--server", host, "--port", port, "--from", "ups@rack.lan", "--to", "oncall@box",
		"--header", "Subject: UPS on battery", "--body", "Input power lost. Runtime 42 min.", "--helo", "ups")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sms, err := b.sim.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatalf("modem: %v", err)
	}
	if sms[0].Dest != "15551234567" || !strings.Contains(sms[0].Text, "UPS on battery") || !strings.Contains(sms[0].Text, "Runtime 42 min") {
		t.Errorf("SMS = %+v", sms[0])
	}
	m := b.relay.Wait(t, 1)
	if len(m.To) != 1 || m.To[0] != "ops@example.com" {
		t.Errorf("relay RCPT = %v, want ops@example.com", m.To)
	}
	pm, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	if s := pm.Header.Get("Subject"); s != "UPS on battery" {
		t.Errorf("relayed subject = %q", s)
	}
	if !bytes.Contains(m.Data, []byte("Runtime 42 min")) {
		t.Errorf("relayed mail lacks the body:\n%s", m.Data)
	}
}

// A 2 MB mail to a number @sms, sent by curl, gives one SMS of the configured length.
func TestLargeMailToSMSIsCutToConfiguredLength(t *testing.T) {
	curl := peertest.Binary(t, "curl")
	b := startBox(t, "[smtp_in.text.sms]\nmax_chars = 300\n")
	var msg bytes.Buffer
	msg.WriteString("From: nas@lan\r\nTo: 15557654321@sms\r\nSubject: RAID degraded\r\n\r\n")
	line := strings.Repeat("disk 3 reports SMART errors; ", 3) + "\r\n"
	for msg.Len() < 2<<20 {
		msg.WriteString(line)
	}
	f := filepath.Join(t.TempDir(), "mail.eml")
	if err := os.WriteFile(f, msg.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, curl, "-sS", "--max-time", "60", "smtp://"+b.addr, "--mail-from", "nas@lan", "--mail-rcpt", "15557654321@sms", "--upload-file", f)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sms, err := b.sim.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatalf("modem: %v", err)
	}
	if n := len([]rune(sms[0].Text)); n != 300 || !strings.HasPrefix(sms[0].Text, "RAID degraded\n\ndisk 3") || !strings.HasSuffix(sms[0].Text, "...") {
		t.Errorf("SMS is %d characters (%q…), want 300 starting with the subject and ending with ...", n, sms[0].Text[:min(40, len(sms[0].Text))])
	}
}

// smtpCode is the reply code of an error from net/smtp.
func smtpCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// A recipient that names nothing the box delivers to is refused at RCPT with 550 and the
// reason; so is a bad number; the session goes on and a good recipient is still taken.
func TestBadRecipientIs550AtRcpt(t *testing.T) {
	b := startBox(t, aliases)
	c, err := smtp.Dial(b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("cam@lan"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ rcpt, says string }{
		{"nobody@box", "no alias"},
		{"12@sms", "8 to 15 digits"},
		{"+1555123@wpp1", "digits only"},
	} {
		err := c.Rcpt(tc.rcpt)
		if smtpCode(err) != 550 || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("RCPT %s: %v, want 550 saying %q", tc.rcpt, err, tc.says)
		}
	}
	if err := c.Rcpt("oncall@box"); err != nil {
		t.Errorf("RCPT oncall@box after refusals: %v", err)
	}
	// python's smtplib sees the same refusal (SMTPRecipientsRefused)
	py := python(t)
	host, port, _ := net.SplitHostPort(b.addr)
	out := run(t, py, "-c", `
import smtplib, sys
try:
    with smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=30) as s:
        s.sendmail("cam@lan", ["unknown@box"], "Subject: x\r\n\r\nx")
except smtplib.SMTPRecipientsRefused as e:
    code, msg = e.recipients["unknown@box"]
    print(code, msg.decode())
`, host, port)
	if !strings.HasPrefix(out, "550 ") {
		t.Errorf("smtplib: %s, want 550", out)
	}
}

// A message over max_size is 552, and nothing is stored.
func TestOversizeIs552(t *testing.T) {
	b := startBox(t, "")
	c, err := smtp.Dial(b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("cam@lan"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("15551234567@sms"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: big\r\n\r\n")
	chunk := []byte(strings.Repeat("x", 998) + "\r\n")
	for n := 0; n < 5<<20; n += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			break
		}
	}
	err = w.Close()
	if smtpCode(err) != 552 {
		t.Errorf("DATA of 5 MiB with max_size 4MiB: %v, want 552", err)
	}
	if counts, _ := b.gw.Store.Counts(); counts["queued"] != 0 {
		t.Errorf("store has %d queued jobs after a refused mail", counts["queued"])
	}
}

// A device sending faster than rate after its burst is told 421 at MAIL and may retry later.
func TestFloodFromOneDeviceIsPaced(t *testing.T) {
	b := startBox(t, "rate = 0.001\nburst = 3\n")
	c, err := smtp.Dial(b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var codes []int
	for i := 0; i < 5; i++ {
		err := c.Mail("cam@lan")
		codes = append(codes, smtpCode(err))
		if err == nil {
			if err := c.Rcpt("15551234567@sms"); err != nil {
				t.Fatal(err)
			}
			w, _ := c.Data()
			fmt.Fprintf(w, "Subject: alert %d\r\n\r\nbody\r\n", i)
			if err := w.Close(); err != nil {
				t.Fatalf("DATA %d: %v", i, err)
			}
		} else {
			c.Reset()
		}
	}
	if fmt.Sprint(codes) != "[0 0 0 421 421]" {
		t.Errorf("MAIL codes = %v, want three accepted then 421", codes)
	}
}

// With AUTH required, mail needs a login; a wrong password is 535; STARTTLS is offered with
// the certificate the box made on first start, and LOGIN (the mechanism many cameras know)
// works over it.
func TestAuthAndStartTLS(t *testing.T) {
	swaks := peertest.Binary(t, "swaks")
	// bcrypt("cam-secret") at cost 4
	hash := bcryptHash(t, "cam-secret")
	b := startBox(t, fmt.Sprintf("starttls = true\nauth = \"required\"\n[[smtp_in.user]]\nname = \"cam1\"\npassword_hash = %q\n", hash))
	if _, err := os.Stat(filepath.Join(b.gw.DataDir, "smtp_in.crt")); err != nil {
		t.Fatalf("no certificate made on first start: %v", err)
	}
	host, port, _ := net.SplitHostPort(b.addr)
	// no login: refused at MAIL
	c, err := smtp.Dial(b.addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("cam@lan"); err == nil || smtpCode(err) != 530 {
		t.Errorf("MAIL without AUTH: %v, want 530 (RFC 4954)", err)
	}
	c.Close()
	// wrong password
	cmd := exec.Command(swaks, "--server", host, "--port", port, "--to", "15551234567@sms", "--tls", "--auth", "LOGIN",
		"--auth-user", "cam1", "--auth-password", "wrong", "--body", "x")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "535") {
		t.Errorf("wrong password: swaks said\n%s\nwant 535", out)
	}
	run(t, swaks, "--server", host, "--port", port, "--to", "15551234567@sms", "--tls", "--auth", "LOGIN",
		"--auth-user", "cam1", "--auth-password", "cam-secret", "--header", "Subject: door open", "--body", "x")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if sms, err := b.sim.WaitMessages(ctx, 1); err != nil || !strings.Contains(sms[0].Text, "door open") {
		t.Fatalf("SMS after an authenticated mail: %v %v", sms, err)
	}
}

// HTML-only mail is sent as text; quoted-printable and base64 bodies are decoded.
func TestHTMLOnlyMailBecomesText(t *testing.T) {
	b := startBox(t, "")
	raw := "From: nvr@lan\r\nTo: 15551234567@sms\r\nSubject: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("Caméra 2")) + "?=\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"<html><head><style>p{color:red}</style></head><body><p>Video loss on <b>channel&nbsp;2</b>.</p><p>=C3=80 v=C3=A9rifier</p></body></html>\r\n"
	if err := smtp.SendMail(b.addr, nil, "nvr@lan", []string{"15551234567@sms"}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sms, err := b.sim.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := "Caméra 2\n\nVideo loss on channel 2.\n\nÀ vérifier"
	if sms[0].Text != want {
		t.Errorf("SMS = %q, want %q", sms[0].Text, want)
	}
}

// An SMS cannot carry the camera's snapshot: it is dropped, and the SMS says so.
func TestAttachmentToSMSIsDroppedWithANote(t *testing.T) {
	b := startBox(t, "[smtp_in.text.sms]\ncontent = \"subject\"\n")
	raw := "From: cam@lan\r\nTo: 15551234567@sms\r\nSubject: Motion: gate\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nlong body the rule leaves out\r\n" +
		"--B\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=snap.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(jpeg(2048)) + "\r\n--B--\r\n"
	if err := smtp.SendMail(b.addr, nil, "cam@lan", []string{"15551234567@sms"}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sms, err := b.sim.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Motion: gate\n[1 attachment(s) not sent by sms: snap.jpg]"; sms[0].Text != want {
		t.Errorf("SMS = %q, want %q", sms[0].Text, want)
	}
}

// A mail the store cannot take (over its quota) is a 4xx: the device keeps it and retries;
// nothing is queued.
func TestStoreFullIs452(t *testing.T) {
	b := startBox(t, "\n[store]\nquota = \"1MiB\"\n")
	msg := "From: nas@lan\r\nTo: ops@example.com\r\nSubject: log\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=log.bin\r\n\r\n" +
		strings.Repeat(strings.Repeat("z", 998)+"\r\n", 1500) // 1.5 MB: over the quota, under max_size
	err := smtp.SendMail(b.addr, nil, "nas@lan", []string{"ops@example.com"}, []byte(msg))
	if smtpCode(err) != 452 {
		t.Fatalf("mail over the store's quota: %v, want 452", err)
	}
	if counts, _ := b.gw.Store.Counts(); counts["queued"] != 0 {
		t.Errorf("store has %d queued jobs after a refused mail", counts["queued"])
	}
}

// A line longer than the listener takes is a permanent refusal (sending it again would not
// help), and nothing is queued; unwrapped base64 of a few KiB is taken.
func TestOverlongLineIsRefusedForGood(t *testing.T) {
	b := startBox(t, "")
	long := "From: cam@lan\r\nTo: 15551234567@wpp1\r\nSubject: x\r\n\r\n" + strings.Repeat("y", 70<<10) + "\r\n"
	err := smtp.SendMail(b.addr, nil, "cam@lan", []string{"15551234567@wpp1"}, []byte(long))
	if c := smtpCode(err); c/100 != 5 {
		t.Errorf("a 70 KiB line: %v, want a 5xx", err)
	}
	ok := "From: cam@lan\r\nTo: 15551234567@wpp1\r\nSubject: x\r\n\r\n" + strings.Repeat("y", 8<<10) + "\r\n"
	if err := smtp.SendMail(b.addr, nil, "cam@lan", []string{"15551234567@wpp1"}, []byte(ok)); err != nil {
		t.Errorf("an 8 KiB line: %v", err)
	}
	if counts, _ := b.gw.Store.Counts(); counts["queued"]+counts["delivered"] != 1 {
		t.Errorf("jobs = %v, want the one good mail", counts)
	}
}
