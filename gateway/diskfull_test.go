//go:build linux

package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"multimsg/gateway/gatewaytest"
	"multimsg/internal/loopfs"
	"multimsg/internal/poll"
	"multimsg/store"
)

// Disk full, for real (issue 12, item 4): the store and the mail outbox share a small ext4
// partition, the relay is down for the store's sake (deliveries fill the outbox, the posts
// fill the store). The box answers 507 with a reason once the partition is at its floor,
// every acknowledged job is there, and it accepts again by itself once space is freed.
func TestDiskFullOutboxSameDisk(t *testing.T) {
	mnt := loopfs.Mount(t, 16<<20)
	dir := filepath.Join(mnt, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.StartIn(t, dir, `
[delivery]
retry_min = "1h"
retry_max = "1h"
[store]
quota = "64MiB"
disk_floor_percent = 10
[[mail.sender]]
name = "outbox"
maildir = "outbox"
`)
	send := func() (int, string) {
		b, ct := multipartBody(part{name: "f", filename: "f.bin", data: make([]byte, 200<<10)},
			part{name: "serv", data: []byte("mail"), field: true}, part{name: "dest", data: []byte("a@x.test"), field: true},
			part{name: "type", data: []byte(`{"f":"file"}`), field: true})
		return post(t, g, "/send", ct, b, false)
	}
	var acked []string
	var code int
	var msg string
	for range 200 {
		if code, msg = send(); code != 200 {
			break
		}
		acked = append(acked, strings.TrimSpace(msg))
	}
	if code != 507 || !strings.Contains(msg, "data partition") {
		t.Fatalf("after %d jobs: %d %q, want 507 naming the data partition", len(acked), code, msg)
	}
	outbox := g.Maildir(t, "outbox")
	t.Logf("refused after %d jobs (%d in the outbox, %d bytes free): %s", len(acked), len(outbox), loopfs.Available(t, dir), msg)
	if len(outbox) == 0 {
		t.Fatal("nothing reached the outbox: the test did not fill the partition from both sides")
	}
	for _, id := range acked {
		if _, err := g.Store.Get(id); err != nil {
			t.Fatalf("acknowledged job %s: %v", id, err)
		}
	}
	// (tx.Check waits for the end: with deliveries still writing, bbolt's check compares a
	// reader's snapshot with the live freelist and reports pages freed since as errors.)
	// The admin (or the mail pickup) empties the outbox: the box accepts again, no restart.
	for _, f := range outbox {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	poll.Wait(10*time.Second, func() bool { code, msg = send(); return code == 200 })
	if code != 200 {
		t.Fatalf("after freeing space: %d %q, want 200", code, msg)
	}
	acked = append(acked, strings.TrimSpace(msg))
	// Stopped and opened again: the file is consistent and holds every acknowledged job.
	g.Stop(t)
	s, err := store.Open(filepath.Join(dir, "multimsg.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("consistency after the disk was full: %v", err)
	}
	for _, id := range acked {
		if _, err := s.Get(id); err != nil {
			t.Fatalf("acknowledged job %s after reopening: %v", id, err)
		}
	}
}
