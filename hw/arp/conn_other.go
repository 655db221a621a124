//go:build !linux

package arp

import "net"

// PacketConn is an AF_PACKET socket; it only exists on Linux.
type PacketConn struct{ FrameConn }

// Dial is not supported outside Linux.
func Dial(ifi *net.Interface) (*PacketConn, error) {
	return nil, &InterfaceError{Interface: ifi.Name, Op: "open", Err: ErrUnsupported}
}
