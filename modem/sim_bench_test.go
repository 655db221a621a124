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
