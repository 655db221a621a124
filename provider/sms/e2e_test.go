package sms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"multimsg/client"
	"multimsg/gateway/gatewaytest"
	"multimsg/modem/modemsim"
)

// smsGateway runs the whole gateway in-process (gatewaytest: the same wiring as `multimsg
// serve`) with one modem sender whose device is the scripted modem's by-id style path.
func smsGateway(t *testing.T, p modemsim.Profile, extra string) (*gatewaytest.Gateway, *modemsim.Sim) {
	t.Helper()
	sim := modemsim.New(p, testLog(t))
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	g := gatewaytest.Start(t, fmt.Sprintf(`
[delivery]
retry_min = "100ms"
retry_max = "500ms"
[[sms.sender]]
name = "modem1"
device = %q
segments = 3
timeout = "2s"
%s
`, sim.Path(), extra))
	return g, sim
}

// TestEndToEndSendThroughHTTP: an encrypted POST /send with serv=sms, /cons until delivered,
// the text checked as the modem decoded it; the modem's health on /admin/api/status.
func TestEndToEndSendThroughHTTP(t *testing.T) {
	g, sim := smsGateway(t, modemsim.Profile{PIN: "2468", NoisyURCs: true, RegisterAt: 2}, `pin = "2468"`)
	text := "Einbruchalarm Lager 2: Tür offen seit 03:12 {Zone B} – bitte prüfen"
	id, err := g.Client.Send(context.Background(),
		[]client.File{{Field: "alarm", Filename: "alarm.txt", ContentType: "text/plain", Data: []byte(text + "\n")}},
		client.Params{Service: "sms", Dest: "491701234567"}, true)
	if err != nil {
		t.Fatal(err)
	}
	// a generous bound: eventual delivery is the claim; under CI's load (the browser test runs
	// alongside) the modem's init can take a while, and Explain says where the time went
	if st := g.WaitState(t, id, 60*time.Second); st != client.Delivered {
		t.Fatalf("state = %s, want delivered\n%s\nmodem commands: %q", st, g.Explain(id), sim.Commands())
	}
	msgs := sim.Messages()
	if len(msgs) != 1 || msgs[0].Text != text || msgs[0].Dest != "491701234567" || msgs[0].Alphabet != "ucs2" {
		t.Fatalf("modem got %+v", msgs)
	}
	if got := sim.PINAttempts(); len(got) != 1 {
		t.Errorf("PIN attempts = %q", got)
	}

	// The modem's health reaches the admins.
	req, _ := http.NewRequest(http.MethodGet, g.URL+"/admin/api/status", nil)
	req.SetBasicAuth("admin", gatewaytest.AdminPassword)
	code, body := gatewaytest.Do(t, req)
	if code != http.StatusOK {
		t.Fatalf("/admin/api/status = %d %s", code, body)
	}
	var st struct {
		Senders []struct {
			Service, Name string
			Driver        *struct {
				OK    bool
				Facts map[string]any
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range st.Senders {
		if s.Service != "sms" {
			continue
		}
		found = true
		if s.Name != "modem1" || s.Driver == nil || !s.Driver.OK || s.Driver.Facts["signal_dbm"] != float64(-73) ||
			s.Driver.Facts["operator"] != "SimNet" || s.Driver.Facts["sim"] != "READY" || s.Driver.Facts["registered"] != true {
			t.Errorf("sms sender status = %+v", s)
		}
	}
	if !found {
		t.Errorf("no sms sender in %s", body)
	}
}

// TestEndToEndRefusedAtSend: what can never be sent is refused by /send with 400, naming it.
func TestEndToEndRefusedAtSend(t *testing.T) {
	g, _ := smsGateway(t, modemsim.Profile{}, "")
	for _, tc := range []struct {
		dest, text string
		info       map[string]any
		want       string
	}{
		{"491701234567", strings.Repeat("a", 500), nil, `"long" (long.txt) needs 4 SMS segments`},
		{"+49 170", "x", nil, "dest"},
		{"491701234567", "x", map[string]any{"subject": "s"}, "unknown key(s) subject"},
	} {
		_, err := g.Client.Send(context.Background(),
			[]client.File{{Field: "long", Filename: "long.txt", ContentType: "text/plain", Data: []byte(tc.text)}},
			client.Params{Service: "sms", Dest: tc.dest, Info: tc.info}, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Send(dest %q, %d bytes, info %v) = %v, want an error containing %q", tc.dest, len(tc.text), tc.info, err, tc.want)
		}
	}
}

// TestEndToEndModemUnplugged: the modem vanishes while a job waits; the job stays queued and
// is delivered once the modem is back at the same path.
func TestEndToEndModemUnplugged(t *testing.T) {
	g, sim := smsGateway(t, modemsim.Profile{}, "")
	sim.Unplug()
	id, err := g.Client.Send(context.Background(),
		[]client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte("survives the unplug")}},
		client.Params{Service: "sms", Dest: "491701234567"}, false)
	if err != nil {
		t.Fatal(err)
	}
	code, body := g.Post(t, "/cons", url.Values{"id": {id}}, "")
	if code != http.StatusOK || strings.TrimSpace(body) != "queued" {
		t.Fatalf("/cons while unplugged = %d %q, want queued", code, body)
	}
	if err := sim.Replug(); err != nil {
		t.Fatal(err)
	}
	if st := g.WaitState(t, id, 30*time.Second); st != client.Delivered {
		t.Fatalf("state = %s, want delivered", st)
	}
	if m := sim.Messages(); len(m) != 1 || m[0].Text != "survives the unplug" {
		t.Fatalf("modem got %+v", m)
	}
}
