package arp

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
)

// maxProcSize bounds how much of the kernel table is read (a /16 full of neighbours is ~5 MiB).
const maxProcSize = 8 << 20

// readProc finds ip in the kernel table at path, on interface dev ("" = any).
func readProc(path string, ip netip.Addr, dev string) ([6]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return [6]byte{}, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxProcSize))
	if err != nil {
		return [6]byte{}, false
	}
	return parseProc(b, ip, dev)
}

// parseProc finds ip in the text of /proc/net/arp:
//
//	IP address       HW type     Flags       HW address            Mask     Device
//	192.0.2.1        0x1         0x2         52:54:00:12:34:56     *        eth0
//
// Incomplete entries (flags 0x0, MAC all zero) and non-Ethernet hardware do not count. With dev
// set, only entries on that device do.
func parseProc(b []byte, ip netip.Addr, dev string) ([6]byte, bool) {
	ip = ip.Unmap()
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
		if err != nil || a != ip {
			continue
		}
		if dev != "" && (len(f) < 6 || f[5] != dev) {
			continue
		}
		if f[2] == "0x0" {
			continue
		}
		hw, err := net.ParseMAC(f[3])
		if err != nil || len(hw) != 6 {
			continue
		}
		m := [6]byte(hw)
		if m == [6]byte{} || m[0]&1 != 0 {
			continue
		}
		return m, true
	}
	return [6]byte{}, false
}
