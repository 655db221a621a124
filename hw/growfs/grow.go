//go:build linux

package growfs

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Result is what Grow found and did.
type Result struct {
	Device             string // the data partition, e.g. /dev/mmcblk0p3
	Disk               string // its disk, e.g. /dev/mmcblk0
	Partition          int    // its number on the disk
	PartBefore, PartAt int64  // the partition's bytes before and after
	FSBefore, FSAt     int64  // the filesystem's bytes before and after
}

// Grown says whether this run changed anything.
func (r Result) Grown() bool { return r.PartAt > r.PartBefore || r.FSAt > r.FSBefore }

func (r Result) String() string {
	return fmt.Sprintf("%s (partition %d of %s): partition %d → %d bytes, filesystem %d → %d bytes",
		r.Device, r.Partition, r.Disk, r.PartBefore, r.PartAt, r.FSBefore, r.FSAt)
}

// Options says where things are; zero values are the running system's.
type Options struct {
	Mountinfo string // default /proc/self/mountinfo
	Sys       string // default /sys
	Dev       string // default /dev
}

// extIOCResizeFS is EXT4_IOC_RESIZE_FS: _IOW('f', 16, __u64).
const extIOCResizeFS = 0x40086610

// Grow grows the partition mounted on dir, and its ext4 filesystem, to the end of its disk.
func Grow(dir string, o Options, log *slog.Logger) (Result, error) {
	if o.Mountinfo == "" {
		o.Mountinfo = "/proc/self/mountinfo"
	}
	if o.Sys == "" {
		o.Sys = "/sys"
	}
	if o.Dev == "" {
		o.Dev = "/dev"
	}
	var r Result
	devno, fstype, err := mountOf(o.Mountinfo, dir)
	if err != nil {
		return r, err
	}
	if fstype != "ext4" {
		return r, fmt.Errorf("%w: %s is %s", ErrFS, dir, fstype)
	}
	part, err := filepath.EvalSymlinks(filepath.Join(o.Sys, "dev/block", devno))
	if err != nil {
		return r, fmt.Errorf("growfs: the device of %s: %w", dir, err)
	}
	pno, err := readInt(filepath.Join(part, "partition"))
	if err != nil {
		return r, fmt.Errorf("%w: %s is not a partition (a whole disk: nothing to grow): %v", ErrTable, filepath.Base(part), err)
	}
	start, err := readInt(filepath.Join(part, "start"))
	if err != nil {
		return r, err
	}
	diskDir := filepath.Dir(part)
	diskSectors, err := readInt(filepath.Join(diskDir, "size"))
	if err != nil {
		return r, err
	}
	r.Device, r.Disk, r.Partition = filepath.Join(o.Dev, filepath.Base(part)), filepath.Join(o.Dev, filepath.Base(diskDir)), int(pno)

	disk, err := os.OpenFile(r.Disk, os.O_RDWR, 0)
	if err != nil {
		return r, fmt.Errorf("growfs: %w", err)
	}
	defer disk.Close()
	mbr := make([]byte, sectorSize)
	if _, err := disk.ReadAt(mbr, 0); err != nil {
		return r, fmt.Errorf("growfs: reading %s's partition table: %w", r.Disk, err)
	}
	entries, err := parseMBR(mbr)
	if err != nil {
		return r, err
	}
	e, size, grow, err := plan(entries, uint32(start), uint64(diskSectors))
	if err != nil {
		return r, err
	}
	if e.Index+1 != r.Partition {
		return r, fmt.Errorf("%w: the kernel's partition %d is MBR entry %d", ErrTable, r.Partition, e.Index+1)
	}
	r.PartBefore, r.PartAt = int64(e.Size)*sectorSize, int64(e.Size)*sectorSize
	if grow {
		// The table first: a crash after it leaves a larger partition and the old filesystem,
		// which the next run grows. The kernel learns the size without a re-read (the disk is
		// busy): BLKPG, as partx and growpart do.
		setSize(mbr, e.Index, size)
		if _, err := disk.WriteAt(mbr, 0); err != nil {
			return r, fmt.Errorf("growfs: writing %s's partition table: %w", r.Disk, err)
		}
		if err := disk.Sync(); err != nil {
			return r, fmt.Errorf("growfs: syncing %s: %w", r.Disk, err)
		}
		r.PartAt = int64(size) * sectorSize
		p := unix.BlkpgPartition{Start: int64(e.Start) * sectorSize, Length: r.PartAt, Pno: int32(r.Partition)}
		arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_RESIZE_PARTITION, Datalen: int32(unsafe.Sizeof(p)), Data: (*byte)(unsafe.Pointer(&p))}
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, disk.Fd(), unix.BLKPG, uintptr(unsafe.Pointer(&arg))); errno != 0 {
			return r, fmt.Errorf("growfs: telling the kernel %s is %d bytes (BLKPG): %w", r.Device, r.PartAt, errno)
		}
		log.Info("growfs: data partition grown to the end of the card", "device", r.Device, "from", r.PartBefore, "to", r.PartAt)
	}
	// The filesystem, also when only it is behind (a crash between the two steps).
	dev, err := os.Open(r.Device)
	if err != nil {
		return r, fmt.Errorf("growfs: %w", err)
	}
	defer dev.Close()
	buf := make([]byte, sbLen)
	if _, err := dev.ReadAt(buf, sbOffset); err != nil && err != io.EOF {
		return r, fmt.Errorf("growfs: reading %s's superblock: %w", r.Device, err)
	}
	sb, err := parseSuperblock(buf)
	if err != nil {
		return r, err
	}
	r.FSBefore, r.FSAt = int64(sb.Blocks)*sb.BlockSize, int64(sb.Blocks)*sb.BlockSize
	want := uint64(r.PartAt / sb.BlockSize)
	if want <= sb.Blocks {
		return r, nil
	}
	m, err := os.Open(dir)
	if err != nil {
		return r, fmt.Errorf("growfs: %w", err)
	}
	defer m.Close()
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, m.Fd(), extIOCResizeFS, uintptr(unsafe.Pointer(&want))); errno != 0 {
		return r, fmt.Errorf("growfs: growing the filesystem on %s to %d blocks (EXT4_IOC_RESIZE_FS): %w", dir, want, errno)
	}
	r.FSAt = int64(want) * sb.BlockSize
	log.Info("growfs: data filesystem grown", "dir", dir, "from", r.FSBefore, "to", r.FSAt)
	return r, nil
}

// mountOf returns the device number ("major:minor") and type of what is mounted on dir (the
// last mount there wins, as in the kernel).
func mountOf(mountinfo, dir string) (devno, fstype string, err error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", "", fmt.Errorf("growfs: %w", err)
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		d, mp, t, ok := parseMountinfo(sc.Text())
		if ok && mp == dir {
			devno, fstype = d, t
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("growfs: %s: %w", mountinfo, err)
	}
	if devno == "" {
		return "", "", fmt.Errorf("%w: nothing is mounted on %s", ErrFS, dir)
	}
	return devno, fstype, nil
}

// parseMountinfo reads one line of /proc/self/mountinfo:
// "36 35 98:0 /root /mnt rw,noatime master:1 - ext4 /dev/vda rw".
func parseMountinfo(line string) (devno, mountpoint, fstype string, ok bool) {
	f := strings.Fields(line)
	if len(f) < 7 {
		return "", "", "", false
	}
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+1 >= len(f) || !strings.Contains(f[2], ":") {
		return "", "", "", false
	}
	return f[2], unescape(f[4]), f[sep+1], true
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("growfs: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("growfs: %s: %w", path, err)
	}
	return n, nil
}
