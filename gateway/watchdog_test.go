package gateway_test

import (
	"bytes"
	"fmt"
	"multimsg/internal/poll"
	"os"
	"path/filepath"
	"testing"
	"time"

	"multimsg/gateway/gatewaytest"
)

// TestWatchdogWiring: with watchdog set, the gateway pets the device while healthy and writes
// the magic 'V' on a clean stop. A plain file stands in for /dev/watchdog (no ioctls apply).
func TestWatchdogWiring(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, fmt.Sprintf("watchdog = %q\n[[mail.sender]]\nname = \"o\"\nmaildir = \"outbox\"\n", dev))
	poll.Until(t, 10*time.Second, "the gateway to pet the watchdog", func() bool {
		b, _ := os.ReadFile(dev)
		return len(b) > 0
	})
	g.Stop(t)
	b, _ := os.ReadFile(dev)
	if !bytes.HasSuffix(b, []byte("V")) || bytes.Count(b, []byte("V")) != 1 {
		t.Fatalf("watchdog writes = %q, want pets then one magic 'V' at the clean stop", b)
	}
}

// TestWatchdogMissing: a box without the device runs anyway.
func TestWatchdogMissing(t *testing.T) {
	g := gatewaytest.Start(t, "watchdog = \"/nonexistent/watchdog\"\n[[mail.sender]]\nname = \"o\"\nmaildir = \"outbox\"\n")
	if code, body := gatewaytest.Get(t, g.URL+"/healthz"); code != 200 {
		t.Fatalf("/healthz = %d %q", code, body)
	}
}

// TestRestoreClockSaves: with restore_clock the gateway keeps the wall time in the data dir,
// so a board without an RTC can start from it next time (hw/clock tests the restoring).
func TestRestoreClockSaves(t *testing.T) {
	g := gatewaytest.Start(t, "restore_clock = true\n[[mail.sender]]\nname = \"o\"\nmaildir = \"outbox\"\n")
	poll.Until(t, 10*time.Second, "the clock file", func() bool {
		_, err := os.Stat(filepath.Join(g.DataDir, "clock"))
		return err == nil
	})
	b, _ := os.ReadFile(filepath.Join(g.DataDir, "clock"))
	if len(bytes.TrimSpace(b)) < 10 {
		t.Fatalf("clock file holds %q, want the unix time", b)
	}
}
