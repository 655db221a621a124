package modem

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// Probe brings the modem on rw up once, as the supervisor does (echo off, numeric errors, radio
// on, SIM PIN if pin is given and the SIM asks, PDU mode, registration reporting, automatic
// operator selection when it is not searching) and reads its health: what a field technician
// wants to see first. steps lists every command and what came of it (the PIN masked). The error
// is the first reason the modem could not send now (nil: ready); the health is filled as far as
// the modem answered either way.
func Probe(ctx context.Context, rw io.ReadWriter, pin string, timeout time.Duration, log *slog.Logger) (h Health, steps []Step, err error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	eng := NewEngine(rw, log, EngineOptions{})
	defer eng.Close()
	var o Options
	o.defaults()
	s := &session{eng: eng, timeout: timeout, powerTimeout: max(timeout, o.PowerTimeout),
		registerTimeout: max(timeout, o.RegisterTimeout), pin: &pinGuard{pin: pin}, link: &linkState{}, steps: &steps}
	err = s.setup(ctx, &h)
	if err != nil && h.LastError == "" {
		h.LastError = err.Error()
	}
	return h, steps, err
}

// Probe runs the bring-up again on the supervised modem's open port, the full setup the
// supervisor runs after the modem restarted by itself, and returns every step with the health
// it read (the settings page's "Probe" of a live sender). It takes the modem as a send does: a
// send in flight finishes first (or ctx ends the wait), and a send that comes meanwhile waits
// for the probe and then goes out. What it read is published as the modem's health. ctx bounds
// the whole probe; a step cut short by it answers with ctx's error.
func (m *Modem) Probe(ctx context.Context) (Health, []Step, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(m.ctx, cancel)()
	eng, release, err := m.holdWithin(ctx)
	if err != nil {
		return m.Health(), nil, err
	}
	defer release()
	m.mu.Lock()
	m.reboot = false // the setup below is the full one a reboot asks for
	m.mu.Unlock()
	mark := m.marks()
	h, steps, err := m.bringUp(ctx, eng, &mark)
	m.publish(h, mark, true)
	m.checkSoon(err)
	return m.Health(), steps, err
}
