//go:build linux

// Package loopfs mounts a small ext4 filesystem for a test: a loop-mounted image of a few MiB,
// the real thing a disk-full test needs (ENOSPC from the kernel, not from a mock). Without
// root, losetup, mkfs.ext4 or mount the test skips loudly (fails in CI, internal/peertest).
package loopfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"multimsg/internal/peertest"
)

// Mount makes an ext4 filesystem of size bytes (no root reserve: all of it is the test's),
// mounts it under t.TempDir() and returns the mount point; it is unmounted when t ends.
func Mount(t testing.TB, size int64) string {
	t.Helper()
	peertest.Root(t, "mounting a loop device needs root")
	losetup := peertest.Binary(t, "losetup")
	mkfs := peertest.Binary(t, "mkfs.ext4")
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
	img, mnt := filepath.Join(dir, "disk.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	// -m 0: no blocks reserved for root (the tests run as root and must meet the real limit).
	run(mkfs, "-q", "-F", "-m", "0", "-L", "loopfs-test", img)
	dev := run(losetup, "--find", "--show", img)
	t.Cleanup(func() { undo(t, losetup, "-d", dev) })
	run(mount, "-t", "ext4", dev, mnt)
	t.Cleanup(func() { undo(t, umount, mnt) }) // after the test's own cleanups: not busy
	return mnt
}

// Fill writes a file at path until the filesystem is full, leaving about keep bytes free, and
// returns a function that deletes it.
func Fill(t testing.TB, path string, keep int64) (free func()) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		free := available(t, filepath.Dir(path))
		if free <= keep {
			break
		}
		n := min(int64(len(buf)), free-keep)
		if _, err := f.Write(buf[:n]); err != nil {
			break // ENOSPC
		}
		if err := f.Sync(); err != nil {
			break
		}
	}
	return func() {
		t.Helper()
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}
