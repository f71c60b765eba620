# vmm: a minimal KVM virtual machine monitor.  One Makefile for the VMM, its
# unit tests, the guest images and the test host.  See README.md.

# ARCH: the architecture vmm is built for (x86, the default, or arm64).
# arm64 is cross-compiled with Debian's aarch64-linux-gnu toolchain into
# build/arm64/ and linked statically, so the binary runs in any arm64
# user space (the arm64 test host's initramfs has no shared libraries).
ARCH      ?= x86
ifeq ($(ARCH),x86)
B         := build
CROSS     :=
else ifeq ($(ARCH),arm64)
B         := build/arm64
CROSS     := aarch64-linux-gnu-
STATIC    := -static
else
$(error ARCH=$(ARCH): only x86 and arm64 are supported)
endif
CC        := $(CROSS)gcc
# kvmtool's warning set on top of -Wall -Wextra.
WARN      := -Wall -Wextra -Werror -Wformat=2 -Winit-self -Wmissing-declarations \
	     -Wmissing-prototypes -Wnested-externs -Wold-style-definition -Wredundant-decls \
	     -Wsign-compare -Wstrict-prototypes -Wundef -Wvolatile-register-var -Wwrite-strings \
	     -Wno-format-nonliteral
CFLAGS    := -std=gnu11 -O2 -g $(WARN) -I. -MMD -MP
LDLIBS    := -lpthread -luring -lfdt -lseccomp
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Debian packages, by what needs them.  They are installed when missing (as
# root) or named with the command to install them.
PKGS_BUILD   := gcc make pkg-config libc6-dev libfdt-dev check liburing-dev libseccomp-dev \
		acpica-tools
ifeq ($(ARCH),arm64)
# Multiarch: the cross toolchain and the arm64 -dev packages.  Not
# libfdt-dev:arm64 nor libseccomp-dev:arm64: they cannot be installed
# beside the host's (apt would remove those), so their static libraries
# are unpacked into the build tree instead (below).
PKGS_BUILD   += gcc-aarch64-linux-gnu libc6-dev-arm64-cross liburing-dev:arm64
endif
PKGS_GUEST   := apt busybox-static fio e2fsprogs cpio kmod xz-utils zstd
ifeq ($(ARCH),x86)
# scripts/extract-vmlinux: Debian's cloud kernel is compressed with LZ4.
PKGS_GUEST   += lz4
endif
ifeq ($(ARCH),x86)
PKGS_KVMHOST := qemu-system-x86 seabios
else
PKGS_KVMHOST := qemu-system-arm
endif
PKGS_BENCH   := python3 gnuplot-nox strace
PKGS_FUZZ    := clang libclang-rt-14-dev
PKGS_LINT    := shellcheck cppcheck clang-format
# make deb, the install tests (tests/install/run) and the JSON checks.
PKGS_DEB     := dpkg-dev lintian man-db groff-base binutils jq
ENSURE       := scripts/ensure-packages

# Every C file of the VMM except main.c goes into a library that the unit
# tests link against; new files are picked up without editing this list.
LIB_SRCS  := $(filter-out vmm/main.c,$(sort $(wildcard core/*.c vmm/*.c arch/$(ARCH)/*.c devices/*.c devices/virtio/*.c devices/block/*.c)))
# The arm64 device-tree builder and Image loader are plain C (libfdt, guest
# memory, no KVM): the x86 build carries them too, so their unit tests run
# on the build machine.
ifeq ($(ARCH),x86)
LIB_SRCS  += arch/arm64/fdt.c arch/arm64/boot.c
endif
LIB_OBJS  := $(LIB_SRCS:%.c=$(B)/obj/%.o)
SAN_OBJS  := $(LIB_SRCS:%.c=$(B)/san/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)
HAVE_MAIN := $(wildcard vmm/main.c)
# Unit tests that create real VMs: without /dev/kvm they run in the test host.
UNIT_KVM  := $(B)/unit/test_vm $(B)/unit/test_virtio_pci_kvm
# The KVM tests run through the test host, which needs its images unless
# this machine's KVM is hardware's (tests/kvmhost/run decides the same way).
UNIT_KVMHOST := $(if $(and $(wildcard /dev/kvm),$(if $(wildcard /sys/module/kvm_pvm),,y),\
	$(or $(wildcard /sys/module/kvm_intel),$(wildcard /sys/module/kvm_amd))),,kvmhost)

.PHONY: lint all deps deps-guest deps-kvmhost deps-deb guest kvmhost run check check-arm64 check-durability unit \
	arm64-images \
	kvmhost-check integration bench clean fuzz fuzz-ci tsan install uninstall deb install-check FORCE
.DEFAULT_GOAL := all

all: $(if $(HAVE_MAIN),$(B)/vmm) $(B)/tools/kvmcheck

# Each package set is checked once and remembered in a stamp, so a plain
# make does not run the installer again; editing the lists re-checks.
STAMP := $(B)/.deps
$(STAMP)/build: Makefile $(ENSURE)
	@$(ENSURE) $(PKGS_BUILD)
	@mkdir -p $(@D) && touch $@
# arm64 images are fetched as arm64 packages: dpkg must know the
# architecture first, which installing the build's :arm64 packages does.
STAMP_ARCH := $(if $(filter arm64,$(ARCH)),$(STAMP)/build)
$(STAMP)/guest: Makefile $(ENSURE) $(STAMP_ARCH)
	@$(ENSURE) $(PKGS_GUEST)
	@mkdir -p $(@D) && touch $@
$(STAMP)/kvmhost: Makefile $(ENSURE) $(STAMP_ARCH)
	@$(ENSURE) $(PKGS_KVMHOST) $(PKGS_GUEST)
	@mkdir -p $(@D) && touch $@
$(STAMP)/deb: Makefile $(ENSURE)
	@$(ENSURE) $(PKGS_DEB)
	@mkdir -p $(@D) && touch $@
$(STAMP)/fuzz: Makefile $(ENSURE)
	@$(ENSURE) $(PKGS_FUZZ)
	@mkdir -p $(@D) && touch $@
deps: $(STAMP)/build
deps-guest: $(STAMP)/guest
deps-kvmhost: $(STAMP)/kvmhost
deps-fuzz: $(STAMP)/fuzz
deps-deb: $(STAMP)/deb

# The version --version prints and the .deb carries (scripts/version: git
# describe, or the fixed one in vmm/version.h).  Only vmm/version.c sees
# it, and rebuilds when it changes.
VERSION := $(shell scripts/version)
$(B)/version: FORCE
	@mkdir -p $(@D)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
$(B)/obj/vmm/version.o $(B)/san/vmm/version.o: $(B)/version
$(B)/obj/vmm/version.o $(B)/san/vmm/version.o: CFLAGS += -DVMM_VERSION='"$(VERSION)"'

$(B)/obj/%.o: %.c | $(STAMP)/build
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/san/%.o: %.c | $(STAMP)/build
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -O1 -c -o $@ $<

$(B)/libvmm.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/libvmm-san.a: $(SAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

ifeq ($(ARCH),arm64)
# Each one's arm64 -dev package, unpacked (apt-get download, nothing
# installed) into a sysroot the link searches first.  The headers are the
# host's: the same version, and architecture-independent.
ARM64_LIBDIR := $(B)/sysroot/usr/lib/aarch64-linux-gnu
ARM64_LIBS   := $(ARM64_LIBDIR)/libfdt.a $(ARM64_LIBDIR)/libseccomp.a
LDLIBS       := -L$(ARM64_LIBDIR) $(LDLIBS)
$(ARM64_LIBDIR)/libfdt.a: ARM64_DEB := libfdt-dev
$(ARM64_LIBDIR)/libseccomp.a: ARM64_DEB := libseccomp-dev
$(ARM64_LIBS): | $(STAMP)/build
	rm -rf $(B)/debs-$(ARM64_DEB) && mkdir -p $(B)/debs-$(ARM64_DEB)
	cd $(B)/debs-$(ARM64_DEB) && apt-get download $(ARM64_DEB):arm64
	dpkg-deb -x $(B)/debs-$(ARM64_DEB)/$(ARM64_DEB)_*_arm64.deb $(B)/sysroot
	@test -f $@ && touch $@
endif

$(B)/vmm: $(B)/obj/vmm/main.o $(B)/libvmm.a $(ARM64_LIBS)
	$(CC) $(CFLAGS) $(STATIC) -o $@ $(B)/obj/vmm/main.o $(B)/libvmm.a $(LDLIBS)

# vmm built with ASan and UBSan from the sanitized library the unit tests
# use: the hostile-guest integration test runs it, so that anything a
# guest provokes shows as a report and a failure.
$(B)/vmm-asan: $(B)/san/vmm/main.o $(B)/libvmm-san.a $(ARM64_LIBFDT)
	$(CC) $(CFLAGS) $(SANFLAGS) -O1 -o $@ $(B)/san/vmm/main.o $(B)/libvmm-san.a $(LDLIBS)

# Unit tests: one Check binary per tests/unit/test_*.c, built with ASan and
# UBSan against the sanitized library.
$(B)/unit/%: tests/unit/%.c $(B)/libvmm-san.a | $(STAMP)/build
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -O1 -o $@ $< $(B)/libvmm-san.a $(LDLIBS) $$(pkg-config --libs check)

$(B)/tools/kvmcheck: tests/kvmhost/kvmcheck.c | $(STAMP)/build
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -static -o $@ $<

# Fuzz targets, one per tests/fuzz/fuzz_*.c (see tests/fuzz/README).  gcc
# builds each as a sanitized replayer of input files ($(B)/fuzz/NAME FILE|DIR);
# `make fuzz` builds the libFuzzer binaries ($(B)/libfuzzer/NAME) with clang
# against a coverage-instrumented copy of the library; fuzz-ci runs them.
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/%.c=%)
FUZZ_CC    := clang
FUZZ_FLAGS := $(filter-out -O2,$(CFLAGS)) -O1 -Wno-gnu-variable-sized-type-not-at-end \
	      -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_OBJS  := $(LIB_SRCS:%.c=$(B)/fuzzobj/%.o)
# Checks of known, open bugs can be turned off here until they are fixed
# (their reproducers wait in tests/fuzz/known/).
FUZZ_DEFS  :=

# (the target source last: gcc names the .d after it, and it has the includes)
$(B)/fuzz/%: tests/fuzz/replay.c tests/fuzz/fail.c tests/fuzz/%.c $(B)/libvmm-san.a | $(STAMP)/build
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) $(FUZZ_DEFS) -O1 -o $@ $(filter %.c,$^) $(B)/libvmm-san.a $(LDLIBS)

$(B)/fuzzobj/%.o: %.c | $(STAMP)/build $(STAMP)/fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c -o $@ $<

$(B)/libvmm-fuzz.a: $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/libfuzzer/%: tests/fuzz/fail.c tests/fuzz/%.c $(B)/libvmm-fuzz.a | $(STAMP)/fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_DEFS) -fsanitize=fuzzer -o $@ $(filter %.c,$^) $(B)/libvmm-fuzz.a $(LDLIBS)

fuzz: $(FUZZ_NAMES:%=$(B)/libfuzzer/%) $(FUZZ_NAMES:%=$(B)/fuzz/%)

# Replays every seed and reproducer, then fuzzes each target for
# FUZZ_SECONDS (default 60); fails on any report.
fuzz-ci: fuzz
	@tests/fuzz/run-ci $(FUZZ_NAMES)

# ThreadSanitizer build of the unit tests of the I/O path (the threads that
# share guest rings, MSI-X vectors, the buses and the console), against a
# TSan-built library; any report fails the test (halt_on_error).  clang:
# gcc's TSan refuses the ring code's atomic_thread_fence.
TSAN_TESTS := test_blk test_queue test_virtio_pci test_msix test_bus test_console test_serial
TSAN_OBJS  := $(LIB_SRCS:%.c=$(B)/tsan/%.o)
TSAN_FLAGS := $(filter-out -O2,$(CFLAGS)) -O1 -Wno-gnu-variable-sized-type-not-at-end \
	      -fsanitize=thread -fno-omit-frame-pointer

$(B)/tsan/%.o: %.c | $(STAMP)/build $(STAMP)/fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(TSAN_FLAGS) -c -o $@ $<

$(B)/libvmm-tsan.a: $(TSAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/tsan/unit/%: tests/unit/%.c $(B)/libvmm-tsan.a | $(STAMP)/build $(STAMP)/fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(TSAN_FLAGS) -o $@ $< $(B)/libvmm-tsan.a $(LDLIBS) $$(pkg-config --libs check)

tsan: $(TSAN_TESTS:%=$(B)/tsan/unit/%)
	@TSAN_OPTIONS="halt_on_error=1 abort_on_error=1 second_deadlock_stack=1 $$TSAN_OPTIONS" \
		UNIT_LABEL=tsan tests/unit/run-all $^

# Guest images: Debian's cloud kernel, an initramfs that mounts a virtio-blk
# root, and an ext4 root disk with busybox, fio and the guest.run scripts.
# For arm64 everything comes from Debian's arm64 packages (multiarch
# apt-get download, nothing installed): kernels, busybox, fio.
ifeq ($(ARCH),x86)
DEB_ARCH     := amd64
BUSYBOX      := /bin/busybox
ROOTFS_ARCH  :=
else
DEB_ARCH     := arm64
BUSYBOX      := $(B)/debs/root/bin/busybox
ROOTFS_ARCH  := $(DEB_ARCH) $(B)/debs
$(BUSYBOX): scripts/fetch-debs | $(STAMP)/guest
	scripts/fetch-debs $(DEB_ARCH) $(B)/debs busybox-static
	@touch $@
endif

GUEST_KERNEL_DEPS := guest/fetch-kernel.sh
$(B)/guest/vmlinuz: $(GUEST_KERNEL_DEPS) | $(STAMP)/guest
	guest/fetch-kernel.sh cloud $(B)/guest/kernel $@ $(DEB_ARCH)

# The same kernel uncompressed, for the PVH entry (x86 only: arm64's image
# is not compressed in the first place).
GUEST_VMLINUX := $(if $(filter x86,$(ARCH)),$(B)/guest/vmlinux)
$(B)/guest/vmlinux: $(B)/guest/vmlinuz scripts/extract-vmlinux | $(STAMP)/guest
	scripts/extract-vmlinux $< $@

GUEST_RUN := $(sort $(wildcard guest/run/*))
GUEST_MODULES := virtio_pci virtio_blk ext4
# Both machines have a pvpanic-pci device (a guest panic ends vmm with its
# own status), but Debian 12's arm64 kernels are built without
# CONFIG_PVPANIC: there guest.run=pvpanic-event plays the driver's part.
ifeq ($(ARCH),x86)
GUEST_MODULES += pvpanic_pci
endif
$(B)/guest/initrd.img: $(B)/guest/vmlinuz guest/initrd/init $(GUEST_RUN) $(B)/guest/blkrec scripts/mkinitramfs scripts/modules-closure $(filter-out /bin/busybox,$(BUSYBOX))
	@echo "guest: building initramfs $@" >&2
	BUSYBOX=$(BUSYBOX) scripts/mkinitramfs $(B)/guest/kernel guest/initrd/init $@ \
		$(foreach f,$(GUEST_RUN),--file $(f) /usr/lib/guest-run/$(notdir $(f))) \
		--file $(B)/guest/blkrec /usr/lib/guest-run/blkrec $(GUEST_MODULES)

# Runs in the guest: reports a guest.run script's status through vmm's
# debug-exit port.  Static, so it needs nothing from the rootfs.
$(B)/guest/debug-exit: guest/tools/debug-exit.c | $(STAMP)/build
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -static -o $@ $<

# Runs in the guest's initramfs and on the host: numbered, checksummed
# records for the kill -9 test (tests/integration/vmm-kill.sh).
$(B)/guest/blkrec: guest/tools/blkrec.c | $(STAMP)/build
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -static -o $@ $<

# Runs in the guest as root: the hostile virtio-blk driver (issue 9) that
# guest.run=hostile turns on a disk.  Static too.
$(B)/guest/virtio-hostile: guest/tools/hostile.c | $(STAMP)/build
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -static -o $@ $< -lpthread

$(B)/guest/rootfs.img: guest/mkrootfs.sh scripts/fetch-debs guest/rootfs/init $(GUEST_RUN) $(wildcard guest/fio/*) $(B)/guest/debug-exit $(B)/guest/virtio-hostile | $(STAMP)/guest
	guest/mkrootfs.sh $@ $(B)/guest/debug-exit $(B)/guest/virtio-hostile $(ROOTFS_ARCH)

guest: $(B)/guest/vmlinuz $(GUEST_VMLINUX) $(B)/guest/initrd.img $(B)/guest/rootfs.img $(B)/guest/blkrec

# The test host: Debian's generic kernel (it has 9p) and an initramfs whose
# init loads kvm_amd and runs a command from the host's file system.
$(B)/kvmhost/vmlinuz: guest/fetch-kernel.sh | $(STAMP)/kvmhost
	guest/fetch-kernel.sh generic $(B)/kvmhost/kernel $@ $(DEB_ARCH)

# arm64's KVM is built into Debian's kernel; its test host talks to the
# command over a virtio console (the virt machine has one UART, which
# carries the kernel log).
ifeq ($(ARCH),x86)
# dm_mod and loop: vmm-data.sh puts a disk on a device-mapper error target.
KVMHOST_MODULES := virtio_pci 9p 9pnet_virtio virtio_blk ext4 kvm_amd dm_mod loop
else
KVMHOST_MODULES := virtio_pci 9p 9pnet_virtio virtio_blk ext4 virtio_console
endif
$(B)/kvmhost/initrd.img: $(B)/kvmhost/vmlinuz tests/kvmhost/init $(B)/tools/kvmcheck scripts/mkinitramfs scripts/modules-closure $(filter-out /bin/busybox,$(BUSYBOX))
	@echo "kvmhost: building initramfs $@" >&2
	BUSYBOX=$(BUSYBOX) scripts/mkinitramfs $(B)/kvmhost/kernel tests/kvmhost/init $@ \
		--file $(B)/tools/kvmcheck /bin/kvmcheck $(KVMHOST_MODULES)

kvmhost: $(B)/kvmhost/vmlinuz $(B)/kvmhost/initrd.img $(B)/tools/kvmcheck

ifeq ($(ARCH),x86)
unit: $(UNIT_BINS) $(UNIT_KVMHOST)
	@tests/unit/run-all $(filter-out $(UNIT_KVM),$(UNIT_BINS)) --kvm $(UNIT_KVM)
else
unit:
	$(error the unit tests run on the build machine, arm64's FDT and Image code included: make unit)
endif

# The arm64 port end to end (tests/arm64/smoke.sh): the arm64 vmm, guest
# and test host, then guest boots inside the emulated arm64 machine (about
# 2 minutes; make check runs it too).
arm64-images:
	$(MAKE) ARCH=arm64 all kvmhost guest
# Flushed data survives kill -9 (20 rounds and 4 with direct=on): a part of
# make check's integration tests, runnable alone.
check-durability: all kvmhost guest
	tests/integration/vmm-kill.sh

check-arm64: arm64-images
	tests/arm64/smoke.sh

# The tree's habits: include direction, shellcheck, cppcheck (and the
# format check).
$(STAMP)/lint: Makefile $(ENSURE)
	@$(ENSURE) $(PKGS_LINT)
	@mkdir -p $(@D) && touch $@
lint: | $(STAMP)/lint
	@tests/lint/run-all

kvmhost-check: kvmhost guest
	tests/kvmhost/selftest.sh

integration: all $(B)/vmm-asan kvmhost guest deps-deb
	tests/integration/run-all

check: all $(B)/vmm-asan kvmhost guest deps-deb $(UNIT_BINS) arm64-images
	@tests/check-all

run: all kvmhost guest
	tests/kvmhost/run --arch $(ARCH) --interactive -- tests/run-default-guest $(ARCH)

# Benchmarks print numbers, they do not pass or fail: run them on a quiet
# machine, one at a time.
bench: all kvmhost guest
	@$(ENSURE) $(PKGS_BENCH)
	tests/bench/boot-time.sh
	tests/bench/fio-bench.sh

clean:
	rm -rf $(B)

# Installation: the usual PREFIX and DESTDIR.
PREFIX ?= /usr/local
BINDIR  = $(PREFIX)/bin
MAN1DIR = $(PREFIX)/share/man/man1

install: $(B)/vmm
	install -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MAN1DIR)'
	install -m 0755 $(B)/vmm '$(DESTDIR)$(BINDIR)/vmm'
	install -m 0644 doc/vmm.1 '$(DESTDIR)$(MAN1DIR)/vmm.1'

uninstall:
	rm -f '$(DESTDIR)$(BINDIR)/vmm' '$(DESTDIR)$(MAN1DIR)/vmm.1'

# The Debian package: vmm built again with all of Debian's hardening flags
# (dpkg-buildflags), laid out under /usr, Depends from dpkg-shlibdeps.
PKG_ARCH   = $(shell dpkg --print-architecture)
DEB        = $(B)/vmm_$(VERSION)_$(PKG_ARCH).deb
BUILDFLAGS = DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags
DEB_CFLAGS = $(CFLAGS) $(shell $(BUILDFLAGS) --get CPPFLAGS 2>/dev/null) \
	$(filter-out -O% -g,$(shell $(BUILDFLAGS) --get CFLAGS 2>/dev/null))
DEB_LDFLAGS = $(shell $(BUILDFLAGS) --get LDFLAGS 2>/dev/null)
DEB_OBJS   = $(LIB_SRCS:%.c=$(B)/deb/obj/%.o) $(B)/deb/obj/vmm/main.o

$(B)/deb/obj/%.o: %.c | $(STAMP)/build $(STAMP)/deb
	@mkdir -p $(@D)
	$(CC) $(DEB_CFLAGS) -c -o $@ $<
$(B)/deb/obj/vmm/version.o: $(B)/version
$(B)/deb/obj/vmm/version.o: DEB_CFLAGS += -DVMM_VERSION='"$(VERSION)"'

$(B)/deb/vmm: $(DEB_OBJS)
	$(CC) $(DEB_CFLAGS) $(DEB_LDFLAGS) -o $@ $^ $(LDLIBS)

deb: $(DEB)
$(DEB): $(B)/deb/vmm doc/vmm.1 $(wildcard packaging/*) scripts/mkdeb $(B)/version | $(STAMP)/deb
	rm -f $(B)/vmm_*.deb
	scripts/mkdeb $(B)/deb/vmm doc/vmm.1 '$(VERSION)' $(B)/deb $@

# Everything a user installs: make install, make deb, the man page; as
# root also a real apt install of the .deb, purged again (part of make check).
install-check: all $(DEB) | $(STAMP)/deb
	tests/install/run

-include $(shell find $(B)/obj $(B)/san $(B)/fuzzobj $(B)/tsan $(B)/fuzz $(B)/libfuzzer $(B)/deb/obj -name '*.d' 2>/dev/null)
