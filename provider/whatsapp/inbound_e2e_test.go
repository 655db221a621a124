package whatsapp_test

import (
	"context"
	"testing"
	"time"

	"multimsg/internal/poll"
	"multimsg/provider"
	"multimsg/provider/whatsapp/cloudapitest"
)

// TestInboundSMSForwardedToWhatsApp: an inbound SMS whose rule says wpp1 is forwarded as a
// WhatsApp text by the second sender, to the rule's number, once (issue 13).
func TestInboundSMSForwardedToWhatsApp(t *testing.T) {
	e := startGatewayWith(t, cloudapitest.Options{}, "[wpp1]\nfallback = []\n", `
[[sms.inbound]]
name = "to-whatsapp"
forward = "wpp1"
sender = "support"
to = "491701234567"
`)
	in := provider.Inbound{Service: "sms", Sender: "modem1", From: "+34600111222", Sent: time.Now(), Text: "gate 2 open", PDU: []byte{1, 2, 3}}
	for range 2 {
		if err := e.gw.Inbox.Inbound(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, 20*time.Second, "the WhatsApp message", func() bool { return len(e.api.Messages()) > 0 })
	m := e.api.Messages()[0]
	if m.Type != "text" || m.To != "491701234567" || m.PhoneNumberID != acctB.PhoneNumberID || m.Text != "SMS from +34600111222: gate 2 open" {
		t.Errorf("forwarded = %+v", m)
	}
	if n := len(e.api.Messages()); n != 1 {
		t.Errorf("%d WhatsApp messages, want 1", n)
	}
}
