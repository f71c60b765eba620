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
# With --arch arm64 among RUN-OPTIONS: the arm64 test host, the nested
# boots under build/arm64/vmm (tests/arm64/stability-inside.sh: Debian's
# arm64 QEMU is not in the arm64 test host's busybox user space).
#   usage: tests/kvmhost/stability.sh [N] [RUN-OPTIONS...]
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
if [ -z "${KVMHOST_INSIDE:-}" ]; then
	n=${1:-20}
	shift || true
	[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "stability: N must be a positive number" >&2; exit 2; }
	results=$(mktemp /tmp/stability.XXXXXX) || exit 125
	trap 'rm -f "$results"' EXIT
	boots=0 lost=0 ran=0
	inside=("$0" --inside)
	prev=
	for a in "$@"; do
		[ "$prev" = --arch ] && [ "$a" = arm64 ] && inside=(sh "$top/tests/arm64/stability-inside.sh" "$top")
		prev=$a
	done
	nested=${STABILITY_VMM:-qemu}
	[ "${inside[0]}" = sh ] && nested=arm64-vmm
	echo "stability: nested=$nested guest-cpus=${STABILITY_GUEST_CPUS:-2} qemu=${KVMHOST_QEMU:-PATH} accel=${KVMHOST_ACCEL:-default} cpu=${KVMHOST_CPU:-default} kvm-args='${KVMHOST_KVM_ARGS-default}' append='${KVMHOST_APPEND:-}' options='$*' runs=$n"
	while [ "$ran" -lt "$n" ]; do
		boots=$((boots + 1))
		"$top/tests/kvmhost/run" --timeout $(((n - ran) * 200 + 120)) "$@" -- \
			"${inside[@]}" "$results" "$ran" "$n"
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
vmm_boot() {
	"$top/build/vmm" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" \
		--cpus "$gcpus" --memory 512M --cmdline "$append" \
		--disk "path=$GUEST_DIR/rootfs.img,readonly=on" --disk "path=$work/scratch.img" </dev/null
}
export -f vmm_boot
export top gcpus append work
if [ "${STABILITY_VMM:-qemu}" = vmm ]; then
	boot=(vmm_boot)
else
	boot=(peer_qemu_boot "$gcpus" "$work/scratch.img" guest.run=fio-verify)
fi
# No retries; a guest that logs a lockup or stall, or is silent for 60 s,
# is stopped at once (guest_boot_expect says why on stderr).
export GUEST_BOOT_RETRIES=0 GUEST_STALL_SEC=60
for i in $(seq $((first + 1)) "$n"); do
	t0=$(date +%s.%N)
	if guest_boot_expect fio-verify "$work/log" 180 "${boot[@]}" 2>"$work/why"; then
		result=PASS
	elif grep -aq 'guest.run fio-verify: FAIL' "$work/log"; then
		result=FAIL
	else
		result=DIED
		grep -a '^!!! guest boot' "$work/why" | sed 's/^!!!/   /'
		tail -n 5 "$work/log" | sed 's/^/    /'
	fi
	dt=$(echo "$(date +%s.%N) - $t0" | bc)
	echo "$result" >> "$results"
	printf 'run %2d: %-16s %6.1f s\n' "$i" "$result" "$dt"
done
dmesg | grep -Ei 'panic|bug:|stack|corrupt|oops' | head -5
exit 0
