// Package scripts holds the tests of the firmware scripts in this directory (shell, run as a
// field tech or CI would run them, on image files instead of SD cards).
package scripts

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"multimsg/internal/peertest"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// disk makes an image file of mib MiB with a DOS partition table (sfdisk script lines) and
// writes each given file system image into its partition.
func disk(t *testing.T, path string, mib int, table string, fs map[int]string) {
	t.Helper()
	if err := os.Truncate(path, 0); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(int64(mib) << 20)
	f.Close()
	cmd := exec.Command("sfdisk", "-q", path)
	cmd.Stdin = strings.NewReader("label: dos\n" + table)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	for n, img := range fs {
		start := strings.Fields(run(t, "partx", "-g", "-o", "START", "-n", fmt.Sprint(n), path))[0]
		run(t, "dd", "if="+img, "of="+path, "bs=512", "seek="+start, "conv=notrunc", "status=none")
	}
}

func ext4(t *testing.T, path, label string, mib int, files map[string][]byte) {
	t.Helper()
	src := t.TempDir()
	for name, b := range files {
		os.WriteFile(filepath.Join(src, name), b, 0o600)
	}
	run(t, "mkfs.ext4", "-q", "-F", "-L", label, "-d", src, path, fmt.Sprintf("%dM", mib))
}

// TestUpdateSDToAB is the one reflash from the old three-partition layout to the A/B layout:
// the data comes back on partition 4, which takes the rest of the card; a card already A/B,
// and data too large for the new layout, are refused with the card untouched.
func TestUpdateSDToAB(t *testing.T) {
	for _, b := range []string{"sfdisk", "partx", "blkid", "mkfs.ext4", "e2fsck", "resize2fs", "debugfs"} {
		peertest.Binary(t, b)
	}
	dir := t.TempDir()
	key := make([]byte, 2400)
	rand.Read(key)
	db := make([]byte, 3<<20)
	rand.Read(db)
	data := filepath.Join(dir, "old-data.ext4")
	ext4(t, data, "multimsg-data", 40, map[string][]byte{"box.key": key, "multimsg.db": db})
	card := filepath.Join(dir, "card.img")
	// old layout: boot 4M+8M, root 12M+32M, data 44M..120M (grown to the card's end)
	disk(t, card, 120, "start=8192, size=16384, type=c\nstart=24576, size=65536, type=83\nstart=90112, type=83\n", map[int]string{3: data})

	images := filepath.Join(dir, "images")
	os.MkdirAll(images, 0o755)
	os.WriteFile(filepath.Join(images, "boot.vfat"), make([]byte, 1<<20), 0o644)
	os.WriteFile(filepath.Join(images, "rootfs.ext4"), make([]byte, 1<<20), 0o644)
	empty := filepath.Join(dir, "empty-data.ext4")
	ext4(t, empty, "multimsg-data", 8, nil)
	// new layout: boot 8M+8M, root A 16M+24M, root B 40M+24M, data 64M+8M (later than the old
	// data partition, as on the real card)
	disk(t, filepath.Join(images, "sdcard.img"), 72,
		"start=16384, size=16384, type=c\nstart=32768, size=49152, type=83\nstart=81920, size=49152, type=83\nstart=131072, type=83\n", map[int]string{4: empty})

	script, _ := filepath.Abs("update-sd")
	backup := filepath.Join(dir, "backup.img")
	run(t, script, "--to-ab", "--backup", backup, card, images)

	parts := strings.Fields(run(t, "partx", "-g", "-o", "NR,START,SECTORS", card))
	if len(parts) != 12 || parts[9] != "4" || parts[10] != "131072" || parts[11] != fmt.Sprint(120<<11-131072) {
		t.Fatalf("card after --to-ab: partitions %v, want 4 with the 4th from sector 131072 to the end", parts)
	}
	p4 := filepath.Join(dir, "p4.ext4")
	run(t, "dd", "if="+card, "of="+p4, "bs=512", "skip=131072", "status=none")
	if l := strings.TrimSpace(run(t, "blkid", "-s", "LABEL", "-o", "value", p4)); l != "multimsg-data" {
		t.Errorf("partition 4 label = %q, want multimsg-data", l)
	}
	for name, want := range map[string][]byte{"box.key": key, "multimsg.db": db} {
		got, err := exec.Command("debugfs", "-R", "cat /"+name, p4).Output()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s on partition 4: %d bytes (%v), want the %d from before", name, len(got), err, len(want))
		}
	}
	if out := run(t, "e2fsck", "-fn", p4); !strings.Contains(out, "clean") && !strings.Contains(out, "files") {
		t.Errorf("e2fsck of the restored partition: %s", out)
	}

	// Again on the A/B card: refused.
	before, _ := os.ReadFile(card)
	out, err := exec.Command(script, "--to-ab", "--backup", filepath.Join(dir, "b2.img"), card, images).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already has the A/B layout") {
		t.Errorf("--to-ab on an A/B card = %v %s, want a refusal", err, out)
	}
	// Data that cannot fit the new layout: refused before the card changes.
	big := make([]byte, 60<<20) // the new partition 4 has 56 MiB on this card
	rand.Read(big)
	bigData := filepath.Join(dir, "big-data.ext4")
	ext4(t, bigData, "multimsg-data", 70, map[string][]byte{"multimsg.db": big})
	card2 := filepath.Join(dir, "card2.img")
	disk(t, card2, 120, "start=8192, size=16384, type=c\nstart=24576, size=65536, type=83\nstart=90112, type=83\n", map[int]string{3: bigData})
	before2, _ := os.ReadFile(card2)
	out, err = exec.Command(script, "--to-ab", "--backup", filepath.Join(dir, "b3.img"), card2, images).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "does not fit") {
		t.Errorf("--to-ab with too much data = %v %s, want a refusal", err, out)
	}
	if after2, _ := os.ReadFile(card2); !bytes.Equal(before2, after2) {
		t.Errorf("a refused --to-ab changed the card")
	}
	if after, _ := os.ReadFile(card); !bytes.Equal(before, after) {
		t.Errorf("a refused --to-ab changed the A/B card")
	}
}
