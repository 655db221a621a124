#!/bin/sh
# Post-build for every multimsg board: mount the data partition, found by
# its label, on /var/lib/multimsg. Runs after the board's own post-build.
# On a board with RAUC (/etc/rauc/system.conf from rpi-overlay), install the
# keyring: the release certificate named by MULTIMSG_RAUC_KEYRING (a path,
# set by buildroot/scripts/image; never a key in this repository).

set -u
set -e

FSTAB="${TARGET_DIR}/etc/fstab"
LINE="LABEL=multimsg-data	/var/lib/multimsg	ext4	rw,noatime,nodev,nosuid,noexec	0	2"

if [ -f "${FSTAB}" ] && ! grep -q '^LABEL=multimsg-data' "${FSTAB}"; then
	printf '%s\n' "${LINE}" >> "${FSTAB}"
fi
mkdir -p "${TARGET_DIR}/var/lib/multimsg"
chmod 0700 "${TARGET_DIR}/var/lib/multimsg"

if [ -f "${TARGET_DIR}/etc/rauc/system.conf" ]; then
	if [ -z "${MULTIMSG_RAUC_KEYRING:-}" ] || [ ! -f "${MULTIMSG_RAUC_KEYRING}" ]; then
		echo "post-build.sh: set MULTIMSG_RAUC_KEYRING to the release certificate (PEM) the box will trust for updates (docs/UPDATE.md)" >&2
		exit 1
	fi
	install -D -m 0644 "${MULTIMSG_RAUC_KEYRING}" "${TARGET_DIR}/etc/rauc/keyring.pem"
fi
