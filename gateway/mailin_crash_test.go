package gateway_test

import (
	"fmt"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"multimsg/internal/poll"
)

// TestMailCrashSafety is issue 15's "durable before 250" under a real crash: the binary takes
// mails over SMTP from several connections, is SIGKILLed right after a 250, and after the
// restart every mail that was answered 250 is delivered (at least once), and the store is
// consistent.
func TestMailCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	const (
		clients = 8
		mails   = 600
		killAt  = 150 // 250s answered before the SIGKILL
	)
	bin := buildServer(t)
	dir := t.TempDir()
	cfg := serverConfig(t, dir, "")
	// [smtp_in] after the mail sender's table: append it to the file
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[smtp_in]\nlisten = \"127.0.0.1:0\"\nrate = 0.0\n")
	f.Close()
	outbox := filepath.Join(dir, "outbox")
	srv := startServer(t, bin, cfg)
	addr := smtpAddr(t, srv)

	var (
		mu       sync.Mutex
		answered []string // the unique texts of mails answered 250
		killed   = make(chan struct{})
		killing  atomic.Bool // set before the kill, so that the requests it cuts are not errors
		once     sync.Once
		next     atomic.Int64
		cut      atomic.Int64
	)
	kill := func() {
		once.Do(func() {
			killing.Store(true)
			srv.kill()
			close(killed)
		})
	}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > mails {
					return
				}
				select {
				case <-killed:
					return
				default:
				}
				text := fmt.Sprintf("mail crash test %d-%d", n, time.Now().UnixNano())
				msg := "From: ups@lan\r\nTo: ops@example.com\r\nSubject: alert\r\n\r\n" + text + "\r\n"
				if err := smtp.SendMail(addr, nil, "ups@lan", []string{"ops@example.com"}, []byte(msg)); err != nil {
					if killing.Load() {
						cut.Add(1) // the kill cut it: no 250, no promise
					} else {
						t.Errorf("SendMail before the kill: %v", err)
					}
					continue
				}
				mu.Lock()
				answered = append(answered, text)
				got := len(answered)
				mu.Unlock()
				if got == killAt {
					kill()
				}
			}
		}()
	}
	wg.Wait()
	kill()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d mails answered 250 (%d cut by the kill) before SIGKILL", len(answered), cut.Load())
	checkStore(t, filepath.Join(dir, "data", "multimsg.db"))

	srv = startServer(t, bin, cfg)
	missing := 0
	if !poll.Wait(45*time.Second, func() bool {
		_, bodies, err := maildirJobs(outbox)
		if err != nil {
			t.Fatal(err)
		}
		var all strings.Builder
		for _, b := range bodies {
			all.WriteString(b)
			all.WriteByte('\n')
		}
		s := all.String()
		missing = 0
		for _, text := range answered {
			if !strings.Contains(s, text) {
				missing++
			}
		}
		return missing == 0
	}) {
		t.Fatalf("%d of %d mails answered 250 not delivered 45s after the restart:\n%s", missing, len(answered), srv.stderr())
	}
	srv.stop(t)
	checkStore(t, filepath.Join(dir, "data", "multimsg.db"))
}

// smtpAddr waits for the server's log line naming its SMTP listener.
func smtpAddr(t *testing.T, srv *server) string {
	t.Helper()
	var addr string
	poll.Until(t, 10*time.Second, "the smtp_in listening line", func() bool {
		log := srv.stderr()
		i := strings.Index(log, " smtp=")
		if i < 0 {
			return false
		}
		addr, _, _ = strings.Cut(log[i+len(" smtp="):], "\n")
		addr, _, _ = strings.Cut(addr, " ")
		return true
	})
	return addr
}
