// Package serial opens serial ports (github.com/tarm/serial) by path, and reopens them by the
// same path when the device comes back: USB modems drop off the bus when reset (AT+CFUN=1,1)
// or unplugged, and reappear, often under another /dev/ttyUSBn. Configure a stable path such
// as /dev/serial/by-id/usb-<vendor>_<model>_<serial>-if02-port0, which udev re-points at the
// new node.
//
// tarm/serial has no cancellation and no deadlines: a Read returns after the port's read
// timeout with nothing (VTIME). Port turns that into (0, nil) so a reader can loop and look
// at its own context, and tells a hung-up or vanished device (ErrGone) apart from a quiet
// one by checking the path still leads to the device it opened. Flush is not used (it is
// broken on MIPS).
package serial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	tarm "github.com/tarm/serial"
)

// DefaultReadTimeout is the read timeout used when none is given.
const DefaultReadTimeout = 200 * time.Millisecond

// Port is an open serial port.
type Port struct {
	path string
	port io.ReadWriteCloser
	rdev uint64 // the device number opened, to notice the path now leads elsewhere

	readTimeout time.Duration
	mu          sync.Mutex // guards quick
	quick       int        // consecutive empty reads that returned well before the timeout
	closeOnce   sync.Once
}

// Open opens path at baud (8N1, no flow control) with the given read timeout (0: default).
func Open(path string, baud int, readTimeout time.Duration) (*Port, error) {
	if readTimeout <= 0 {
		readTimeout = DefaultReadTimeout
	}
	if baud <= 0 {
		baud = 115200
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("serial: %s: %w", path, err)
	}
	p, err := tarm.OpenPort(&tarm.Config{Name: path, Baud: baud, ReadTimeout: readTimeout})
	if err != nil {
		return nil, fmt.Errorf("serial: open %s at %d baud: %w", path, baud, err)
	}
	return &Port{path: path, port: p, rdev: uint64(st.Rdev), readTimeout: readTimeout}, nil
}

// Read reads what the device has sent. (0, nil) means the read timeout passed with nothing;
// an error wrapping ErrGone means the device is no longer there.
func (p *Port) Read(b []byte) (int, error) {
	start := time.Now()
	n, err := p.port.Read(b)
	if n > 0 {
		p.mu.Lock()
		p.quick = 0
		p.mu.Unlock()
		return n, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("serial: read %s: %w: %v", p.path, ErrGone, err)
	}
	// tarm reports its read timeout as (0, io.EOF); a hung-up tty says the same, at once.
	if !p.samePath() {
		return 0, fmt.Errorf("serial: %s: %w (the path no longer leads to the device opened)", p.path, ErrGone)
	}
	if time.Since(start) < p.readTimeout/4 {
		p.mu.Lock()
		p.quick++
		q := p.quick
		p.mu.Unlock()
		if q >= 50 {
			return 0, fmt.Errorf("serial: %s: %w (hung up: reads return at once with nothing)", p.path, ErrGone)
		}
	}
	return 0, nil
}

// Write writes b to the device.
func (p *Port) Write(b []byte) (int, error) {
	n, err := p.port.Write(b)
	if err != nil {
		return n, fmt.Errorf("serial: write %s: %w: %v", p.path, ErrGone, err)
	}
	return n, nil
}

// Close closes the port. A Read in progress returns within the read timeout.
func (p *Port) Close() error {
	var err error
	p.closeOnce.Do(func() { err = p.port.Close() })
	return err
}

// Path is the path the port was opened by.
func (p *Port) Path() string { return p.path }

func (p *Port) samePath() bool {
	var st syscall.Stat_t
	if err := syscall.Stat(p.path, &st); err != nil {
		return false
	}
	return uint64(st.Rdev) == p.rdev
}

// Opener returns a function that opens path at baud, for modem.Options.Open: each call is one
// attempt (the caller backs off between them), so a device that vanished is picked up by the
// same path when it comes back.
func Opener(path string, baud int, readTimeout time.Duration) func(ctx context.Context) (io.ReadWriteCloser, error) {
	return func(ctx context.Context) (io.ReadWriteCloser, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p, err := Open(path, baud, readTimeout)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}
