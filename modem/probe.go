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
