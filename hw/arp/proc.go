package arp

import (
	"bufio"
	"bytes"
	"context"
	"net/netip"
	"os"
	"strings"
)

// ProcTable reads the kernel neighbour table at Path (default /proc/net/arp).
type ProcTable struct {
	Path string
}

// Lookup always misses: reading the kernel table is a syscall, kept off the memory-only path.
func (p *ProcTable) Lookup(netip.Addr) (string, bool) { return "", false }

// Resolve finds ip in the kernel neighbour table.
func (p *ProcTable) Resolve(_ context.Context, ip netip.Addr) (string, bool) {
	path := p.Path
	if path == "" {
		path = "/proc/net/arp"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	return parseProc(b, ip)
}

// parseProc finds ip in the text of /proc/net/arp:
//
//	IP address       HW type     Flags       HW address            Mask     Device
//	192.0.2.1        0x1         0x2         52:54:00:12:34:56     *        eth0
//
// Incomplete entries (flags 0x0, MAC all zero) do not count.
func parseProc(b []byte, ip netip.Addr) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil || a != ip.Unmap() {
			continue
		}
		if f[2] == "0x0" || f[3] == "00:00:00:00:00:00" {
			continue
		}
		return strings.ToLower(f[3]), true
	}
	return "", false
}
