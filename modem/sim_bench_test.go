package modem_test

import (
	"context"
	"testing"
	"time"

	"multimsg/hw/serial"
	"multimsg/modem"
	"multimsg/modem/modemsim"
)

// BenchmarkSendModemsimPTY: one single-part SMS through hw/serial (tarm/serial) and a real
// pty to the scripted modem: our code plus the kernel's tty layer plus the simulator.
func BenchmarkSendModemsimPTY(b *testing.B) {
	sim := modemsim.New(modemsim.Profile{}, nil)
	if err := sim.Start(b.TempDir()); err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	m, err := modem.New(modem.Options{Open: serial.Opener(sim.Path(), 115200, 0), HealthEvery: time.Hour}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for m.Health().Ready() != nil {
		<-m.Changed()
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Send(ctx, "491701234567", "ALARM: door 3 open at 02:14", modem.SubmitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// countingInbox signals each message handed in.
type countingInbox struct{ got chan struct{} }

func (c countingInbox) Deliver(context.Context, *modem.Deliver) error {
	c.got <- struct{}{}
	return nil
}
func (c countingInbox) Report(context.Context, *modem.Report) error { return nil }

// BenchmarkReceiveCMTIModemsimPTY: one SMS from "+CMTI" on the wire to the inbox (AT+CMGR,
// decode, hand in) and its AT+CMGD, through hw/serial and a pty to the scripted modem.
func BenchmarkReceiveCMTIModemsimPTY(b *testing.B) {
	sim := modemsim.New(modemsim.Profile{}, nil)
	if err := sim.Start(b.TempDir()); err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	in := countingInbox{got: make(chan struct{}, 1)}
	m, err := modem.New(modem.Options{Open: serial.Opener(sim.Path(), 115200, 0), HealthEvery: time.Hour, Inbox: in}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for m.Health().Ready() != nil {
		<-m.Changed()
	}
	pdus, err := modemsim.DeliverPDUs(modemsim.Incoming{From: "+491701234567", Text: "ALARM: door 3 open at 02:14"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sim.Receive(pdus...)
		<-in.got
		if err := sim.WaitStored(ctx, 0); err != nil {
			b.Fatal(err)
		}
	}
}
