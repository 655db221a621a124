//go:build linux

package main

// Issue 11, items 7 and 14, end to end: the real binary on an nslan LAN, attacked by a host
// that forges 100,000 ARP frames with random MACs; and the same binary run unprivileged with
// only CAP_NET_RAW.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"multimsg/internal/peertest"
	"multimsg/internal/poll"
)

// floodPy sends argv[2] ARP requests on interface argv[1], each from a random locally
// administered MAC (the Ethernet source and the ARP sender agree, so the frames pass the
// watcher's forgery check: the worst case) and a sender address of its own, then one from
// argv[3]/argv[4], the marker the test waits for.
const floodPy = `
import os, socket, struct, sys
iface, n, mmac, mip = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3].replace(':', '')), socket.inet_aton(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
def frame(mac, ip):
    f = b'\xff' * 6 + mac + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + ip + b'\x00' * 6 + bytes([10, 77, 0, 250])
    return f + b'\x00' * (60 - len(f))
for i in range(n):
    mac = bytes([0x02]) + os.urandom(5)
    ip = bytes([10, 64 + (i >> 16), (i >> 8) & 255, i & 255])
    while True:
        try:
            s.send(frame(mac, ip))
            break
        except BlockingIOError:
            pass
s.send(frame(mmac, mip))
`

