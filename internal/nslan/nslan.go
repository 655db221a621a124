//go:build linux

package nslan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"multimsg/internal/peertest"
)

// Prefix starts the name of every namespace this package creates.
const Prefix = "mmlan-"

// Subnet is the default LAN's address range; it exists only inside the namespaces. Further
// segments (NewSegment) must lie inside Space.
var (
	Subnet = netip.MustParsePrefix("10.77.0.0/24")
	Space  = netip.MustParsePrefix("10.77.0.0/16")
)

const netnsDir = "/run/netns"

var (
	seq        atomic.Int64
	staleOnce  sync.Once
	cmdTimeout = 30 * time.Second
)

// LAN is one bridge and the hosts attached to it.
type LAN struct {
	Subnet netip.Prefix
	name   string // "mmlan-<pid>-<seq>"
	ipBin  string
	sw     string // namespace holding the bridge

	mu    sync.Mutex // guards hosts and ports
	hosts []*Host
	ports int
}

// Host is one namespace on the LAN, with its interface Link ("eth0").
type Host struct {
	NS   string     // namespace name, for ip netns exec / ip -n
	Link string     // the host's interface inside NS
	MAC  string     // lower-case aa:bb:cc:dd:ee:ff
	IP   netip.Addr // its address on the LAN (invalid if added without one)
	lan  *LAN
	on   *LAN   // the LAN this interface is plugged into (differs from lan for Attach)
	port string // its bridge port in on's switch namespace
}

// New creates an empty LAN (a bridge in its own namespace) and removes it when t ends. It skips
// or fails t (peertest) without root or ip(8).
func New(t testing.TB) *LAN {
	t.Helper()
	return NewSegment(t, Subnet)
}

// NewSegment is New for another subnet inside Space, e.g. the far side of a router.
func NewSegment(t testing.TB, subnet netip.Prefix) *LAN {
	t.Helper()
	peertest.Root(t, "network namespaces need root")
	ipBin := peertest.Binary(t, "ip")
	if !Space.Contains(subnet.Addr()) || subnet.Bits() < Space.Bits() {
		t.Fatalf("nslan: subnet %v is outside %v", subnet, Space)
	}
	staleOnce.Do(func() { removeStale(t, ipBin) })
	l := &LAN{Subnet: subnet.Masked(), name: fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), seq.Add(1)), ipBin: ipBin}
	l.sw = l.name + "-sw"
	t.Cleanup(l.remove)
	l.ip(t, "netns", "add", l.sw)
	l.ip(t, "-n", l.sw, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
	l.ip(t, "-n", l.sw, "link", "set", "br0", "up")
	return l
}

// Add attaches a host namespace named after role ("gw", "a", ...) with the given MAC and, if ip
// is valid, address ip on its interface eth0, and brings it up.
func (l *LAN) Add(t testing.TB, role, mac string, ip netip.Addr) *Host {
	t.Helper()
	h := &Host{NS: l.name + "-" + role, Link: "eth0", MAC: strings.ToLower(mac), IP: ip, lan: l}
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	l.ip(t, "netns", "add", h.NS)
	h.IPCmd(t, "link", "set", "lo", "up")
	h.on, h.port = l, l.plug(t, h.NS, h.Link, h.MAC, ip)
	return h
}

// Attach gives host h (of any LAN) a further interface link on this LAN, with mac and, if ip is
// valid, address ip — a router's second leg. It returns the host as seen from this LAN.
func (l *LAN) Attach(t testing.TB, h *Host, link, mac string, ip netip.Addr) *Host {
	t.Helper()
	port := l.plug(t, h.NS, link, mac, ip)
	return &Host{NS: h.NS, Link: link, MAC: strings.ToLower(mac), IP: ip, lan: h.lan, on: l, port: port}
}

