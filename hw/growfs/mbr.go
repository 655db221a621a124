package growfs

import (
	"encoding/binary"
	"fmt"
)

// An MBR is the disk's first sector: four primary entries from byte 446, each with its
// type at +4, its first sector at +8 and its length in sectors at +12 (little endian), and
// the signature 0x55 0xAA at 510.
const (
	sectorSize  = 512
	mbrEntries  = 446
	mbrEntryLen = 16
	typeGPT     = 0xEE
	typeExtDOS  = 0x05
	typeExtLBA  = 0x0F
	typeExtLinx = 0x85
)

// mbrEntry is one primary partition.
type mbrEntry struct {
	Index       int // 0..3
	Type        byte
	Start, Size uint32 // sectors
}

// parseMBR returns the non-empty primary entries of sector 0.
func parseMBR(b []byte) ([]mbrEntry, error) {
	if len(b) < sectorSize || b[510] != 0x55 || b[511] != 0xAA {
		return nil, fmt.Errorf("%w: no MBR signature", ErrTable)
	}
	var out []mbrEntry
	for i := range 4 {
		e := b[mbrEntries+i*mbrEntryLen:]
		m := mbrEntry{Index: i, Type: e[4], Start: binary.LittleEndian.Uint32(e[8:]), Size: binary.LittleEndian.Uint32(e[12:])}
		if m.Type == 0 || m.Size == 0 {
			continue
		}
		if m.Type == typeGPT {
			return nil, fmt.Errorf("%w: a GPT disk (protective MBR)", ErrTable)
		}
		out = append(out, m)
	}
	return out, nil
}

// setSize writes entry i's length into sector b.
func setSize(b []byte, i int, size uint32) {
	binary.LittleEndian.PutUint32(b[mbrEntries+i*mbrEntryLen+12:], size)
}

// plan decides entry's new length on a disk of disk sectors: to the disk's end (an MBR counts
// at most 2^32-1 sectors), when no other primary partition lies after it. grow is false when it
// already reaches the end (within 1 MiB: partitioners align ends).
func plan(entries []mbrEntry, start uint32, disk uint64) (e mbrEntry, size uint32, grow bool, err error) {
	found := false
	for _, m := range entries {
		if m.Start == start {
			e, found = m, true
		}
	}
	if !found {
		return e, 0, false, fmt.Errorf("%w: no primary entry starts at sector %d", ErrTable, start)
	}
	if e.Type == typeExtDOS || e.Type == typeExtLBA || e.Type == typeExtLinx {
		return e, 0, false, fmt.Errorf("%w: an extended partition", ErrTable)
	}
	for _, m := range entries {
		if m.Start > e.Start {
			return e, 0, false, fmt.Errorf("%w: entry %d starts at sector %d, after it", ErrNotLast, m.Index+1, m.Start)
		}
	}
	if uint64(e.Start)+uint64(e.Size) > disk {
		return e, 0, false, fmt.Errorf("%w: the partition ends past the disk (%d + %d > %d sectors)", ErrTable, e.Start, e.Size, disk)
	}
	end := min(disk, 1<<32-1)
	if end <= uint64(e.Start) {
		return e, 0, false, nil
	}
	size = uint32(end - uint64(e.Start))
	const slack = (1 << 20) / sectorSize
	return e, size, size > e.Size+slack, nil
}
