package growfs

import "errors"

var (
	// ErrNotLast: the data partition is not the disk's last: growing it would overrun another.
	ErrNotLast = errors.New("data partition is not the last on its disk")
	// ErrTable: the disk's partition table is not an MBR this package can edit (GPT, corrupt,
	// or no primary entry for the partition).
	ErrTable = errors.New("partition table not editable")
	// ErrFS: the filesystem is not ext4 or its superblock is unreadable.
	ErrFS = errors.New("filesystem not growable")
)
