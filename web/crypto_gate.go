package web

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// cryptoGate bounds the CPU that unauthenticated requests can make the box spend on private-key
// work (issue 11, item 4): bcrypt (~100 ms a check on a Pi) for logins, RSA-3072 decryption
// (~10 ms) for encrypted uploads. Without it, a few hundred parallel requests keep every core
// busy and the box stops answering its real clients.
type cryptoGate struct {
	now func() time.Time

	bcryptSlots chan struct{} // logins checked at once
	rsaSlots    chan struct{} // key parts unwrapped at once

	mu      sync.Mutex // guards buckets
	buckets map[string]*bucket
}

const (
	bcryptAtOnce = 2
	bcryptWait   = 2 * time.Second // a login waits this long for a slot before 503
	rsaWait      = 5 * time.Second
	// rsaRate and rsaBurst are the encrypted uploads one device may make per second, and at once.
	rsaRate  = 5.0
	rsaBurst = 20
	// maxBuckets bounds the per-device table; a full table forgets its idlest device.
	maxBuckets = 4096
)

var (
	errBcryptBusy = &busyError{"the gateway is checking other logins; try again in a moment"}
	errRSABusy    = &busyError{"the gateway is decrypting other uploads; try again in a few seconds"}
	errRSARate    = &reqError{status: 429, msg: "too many encrypted uploads from this device; slow down (at most 5 a second)"}
)

type bucket struct {
	tokens float64
	at     time.Time
}

func newCryptoGate(now func() time.Time) *cryptoGate {
	n := runtime.NumCPU()
	return &cryptoGate{now: now, bcryptSlots: make(chan struct{}, bcryptAtOnce), rsaSlots: make(chan struct{}, n),
		buckets: map[string]*bucket{}}
}

func acquire(ctx context.Context, slots chan struct{}, wait time.Duration) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// bcrypt runs check in one of the bcrypt slots.
func (g *cryptoGate) bcrypt(ctx context.Context, check func() bool) (bool, error) {
	if !acquire(ctx, g.bcryptSlots, bcryptWait) {
		return false, errBcryptBusy
	}
	defer func() { <-g.bcryptSlots }()
	return check(), nil
}

// rsa runs unwrap for device dev under its rate and in one of the RSA slots.
func (g *cryptoGate) rsa(ctx context.Context, dev string, unwrap func() error) error {
	if !g.allow(dev) {
		return errRSARate
	}
	if !acquire(ctx, g.rsaSlots, rsaWait) {
		return errRSABusy
	}
	defer func() { <-g.rsaSlots }()
	return unwrap()
}

// allow takes a token from dev's bucket.
func (g *cryptoGate) allow(dev string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	b := g.buckets[dev]
	if b == nil {
		if len(g.buckets) >= maxBuckets {
			var idle string
			var at time.Time
			for k, v := range g.buckets {
				if at.IsZero() || v.at.Before(at) {
					idle, at = k, v.at
				}
			}
			delete(g.buckets, idle)
		}
		b = &bucket{tokens: rsaBurst, at: now}
		g.buckets[dev] = b
	}
	b.tokens = min(rsaBurst, b.tokens+now.Sub(b.at).Seconds()*rsaRate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
