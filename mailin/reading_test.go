package mailin_test

import (
	"errors"
	"net/smtp"
	"net/textproto"
	"testing"
	"time"

	"multimsg/mailin"
)

// Messages are read into memory a bounded number at a time, box-wide: a mail that cannot get
// its turn within ReadingWait is answered 421 (the device sends it again), while the one being
// read is unaffected.
func TestReadingIsBounded(t *testing.T) {
	addr := benchServer(t, func(o *mailin.Options) { o.MaxReading, o.ReadingWait = 1, 300*time.Millisecond })
	open := func() (*smtp.Client, interface {
		Write([]byte) (int, error)
		Close() error
	}) {
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Mail("ups@lan"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("ops@example.com"); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		return c, w
	}
	_, slow := open()
	if _, err := slow.Write([]byte("Subject: on battery\r\n\r\nfirst half")); err != nil {
		t.Fatal(err)
	}
	// The slow mail holds the only turn once the server is reading it; the second one waits
	// and is sent away. Retry until the slow one holds the turn (no sleep: each try takes
	// ReadingWait and the first try normally already sees it).
	var code int
	for try := 0; try < 10 && code != 421; try++ {
		_, fast := open()
		fast.Write([]byte("Subject: mains back\r\n\r\nok"))
		err := fast.Close()
		var te *textproto.Error
		if errors.As(err, &te) {
			code = te.Code
		} else {
			code = 250
		}
	}
	if code != 421 {
		t.Fatalf("second mail while the only reading turn is held: %d, want 421", code)
	}
	if _, err := slow.Write([]byte(", second half")); err != nil {
		t.Fatal(err)
	}
	if err := slow.Close(); err != nil {
		t.Fatalf("the mail holding the turn: %v, want 250", err)
	}
}
