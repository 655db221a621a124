package sms_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"multimsg/client"
	"multimsg/gateway/gatewaytest"
	"multimsg/modem"
	"multimsg/modem/modemsim"
	"multimsg/provider"
	"multimsg/provider/sms"
)

// TestBringUpQuirkyModems: modems that boot with the radio off, refuse AT+CMEE and AT+CREG=2,
// sit "not registered, not searching" until asked for automatic selection, and shape their
// +CREG? answer in each of the forms met in the field are all brought up and send.
func TestBringUpQuirkyModems(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    modemsim.Profile
		want []string // commands the bring-up must have sent
	}{
		{"radio off", modemsim.Profile{RadioOff: true, PowerDelay: 300 * time.Millisecond}, []string{"AT+CFUN?", "AT+CFUN=1", "AT+CREG=2", "AT+COPS=3,0"}},
		{"radio off, announces +CFUN: 1", modemsim.Profile{RadioOff: true, CFUNURC: true}, []string{"AT+CFUN=1"}},
		{"not searching", modemsim.Profile{NotSearching: true}, []string{"AT+COPS=0"}},
		{"CMEE and CREG=2 refused", modemsim.Profile{CMEEError: true, NoCREG2: true, NoCEREG: true}, []string{"AT+CMEE=1", "AT+CREG=2", "AT+CREG=1"}},
		{"read answer without n", modemsim.Profile{RegReadForm: modemsim.RegStatOnly}, nil},
		{"read answer in the unsolicited form", modemsim.Profile{RegReadForm: modemsim.RegURCForm}, nil},
		{"location unquoted", modemsim.Profile{RegReadForm: modemsim.RegUnquoted}, nil},
		{"everything at once", modemsim.Profile{RadioOff: true, NotSearching: true, CMEEError: true, NoCREG2: true, RegReadForm: modemsim.RegURCForm, BareATError: true},
			[]string{"AT+CFUN=1", "AT+COPS=0", "AT+CREG=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.p, nil)
			waitHealth(t, r.drv, "ready", ready)
			if _, err := r.drv.Send(context.Background(), delivery("quirks "+tc.name, nil)); err != nil {
				t.Fatalf("Send: %v\nsteps: %v", err, r.drv.Modem().Steps())
			}
			if m := r.sim.Messages(); len(m) != 1 || m[0].Text != "quirks "+tc.name {
				t.Fatalf("messages = %+v", m)
			}
			cmds := r.sim.Commands()
			for _, w := range tc.want {
				if !slices.Contains(cmds, w) {
					t.Errorf("bring-up never sent %s; sent %q", w, cmds)
				}
			}
			if h := r.drv.Modem().Health(); tc.p.RadioOff && h.Radio != "on" {
				t.Errorf("radio = %q after the bring-up, want on", h.Radio)
			}
			if n := strings.Count(strings.Join(cmds, "\n"), "AT+CFUN?"); n > 1 {
				t.Errorf("the bring-up ran %d times (a +CFUN: 1 after our own AT+CFUN=1 taken for a restart?); sent %q", n, cmds)
			}
		})
	}
}

// TestSendsWhenRegistrationReportIsWrong: a modem whose +CREG? keeps saying "searching" while
// the network takes messages. Registration is a hint: after send_unregistered_after the send is
// tried, and it goes.
func TestSendsWhenRegistrationReportIsWrong(t *testing.T) {
	r := newRig(t, modemsim.Profile{ReportsUnregistered: true}, func(o *sms.Options) {
		o.SendUnregisteredAfter = 300 * time.Millisecond
	})
	waitHealth(t, r.drv, "searching", func(h modem.Health) bool { return h.Present && h.RegStatus == "searching" })
	_, errs := sendUntil(t, r.drv, delivery("despite the report", nil))
	for _, err := range errs {
		if !errors.Is(err, modem.ErrNotRegistered) || provider.ClassOf(err) != provider.Temporary {
			t.Errorf("error before the send was tried: %v, want temporary not-registered", err)
		}
	}
	if m := r.sim.Messages(); len(m) != 1 || m[0].Text != "despite the report" {
		t.Fatalf("messages = %+v", m)
	}
}

