#!/bin/bash
# Storage benchmark (not part of `make check`): inside the test host, runs
# guest/fio/bench.fio
#   - on the host, directly against a 2 GiB raw file (direct=1): the ceiling;
#   - in a guest under build/vmm, against the same file as its /dev/vdb;
#   - in a guest under Debian's QEMU (-enable-kvm, virtio-blk-pci,
#     cache=none, aio=io_uring), against the same file;
# and prints IOPS and bandwidth per job side by side with vmm's ratio to the
# host and to QEMU.  All three run in the same test host, one after another.
# The disk file lives on a virtio-blk disk of the test host (--disk), not on
# 9p or tmpfs, so O_DIRECT reaches a real block device.
# BENCH_VMM_DISK_OPTS is appended to vmm's --disk for the image (e.g.
# ",queues=1") to compare vmm configurations.
#   usage: tests/bench/fio-bench.sh [--skip-qemu]
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
if [ -z "${KVMHOST_INSIDE:-}" ]; then
	scratch=$(mktemp /tmp/fio-bench-disk.XXXXXX)
	trap 'rm -f "$scratch"' EXIT
	truncate -s 3G "$scratch"
	"$top/tests/kvmhost/run" --memory 4G --disk "$scratch" --timeout 3600 -- "$0" "$@"
	exit
fi

skip_qemu=
# fio prints its terse lines only when all jobs are done (~90 s of silence).
export GUEST_STALL_SEC=600
[ "${1:-}" = --skip-qemu ] && skip_qemu=1
VMM=$top/build/vmm
JOB=$top/guest/fio/bench.fio
work=$(mktemp -d /tmp/fio-bench.XXXXXX)
mnt=$work/mnt
trap 'umount "$mnt" 2>/dev/null; rm -rf "$work"' EXIT

# The test host's /dev/vda is the scratch disk: an ext4 file system on it
# holds the 2 GiB image that all three runs use.
mkdir -p "$mnt"
mkfs.ext4 -q -F /dev/vda && mount /dev/vda "$mnt" || { echo "cannot prepare /dev/vda" >&2; exit 1; }
img=$mnt/bench.img
# Written out (not sparse, not unwritten extents), so reads reach the device.
dd if=/dev/zero of="$img" bs=1M count=2048 conv=fsync status=none

# A guest run: the same job file, shipped in rootfs.img, via guest.run=fio-bench.
guest_cmdline="console=ttyS0 panic=-1 quiet root=/dev/vda guest.run=fio-bench"

echo "bench: host fio on $img"
FIO_DEV=$img FIO_SIZE=2G fio --output-format=terse --terse-version=3 "$JOB" > "$work/host.terse" 2>&1 ||
	{ cat "$work/host.terse"; exit 1; }

echo "bench: fio in a vmm guest (2 vCPUs, 1 GiB)"
guest_boot_expect fio-bench "$work/vmm.log" 900 "$VMM" --kernel "$GUEST_DIR/vmlinuz" \
	--initrd "$GUEST_DIR/initrd.img" --cpus 2 --memory 1G --cmdline "$guest_cmdline" \
	--disk "path=$GUEST_DIR/rootfs.img,readonly=on" --disk "path=$img,direct=on${BENCH_VMM_DISK_OPTS:-}" --stats ||
	exit 1

if [ -z "$skip_qemu" ]; then
	echo "bench: fio in a QEMU guest (2 vCPUs, 1 GiB)"
	guest_boot_expect fio-bench "$work/qemu.log" 900 qemu-system-x86_64 -enable-kvm -cpu host \
		-smp 2 -m 1024 -M pc -nodefaults -no-user-config -display none -no-reboot \
		-serial stdio -kernel "$GUEST_DIR/vmlinuz" -initrd "$GUEST_DIR/initrd.img" \
		-append "$guest_cmdline" \
		-drive "file=$GUEST_DIR/rootfs.img,if=none,id=root,format=raw,readonly=on" \
		-device virtio-blk-pci,drive=root \
		-drive "file=$img,if=none,id=bench,format=raw,cache=none,aio=io_uring" \
		-device virtio-blk-pci,drive=bench || exit 1
fi

# terse v3: field 3 job name, 7 read bw KiB/s, 8 read IOPS, 48 write bw, 49 write IOPS.
terse() {
	grep -a '^3;' "$1" | tr -d '\r' | awk -F';' '{
		r = $8 + 0; w = $49 + 0
		printf "%s %d %d\n", $3, (r > w ? r : w), (r > w ? $7 : $48) / 1024 }'
}
terse "$work/host.terse" > "$work/host.t"
terse "$work/vmm.log" > "$work/vmm.t"
[ -z "$skip_qemu" ] && terse "$work/qemu.log" > "$work/qemu.t" || : > "$work/qemu.t"
# The raw outputs stay for a closer look.
mkdir -p "$top/build/bench"
cp "$work/host.terse" "$work/vmm.log" "$top/build/bench/" 2>/dev/null
[ -z "$skip_qemu" ] && cp "$work/qemu.log" "$top/build/bench/"

echo
printf '%-20s %10s %10s %10s %8s %8s\n' job "host IOPS" "vmm IOPS" "qemu IOPS" vmm/host vmm/qemu
while read -r job hi hbw; do
	# (no process substitution: the test host has no /dev/fd)
	vi=$(awk -v j="$job" '$1 == j { print $2 }' "$work/vmm.t")
	vbw=$(awk -v j="$job" '$1 == j { print $3 }' "$work/vmm.t")
	qi=$(awk -v j="$job" '$1 == j { print $2 }' "$work/qemu.t")
	qbw=$(awk -v j="$job" '$1 == j { print $3 }' "$work/qemu.t")
	printf '%-20s %10s %10s %10s %8s %8s   (MiB/s: host %s, vmm %s, qemu %s)\n' "$job" "$hi" "${vi:--}" "${qi:--}" \
		"$(awk -v a="${vi:-0}" -v b="$hi" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')" \
		"$(awk -v a="${vi:-0}" -v b="${qi:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')" \
		"$hbw" "${vbw:--}" "${qbw:--}"
done < "$work/host.t"
# Completion batching: the disk's interrupts per completed request, as the
# guest counted them (guest/run/fio-bench).
irq_per_req() {
	grep -a '^fio-bench: irqs ' "$1" | tr -d '\r' |
		awk -v j="$2" '$3 == j && $5 > 0 { printf "%.2f", $4 / $5 }'
}
echo
printf '%-20s %14s %14s\n' job "vmm irq/req" "qemu irq/req"
while read -r job _ _; do
	printf '%-20s %14s %14s\n' "$job" "$(irq_per_req "$work/vmm.log" "$job")" \
		"$([ -z "$skip_qemu" ] && irq_per_req "$work/qemu.log" "$job")"
done < "$work/host.t"
echo
grep -aE '^vmm: |^  [a-z]' "$work/vmm.log" | sed 's/^/  /'