// Replug removes the host's interface and creates it again with the same name, MAC and
// address — a USB adapter unplugged and plugged back: same name, new interface index.
func (h *Host) Replug(t testing.TB) {
	t.Helper()
	h.on.ip(t, "-n", h.on.sw, "link", "del", h.port) // takes the host's end with it
	h.port = h.on.plug(t, h.NS, h.Link, h.MAC, h.IP)
}

// plug connects interface link of namespace ns to the bridge through a veth pair and returns
// the bridge port's name.
func (l *LAN) plug(t testing.TB, ns, link, mac string, ip netip.Addr) string {
	t.Helper()
	if ip.IsValid() && !l.Subnet.Contains(ip) {
		t.Fatalf("nslan: %v is outside %v", ip, l.Subnet)
	}
	l.mu.Lock()
	l.ports++
	port := "p" + strconv.Itoa(l.ports)
	l.mu.Unlock()
	// Both ends are created inside namespaces: the host's namespace never sees them.
	l.ip(t, "-n", l.sw, "link", "add", port, "type", "veth", "peer", "name", link, "netns", ns)
	l.ip(t, "-n", l.sw, "link", "set", port, "master", "br0", "up")
	l.ip(t, "-n", ns, "link", "set", link, "address", strings.ToLower(mac))
	if ip.IsValid() {
		l.ip(t, "-n", ns, "addr", "add", netip.PrefixFrom(ip, l.Subnet.Bits()).String(), "dev", link)
	}
	l.ip(t, "-n", ns, "link", "set", link, "up")
	return port
}

// IPCmd runs "ip -n <ns> args..." and returns its output, failing t on error.
func (h *Host) IPCmd(t testing.TB, args ...string) string {
	t.Helper()
	return h.lan.ip(t, append([]string{"-n", h.NS}, args...)...)
}

// Command returns a command that runs name inside the host's namespace (ip netns exec).
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, h.lan.ipBin, append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Run runs name inside the namespace and returns its combined output, failing t on error.
func (h *Host) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := h.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nslan: in %s: %s %s: %v\n%s", h.NS, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// FlushNeighbors empties the host's kernel neighbour (ARP) table.
func (h *Host) FlushNeighbors(t testing.TB) {
	t.Helper()
	h.IPCmd(t, "neigh", "flush", "all")
}

// KernelARP returns the host's /proc/net/arp.
func (h *Host) KernelARP(t testing.TB) string {
	t.Helper()
	return h.Run(t, "cat", "/proc/net/arp")
}

// Do runs fn on an OS thread that has entered the host's namespace. Sockets fn opens belong to
// that namespace and stay there after Do returns, whichever thread uses them.
func (h *Host) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(netnsDir + "/" + h.NS)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("nslan: setns %s: %w", h.NS, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime ends it with this goroutine rather than
			// reuse a thread stuck in the wrong namespace.
			errc <- errors.Join(ferr, fmt.Errorf("nslan: setns back: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func (l *LAN) ip(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, l.ipBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("nslan: ip %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// remove deletes every namespace of the LAN; the veth pairs and the bridge go with them.
func (l *LAN) remove() {
	l.mu.Lock()
	names := []string{l.sw}
	for _, h := range l.hosts {
		names = append(names, h.NS)
	}
	l.mu.Unlock()
	for _, n := range names {
		delNetns(l.ipBin, n)
	}
}

func delNetns(ipBin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	_ = exec.CommandContext(ctx, ipBin, "netns", "del", name).Run()
}

// removeStale deletes this package's namespaces left by a test process that no longer runs.
func removeStale(t testing.TB, ipBin string) { RemoveStale(t, ipBin, Prefix) }

// RemoveStale deletes the namespaces named "<prefix><pid>-…" whose process no longer runs (a
// test killed by a timeout before its Cleanup). Other packages that make namespaces of their
// own (internal/phonesim) name them the same way and call it with their prefix.
func RemoveStale(t testing.TB, ipBin, prefix string) {
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 {
			continue
		}
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			t.Logf("removing namespace %s left by dead process %d", e.Name(), pid)
			delNetns(ipBin, e.Name())
		}
	}
}
