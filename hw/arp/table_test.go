package arp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/gopacket/layers"
)

// fakeConn is a FrameConn fed by the test: frames pushed with send are queued for the table;
// frames the table writes are recorded and passed to onWrite.
type fakeConn struct {
	mu      sync.Mutex
	queue   [][]byte
	written [][]byte
	ready   chan struct{} // signalled when frames are queued
	closed  chan struct{}
	once    sync.Once
	onWrite func(c *fakeConn, b []byte)
}

func newFakeConn() *fakeConn {
	return &fakeConn{ready: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (c *fakeConn) Wait() error {
	for {
		c.mu.Lock()
		n := len(c.queue)
		c.mu.Unlock()
		if n > 0 {
			return nil
		}
		select {
		case <-c.ready:
		case <-c.closed:
			return ErrClosed
		}
	}
}

func (c *fakeConn) Drain(fn func([]byte)) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	for _, f := range q {
		fn(f)
	}
	return nil
}

func (c *fakeConn) WriteFrame(b []byte) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	c.mu.Lock()
	c.written = append(c.written, bytes.Clone(b))
	c.mu.Unlock()
	if c.onWrite != nil {
		go c.onWrite(c, bytes.Clone(b))
	}
	return nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) writes() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.written...)
}

// send queues a frame, as the kernel does; the capture goroutine, or Table.Sync, takes it.
func (c *fakeConn) send(t testing.TB, f []byte) {
	c.mu.Lock()
	c.queue = append(c.queue, bytes.Clone(f))
	c.mu.Unlock()
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

var (
	macA   = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
	macB   = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}
	macBox = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	ip10   = netip.MustParseAddr("10.77.0.10")
	ip11   = netip.MustParseAddr("10.77.0.11")
	ipBox  = netip.MustParseAddr("10.77.0.1")
)

func frame(t testing.TB, op uint16, smac [6]byte, sip netip.Addr, tmac [6]byte, tip netip.Addr) []byte {
	t.Helper()
	dst := broadcastMAC
	if op == layers.ARPReply {
		dst = net.HardwareAddr(tmac[:])
	}
	b, err := encode(packet{op: op, senderMAC: smac, senderIP: sip, targetMAC: tmac, targetIP: tip}, smac[:], dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logSink collects slog records as JSON objects.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) records(t testing.TB, msg string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(s.buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

type learned struct {
	ip  netip.Addr
	mac string
}

// learnLog records OnLearn calls.
type learnLog struct {
	mu   sync.Mutex
	list []learned
}

func (l *learnLog) add(ip netip.Addr, mac string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, learned{ip, mac})
}

func (l *learnLog) get() []learned {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]learned(nil), l.list...)
}

