#!/bin/bash
# Host I/O errors (issue 9, "Data and bad input"): the guest sees an I/O
# error on the request that hit it, vmm keeps running and says what
# happened in one line.  Guests boot from the initramfs alone (quiet
# console, one vCPU, the test disk is /dev/vda) under build/vmm inside the
# test host and run guest.run=disk-errors:
#  - enospc: the backing file is on a 4 MiB tmpfs: a guest write that
#            needs new blocks fails, what was there still reads back;
#  - shrink: the backing file is truncated from 64 to 32 MiB while the
#            guest reads near its end: those reads fail, the rest still
#            reads (see the comment at shrink());
#  - eio:    the disk is a device-mapper device with an `error` target
#            over 16-32 MiB: a read there fails, a write there fails (at
#            its flush: the default cache mode is a write-back cache, as
#            the guest was told), reads elsewhere work.
#   usage: tests/integration/vmm-data.sh [enospc|shrink|eio]...
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
kvmhost_reexec --timeout 900 -- "$0" "$@"

VMM=$top/build/vmm
# shellcheck source=../lib/work-tmpfs.sh
. "$top/tests/lib/work-tmpfs.sh"
# On exit (after the jobs, before the tmpfs goes): eio's device-mapper
# and loop devices, enospc's small tmpfs.
cleanup() {
	dmsetup remove vmm-data-err 2>/dev/null
	[ -n "${loopdev:-}" ] && losetup -d "$loopdev" 2>/dev/null
	umount "$work/t/small" 2>/dev/null
}
work_tmpfs vmm-data cleanup
export DM_DISABLE_UDEV=1
CMDLINE='console=ttyS0 panic=-1 quiet'

# vmm_initrd_boot RUN EXTRA-CMDLINE DISK-SPEC: an initramfs-only guest
# running guest.run=RUN with DISK-SPEC as /dev/vda; prints vmm's status.
vmm_initrd_boot() {
	"$VMM" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --cpus 1 \
		--cmdline "$CMDLINE guest.run=$1 $2" --disk "$3" </dev/null
	echo "vmm-exit-status=$?"
}
export -f vmm_initrd_boot
export VMM GUEST_DIR CMDLINE

only=" $* "
fails=0

# keep_data FILE: the host's data in the first MiB; prints its md5.
keep_data() {
	yes 'HOST-DATA-THAT-MUST-SURVIVE' | head -c 1M | dd of="$1" conv=notrunc 2>/dev/null
	head -c 1M "$1" | md5sum | cut -d' ' -f1
}

# error_outcome LOG MD5 ERRTEXT: the guest passed, read back the host's
# data, vmm ended normally, and said ERRTEXT in exactly one line.
error_outcome() {
	local log=$1 md5=$2 text=$3 got lines
	got=$(tr -d '\r' <"$log" | sed -n 's/^KEEP-MD5 //p')
	[ "$got" = "$md5" ] || {
		echo "  the first MiB read back as '$got' after the error, not '$md5'" >&2
		return 1
	}
	grep -aq 'I/O error, dev vda' "$log" || {
		echo "  the guest kernel reported no I/O error on vda" >&2
		return 1
	}
	lines=$(grep -ac "^vmm: .*$text" "$log")
	grep -a '^vmm: ' "$log" | sed 's/^/  /'
	[ "$lines" -eq 1 ] || {
		echo "  vmm said '$text' in $lines lines, not exactly one" >&2
		return 1
	}
	exited_with 0 "$log"
}

enospc() {
	local log=$work/enospc.log img=$work/t/small/disk.img md5
	mkdir -p "$work/t/small"
	mount -t tmpfs -o size=4M tmpfs "$work/t/small" || return 1
	truncate -s 64M "$img"
	md5=$(keep_data "$img")
	guest_boot_expect disk-errors "$log" 300 vmm_initrd_boot disk-errors \
		guest.case=enospc "path=$img" || return 1
	grep -a '^WRITE-FAILED' "$log" | sed 's/^/  guest: /'
	error_outcome "$log" "$md5" 'No space left on device'
}

# The behaviour chosen for a backing file that shrinks under a running
# guest: the disk keeps the capacity it was given at start (the guest's
# partition table and file systems depend on it), reads of blocks the file
# no longer has fail with an I/O error, and vmm says once that the file is
# shorter than the disk.  Not zeroes: the guest wrote data there, and
# handing back zeroes as if they were its data is silent corruption; an
# error is what a disk with lost sectors gives.  (A write past the new end
# stores its data and grows the file again, as writing a sparse file does;
# that data reads back.)
shrink() {
	local log=$work/shrink.log img=$work/t/shrink.img md5 pid
	truncate -s 64M "$img"
	md5=$(keep_data "$img")
	GUEST_BOOT_RETRIES=0 guest_boot_expect disk-errors "$log" 300 vmm_initrd_boot disk-errors \
		guest.case=shrink "path=$img" &
	pid=$!
	wait_for_line "$log" '^READING-TAIL' "$pid" 120
	truncate -s 32M "$img"
	echo "  truncated the backing file to 32 MiB while the guest reads at 58 MiB"
	wait $pid || return 1
	grep -a '^TAIL-READ-FAILED' "$log" | sed 's/^/  guest: /'
	error_outcome "$log" "$md5" 'shorter than the disk'
}

eio() {
	local log=$work/eio.log img=$work/t/eio.img md5 sectors=$((16 * 2048))
	truncate -s 64M "$img"
	md5=$(keep_data "$img")
	loopdev=$(losetup -f --show "$img") || return 1
	printf '%s\n' "0 $sectors linear $loopdev 0" "$sectors $sectors error" \
		"$((2 * sectors)) $((2 * sectors)) linear $loopdev $((2 * sectors))" |
		dmsetup create vmm-data-err || return 1
	guest_boot_expect disk-errors "$log" 300 vmm_initrd_boot disk-errors \
		guest.case=eio "path=/dev/mapper/vmm-data-err" || return 1
	grep -aE '^(READ-FAILED|WRITE-FAILED|OTHER-READ-OK)' "$log" | sed 's/^/  guest: /'
	error_outcome "$log" "$md5" 'Input/output error'
}

check enospc "ENOSPC on the host: I/O error in the guest, vmm runs on, one line" enospc
check shrink "backing file truncated under the guest: reads past its end fail, one line" shrink
check eio "EIO from the host: I/O error on that request only, one line" eio
[ "$fails" -eq 0 ]
