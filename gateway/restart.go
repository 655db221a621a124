package gateway

import (
	"context"
	"errors"
)

// ErrRestart is what Run returns after Restart: the gateway stopped cleanly (requests
// answered, sends in flight returned or left queued, the store closed) so that its caller can
// start it again — cmd/multimsg re-executes its own binary with the same arguments
// (docs/DESIGN.md, "Restarting from the page").
var ErrRestart = errors.New("gateway: stopped for a restart")

// Restart stops a running gateway as a signal would, and has Run return ErrRestart. It
// returns at once; the stop happens in Run. Before Run it only marks the restart.
func (g *Gateway) Restart() {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	g.restarting = true
	if g.stopRun != nil {
		g.stopRun()
	}
}

// runContext is ctx, ended also by Restart.
func (g *Gateway) runContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	g.stopRun = cancel
	if g.restarting {
		cancel()
	}
	return ctx, cancel
}

// restartRequested reports whether Restart was called.
func (g *Gateway) restartRequested() bool {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	return g.restarting
}
