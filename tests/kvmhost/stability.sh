#!/bin/bash
# Measures how reliable a test-host configuration is: boots the test host
# once and, inside it, runs N consecutive peer-QEMU boots with
# guest.run=fio-verify, without retries, counting PASS, FAIL and boots that
# died without either line.  Not a test: run it by hand when changing the
# test host's configuration (QEMU accelerator, CPU model, vCPUs, kvm_amd
# parameters: see tests/kvmhost/run --help) and put the numbers in a note.
#   usage: tests/kvmhost/stability.sh [N] [RUN-OPTIONS...]
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
if [ -z "${KVMHOST_INSIDE:-}" ]; then
	n=${1:-20}
	shift || true
	echo "stability: accel=${KVMHOST_ACCEL:-default} cpu=${KVMHOST_CPU:-default} append='${KVMHOST_APPEND:-}' options='$*' runs=$n"
	exec "$top/tests/kvmhost/run" --timeout $((n * 200 + 120)) "$@" -- "$0" "$n"
fi
n=$1
work=$(mktemp -d /run/stability.XXXXXX)
truncate -s 64M "$work/scratch.img"
pass=0 fail=0 died=0
for i in $(seq 1 "$n"); do
	t0=$(date +%s.%N)
	timeout -k 5 180 qemu-system-x86_64 -enable-kvm -cpu host -smp 2 -m 512 -M pc \
		-nodefaults -no-user-config -display none -no-reboot -serial stdio \
		-kernel "$GUEST_DIR/vmlinuz" -initrd "$GUEST_DIR/initrd.img" \
		-append "console=ttyS0 panic=-1 root=/dev/vda guest.run=fio-verify" \
		-drive "file=$GUEST_DIR/rootfs.img,if=none,id=root,format=raw,readonly=on" \
		-device virtio-blk-pci,drive=root \
		-drive "file=$work/scratch.img,if=none,id=scratch,format=raw" \
		-device virtio-blk-pci,drive=scratch </dev/null > "$work/log" 2>&1
	rc=$?
	dt=$(echo "$(date +%s.%N) - $t0" | bc)
	if grep -q 'guest.run fio-verify: PASS' "$work/log"; then
		pass=$((pass + 1)); result=PASS
	elif grep -q 'guest.run fio-verify: FAIL' "$work/log"; then
		fail=$((fail + 1)); result=FAIL
	else
		died=$((died + 1)); result="DIED (exit $rc)"
		tail -n 5 "$work/log" | sed 's/^/    /'
	fi
	printf 'run %2d: %-16s %6.1f s\n' "$i" "$result" "$dt"
done
echo "stability: $pass PASS, $fail FAIL, $died died of $n"
dmesg | grep -Ei 'panic|bug:|stack|corrupt|oops' | head -5
[ "$pass" -eq "$n" ]
