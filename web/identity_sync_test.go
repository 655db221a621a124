package web

import (
	"context"
	"net/netip"
	"testing"
)

// syncingNeighbors learns its pair only when synced, like hw/arp's Table with an ARP frame still
// queued on its socket.
type syncingNeighbors struct {
	synced bool
}

func (n *syncingNeighbors) Sync() { n.synced = true }

func (n *syncingNeighbors) Lookup(netip.Addr) (string, bool) {
	if !n.synced {
		return "02:00:00:00:00:0a", true // the address's previous owner
	}
	return "02:00:00:00:00:0c", true
}

func (n *syncingNeighbors) Resolve(context.Context, netip.Addr) (string, bool) { return "", false }

func TestIdentifySyncsBeforeLookup(t *testing.T) {
	id := &Identity{Neighbors: &syncingNeighbors{}}
	dev, err := id.Identify(context.Background(), netip.MustParseAddr("10.77.0.10"))
	if err != nil || dev != "02:00:00:00:00:0c" {
		t.Fatalf("Identify = %q, %v; want the owner after Sync, 02:00:00:00:00:0c", dev, err)
	}
}
