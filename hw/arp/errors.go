package arp

import (
	"errors"
	"fmt"
)

// ErrNoInterface means the configured interface does not exist.
var ErrNoInterface = errors.New("no such network interface")

// ErrPermission means the process may not open a raw socket (it needs CAP_NET_RAW).
var ErrPermission = errors.New("permission denied for raw ARP socket (needs CAP_NET_RAW)")

// ErrUnsupported means ARP capture is not available on this operating system.
var ErrUnsupported = errors.New("ARP capture is only supported on Linux")

// ErrClosed is returned by a FrameConn that has been closed.
var ErrClosed = errors.New("arp: connection closed")

// InterfaceError reports a failure to start watching an interface; Err wraps one of the
// sentinels above when the cause is known.
type InterfaceError struct {
	Interface string // as configured
	Op        string // "find", "open", "bind", ...
	Err       error
}

func (e *InterfaceError) Error() string {
	return fmt.Sprintf("arp: interface %q: %s: %v", e.Interface, e.Op, e.Err)
}

func (e *InterfaceError) Unwrap() error { return e.Err }