// TestNetworkRefusalIsTemporary: tried while really not registered, the network's answer
// (+CMS ERROR: 331 no network service) keeps the message for a retry.
func TestNetworkRefusalIsTemporary(t *testing.T) {
	r := newRig(t, modemsim.Profile{Unregistered: true}, func(o *sms.Options) {
		o.SendUnregisteredAfter = time.Millisecond
	})
	waitHealth(t, r.drv, "searching", func(h modem.Health) bool { return h.Present && h.RegStatus == "searching" })
	_, err := r.drv.Send(context.Background(), delivery("no network", nil))
	if modem.CodeOf(err) != "CMS 331" || provider.ClassOf(err) != provider.Temporary {
		t.Fatalf("Send with no network = %v (class %v), want a temporary CMS 331", err, provider.ClassOf(err))
	}
	r.sim.SetRegistered(true)
	sendUntil(t, r.drv, delivery("no network", nil))
}

// syncBuffer is a log sink the modem's goroutines write to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPINNeverShown: a PIN the SIM rejects appears nowhere but on the wire to the modem: not in
// the health, the steps, a send's error, nor in the log with the AT trace on.
func TestPINNeverShown(t *testing.T) {
	const secret = "97531864"
	dir := t.TempDir()
	sim := modemsim.New(modemsim.Profile{PIN: "4321"}, nil)
	if err := sim.Start(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	drv, err := sms.New(sms.Options{Device: sim.Path(), PIN: secret, StateDir: dir, CommandTimeout: 500 * time.Millisecond,
		ReadyWait: 100 * time.Millisecond, Trace: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Close() })
	waitHealth(t, drv, "PIN rejected", func(h modem.Health) bool { return strings.Contains(h.LastError, "rejected") })
	_, sendErr := drv.Send(context.Background(), delivery("x", nil))
	if got := sim.PINAttempts(); len(got) != 1 || got[0] != secret {
		t.Fatalf("PIN attempts = %q, want the PIN once on the wire", got)
	}
	h := drv.Health()
	where := map[string]string{
		"health detail": h.Detail, "health facts": fmtAny(h.Facts), "last error": drv.Modem().Health().LastError,
		"send error": sendErr.Error(), "steps": fmtAny(drv.Modem().Steps()), "log": logs.String(),
	}
	for name, text := range where {
		if strings.Contains(text, secret) {
			t.Errorf("the PIN appears in the %s: %s", name, text)
		}
	}
	if !strings.Contains(logs.String(), `AT+CPIN=\"****\"`) {
		t.Errorf("the trace does not show the masked PIN entry; log:\n%s", logs.String())
	}
}

func fmtAny(v any) string {
	return strings.TrimSpace(strings.ReplaceAll(slog.AnyValue(v).String(), "\n", " "))
}

// TestPINNeverShownByTheGateway: with the whole gateway, a rejected PIN is not in /cons, the
// admin page, its JSON status nor /metrics.
func TestPINNeverShownByTheGateway(t *testing.T) {
	const secret = "86420975"
	g, sim := smsGateway(t, modemsim.Profile{PIN: "4321"}, `pin = "`+secret+`"`)
	id, err := g.Client.Send(context.Background(),
		[]client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte("x")}},
		client.Params{Service: "sms", Dest: "491701234567"}, false)
	if err != nil {
		t.Fatal(err)
	}
	// wait until the PIN was tried and the job met the verdict
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(sim.PINAttempts()) == 0 || !strings.Contains(g.Explain(id), "PIN") {
		select {
		case <-ctx.Done():
			t.Fatalf("PIN never tried or job never failed on it: %q\n%s", sim.PINAttempts(), g.Explain(id))
		case <-time.After(20 * time.Millisecond):
		}
	}
	pages := map[string]string{}
	_, pages["/cons"] = g.Post(t, "/cons", url.Values{"id": {id}}, "application/json")
	for _, path := range []string{"/admin", "/admin/api/status", "/metrics"} {
		req, _ := http.NewRequest(http.MethodGet, g.URL+path, nil)
		req.SetBasicAuth("admin", gatewaytest.AdminPassword)
		_, pages[path] = gatewaytest.Do(t, req)
	}
	pages["job"] = g.Explain(id)
	for path, body := range pages {
		if strings.Contains(body, secret) {
			t.Errorf("the PIN appears in %s:\n%s", path, body)
		}
	}
	if !strings.Contains(pages["/admin/api/status"], "PIN") {
		t.Errorf("the status does not say the PIN was rejected:\n%s", pages["/admin/api/status"])
	}
}

