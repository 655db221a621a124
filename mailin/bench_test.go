package mailin_test

import (
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"path/filepath"
	"strings"
	"testing"

	"multimsg/mailin"
	"multimsg/provider"
	"multimsg/provider/mail"
	"multimsg/store"
)

// benchServer is a mailin.Server on loopback over a real store (fsync'd group commits) and a
// registry with a Maildir mail sender; nothing dispatches, so the figures are the accepting
// side alone: a mail read, parsed, planned and committed before its 250.
func benchServer(b testing.TB, tune ...func(*mailin.Options)) string {
	b.Helper()
	dir := b.TempDir()
	st, err := store.Open(filepath.Join(dir, "bench.db"), store.Options{Quota: 8 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	md, err := mail.New(mail.Options{Name: "m", Maildir: filepath.Join(dir, "outbox"), From: "gw@localhost"}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	reg, err := provider.NewRegistry(mail.Service([]provider.Sender{{Name: "m", Driver: md}}, nil, 0))
	if err != nil {
		b.Fatal(err)
	}
	o := mailin.Options{Store: st, Registry: reg, Relay: true, MaxConns: 256, MaxConnsPerIP: 256}
	for _, f := range tune {
		f(&o)
	}
	srv, err := mailin.New(o)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// benchMail is an alert mail of about size bytes: a text body, and above 4 KiB a base64
// attachment (a camera's snapshot).
func benchMail(size int) []byte {
	var sb strings.Builder
	sb.WriteString("From: cam@lan\r\nTo: ops@example.com\r\nSubject: Motion detected\r\nMIME-Version: 1.0\r\n")
	if size <= 4<<10 {
		sb.WriteString("\r\nMotion on channel 3.\r\n")
		for sb.Len() < size {
			sb.WriteString("padding padding padding padding padding padding padding padding\r\n")
		}
		return []byte(sb.String())
	}
	sb.WriteString("Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nMotion on channel 3.\r\n")
	sb.WriteString("--B\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=snap.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for sb.Len() < size {
		sb.WriteString("/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/\r\n")
	}
	sb.WriteString("--B--\r\n")
	return []byte(sb.String())
}

func send(b *testing.B, c *smtp.Client, msg []byte) {
	if err := c.Mail("cam@lan"); err != nil {
		b.Fatal(err)
	}
	if err := c.Rcpt("ops@example.com"); err != nil {
		b.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		b.Fatal(err)
	}
	w.Write(msg)
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAccept: mails accepted durably (250 after the commit) per second, over one
// connection and over several at once (the store's group commit shares an fsync between
// them). B/op is the server's and the client's allocation per mail: the memory a mail in
// flight costs is about its raw size once, plus its decoded parts.
func BenchmarkAccept(b *testing.B) {
	for _, size := range []int{1 << 10, 256 << 10} {
		for _, conns := range []int{1, 8} {
			b.Run(fmt.Sprintf("size=%dKiB/conns=%d", size>>10, conns), func(b *testing.B) {
				addr := benchServer(b)
				msg := benchMail(size)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				b.ResetTimer()
				if conns == 1 {
					c, err := smtp.Dial(addr)
					if err != nil {
						b.Fatal(err)
					}
					defer c.Close()
					for i := 0; i < b.N; i++ {
						send(b, c, msg)
					}
				} else {
					b.SetParallelism((conns + 1) / 2) // RunParallel runs GOMAXPROCS × this
					b.RunParallel(func(pb *testing.PB) {
						c, err := smtp.Dial(addr)
						if err != nil {
							b.Error(err)
							return
						}
						defer c.Close()
						for pb.Next() {
							send(b, c, msg)
						}
					})
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
			})
		}
	}
}
