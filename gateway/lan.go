package gateway

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"multimsg/hw/arp"
)

// lan is the ARP watcher the device identity asks (identity.Neighbors): the table on the
// configured interface, replaced by one on another interface when the setting changes
// (Reload), without a restart. The new table starts empty and learns the new LAN; the old one
// is closed, so nothing it learned answers for the new LAN.
type lan struct {
	log *slog.Logger
	cur atomic.Pointer[arp.Table]
	mu  sync.Mutex // one Switch at a time
}

func openLAN(iface string, log *slog.Logger) (*lan, error) {
	t, err := arp.Open(arp.Options{Interface: iface}, log)
	if err != nil {
		return nil, err
	}
	l := &lan{log: log}
	l.cur.Store(t)
	return l, nil
}

func (l *lan) Lookup(ip netip.Addr) (string, bool) { return l.cur.Load().Lookup(ip) }

func (l *lan) Resolve(ctx context.Context, ip netip.Addr) (string, bool) {
	return l.cur.Load().Resolve(ctx, ip)
}

// Sync is identity.Syncer: the current table's.
func (l *lan) Sync() { l.cur.Load().Sync() }

// Entries are the current table's, for the status page.
func (l *lan) Entries() []arp.Entry { return l.cur.Load().Entries() }

// Run runs the current table until ctx is done; when Switch replaces it (closing it, which
// ends its Run), the new one runs in its place.
func (l *lan) Run(ctx context.Context) error {
	for {
		t := l.cur.Load()
		err := t.Run(ctx)
		if ctx.Err() != nil || l.cur.Load() == t {
			return err // the end, or the table closed without a replacement (Close)
		}
	}
}

// Switch opens a table on iface ("" = the kernel's neighbour table only) and puts it in place
// of the current one, which is closed. On error (no such interface, no permission) the
// current table stays.
func (l *lan) Switch(iface string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, err := arp.Open(arp.Options{Interface: iface}, l.log)
	if err != nil {
		return err
	}
	old := l.cur.Swap(t)
	old.Close() // its Run returns; lan.Run starts t's
	l.log.Info("arp: watching another interface", "interface", iface)
	return nil
}

// Close closes the current table.
func (l *lan) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur.Load().Close()
}