// TestEndToEndRegistrationIsAHint: through the whole gateway, a modem whose report stays
// "searching" still delivers once send_unregistered_after has passed: the queue is not held by
// a belief about registration.
func TestEndToEndRegistrationIsAHint(t *testing.T) {
	g, sim := smsGateway(t, modemsim.Profile{ReportsUnregistered: true, RadioOff: true}, `send_unregistered_after = "500ms"`)
	id, err := g.Client.Send(context.Background(),
		[]client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte("sent on trust")}},
		client.Params{Service: "sms", Dest: "491701234567"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if st := g.WaitState(t, id, 30*time.Second); st != client.Delivered {
		t.Fatalf("state = %s, want delivered\n%s\nmodem commands: %q", st, g.Explain(id), sim.Commands())
	}
	if m := sim.Messages(); len(m) != 1 || m[0].Text != "sent on trust" {
		t.Fatalf("modem got %+v", m)
	}
}

// TestEndToEndDrainsWhenRegistered: a job that failed while the modem was not registered is
// sent as soon as the modem registers (its unsolicited +CREG says so), not at the end of its
// backoff — here an hour.
func TestEndToEndDrainsWhenRegistered(t *testing.T) {
	sim := modemsim.New(modemsim.Profile{Unregistered: true}, testLog(t))
	if err := sim.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	g := gatewaytest.Start(t, fmt.Sprintf(`
[delivery]
retry_min = "1h"
retry_max = "2h"
[[sms.sender]]
name = "modem1"
device = %q
timeout = "2s"
send_unregistered_after = "-1s"
`, sim.Path()))
	id, err := g.Client.Send(context.Background(),
		[]client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte("drained")}},
		client.Params{Service: "sms", Dest: "491701234567"}, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	attempted := func() bool {
		j, err := g.Store.Get(id)
		return err == nil && len(j.Files) == 1 && j.Files[0].Attempts > 0
	}
	for !attempted() { // the first attempt waits up to 10 s for the modem, then fails
		select {
		case <-ctx.Done():
			t.Fatalf("the first attempt never failed on registration:\n%s", g.Explain(id))
		case <-time.After(20 * time.Millisecond):
		}
	}
	sim.SetRegistered(true)
	if st := g.WaitState(t, id, 20*time.Second); st != client.Delivered {
		t.Fatalf("state = %s, want delivered soon after registering (backoff is an hour)\n%s", st, g.Explain(id))
	}
}

// TestOwnPowerUpIsNotARestart: the "+CFUN: 1" a modem announces after our AT+CFUN=1 is not a
// restart of its own: the bring-up is not run again at the next health refresh.
func TestOwnPowerUpIsNotARestart(t *testing.T) {
	r := newRig(t, modemsim.Profile{RadioOff: true, CFUNURC: true}, func(o *sms.Options) { o.HealthEvery = 50 * time.Millisecond })
	count := func(cmd string) int {
		n := 0
		for _, c := range r.sim.Commands() {
			if c == cmd {
				n++
			}
		}
		return n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for count("AT+CSQ") < 4 { // a few refreshes after the bring-up
		select {
		case <-ctx.Done():
			t.Fatalf("no health refreshes; sent %q", r.sim.Commands())
		case <-r.drv.Modem().Changed():
		}
	}
	if n := count("AT+CFUN?"); n != 1 {
		t.Errorf("AT+CFUN? sent %d times, want once (our own power-up taken for a restart?); sent %q", n, r.sim.Commands())
	}
}
