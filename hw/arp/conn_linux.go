//go:build linux

package arp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxDrain bounds one Drain: the socket's receive buffer holds a few hundred frames at most, so
// only frames arriving during a drain could exceed it (a flood); the rest wait for the next one.
const maxDrain = 1024

// PacketConn is an AF_PACKET socket bound to ETH_P_ARP on one interface. Its descriptor is
// non-blocking and owned by an *os.File, so Wait goes through the runtime poller and Close
// unblocks it.
type PacketConn struct {
	f  *os.File
	rc syscall.RawConn

	// Drain's state: Drain is not called concurrently, so these are owned by its caller.
	buf     []byte
	fn      func([]byte)
	err     error
	drainFD func(fd uintptr) // c.drain, bound once so a Drain does not allocate
	peekFD  func(fd uintptr) bool
	peekErr error // set by peekFD, read by Wait (Wait is called from one goroutine)

	closed atomic.Bool // RawConn reports a closed file as an unexported poll error
}

// Dial opens an ARP socket on ifi. It needs CAP_NET_RAW; without it the error wraps
// ErrPermission, and a vanished interface gives ErrNoInterface.
func Dial(ifi *net.Interface) (*PacketConn, error) {
	proto := htons(unix.ETH_P_ARP)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return nil, ifaceErr(ifi.Name, "open raw socket", err)
	}
	// Frames the box sends itself (its own who-has, the kernel's replies) teach nothing. Old
	// kernels (< 4.20) lack the option; the watcher copes with seeing its own frames.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, ifaceErr(ifi.Name, "bind", err)
	}
	f := os.NewFile(uintptr(fd), "arp:"+ifi.Name)
	if f == nil {
		unix.Close(fd)
		return nil, &InterfaceError{Interface: ifi.Name, Op: "open", Err: errors.New("invalid descriptor")}
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, &InterfaceError{Interface: ifi.Name, Op: "open", Err: err}
	}
	c := &PacketConn{f: f, rc: rc, buf: make([]byte, maxFrameLen)}
	c.drainFD = c.drain
	c.peekFD = c.peek
	return c, nil
}

// Wait blocks until a frame is queued on the socket (it does not take it), or the socket fails
// or is closed.
func (c *PacketConn) Wait() error {
	c.peekErr = nil
	if err := c.rc.Read(c.peekFD); err != nil {
		return c.closedErr(err)
	}
	return c.peekErr
}

// peek reports whether Wait is over: a frame is queued, or the socket reports an error (the
// interface went down, say). It returns false only on EAGAIN, after which the poller waits.
func (c *PacketConn) peek(fd uintptr) bool {
	var b [1]byte
	for {
		_, err := recv(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT|unix.MSG_TRUNC)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case nil:
			return true
		}
		c.peekErr = err
		return true
	}
}

// Drain passes every queued frame to fn (up to maxDrain) and returns when none is left.
func (c *PacketConn) Drain(fn func([]byte)) error {
	c.fn, c.err = fn, nil
	if err := c.rc.Control(c.drainFD); err != nil {
		return c.closedErr(err)
	}
	c.fn = nil
	return c.err
}

func (c *PacketConn) drain(fd uintptr) {
	for range maxDrain {
		n, err := recv(fd, c.buf, unix.MSG_DONTWAIT)
		switch err {
		case nil:
			c.fn(c.buf[:n])
		case unix.EINTR:
		case unix.EAGAIN:
			return
		default:
			c.err = err
			return
		}
	}
}

// recv is recvfrom without the source address, which unix.Recvfrom would allocate.
func recv(fd uintptr, b []byte, flags int) (int, error) {
	n, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(flags), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// WriteFrame sends one complete Ethernet frame on the bound interface.
func (c *PacketConn) WriteFrame(b []byte) error {
	_, err := c.f.Write(b)
	return c.closedErr(err)
}

// Close closes the socket and unblocks a pending Wait.
func (c *PacketConn) Close() error {
	c.closed.Store(true)
	return c.f.Close()
}

// closedErr reports an error after Close as ErrClosed.
func (c *PacketConn) closedErr(err error) error {
	if err != nil && (c.closed.Load() || errors.Is(err, os.ErrClosed)) {
		return ErrClosed
	}
	return err
}

func ifaceErr(name, op string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		err = fmt.Errorf("%w: %w", ErrPermission, err)
	case errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
		err = fmt.Errorf("%w: %w", ErrNoInterface, err)
	}
	return &InterfaceError{Interface: name, Op: op, Err: err}
}

// htons converts a 16-bit value to network byte order, as AF_PACKET wants its protocol.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
