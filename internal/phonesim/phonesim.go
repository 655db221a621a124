//go:build linux

package phonesim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"multimsg/internal/nslan"
	"multimsg/internal/peertest"
	"multimsg/internal/poll"
)

// DefaultRoot is where build-chroot puts the chroot; MULTIMSG_PHONESIM_ROOT overrides it.
const DefaultRoot = "/var/cache/multimsg/phonesim-chroot"

// nsPrefix starts the name of every namespace this package makes: "mmps-<pid>-<seq>".
const nsPrefix = "mmps-"

// port is phonesim's TCP port inside the test's namespace (no one else is there).
const port = 12345

var seq atomic.Int64

// Modem is one running phonesim behind a pty.
type Modem struct {
	Path string // the pty (a symlink socat keeps to it): the gateway's sms device
	dir  string
	ns   string
}

// Root returns the chroot's path, or skips/fails t when it has not been built.
func Root(t testing.TB) string {
	t.Helper()
	root := os.Getenv("MULTIMSG_PHONESIM_ROOT")
	if root == "" {
		root = DefaultRoot
	}
	if _, err := os.Stat(filepath.Join(root, ".multimsg-phonesim-ready")); err != nil {
		peertest.Missing(t, "phonesim chroot", "no ofono-phonesim chroot at "+root+" (build it with internal/phonesim/build-chroot as root)")
	}
	return root
}

// Start runs phonesim with its default configuration and returns the modem; everything is
// stopped and removed on t.Cleanup.
func Start(t testing.TB) *Modem {
	t.Helper()
	peertest.Root(t, "phonesim runs in a network namespace of the test's own, from a chroot")
	root := Root(t)
	ipBin := peertest.Binary(t, "ip")
	socat := peertest.Binary(t, "socat")
	bin, conf := paths(t, root)

	ns := fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), seq.Add(1))
	nslan.RemoveStale(t, ipBin, nsPrefix)
	run(t, ipBin, "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command(ipBin, "netns", "del", ns).Run() })
	run(t, ipBin, "-n", ns, "link", "set", "lo", "up")

	m := &Modem{dir: t.TempDir(), ns: ns}
	m.Path = filepath.Join(m.dir, "modem")

	// phonesim is a Qt program: the offscreen platform runs it without a display.
	sim := exec.Command(ipBin, "netns", "exec", ns, "chroot", root, bin, "-p", strconv.Itoa(port), conf)
	sim.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp", "QT_QPA_PLATFORM=offscreen", "LANG=C.UTF-8"}
	simLog := &bytes.Buffer{}
	sim.Stdout, sim.Stderr = simLog, simLog
	sim.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := sim.Start(); err != nil {
		t.Fatalf("phonesim: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = sim.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = sim.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("phonesim output:\n%s", simLog.String())
		}
	})
	// Wait for its port before bridging: socat then connects at once.
	waitListen(t, ipBin, ns, exited, simLog)

	// rawer: no echo, no line discipline, as a serial port opened raw. -r/-R dump what the
	// driver sent and what the modem answered. socat ends when the host closes the pty (a reset,
	// a reopen); the loop brings it back at the same path with a fresh connection, as a USB
	// modem re-enumerates, each time with dump files of its own.
	loop := fmt.Sprintf(`i=0; while :; do i=$((i+1)); %s -r %s.$i -R %s.$i PTY,link=%s,rawer,wait-slave TCP:127.0.0.1:%d; sleep 0.1; done`,
		socat, m.sentPath(), m.answeredPath(), m.Path, port)
	br := exec.Command(ipBin, "netns", "exec", ns, "/bin/sh", "-c", loop)
	brLog := &bytes.Buffer{}
	br.Stdout, br.Stderr = brLog, brLog
	br.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := br.Start(); err != nil {
		t.Fatalf("socat: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-br.Process.Pid, syscall.SIGKILL) // the loop and its socat
		_ = br.Wait()
		if t.Failed() {
			t.Logf("socat output:\n%s", brLog.String())
		}
	})
	poll.Until(t, 10*time.Second, "socat's pty link", func() bool {
		_, err := os.Stat(m.Path)
		return err == nil
	})
	return m
}

func (m *Modem) sentPath() string     { return filepath.Join(m.dir, "wire-to-modem") }
func (m *Modem) answeredPath() string { return filepath.Join(m.dir, "wire-from-modem") }

// Sent is every byte the host has written to the modem so far (over every opening of the pty).
func (m *Modem) Sent() []byte { return readDumps(m.sentPath()) }

// Answered is every byte the modem has written to the host so far.
func (m *Modem) Answered() []byte { return readDumps(m.answeredPath()) }

// readDumps concatenates base.1, base.2, ... (one per run of socat) in order.
func readDumps(base string) []byte {
	var out []byte
	for i := 1; ; i++ {
		b, err := os.ReadFile(base + "." + strconv.Itoa(i))
		if err != nil {
			return out
		}
		out = append(out, b...)
	}
}

// Commands splits Sent into command lines; a PDU sent at the "> " prompt is one line of its
// own, ending in Ctrl-Z (which is kept).
func (m *Modem) Commands() []string {
	var out []string
	for _, l := range strings.FieldsFunc(string(m.Sent()), func(r rune) bool { return r == '\r' || r == '\n' }) {
		// a PDU and the Ctrl-Z that ends it may be followed by the next command
		for {
			i := strings.IndexByte(l, 0x1a)
			if i < 0 {
				break
			}
			out = append(out, l[:i+1])
			l = l[i+1:]
		}
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// paths reads where the package put phonesim and its default configuration.
func paths(t testing.TB, root string) (bin, conf string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, ".multimsg-phonesim-paths"))
	if err != nil {
		peertest.Missing(t, "phonesim chroot", "incomplete chroot at "+root+": "+err.Error())
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "bin="); ok {
			bin = v
		}
		if v, ok := strings.CutPrefix(l, "conf="); ok {
			conf = v
		}
	}
	if bin == "" || conf == "" {
		t.Fatalf("phonesim chroot at %s: paths file lacks bin= or conf=", root)
	}
	return bin, conf
}

// waitListen waits until phonesim accepts connections in namespace ns.
func waitListen(t testing.TB, ipBin, ns string, exited <-chan struct{}, out *bytes.Buffer) {
	t.Helper()
	ok := poll.Wait(30*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// ss is in iproute2, like ip: a listening socket on the namespace's loopback.
		b, err := exec.CommandContext(ctx, ipBin, "netns", "exec", ns, "ss", "-Hltn", "sport", "= :"+strconv.Itoa(port)).Output()
		return err == nil && len(bytes.TrimSpace(b)) > 0
	})
	select {
	case <-exited:
		t.Fatalf("phonesim exited at start:\n%s", out.String())
	default:
	}
	if !ok {
		t.Fatalf("phonesim did not listen on :%d within 30s:\n%s", port, out.String())
	}
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
