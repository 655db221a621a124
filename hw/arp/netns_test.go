//go:build linux

package arp_test

// These tests run the watcher for real: inside the gateway namespace of an nslan LAN, as a child
// process (this test binary re-executed with MULTIMSG_ARP_HELPER set) started with ip netns exec,
// so its socket, its netlink queries and its /proc/net/arp are all the gateway's. The child logs
// JSON lines on stdout and takes commands on stdin.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"multimsg/hw/arp"
	"multimsg/internal/nslan"
	"multimsg/internal/peertest"
)

const helperEnv = "MULTIMSG_ARP_HELPER" // interface to watch, in helper mode

func TestMain(m *testing.M) {
	if iface, ok := os.LookupEnv(helperEnv); ok {
		os.Exit(helperMain(iface))
	}
	os.Exit(m.Run())
}

// lockedWriter keeps concurrent log lines whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// helperMain runs a watcher on iface. Commands on stdin: "resolve IP", "lookup IP", "entries";
// EOF closes the table and exits.
func helperMain(iface string) int {
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: os.Stdout}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	tb, err := arp.Watch(ctx, arp.Options{
		Interface:      iface,
		ResolveTimeout: 300 * time.Millisecond,
		OnLearn: func(ip netip.Addr, mac string) {
			log.Info("helper: learned", "ip", ip, "mac", mac, "t", time.Now().UnixNano())
		},
	}, log)
	if err != nil {
		var ie *arp.InterfaceError
		log.Error("helper: watch failed", "err", err.Error(),
			"permission", errors.Is(err, arp.ErrPermission), "no_interface", errors.Is(err, arp.ErrNoInterface),
			"interface_error", errors.As(err, &ie) && ie.Interface == iface)
		return 1
	}
	log.Info("helper: ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "resolve":
			ip := netip.MustParseAddr(arg)
			start := time.Now()
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			mac, ok := tb.Resolve(rctx, ip)
			cancel()
			log.Info("helper: resolved", "ip", ip, "mac", mac, "ok", ok, "took", time.Since(start).String())
		case "lookup":
			ip := netip.MustParseAddr(arg)
			mac, ok := tb.Lookup(ip)
			log.Info("helper: lookup", "ip", ip, "mac", mac, "ok", ok)
		case "entries":
			log.Info("helper: entries", "entries", tb.Entries())
		}
	}
	start := time.Now()
	tb.Close()
	log.Info("helper: closed", "took", time.Since(start).String())
	return 0
}

// watcher is the test's handle on a helper process.
type watcher struct {
	stdin io.WriteCloser
	mu    sync.Mutex
	lines []map[string]any
	news  chan struct{} // signalled on each new line
	done  chan struct{} // closed when stdout ends
}

// startWatcher runs the helper in h's namespace, watching h.Link, and waits until it is ready.
func startWatcher(t *testing.T, h *nslan.Host) *watcher {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := h.Command(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+h.Link,
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")) // exit without the race runtime's 1 s linger
	cmd.Stderr = os.Stderr
	w := &watcher{news: make(chan struct{}, 1), done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"msg": "helper: unparsed", "line": sc.Text()}
			}
			w.mu.Lock()
			w.lines = append(w.lines, m)
			w.mu.Unlock()
			select {
			case w.news <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		start := time.Now()
		w.stdin.Close()
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			t.Error("helper did not exit after stdin closed")
		}
		cancel()
		cmd.Wait()
		took := "?"
		for _, m := range w.all() {
			if m["msg"] == "helper: closed" {
				took = fmt.Sprint(m["took"])
			}
		}
		t.Logf("Table.Close took %s; helper exited %v after stdin closed", took, time.Since(start))
	})
	w.wait(t, 0, "helper: ready", nil)
	return w
}

// mark is the index of the next line, for waiting on what happens after it.
func (w *watcher) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.lines)
}

