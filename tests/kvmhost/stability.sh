#!/bin/bash
# Measures how reliable a test-host configuration is: boots the test host
# once and, inside it, runs N consecutive peer-QEMU boots with
# guest.run=fio-verify (STABILITY_VMM=vmm: boots under build/vmm instead;
# STABILITY_GUEST_CPUS: the nested guest's vCPUs, default 2),
# without retries, counting PASS, FAIL and boots that
# died without either line.  Not a test: run it by hand when changing the
# test host's configuration (QEMU accelerator, CPU model, vCPUs, kvm_amd
# parameters: see tests/kvmhost/run --help) and put the numbers in a note.
#   usage: tests/kvmhost/stability.sh [N] [RUN-OPTIONS...]
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
if [ -z "${KVMHOST_INSIDE:-}" ]; then
	n=${1:-20}
	shift || true
	echo "stability: nested=${STABILITY_VMM:-qemu} guest-cpus=${STABILITY_GUEST_CPUS:-2} accel=${KVMHOST_ACCEL:-default} cpu=${KVMHOST_CPU:-default} append='${KVMHOST_APPEND:-}' options='$*' runs=$n"
	exec "$top/tests/kvmhost/run" --timeout $((n * 200 + 120)) "$@" -- "$0" "$n"
fi
n=$1
work=$(mktemp -d /run/stability.XXXXXX)
truncate -s 64M "$work/scratch.img"
pass=0 fail=0 died=0
gcpus=${STABILITY_GUEST_CPUS:-2}
append="console=ttyS0 panic=-1 root=/dev/vda guest.run=fio-verify"
if [ "${STABILITY_VMM:-qemu}" = vmm ]; then
	boot="$top/build/vmm --kernel $GUEST_DIR/vmlinuz --initrd $GUEST_DIR/initrd.img --cpus $gcpus --memory 512M \
		--cmdline '$append' --disk path=$GUEST_DIR/rootfs.img,readonly=on --disk path=$work/scratch.img"
else
	boot="qemu-system-x86_64 -enable-kvm -cpu host -smp $gcpus -m 512 -M pc \
		-nodefaults -no-user-config -display none -no-reboot -serial stdio \
		-kernel $GUEST_DIR/vmlinuz -initrd $GUEST_DIR/initrd.img -append '$append' \
		-drive file=$GUEST_DIR/rootfs.img,if=none,id=root,format=raw,readonly=on \
		-device virtio-blk-pci,drive=root \
		-drive file=$work/scratch.img,if=none,id=scratch,format=raw \
		-device virtio-blk-pci,drive=scratch"
fi
for i in $(seq 1 "$n"); do
	t0=$(date +%s.%N)
	setsid timeout -k 5 180 bash -c "$boot" </dev/null > "$work/log" 2>&1 &
	pid=$!
	# A guest kernel that reports a lockup or stall never recovers here:
	# stop it rather than wait for the timeout.
	quiet=0 last=-1
	while kill -0 $pid 2>/dev/null; do
		size=$(stat -c %s "$work/log")
		[ "$size" = "$last" ] && quiet=$((quiet + 1)) || { quiet=0; last=$size; }
		# A frozen guest prints nothing at all: 60 s of silence is one.
		if [ "$quiet" -ge 60 ] || grep -aEq "$GUEST_HUNG_RE" "$work/log"; then
			[ "$quiet" -ge 60 ] && echo "    (no console output for 60 s)"
			kill -KILL -- -$pid 2>/dev/null
			break
		fi
		sleep 1
	done
	wait $pid
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
