package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"multimsg/client"
	"multimsg/gateway/gatewaytest"
	"multimsg/internal/poll"
	"multimsg/modem/modemsim"
	"multimsg/provider/mail/smtptest"
)

// modemBox runs the gateway with one modem sender on the scripted modem (a pty), the relay and
// the webhook receiver of inboundConfig.
func modemBox(t *testing.T) (*gatewaytest.Gateway, *modemsim.Sim, *hookReceiver, *smtptest.Server) {
	t.Helper()
	sim := modemsim.New(modemsim.Profile{}, slog.New(slog.DiscardHandler))
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	relay := smtptest.New(t, smtptest.Options{})
	hook := newHookReceiver(t, "hook-secret", 0)
	g := gatewaytest.Start(t, inboundConfig(relay, hook)+fmt.Sprintf(`
[sms]
report_wait = "1h"
[[sms.sender]]
name = "modem1"
device = %q
segments = 3
timeout = "2s"
`, sim.Path()))
	return g, sim, hook, relay
}

// TestInboundThroughModem: SMS-DELIVER PDUs from an encoder nobody here wrote, delivered by
// the scripted modem on a pty — a two-part alarm with a 16-bit reference, parts out of order —
// are read by the modem side, stored, reassembled, posted once to the webhook (signature
// checked), and deleted from the SIM only after; a German sender's text goes by mail.
func TestInboundThroughModem(t *testing.T) {
	g, sim, hook, relay := modemBox(t)
	alarm := "ALARM boiler 3: pressure high in the main circuit, please check the relief valve and call the on-call engineer at once; zone B, floor 2, room 214. Repeat: pressure high, relief valve, on-call engineer."
	pdus, err := modemsim.DeliverPDUs(modemsim.Incoming{From: "+34600111222", Text: alarm, Ref: 40000, Ref16: true})
	if err != nil || len(pdus) != 2 {
		t.Fatalf("DeliverPDUs = %d, %v; want 2 parts", len(pdus), err)
	}
	start := time.Now()
	sim.Receive(pdus[1], pdus[0])
	select {
	case <-hook.got:
	case <-time.After(30 * time.Second):
		t.Fatal("nothing posted to the webhook")
	}
	t.Logf("two-part SMS, modem indication → webhook post: %v", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sim.WaitStored(ctx, 0); err != nil {
		t.Fatalf("the SIM still holds %d messages: %v", sim.Stored(), err)
	}
	hook.mu.Lock()
	doc := hook.docs[0]
	hook.mu.Unlock()
	if doc["text"] != alarm || doc["from"] != "+34600111222" || doc["complete"] != true {
		t.Errorf("webhook document = %v", doc)
	}
	de, _ := modemsim.DeliverPDUs(modemsim.Incoming{From: "+4917012345678", Text: "ruf mich an"})
	sim.Receive(de...)
	if m := relay.Wait(t, 1); !strings.Contains(string(m.Data), "ruf mich an") {
		t.Errorf("mail = %s", m.Data)
	}
	_, a := getInbox(t, g, "")
	if len(a.Messages) != 2 || a.Messages[1].Text != alarm || a.Messages[1].Parts != 2 {
		t.Errorf("/inbox = %+v", a)
	}
	if n := hook.count(); n != 1 {
		t.Errorf("webhook received %d posts, want 1", n)
	}
}

// TestStatusReportsThroughModem: a two-part SMS sent through the scripted modem, the network
// reporting both parts delivered → /cons JSON says handset; one part failed → the file says
// so with TP-ST's meaning.
func TestStatusReportsThroughModem(t *testing.T) {
	g, sim, _, _ := modemBox(t)
	long := strings.Repeat("Alarm zone 3, check now. ", 10) // two parts
	send := func(dest string) string {
		t.Helper()
		id, err := g.Client.Send(context.Background(), []client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte(long)}},
			client.Params{Service: "sms", Dest: dest}, true)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	report := func(id string) string {
		req, _ := http.NewRequest(http.MethodGet, g.URL+"/admin/api/status", nil)
		req.SetBasicAuth("admin", gatewaytest.AdminPassword)
		_, body := gatewaytest.Do(t, req)
		var st struct{ Recent []struct{ ID, Report string } }
		_ = json.Unmarshal([]byte(body), &st)
		i := slices.IndexFunc(st.Recent, func(r struct{ ID, Report string }) bool { return r.ID == id })
		if i < 0 {
			return ""
		}
		return st.Recent[i].Report
	}
	sim.ReportNext(0x00, 0x00)
	ok := send("491701234567")
	poll.Until(t, 60*time.Second, "the handset report", func() bool { return report(ok) == "handset" })
	if state, rep, _ := consJSON(t, g, ok); state != "delivered" || rep != "handset" {
		t.Errorf("/cons JSON = %s / %s, want delivered / handset", state, rep)
	}
	sim.ReportNext(0x00, 0x41)
	bad := send("491709999999")
	poll.Until(t, 60*time.Second, "the failed report", func() bool { return strings.HasPrefix(report(bad), "failed") })
	if state, rep, why := consJSON(t, g, bad); state != "delivered" || rep != "failed" || why != "incompatible destination (part 2 of 2)" {
		t.Errorf("/cons JSON = %s / %s / %q", state, rep, why)
	}
}
