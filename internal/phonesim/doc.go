// Package phonesim runs oFono's phone simulator (phonesim, Debian's ofono-phonesim) as a GSM
// modem for tests: a modem implementation nobody here wrote. phonesim speaks AT over TCP; the
// harness runs it headless in a network namespace of the test's own (so its port is on that
// namespace's loopback and nothing else can reach it), and bridges it to a pseudo-terminal with
// socat, so the gateway opens it like a serial device. socat also dumps both directions of the
// wire raw to files (-r/-R), so a test can decode every PDU the driver sent with its own decoder.
//
// Debian bookworm has no ofono-phonesim: it runs from a small Debian chroot made once by the
// build-chroot script beside this file (.ci/run calls it; cached under
// /var/cache/multimsg/phonesim-chroot). Without the chroot, root, ip(8) or socat, a test is
// skipped loudly on a laptop and fails in CI (internal/peertest).
//
// It is Linux-only; on other systems the package is empty.
package phonesim
