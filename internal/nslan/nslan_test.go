//go:build linux

package nslan

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestLANPing(t *testing.T) {
	lan := New(t)
	gw := lan.Add(t, "gw", "02:77:00:00:00:01", netip.MustParseAddr("10.77.0.1"))
	a := lan.Add(t, "a", "02:77:00:00:00:0A", netip.MustParseAddr("10.77.0.10"))
	if a.MAC != "02:77:00:00:00:0a" {
		t.Fatalf("MAC = %q, want lower case", a.MAC)
	}
	a.Run(t, "ping", "-c", "1", "-W", "5", gw.IP.String())
	if arp := gw.KernelARP(t); !strings.Contains(arp, "02:77:00:00:00:0a") {
		t.Fatalf("gateway's ARP table after ping lacks a's MAC:\n%s", arp)
	}
	gw.FlushNeighbors(t)
	if arp := gw.KernelARP(t); strings.Contains(arp, "10.77.0.10 ") {
		t.Fatalf("gateway's ARP table after flush:\n%s", arp)
	}
	// The host's namespace never sees the LAN's interfaces.
	if _, err := os.Stat("/sys/class/net/p1"); err == nil {
		t.Fatal("a LAN port leaked into the host namespace")
	}
}

func TestCleanupRemovesNamespaces(t *testing.T) {
	var names []string
	t.Run("lan", func(t *testing.T) {
		lan := New(t)
		h := lan.Add(t, "x", "02:77:00:00:00:02", netip.Addr{})
		names = []string{lan.sw, h.NS}
	})
	for _, n := range names {
		if _, err := os.Stat(netnsDir + "/" + n); err == nil {
			t.Errorf("namespace %s still exists after the test ended", n)
		}
	}
}

func TestRemoveStale(t *testing.T) {
	lan := New(t) // ensures root, ip, and the one-time sweep has run
	// A LAN named after a pid that cannot be running (above pid_max).
	dead := Prefix + "4194305-1-sw"
	lan.ip(t, "netns", "add", dead)
	t.Cleanup(func() { delNetns(lan.ipBin, dead) })
	removeStale(t, lan.ipBin)
	if _, err := os.Stat(netnsDir + "/" + dead); err == nil {
		t.Fatalf("stale namespace %s survived", dead)
	}
	if _, err := os.Stat(netnsDir + "/" + lan.sw); err != nil {
		t.Fatalf("live namespace %s was removed: %v", lan.sw, err)
	}
}

func TestRouter(t *testing.T) {
	lan := New(t)
	far := NewSegment(t, netip.MustParsePrefix("10.77.1.0/24"))
	gw := lan.Add(t, "gw", "02:77:00:00:00:01", netip.MustParseAddr("10.77.0.1"))
	r := lan.Add(t, "r", "02:77:00:00:00:fe", netip.MustParseAddr("10.77.0.254"))
	far.Attach(t, r, "eth1", "02:77:00:01:00:fe", netip.MustParseAddr("10.77.1.254"))
	r.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	x := far.Add(t, "x", "02:77:00:01:00:0a", netip.MustParseAddr("10.77.1.10"))
	x.IPCmd(t, "route", "add", "default", "via", "10.77.1.254")
	gw.IPCmd(t, "route", "add", far.Subnet.String(), "via", r.IP.String())
	x.Run(t, "ping", "-c", "1", "-W", "5", gw.IP.String())
	if arp := gw.KernelARP(t); strings.Contains(arp, "02:77:00:01:00:0a") || !strings.Contains(arp, r.MAC) {
		t.Fatalf("gateway's ARP table should hold the router, not the far host:\n%s", arp)
	}
}
