package update_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"multimsg/internal/poll"
	"multimsg/internal/rauctest"
	"multimsg/update"
)

func TestNoBus(t *testing.T) {
	ctx := context.Background()
	bus := "unix:path=" + filepath.Join(t.TempDir(), "nobus")
	u := update.New(ctx, update.Options{Bus: bus, SpoolDir: t.TempDir()})
	defer u.Close()
	st := u.Status(ctx)
	if st.Available || !strings.Contains(st.Reason, "no system D-Bus") {
		t.Errorf("Status without a bus = %+v, want unavailable saying there is no bus", st)
	}
	_, err := u.Install(ctx, strings.NewReader("x"), 1, update.InstallOptions{})
	if !errors.Is(err, update.ErrUnavailable) {
		t.Errorf("Install without a bus = %v, want ErrUnavailable", err)
	}
	if err := u.MarkGood(ctx); !errors.Is(err, update.ErrUnavailable) {
		t.Errorf("MarkGood without a bus = %v, want ErrUnavailable", err)
	}
}

func TestBusWithoutRAUC(t *testing.T) {
	sys := rauctest.Start(t)
	sys.StopService()
	_, err := update.Dial(context.Background(), sys.Bus)
	var ue *update.UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "not running") {
		t.Fatalf("Dial(bus without RAUC) = %v, want UnavailableError saying RAUC is not running", err)
	}
}

func newUpdater(t *testing.T, sys *rauctest.System) (*update.Updater, string) {
	spool := t.TempDir()
	u := update.New(context.Background(), update.Options{Bus: sys.Bus, SpoolDir: spool, MaxBundle: 64 << 20, RefusalWait: 30 * time.Second})
	t.Cleanup(func() { u.Close() })
	return u, spool
}

func install(t *testing.T, u *update.Updater, bundle string, o update.InstallOptions) (*update.Accepted, error) {
	t.Helper()
	f, err := os.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	return u.Install(context.Background(), f, fi.Size(), o)
}

// waitIdle waits for the installation to end and returns the status.
func waitIdle(t *testing.T, u *update.Updater) update.Status {
	t.Helper()
	var st update.Status
	poll.Until(t, 60*time.Second, "the installation to end", func() bool {
		st = u.Status(context.Background())
		return st.Operation == "idle" && st.LastResult != ""
	})
	return st
}

func spoolEmpty(t *testing.T, spool string) {
	t.Helper()
	poll.Until(t, 10*time.Second, "the spool to be emptied", func() bool {
		es, _ := os.ReadDir(spool)
		return len(es) == 0
	})
}

