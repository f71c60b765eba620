#!/bin/sh
# Runs inside the arm64 test host for tests/arm64/bench.sh (busybox sh):
# N boots each of build/arm64/vmm and of Debian's arm64 qemu-system-aarch64
# (fetched by tests/arm64/fetch-qemu.sh, run through its own dynamic
# loader) with the same kernel, initramfs and root disk on virtio-blk-pci,
# 2 vCPUs and 512 MiB, alternating, to the guest.run=smoke marker; then one
# fio run (guest.run=fio-bench: randread and randwrite, 4k, qd32) on each,
# its disk the test host's /dev/vda (a block device, so O_DIRECT reaches
# it), opened by both with O_DIRECT (vmm's direct=on, QEMU's cache=none):
# the page cache of the test host would otherwise take the writes.  Writes one log per boot into OUT and a "BOOT NAME START MARKER END"
# line per boot (seconds of /proc/uptime) to OUT/times.
#   usage: bench-inside.sh TOP OUT N
top=$1 out=$2 n=$3
vmm=$top/build/arm64/vmm
g=$top/build/arm64/guest
q=$top/build/arm64/qemu/root
disk=/dev/vda
[ -b "$disk" ] || { echo "bench: no $disk in the test host" >&2; exit 1; }

qemu() {
	"$q/lib/ld-linux-aarch64.so.1" \
		--library-path "$q/lib/aarch64-linux-gnu:$q/usr/lib/aarch64-linux-gnu" \
		"$q/usr/bin/qemu-system-aarch64" "$@"
}
now() { cut -d' ' -f1 /proc/uptime; }

# boot NAME vmm|qemu GUEST-ARGS: one boot, its console in OUT/NAME.log.
boot() {
	name=$1 who=$2 args=$3
	echo "bench: $name" >&2
	t0=$(now)
	if [ "$who" = vmm ]; then
		"$vmm" --kernel "$g/vmlinuz" --initrd "$g/initrd.img" --cpus 2 --memory 512M \
			--disk "path=$g/rootfs.img,readonly=on" --disk "path=$disk,direct=on" \
			--cmdline "console=ttyS0 panic=-1 quiet root=/dev/vda $args" </dev/null 2>&1
	else
		# virt's default GIC is v2, which a GICv3 host cannot emulate.
		qemu -M virt,gic-version=3 -enable-kvm -cpu host -smp 2 -m 512 \
			-nodefaults -no-user-config -display none -no-reboot -serial stdio \
			-kernel "$g/vmlinuz" -initrd "$g/initrd.img" \
			-append "console=ttyAMA0 panic=-1 quiet root=/dev/vda $args" \
			-drive "file=$g/rootfs.img,if=none,id=root,format=raw,readonly=on" \
			-device virtio-blk-pci,drive=root \
			-drive "file=$disk,if=none,id=scratch,format=raw,cache=none,aio=io_uring" \
			-device virtio-blk-pci,drive=scratch </dev/null 2>&1
	fi | while IFS= read -r line; do
		case "$line" in
		*GUEST-SMOKE*) echo "MARK $(now)" ;;
		esac
		printf '%s\n' "$line"
	done >"$out/$name.log"
	t1=$(now)
	echo "BOOT $name $t0 $(sed -n 's/^MARK //p' "$out/$name.log" | head -n 1) $t1" >>"$out/times"
}

# Fail early if the fetched QEMU cannot start here.
qemu -version || { echo "bench: $q/usr/bin/qemu-system-aarch64 does not run" >&2; exit 1; }
i=1
while [ "$i" -le "$n" ]; do
	boot "vmm-$i" vmm guest.run=smoke
	boot "qemu-$i" qemu guest.run=smoke
	i=$((i + 1))
done
fio="guest.run=fio-bench bench.jobs=randread-4k-qd32,randwrite-4k-qd32 bench.runtime=10 bench.ramp=2"
boot fio-vmm vmm "$fio"
boot fio-qemu qemu "$fio"
exit 0
