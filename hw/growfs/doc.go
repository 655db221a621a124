// Package growfs grows the box's data partition and its ext4 filesystem to the end of the
// card, online (issue 12): the image is written with a small data partition, and a card is
// larger. It finds the partition by what is mounted on the data directory (not by number: the
// card layout may change), acts only when that partition is the last one on its disk, edits
// the disk's MBR entry, tells the kernel the partition's new size (BLKPG, as partx does; no
// reboot) and grows the mounted filesystem (EXT4_IOC_RESIZE_FS, as resize2fs does online).
// It is idempotent: once the partition reaches the end of the card, later runs find nothing
// to do. GPT disks are refused with an error (the Pi's card is MBR).
package growfs
