package modem

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// Probe initialises the modem on rw once (echo off, numeric errors, SIM PIN if pin is given
// and the SIM asks, PDU mode) and reads its health: what a field technician wants to see
// first. The error is the first reason the modem could not send now (nil: ready); the health
// is filled as far as the modem answered either way.
func Probe(ctx context.Context, rw io.ReadWriter, pin string, timeout time.Duration, log *slog.Logger) (Health, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	eng := NewEngine(rw, log, EngineOptions{})
	defer eng.Close()
	var h Health
	s := &session{eng: eng, timeout: timeout, pin: &pinGuard{pin: pin}}
	err := s.setup(ctx, &h)
	if err != nil && h.LastError == "" {
		h.LastError = err.Error()
	}
	return h, err
}
