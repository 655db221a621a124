//go:build linux

package modem_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"multimsg/hw/serial"
	"multimsg/internal/phonesim"
	"multimsg/modem"
)

// TestUSSDOnPhonesim asks oFono's phonesim, a modem nobody here wrote, for USSD codes its
// default script answers: one with a text inside the command's reply, one the network does
// not support (+CUSD: 4), and one whose answer never comes (timeout, session closed).
func TestUSSDOnPhonesim(t *testing.T) {
	ps := phonesim.Start(t)
	m, err := modem.New(modem.Options{Open: serial.Opener(ps.Path, 115200, 0), CommandTimeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for m.Health().Ready() != nil {
		select {
		case <-m.Changed():
		case <-ctx.Done():
			t.Fatalf("phonesim never became ready: %v", m.Health())
		}
	}
	u, err := m.USSD(ctx, "*225#", 5*time.Second)
	if err != nil || u.Text != "Thank you, your request is being processed. A message will be sent to your phone." || u.Status != modem.USSDDone {
		t.Fatalf("*225#: %+v, %v", u, err)
	}
	if _, err := m.USSD(ctx, "*123#", 5*time.Second); !errors.Is(err, modem.ErrUSSDUnsupported) {
		t.Fatalf("*123#: %v, want ErrUSSDUnsupported", err)
	}
	if _, err := m.USSD(ctx, "*100#", 500*time.Millisecond); !errors.Is(err, modem.ErrUSSDTimeout) {
		t.Fatalf("*100# (answered only from phonesim's UI): %v, want ErrUSSDTimeout", err)
	}
	// The modem still works after a timed-out session.
	if u, err := m.USSD(ctx, "*225#", 5*time.Second); err != nil || u.Text == "" {
		t.Fatalf("*225# after a timeout: %+v, %v", u, err)
	}
	if _, err := m.USSD(ctx, "*100#; AT+CFUN=0", time.Second); !errors.Is(err, modem.ErrBadUSSD) {
		t.Fatalf("a code with a command in it: %v, want ErrBadUSSD", err)
	}
}
