// Package identity decides which device a LAN peer is (SPEC §3): its MAC address from ARP, the
// allow- and block-lists, the admin's label for it, and what to do with a peer whose MAC is
// unknown (unknown_device). Every door of the
// box that takes jobs from devices (web's HTTP API, mailin's SMTP listener) asks the same
// Identity, so a device owns the same jobs whichever door it used.
package identity

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

var (
	// ErrUnknownDevice: the peer's IP has no known MAC and unknown_device is "reject".
	ErrUnknownDevice = errors.New("device unknown")
	// ErrNotAllowed: the peer's MAC is not in allow_macs, or is in block_macs.
	ErrNotAllowed = errors.New("device not allowed")
)

// Neighbors resolves a LAN peer's IP to its MAC (hw/arp implements it).
type Neighbors interface {
	// Lookup answers from memory: no syscall, no allocation.
	Lookup(ip netip.Addr) (mac string, ok bool)
	// Resolve may block briefly (an ARP who-has, the kernel's table); ctx bounds it.
	Resolve(ctx context.Context, ip netip.Addr) (mac string, ok bool)
}

// Syncer is implemented by Neighbors that learn in the background (hw/arp's Table): Sync makes
// the next Lookup reflect every ARP frame the box has received so far. Identify calls it first,
// so that a device which has just taken over an address is not looked up as the previous owner
// before the capture goroutine has run (the device's ARP always arrives before its request).
type Syncer interface {
	Sync()
}

// Identity turns a peer's source address into the device that owns its jobs (SPEC §3).
type Identity struct {
	Neighbors      Neighbors
	UnknownByIP    bool            // unknown_device = "ip"
	Allow          map[string]bool // allow_macs; empty: every device
	ResolveTimeout time.Duration   // bound on Resolve; default 500ms

	live atomic.Pointer[Policy] // set by SetPolicy; replaces UnknownByIP and Allow
}

// Policy is what an admin may change while the box runs (settings page, SIGHUP). Its maps are
// read-only once set, and keyed by MACs as ARP writes them (lower case, colons).
type Policy struct {
	UnknownByIP bool
	Allow       map[string]bool   // allow_macs; empty: every device
	Block       map[string]bool   // block_macs: refused even when Allow is empty; wins over Allow
	Names       map[string]string // device_names: the admin's label per MAC
}

// SetPolicy replaces unknown_device, allow_macs, block_macs and device_names for the requests
// that follow.
func (id *Identity) SetPolicy(p Policy) { id.live.Store(&p) }

// Name is the admin's label for device (a MAC), "" when it has none.
func (id *Identity) Name(device string) string { return id.policy().Names[device] }

// Refusal says why a device with this MAC would be refused now: "blocked" (block_macs), "not
// allowed" (allow_macs lists others), or "" when it is let in.
func (id *Identity) Refusal(mac string) string {
	if mac == Local { // the box itself is never refused
		return ""
	}
	return id.policy().Refusal(mac)
}

// NewPolicy is the policy of the device keys: unknown_device = "ip", allow_macs, block_macs
// and device_names (MACs as config.Validate writes them). The maps are the policy's own.
func NewPolicy(unknownByIP bool, allow, block []string, names map[string]string) Policy {
	set := func(macs []string) map[string]bool {
		out := make(map[string]bool, len(macs))
		for _, m := range macs {
			out[m] = true
		}
		return out
	}
	return Policy{UnknownByIP: unknownByIP, Allow: set(allow), Block: set(block), Names: maps.Clone(names)}
}

// Refusal is the one rule for a device with a known MAC: "blocked" (a block wins over
// everything), "not allowed" (a non-empty allow-list admits only its MACs), or "" (let in).
func (p Policy) Refusal(mac string) string {
	switch {
	case p.Block[mac]:
		return "blocked"
	case len(p.Allow) > 0 && !p.Allow[mac]:
		return "not allowed"
	}
	return ""
}

func (id *Identity) policy() Policy {
	if p := id.live.Load(); p != nil {
		return *p
	}
	return Policy{UnknownByIP: id.UnknownByIP, Allow: id.Allow}
}

// Local is the device name of requests from the box itself.
const Local = "local"

// Identify returns the device behind ip.
func (id *Identity) Identify(ctx context.Context, ip netip.Addr) (string, error) {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return Local, nil
	}
	pol := id.policy()
	mac, ok := "", false
	if id.Neighbors != nil {
		if s, isSyncer := id.Neighbors.(Syncer); isSyncer {
			s.Sync()
		}
		if mac, ok = id.Neighbors.Lookup(ip); !ok {
			t := id.ResolveTimeout
			if t <= 0 {
				t = 500 * time.Millisecond
			}
			rctx, cancel := context.WithTimeout(ctx, t)
			mac, ok = id.Neighbors.Resolve(rctx, ip)
			cancel()
		}
	}
	if !ok {
		if !pol.UnknownByIP {
			return "", fmt.Errorf("%w: no MAC address is known for %s (no ARP answer); this box identifies devices by MAC — is the device on the same LAN segment, not behind a router?", ErrUnknownDevice, ip)
		}
		if len(pol.Allow) > 0 {
			return "", fmt.Errorf("%w: %s has no known MAC address, and allow_macs admits only listed MACs", ErrNotAllowed, ip)
		}
		return "ip:" + ip.String(), nil
	}
	switch pol.Refusal(mac) {
	case "blocked":
		return "", fmt.Errorf("%w: device %s (%s) is blocked on this box (block_macs); ask the admin to unblock it", ErrNotAllowed, mac, ip)
	case "not allowed":
		return "", fmt.Errorf("%w: device %s (%s) is not in this box's allow_macs; ask the admin to add it", ErrNotAllowed, mac, ip)
	}
	return mac, nil
}

// AddrOf converts a net.IP (fasthttp's RemoteIP, a net.TCPAddr's IP) to the netip.Addr Identify takes.
func AddrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}
