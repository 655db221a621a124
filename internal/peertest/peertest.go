// Package peertest decides what a test does when a real peer it needs (root, a network
// namespace, socat, chromium, qemu, python3-cryptography) is missing: on a laptop it skips with
// a loud reason; in CI, where .ci/run installs every peer and sets MULTIMSG_REQUIRE_PEERS=1, the
// same test fails instead, so nothing is skipped silently.
package peertest

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether missing peers are failures (CI) rather than skips.
func Required() bool { return os.Getenv("MULTIMSG_REQUIRE_PEERS") == "1" }

// Missing skips t (or fails it in CI) because peer is not available, for reason.
func Missing(t testing.TB, peer, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("PEER MISSING: %s: %s (MULTIMSG_REQUIRE_PEERS=1: .ci/run should have installed it)", peer, reason)
	}
	t.Skipf("SKIPPED — PEER MISSING: %s: %s (install it, or run .ci/run, to run this test)", peer, reason)
}

// Binary returns the path of the program name, or skips/fails t when it is not installed.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, "not on PATH")
	}
	return p
}

// Root skips/fails t unless it runs as root (network namespaces, raw sockets).
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root", why)
	}
}
