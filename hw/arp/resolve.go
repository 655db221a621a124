package arp

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// Resolve returns the MAC for ip when Lookup does not know it yet: it sends an ARP who-has from
// the box on the watched interface (when ip is on one of its subnets), waits up to
// ResolveTimeout for the answer to be captured, then falls back to the kernel's neighbour table.
// What it finds is kept, so the next Lookup answers from memory. IPv6 addresses are not resolved.
func (t *Table) Resolve(ctx context.Context, ip netip.Addr) (mac string, ok bool) {
	ip = ip.Unmap()
	if mac, ok := t.Lookup(ip); ok {
		return mac, true
	}
	if !ip.Is4() {
		return "", false
	}
	if l := t.link.Load(); l != nil && !t.closed.Load() && !t.recentlyFailed(ip) {
		if mac, ok := t.ask(ctx, l, ip); ok {
			return mac, true
		}
	}
	if ctx.Err() != nil {
		return "", false
	}
	hw, ok := readProc(t.o.ProcPath, ip, t.o.Interface)
	if !ok {
		return "", false
	}
	t.learn(ip, hw, SourceNeigh)
	return formatMAC(hw), true
}

func (t *Table) recentlyFailed(ip netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.negative[ip]
	return ok && t.now()-at <= negativeTTL
}

// ask broadcasts a who-has for ip and waits for the capture goroutine to learn it. It sends a
// second request halfway through the wait in case the first was lost.
func (t *Table) ask(ctx context.Context, l *link, ip netip.Addr) (string, bool) {
	sender, onLink := senderFor(l.ifi, ip)
	if !onLink {
		return "", false // off the LAN: nobody would answer
	}
	frame, err := whoHas(l.ifi.HardwareAddr, sender, ip)
	if err != nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, t.o.ResolveTimeout)
	defer cancel()
	retry := time.NewTimer(t.o.ResolveTimeout / 2)
	defer retry.Stop()

	wait := t.learnedChan()
	if mac, ok := t.Lookup(ip); ok {
		return mac, true
	}
	if err := l.conn.WriteFrame(frame); err != nil {
		t.log.Warn("arp: who-has not sent", "ip", ip, "interface", t.o.Interface, "err", err)
		return "", false
	}
	for {
		select {
		case <-wait:
			wait = t.learnedChan()
			if mac, ok := t.Lookup(ip); ok {
				return mac, true
			}
		case <-retry.C:
			_ = l.conn.WriteFrame(frame)
		case <-ctx.Done():
			t.mu.Lock()
			if len(t.negative) < maxNegative {
				t.negative[ip] = t.now()
			}
			t.mu.Unlock()
			return "", false
		}
	}
}

func (t *Table) learnedChan() chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.learned
}

// senderFor picks the interface address on ip's subnet as the who-has sender. If the interface
// has no IPv4 address at all it sends a probe (sender 0.0.0.0) and lets the LAN decide; if it has
// addresses but none on ip's subnet, ip is not on this LAN.
func senderFor(ifi *net.Interface, ip netip.Addr) (netip.Addr, bool) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.IPv4Unspecified(), true
	}
	any4 := false
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		p, ok := netip.AddrFromSlice(n.IP)
		if !ok || !p.Unmap().Is4() {
			continue
		}
		any4 = true
		ones, _ := n.Mask.Size()
		if pfx := netip.PrefixFrom(p.Unmap(), ones); pfx.Contains(ip) {
			return p.Unmap(), true
		}
	}
	return netip.IPv4Unspecified(), !any4
}