// wait returns the first line at or after from with message msg matching pred; it fails t if
// none comes within 10 s or the helper exits.
func (w *watcher) wait(t *testing.T, from int, msg string, pred func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		for _, m := range w.lines[from:] {
			if m["msg"] == msg && (pred == nil || pred(m)) {
				w.mu.Unlock()
				return m
			}
		}
		w.mu.Unlock()
		select {
		case <-w.news:
		case <-w.done:
			// One last look: the line may have been the helper's last.
			w.mu.Lock()
			n := len(w.lines)
			w.mu.Unlock()
			if n == from {
				t.Fatalf("helper exited while waiting for %q", msg)
			}
			from = n
			select {
			case <-deadline:
			default:
				continue
			}
			t.Fatalf("helper exited while waiting for %q", msg)
		case <-deadline:
			t.Fatalf("no %q from the helper within 10 s; lines: %v", msg, w.all())
		}
	}
}

func (w *watcher) all() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lines)
}

// do sends a command and waits for its answer.
func (w *watcher) do(t *testing.T, cmd, arg, answer string) map[string]any {
	t.Helper()
	from := w.mark()
	if _, err := fmt.Fprintf(w.stdin, "%s %s\n", cmd, arg); err != nil {
		t.Fatal(err)
	}
	return w.wait(t, from, answer, nil)
}

func hasIP(ip netip.Addr) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["ip"] == ip.String() }
}

// newLAN builds a gateway and two clients.
func newLAN(t *testing.T) (lan *nslan.LAN, gw, a, b *nslan.Host) {
	peertest.Binary(t, "ping")
	lan = nslan.New(t)
	gw = lan.Add(t, "gw", "02:77:00:00:00:01", netip.MustParseAddr("10.77.0.1"))
	a = lan.Add(t, "a", "02:77:00:00:00:0a", netip.MustParseAddr("10.77.0.10"))
	b = lan.Add(t, "b", "02:77:00:00:00:0b", netip.MustParseAddr("10.77.0.11"))
	return lan, gw, a, b
}

func TestNetnsLearnsFromARP(t *testing.T) {
	_, gw, a, _ := newLAN(t)
	w := startWatcher(t, gw)
	gw.FlushNeighbors(t)
	from := w.mark()
	start := time.Now()
	a.Run(t, "ping", "-c", "1", "-W", "5", gw.IP.String())
	m := w.wait(t, from, "helper: learned", hasIP(a.IP))
	if m["mac"] != a.MAC {
		t.Fatalf("learned %v → %v, want %s", a.IP, m["mac"], a.MAC)
	}
	t.Logf("learned %s %s %v after the ping command started (includes starting ip netns exec + ping)",
		a.IP, a.MAC, time.Unix(0, int64(m["t"].(float64))).Sub(start))

	// The kernel forgets; the watcher does not, and Lookup never reads /proc/net/arp.
	gw.FlushNeighbors(t)
	if k := gw.KernelARP(t); strings.Contains(k, a.MAC) {
		t.Fatalf("gateway kernel table still has %s after flush:\n%s", a.MAC, k)
	}
	if m := w.do(t, "lookup", a.IP.String(), "helper: lookup"); m["ok"] != true || m["mac"] != a.MAC {
		t.Fatalf("Lookup(%v) after neigh flush = %v, want %s", a.IP, m, a.MAC)
	}
	es := w.do(t, "entries", "", "helper: entries")["entries"].([]any)
	found := false
	for _, e := range es {
		e := e.(map[string]any)
		if e["ip"] == a.IP.String() {
			found = true
			if e["mac"] != a.MAC || e["source"] != arp.SourceARP {
				t.Fatalf("entry %v, want %s from arp", e, a.MAC)
			}
		}
	}
	if !found {
		t.Fatalf("Entries() = %v, lacks %v", es, a.IP)
	}
}

