package watchdog

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeTicker hands Run a tick channel the test drives; stopped is closed by Run's stop.
type fakeTicker struct {
	c       chan time.Time
	stopped chan struct{}
}

func newFakeTicker() *fakeTicker {
	return &fakeTicker{c: make(chan time.Time), stopped: make(chan struct{})}
}

func (f *fakeTicker) new(time.Duration) (<-chan time.Time, func()) {
	return f.c, func() { close(f.stopped) }
}

// fifo makes a FIFO and returns its path and a function to call once the writer has opened it
// (before that a read sees EOF), which returns a channel of the bytes written into the FIFO,
// closed at EOF (when the writer closes).
func fifo(t *testing.T) (string, func() <-chan byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	// O_NONBLOCK so this open does not wait for the writer; reads still block (in the poller).
	r, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("open fifo for reading: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return path, func() <-chan byte {
		out := make(chan byte, 64)
		go func() {
			defer close(out)
			buf := make([]byte, 16)
			for {
				n, err := r.Read(buf)
				for _, b := range buf[:n] {
					out <- b
				}
				if err != nil {
					return
				}
			}
		}()
		return out
	}
}

func next(t *testing.T, c <-chan byte) byte {
	t.Helper()
	b, ok := <-c
	if !ok {
		t.Fatal("watchdog closed early: want another byte")
	}
	return b
}

func rest(c <-chan byte) string {
	var s []byte
	for b := range c {
		s = append(s, b)
	}
	return string(s)
}

func TestRunPetsWhileHealthyStopsWhenUnhealthyAndMagicCloses(t *testing.T) {
	path, read := fifo(t)
	tick := newFakeTicker()
	d, err := Open(path, Options{NewTicker: tick.new})
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	pets := read()
	if d.isDev() {
		t.Fatal("a FIFO taken for a device")
	}
	healthy := make(chan error, 1)
	check := func(context.Context) error { return <-healthy }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, time.Second, check) }()

	healthy <- nil // the first check, before any tick
	if b := next(t, pets); b != petByte {
		t.Fatalf("first pet = %q, want %q", b, petByte)
	}
	healthy <- nil
	tick.c <- time.Time{}
	if b := next(t, pets); b != petByte {
		t.Fatalf("pet after a healthy tick = %q, want %q", b, petByte)
	}
	healthy <- errors.New("store not writable")
	tick.c <- time.Time{}
	// Run takes the next tick only once it has finished with the unhealthy one, so if that one
	// had petted, its pet would be the byte read below and one more would be left at the end.
	healthy <- nil
	tick.c <- time.Time{}
	if b := next(t, pets); b != petByte {
		t.Fatalf("pet after recovery = %q, want %q", b, petByte)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	select {
	case <-tick.stopped:
	default:
		t.Error("Run returned without stopping its ticker")
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := rest(pets); got != "V" {
		t.Errorf("bytes after the recovery pet = %q, want %q (no pet while unhealthy, then magic close)", got, "V")
	}
	if err := d.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close() = %v, want ErrClosed", err)
	}
}

// A check that hangs is a wedged service: its context ends after one interval and the tick
// goes unpetted.
func TestRunDoesNotPetWhileCheckHangs(t *testing.T) {
	path, read := fifo(t)
	tick := newFakeTicker()
	d, err := Open(path, Options{NewTicker: tick.new})
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	pets := read()
	wedged := make(chan bool, 1)
	gaveUp := make(chan struct{}, 1)
	check := func(ctx context.Context) error {
		if <-wedged {
			<-ctx.Done() // blocks like a dispatcher loop that stopped answering
			gaveUp <- struct{}{}
			return ctx.Err()
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, 10*time.Millisecond, check) }()

	wedged <- false
	if b := next(t, pets); b != petByte {
		t.Fatalf("first pet = %q, want %q", b, petByte)
	}
	wedged <- true
	tick.c <- time.Time{}
	<-gaveUp
	wedged <- true
	tick.c <- time.Time{} // taken only after the hung check was dealt with
	<-gaveUp
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := rest(pets); got != "V" {
		t.Errorf("bytes after the first pet = %q, want %q (no pet while wedged)", got, "V")
	}
}

func TestRunReturnsAtOnceOnDoneContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dog")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Run(ctx, time.Hour, func(context.Context) error { return nil }); err != nil {
		t.Errorf("Run(done ctx) = %v, want nil", err)
	}
	if err := d.Run(context.Background(), 0, nil); err == nil {
		t.Error("Run(interval 0) = nil, want an error")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "V" {
		t.Errorf("file = %q, want %q (no pet on a done context)", b, "V")
	}
}

func TestRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dog")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	for range 2 {
		if err := d.Pet(); err != nil {
			t.Fatalf("Pet() = %v", err)
		}
	}
	if _, err := d.SetTimeout(15 * time.Second); !errors.Is(err, ErrNotDevice) {
		t.Errorf("SetTimeout on a file = %v, want ErrNotDevice", err)
	}
	if _, err := d.Timeout(); !errors.Is(err, ErrNotDevice) {
		t.Errorf("Timeout on a file = %v, want ErrNotDevice", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := d.Pet(); !errors.Is(err, ErrClosed) {
		t.Errorf("Pet after Close = %v, want ErrClosed", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "..V" {
		t.Errorf("file = %q, want %q", b, "..V")
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope"), Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
}

// /dev/null is a character device that knows no watchdog ioctl: pets fall back to writes,
// timeouts are refused with the driver's ENOTTY.
func TestCharDeviceWithoutWatchdogIoctls(t *testing.T) {
	d, err := Open(os.DevNull, Options{})
	if err != nil {
		t.Fatalf("Open(%s) = %v", os.DevNull, err)
	}
	defer d.Close()
	if !d.isDev() {
		t.Fatalf("%s not seen as a character device", os.DevNull)
	}
	if err := d.Pet(); err != nil {
		t.Errorf("Pet() = %v, want the write fallback to succeed", err)
	}
	if _, err := d.SetTimeout(10 * time.Second); !errors.Is(err, unix.ENOTTY) {
		t.Errorf("SetTimeout on %s = %v, want ENOTTY", os.DevNull, err)
	}
}

// A real watchdog, when the machine has one we may use (softdog in the emulated boot test,
// buildroot/scripts/qemu-test, or MULTIMSG_WATCHDOG_TEST=/dev/watchdog1 on a board): opening
// arms it, so the test must end with a clean magic close, which sysfs confirms when the
// kernel has CONFIG_WATCHDOG_SYSFS.
func TestRealDevice(t *testing.T) {
	path := os.Getenv("MULTIMSG_WATCHDOG_TEST")
	if path == "" {
		t.Skip("set MULTIMSG_WATCHDOG_TEST to a watchdog device to test against real hardware")
	}
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	if !d.isDev() {
		d.Close()
		t.Fatalf("%s is not a character device", path)
	}
	if st, ok := sysfsState(path); ok && st != "active" {
		t.Errorf("sysfs state after Open = %q, want active", st)
	}
	got, err := d.SetTimeout(30 * time.Second)
	if err != nil {
		d.Close()
		t.Fatalf("SetTimeout = %v", err)
	}
	if got <= 0 {
		t.Errorf("SetTimeout(30s) = %v, want a positive timeout", got)
	}
	if now, err := d.Timeout(); err != nil || now != got {
		t.Errorf("Timeout() = %v, %v, want %v", now, err, got)
	}
	if err := d.Pet(); err != nil {
		t.Errorf("Pet() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pets := 0
	err = d.Run(ctx, time.Hour, func(context.Context) error {
		pets++
		cancel() // one check, then a clean stop
		return nil
	})
	if err != nil || pets != 1 {
		t.Errorf("Run = %v after %d checks, want nil after 1", err, pets)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if st, ok := sysfsState(path); ok && st != "inactive" {
		t.Errorf("sysfs state after magic close = %q, want inactive", st)
	}
}

// sysfsState reads /sys/class/watchdog/watchdogN/state for the device at path.
func sysfsState(path string) (string, bool) {
	name := filepath.Base(path)
	if name == "watchdog" {
		name = "watchdog0" // the legacy node is the first watchdog
	}
	b, err := os.ReadFile(filepath.Join("/sys/class/watchdog", name, "state"))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

var _ io.Closer = (*Dog)(nil)
