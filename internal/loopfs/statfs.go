//go:build linux

package loopfs

import (
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// available is what an unprivileged writer could still write in dir's filesystem.
func available(t testing.TB, dir string) int64 {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	return int64(fs.Bavail) * int64(fs.Bsize) //nolint:unconvert // int32 on some GOARCHes
}

// Available is the free space of dir's filesystem.
func Available(t testing.TB, dir string) int64 { return available(t, dir) }

// undo runs a cleanup command; a failure is the test's (a mount or loop device left behind).
func undo(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Errorf("cleanup: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
