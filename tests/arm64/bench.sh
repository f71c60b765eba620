#!/bin/bash
# arm64 benchmark (not a test: it prints numbers): boot time and one fio run
# of build/arm64/vmm against Debian's arm64 qemu-system-aarch64 (`-M virt
# -enable-kvm -cpu host`) in the same arm64 test host and the same run
# (tests/arm64/bench-inside.sh), same kernel, initramfs, root disk and
# virtio-blk-pci.  Prints per-boot times (start to the guest.run=smoke
# marker, and to exit), their medians, and fio's IOPS; logs stay in
# build/arm64/bench/.  Run it on a quiet machine.
#   usage: tests/arm64/bench.sh [N]     (N boots each, default 5)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-5}
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench: N must be a positive number" >&2; exit 2; }
out=$top/build/arm64/bench
[ -x "$top/build/arm64/qemu/root/usr/bin/qemu-system-aarch64" ] ||
	"$top/tests/arm64/fetch-qemu.sh" "$top/build/arm64/qemu" || exit 1
rm -rf "$out" && mkdir -p "$out"
# The nested guests' second disk: a block device of the test host.
truncate -s 1G "$out/disk.img"
"$top/tests/kvmhost/run" --arch arm64 --timeout 1800 --disk "$out/disk.img" -- \
	sh "$top/tests/arm64/bench-inside.sh" "$top" "$out" "$n"
rc=$?
rm -f "$out/disk.img"
[ "$rc" -eq 0 ] || { echo "bench: the test host run failed (status $rc)" >&2; exit 1; }

echo "boot (seconds from start; marker: the guest.run=smoke line):"
awk '$1 == "BOOT" && $2 !~ /^fio/ {
	printf "  %-8s marker %6.2f  exit %6.2f\n", $2, ($4 == "" ? -1 : $4 - $3), $5 - $3 }' "$out/times"
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for who in vmm qemu; do
	m=$(awk -v w="$who" '$1 == "BOOT" && $2 ~ "^" w "-" && $4 != "" { printf "%.2f\n", $4 - $3 }' "$out/times" | median)
	e=$(awk -v w="$who" '$1 == "BOOT" && $2 ~ "^" w "-" { printf "%.2f\n", $5 - $3 }' "$out/times" | median)
	missing=$(awk -v w="$who" '$1 == "BOOT" && $2 ~ "^" w "-" && $4 == ""' "$out/times" | wc -l)
	echo "median $who: marker $m s, exit $e s (of $n boots; $missing without a marker)"
done
echo "fio (guest.run=fio-bench, 4k qd32, 10 s each, IOPS; terse field 8 read, 49 write):"
for who in vmm qemu; do
	awk -F';' -v w="$who" '$1 == "3" && NF > 50 {
		printf "  %-5s %-20s read %8.0f  write %8.0f\n", w, $3, $8, $49 }' "$out/fio-$who.log"
done
