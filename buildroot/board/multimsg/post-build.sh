#!/bin/sh
# Post-build for every multimsg board: mount the data partition, found by
# its label, on /var/lib/multimsg. Runs after the board's own post-build.

set -u
set -e

FSTAB="${TARGET_DIR}/etc/fstab"
LINE="LABEL=multimsg-data	/var/lib/multimsg	ext4	rw,noatime,nodev,nosuid,noexec	0	2"

if [ -f "${FSTAB}" ] && ! grep -q '^LABEL=multimsg-data' "${FSTAB}"; then
	printf '%s\n' "${LINE}" >> "${FSTAB}"
fi
mkdir -p "${TARGET_DIR}/var/lib/multimsg"
chmod 0700 "${TARGET_DIR}/var/lib/multimsg"
