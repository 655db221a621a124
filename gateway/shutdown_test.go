package gateway_test

import (
	"bytes"
	"fmt"
	"net/smtp"
	"regexp"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"multimsg/client"
	"multimsg/gateway/gatewaytest"
	"multimsg/internal/poll"
	"multimsg/modem/modemsim"
)

// goroutines lists the live goroutines (pprof's full dump) by id.
func goroutines() map[string]string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	out := map[string]string{}
	for _, g := range strings.Split(b.String(), "\n\n") {
		if m := goroutineID.FindStringSubmatch(g); m != nil {
			out[m[1]] = g
		}
	}
	return out
}

var goroutineID = regexp.MustCompile(`^goroutine (\d+) `)

// TestShutdownLeavesNoGoroutine: one shutdown path. A gateway with every long-lived part
// running — dispatcher, HTTP, e-mail in, a modem supervisor and its engine, the ARP table's
// sweeper, the retention sweep, the updater — that has delivered a mail and an SMS and taken a
// mail over SMTP, once its context is cancelled and Run has returned, has no goroutine left of
// its own: everything it started ran under Run's context and errgroup, or was closed by it.
func TestShutdownLeavesNoGoroutine(t *testing.T) {
	before := goroutines()
	sim := modemsim.New(modemsim.Profile{}, nil)
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, fmt.Sprintf(`
[delivery]
retry_min = "100ms"
retry_max = "500ms"
[smtp_in]
listen = "127.0.0.1:0"
[[mail.sender]]
name = "o"
maildir = "outbox"
[[sms.sender]]
name = "modem1"
device = %q
timeout = "2s"
`, sim.Path()))
	ctx := t.Context()
	for _, p := range []client.Params{{Service: "mail", Dest: "ops@example.com"}, {Service: "sms", Dest: "491701234567"}} {
		id, err := g.Client.Send(ctx, []client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte("boiler 3: pressure high")}}, p, false)
		if err != nil {
			t.Fatalf("send %s: %v", p.Service, err)
		}
		if st := g.WaitJob(t, id, 60*time.Second); st != "delivered" {
			t.Fatalf("%s job: state = %s, want delivered\n%s", p.Service, st, g.Explain(id))
		}
	}
	if err := smtp.SendMail(g.MailAddr().String(), nil, "cam@lan", []string{"ops@example.com"},
		[]byte("Subject: motion\r\n\r\nzone B\r\n")); err != nil {
		t.Fatalf("mail to smtp_in: %v", err)
	}

	// What is not the gateway's: goroutines that existed before it started, the test's HTTP
	// client's idle connections, and fasthttp's Date-header ticker (one per process, started by
	// the first server and never stopped: a library's global, not a goroutine of ours).
	ours := func() []string {
		var left []string
		for id, s := range goroutines() {
			if _, ok := before[id]; ok || strings.Contains(s, "net/http.(*persistConn)") ||
				strings.Contains(s, "fasthttp.updateServerDate") {
				continue
			}
			left = append(left, s)
		}
		return left
	}
	// The listing sees the gateway's goroutines while it runs (else the check below proves nothing).
	running := strings.Join(ours(), "\n")
	for _, fn := range []string{"multimsg/dispatch.(*Dispatcher).Run", "multimsg/modem.(*Modem).run", "multimsg/modem.(*Engine).own",
		"multimsg/hw/arp.(*Table).sweep", "multimsg/store.(*Store).commitLoop", "multimsg/gateway.(*Gateway).Run"} {
		if !strings.Contains(running, fn) {
			t.Fatalf("no goroutine in %s while the gateway runs; the listing misses what it should check", fn)
		}
	}

	g.Stop(t) // cancels Run's context and waits for Run to return
	sim.Close()
	var left []string
	if !poll.Wait(10*time.Second, func() bool { left = ours(); return len(left) == 0 }) {
		t.Fatalf("%d goroutines outlived the gateway's Run:\n\n%s", len(left), strings.Join(left, "\n\n"))
	}
}