// procStatus reads a field of /proc/pid/status in kB.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// TestE2EARPFlood: 100,000 forged ARP frames leave the gateway's memory, its database and its
// admin status flat (issue 11, item 7). It logs the figures for the closing note; run it
// against another build with MULTIMSG_E2E_BIN=path to compare.
func TestE2EARPFlood(t *testing.T) {
	peertest.Root(t, "network namespaces need root")
	peertest.Binary(t, "ip")
	py := peertest.Binary(t, "python3")
	peertest.Binary(t, "ping")
	bin := os.Getenv("MULTIMSG_E2E_BIN")
	if bin == "" {
		bin = buildE2EBinary(t, t.TempDir())
	}
	lan, gw, a, b := e2eLAN(t)
	s := startE2EServerWith(t, bin, gw, `unknown_device = "reject"`, e2eOptions{logLevel: "info", tables: "[store]\nsweep_every = \"1s\""})
	s.upload(t, b, "an honest device")

	type figures struct {
		rssAnon, rss  int64 // kB
		status        int   // bytes of /admin/api/status
		devices, arps int
	}
	measure := func() figures {
		code, body := e2eCurl(t, gw, "-u", "admin:"+e2eAdminPassword, "http://127.0.0.1:8080/admin/api/status")
		if code != 200 {
			t.Fatalf("/admin/api/status = %d", code)
		}
		st := s.status(t)
		return figures{rssAnon: procStatus(t, s.pid, "RssAnon"), rss: procStatus(t, s.pid, "VmRSS"), status: len(body),
			devices: len(st.Devices), arps: len(st.Extra.ARP)}
	}
	dbSize := func() int64 {
		fi, err := os.Stat(filepath.Join(s.dir, "multimsg.db"))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before, dbBefore := measure(), dbSize()

	const frames = 100_000
	marker := lan.Add(t, "m", "02:77:00:00:00:4d", netip.MustParseAddr("10.77.0.77"))
	start := time.Now()
	a.Run(t, py, "-c", floodPy, a.Link, strconv.Itoa(frames), marker.MAC, marker.IP.String())
	sent := time.Since(start)
	// the marker is the last frame: once the watcher knows it, it has been through the flood
	// the frames the socket could not queue are dropped by the kernel (they cost nothing), and
	// the marker may be among them: the marker host then ARPs for the box itself until it is known
	poll.Until(t, 60*time.Second, "the watcher to learn the marker host", func() bool {
		if _, ok := s.status(t).arp(marker.IP); ok {
			return true
		}
		marker.IPCmd(t, "neigh", "flush", "all")
		_ = marker.Command(context.Background(), "ping", "-c1", "-W1", gw.IP.String()).Run()
		return false
	})
	took := time.Since(start)
	// two sweeps (1 s apart) have flushed the device registry by now
	poll.Until(t, 10*time.Second, "a sweep after the flood", func() bool { return time.Since(start) > took+2500*time.Millisecond })
	after, dbAfter := measure(), dbSize()
	s.upload(t, b, "the honest device after the flood")

	// stop it (SIGTERM, as the box does: the registry is flushed) and look into its database
	if err := syscall.Kill(s.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var stored int
	poll.Until(t, 20*time.Second, "multimsg to stop and release its database", func() bool {
		db, err := bolt.Open(filepath.Join(s.dir, "multimsg.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: 50 * time.Millisecond})
		if err != nil {
			return false
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error { stored = tx.Bucket([]byte("devices")).Stats().KeyN; return nil }) == nil
	})
	dbStopped := dbSize()
	t.Logf("ARP flood: %d forged frames sent in %v, through the watcher in %v", frames, sent.Round(time.Millisecond), took.Round(time.Millisecond))
	t.Logf("  RssAnon %d → %d kB, VmRSS %d → %d kB", before.rssAnon, after.rssAnon, before.rss, after.rss)
	t.Logf("  database file %d → %d bytes (%d after a clean stop, %d devices in it)", dbBefore, dbAfter, dbStopped, stored)
	t.Logf("  /admin/api/status %d → %d bytes; devices listed %d → %d; ARP entries listed %d → %d",
		before.status, after.status, before.devices, after.devices, before.arps, after.arps)
	if after.devices > 1+1 { // b, and the marker never makes a request
		t.Errorf("device registry lists %d devices after the flood, want only the one that made requests", after.devices)
	}
	if dbStopped > 2*dbBefore+(1<<20) || stored > 2 {
		t.Errorf("database grew from %d to %d bytes under the flood, with %d devices in it", dbBefore, dbStopped, stored)
	}
	if after.status > 64<<10 {
		t.Errorf("/admin/api/status grew to %d bytes under the flood", after.status)
	}
	if grow := after.rssAnon - before.rssAnon; grow > 16<<10 {
		t.Errorf("RssAnon grew by %d kB under the flood, want under 16 MiB", grow)
	}
}

// TestE2EUnprivileged: the service needs no root, only CAP_NET_RAW for the ARP watcher (issue
// 11, item 14): run as nobody with that one capability (what the box's systemd unit and init
// script do), it learns devices from ARP and serves them.
func TestE2EUnprivileged(t *testing.T) {
	peertest.Root(t, "network namespaces need root")
	peertest.Binary(t, "ip")
	setpriv := peertest.Binary(t, "setpriv")
	bin := buildE2EBinary(t, t.TempDir())
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	_, gw, a, _ := e2eLAN(t)
	const nobody = 65534
	s := startE2EServerWith(t, bin, gw, `unknown_device = "reject"`, e2eOptions{owner: nobody,
		wrap: []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
			"--inh-caps=-all,+net_raw", "--ambient-caps=-all,+net_raw", "--bounding-set=-all,+net_raw"}})
	uid := procStatusLine(t, s.pid, "Uid")
	capEff := procStatusLine(t, s.pid, "CapEff")
	if f := strings.Fields(uid); len(f) == 0 || f[0] != strconv.Itoa(nobody) {
		t.Fatalf("multimsg runs with Uid %q, want %d", uid, nobody)
	}
	if capEff != "0000000000002000" { // CAP_NET_RAW (13) only
		t.Fatalf("multimsg has CapEff %s, want only CAP_NET_RAW (0000000000002000)", capEff)
	}
	s.upload(t, a, "from an unprivileged gateway")
	if e, ok := s.status(t).arp(a.IP); !ok || e.MAC != a.MAC || e.Source != "arp" {
		t.Fatalf("ARP entry for %v = %+v, %v; want %s learned from ARP by the unprivileged watcher", a.IP, e, ok, a.MAC)
	}
}

// procStatusLine reads a field of /proc/pid/status as text.
func procStatusLine(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return ""
}
