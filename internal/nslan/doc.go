// Package nslan builds a throwaway Ethernet LAN out of Linux network namespaces, for tests that
// need real ARP, real sockets and real processes on a LAN without touching the machine's own
// network: a "switch" namespace holds a bridge, every host gets its own namespace joined to the
// bridge by a veth pair, with a fixed MAC and an address in 10.77.0.0/24. Every interface is
// created directly inside these namespaces, so nothing appears in the host's namespace, and the
// addresses exist only there.
//
// Namespaces are named "mmlan-<pid>-<seq>-<role>"; they are removed on t.Cleanup even when the
// test fails, and a LAN left behind by a test process that died (SIGKILL, timeout) is removed by
// the next New, which recognises it by the dead pid. It needs root and ip(8) (iproute2); without
// them the test is skipped on a laptop and fails in CI (internal/peertest).
//
// It is Linux-only; on other systems the package is empty.
package nslan
