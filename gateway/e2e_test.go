package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"multimsg/internal/poll"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"multimsg/client"
	"multimsg/gateway/gatewaytest"
	"multimsg/internal/peertest"
	"multimsg/provider/mail/smtptest"
)

var bg = context.Background()

// relay starts a real SMTP server with STARTTLS and AUTH and returns it with the TOML of a
// mail sender that uses it.
func relay(t *testing.T) (*smtptest.Server, string) {
	t.Helper()
	s := smtptest.New(t, smtptest.Options{StartTLS: true, Users: map[string]string{"gw": "secret"}})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, s.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return s, fmt.Sprintf(`
[delivery]
retry_min = "20ms"
retry_max = "100ms"

[[mail.sender]]
name = "relay"
host = "127.0.0.1"
port = %d
tls = "starttls"
username = "gw"
password = "secret"
from = "gateway@box.test"
ca_file = %q
timeout = "5s"
`, s.Port(), ca)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// parsed is an e-mail as received, taken apart.
type parsed struct {
	hdr         mail.Header
	text        string
	attachments map[string][]byte
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("received message does not parse: %v", err)
	}
	p := parsed{hdr: m.Header, attachments: map[string][]byte{}}
	var walk func(ctype string, hdr map[string][]string, body io.Reader)
	walk = func(ctype string, hdr map[string][]string, body io.Reader) {
		mt, ps, _ := mime.ParseMediaType(ctype)
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, ps["boundary"])
			for {
				part, err := mr.NextRawPart()
				if err != nil {
					return
				}
				walk(part.Header.Get("Content-Type"), part.Header, decode(part.Header.Get("Content-Transfer-Encoding"), part))
			}
		}
		b, _ := io.ReadAll(body)
		disp := ""
		if v, ok := hdr["Content-Disposition"]; ok {
			disp = v[0]
		}
		if d, dps, err := mime.ParseMediaType(disp); err == nil && d == "attachment" {
			p.attachments[dps["filename"]] = b
			return
		}
		if mt == "text/plain" {
			p.text += string(b)
		}
	}
	walk(m.Header.Get("Content-Type"), map[string][]string(m.Header), decode(m.Header.Get("Content-Transfer-Encoding"), m.Body))
	return p
}

func decode(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(cte) {
	case "base64":
		return newBase64(r)
	case "quoted-printable":
		return newQP(r)
	}
	return r
}

