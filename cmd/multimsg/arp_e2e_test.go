//go:build linux

package main

// The end-to-end test of device identity (SPEC §1 ownership, §3): the real multimsg binary,
// built here, serves inside the gateway namespace of an nslan LAN and watches ARP on its
// interface; clients in other namespaces (each with its own MAC) talk to it with curl.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"multimsg/internal/nslan"
	"multimsg/internal/peertest"
)

const e2eAdminPassword = "e2e-admin-password"

// buildE2EBinary builds the binary into dir, as CI builds it (no cgo).
func buildE2EBinary(t *testing.T, dir string) string {
	t.Helper()
	goBin := peertest.Binary(t, "go")
	bin := filepath.Join(dir, "multimsg")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// e2eServer is a multimsg serve process in a namespace.
type e2eServer struct {
	gw    *nslan.Host
	url   string
	pid   int    // multimsg's own (ip netns exec and setpriv exec it)
	dir   string // its data_dir
	mu    sync.Mutex
	lines []string
	news  chan struct{}
}

// e2eOptions vary how startE2EServerWith runs multimsg.
type e2eOptions struct {
	logLevel string   // default "debug"
	tables   string   // TOML tables appended to the config
	wrap     []string // a command multimsg runs under (setpriv …)
	owner    int      // > 0: the data dir is chowned to this uid and gid first
}

// startE2EServer runs multimsg serve in gw's namespace with the given top-level config lines.
func startE2EServer(t *testing.T, bin string, gw *nslan.Host, cfg string) *e2eServer {
	t.Helper()
	return startE2EServerWith(t, bin, gw, cfg, e2eOptions{})
}

func startE2EServerWith(t *testing.T, bin string, gw *nslan.Host, cfg string, o e2eOptions) *e2eServer {
	t.Helper()
	if o.logLevel == "" {
		o.logLevel = "debug"
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(e2eAdminPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`listen = ":8080"
data_dir = %q
interface = %q
%s

[admin]
password_hash = %q

[[mail.sender]]
name = "default"
maildir = "outbox"
from = "gateway@localhost"
%s
`, dir, gw.Link, cfg, hash, o.tables)
	path := filepath.Join(dir, "multimsg.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.owner > 0 {
		for _, p := range []string{dir, path} {
			if err := os.Chown(p, o.owner, o.owner); err != nil {
				t.Fatal(err)
			}
		}
		// t.TempDir's parent is root's 0700: let the unprivileged service reach its own
		if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args := append(append([]string(nil), o.wrap...), bin, "serve", "-config", path, "-log-level", o.logLevel)
	cmd := gw.Command(context.Background(), args[0], args[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &e2eServer{gw: gw, url: "http://" + gw.IP.String() + ":8080", pid: cmd.Process.Pid, dir: dir, news: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
			select {
			case s.news <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		// SIGTERM is how the box stops it: the exit must be clean and prompt.
		cmd.Process.Signal(syscall.SIGTERM)
		waited := make(chan error, 1)
		go func() { <-done; waited <- cmd.Wait() }()
		select {
		case err := <-waited:
			if err != nil {
				t.Errorf("multimsg serve exited with %v after SIGTERM\n%s", err, s.log())
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("multimsg serve still running 15 s after SIGTERM")
		}
		if t.Failed() {
			t.Logf("multimsg serve log:\n%s", s.log())
		}
	})
	s.waitLog(t, `msg="multimsg: serving"`, done)
	return s
}

func (s *e2eServer) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// waitLog waits for a log line containing want; done, if not nil, says the process ended.
func (s *e2eServer) waitLog(t *testing.T, want string, done <-chan struct{}) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		for _, l := range s.lines {
			if strings.Contains(l, want) {
				s.mu.Unlock()
				return l
			}
		}
		s.mu.Unlock()
		select {
		case <-s.news:
		case <-done:
			t.Fatalf("multimsg serve exited before logging %q:\n%s", want, s.log())
		case <-deadline:
			t.Fatalf("multimsg serve did not log %q within 20 s:\n%s", want, s.log())
		}
	}
}

// e2eCurl runs curl in h's namespace and returns the status code and body.
func e2eCurl(t *testing.T, h *nslan.Host, args ...string) (int, string) {
	t.Helper()
	args = append([]string{"-sS", "--max-time", "15", "-w", "\n%{http_code}"}, args...)
	out := h.Run(t, "curl", args...)
	i := strings.LastIndexByte(out, '\n')
	code, err := strconv.Atoi(strings.TrimSpace(out[i+1:]))
	if err != nil {
		t.Fatalf("curl %v: output %q", args, out)
	}
	return code, out[:i]
}

// upload posts one text file to /data from h and returns the job id.
func (s *e2eServer) upload(t *testing.T, h *nslan.Host, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body := e2eCurl(t, h, "-F", "text=@"+f, s.url+"/data")
	if code != 200 {
		t.Fatalf("/data from %s (%s) = %d %q, want 200", h.NS, h.MAC, code, body)
	}
	return strings.TrimSpace(body)
}

func (s *e2eServer) msg(t *testing.T, h *nslan.Host, id string) (int, string) {
	t.Helper()
	return e2eCurl(t, h, "--data-urlencode", "id="+id, "--data-urlencode", "serv=mail",
		"--data-urlencode", "dest=ops@example.com", "--data-urlencode", `type={"text":"text"}`, s.url+"/msg")
}

func (s *e2eServer) cons(t *testing.T, h *nslan.Host, id string) (int, string) {
	t.Helper()
	return e2eCurl(t, h, "--data-urlencode", "id="+id, s.url+"/cons")
}

type e2eARPEntry struct {
	IP     string `json:"ip"`
	MAC    string `json:"mac"`
	Source string `json:"source"`
}

type e2eStatus struct {
	Devices []struct {
		MAC string `json:"mac"`
		IP  string `json:"ip"`
	} `json:"devices"`
	Extra struct {
		ARP []e2eARPEntry `json:"arp"`
	} `json:"extra"`
}

// status fetches /admin/api/status from the box itself (loopback: device "local").
func (s *e2eServer) status(t *testing.T) e2eStatus {
	t.Helper()
	code, body := e2eCurl(t, s.gw, "-u", "admin:"+e2eAdminPassword, "http://127.0.0.1:8080/admin/api/status")
	if code != 200 {
		t.Fatalf("/admin/api/status = %d %q", code, body)
	}
	var st e2eStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/admin/api/status: %v\n%s", err, body)
	}
	return st
}

func (st e2eStatus) arp(ip netip.Addr) (e2eARPEntry, bool) {
	for _, e := range st.Extra.ARP {
		if e.IP == ip.String() {
			return e, true
		}
	}
	return e2eARPEntry{}, false
}

func (st e2eStatus) device(mac string) (string, bool) {
	for _, d := range st.Devices {
		if d.MAC == mac {
			return d.IP, true
		}
	}
	return "", false
}

// e2eUnknownID is shaped like a real id (same length) but names no job.
func e2eUnknownID(id string) string {
	return strings.Repeat("A", len(id))
}

func e2eLAN(t *testing.T) (*nslan.LAN, *nslan.Host, *nslan.Host, *nslan.Host) {
	peertest.Binary(t, "curl")
	lan := nslan.New(t)
	gw := lan.Add(t, "gw", "02:77:00:00:00:01", netip.MustParseAddr("10.77.0.1"))
	a := lan.Add(t, "a", "02:77:00:00:00:0a", netip.MustParseAddr("10.77.0.10"))
	b := lan.Add(t, "b", "02:77:00:00:00:0b", netip.MustParseAddr("10.77.0.11"))
	return lan, gw, a, b
}

// TestE2EDeviceIdentity runs the end-to-end checks, each on a LAN of its own.
func TestE2EDeviceIdentity(t *testing.T) {
	peertest.Root(t, "network namespaces need root")
	peertest.Binary(t, "ip")
	peertest.Binary(t, "curl")
	bin := buildE2EBinary(t, t.TempDir())
	t.Run("DevicesByMAC", func(t *testing.T) { e2eDevicesByMAC(t, bin) })
	t.Run("AllowMACs", func(t *testing.T) { e2eAllowMACs(t, bin) })
	t.Run("NameAndBlock", func(t *testing.T) { e2eNameAndBlock(t, bin) })
	t.Run("InterfaceLive", func(t *testing.T) { e2eInterfaceLive(t, bin) })
	t.Run("DevicesInBrowser", func(t *testing.T) { e2eDevicesInBrowser(t, bin) })
	for _, mode := range []string{"reject", "ip"} {
		t.Run("UnknownDevice="+mode, func(t *testing.T) { e2eUnknownDevice(t, bin, mode) })
	}
}

// e2eDevicesByMAC: jobs belong to the MAC that uploaded them; another device's requests on
// them look exactly like requests on an unknown id; the MACs come from ARP, and a device that
// takes over an IP is a new device.
func e2eDevicesByMAC(t *testing.T, bin string) {
	lan, gw, a, b := e2eLAN(t)
	gw.FlushNeighbors(t)
	s := startE2EServer(t, bin, gw, `unknown_device = "reject"`)

	idA := s.upload(t, a, "hello from A")

	// B on A's job: the same answer as on an id that does not exist, byte for byte.
	for _, route := range []struct {
		name string
		call func(*testing.T, *nslan.Host, string) (int, string)
	}{{"/msg", s.msg}, {"/cons", s.cons}} {
		codeB, bodyB := route.call(t, b, idA)
		codeU, bodyU := route.call(t, b, e2eUnknownID(idA))
		if codeB != 404 || codeB != codeU || bodyB != bodyU {
			t.Errorf("%s from B on A's id = %d %q; on an unknown id = %d %q; want both the same 404",
				route.name, codeB, bodyB, codeU, bodyU)
		}
	}
	// A's own requests work.
	if code, body := s.msg(t, a, idA); code != 200 || strings.TrimSpace(body) != "queued" {
		t.Fatalf("/msg from A on its job = %d %q, want 200 queued", code, body)
	}
	if code, body := s.cons(t, a, idA); code != 200 {
		t.Fatalf("/cons from A on its job = %d %q, want 200", code, body)
	}
	idB := s.upload(t, b, "hello from B")

	// Both MACs were learned from ARP, and stay known when the kernel forgets them.
	check := func(when string) {
		t.Helper()
		st := s.status(t)
		for _, h := range []*nslan.Host{a, b} {
			e, ok := st.arp(h.IP)
			if !ok || e.MAC != h.MAC || e.Source != "arp" {
				t.Errorf("%s: ARP table entry for %v = %+v, %v; want %s from arp\n%+v", when, h.IP, e, ok, h.MAC, st.Extra.ARP)
			}
			if ip, ok := st.device(h.MAC); !ok || ip != h.IP.String() {
				t.Errorf("%s: device %s = %q, %v in the registry, want at %v", when, h.MAC, ip, ok, h.IP)
			}
		}
	}
	check("after the uploads")
	gw.FlushNeighbors(t)
	if k := gw.KernelARP(t); strings.Contains(k, a.MAC) || strings.Contains(k, b.MAC) {
		t.Fatalf("gateway kernel still knows the clients after neigh flush:\n%s", k)
	}
	check("after ip neigh flush")
	if code, body := s.cons(t, b, idB); code != 200 {
		t.Fatalf("/cons from B on its job after neigh flush = %d %q, want 200", code, body)
	}

	// DHCP gives A's address to a new device C: C is not A. (A's job waits in preprocess, so
	// only ownership can make /cons answer 404.)
	idA2 := s.upload(t, a, "A again")
	c := lan.Add(t, "c", "02:77:00:00:00:0c", netip.Addr{})
	a.IPCmd(t, "addr", "del", a.IP.String()+"/24", "dev", a.Link)
	c.IPCmd(t, "addr", "add", a.IP.String()+"/24", "dev", c.Link)
	codeC, bodyC := s.cons(t, c, idA2)
	codeU, bodyU := s.cons(t, c, e2eUnknownID(idA2))
	if codeC != 404 || codeC != codeU || bodyC != bodyU {
		t.Fatalf("/cons from C (took A's IP) on A's id = %d %q, want the unknown-id answer %d %q", codeC, bodyC, codeU, bodyU)
	}
	s.upload(t, c, "hello from C")
	st := s.status(t)
	if e, _ := st.arp(a.IP); e.MAC != c.MAC {
		t.Errorf("ARP entry for %v after takeover = %+v, want %s", a.IP, e, c.MAC)
	}
	if ip, ok := st.device(c.MAC); !ok || ip != a.IP.String() {
		t.Errorf("device %s = %q, %v, want registered at %v", c.MAC, ip, ok, a.IP)
	}
	line := s.waitLog(t, `msg="arp: address moved to another MAC"`, nil)
	if !strings.Contains(line, "old_mac="+a.MAC) || !strings.Contains(line, "mac="+c.MAC) {
		t.Errorf("takeover log line %q, want old_mac=%s mac=%s", line, a.MAC, c.MAC)
	}
	// A, back with another address, still owns its job.
	a.IPCmd(t, "addr", "add", "10.77.0.20/24", "dev", a.Link)
	if code, body := s.cons(t, a, idA2); code != 200 || strings.TrimSpace(body) != "preprocess" {
		t.Fatalf("/cons from A at its new address = %d %q, want 200 preprocess", code, body)
	}
}

// e2eAllowMACs: with an allow-list, other devices get 403.
func e2eAllowMACs(t *testing.T, bin string) {
	_, gw, a, b := e2eLAN(t)
	s := startE2EServer(t, bin, gw, fmt.Sprintf("unknown_device = \"reject\"\nallow_macs = [%q]", strings.ToUpper(a.MAC)))
	s.upload(t, a, "allowed")
	f := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(f, []byte("not allowed"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body := e2eCurl(t, b, "-F", "text=@"+f, s.url+"/data")
	if code != 403 || !strings.Contains(body, b.MAC) {
		t.Fatalf("/data from %s (not in allow_macs) = %d %q, want 403 naming the MAC", b.MAC, code, body)
	}
}

// e2eFarHost puts a client behind a router: the box sees its IP but only the router's MAC, so no
// ARP entry can ever name it.
func e2eFarHost(t *testing.T, lan *nslan.LAN, gw *nslan.Host) *nslan.Host {
	far := nslan.NewSegment(t, netip.MustParsePrefix("10.77.1.0/24"))
	r := lan.Add(t, "r", "02:77:00:00:00:fe", netip.MustParseAddr("10.77.0.254"))
	far.Attach(t, r, "eth1", "02:77:00:01:00:fe", netip.MustParseAddr("10.77.1.254"))
	r.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	x := far.Add(t, "x", "02:77:00:01:00:0a", netip.MustParseAddr("10.77.1.10"))
	x.IPCmd(t, "route", "add", "default", "via", "10.77.1.254")
	gw.IPCmd(t, "route", "add", far.Subnet.String(), "via", r.IP.String())
	return x
}

// e2eUnknownDevice: a device with no ARP entry is rejected (403, saying so) by default, and
// identified by its IP with unknown_device = "ip".
func e2eUnknownDevice(t *testing.T, bin string, mode string) {
	lan, gw, a, _ := e2eLAN(t)
	x := e2eFarHost(t, lan, gw)
	s := startE2EServer(t, bin, gw, fmt.Sprintf("unknown_device = %q", mode))
	s.upload(t, a, "on the LAN")
	f := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(f, []byte("behind a router"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body := e2eCurl(t, x, "-F", "text=@"+f, s.url+"/data")
	if mode == "reject" {
		if code != 403 || !strings.Contains(body, x.IP.String()) {
			t.Fatalf("/data from %v (no ARP entry) = %d %q, want 403 saying so", x.IP, code, body)
		}
		return
	}
	if code != 200 {
		t.Fatalf("/data from %v with unknown_device=ip = %d %q, want 200", x.IP, code, body)
	}
	id := strings.TrimSpace(body)
	if code, body := s.cons(t, x, id); code != 200 {
		t.Fatalf("/cons from %v on its job = %d %q", x.IP, code, body)
	}
	if code, _ := s.cons(t, a, id); code != 404 {
		t.Fatalf("/cons from A on the far device's job = %d, want 404", code)
	}
	st := s.status(t)
	if ip, ok := st.device("ip:" + x.IP.String()); !ok || ip != x.IP.String() {
		t.Fatalf("device ip:%v not in the registry: %+v", x.IP, st.Devices)
	}
	if _, ok := st.arp(x.IP); ok {
		t.Fatalf("ARP table has an entry for the far host %v", x.IP)
	}
}