func newTestTable(t *testing.T, o Options, conn FrameConn) (*Table, *logSink, *learnLog) {
	t.Helper()
	sink := &logSink{}
	log := slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	got := &learnLog{}
	o.OnLearn = got.add
	ifi := &net.Interface{Name: "fake0", Index: 1 << 30, HardwareAddr: macBox}
	if conn == nil {
		ifi = nil
	}
	tb, err := New(context.Background(), o, ifi, conn, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb, sink, got
}

func TestLearnFromFrames(t *testing.T) {
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	tests := []struct {
		name  string
		frame func(t testing.TB) []byte
		ip    netip.Addr
		want  string // "" = nothing learned
	}{
		{"request", func(t testing.TB) []byte { return frame(t, layers.ARPRequest, macA, ip10, [6]byte{}, ipBox) }, ip10, "02:00:00:00:00:0a"},
		{"reply", func(t testing.TB) []byte { return frame(t, layers.ARPReply, macA, ip10, [6]byte(macBox), ipBox) }, ip10, "02:00:00:00:00:0a"},
		{"gratuitous request", func(t testing.TB) []byte { return frame(t, layers.ARPRequest, macA, ip10, [6]byte{}, ip10) }, ip10, "02:00:00:00:00:0a"},
		{"gratuitous reply", func(t testing.TB) []byte { return frame(t, layers.ARPReply, macA, ip10, bcast, ip10) }, ip10, "02:00:00:00:00:0a"},
		{"probe teaches nothing", func(t testing.TB) []byte {
			return frame(t, layers.ARPRequest, macA, netip.IPv4Unspecified(), [6]byte{}, ip10)
		}, ip10, ""},
		{"broadcast sender MAC", func(t testing.TB) []byte { return frame(t, layers.ARPRequest, bcast, ip10, [6]byte{}, ipBox) }, ip10, ""},
		{"zero sender MAC", func(t testing.TB) []byte { return frame(t, layers.ARPRequest, [6]byte{}, ip10, [6]byte{}, ipBox) }, ip10, ""},
		{"multicast sender IP", func(t testing.TB) []byte {
			return frame(t, layers.ARPRequest, macA, netip.MustParseAddr("224.0.0.1"), [6]byte{}, ipBox)
		}, netip.MustParseAddr("224.0.0.1"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeConn()
			tb, _, got := newTestTable(t, Options{}, c)
			c.send(t, tc.frame(t))
			tb.Sync()
			mac, ok := tb.Lookup(tc.ip)
			if tc.want == "" {
				if ok {
					t.Fatalf("Lookup(%v) = %q, want nothing learned", tc.ip, mac)
				}
				if len(got.get()) != 0 {
					t.Fatalf("OnLearn called: %v", got.get())
				}
				return
			}
			if !ok || mac != tc.want {
				t.Fatalf("Lookup(%v) = %q, %v, want %q", tc.ip, mac, ok, tc.want)
			}
			if len(got.get()) != 1 || got.get()[0] != (learned{tc.ip, tc.want}) {
				t.Fatalf("OnLearn calls = %v, want one for %v %s", got.get(), tc.ip, tc.want)
			}
			es := tb.Entries()
			if len(es) != 1 || es[0].Source != SourceARP || es[0].MAC != tc.want {
				t.Fatalf("Entries() = %+v", es)
			}
		})
	}
}

// Table is what web's Neighbors interface asks for (docs/DESIGN.md).
var _ interface {
	Lookup(ip netip.Addr) (mac string, ok bool)
	Resolve(ctx context.Context, ip netip.Addr) (mac string, ok bool)
} = (*Table)(nil)

func TestLookupMappedAddress(t *testing.T) {
	c := newFakeConn()
	tb, _, _ := newTestTable(t, Options{}, c)
	c.send(t, frame(t, layers.ARPRequest, macA, ip10, [6]byte{}, ipBox))
	tb.Sync()
	mapped := netip.AddrFrom16(ip10.As16())
	if mac, ok := tb.Lookup(mapped); !ok || mac != formatMAC(macA) {
		t.Fatalf("Lookup(%v) = %q, %v", mapped, mac, ok)
	}
}

func TestAddressMovesNewestWins(t *testing.T) {
	c := newFakeConn()
	tb, sink, got := newTestTable(t, Options{}, c)
	c.send(t, frame(t, layers.ARPRequest, macA, ip10, [6]byte{}, ipBox))
	c.send(t, frame(t, layers.ARPRequest, macA, ip10, [6]byte{}, ipBox)) // refresh: no news
	c.send(t, frame(t, layers.ARPReply, macB, ip10, [6]byte(macBox), ipBox))
	tb.Sync()
	if mac, _ := tb.Lookup(ip10); mac != formatMAC(macB) {
		t.Fatalf("Lookup after move = %q, want %q", mac, formatMAC(macB))
	}
	want := []learned{{ip10, formatMAC(macA)}, {ip10, formatMAC(macB)}}
	if len(got.get()) != 2 || got.get()[0] != want[0] || got.get()[1] != want[1] {
		t.Fatalf("OnLearn calls = %v, want %v", got.get(), want)
	}
	recs := sink.records(t, "arp: address moved to another MAC")
	if len(recs) != 1 || recs[0]["old_mac"] != formatMAC(macA) || recs[0]["mac"] != formatMAC(macB) || recs[0]["ip"] != ip10.String() {
		t.Fatalf("move log = %v", recs)
	}
	if es := tb.Entries(); len(es) != 1 {
		t.Fatalf("Entries() = %+v, want one", es)
	}
}

func TestAging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newFakeConn()
		tb, _, got := newTestTable(t, Options{MaxAge: time.Hour}, c)
		c.send(t, frame(t, layers.ARPRequest, macA, ip10, [6]byte{}, ipBox))
		synctest.Wait()
		advance(50 * time.Minute)
		c.send(t, frame(t, layers.ARPRequest, macA, ip10, [6]byte{}, ipBox)) // seen again: lives on
		c.send(t, frame(t, layers.ARPRequest, macB, ip11, [6]byte{}, ipBox))
		synctest.Wait()
		advance(30 * time.Minute)
		if _, ok := tb.Lookup(ip10); !ok {
			t.Fatal("entry refreshed 30 min ago expired with MaxAge 1h")
		}
		advance(31 * time.Minute)
		synctest.Wait()
		if mac, ok := tb.Lookup(ip10); ok {
			t.Fatalf("Lookup(%v) = %q after 61 min unseen, want expired", ip10, mac)
		}
		if es := tb.Entries(); len(es) != 0 {
			t.Fatalf("Entries() = %+v, want none", es)
		}
		tb.mu.Lock()
		n := tb.n
		tb.mu.Unlock()
		if n != 0 {
			t.Fatalf("sweeper left %d entries", n)
		}
		// Coming back after expiry is news again.
		c.send(t, frame(t, layers.ARPRequest, macA, ip10, [6]byte{}, ipBox))
		synctest.Wait()
		if len(got.get()) != 3 {
			t.Fatalf("OnLearn calls = %v, want 3 (A, B, A again)", got.get())
		}
		tb.Close()
	})
}

