#!/usr/bin/env bash
# Post-image for the multimsg boards. Arguments: the images directory, then
# the board name from BR2_ROOTFS_POST_SCRIPT_ARGS: raspberrypi4 or qemu.
#   raspberrypi4: sdcard.img with boot, root A, root B and data partitions
#   qemu:         data.ext4 and start-qemu.sh next to Image and rootfs.ext4

set -euo pipefail

BOARD_DIR="$(dirname "$0")"
BOARD="${2:?usage: post-image.sh IMAGES_DIR raspberrypi4|qemu}"
GENIMAGE_CFG="${BINARIES_DIR}/genimage.cfg"
GENIMAGE_TMP="${BUILD_DIR}/genimage.tmp"

case "${BOARD}" in
raspberrypi4)
	# The boot partition takes the firmware, the device trees (for the
	# firmware and U-Boot), U-Boot (the kernel= of config.txt) and boot.scr.
	# The Linux kernel is in each root slot's /boot, not here.
	files=()
	for f in "${BINARIES_DIR}"/*.dtb "${BINARIES_DIR}"/rpi-firmware/*; do
		files+=("${f#"${BINARIES_DIR}/"}")
	done
	files+=("$(sed -n 's/^kernel=//p' "${BINARIES_DIR}/rpi-firmware/config.txt")")
	files+=("boot.scr")
	list="$(printf '\t\t\t"%s",\n' "${files[@]}")"
	awk -v list="${list}" '$0 == "#BOOT_FILES#" { print list; next } { print }' \
		"${BOARD_DIR}/genimage-raspberrypi4.cfg.in" >"${GENIMAGE_CFG}"
	;;
qemu)
	cp "${BOARD_DIR}/genimage-qemu.cfg" "${GENIMAGE_CFG}"
	cat >"${BINARIES_DIR}/start-qemu.sh" <<'QEMU'
#!/bin/sh
# Boots the emulated box. The service answers on http://127.0.0.1:8080/ of
# this machine only; the serial console is this terminal (Ctrl-a x quits).
cd "$(dirname "$0")" || exit 1
exec qemu-system-aarch64 -M virt -cpu cortex-a53 -smp 2 -m 512 -nographic \
	-kernel Image -append "rootwait root=/dev/vda console=ttyAMA0" \
	-netdev user,id=eth0,hostfwd=tcp:127.0.0.1:8080-:8080 \
	-device virtio-net-pci,netdev=eth0,romfile= \
	-drive file=rootfs.ext4,if=none,format=raw,id=root \
	-device virtio-blk-pci,drive=root \
	-drive file=data.ext4,if=none,format=raw,id=data \
	-device virtio-blk-pci,drive=data \
	-device i6300esb -action watchdog=reset \
	-device virtio-rng-pci \
	"$@"
QEMU
	chmod 0755 "${BINARIES_DIR}/start-qemu.sh"
	;;
*)
	echo "post-image.sh: unknown board '${BOARD}'" >&2
	exit 1
	;;
esac

# genimage copies its root path: hand it an empty one, the images are built.
ROOTPATH_TMP="$(mktemp -d)"
trap 'rm -rf "${ROOTPATH_TMP}"' EXIT
rm -rf "${GENIMAGE_TMP}"
genimage \
	--rootpath "${ROOTPATH_TMP}" \
	--tmppath "${GENIMAGE_TMP}" \
	--inputpath "${BINARIES_DIR}" \
	--outputpath "${BINARIES_DIR}" \
	--config "${GENIMAGE_CFG}"
