package modem_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"multimsg/hw/serial"
	"multimsg/internal/poll"
	"multimsg/modem"
	"multimsg/modem/modemsim"
)

// A live modem's probe: it waits for a send in flight, gives up when its context ends while
// the send still holds the modem (the lock is let go at once, so the send's end frees it for
// others), and otherwise runs the whole bring-up again and publishes what it read.
func TestLiveProbe(t *testing.T) {
	sim := modemsim.New(modemsim.Profile{Operator: "LiveNet"}, nil)
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	m, err := modem.New(modem.Options{Open: serial.Opener(sim.Path(), 115200, 0), HealthEvery: time.Hour,
		SendTimeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for m.Health().Ready() != nil {
		<-m.Changed()
	}

	// A send that hangs at AT+CMGS holds the modem until its timeout.
	sim.HangOnSubmit()
	sent := make(chan error, 1)
	go func() {
		_, err := m.Send(context.Background(), "491701234567", "held", modem.SubmitOptions{})
		sent <- err
	}()
	poll.Until(t, 10*time.Second, "the send at AT+CMGS", func() bool {
		return slices.ContainsFunc(sim.Commands(), func(c string) bool { return strings.HasPrefix(c, "AT+CMGS=") })
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, steps, err := m.Probe(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || len(steps) != 0 {
		t.Fatalf("probe behind a hung send = %d steps, %v; want the deadline, no steps", len(steps), err)
	}
	if err := <-sent; err == nil {
		t.Fatal("the hung send succeeded")
	}

	// The modem reset by the supervisor (or revived), a probe runs every step.
	sim.Revive()
	for m.Health().Ready() != nil {
		<-m.Changed()
	}
	h, steps, err := m.Probe(context.Background())
	if err != nil || h.Operator != "LiveNet" || !h.Present {
		t.Fatalf("probe = %v, %v", h, err)
	}
	var cmds []string
	for _, s := range steps {
		cmds = append(cmds, s.Cmd)
	}
	for _, want := range []string{"AT", "ATE0", "AT+CFUN?", "AT+CPIN?", "AT+CMGF=0", "AT+CREG?", "AT+CSQ", "AT+COPS?", "AT+CSCA?"} {
		if !strings.Contains(" "+strings.Join(cmds, " ")+" ", " "+want+" ") {
			t.Errorf("the probe's steps %q lack %s", cmds, want)
		}
	}
	if got := m.Steps(); len(got) != len(steps) {
		t.Errorf("Steps() = %d steps, want the probe's %d", len(got), len(steps))
	}
	if _, err := m.Send(context.Background(), "491701234567", "after the probe", modem.SubmitOptions{}); err != nil {
		t.Fatalf("send after the probe: %v", err)
	}
}
