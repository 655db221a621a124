package update_test

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"multimsg/internal/rauctest"
	"multimsg/update"
)

// TestBundleScript builds a verity bundle with buildroot/scripts/bundle (what make bundle runs)
// and hands it to a real RAUC: the signature and the manifest must be what the box expects.
// Where the host has no device-mapper, RAUC cannot mount a verity bundle to install it: the
// installation then fails with that reason in last_error, and the test says so.
func TestBundleScript(t *testing.T) {
	sys := rauctest.Start(t)
	rootfs := filepath.Join(t.TempDir(), "rootfs.ext4")
	img := make([]byte, 64<<10) // incompressible: rauc wants a squashfs larger than one block
	rand.Read(img)
	os.WriteFile(rootfs, img, 0o644)
	out := filepath.Join(t.TempDir(), "multimsg-2.5.0.raucb")
	script, _ := filepath.Abs("../buildroot/scripts/bundle")

	if b, err := exec.Command(script, rootfs, out).CombinedOutput(); err == nil || !strings.Contains(string(b), "--key and --cert are required") {
		t.Errorf("bundle without a key = %v %s, want a refusal naming --key and --cert", err, b)
	}
	b, err := exec.Command(script, "--key", sys.Key, "--cert", sys.Cert, "--version", "2.5.0", "--compatible", rauctest.Compatible, rootfs, out).CombinedOutput()
	if err != nil {
		t.Fatalf("bundle: %v\n%s", err, b)
	}
	info, err := exec.Command("rauc", "info", "--keyring="+sys.Cert, out).CombinedOutput()
	if err != nil || !strings.Contains(string(info), "Bundle Format: \tverity") || !strings.Contains(string(info), "'2.5.0'") {
		t.Errorf("rauc info of the script's bundle = %v\n%s\nwant a verity bundle of version 2.5.0", err, info)
	}
	ctx := context.Background()
	r, err := update.Dial(ctx, sys.Bus)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if c, v, err := r.Info(ctx, out); err != nil || c != rauctest.Compatible || v != "2.5.0" {
		t.Errorf("RAUC Info over D-Bus = %q %q %v, want %s 2.5.0", c, v, err, rauctest.Compatible)
	}
	u, _ := newUpdater(t, sys)
	if _, err := install(t, u, out, update.InstallOptions{}); err != nil {
		t.Fatalf("Install(verity bundle) = %v", err)
	}
	st := waitIdle(t, u)
	switch {
	case sys.Verity && st.LastError != "":
		t.Errorf("verity install on a host with device-mapper failed: %s", st.LastError)
	case !sys.Verity && !strings.Contains(st.LastError, "mapper"):
		t.Errorf("verity install without device-mapper: last_error %q, want RAUC's device-mapper reason", st.LastError)
	case !sys.Verity:
		t.Logf("NOTE: no device-mapper on this host (/dev/mapper/control): RAUC verified the verity bundle but cannot mount it to install (%s); the qemu guest's kernel has dm-verity", st.LastError)
	}
}
