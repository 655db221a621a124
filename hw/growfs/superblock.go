package growfs

import (
	"encoding/binary"
	"fmt"
)

// The ext4 superblock is 1024 bytes at byte 1024 of the filesystem.
const (
	sbOffset   = 1024
	sbLen      = 1024
	ext4Magic  = 0xEF53
	incompat64 = 0x80
)

// superblock is what growing needs of an ext4 superblock.
type superblock struct {
	Blocks    uint64
	BlockSize int64
}

func parseSuperblock(b []byte) (superblock, error) {
	if len(b) < sbLen {
		return superblock{}, fmt.Errorf("%w: short superblock (%d bytes)", ErrFS, len(b))
	}
	if binary.LittleEndian.Uint16(b[0x38:]) != ext4Magic {
		return superblock{}, fmt.Errorf("%w: no ext2/3/4 magic", ErrFS)
	}
	logSize := binary.LittleEndian.Uint32(b[0x18:])
	if logSize > 6 { // 1 KiB << 6 = 64 KiB, ext4's largest block
		return superblock{}, fmt.Errorf("%w: block size 1KiB<<%d", ErrFS, logSize)
	}
	sb := superblock{Blocks: uint64(binary.LittleEndian.Uint32(b[0x04:])), BlockSize: 1024 << logSize}
	if binary.LittleEndian.Uint32(b[0x60:])&incompat64 != 0 {
		sb.Blocks |= uint64(binary.LittleEndian.Uint32(b[0x150:])) << 32
	}
	return sb, nil
}
