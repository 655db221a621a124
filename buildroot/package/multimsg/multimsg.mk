################################################################################
#
# multimsg
#
################################################################################

# Built from the repository this br2-external tree is part of. The local
# site method never runs "go mod vendor" (only downloads do), so vendor/
# must be in the source tree already: buildroot/scripts/image prepares a
# vendored copy and points MULTIMSG_OVERRIDE_SRCDIR at it (in local.mk).
MULTIMSG_SITE = $(BR2_EXTERNAL_MULTIMSG_PATH)/..
MULTIMSG_SITE_METHOD = local
MULTIMSG_LICENSE = Proprietary
MULTIMSG_GOMOD = multimsg
MULTIMSG_BUILD_TARGETS = cmd/multimsg
# Pure Go: the same static binary as "make cross", whatever the toolchain.
MULTIMSG_GO_ENV = CGO_ENABLED=0
# What "multimsg version" prints; buildroot/scripts/image sets it from git.
MULTIMSG_BUILD_VERSION ?= buildroot
MULTIMSG_LDFLAGS = -s -w -X main.version=$(MULTIMSG_BUILD_VERSION)
# As the Makefile's TAGS: net/http without HTTP/2 (every peer speaks HTTP/1.1).
MULTIMSG_TAGS = nethttpomithttp2

# Keep the build tree to the Go source: not this br2-external tree (which
# may hold a Buildroot output directory), nor build outputs.
MULTIMSG_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/buildroot \
	--exclude=/bin \
	--exclude=/dist \
	--exclude=/out \
	--exclude=/run \
	--exclude='*.test'

define MULTIMSG_CHECK_VENDOR
	@if [ ! -f $(@D)/vendor/modules.txt ]; then \
		echo "multimsg: no vendor/ in $(MULTIMSG_SITE);" \
			"run buildroot/scripts/image (or go mod vendor) first"; \
		exit 1; \
	fi
endef
MULTIMSG_PRE_BUILD_HOOKS += MULTIMSG_CHECK_VENDOR

# The mount point of the data partition (see board/multimsg/post-build.sh).
define MULTIMSG_INSTALL_DATA_DIR
	mkdir -p $(TARGET_DIR)/var/lib/multimsg
	chmod 0700 $(TARGET_DIR)/var/lib/multimsg
endef
MULTIMSG_POST_INSTALL_TARGET_HOOKS += MULTIMSG_INSTALL_DATA_DIR

# The service runs as this user, not root (issue 11): a hole in it then reaches
# its own data, not the box. Group dialout: the modems' serial ports.
MULTIMSG_USERS = multimsg -1 multimsg -1 * - - dialout multimsg gateway service

# The capabilities it needs, on the binary (busybox start-stop-daemon -c drops
# every capability; file capabilities give them back at exec): CAP_NET_RAW for
# the ARP watcher, CAP_SYS_TIME for restore_clock, CAP_NET_BIND_SERVICE for a
# port below 1024. Only the service's group may run it. Without extended
# attributes in the root filesystem the binary has no capabilities and the
# init script keeps running it as root.
ifeq ($(BR2_ROOTFS_DEVICE_TABLE_SUPPORTS_EXTENDED_ATTRIBUTES),y)
define MULTIMSG_PERMISSIONS
	/usr/bin/multimsg f 750 root multimsg - - - - -
	|xattr cap_net_raw+ep
	|xattr cap_sys_time+ep
	|xattr cap_net_bind_service+ep
endef
define MULTIMSG_INSTALL_RUN_AS
	mkdir -p $(TARGET_DIR)/etc/default
	printf 'MULTIMSG_USER=multimsg\n' > $(TARGET_DIR)/etc/default/multimsg
endef
MULTIMSG_POST_INSTALL_TARGET_HOOKS += MULTIMSG_INSTALL_RUN_AS
endif

define MULTIMSG_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(MULTIMSG_PKGDIR)/S95multimsg \
		$(TARGET_DIR)/etc/init.d/S95multimsg
endef

define MULTIMSG_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(MULTIMSG_PKGDIR)/multimsg.service \
		$(TARGET_DIR)/usr/lib/systemd/system/multimsg.service
endef

$(eval $(golang-package))
