package mail

import (
	"context"
	"multimsg/provider/mail/smtptest"
	"testing"

	"multimsg/provider"
)

// BenchmarkBuild1MBAttachment: one text body and a 1 MiB attachment (allocs are the point:
// the message is built in one buffer grown once).
func BenchmarkBuild1MBAttachment(b *testing.B) {
	files := []provider.File{
		textFile("t", "Alarm on sensor 4.\nTemperature 81 °C.\n"),
		{Name: "f", Filename: "capture.bin", Type: "file", Data: randomBytes(b, 1<<20)},
	}
	h := testHeader("Alarme: température élevée")
	b.ReportAllocs()
	b.SetBytes(1 << 20)
	for b.Loop() {
		if _, err := build(h, files); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildText: the common case, a short text alert.
func BenchmarkBuildText(b *testing.B) {
	files := []provider.File{textFile("t", "Door 3 opened at 04:12.\n")}
	h := testHeader("door alarm")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := build(h, files); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMaildirDelivery: Send into a Maildir (build, write, fsync, link, fsync dir).
func BenchmarkMaildirDelivery(b *testing.B) {
	d, err := New(Options{From: "gw@box.test", Maildir: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	dl := delivery("job", "a@x.test", nil, textFile("t", "Door 3 opened at 04:12.\n"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Send(context.Background(), dl); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSMTPReused: Send over the pooled connection to the in-process server (loopback,
// no TLS): the per-message cost of NOOP, MAIL, RCPT, DATA.
func BenchmarkSMTPReused(b *testing.B) {
	s := smtptest.New(b, smtptest.Options{})
	d, err := New(Options{Host: "127.0.0.1", Port: s.Addr().Port, From: "gw@box.test", Hostname: "box.test"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	dl := delivery("job", "a@x.test", nil, textFile("t", "Door 3 opened at 04:12.\n"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Send(context.Background(), dl); err != nil {
			b.Fatal(err)
		}
		<-s.Received()
	}
}
