//go:build linux

package store

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"multimsg/internal/loopfs"
)

var errENOSPC, errEIO = syscall.ENOSPC, syscall.EIO

// Disk full on a real (loop-mounted ext4) filesystem (issue 12, item 4): the floor refuses
// writes first; when something else (the outbox) takes the rest between two samples, the
// kernel's ENOSPC answers ErrDiskFull; no acknowledged job is lost, the file stays
// consistent, and writes succeed again once space is freed.
func TestDiskFull(t *testing.T) {
	mnt := loopfs.Mount(t, 8<<20)
	path := filepath.Join(mnt, "multimsg.db")
	s, err := Open(path, Options{Quota: 1 << 30, DiskFloor: 0.10})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	ctx := context.Background()
	body := make([]byte, 4096)
	create := func() (string, error) {
		p := params(1)
		j, err := s.Create(ctx, NewJob{Device: "d", Files: []NewFile{{Name: "f", Data: body}}, Params: &p})
		if err != nil {
			return "", err
		}
		return j.ID, nil
	}
	var acked []string
	for {
		id, err := create()
		if err != nil {
			if !errors.Is(err, ErrDiskFull) {
				t.Fatalf("Create after %d jobs = %v, want ErrDiskFull", len(acked), err)
			}
			t.Logf("floor reached after %d jobs: %v", len(acked), err)
			break
		}
		acked = append(acked, id)
	}
	sp := s.Space()
	if sp.DiskFree < sp.DiskFloor {
		t.Fatalf("disk free %d under the floor %d", sp.DiskFree, sp.DiskFloor)
	}
	t.Logf("space at the floor: %+v", sp)

	// The outbox takes the rest while the store's sample says there is room: the commit
	// meets the kernel's ENOSPC.
	s.disk.mu.Lock()
	s.disk.statfs = func(string) (int64, int64, error) { return 1 << 40, 1 << 40, nil }
	s.disk.mu.Unlock()
	free := loopfs.Fill(t, filepath.Join(mnt, "outbox-fill"), 0)
	var full error
	for range 200 { // free pages inside the file take a few first
		id, err := create()
		if err != nil {
			full = err
			break
		}
		acked = append(acked, id)
	}
	if !errors.Is(full, ErrDiskFull) {
		t.Fatalf("Create on a full disk = %v, want ErrDiskFull", full)
	}
	t.Logf("ENOSPC answered: %v", full)
	if err := s.Check(); err != nil {
		t.Fatalf("consistency after ENOSPC: %v", err)
	}
	for _, id := range acked {
		if _, err := s.Get(id); err != nil {
			t.Fatalf("acked job %s after ENOSPC: %v", id, err)
		}
	}
	// Space freed: the next write succeeds, without a restart.
	free()
	id, err := create()
	if err != nil {
		t.Fatalf("Create after space was freed = %v, want success", err)
	}
	acked = append(acked, id)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if _, err := s.Get(id); err != nil {
			t.Fatalf("acked job %s after reopen: %v", id, err)
		}
	}
	t.Logf("%d acknowledged jobs, all there after reopen", len(acked))
}
