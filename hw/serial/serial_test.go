package serial

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/creack/pty"
)

// byID makes a pty and a /dev/serial/by-id style symlink to its slave.
func byID(t *testing.T, dir string) (master *os.File, link string) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	s.Close() // the port under test opens it by path
	link = filepath.Join(dir, "usb-SIM_Modem-if02-port0")
	tmp := link + ".new"
	if err := os.Symlink(s.Name(), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, link
}

func TestReadTimeoutAndData(t *testing.T) {
	m, link := byID(t, t.TempDir())
	p, err := Open(link, 115200, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	buf := make([]byte, 64)
	// Nothing sent: the read returns after the timeout with nothing and no error.
	if n, err := p.Read(buf); n != 0 || err != nil {
		t.Fatalf("quiet Read = %d, %v; want 0, nil", n, err)
	}
	if _, err := m.Write([]byte("OK\r\n")); err != nil {
		t.Fatal(err)
	}
	n, err := p.Read(buf)
	if err != nil || string(buf[:n]) != "OK\r\n" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if _, err := p.Write([]byte("AT\r")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 3)
	if _, err := m.Read(got); err != nil || string(got) != "AT\r" {
		t.Fatalf("modem side read %q, %v", got, err)
	}
}

func TestGoneWhenUnplugged(t *testing.T) {
	dir := t.TempDir()
	m, link := byID(t, dir)
	p, err := Open(link, 115200, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The device vanishes (master closed: hang-up) and the by-id link goes with it.
	m.Close()
	os.Remove(link)
	buf := make([]byte, 16)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := p.Read(buf)
		if errors.Is(err, ErrGone) {
			break
		}
		if err != nil {
			t.Fatalf("Read = %v, want ErrGone", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("Read never reported the device gone")
		}
	}
	// Not there: opening fails, so the caller backs off and tries again.
	if _, err := Opener(link, 115200, 0)(t.Context()); err == nil {
		t.Fatal("opened a vanished device")
	}
	// It comes back (a new pty at the same path): the same opener finds it.
	byID(t, dir)
	p2, err := Opener(link, 115200, 0)(t.Context())
	if err != nil {
		t.Fatalf("reopen by path: %v", err)
	}
	p2.Close()
}

func TestGoneWhenPathRepointed(t *testing.T) {
	dir := t.TempDir()
	m, link := byID(t, dir)
	p, err := Open(link, 115200, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	m.Close()
	byID(t, dir) // re-enumerated at once under a new node: the link now leads elsewhere
	buf := make([]byte, 16)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := p.Read(buf)
		if errors.Is(err, ErrGone) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Read never reported the device gone")
		}
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "none"), 115200, 0); err == nil {
		t.Error("opened a missing path")
	}
	_, link := byID(t, t.TempDir())
	if _, err := Open(link, 12345, 0); err == nil {
		t.Error("opened with a baud rate tarm/serial does not know")
	}
}
