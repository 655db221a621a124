package sms_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"multimsg/modem"
	"multimsg/modem/modemsim"
	"multimsg/provider"
	"multimsg/provider/sms"
)

const dest = "491701234567"

func testLog(t testing.TB) *slog.Logger {
	if os.Getenv("SMS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// rig is a scripted modem on a pty behind a by-id style symlink, and a driver that opens
// that path through hw/serial (tarm/serial), as on the box.
type rig struct {
	sim *modemsim.Sim
	drv *sms.Driver
	dir string
}

func newRig(t *testing.T, p modemsim.Profile, mod func(*sms.Options)) *rig {
	t.Helper()
	dir := t.TempDir()
	sim := modemsim.New(p, testLog(t))
	if err := sim.Start(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	o := sms.Options{
		Device:         sim.Path(),
		StateDir:       dir,
		CommandTimeout: 500 * time.Millisecond,
		SendTimeout:    2 * time.Second,
		HealthEvery:    time.Hour, // tests drive refreshes through Send
		ReadyWait:      100 * time.Millisecond,
		// registration is a gate in these tests unless one says otherwise
		SendUnregisteredAfter: -1,
	}
	if mod != nil {
		mod(&o)
	}
	drv, err := sms.New(o, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Close() })
	return &rig{sim: sim, drv: drv, dir: dir}
}

// waitHealth waits until cond holds for the modem's health (signalled by Changed), or fails.
func waitHealth(t *testing.T, drv *sms.Driver, what string, cond func(modem.Health) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := drv.Modem()
	for {
		ch := m.Changed()
		if cond(m.Health()) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: health now %s", what, m.Health())
		case <-ch:
		}
	}
}

func ready(h modem.Health) bool { return h.Ready() == nil }

func delivery(text string, info provider.Info) provider.Delivery {
	return provider.Delivery{JobID: "j1", Service: "sms", Dest: dest, Info: info, Attempt: 1,
		Files: []provider.File{{Name: "body", Type: "text", Data: []byte(text)}}}
}

// sendUntil retries Send like the dispatcher would, until it succeeds or the deadline; it
// returns the errors seen on the way.
func sendUntil(t *testing.T, drv *sms.Driver, d provider.Delivery) (provider.Receipt, []error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var errs []error
	for {
		ch := drv.Modem().Changed()
		r, err := drv.Send(ctx, d)
		if err == nil {
			return r, errs
		}
		if provider.ClassOf(err) == provider.Permanent {
			t.Fatalf("Send: permanent error %v", err)
		}
		errs = append(errs, err)
		select {
		case <-ctx.Done():
			t.Fatalf("Send never succeeded; errors: %v", errs)
		case <-ch: // health changed: worth another try
		case <-time.After(100 * time.Millisecond): // the dispatcher's backoff, shortened
		}
	}
}

func TestSendHappyPath(t *testing.T) {
	r := newRig(t, modemsim.Profile{NoisyURCs: true}, nil)
	waitHealth(t, r.drv, "ready", ready)
	long := strings.Repeat("Grüße aus dem Büro {€} ", 10) // GSM 7-bit with escapes, 3 parts
	for _, text := range []string{"hello world", long, "Alarm 🔥 im Keller"} {
		rc, err := r.drv.Send(context.Background(), delivery(text+"\n", nil))
		if err != nil {
			t.Fatalf("Send(%q): %v", text, err)
		}
		if rc.MessageID == "" {
			t.Errorf("Send(%q): empty MessageID", text)
		}
	}
	msgs := r.sim.Messages()
	if len(msgs) != 3 {
		t.Fatalf("modem got %d messages, want 3", len(msgs))
	}
	if msgs[0].Text != "hello world" || msgs[0].Dest != dest || msgs[0].Alphabet != modem.GSM7 {
		t.Errorf("message 0 = %+v", msgs[0])
	}
	if msgs[1].Text != strings.TrimRight(long, "\n") || msgs[1].Parts != 2 || msgs[1].Alphabet != modem.GSM7 {
		t.Errorf("message 1: parts %d alphabet %s text %q", msgs[1].Parts, msgs[1].Alphabet, msgs[1].Text)
	}
	if msgs[2].Text != "Alarm 🔥 im Keller" || msgs[2].Alphabet != modem.UCS2 {
		t.Errorf("message 2 = %+v", msgs[2])
	}
	h := r.drv.Health()
	if f := h.Facts.(modem.Health); !h.OK || f.Operator != "SimNet" || !f.HasSignal || f.SignalDBM != -73 || f.Registered != true || f.SIM != "READY" || f.SMSC != "+4917000000" {
		t.Errorf("Health() = %+v", h)
	}
}

func TestSendQuirkyModem(t *testing.T) {
	// ERROR to AT+CMEE=1 and to a bare AT, no CEREG, a slow prompt: still works.
	r := newRig(t, modemsim.Profile{CMEEError: true, BareATError: true, NoCEREG: true, PromptDelay: 300 * time.Millisecond}, nil)
	waitHealth(t, r.drv, "ready", ready)
	if _, err := r.drv.Send(context.Background(), delivery("slow prompt", nil)); err != nil {
		t.Fatal(err)
	}
	if m := r.sim.Messages(); len(m) != 1 || m[0].Text != "slow prompt" {
		t.Fatalf("messages = %+v", m)
	}
}

func TestSendFlashAndValidity(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, nil)
	waitHealth(t, r.drv, "ready", ready)
	info := provider.Info{"flash": json.RawMessage("true"), "validity": json.RawMessage(`"2h"`)}
	if _, err := r.drv.Send(context.Background(), delivery("flash!", info)); err != nil {
		t.Fatal(err)
	}
	m := r.sim.Messages()
	if len(m) != 1 || !m[0].Class0 || m[0].Validity != 2*time.Hour {
		t.Fatalf("messages = %+v", m)
	}
}