func TestMaxEntries(t *testing.T) {
	c := newFakeConn()
	tb, _, _ := newTestTable(t, Options{MaxEntries: 3}, c)
	for i := range 5 {
		ip := netip.AddrFrom4([4]byte{10, 77, 0, byte(20 + i)})
		c.send(t, frame(t, layers.ARPRequest, macA, ip, [6]byte{}, ipBox))
	}
	tb.Sync()
	if es := tb.Entries(); len(es) != 3 {
		t.Fatalf("Entries() has %d entries, want MaxEntries 3", len(es))
	}
	if _, ok := tb.Lookup(netip.AddrFrom4([4]byte{10, 77, 0, 24})); !ok {
		t.Fatal("newest entry was evicted")
	}
	if _, ok := tb.Lookup(netip.AddrFrom4([4]byte{10, 77, 0, 20})); ok {
		t.Fatal("oldest entry survived a full table")
	}
}

// answerWhoHas makes the fake LAN answer who-has for ip from mac.
func answerWhoHas(t testing.TB, ip netip.Addr, mac [6]byte) func(c *fakeConn, b []byte) {
	return func(c *fakeConn, b []byte) {
		p, err := newDecoder().decode(b)
		if err != nil || p.op != layers.ARPRequest || p.targetIP != ip {
			return
		}
		reply, err := encode(packet{op: layers.ARPReply, senderMAC: mac, senderIP: ip, targetMAC: p.senderMAC, targetIP: p.senderIP},
			mac[:], p.senderMAC[:])
		if err != nil {
			panic(err)
		}
		c.send(t, reply)
	}
}

func TestResolveWhoHas(t *testing.T) {
	c := newFakeConn()
	c.onWrite = answerWhoHas(t, ip11, macB)
	tb, _, got := newTestTable(t, Options{ResolveTimeout: 10 * time.Second, ProcPath: "/nonexistent"}, c)
	mac, ok := tb.Resolve(context.Background(), ip11)
	if !ok || mac != formatMAC(macB) {
		t.Fatalf("Resolve(%v) = %q, %v, want %s", ip11, mac, ok, formatMAC(macB))
	}
	w := c.writes()
	if len(w) == 0 {
		t.Fatal("no who-has sent")
	}
	p, err := newDecoder().decode(w[0])
	if err != nil || p.op != layers.ARPRequest || p.targetIP != ip11 || p.senderMAC != [6]byte(macBox) {
		t.Fatalf("who-has = %+v, %v", p, err)
	}
	if !bytes.Equal(w[0][:6], broadcastMAC) || len(w[0]) != minFrameLen {
		t.Fatalf("who-has frame % x: want broadcast, %d bytes", w[0], minFrameLen)
	}
	if es := tb.Entries(); len(es) != 1 || es[0].Source != SourceARP {
		t.Fatalf("Entries() = %+v", es)
	}
	tb.Sync() // OnLearn runs after the table is updated, on the capture goroutine
	if len(got.get()) != 1 {
		t.Fatalf("OnLearn calls = %v", got.get())
	}
}

const procText = `IP address       HW type     Flags       HW address            Mask     Device
10.77.0.11       0x1         0x2         02:00:00:00:00:0B     *        fake0
10.77.0.12       0x1         0x0         00:00:00:00:00:00     *        fake0
10.77.0.13       0x1         0x2         02:00:00:00:00:0d     *        other0
`

