package growfs

import (
	"encoding/binary"
	"errors"
	"testing"
)

func mbrWith(entries ...mbrEntry) []byte {
	b := make([]byte, sectorSize)
	b[510], b[511] = 0x55, 0xAA
	for _, e := range entries {
		o := mbrEntries + e.Index*mbrEntryLen
		b[o+4] = e.Type
		binary.LittleEndian.PutUint32(b[o+8:], e.Start)
		binary.LittleEndian.PutUint32(b[o+12:], e.Size)
	}
	return b
}

func TestPlan(t *testing.T) {
	boot := mbrEntry{Index: 0, Type: 0x0c, Start: 2048, Size: 8192}
	data := mbrEntry{Index: 1, Type: 0x83, Start: 10240, Size: 16384}
	cases := []struct {
		name    string
		entries []mbrEntry
		disk    uint64
		size    uint32
		grow    bool
		err     error
	}{
		{"grows to the end", []mbrEntry{boot, data}, 131072, 131072 - 10240, true, nil},
		{"already at the end", []mbrEntry{boot, data}, 10240 + 16384, 16384, false, nil},
		{"within alignment slack", []mbrEntry{boot, data}, 10240 + 16384 + 100, 16384 + 100, false, nil},
		{"not last", []mbrEntry{boot, data, {Index: 2, Type: 0x83, Start: 30000, Size: 10}}, 131072, 0, false, ErrNotLast},
		{"no such entry", []mbrEntry{boot}, 131072, 0, false, ErrTable},
		{"past the disk", []mbrEntry{boot, data}, 20000, 0, false, ErrTable},
		{"beyond 2 TiB", []mbrEntry{boot, data}, 1 << 40, 1<<32 - 1 - 10240, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es, err := parseMBR(mbrWith(tc.entries...))
			if err != nil {
				t.Fatal(err)
			}
			_, size, grow, err := plan(es, 10240, tc.disk)
			if !errors.Is(err, tc.err) || err == nil && (size != tc.size || grow != tc.grow) {
				t.Fatalf("plan = %d, %v, %v, want %d, %v, %v", size, grow, err, tc.size, tc.grow, tc.err)
			}
		})
	}
	if _, err := parseMBR(mbrWith(mbrEntry{Index: 0, Type: typeGPT, Start: 1, Size: 100})); !errors.Is(err, ErrTable) {
		t.Fatalf("protective MBR: %v, want ErrTable", err)
	}
	if _, err := parseMBR(make([]byte, 512)); !errors.Is(err, ErrTable) {
		t.Fatalf("no signature: %v, want ErrTable", err)
	}
}

func TestParseSuperblock(t *testing.T) {
	b := make([]byte, sbLen)
	binary.LittleEndian.PutUint16(b[0x38:], ext4Magic)
	binary.LittleEndian.PutUint32(b[0x04:], 4096)
	binary.LittleEndian.PutUint32(b[0x18:], 2)
	binary.LittleEndian.PutUint32(b[0x60:], incompat64)
	binary.LittleEndian.PutUint32(b[0x150:], 1)
	sb, err := parseSuperblock(b)
	if err != nil || sb.BlockSize != 4096 || sb.Blocks != 1<<32+4096 {
		t.Fatalf("parseSuperblock = %+v, %v", sb, err)
	}
	b[0x38] = 0
	if _, err := parseSuperblock(b); !errors.Is(err, ErrFS) {
		t.Fatalf("no magic: %v, want ErrFS", err)
	}
}

func TestParseMountinfo(t *testing.T) {
	d, mp, ty, ok := parseMountinfo(`36 35 254:2 / /var/lib/my\040data rw,noatime shared:1 - ext4 /dev/vda2 rw`)
	if !ok || d != "254:2" || mp != "/var/lib/my data" || ty != "ext4" {
		t.Fatalf("parseMountinfo = %q %q %q %v", d, mp, ty, ok)
	}
	if _, _, _, ok := parseMountinfo("garbage"); ok {
		t.Fatal("garbage parsed")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(mbrWith(mbrEntry{Index: 1, Type: 0x83, Start: 10240, Size: 16384}), "36 35 254:2 / /d rw - ext4 /dev/vda2 rw")
	f.Add(make([]byte, sbLen), `1 2 3:4 / /a\04 - x`)
	f.Fuzz(func(t *testing.T, b []byte, line string) {
		if es, err := parseMBR(b); err == nil {
			for _, e := range es {
				plan(es, e.Start, uint64(e.Start)+uint64(e.Size)*2)
			}
		}
		parseSuperblock(b)
		parseMountinfo(line)
		unescape(line)
	})
}