func TestSendTemporaryThenSuccess(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, nil)
	waitHealth(t, r.drv, "ready", ready)
	r.sim.FailNext(42, 332) // congestion, network timeout
	for _, want := range []string{"CMS 42", "CMS 332"} {
		_, err := r.drv.Send(context.Background(), delivery("retry me", nil))
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Class != provider.Temporary || pe.Code != want {
			t.Fatalf("Send = %v, want temporary %s", err, want)
		}
	}
	if _, err := r.drv.Send(context.Background(), delivery("retry me", nil)); err != nil {
		t.Fatal(err)
	}
	if m := r.sim.Messages(); len(m) != 1 || m[0].Text != "retry me" {
		t.Fatalf("messages = %+v", m)
	}
}

func TestSendPermanentError(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, nil)
	waitHealth(t, r.drv, "ready", ready)
	r.sim.FailNext(1) // unassigned number
	_, err := r.drv.Send(context.Background(), delivery("to nobody", nil))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Class != provider.Permanent || pe.Code != "CMS 1" || !strings.Contains(err.Error(), "unassigned") {
		t.Fatalf("Send = %v, want permanent CMS 1 with the reason", err)
	}
	var cms *modem.CMSError
	if !errors.As(err, &cms) || cms.Code != 1 {
		t.Fatalf("Send error does not carry the CMSError: %v", err)
	}
}

func TestSendSMSCUnknownIsSenderDown(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, nil)
	waitHealth(t, r.drv, "ready", ready)
	r.sim.FailNext(330)
	_, err := r.drv.Send(context.Background(), delivery("x", nil))
	if provider.ClassOf(err) != provider.Down || !strings.Contains(err.Error(), "CMS 330") {
		t.Fatalf("Send = %v, want sender-down CMS 330", err)
	}
}

