//go:build linux

package growfs

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"multimsg/internal/peertest"
	"multimsg/internal/poll"
)

// card makes a disk image of size bytes whose table (sfdisk script) says less, attaches it
// to a loop device with its partitions, makes ext4 labelled multimsg-data on partition data
// and mounts it. It returns the mount point and the loop device.
func card(t *testing.T, size int64, table string, data int) (mnt, dev string) {
	t.Helper()
	peertest.Root(t, "loop devices and mounts need root")
	for _, b := range []string{"sfdisk", "losetup", "partx", "mkfs.ext4", "mount", "umount"} {
		peertest.Binary(t, b)
	}
	run := func(stdin, name string, args ...string) string {
		t.Helper()
		c := exec.Command(name, args...)
		c.Stdin = strings.NewReader(stdin)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "card.img")
	mnt = filepath.Join(dir, "data")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	run(table, "sfdisk", "-q", img)
	dev = run("", "losetup", "-P", "--find", "--show", img)
	t.Cleanup(func() { run("", "losetup", "-d", dev) })
	part := dev + "p" + string(rune('0'+data))
	// Some kernels do not scan a loop device's table: partx adds the partitions (BLKPG).
	if _, err := os.Stat(part); err != nil {
		exec.Command("partx", "-a", dev).Run()
	}
	if !poll.Wait(5*time.Second, func() bool { _, err := os.Stat(part); return err == nil }) {
		t.Fatalf("no %s after losetup -P and partx -a", part)
	}
	run("", "mkfs.ext4", "-q", "-F", "-L", "multimsg-data", part)
	run("", "mount", "-t", "ext4", part, mnt)
	t.Cleanup(func() { run("", "umount", mnt) })
	return mnt, dev
}

func total(t *testing.T, dir string) int64 {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	return int64(fs.Blocks) * int64(fs.Bsize) //nolint:unconvert // int32 on some GOARCHes
}

// The card's layout: a boot partition, then the data partition, last, on a card (image) twice
// the size the table says. Grow takes it to the end, online, and a second run does nothing.
func TestGrowToEndOfCard(t *testing.T) {
	mnt, dev := card(t, 64<<20, "label: dos\nstart=2048, size=8192, type=c\nstart=10240, size=16384, type=83\n", 2)
	if err := os.WriteFile(filepath.Join(mnt, "job"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := total(t, mnt)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	r, err := Grow(mnt, Options{}, log)
	t.Logf("%s", r)
	if !r.Grown() || r.Disk != dev || r.Partition != 2 {
		t.Fatalf("Grow = %+v, %v, want partition 2 of %s grown", r, err, dev)
	}
	if want := int64(64<<20 - 10240*512); r.PartAt != want {
		t.Fatalf("partition now %d bytes, want %d (to the end of the card)", r.PartAt, want)
	}
	if sectors, _ := readInt(filepath.Join("/sys/class/block", filepath.Base(dev)+"p2", "size")); sectors*512 != r.PartAt {
		t.Fatalf("the kernel sees the partition at %d bytes, want %d (BLKPG)", sectors*512, r.PartAt)
	}
	if errors.Is(err, unix.EPERM) && !hasCap(unix.CAP_SYS_RESOURCE) {
		// Online resizing needs CAP_SYS_RESOURCE, which some containers drop even for root
		// (this workplace's sandbox and its CI among them). No package can bring it back, so
		// this is a skip even in CI; the same code grows a mounted ext4 for real in
		// `make qemu-test` (in CI), which boots a card larger than its partition table.
		t.Skip("SKIP (sandbox): no CAP_SYS_RESOURCE, so EXT4_IOC_RESIZE_FS on a mounted ext4 is refused even for root; the partition and kernel steps passed; the filesystem step is checked by make qemu-test")
	}
	if err != nil {
		t.Fatal(err)
	}
	after := total(t, mnt)
	if after < 3*before {
		t.Fatalf("filesystem %d → %d bytes, want it grown to about the card", before, after)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "job")); err != nil || string(b) != "kept" {
		t.Fatalf("data after growing: %q, %v", b, err)
	}
	r2, err := Grow(mnt, Options{}, log)
	if err != nil || r2.Grown() {
		t.Fatalf("second Grow = %s, %v, want nothing to do", r2, err)
	}
}

// A data partition with another after it is left alone.
func TestGrowNotLast(t *testing.T) {
	mnt, _ := card(t, 64<<20, "label: dos\nstart=2048, size=8192, type=83\nstart=10240, size=8192, type=83\n", 1)
	if _, err := Grow(mnt, Options{}, slog.New(slog.DiscardHandler)); !errors.Is(err, ErrNotLast) {
		t.Fatalf("Grow = %v, want ErrNotLast", err)
	}
}

// hasCap reports whether the process holds capability c (CapEff in /proc/self/status).
func hasCap(c int) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && n&(1<<c) != 0
		}
	}
	return false
}
