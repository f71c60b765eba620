#!/bin/bash
# Boot-time benchmark (not part of `make check`): inside the test host, boots
# the smoke guest 5 times each (RUNS=N to change) with 512 MiB and 8 GiB under
# build/vmm and under Debian's QEMU (-enable-kvm, same kernel, initrd and
# command line) and reports, per configuration, min/median/max of
#   - vmm only: start of vmm -> its first KVM_RUN (vmm --stats reports it);
#   - start of the VMM process -> the guest init's GUEST-SMOKE marker line.
# Start-up must not grow with guest memory: vmm maps RAM without touching it.
# The test host gets 10 GiB so that QEMU, which reserves guest RAM up front,
# can start an 8 GiB guest.
#   usage: tests/bench/boot-time.sh
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
kvmhost_reexec --memory 10G --timeout 3600 -- "$0" "$@"

RUNS=${RUNS:-5}
VMM=$top/build/vmm
CMDLINE="console=ttyS0 panic=-1 guest.run=smoke"
work=$(mktemp -d /tmp/boot-time.XXXXXX)
trap 'rm -rf "$work"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Runs a VMM command; prints "<ms to marker> <vmm's first-KVM_RUN ms or ->".
# The console goes through a reader that notes when the marker arrives.
measure() {
	local log=$work/run.log t0 marker
	t0=$(now_ms)
	"$@" </dev/null 2>"$work/stderr" | while IFS= read -r line; do
		case "$line" in
		GUEST-SMOKE*) echo "MARKER $(($(now_ms) - t0))" ;;
		esac
		printf '%s\n' "$line"
	done > "$log"
	marker=$(sed -n 's/^MARKER //p' "$log")
	if [ -z "$marker" ]; then
		echo "boot failed: $*" >&2
		tail -n 5 "$log" "$work/stderr" >&2
		echo "- -"
		return
	fi
	local first=$(sed -n 's/^vmm: first KVM_RUN \([0-9.]*\) ms.*/\1/p' "$work/stderr")
	echo "$marker ${first:--}"
}

# stats "values...": min/median/max
stats() {
	printf '%s\n' "$@" | grep -v '^-$' | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "min %8.1f  median %8.1f  max %8.1f  (n=%d)\n", v[1], m, v[NR], NR
		}'
}

run_config() {
	local who=$1 mem=$2
	local markers=() firsts=() r
	for _ in $(seq "$RUNS"); do
		if [ "$who" = vmm ]; then
			r=$(measure "$VMM" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" \
				--cmdline "$CMDLINE" --memory "$mem" --stats)
		else
			r=$(measure qemu-system-x86_64 -enable-kvm -cpu host -m "$mem" -M pc \
				-nodefaults -no-user-config -display none -no-reboot -serial stdio \
				-kernel "$GUEST_DIR/vmlinuz" -initrd "$GUEST_DIR/initrd.img" \
				-append "$CMDLINE")
		fi
		markers+=("${r% *}")
		firsts+=("${r#* }")
	done
	printf '%-5s %-5s to marker (ms):      %s' "$who" "$mem" "$(stats "${markers[@]}")"
	echo
	if [ "$who" = vmm ]; then
		printf '%-5s %-5s to first KVM_RUN (ms): %s' "$who" "$mem" "$(stats "${firsts[@]}")"
		echo
	fi
}

echo "boot-time: $RUNS runs each, 1 vCPU, inside the test host ($(uname -r))"
for mem in 512M 8G; do
	run_config vmm "$mem"
	run_config qemu "$mem"
done
