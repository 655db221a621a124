package settings_test

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"multimsg/client"
	"multimsg/gateway/gatewaytest"
	"multimsg/internal/poll"
	"multimsg/modem/modemsim"
	"multimsg/provider/sms"
)

// scriptedModem is our scripted modem on a real pty, behind a by-id style link.
func scriptedModem(t *testing.T, p modemsim.Profile) *modemsim.Sim {
	t.Helper()
	sim := modemsim.New(p, slog.New(slog.DiscardHandler))
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// modemGateway runs the gateway with one SMS sender, "modem1", on device, and waits until the
// modem can send.
func modemGateway(t *testing.T, device string) *gatewaytest.Gateway {
	t.Helper()
	g := gatewaytest.Start(t, maildirMail+fmt.Sprintf(`
[delivery]
retry_min = "200ms"
retry_max = "1s"
[[sms.sender]]
name = "modem1"
device = %q
timeout = "5s"
`, device))
	d := smsDriver(t, g, "modem1")
	poll.Until(t, 60*time.Second, "the modem ready to send", func() bool { return d.Modem().Health().Ready() == nil })
	return g
}

func smsDriver(t *testing.T, g *gatewaytest.Gateway, name string) *sms.Driver {
	t.Helper()
	svc, err := g.Reg.Service(sms.ServiceName)
	if err != nil {
		t.Fatal(err)
	}
	s, err := svc.Sender(name)
	if err != nil {
		t.Fatal(err)
	}
	return s.Driver.(*sms.Driver)
}

// probe posts the probe form and returns the page's probe outcome, unescaped.
func (a *admin) probe(kv ...string) (int, string) {
	a.t.Helper()
	f := url.Values{"csrf": {a.csrf}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	code, body, _ := a.post("/admin/settings/probe", f)
	i := strings.Index(body, `class="probe-outcome"`)
	if i < 0 {
		return code, "(no probe outcome on the page)\n" + excerpt(body, `id="probe"`)
	}
	j := strings.Index(body[i:], `</table>`)
	if j < 0 {
		j = strings.Index(body[i:], `</div>`)
	}
	return code, html.UnescapeString(body[i : i+j])
}

// The probe route: a session and its CSRF token are required; a port that does not exist or is
// not a serial device says so; a free port (our scripted modem on a pty, with a SIM PIN) is
// opened for the probe and every step shown, the PIN masked; a live sender is probed through
// its driver while a send is in flight and another queued, and both are delivered once.
func TestProbeRoute(t *testing.T) {
	busy := scriptedModem(t, modemsim.Profile{PromptDelay: 700 * time.Millisecond})
	g := modemGateway(t, busy.Path())

	anon := &admin{t: t, g: g, c: &http.Client{Timeout: time.Minute}}
	if code, _, _ := anon.post("/admin/settings/probe", url.Values{"sender": {"modem1"}}); code != http.StatusUnauthorized {
		t.Errorf("probe without a session = %d, want 401", code)
	}
	a := login(t, g)
	if code, _, _ := a.post("/admin/settings/probe", url.Values{"sender": {"modem1"}}); code != http.StatusForbidden {
		t.Errorf("probe without the CSRF token = %d, want 403", code)
	}
	f := url.Values{"csrf": {a.csrf}, "sender": {"modem1"}}
	if code, _, _ := a.post("/admin/settings/probe", f, "Origin", "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("probe from another origin = %d, want 403", code)
	}

	for _, c := range []struct{ device, want string }{
		{"/dev/ttyUSB-no-such-modem", "/dev/ttyUSB-no-such-modem does not exist: is the modem plugged in?"},
		{"/etc/hostname", "/etc/hostname is not a serial device"},
		{"/dev/null", "/dev/null is not a serial device (/dev/null): the probe opens only /dev/tty*"},
		{"ttyUSB0", "want an absolute path"},
		{"/dev/../etc/hostname", "want an absolute path"},
	} {
		code, out := a.probe("device", c.device)
		if code != 200 || !strings.Contains(out, "cannot probe: ") || !strings.Contains(out, c.want) {
			t.Errorf("probe %s: %d %q, want %q", c.device, code, out, c.want)
		}
	}
	if _, out := a.probe("sender", "nobody"); !strings.Contains(out, `cannot probe: no running SMS sender "nobody"`) {
		t.Errorf("probe of an unknown sender: %q", out)
	}

	// A free port with a PIN-locked SIM, opened for the probe.
	free := scriptedModem(t, modemsim.Profile{PIN: "8642", Operator: "FreeNet"})
	code, out := a.probe("device", free.Path(), "pin", "8642", "sender", "")
	if code != 200 || !strings.Contains(out, free.Path()+", opened for the probe: ready to send") {
		t.Fatalf("probe of a free port: %d\n%s", code, out)
	}
	for _, want := range []string{`AT+CPIN="****"`, "AT+CFUN?", "AT+CMGF=0", "<dd>FreeNet</dd>", "<dd>READY</dd>", "-73 dBm", "<dd>+4917000000</dd>"} {
		if !strings.Contains(out, want) {
			t.Errorf("the free port's probe lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "8642") {
		t.Error("the page shows the PIN")
	}
	if got := free.PINAttempts(); len(got) != 1 || got[0] != "8642" {
		t.Errorf("PIN attempts %q, want the one PIN once", got)
	}

	// A live sender: a send in flight (the modem is slow to prompt), the probe, another send.
	send := func(text string) string {
		id, err := g.Client.Send(context.Background(), []client.File{{Field: "t", ContentType: "text/plain", Data: []byte(text)}},
			client.Params{Service: "sms", Dest: "4917012345678"}, false)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := send("before the probe")
	poll.Until(t, 20*time.Second, "the first send at the modem", func() bool {
		return slices.ContainsFunc(busy.Commands(), func(c string) bool { return strings.HasPrefix(c, "AT+CMGS=") })
	})
	second := send("queued during the probe")
	code, out = a.probe("sender", "modem1")
	if code != 200 || !strings.Contains(out, "modem1 ("+busy.Path()+"), through the running sender: ready to send") {
		t.Fatalf("probe of the live sender: %d\n%s", code, out)
	}
	for _, want := range []string{"AT+CFUN?", "AT+CREG?", "AT+CSQ", "<dd>SimNet</dd>"} {
		if !strings.Contains(out, want) {
			t.Errorf("the live probe lacks %q:\n%s", want, out)
		}
	}
	for _, id := range []string{first, second} {
		if st := g.WaitJob(t, id, 30*time.Second); st != "delivered" {
			t.Errorf("job %s: %s, want delivered\n%s", id, st, g.Explain(id))
		}
	}
	if msgs := busy.Messages(); len(msgs) != 2 || msgs[0].Text == msgs[1].Text {
		t.Errorf("the network got %d messages (%+v), want the two texts once each", len(msgs), msgs)
	}
	// The live sender's port typed (as picked from the list) goes through its driver too.
	if _, out = a.probe("device", busy.Path(), "sender", ""); !strings.Contains(out, "modem1 ("+busy.Path()+"), through the running sender: ready to send") {
		t.Errorf("probe of the live sender's port by path:\n%s", out)
	}
	// The probe's reading is the sender's health now.
	if h := smsDriver(t, g, "modem1").Modem().Health(); h.Ready() != nil || h.Operator != "SimNet" {
		t.Errorf("health after the probe: %v", h)
	}
}

// A probe is bounded: a modem that stops answering is reported within the probe's time, each
// step without an answer marked, and the page still answers.
func TestProbeSilentModem(t *testing.T) {
	sim := scriptedModem(t, modemsim.Profile{})
	sim.GoSilent()
	g := gatewaytest.Start(t, maildirMail)
	a := login(t, g)
	start := time.Now()
	code, out := a.probe("device", sim.Path())
	took := time.Since(start)
	if code != 200 || !strings.Contains(out, "not ready:") || !strings.Contains(out, "no answer in time") {
		t.Fatalf("probe of a silent modem: %d\n%s", code, out)
	}
	if took > 30*time.Second {
		t.Errorf("the probe took %s; the page must answer within 30 s", took)
	}
}
