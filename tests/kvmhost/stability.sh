#!/bin/bash
# Measures how reliable a test-host configuration is: N consecutive
# peer-QEMU boots with guest.run=fio-verify inside the test host
# (STABILITY_VMM=vmm: boots under build/vmm instead; STABILITY_GUEST_CPUS:
# the nested guest's vCPUs, default 2), without retries, counting PASS,
# FAIL, nested boots that died without either line, and runs lost because
# the test host itself froze or panicked; a new test host is booted then
# and the count goes on.  Not a test: run it by hand when changing the test
# host's configuration (QEMU and its accelerator, CPU model, vCPUs, kvm_amd
# parameters: see tests/kvmhost/run --help) and put the numbers in a note.
#   usage: tests/kvmhost/stability.sh [N] [RUN-OPTIONS...]
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
if [ -z "${KVMHOST_INSIDE:-}" ]; then
	n=${1:-20}
	shift || true
	[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "stability: N must be a positive number" >&2; exit 2; }
	echo "stability: nested=${STABILITY_VMM:-qemu} guest-cpus=${STABILITY_GUEST_CPUS:-2} qemu=${KVMHOST_QEMU:-PATH} accel=${KVMHOST_ACCEL:-default} cpu=${KVMHOST_CPU:-default} kvm-args='${KVMHOST_KVM_ARGS-default}' append='${KVMHOST_APPEND:-}' options='$*' runs=$n"
	results=$(mktemp /tmp/stability.XXXXXX) || exit 125
	trap 'rm -f "$results"' EXIT
	boots=0 lost=0 ran=0
	while [ "$ran" -lt "$n" ]; do
		boots=$((boots + 1))
		"$top/tests/kvmhost/run" --timeout $(((n - ran) * 200 + 120)) "$@" -- \
			"$0" --inside "$results" "$ran" "$n"
		rc=$?
		ran=$(wc -l < "$results")
		[ "$ran" -ge "$n" ] && break
		# The run in progress went down with the test host.
		lost=$((lost + 1)) ran=$((ran + 1))
		echo "HOST" >> "$results"
		printf 'run %2d: %-16s (test host status %d; booting a new one)\n' "$ran" "TEST HOST DIED" "$rc"
	done
	pass=$(grep -c '^PASS' "$results") fail=$(grep -c '^FAIL' "$results")
	died=$(grep -c '^DIED' "$results")
	echo "stability: $pass PASS, $fail FAIL, $died nested guest died, $lost test host died, of $n runs ($boots test host boots)"
	[ "$pass" -eq "$n" ]
	exit
fi
[ "${1:-}" = --inside ] || { echo "stability: run it outside the test host" >&2; exit 2; }
results=$2 first=$3 n=$4
work=$(mktemp -d /run/stability.XXXXXX)
truncate -s 64M "$work/scratch.img"
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
for i in $(seq $((first + 1)) "$n"); do
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
		result=PASS
	elif grep -q 'guest.run fio-verify: FAIL' "$work/log"; then
		result=FAIL
	else
		result="DIED (exit $rc)"
		tail -n 5 "$work/log" | sed 's/^/    /'
	fi
	echo "$result" >> "$results"
	printf 'run %2d: %-16s %6.1f s\n' "$i" "$result" "$dt"
done
dmesg | grep -Ei 'panic|bug:|stack|corrupt|oops' | head -5
exit 0
