# U-Boot boot script of the multimsg box (compiled to boot.scr by Buildroot's
# host-uboot-tools). Chooses the root slot with U-Boot's attempt counting, the
# variables RAUC's "uboot" bootloader backend reads and writes:
#   BOOT_ORDER    slots to try, in order ("A B": A first)
#   BOOT_A_LEFT   attempts left for slot A (RAUC resets it to 3 when it marks
#   BOOT_B_LEFT   the slot good or makes it primary; 0 = bad)
# Every boot takes one attempt from the slot it starts. A slot whose system
# never marks itself good (multimsg does once healthy) runs out of attempts
# after 3 tries (watchdog resets) and the next slot in BOOT_ORDER boots.
# The environment is redundant (two copies on the card, see uboot.fragment),
# so a power cut while it is saved leaves the other copy intact.

test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3

setenv bootpart
setenv raucslot
for BOOT_SLOT in "${BOOT_ORDER}"; do
	if test "x${bootpart}" != "x"; then
		# a slot was chosen: skip the rest
	elif test "x${BOOT_SLOT}" = "xA"; then
		if test ${BOOT_A_LEFT} -gt 0; then
			setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
			echo "multimsg: booting slot A, ${BOOT_A_LEFT} attempts left after this one"
			setenv bootpart 2
			setenv raucslot A
		fi
	elif test "x${BOOT_SLOT}" = "xB"; then
		if test ${BOOT_B_LEFT} -gt 0; then
			setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
			echo "multimsg: booting slot B, ${BOOT_B_LEFT} attempts left after this one"
			setenv bootpart 3
			setenv raucslot B
		fi
	fi
done

if test -z "${bootpart}"; then
	# Both slots used up their attempts (e.g. a power supply that kept
	# failing): start over rather than brick the box.
	echo "multimsg: no slot has attempts left; resetting both to 3"
	setenv BOOT_A_LEFT 3
	setenv BOOT_B_LEFT 3
	saveenv
	reset
fi
saveenv

# Each slot carries its own kernel and device tree in /boot.
setenv bootargs "console=tty1 console=ttyAMA0,115200 root=/dev/mmcblk0p${bootpart} rootfstype=ext4 rootwait ro rauc.slot=${raucslot}"
load mmc 0:${bootpart} ${kernel_addr_r} /boot/Image || reset
if load mmc 0:${bootpart} ${fdt_addr_r} /boot/${fdtfile}; then
	booti ${kernel_addr_r} - ${fdt_addr_r}
fi
# no device tree for this board in the slot: the one the firmware loaded
booti ${kernel_addr_r} - ${fdt_addr}
reset