func TestSendSilentModemIsReset(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, func(o *sms.Options) { o.SendTimeout = 700 * time.Millisecond })
	waitHealth(t, r.drv, "ready", ready)
	r.sim.GoSilent()
	_, err := r.drv.Send(context.Background(), delivery("after the reset", nil))
	if err == nil || provider.ClassOf(err) != provider.Temporary {
		t.Fatalf("Send to a silent modem = %v, want a temporary error", err)
	}
	if _, errs := sendUntil(t, r.drv, delivery("after the reset", nil)); len(errs) > 0 {
		t.Logf("errors while the modem recovered: %v", errs)
	}
	if r.sim.Resets() < 1 {
		t.Errorf("modem was never reset")
	}
	if m := r.sim.Messages(); len(m) != 1 || m[0].Text != "after the reset" {
		t.Fatalf("messages = %+v", m)
	}
}

func TestSendUnplugged(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, nil)
	waitHealth(t, r.drv, "ready", ready)
	r.sim.Unplug()
	waitHealth(t, r.drv, "not present", func(h modem.Health) bool { return !h.Present })
	_, err := r.drv.Send(context.Background(), delivery("while away", nil))
	if err == nil || provider.ClassOf(err) == provider.Permanent {
		t.Fatalf("Send while unplugged = %v, want temporary or sender-down", err)
	}
	if h := r.drv.Health(); h.OK || h.Facts.(modem.Health).Present != false {
		t.Errorf("Health while unplugged = %+v", h)
	}
	if err := r.sim.Replug(); err != nil {
		t.Fatal(err)
	}
	sendUntil(t, r.drv, delivery("while away", nil))
	if m := r.sim.Messages(); len(m) != 1 || m[0].Text != "while away" {
		t.Fatalf("messages = %+v", m)
	}
}

func TestSendUSBModemResetReenumerates(t *testing.T) {
	// A silent USB modem: the reset makes the port vanish and come back at the same path.
	r := newRig(t, modemsim.Profile{UnplugOnReset: true}, func(o *sms.Options) { o.SendTimeout = 700 * time.Millisecond })
	waitHealth(t, r.drv, "ready", ready)
	r.sim.GoSilent()
	sendUntil(t, r.drv, delivery("back on the bus", nil))
	if r.sim.Resets() < 1 {
		t.Errorf("modem was never reset")
	}
	if m := r.sim.Messages(); len(m) != 1 || m[0].Text != "back on the bus" {
		t.Fatalf("messages = %+v", m)
	}
}

func TestSIMPIN(t *testing.T) {
	r := newRig(t, modemsim.Profile{PIN: "4321"}, func(o *sms.Options) { o.PIN = "4321" })
	waitHealth(t, r.drv, "ready", ready)
	if _, err := r.drv.Send(context.Background(), delivery("pin ok", nil)); err != nil {
		t.Fatal(err)
	}
	if got := r.sim.PINAttempts(); len(got) != 1 || got[0] != "4321" {
		t.Errorf("PIN attempts = %q, want one", got)
	}
}

