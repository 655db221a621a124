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
	if err := g.Store.Check(); err != nil {
		t.Fatal(err)
	}
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
}