// TestSeedFlowOverSMTP: /data → /msg → /cons until delivered, plain and encrypted, through a
// real SMTP server with STARTTLS and AUTH; the message has the right recipients, subject, body
// and byte-identical attachment.
func TestSeedFlowOverSMTP(t *testing.T) {
	srv, toml := relay(t)
	g := gatewaytest.Start(t, toml)
	for n, encrypt := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypt=%v", encrypt), func(t *testing.T) {
			pdf := randomBytes(200 << 10)
			files := []client.File{
				{Field: "body", Filename: "body.txt", ContentType: "text/plain", Data: []byte("Boiler 3: pressure high\n")},
				{Field: "report", Filename: "informe-ñ.pdf", ContentType: "application/pdf", Data: pdf},
			}
			id, err := g.Client.Upload(bg, files, encrypt)
			if err != nil {
				t.Fatal(err)
			}
			if st, _ := g.Client.Consult(bg, id); st != client.Preprocess {
				t.Fatalf("Consult after /data = %s, want preprocess", st)
			}
			err = g.Client.SetParams(bg, id, client.Params{Service: "mail", Dest: "ops@x.test, boss@x.test",
				Types: map[string]string{"body": "text", "report": "file"}, Info: map[string]any{"subject": "Alarma caldera ñ"}})
			if err != nil {
				t.Fatal(err)
			}
			if st := g.WaitState(t, id, 20*time.Second); st != client.Delivered {
				t.Fatalf("state = %s, want delivered", st)
			}
			m := srv.Wait(t, n+1)
			if got := strings.Join(m.To, ","); got != "ops@x.test,boss@x.test" {
				t.Errorf("RCPT TO = %s", got)
			}
			if !m.TLS && m.User != "gw" {
				t.Errorf("message came without STARTTLS (%v) or AUTH (%q)", m.TLS, m.User)
			}
			p := parse(t, m.Data)
			dec := new(mime.WordDecoder)
			subj, _ := dec.DecodeHeader(p.hdr.Get("Subject"))
			if subj != "Alarma caldera ñ" {
				t.Errorf("Subject = %q", subj)
			}
			if !strings.Contains(p.text, "Boiler 3: pressure high") {
				t.Errorf("body = %q", p.text)
			}
			if got := p.attachments["informe-ñ.pdf"]; !bytes.Equal(got, pdf) {
				t.Errorf("attachment: %d bytes, identical=%v; attachments %v", len(got), bytes.Equal(got, pdf), keys(p.attachments))
			}
			if p.hdr.Get("X-Multimsg-Job") != id {
				t.Errorf("X-Multimsg-Job = %q, want %s", p.hdr.Get("X-Multimsg-Job"), id)
			}
		})
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestSendOneShot: POST /send with the type inferred, through SMTP.
func TestSendOneShot(t *testing.T) {
	srv, toml := relay(t)
	g := gatewaytest.Start(t, toml)
	id, err := g.Client.Send(bg, []client.File{{Field: "alert", Filename: "alert.txt", ContentType: "text/plain", Data: []byte("door open")}},
		client.Params{Service: "mail", Dest: "a@x.test"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if st := g.WaitState(t, id, 20*time.Second); st != client.Delivered {
		t.Fatalf("state = %s, want delivered", st)
	}
	p := parse(t, srv.Wait(t, 1).Data)
	if !strings.Contains(p.text, "door open") || !strings.Contains(p.hdr.Get("Subject"), "local") {
		t.Errorf("text %q, subject %q (want the default naming the device)", p.text, p.hdr.Get("Subject"))
	}
}

// TestIndependentClient: files sealed by Python's cryptography (not our code), uploaded as
// multipart by curl-like raw HTTP, delivered intact.
func TestIndependentClient(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		peertest.Missing(t, py, "Debian's python3 with python3-cryptography")
	}
	if err := exec.Command(py, "-c", "import cryptography").Run(); err != nil {
		peertest.Missing(t, "python3-cryptography", "apt-get install python3-cryptography")
	}
	srv, toml := relay(t)
	g := gatewaytest.Start(t, toml)
	dir := t.TempDir()
	pub := filepath.Join(dir, "box.pem")
	os.WriteFile(pub, g.Key.PublicPEM(), 0o600)
	plain := randomBytes(50 << 10)
	os.WriteFile(filepath.Join(dir, "photo.bin"), plain, 0o600)
	out := filepath.Join(dir, "sealed")
	os.Mkdir(out, 0o700)
	if b, err := exec.Command(py, "../envelope/testdata/seal.py", pub, out, filepath.Join(dir, "photo.bin")).CombinedOutput(); err != nil {
		t.Fatalf("seal.py: %v\n%s", err, b)
	}
	key, _ := os.ReadFile(filepath.Join(out, "key"))
	sealed, _ := os.ReadFile(filepath.Join(out, "photo.bin"))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("photo", "photo.bin")
	w.Write(sealed)
	w, _ = mw.CreateFormFile("key", "key")
	w.Write(key)
	for k, v := range map[string]string{"serv": "mail", "dest": "a@x.test", "type": `{"photo":"file"}`} {
		mw.WriteField(k, v)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/send", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	code, id := gatewaytest.Do(t, req)
	if code != 200 {
		t.Fatalf("/send = %d %s", code, id)
	}
	if st := g.WaitState(t, id, 20*time.Second); st != client.Delivered {
		t.Fatalf("state = %s", st)
	}
	if got := parse(t, srv.Wait(t, 1).Data).attachments["photo.bin"]; !bytes.Equal(got, plain) {
		t.Fatalf("attachment not identical to the plaintext (%d vs %d bytes)", len(got), len(plain))
	}
}

// TestRelayDownThenUp: the relay refuses connections; the job retries, and is delivered once
// the relay is back. Then a restart resumes a queued job.
func TestRelayDownThenUp(t *testing.T) {
	srv, toml := relay(t)
	srv.Down()
	g := gatewaytest.Start(t, toml)
	id, err := g.Client.Send(bg, []client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte("x")}},
		client.Params{Service: "mail", Dest: "a@x.test"}, false)
	if err != nil {
		t.Fatal(err)
	}
	waitAttempts(t, g, id, 2)
	srv.Up(t)
	if st := g.WaitState(t, id, 20*time.Second); st != client.Delivered {
		t.Fatalf("state = %s, want delivered after the relay came back", st)
	}

	// a queued job survives a restart and is delivered by the new process
	srv.Down()
	id2, _ := g.Client.Send(bg, []client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte("after restart")}},
		client.Params{Service: "mail", Dest: "a@x.test"}, false)
	waitAttempts(t, g, id2, 1)
	g.Stop(t)
	srv.Up(t)
	g2 := gatewaytest.StartIn(t, g.DataDir, toml)
	if st := g2.WaitState(t, id2, 20*time.Second); st != client.Delivered {
		t.Fatalf("after restart: state = %s, want delivered", st)
	}
}