func TestSIMWrongPINEnteredOnce(t *testing.T) {
	r := newRig(t, modemsim.Profile{PIN: "4321"}, func(o *sms.Options) { o.PIN = "0000" })
	waitHealth(t, r.drv, "PIN rejected", func(h modem.Health) bool { return strings.Contains(h.LastError, "rejected") })
	for i := 0; i < 3; i++ {
		_, err := r.drv.Send(context.Background(), delivery("x", nil))
		if provider.ClassOf(err) != provider.Down {
			t.Fatalf("Send with a wrong PIN = %v, want sender-down", err)
		}
	}
	if got := r.sim.PINAttempts(); len(got) != 1 {
		t.Errorf("PIN attempts = %q, want exactly one (never walk into the PUK lock)", got)
	}
	if h := r.drv.Health(); h.OK || !strings.Contains(h.Detail, "PIN") {
		t.Errorf("Health = %+v, want not OK naming the PIN", h)
	}
	// A restart with the same wrong PIN does not try it again (the verdict is in the state dir).
	r.drv.Close()
	drv2, err := sms.New(sms.Options{Device: r.sim.Path(), PIN: "0000", StateDir: r.dir, CommandTimeout: 500 * time.Millisecond}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer drv2.Close()
	waitHealth(t, drv2, "PIN not retried", func(h modem.Health) bool { return strings.Contains(h.LastError, "not entered again") })
	if got := r.sim.PINAttempts(); len(got) != 1 {
		t.Errorf("PIN attempts after restart = %q, want still one", got)
	}
}

func TestSIMPINNotConfigured(t *testing.T) {
	r := newRig(t, modemsim.Profile{PIN: "4321"}, nil)
	waitHealth(t, r.drv, "SIM PIN", func(h modem.Health) bool { return h.SIM == "SIM PIN" })
	_, err := r.drv.Send(context.Background(), delivery("x", nil))
	if provider.ClassOf(err) != provider.Down {
		t.Fatalf("Send = %v, want sender-down", err)
	}
	if len(r.sim.PINAttempts()) != 0 {
		t.Errorf("a PIN was entered though none is configured")
	}
}

func TestNotRegisteredWaits(t *testing.T) {
	r := newRig(t, modemsim.Profile{Unregistered: true}, nil)
	waitHealth(t, r.drv, "searching", func(h modem.Health) bool { return h.Present && h.SIM == "READY" && h.RegStatus == "searching" })
	_, err := r.drv.Send(context.Background(), delivery("once registered", nil))
	if err == nil || provider.ClassOf(err) == provider.Permanent || !errors.Is(err, modem.ErrNotRegistered) {
		t.Fatalf("Send while not registered = %v, want a temporary not-registered error", err)
	}
	r.sim.SetRegistered(true)
	sendUntil(t, r.drv, delivery("once registered", nil))
	if m := r.sim.Messages(); len(m) != 1 || m[0].Text != "once registered" {
		t.Fatalf("messages = %+v", m)
	}
}

func TestRegistersLater(t *testing.T) {
	// Registration comes after a few queries by itself (no unsolicited line).
	r := newRig(t, modemsim.Profile{RegisterAt: 3}, nil)
	_, errs := sendUntil(t, r.drv, delivery("eventually", nil))
	if len(errs) == 0 {
		t.Errorf("expected some not-ready errors before registration")
	}
	for _, err := range errs {
		if provider.ClassOf(err) == provider.Permanent {
			t.Errorf("error while registering is permanent: %v", err)
		}
	}
}

func TestConcatRefSurvivesRestart(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, nil)
	waitHealth(t, r.drv, "ready", ready)
	long := strings.Repeat("x", 200)
	if _, err := r.drv.Send(context.Background(), delivery(long, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.drv.Send(context.Background(), delivery(long, nil)); err != nil {
		t.Fatal(err)
	}
	r.drv.Close()
	drv2, err := sms.New(sms.Options{Device: r.sim.Path(), StateDir: r.dir, CommandTimeout: 500 * time.Millisecond}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer drv2.Close()
	waitHealth(t, drv2, "ready", ready)
	if _, err := drv2.Send(context.Background(), delivery(long, nil)); err != nil {
		t.Fatal(err)
	}
	m := r.sim.Messages()
	if len(m) != 3 {
		t.Fatalf("got %d messages", len(m))
	}
	if m[0].Ref == m[1].Ref || m[1].Ref == m[2].Ref || m[0].Ref == m[2].Ref {
		t.Errorf("concat references %d, %d, %d repeat", m[0].Ref, m[1].Ref, m[2].Ref)
	}
}

func TestHealthRefreshedPeriodically(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, func(o *sms.Options) { o.HealthEvery = 50 * time.Millisecond })
	waitHealth(t, r.drv, "ready", ready)
	r.sim.SetSignal(5)
	waitHealth(t, r.drv, "signal -103 dBm", func(h modem.Health) bool { return h.HasSignal && h.SignalDBM == -103 })
	r.sim.SetSignal(99)
	waitHealth(t, r.drv, "signal unknown", func(h modem.Health) bool { return !h.HasSignal })
	if b, err := json.Marshal(r.drv.Health().Facts); err != nil || !strings.Contains(string(b), `"signal_dbm":null`) {
		t.Errorf("facts = %s, %v; want signal_dbm null for unknown", b, err)
	}
}

func TestOpenHook(t *testing.T) {
	// Options.Open instead of a device path: the pty opened as a plain file.
	sim := modemsim.New(modemsim.Profile{NoCEREG: true}, testLog(t))
	if err := sim.Start(""); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	drv, err := sms.New(sms.Options{Open: sim.Open, CommandTimeout: 500 * time.Millisecond}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	waitHealth(t, drv, "ready", ready)
	if _, err := drv.Send(context.Background(), delivery("via the hook", nil)); err != nil {
		t.Fatal(err)
	}
	if m := sim.Messages(); len(m) != 1 || m[0].Text != "via the hook" {
		t.Fatalf("messages = %+v", m)
	}
}

func TestCloseDuringSlowSend(t *testing.T) {
	r := newRig(t, modemsim.Profile{}, func(o *sms.Options) { o.SendTimeout = time.Minute })
	waitHealth(t, r.drv, "ready", ready)
	r.sim.HangOnSubmit()
	errc := make(chan error, 1)
	go func() {
		_, err := r.drv.Send(context.Background(), delivery("never", nil))
		errc <- err
	}()
	// Wait until the modem hangs in AT+CMGS, then close the driver: Send must end now, not
	// after the minute-long send timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !slicesContainsPrefix(r.sim.Commands(), "AT+CMGS=") {
		select {
		case <-ctx.Done():
			t.Fatal("send never reached the modem")
		case <-time.After(5 * time.Millisecond): // polling a condition, with a deadline
		}
	}
	start := time.Now()
	r.drv.Close()
	select {
	case err := <-errc:
		if err == nil || provider.ClassOf(err) == provider.Permanent {
			t.Errorf("Send cut by Close = %v, want a temporary error", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Close took %s to end the send", d)
		}
	case <-ctx.Done():
		t.Fatal("Close did not end the send in flight")
	}
}

func TestModemHangsInSubmit(t *testing.T) {
	// A modem that hangs mid-send: the send times out (temporary), the modem is reset, and
	// the retry goes through.
	r := newRig(t, modemsim.Profile{}, func(o *sms.Options) { o.SendTimeout = 500 * time.Millisecond })
	waitHealth(t, r.drv, "ready", ready)
	r.sim.HangOnSubmit()
	_, err := r.drv.Send(context.Background(), delivery("hung once", nil))
	if err == nil || provider.ClassOf(err) != provider.Temporary || !errors.Is(err, modem.ErrTimeout) {
		t.Fatalf("Send to a hanging modem = %v, want a temporary timeout", err)
	}
	sendUntil(t, r.drv, delivery("hung once", nil))
	if r.sim.Resets() < 1 {
		t.Errorf("modem was never reset")
	}
	if m := r.sim.Messages(); len(m) != 1 || m[0].Text != "hung once" {
		t.Fatalf("messages = %+v", m)
	}
}

func slicesContainsPrefix(xs []string, p string) bool {
	for _, x := range xs {
		if strings.HasPrefix(x, p) {
			return true
		}
	}
	return false
}

func TestModemRebootsByItself(t *testing.T) {
	r := newRig(t, modemsim.Profile{PIN: "1357"}, func(o *sms.Options) { o.PIN = "1357" })
	waitHealth(t, r.drv, "ready", ready)
	if _, err := r.drv.Send(context.Background(), delivery("before", nil)); err != nil {
		t.Fatal(err)
	}
	r.sim.Reboot()
	waitHealth(t, r.drv, "restart noticed", func(h modem.Health) bool { return strings.Contains(h.LastError, "restarted") })
	// The next send sets the modem up again (ATE0, CMEE, PIN, PDU mode) and goes through.
	if _, err := r.drv.Send(context.Background(), delivery("after", nil)); err != nil {
		t.Fatalf("Send after the modem restarted = %v", err)
	}
	if got := r.sim.PINAttempts(); len(got) != 2 {
		t.Errorf("PIN attempts = %q, want one per power-up", got)
	}
	if m := r.sim.Messages(); len(m) != 2 || m[1].Text != "after" {
		t.Fatalf("messages = %+v", m)
	}
}
