package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"multimsg/gateway/gatewaytest"
	"multimsg/internal/poll"
	"multimsg/modem/modemsim"
	"multimsg/provider/mail/smtptest"
)

// TestSMSCommands: commanding the box by SMS through the scripted modem on a pty. A `status`
// from an allowed number with the key gets one reply SMS; the same from another number, or
// with a wrong key, gets none; no command is forwarded as an ordinary message (a catch-all rule
// would have mailed it); every command SMS is deleted from the SIM once handled; and a restart
// answers nothing twice.
func TestSMSCommands(t *testing.T) {
	sim := modemsim.New(modemsim.Profile{}, slog.New(slog.DiscardHandler))
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	relay := smtptest.New(t, smtptest.Options{})
	conf := fmt.Sprintf(`
[delivery]
retry_min = "20ms"
retry_max = "100ms"
[[mail.sender]]
name = "relay"
host = "127.0.0.1"
port = %d
timeout = "5s"
[[sms.inbound]]
name = "everything"
forward = "mail"
to = "ops@example.com"
[sms.commands]
allow = ["+34 600 111 222"]
key = "s3cretKey"
[[sms.sender]]
name = "modem1"
device = %q
timeout = "2s"
`, relay.Port(), sim.Path())
	dir := t.TempDir()
	g := gatewaytest.StartIn(t, dir, conf)
	receive := func(from, text string) {
		t.Helper()
		pdus, err := modemsim.DeliverPDUs(modemsim.Incoming{From: from, Text: text})
		if err != nil {
			t.Fatal(err)
		}
		sim.Receive(pdus...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sim.WaitStored(ctx, 0); err != nil {
			t.Fatalf("%q is still on the SIM: %v", text, err)
		}
	}
	receive("+34999000111", "s3cretKey status") // a number not allowed
	receive("+34600111222", "guess123 status")  // a wrong key
	receive("+34600111222", "s3cretKey status")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := sim.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatalf("no reply SMS: %v", err)
	}
	if msgs[0].Dest != "34600111222" || !strings.HasPrefix(msgs[0].Text, "queue ") || len([]rune(msgs[0].Text)) > 160 {
		t.Errorf("reply = %+v, want the status to 34600111222 in one SMS", msgs[0])
	}
	t.Logf("status reply: %q", msgs[0].Text)
	req, _ := http.NewRequest("GET", g.URL+"/metrics", nil)
	req.SetBasicAuth("admin", gatewaytest.AdminPassword)
	if _, m := gatewaytest.Do(t, req); !strings.Contains(m, `multimsg_sms_commands_total{outcome="refused"} 2`+"\n") ||
		!strings.Contains(m, `multimsg_sms_commands_total{outcome="done"} 1`+"\n") {
		t.Errorf("/metrics does not count the commands (2 refused, 1 answered):\n%s", m)
	}
	receive("+34600111222", "hello from the plant") // an ordinary message: the rule mails it
	relay.Wait(t, 1)

	g.Stop(t)
	gatewaytest.StartIn(t, dir, conf) // a restart: nothing is answered again
	receive("+34600111222", "s3cretKey retry")
	msgs, err = sim.WaitMessages(ctx, 2)
	if err != nil {
		t.Fatalf("no reply to retry: %v", err)
	}
	if !strings.HasPrefix(msgs[1].Text, "retry: ") {
		t.Errorf("second reply = %q", msgs[1].Text)
	}
	receive("+34600111222", "another plain one")
	if n := len(sim.Messages()); n != 2 {
		t.Errorf("%d SMS sent, want 2 (one per command from the allowed number with the key): %+v", n, sim.Messages())
	}
	// at least once: a mail the relay took just before the stop may come again after the restart
	poll.Until(t, 30*time.Second, "both ordinary messages mailed", func() bool {
		plain := map[string]bool{}
		for _, m := range relay.Messages() {
			for _, p := range []string{"hello from the plant", "another plain one"} {
				if strings.Contains(string(m.Data), p) {
					plain[p] = true
				}
			}
		}
		return len(plain) == 2
	})
	for _, m := range relay.Messages() {
		if strings.Contains(string(m.Data), "s3cretKey") || strings.Contains(string(m.Data), "status") {
			t.Errorf("a command was forwarded as an ordinary message:\n%s", m.Data)
		}
	}
}
