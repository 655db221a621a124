package settings_test

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"multimsg/gateway/gatewaytest"
	"multimsg/internal/phonesim"
	"multimsg/internal/poll"
	"multimsg/modem/modemsim"
	"multimsg/provider/whatsapp/cloudapitest"
)

// sendTest posts a test message and returns the page's outcome, unescaped.
func (a *admin) sendTest(service, sender, dest string) string {
	a.t.Helper()
	code, body, _ := a.post("/admin/settings/test", url.Values{"csrf": {a.csrf}, "service": {service}, "sender": {sender}, "dest": {dest}})
	m := regexp.MustCompile(`(?s)<pre class="test-outcome" role="status">(.*?)</pre>`).FindStringSubmatch(body)
	if code != 200 || m == nil {
		a.t.Fatalf("test message through %s/%s: %d, no outcome:\n%s", service, sender, code, excerpt(body, "test-form"))
	}
	return html.UnescapeString(m[1])
}

// A test message through our scripted modem on a real pty: the network's +CMS ERROR 330 and
// 500 are shown with what to do; then one goes out and the network has it.
func TestSMSTestMessageScriptedModem(t *testing.T) {
	sim := scriptedModem(t, modemsim.Profile{})
	g := modemGateway(t, sim.Path())
	a := login(t, g)
	for _, c := range []struct {
		code int
		want []string
	}{
		{330, []string{"+CMS ERROR: 330 (SMSC address unknown)", "What to do: The SIM has no SMS service-centre (SMSC) number"}},
		{500, []string{"+CMS ERROR: 500 (unknown error)", "What to do: The modem gave no reason: check the SIM's credit"}},
	} {
		sim.FailNext(c.code)
		out := a.sendTest("sms", "modem1", "4917012345678")
		t.Logf("CMS %d: %s", c.code, out)
		for _, w := range append(c.want, "Failed after") {
			if !strings.Contains(out, w) {
				t.Errorf("CMS %d: the outcome %q lacks %q", c.code, out, w)
			}
		}
	}
	if n := len(sim.Messages()); n != 0 {
		t.Errorf("the network got %d messages from refused sends", n)
	}
	// A 330 makes the health refuse (no SMSC) until a refresh reads it again: the send waits
	// for that refresh (the modem reads its health again before refusing).
	out := a.sendTest("sms", "modem1", "4917012345678")
	if !strings.Contains(out, "Sent through sms/modem1 to 4917012345678") {
		t.Fatalf("the test after the errors: %q", out)
	}
	if msgs := sim.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "multimsg test message") || msgs[0].Dest != "4917012345678" {
		t.Errorf("the network got %+v", msgs)
	}
}

// A test message through oFono's phonesim (a modem nobody here wrote, on a pty): sent, and
// the page says so; its probe shows phonesim's bring-up.
func TestSMSTestMessagePhonesim(t *testing.T) {
	ps := phonesim.Start(t)
	g := modemGateway(t, ps.Path)
	a := login(t, g)
	out := a.sendTest("sms", "modem1", "4917012345678")
	if !strings.Contains(out, "Sent through sms/modem1 to 4917012345678") {
		t.Fatalf("test message through phonesim: %q\nwire to modem: %q", out, ps.Sent())
	}
	poll.Until(t, 10*time.Second, "the test message's PDU on the wire", func() bool { return strings.Contains(string(ps.Sent()), "AT+CMGS=") })
	code, probe := a.probe("sender", "modem1")
	if code != 200 || !strings.Contains(probe, "through the running sender: ready to send") || !strings.Contains(probe, "AT+CFUN?") {
		t.Errorf("probe of phonesim: %d\n%s", code, probe)
	}
}

// A test message through a WhatsApp sender against the local Cloud API server: success shows
// the wamid; Meta's errors (190 expired token, 131030 not in the allowed list, 131026
// undeliverable) show the code, Meta's words and what to do.
func TestWhatsAppTestMessage(t *testing.T) {
	const token = "EAAG-TEST-TOKEN-555"
	api := cloudapitest.Start(t, cloudapitest.Options{Accounts: []cloudapitest.Account{{PhoneNumberID: "1098765", Token: token}}})
	g := gatewaytest.Start(t, maildirMail+fmt.Sprintf(`
[[wpp1.sender]]
name = "meta"
api_url = %q
phone_number_id = "1098765"
token = %q
`, api.URL(), token))
	a := login(t, g)
	out := a.sendTest("wpp1", "meta", "15551234567")
	msgs := api.Messages()
	if len(msgs) != 1 || !strings.Contains(out, "Sent through wpp1/meta to 15551234567") || !strings.Contains(out, "Message id: "+msgs[0].WAMID) {
		t.Fatalf("success: %q; the server got %d messages", out, len(msgs))
	}
	if msgs[0].To != "15551234567" || !strings.Contains(msgs[0].Text, "multimsg test message") {
		t.Errorf("the server got %+v", msgs[0])
	}

	cases := []struct {
		name  string
		setup func()
		want  []string
	}{
		{"expired token", func() { api.ExpireToken(token) }, []string{"190", "What to do: The access token has expired"}},
		{"not in the allowed list", func() { api.RestoreToken(token); api.FailNext(1, 131030) },
			[]string{"131030", "Recipient phone number not in allowed list", "What to do: The number is not in the allowed list"}},
		{"undeliverable", func() { api.FailNext(1, 131026) },
			[]string{"131026", "Unable to deliver message", "What to do: WhatsApp cannot deliver to this number"}},
	}
	for i, c := range cases {
		c.setup()
		// another recipient each time: the driver paces messages to one recipient (Meta's pair rate)
		out := a.sendTest("wpp1", "meta", fmt.Sprintf("1555123450%d", i))
		t.Logf("%s: %s", c.name, out)
		for _, w := range append(c.want, "Failed after") {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the outcome %q lacks %q", c.name, out, w)
			}
		}
		if strings.Contains(out, token) {
			t.Errorf("%s: the outcome shows the token", c.name)
		}
	}
}