func TestNetnsResolveSilentClient(t *testing.T) {
	_, gw, _, b := newLAN(t)
	w := startWatcher(t, gw)
	if k := gw.KernelARP(t); strings.Contains(k, b.MAC) {
		t.Fatalf("gateway kernel already knows b:\n%s", k)
	}
	if m := w.do(t, "lookup", b.IP.String(), "helper: lookup"); m["ok"] != false {
		t.Fatalf("Lookup(%v) of a silent client = %v, want miss", b.IP, m)
	}
	m := w.do(t, "resolve", b.IP.String(), "helper: resolved")
	if m["ok"] != true || m["mac"] != b.MAC {
		t.Fatalf("Resolve(%v) = %v, want %s", b.IP, m, b.MAC)
	}
	t.Logf("Resolve(%v) by who-has took %v", b.IP, m["took"])
	for _, e := range w.do(t, "entries", "", "helper: entries")["entries"].([]any) {
		if e := e.(map[string]any); e["ip"] == b.IP.String() && e["source"] != arp.SourceARP {
			t.Fatalf("entry %v came from %v, want the who-has answer (arp)", e, e["source"])
		}
	}

	// Nobody has 10.77.0.99: Resolve gives up after ResolveTimeout, then answers fast.
	m = w.do(t, "resolve", "10.77.0.99", "helper: resolved")
	if m["ok"] != false {
		t.Fatalf("Resolve(10.77.0.99) = %v, want miss", m)
	}
	t.Logf("Resolve of an absent address took %v (ResolveTimeout 300ms)", m["took"])
	m = w.do(t, "resolve", "10.77.0.99", "helper: resolved")
	t.Logf("again right away (negative cache, kernel table only): %v", m["took"])
	if d, _ := time.ParseDuration(m["took"].(string)); d >= 300*time.Millisecond {
		t.Fatalf("second Resolve of an absent address took %v, want the negative cache to skip the who-has", d)
	}
	// Off the LAN: no who-has at all.
	if m := w.do(t, "resolve", "192.0.2.1", "helper: resolved"); m["ok"] != false {
		t.Fatalf("Resolve(192.0.2.1) = %v", m)
	}
}

func TestNetnsAddressTakeover(t *testing.T) {
	lan, gw, a, _ := newLAN(t)
	c := lan.Add(t, "c", "02:77:00:00:00:0c", netip.Addr{})
	w := startWatcher(t, gw)
	from := w.mark()
	a.Run(t, "ping", "-c", "1", "-W", "5", gw.IP.String())
	w.wait(t, from, "helper: learned", hasIP(a.IP))

	// DHCP hands a's address to c.
	a.IPCmd(t, "addr", "del", a.IP.String()+"/24", "dev", a.Link)
	c.IPCmd(t, "addr", "add", a.IP.String()+"/24", "dev", c.Link)
	from = w.mark()
	c.Run(t, "ping", "-c", "1", "-W", "5", gw.IP.String())
	m := w.wait(t, from, "helper: learned", hasIP(a.IP))
	if m["mac"] != c.MAC {
		t.Fatalf("after takeover learned %v → %v, want %s", a.IP, m["mac"], c.MAC)
	}
	mv := w.wait(t, from, "arp: address moved to another MAC", hasIP(a.IP))
	if mv["old_mac"] != a.MAC || mv["mac"] != c.MAC || mv["level"] != "INFO" {
		t.Fatalf("move log = %v, want old_mac %s mac %s", mv, a.MAC, c.MAC)
	}
	if m := w.do(t, "lookup", a.IP.String(), "helper: lookup"); m["mac"] != c.MAC {
		t.Fatalf("Lookup(%v) after takeover = %v, want %s", a.IP, m, c.MAC)
	}
}

