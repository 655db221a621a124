package watchdog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// petByte is what a plain-write pet writes. Any byte but 'V' keeps a Linux watchdog alive.
const petByte = '.'

// magicClose is the byte that, written just before close, disarms drivers that support it.
const magicClose = 'V'

// Options tune a [Dog]. The zero value is ready to use.
type Options struct {
	// Logger receives state changes (unhealthy, healthy again, timeout set). Nil discards.
	Logger *slog.Logger
	// NewTicker returns a channel of ticks every d and a function that stops it. Nil uses
	// time.NewTicker; tests hand in a channel they drive themselves.
	NewTicker func(d time.Duration) (<-chan time.Time, func())
}

// Dog is an open watchdog. Run pets it; Close disarms it. Methods may be called from any
// goroutine, but Close is meant to be called once Run has returned.
type Dog struct {
	path      string
	log       *slog.Logger
	newTicker func(time.Duration) (<-chan time.Time, func())

	mu  sync.Mutex // guards f: Run's pets and Close may come from different goroutines
	f   *os.File   // nil once closed
	dev bool       // f is a character device: ioctls apply
}

// Open opens (and so arms) the watchdog at path. A missing path gives an error that
// errors.Is(err, fs.ErrNotExist) recognises, so callers can run without a watchdog.
func Open(path string, opts Options) (*Dog, error) {
	// O_WRONLY: watchdog devices accept writes only; opening arms the timer.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("watchdog: open: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("watchdog: stat %s: %w", path, err)
	}
	d := &Dog{
		path:      path,
		log:       opts.Logger,
		newTicker: opts.NewTicker,
		f:         f,
		dev:       fi.Mode()&os.ModeCharDevice != 0,
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.log = d.log.With("watchdog", path)
	if d.newTicker == nil {
		d.newTicker = func(iv time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(iv)
			return t.C, t.Stop
		}
	}
	return d, nil
}

// Path is the path the dog was opened with.
func (d *Dog) Path() string { return d.path }

// SetTimeout asks the driver to reset the board after timeout without a pet (whole seconds,
// at least one) and returns the timeout the driver actually chose, which may differ.
func (d *Dog) SetTimeout(timeout time.Duration) (time.Duration, error) {
	secs := max(int((timeout+time.Second-1)/time.Second), 1)
	var got int
	err := d.control(func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.WDIOC_SETTIMEOUT, secs); err != nil {
			return fmt.Errorf("watchdog: set timeout %ds: %w", secs, err)
		}
		var err error
		if got, err = unix.IoctlGetInt(fd, unix.WDIOC_GETTIMEOUT); err != nil {
			return fmt.Errorf("watchdog: get timeout: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	d.log.Info("watchdog timeout set", "timeout", time.Duration(got)*time.Second)
	return time.Duration(got) * time.Second, nil
}

// Timeout is the driver's current timeout.
func (d *Dog) Timeout() (time.Duration, error) {
	var got int
	err := d.control(func(fd int) error {
		var err error
		if got, err = unix.IoctlGetInt(fd, unix.WDIOC_GETTIMEOUT); err != nil {
			return fmt.Errorf("watchdog: get timeout: %w", err)
		}
		return nil
	})
	return time.Duration(got) * time.Second, err
}

// control runs fn on the device's descriptor, for ioctls. Non-devices give ErrNotDevice.
func (d *Dog) control(fn func(fd int) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return ErrClosed
	}
	if !d.dev {
		return fmt.Errorf("%w: %s", ErrNotDevice, d.path)
	}
	rc, err := d.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("watchdog: %w", err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return fmt.Errorf("watchdog: %w", err)
	}
	return ferr
}

// Pet resets the watchdog's timer once: WDIOC_KEEPALIVE on a device, a write otherwise (or
// when the driver does not know the ioctl).
func (d *Dog) Pet() error {
	if d.isDev() {
		err := d.control(unix.IoctlWatchdogKeepalive)
		if !errors.Is(err, unix.ENOTTY) && !errors.Is(err, unix.EINVAL) {
			if err != nil {
				return fmt.Errorf("watchdog: keepalive: %w", err)
			}
			return nil
		}
		// A character device that is not a watchdog driver: fall back to a write.
	}
	return d.write(petByte)
}

func (d *Dog) isDev() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dev
}

func (d *Dog) write(b byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return ErrClosed
	}
	if _, err := d.f.Write([]byte{b}); err != nil {
		return fmt.Errorf("watchdog: write: %w", err)
	}
	return nil
}

// Run pets the dog now and then every interval, as long as healthy returns nil, until ctx is
// done; then it returns nil, leaving the dog armed (call Close for a clean shutdown). A check
// that fails or is still running after interval (its ctx is cancelled then, and healthy must
// return) skips the pet: if checks keep failing the driver's timeout runs out and the board
// resets. Petting resumes as soon as a check passes again. Run starts no goroutines. It returns
// an error only when the device refuses a pet.
//
// Choose interval well below the driver's timeout (a third of it, say), so one slow check
// does not reset a healthy board.
func (d *Dog) Run(ctx context.Context, interval time.Duration, healthy func(context.Context) error) error {
	if interval <= 0 {
		return fmt.Errorf("watchdog: interval %v must be positive", interval)
	}
	ticks, stop := d.newTicker(interval)
	defer stop()
	wasHealthy := true
	for {
		err := d.check(ctx, interval, healthy)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err == nil:
			if perr := d.Pet(); perr != nil {
				return perr
			}
			if !wasHealthy {
				d.log.Info("service healthy again, petting the watchdog")
			}
		case wasHealthy:
			// Logged once per episode: a wedged service must not flood the log either.
			d.log.Error("service unhealthy, no longer petting the watchdog: the board resets when its timeout runs out", "err", err)
		}
		wasHealthy = err == nil
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
	}
}

// check runs healthy with a deadline of one interval.
func (d *Dog) check(ctx context.Context, interval time.Duration, healthy func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, interval)
	defer cancel()
	if err := healthy(cctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnhealthy, err)
	}
	return nil
}

// Close writes the magic character 'V' and closes the device, which disarms drivers that
// support magic close. Use it on a clean shutdown only: a service that exits without Close
// leaves the timer running and the board resets. A second Close returns ErrClosed.
func (d *Dog) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return ErrClosed
	}
	_, werr := d.f.Write([]byte{magicClose})
	if werr != nil {
		werr = fmt.Errorf("watchdog: magic close: %w", werr)
	}
	cerr := d.f.Close()
	if cerr != nil {
		cerr = fmt.Errorf("watchdog: close: %w", cerr)
	}
	d.f = nil
	if werr == nil && cerr == nil {
		d.log.Info("watchdog disarmed (magic close)")
	}
	return errors.Join(werr, cerr)
}
