package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"multimsg/update"
)

// commitWhenHealthy marks the booted slot good once the service is healthy after boot, then
// raises the store's schema (SPEC §12). Until then a failed release can still fall back: the
// boot counter and the watchdog bring the previous slot back, and it finds data it can read.
// On a system without RAUC there is nothing to fall back to, and the schema is raised at once.
func (g *Gateway) commitWhenHealthy(ctx context.Context) {
	const every = 2 * time.Second
	t := time.NewTicker(every)
	defer t.Stop()
	var last error
	for {
		err := g.healthy(ctx)
		if err == nil {
			break
		}
		if last == nil || err.Error() != last.Error() {
			g.log.Info("update: not yet healthy; the booted slot stays unconfirmed", "reason", err)
		}
		last = err
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	switch err := g.Update.MarkGood(ctx); {
	case errors.Is(err, update.ErrUnavailable):
		// no RAUC: a single-slot system (or a laptop)
	case err != nil:
		g.log.Error("update: marking the booted slot good failed; the data schema stays as it is", "err", err)
		return
	}
	if err := g.Store.UpgradeSchema(ctx); err != nil && ctx.Err() == nil {
		g.log.Error("store: schema upgrade", "err", err)
	}
}

// healthy is the mark-good condition: the store takes writes, HTTP answers /healthz on our own
// listener, the dispatcher's loop runs, and the watchdog (when armed) has been petted.
func (g *Gateway) healthy(ctx context.Context) error {
	if err := g.Store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if !g.Disp.Alive(15 * time.Second) {
		return errors.New("the dispatcher's loop is not running")
	}
	if g.cfg.Watchdog != "" && g.dogArmed.Load() && !g.dogPetted.Load() {
		return errors.New("the watchdog has not been petted yet")
	}
	host, port, err := net.SplitHostPort(g.ln.Addr().String())
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(hctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("HTTP: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP: /healthz answered %d", resp.StatusCode)
	}
	return nil
}
