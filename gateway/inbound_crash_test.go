package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"multimsg/internal/poll"
	"multimsg/modem/modemsim"
)

// TestInboundKilledBetweenCommitAndDelete is issue 13's crash case with a real SIGKILL: the
// `multimsg serve` binary reads an SMS from the scripted modem, commits it, and is killed while
// its AT+CMGD waits for an answer. After the restart the message is still on the SIM and is
// read again: the store recognises it — it is forwarded once (one mail in the Maildir), nothing
// is lost, and it is deleted from the SIM this time.
func TestInboundKilledBetweenCommitAndDelete(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	sim := modemsim.New(modemsim.Profile{}, slog.New(slog.DiscardHandler))
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	sim.HangOnDelete(true)
	text := "ALARM freezer 2: -4 C, door open"
	pdus, err := modemsim.DeliverPDUs(modemsim.Incoming{From: "+34600111222", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	sim.Receive(pdus...)

	bin := buildServer(t)
	dir := t.TempDir()
	cfg := serverConfig(t, dir, fmt.Sprintf(`
[[sms.inbound]]
name = "all"
forward = "mail"
to = "ops@example.com"
[[sms.sender]]
name = "modem1"
device = %q
timeout = "2s"
`, sim.Path()))
	srv := startServer(t, bin, cfg)
	poll.Until(t, 60*time.Second, "the message committed and AT+CMGD sent", func() bool {
		return strings.Contains(srv.stderr(), "inbox: message received") && hasCommand(sim, "AT+CMGD=")
	})
	srv.kill()
	if sim.Stored() != 1 {
		t.Fatalf("the SIM holds %d messages after the kill, want the one not yet deleted", sim.Stored())
	}

	sim.HangOnDelete(false)
	srv = startServer(t, bin, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := sim.WaitStored(ctx, 0); err != nil {
		t.Fatalf("not deleted after the restart: %v\n%s", err, srv.stderr())
	}
	outbox := filepath.Join(dir, "outbox")
	mails := func() []string { m, _ := filepath.Glob(filepath.Join(outbox, "new", "*")); return m }
	poll.Until(t, 30*time.Second, "the message forwarded by mail", func() bool { return len(mails()) >= 1 })
	if !strings.Contains(srv.stderr(), "inbox: part received before; not stored again") {
		t.Errorf("the second reading was not recognised as the same message:\n%s", srv.stderr())
	}
	srv.stop(t)
	// One forward: the inbox decided it (and queued its job) in the first run only. Its mail may
	// still be written twice if the kill fell between the Maildir write and its record — the
	// delivery's own at-least-once, not a second forward.
	if strings.Contains(srv.stderr(), "inbox: forwarded") {
		t.Errorf("the restarted box forwarded the message again:\n%s", srv.stderr())
	}
	for _, f := range mails() {
		if b, _ := os.ReadFile(f); !strings.Contains(string(b), text) {
			t.Errorf("a mail lacks the text:\n%s", b)
		}
	}
}

func hasCommand(sim *modemsim.Sim, prefix string) bool {
	for _, c := range sim.Commands() {
		if strings.HasPrefix(strings.ToUpper(c), prefix) {
			return true
		}
	}
	return false
}
