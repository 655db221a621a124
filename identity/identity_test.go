package identity

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// table is a neighbour table that knows fixed pairs: the policy's decisions, without a LAN
// (the LAN itself: hw/arp's netns tests and cmd/multimsg's end-to-end test).
type table map[netip.Addr]string

func (t table) Lookup(ip netip.Addr) (string, bool) { m, ok := t[ip]; return m, ok }

func (t table) Resolve(context.Context, netip.Addr) (string, bool) { return "", false }

const (
	macA = "02:00:00:00:00:0a"
	macB = "02:00:00:00:00:0b"
)

var (
	ipA = netip.MustParseAddr("10.77.0.10")
	ipB = netip.MustParseAddr("10.77.0.11")
)

// block_macs refuses a device even with no allow-list, wins over allow_macs, and switches
// with SetPolicy for the next request; names are the admin's labels.
func TestBlockAndNames(t *testing.T) {
	id := &Identity{Neighbors: table{ipA: macA, ipB: macB}}
	for _, tc := range []struct {
		name      string
		pol       Policy
		refusedA  string // Refusal(macA)
		identifyA error
	}{
		{"no lists", Policy{}, "", nil},
		{"blocked", Policy{Block: map[string]bool{macA: true}}, "blocked", ErrNotAllowed},
		{"blocked and allowed", Policy{Allow: map[string]bool{macA: true, macB: true}, Block: map[string]bool{macA: true}}, "blocked", ErrNotAllowed},
		{"only another allowed", Policy{Allow: map[string]bool{macB: true}}, "not allowed", ErrNotAllowed},
		{"unblocked", Policy{Block: map[string]bool{}}, "", nil},
	} {
		id.SetPolicy(tc.pol)
		if got := id.Refusal(macA); got != tc.refusedA {
			t.Errorf("%s: Refusal(%s) = %q, want %q", tc.name, macA, got, tc.refusedA)
		}
		dev, err := id.Identify(context.Background(), ipA)
		if !errors.Is(err, tc.identifyA) || (err == nil && dev != macA) {
			t.Errorf("%s: Identify(%v) = %q, %v, want %v", tc.name, ipA, dev, err, tc.identifyA)
		}
		if tc.refusedA == "blocked" && (err == nil || !strings.Contains(err.Error(), "is blocked on this box (block_macs)")) {
			t.Errorf("%s: the refusal %v does not say the device is blocked", tc.name, err)
		}
		if _, err := id.Identify(context.Background(), ipB); err != nil {
			t.Errorf("%s: Identify(%v) = %v, want device B let in", tc.name, ipB, err)
		}
	}
	id.SetPolicy(Policy{Names: map[string]string{macA: "Boiler room"}, Block: map[string]bool{Local: true}})
	if id.Name(macA) != "Boiler room" || id.Name(macB) != "" {
		t.Errorf("Name(A) = %q, Name(B) = %q, want Boiler room and none", id.Name(macA), id.Name(macB))
	}
	if dev, err := id.Identify(context.Background(), netip.MustParseAddr("127.0.0.1")); dev != Local || err != nil || id.Refusal(Local) != "" {
		t.Errorf("the box itself: %q, %v, refusal %q; want local, never refused", dev, err, id.Refusal(Local))
	}
}
