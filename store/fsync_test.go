//go:build linux

package store

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"multimsg/internal/peertest"
	"multimsg/internal/poll"
)

// failingDisk mounts an ext2 file system on a loop device whose backing file lives on a small
// tmpfs, and returns the ext2 mount point and a function that fills the tmpfs. Once it is
// full, writes still land in the page cache (ext2 has room), but the kernel cannot write them
// back to the loop device: fsync fails with EIO, as on a card that stops taking writes. No
// journal, so the file system carries on and only the fsync reports the loss.
func failingDisk(t *testing.T) (mnt string, fill func()) {
	t.Helper()
	peertest.Root(t, "mounting a loop device needs root")
	losetup := peertest.Binary(t, "losetup")
	mkfs := peertest.Binary(t, "mkfs.ext2")
	mount := peertest.Binary(t, "mount")
	umount := peertest.Binary(t, "umount")
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	dir := t.TempDir()
	back, mnt := filepath.Join(dir, "back"), filepath.Join(dir, "mnt")
	for _, d := range []string{back, mnt} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	run(mount, "-t", "tmpfs", "-o", "size=24m", "tmpfs", back)
	img := filepath.Join(back, "disk.img")
	var dev string
	t.Cleanup(func() {
		// losetup -d only asks: the kernel lets go of the image a moment later, and until then
		// the tmpfs holding it is busy (a flake under load: "umount: target is busy").
		if dev != "" && !poll.Wait(10*time.Second, func() bool { return !loopHolds(dev, img) }) {
			t.Errorf("cleanup: %s still holds %s 10s after losetup -d", dev, img)
		}
		undo(t, umount, back)
	})
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 16<<20); err != nil { // sparse: tmpfs pages only where written
		t.Fatal(err)
	}
	run(mkfs, "-q", "-F", img)
	dev = run(losetup, "--find", "--show", img)
	t.Cleanup(func() { undo(t, losetup, "-d", dev) })
	run(mount, "-t", "ext2", dev, mnt)
	t.Cleanup(func() { undo(t, umount, mnt) }) // the store is closed by then: not busy
	return mnt, func() {
		t.Helper()
		f, err := os.Create(filepath.Join(back, "fill"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 1<<20)
		for {
			if _, err := f.Write(buf); err != nil {
				return // ENOSPC: the tmpfs is full
			}
		}
	}
}

// loopHolds says whether loop device dev (/dev/loopN) is still bound to file img.
func loopHolds(dev, img string) bool {
	b, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), "loop", "backing_file"))
	return err == nil && strings.TrimSpace(string(b)) == img
}

// undo runs a cleanup command; a failure is the test's (a mount or loop device left behind).
func undo(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Errorf("cleanup: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// A failed fsync stops the store's writes, loudly, for good (issue 11, item 11): carrying on
// would ack jobs on top of pages the kernel may have dropped.
func TestFsyncFailureStopsWrites(t *testing.T) {
	mnt, fill := failingDisk(t)
	s, err := Open(filepath.Join(mnt, "multimsg.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // before the unmount (cleanups run last first)
	big := []NewFile{{Name: "a", Data: make([]byte, 256<<10)}}
	if _, err := s.Create(ctx, NewJob{Device: "d", Files: big}); err != nil {
		t.Fatal(err)
	}
	fill()
	var failedAt int
	for i := 1; i <= 20; i++ { // new blocks for the disk behind ext2: the write-back fails
		if _, err := s.Create(ctx, NewJob{Device: "d", Files: big}); err != nil {
			failedAt = i
			break
		}
	}
	if failedAt == 0 {
		t.Fatal("20 uploads of 256 KiB committed on a disk that cannot take them")
	}
	if err := s.Ping(ctx); !errors.Is(err, ErrFailed) {
		t.Fatalf("Ping after a failed fsync = %v, want ErrFailed", err)
	}
	if _, err := s.Create(ctx, NewJob{Device: "d", Files: []NewFile{{Name: "b", Data: []byte("x")}}}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Create after a failed fsync = %v, want ErrFailed", err)
	}
}
