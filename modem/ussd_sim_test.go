package modem_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"multimsg/hw/serial"
	"multimsg/modem"
	"multimsg/modem/modemsim"
)

// TestUSSDModemVariants runs a balance request on the ways real modems hand USSD over.
func TestUSSDModemVariants(t *testing.T) {
	const code, balance = "*100#", "Saldo: 12,50 EUR. Valido hasta 31/12/2026"
	answers := map[string]string{code: balance}
	cases := []struct {
		name    string
		ussd    modemsim.USSD
		want    string
		err     error
		cancels int
	}{
		{"answer as an unsolicited line after OK", modemsim.USSD{Answers: answers}, balance, nil, 0},
		{"answer inside the reply", modemsim.USSD{Answers: answers, InReply: true}, balance, nil, 0},
		{"code and answer packed as GSM 7-bit hex (Huawei)", modemsim.USSD{Answers: answers, PackedOnly: true}, balance, nil, 0},
		{"answer in UCS-2 hex", modemsim.USSD{Answers: answers, UCS2: true}, balance, nil, 0},
		{"network leaves a menu open: closed", modemsim.USSD{Answers: answers, Open: true}, balance, nil, 1},
		{"code the network does not know", modemsim.USSD{Answers: map[string]string{}}, "", modem.ErrUSSDUnsupported, 0},
		{"modem without USSD", modemsim.USSD{Unsupported: true}, "", modem.ErrUSSDUnsupported, 0},
		{"network never answers", modemsim.USSD{Answers: answers, Silent: true}, "", modem.ErrUSSDTimeout, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim := modemsim.New(modemsim.Profile{USSD: c.ussd}, nil)
			if err := sim.Start(t.TempDir()); err != nil {
				t.Fatal(err)
			}
			defer sim.Close()
			m, err := modem.New(modem.Options{Open: serial.Opener(sim.Path(), 115200, 0), HealthEvery: time.Hour}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			for m.Health().Ready() != nil {
				<-m.Changed()
			}
			u, err := m.USSD(context.Background(), code, 300*time.Millisecond)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
			} else if err != nil || u.Text != c.want {
				t.Fatalf("USSD = %+v, %v; want %q", u, err, c.want)
			}
			if got := sim.USSDCancels(); got != c.cancels {
				t.Errorf("AT+CUSD=2 sent %d times, want %d", got, c.cancels)
			}
			// The modem keeps sending SMS after any of these.
			if _, err := m.Send(context.Background(), "491701234567", "after USSD", modem.SubmitOptions{}); err != nil {
				t.Fatalf("send after USSD: %v", err)
			}
		})
	}
}