// TestUpdateScenario is the scenario against a real RAUC: refused bundles change
// nothing; v2 installs, reboots, is marked good; a downgrade is refused; a power cut while
// RAUC copies leaves the old slot booting; a v3 that never gets healthy falls back.
func TestUpdateScenario(t *testing.T) {
	sys := rauctest.Start(t)
	u, spool := newUpdater(t, sys)
	ctx := context.Background()
	if st := u.Status(ctx); !st.Available || st.Booted != "A" || st.Compatible != rauctest.Compatible || len(st.Slots) != 2 {
		t.Fatalf("Status at start = %+v, want available, booted A, two slots", st)
	}
	env0 := sys.Env()

	// Refusals: nothing changes, the reason is RAUC's.
	evilCert, evilKey := sys.MakeKey("evil")
	v2 := sys.Bundle(rauctest.BundleOptions{Version: "2.0.0"})
	tampered := filepath.Join(sys.Dir, "tampered.raucb")
	b, _ := os.ReadFile(v2)
	b[len(b)/3] ^= 0xff
	os.WriteFile(tampered, b, 0o600)
	truncated := filepath.Join(sys.Dir, "truncated.raucb")
	os.WriteFile(truncated, b[:len(b)/2], 0o600)
	cases := []struct {
		name, bundle, want string
	}{
		{"evil-signed", sys.Bundle(rauctest.BundleOptions{Version: "2.0.0", Cert: evilCert, Key: evilKey}), "signature"},
		{"tampered", tampered, "signature"},
		{"truncated", truncated, "bundle"},
		{"wrong compatible", sys.Bundle(rauctest.BundleOptions{Version: "2.0.0", Compatible: "other-box"}), "compatible"},
	}
	if sys.Verity {
		cases = append(cases, struct{ name, bundle, want string }{"plain format", sys.Bundle(rauctest.BundleOptions{Version: "2.0.0", Format: "plain"}), "format"})
	}
	for _, c := range cases {
		_, err := install(t, u, c.bundle, update.InstallOptions{})
		var re *update.RefusedError
		if !errors.As(err, &re) || !strings.Contains(strings.ToLower(re.Reason), c.want) {
			t.Errorf("Install(%s) = %v, want a RefusedError mentioning %q", c.name, err, c.want)
		}
		if st := u.Status(ctx); st.LastError == "" || st.Operation != "idle" {
			t.Errorf("after %s: status %+v, want idle with last_error", c.name, st)
		}
		spoolEmpty(t, spool)
	}
	if env := sys.Env(); env["BOOT_ORDER"] != env0["BOOT_ORDER"] || env["BOOT_B_LEFT"] != env0["BOOT_B_LEFT"] {
		t.Errorf("refused bundles changed the bootloader: %v, was %v", env, env0)
	}
	if !rauctest.SlotHolds(t, sys.SlotB, make([]byte, 4096)) {
		t.Errorf("refused bundles wrote into slot B")
	}

	// An upload is exclusive: a second one while the first is still arriving is refused.
	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() { _, err := u.Install(ctx, pr, 1000, update.InstallOptions{}); first <- err }()
	poll.Until(t, 10*time.Second, "the first upload to start", func() bool { return u.Status(ctx).Operation == "installing" })
	if _, err := install(t, u, v2, update.InstallOptions{}); !errors.Is(err, update.ErrBusy) {
		t.Errorf("Install during an upload = %v, want ErrBusy", err)
	}
	pw.Write([]byte("short"))
	pw.Close()
	if err := <-first; !errors.Is(err, update.ErrIncomplete) {
		t.Errorf("Install of a body shorter than announced = %v, want ErrIncomplete", err)
	}

	// v2 installs into B.
	acc, err := install(t, u, v2, update.InstallOptions{})
	if err != nil {
		t.Fatalf("Install(v2) = %v\nrauc log:\n%s", err, sys.Log())
	}
	if acc.Version != "2.0.0" {
		t.Errorf("Accepted = %+v, want version 2.0.0", acc)
	}
	st := waitIdle(t, u)
	if st.LastError != "" || st.Primary != "B" {
		t.Fatalf("after v2: %+v, want no error, primary B\nrauc log:\n%s", st, sys.Log())
	}
	if !rauctest.SlotHolds(t, sys.SlotB, []byte("rootfs 2.0.0\n")) {
		t.Errorf("slot B does not hold v2's image")
	}
	spoolEmpty(t, spool)

	// Reboot into B, healthy: marked good.
	if got := sys.Reboot(); got != "B" {
		t.Fatalf("reboot after v2 booted %s, want B", got)
	}
	u2, _ := newUpdater(t, sys)
	if err := u2.MarkGood(ctx); err != nil {
		t.Fatalf("MarkGood: %v", err)
	}
	if env := sys.Env(); env["BOOT_B_LEFT"] != "3" {
		t.Errorf("after MarkGood: BOOT_B_LEFT=%s, want 3 (attempts reset)", env["BOOT_B_LEFT"])
	}
	st = u2.Status(ctx)
	if st.Booted != "B" || st.Marked == "" || st.Fallback != "" {
		t.Errorf("status on B = %+v, want booted B, marked, no fallback", st)
	}

	// A downgrade is refused unless asked for.
	v1 := sys.Bundle(rauctest.BundleOptions{Version: "1.9.0"})
	if _, err := install(t, u2, v1, update.InstallOptions{}); err == nil || !strings.Contains(err.Error(), "downgrade") {
		t.Errorf("Install(1.9.0 on 2.0.0) = %v, want a downgrade refusal", err)
	}

	// A power cut while RAUC copies into A: slot A is a FIFO nobody reads, so RAUC blocks in
	// the copy until we kill it (SIGKILL: no chance to clean up), then the box boots again.
	os.Remove(sys.SlotA)
	if err := syscall.Mkfifo(sys.SlotA, 0o600); err != nil {
		t.Fatal(err)
	}
	v3 := sys.Bundle(rauctest.BundleOptions{Version: "3.0.0"})
	if _, err := install(t, u2, v3, update.InstallOptions{}); err != nil {
		t.Fatalf("Install(v3) = %v", err)
	}
	poll.Until(t, 30*time.Second, "RAUC copying into slot A", func() bool {
		st := u2.Status(ctx)
		return st.Operation == "installing" && st.Progress > 0 && strings.Contains(strings.ToLower(st.Message), "copy")
	})
	sys.PowerCut()
	os.Remove(sys.SlotA)
	os.WriteFile(sys.SlotA, make([]byte, 4<<20), 0o600)
	if got := sys.Reboot(); got != "B" {
		t.Fatalf("after a power cut during the install the box booted %s, want B (env %v)", got, sys.Env())
	}

	// A v3 that never gets healthy: nobody marks it good; after its attempts the box is back on B.
	u3, _ := newUpdater(t, sys)
	if _, err := install(t, u3, v3, update.InstallOptions{}); err != nil {
		t.Fatalf("Install(v3) again = %v", err)
	}
	if st := waitIdle(t, u3); st.LastError != "" || st.Primary != "A" {
		t.Fatalf("after v3: %+v, want primary A", st)
	}
	boots := []string{}
	for i := 0; i < 4; i++ {
		boots = append(boots, sys.Reboot())
	}
	if strings.Join(boots, "") != "AAAB" {
		t.Errorf("boots after a v3 that never marks itself good = %v, want A A A B", boots)
	}
	u4, _ := newUpdater(t, sys)
	st = u4.Status(ctx)
	if st.Booted != "B" || st.Fallback != "3.0.0 failed to start; running 2.0.0 again" {
		t.Errorf("status after the fallback = booted %s, fallback %q; want B and the page's sentence", st.Booted, st.Fallback)
	}
}