func waitAttempts(t *testing.T, g *gatewaytest.Gateway, id string, n int) {
	t.Helper()
	poll.Until(t, 20*time.Second, fmt.Sprintf("job %s to have %d attempts", id, n), func() bool {
		j, err := g.Store.Get(id)
		return err == nil && j.Files[0].Attempts >= n
	})
}

// TestPermanentAndTTL: a 5xx fails the job with the relay's reason; a relay that stays down
// past the TTL fails it as out of time.
func TestPermanentAndTTL(t *testing.T) {
	srv, toml := relay(t)
	g := gatewaytest.Start(t, strings.Replace(toml, "[delivery]", "[delivery]\nttl = \"1s\"", 1))
	srv.SetFail("RCPT", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"})
	id, _ := g.Client.Send(bg, []client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte("x")}},
		client.Params{Service: "mail", Dest: "nobody@x.test"}, false)
	if st := g.WaitJob(t, id, 20*time.Second); st != "failed" {
		t.Fatalf("state = %s, want failed", st)
	}
	code, body := g.Post(t, "/cons", url.Values{"id": {id}}, "application/json")
	var v struct {
		State string
		Files []struct{ Error string }
	}
	json.Unmarshal([]byte(body), &v)
	if code != 200 || v.State != "failed" || !strings.Contains(v.Files[0].Error, "No such user here") || !strings.Contains(v.Files[0].Error, "550") {
		t.Fatalf("/cons = %d %s, want failed with the relay's reason", code, body)
	}

	// a relay that is down for longer than the TTL (a fresh one: the first keeps a pooled
	// connection open, which going down would not cut)
	srv2, toml2 := relay(t)
	srv2.Down()
	g = gatewaytest.Start(t, strings.Replace(toml2, "[delivery]", "[delivery]\nttl = \"1s\"", 1))
	id, _ = g.Client.Send(bg, []client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte("x")}},
		client.Params{Service: "mail", Dest: "a@x.test"}, false)
	if st := g.WaitJob(t, id, 20*time.Second); st != "failed" {
		t.Fatalf("state = %s, want failed after the TTL", st)
	}
	j, _ := g.Store.Get(id)
	if !strings.Contains(j.Files[0].LastError, "time to live") || j.Files[0].Attempts < 2 {
		t.Fatalf("expired file: %d attempts, error %q", j.Files[0].Attempts, j.Files[0].LastError)
	}
}