// TestNetnsTimeToLearn measures how long after a client's first ARP frame leaves its interface
// the watcher knows the pair: frames are sent from a socket opened in the client's namespace, so
// the clock starts at the write, not at a process start.
func TestNetnsTimeToLearn(t *testing.T) {
	_, gw, a, _ := newLAN(t)
	w := startWatcher(t, gw)
	var conn *arp.PacketConn
	var mac net.HardwareAddr
	if err := a.Do(func() error {
		ifi, err := net.InterfaceByName(a.Link)
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		conn, err = arp.Dial(ifi)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const rounds = 50
	var lat []time.Duration
	for i := range rounds {
		ip := netip.AddrFrom4([4]byte{10, 77, 0, byte(100 + i)})
		from := w.mark()
		f := arpRequest(t, mac, ip, gw.IP)
		start := time.Now()
		if err := conn.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
		m := w.wait(t, from, "helper: learned", hasIP(ip))
		lat = append(lat, time.Unix(0, int64(m["t"].(float64))).Sub(start))
	}
	slices.Sort(lat)
	t.Logf("time from a client's first ARP frame to the watcher knowing it, %d rounds: min %v median %v p90 %v max %v",
		rounds, lat[0], lat[rounds/2], lat[rounds*9/10], lat[rounds-1])
}

func arpRequest(t *testing.T, mac net.HardwareAddr, sender, target netip.Addr) []byte {
	t.Helper()
	s, g := sender.As4(), target.As4()
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{},
		&layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: mac, SourceProtAddress: s[:], DstHwAddress: make([]byte, 6), DstProtAddress: g[:]})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestNetnsStartErrors checks the errors a misconfigured box reports: a missing interface, and
// a process without CAP_NET_RAW (setpriv drops it from the bounding set, so even root lacks it).
func TestNetnsStartErrors(t *testing.T) {
	_, gw, _, _ := newLAN(t)
	setpriv := peertest.Binary(t, "setpriv")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := func(iface string, wrap ...string) map[string]any {
		t.Helper()
		args := append(append(wrap[min(1, len(wrap)):], exe), "-test.run=^$")
		name := exe
		if len(wrap) > 0 {
			name = wrap[0]
		} else {
			args = args[1:]
		}
		cmd := gw.Command(context.Background(), name, args...)
		cmd.Env = append(os.Environ(), helperEnv+"="+iface)
		out, err := cmd.Output()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("helper on %q: err %v, want exit status 1; output %s", iface, err, out)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil || m["msg"] != "helper: watch failed" {
			t.Fatalf("helper on %q: output %s", iface, out)
		}
		return m
	}
	m := run("nosuch0")
	if m["no_interface"] != true || m["interface_error"] != true || !strings.Contains(m["err"].(string), `"nosuch0"`) {
		t.Fatalf("missing interface: %v", m)
	}
	t.Logf("missing interface: %v", m["err"])
	t.Run("no CAP_NET_RAW", func(t *testing.T) {
		if out, err := exec.Command(setpriv, "--bounding-set", "-net_raw", "true").CombinedOutput(); err != nil {
			peertest.Missing(t, "CAP_SETPCAP", fmt.Sprintf("setpriv cannot drop CAP_NET_RAW here: %v %s", err, out))
		}
		m := run(gw.Link, setpriv, "--bounding-set", "-net_raw", "--inh-caps", "-net_raw")
		if m["permission"] != true || m["interface_error"] != true || !strings.Contains(m["err"].(string), `"eth0"`) {
			t.Fatalf("no CAP_NET_RAW: %v", m)
		}
		t.Logf("no CAP_NET_RAW: %v", m["err"])
	})
}

// TestNetnsCloseUnblocksRead checks the reason for the capture method: closing the socket ends a
// wait for a frame on a quiet interface.
func TestNetnsCloseUnblocksRead(t *testing.T) {
	_, gw, _, _ := newLAN(t)
	var conn *arp.PacketConn
	if err := gw.Do(func() error {
		ifi, err := net.InterfaceByName(gw.Link)
		if err != nil {
			return err
		}
		conn, err = arp.Dial(ifi)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- conn.Wait() }()
	conn.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, arp.ErrClosed) {
			t.Fatalf("Wait after Close = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait still blocked 10 s after Close")
	}
}

// TestNetnsSyncBeforeAccept checks Table.Sync against the race it exists for: an address moves
// between two devices every round, the new owner connects, and at accept time the table must
// already name the new owner. The kernel queues the owner's ARP on the socket before it answers
// it, so Sync can always see it; the capture goroutine alone sometimes has not run yet (counted
// and logged, not asserted: it depends on scheduling).
func TestNetnsSyncBeforeAccept(t *testing.T) {
	lan, gw, a, _ := newLAN(t)
	c := lan.Add(t, "c", "02:77:00:00:00:0c", netip.Addr{})
	var (
		conn *arp.PacketConn
		ifi  *net.Interface
		ln   net.Listener
	)
	if err := gw.Do(func() error {
		var err error
		if ifi, err = net.InterfaceByName(gw.Link); err != nil {
			return err
		}
		if conn, err = arp.Dial(ifi); err != nil {
			return err
		}
		ln, err = net.Listen("tcp", netip.AddrPortFrom(gw.IP, 9000).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tb, err := arp.New(context.Background(), arp.Options{}, ifi, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()

	const rounds = 20
	owner, other := a, c
	stale := 0
	for i := range rounds {
		if i > 0 {
			owner.IPCmd(t, "addr", "del", a.IP.String()+"/24", "dev", owner.Link)
			owner, other = other, owner
			owner.IPCmd(t, "addr", "add", a.IP.String()+"/24", "dev", owner.Link)
		}
		other.FlushNeighbors(t)
		owner.FlushNeighbors(t) // a device that just got its lease ARPs for the box first
		done := make(chan error, 1)
		go func() {
			done <- owner.Do(func() error {
				cn, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
				if err == nil {
					cn.Close()
				}
				return err
			})
		}()
		cn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		peer := cn.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
		if mac, _ := tb.Lookup(peer); mac != owner.MAC {
			stale++ // what an unsynced lookup would have answered
		}
		tb.Sync()
		mac, ok := tb.Lookup(peer)
		cn.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !ok || mac != owner.MAC {
			t.Fatalf("round %d: after Sync, Lookup(%v) = %q, %v at accept; the owner is %s", i, peer, mac, ok, owner.MAC)
		}
	}
	t.Logf("%d of %d rounds: without Sync, Lookup at accept time still named the previous owner", stale, rounds)
}

// TestNetnsInterfaceDownUp checks that capture survives the LAN link going down and up (a
// cable pulled and plugged back): the socket reports ENETDOWN once and resumes.
func TestNetnsInterfaceDownUp(t *testing.T) {
	_, gw, a, b := newLAN(t)
	w := startWatcher(t, gw)
	gw.IPCmd(t, "link", "set", gw.Link, "down")
	w.wait(t, 0, "arp: read failed", nil)
	gw.IPCmd(t, "link", "set", gw.Link, "up")
	for _, h := range []*nslan.Host{a, b} {
		from := w.mark()
		// The link takes a moment to carry traffic again; ping waits for the reply up to -W.
		h.Run(t, "ping", "-c", "1", "-W", "5", gw.IP.String())
		if m := w.wait(t, from, "helper: learned", hasIP(h.IP)); m["mac"] != h.MAC {
			t.Fatalf("after link down/up learned %v → %v, want %s", h.IP, m["mac"], h.MAC)
		}
	}
}

// BenchmarkSyncIdle is what Table.Sync adds to every request on a quiet LAN: one non-blocking
// recv on the real socket.
func BenchmarkSyncIdle(b *testing.B) {
	lan := nslan.New(b)
	gw := lan.Add(b, "gw", "02:77:00:00:00:01", netip.MustParseAddr("10.77.0.1"))
	var (
		conn *arp.PacketConn
		ifi  *net.Interface
	)
	if err := gw.Do(func() error {
		var err error
		if ifi, err = net.InterfaceByName(gw.Link); err != nil {
			return err
		}
		conn, err = arp.Dial(ifi)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	tb, err := arp.New(context.Background(), arp.Options{}, ifi, conn, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Close()
	b.ReportAllocs()
	for b.Loop() {
		tb.Sync()
	}
}

// TestNetnsInterfaceRecreated checks that capture follows an interface that is removed and
// created again under the same name (a USB adapter re-plugged: new index, the old socket dead).
func TestNetnsInterfaceRecreated(t *testing.T) {
	lan, gw, a, b := newLAN(t)
	silent := lan.Add(t, "s", "02:77:00:00:00:5e", netip.MustParseAddr("10.77.0.50"))
	w := startWatcher(t, gw)
	from := w.mark()
	a.Run(t, "ping", "-c", "1", "-W", "5", gw.IP.String())
	w.wait(t, from, "helper: learned", hasIP(a.IP))

	from = w.mark()
	gw.Replug(t)
	w.wait(t, from, "arp: interface re-created; capture re-opened", nil)
	from = w.mark()
	b.Run(t, "ping", "-c", "1", "-W", "5", gw.IP.String())
	if m := w.wait(t, from, "helper: learned", hasIP(b.IP)); m["mac"] != b.MAC {
		t.Fatalf("after re-plug learned %v → %v, want %s", b.IP, m["mac"], b.MAC)
	}
	// Who-has goes out on the new socket too.
	m := w.do(t, "resolve", silent.IP.String(), "helper: resolved")
	if m["ok"] != true || m["mac"] != silent.MAC {
		t.Fatalf("Resolve(%v) after re-plug = %v, want %s", silent.IP, m, silent.MAC)
	}
}