func TestResolveFallsBackToKernelTable(t *testing.T) {
	proc := filepath.Join(t.TempDir(), "arp")
	if err := os.WriteFile(proc, []byte(procText), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newFakeConn() // a LAN where nobody answers
	tb, _, _ := newTestTable(t, Options{ResolveTimeout: 20 * time.Millisecond, ProcPath: proc}, c)
	mac, ok := tb.Resolve(context.Background(), ip11)
	if !ok || mac != "02:00:00:00:00:0b" {
		t.Fatalf("Resolve(%v) = %q, %v, want 02:00:00:00:00:0b from the kernel table", ip11, mac, ok)
	}
	if es := tb.Entries(); len(es) != 1 || es[0].Source != SourceNeigh {
		t.Fatalf("Entries() = %+v, want one neigh entry", es)
	}
	if mac, ok := tb.Lookup(ip11); !ok || mac != "02:00:00:00:00:0b" {
		t.Fatalf("Lookup after Resolve = %q, %v", mac, ok)
	}
	for _, ip := range []string{"10.77.0.12", "10.77.0.13", "10.77.0.14"} {
		if mac, ok := tb.Resolve(context.Background(), netip.MustParseAddr(ip)); ok {
			t.Errorf("Resolve(%s) = %q, want miss (incomplete, other device, absent)", ip, mac)
		}
	}
	// A failed who-has is remembered: asking again right away sends nothing.
	before := len(c.writes())
	tb.Resolve(context.Background(), netip.MustParseAddr("10.77.0.14"))
	if after := len(c.writes()); after != before {
		t.Fatalf("Resolve of an address that just failed sent %d more who-has", after-before)
	}
}

func TestResolveWithoutCapture(t *testing.T) {
	proc := filepath.Join(t.TempDir(), "arp")
	if err := os.WriteFile(proc, []byte(procText), 0o644); err != nil {
		t.Fatal(err)
	}
	tb, err := Watch(context.Background(), Options{ProcPath: proc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	if mac, ok := tb.Resolve(context.Background(), netip.MustParseAddr("10.77.0.13")); !ok || mac != "02:00:00:00:00:0d" {
		t.Fatalf("Resolve = %q, %v", mac, ok)
	}
	if _, ok := tb.Resolve(context.Background(), netip.MustParseAddr("2001:db8::1")); ok {
		t.Fatal("Resolve of IPv6 succeeded")
	}
}

func TestResolveCancelled(t *testing.T) {
	c := newFakeConn()
	tb, _, _ := newTestTable(t, Options{ResolveTimeout: time.Hour, ProcPath: "/nonexistent"}, c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() {
		_, ok := tb.Resolve(ctx, ip11)
		done <- ok
	}()
	cancel()
	if ok := <-done; ok {
		t.Fatal("cancelled Resolve succeeded")
	}
}

func TestWatchMissingInterface(t *testing.T) {
	_, err := Watch(context.Background(), Options{Interface: "nosuch0"}, nil)
	if !errors.Is(err, ErrNoInterface) {
		t.Fatalf("Watch(nosuch0) = %v, want ErrNoInterface", err)
	}
	var ie *InterfaceError
	if !errors.As(err, &ie) || ie.Interface != "nosuch0" {
		t.Fatalf("Watch(nosuch0) = %v, want *InterfaceError naming nosuch0", err)
	}
}

func TestCloseStopsOnContext(t *testing.T) {
	c := newFakeConn()
	ctx, cancel := context.WithCancel(context.Background())
	tb, err := New(ctx, Options{}, &net.Interface{Name: "fake0", HardwareAddr: macBox}, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-c.closed // the table closes its connection when ctx ends
	tb.Close()
}

func TestParseProc(t *testing.T) {
	tests := []struct {
		ip, dev, want string
	}{
		{"10.77.0.11", "", "02:00:00:00:00:0b"},
		{"10.77.0.11", "fake0", "02:00:00:00:00:0b"},
		{"10.77.0.11", "other0", ""},
		{"10.77.0.12", "", ""},
		{"10.77.0.13", "", "02:00:00:00:00:0d"},
		{"10.77.0.99", "", ""},
	}
	for _, tc := range tests {
		hw, ok := parseProc([]byte(procText), netip.MustParseAddr(tc.ip), tc.dev)
		got := ""
		if ok {
			got = formatMAC(hw)
		}
		if got != tc.want {
			t.Errorf("parseProc(%s, %q) = %q, want %q", tc.ip, tc.dev, got, tc.want)
		}
	}
}

// FuzzParseProc: the kernel table parser never panics, and what it finds is in the text.
func FuzzParseProc(f *testing.F) {
	f.Add([]byte(procText), "10.77.0.11", "")
	f.Add([]byte(procText), "10.77.0.13", "other0")
	f.Add([]byte("IP address\n10.77.0.11 0x1 0x2 02:00:00:00:00:0B * eth0\n"), "10.77.0.11", "eth0")
	f.Add([]byte("\n10.77.0.11 0x1 0x2 02-00-00-00-00-0b"), "10.77.0.11", "")
	f.Fuzz(func(t *testing.T, b []byte, ipText, dev string) {
		ip, err := netip.ParseAddr(ipText)
		if err != nil {
			return
		}
		hw, ok := parseProc(b, ip, dev)
		if !ok {
			return
		}
		if hw == [6]byte{} || hw[0]&1 != 0 {
			t.Fatalf("parseProc returned unusable MAC %s", formatMAC(hw))
		}
		if !bytes.Contains(bytes.ToLower(b), []byte(ip.Unmap().String())) {
			t.Fatalf("parseProc found %v, which is not in the text", ip)
		}
	})
}

// advance moves a synctest bubble's fake clock on by d (the bubble's goroutines run meanwhile).
func advance(d time.Duration) { <-time.After(d) }

// An ARP frame whose Ethernet source differs from its sender MAC is a forgery: it teaches
// nothing (issue 11, item 8).
func TestForgedSenderNotLearned(t *testing.T) {
	c := newFakeConn()
	tb, _, got := newTestTable(t, Options{}, c)
	f := frame(t, layers.ARPRequest, macA, ip10, [6]byte{}, ipBox)
	copy(f[6:12], macB[:]) // sent by B, claiming to be A
	c.send(t, f)
	tb.Sync()
	if mac, ok := tb.Lookup(ip10); ok {
		t.Fatalf("Lookup(%v) = %q after a frame from %x claiming %x, want nothing learned", ip10, mac, macB, macA)
	}
	if n := len(got.get()); n != 0 {
		t.Fatalf("OnLearn called %d times for a forged frame", n)
	}
	c.send(t, frame(t, layers.ARPRequest, macA, ip10, [6]byte{}, ipBox)) // the genuine one
	tb.Sync()
	if mac, ok := tb.Lookup(ip10); !ok || mac != formatMAC(macA) {
		t.Fatalf("Lookup(%v) = %q, %v after A's own frame, want %s", ip10, mac, ok, formatMAC(macA))
	}
}

// TestRunUntilCancelled: a table made without starting (as Open does) learns nothing until Run;
// Run learns until its context ends, then returns nil with the socket closed and the table's
// goroutines gone; Close after it, and Run after Close, return at once.
func TestRunUntilCancelled(t *testing.T) {
	conn := newFakeConn()
	learnedCh := make(chan string, 1)
	o := Options{OnLearn: func(ip netip.Addr, mac string) {
		select {
		case learnedCh <- mac:
		default:
		}
	}}
	tb, err := newTable(o, &net.Interface{Name: "fake0", Index: 1 << 30, HardwareAddr: macBox}, conn, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- tb.Run(ctx) }()
	conn.send(t, frame(t, layers.ARPRequest, macA, ip10, [6]byte{}, ipBox))
	if mac := <-learnedCh; mac != "02:00:00:00:00:0a" {
		t.Fatalf("learned %s, want 02:00:00:00:00:0a", mac)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run = %v after cancel, want nil", err)
	}
	select {
	case <-conn.closed:
	default:
		t.Fatal("socket still open after Run returned")
	}
	if err := tb.Close(); err != nil {
		t.Fatalf("Close after Run = %v", err)
	}
	if err := tb.Run(t.Context()); err != nil {
		t.Fatalf("Run after Close = %v, want nil at once", err)
	}
	if mac, ok := tb.Lookup(ip10); !ok || mac != "02:00:00:00:00:0a" {
		t.Fatalf("Lookup after Close = %q %v, want what was learned", mac, ok)
	}

	// a table that never ran closes its socket on Close
	conn2 := newFakeConn()
	tb2, err := newTable(Options{}, &net.Interface{Name: "fake0", Index: 1 << 30, HardwareAddr: macBox}, conn2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb2.Close()
	select {
	case <-conn2.closed:
	default:
		t.Fatal("Close of a table that never ran left its socket open")
	}
}
