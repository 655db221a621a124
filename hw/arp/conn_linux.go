//go:build linux

package arp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// PacketConn is an AF_PACKET socket bound to ETH_P_ARP on one interface. Its descriptor is
// non-blocking and owned by an *os.File, so reads go through the runtime poller: Close unblocks a
// pending ReadFrame, and deadlines work.
type PacketConn struct {
	f *os.File
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
	return &PacketConn{f: f}, nil
}

// ReadFrame reads one frame into b (a frame longer than b is truncated).
func (c *PacketConn) ReadFrame(b []byte) (int, error) {
	n, err := c.f.Read(b)
	if errors.Is(err, os.ErrClosed) {
		return n, ErrClosed
	}
	return n, err
}

// WriteFrame sends one complete Ethernet frame on the bound interface.
func (c *PacketConn) WriteFrame(b []byte) error {
	_, err := c.f.Write(b)
	if errors.Is(err, os.ErrClosed) {
		return ErrClosed
	}
	return err
}

// Close closes the socket and unblocks a pending ReadFrame.
func (c *PacketConn) Close() error { return c.f.Close() }

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
