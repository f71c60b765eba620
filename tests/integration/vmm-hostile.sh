#!/bin/bash
# A hostile guest, for real (issue 9): the guest's virtio-hostile program
# (guest/tools/hostile.c, guest.run=hostile) takes the second virtio-blk
# function away from Linux and attacks it from user space: broken chains
# and indirect tables, addresses outside RAM and in the MMIO hole,
# overflowing lengths, bad queue sizes and ring addresses, notifies for
# absent queues, MSI-X, BAR and config-space abuse, resets and Bus Master
# Enable cleared with I/O in flight, feature games, many DISCARD ranges,
# and the O_DIRECT bounce amplification; after each one honest requests
# must work.  vmm is the ASan+UBSan build (build/vmm-asan), the attacked
# disk is direct=on.  Checked here:
#  - every attack line says PASS and the guest's status, hence vmm's, is
#    0: vmm served until the guest powered off;
#  - vmm's stderr holds no ASan/UBSan/LSan report;
#  - the third disk, never used, is unchanged, and the attacked disk is
#    unchanged outside the scratch region the attacks may write;
#  - vmm's peak memory (VmHWM) is printed.
# Outside the test host it prepares the disks and checks them afterwards;
# inside it boots the guest.
#   usage: tests/integration/vmm-hostile.sh
#   (VMM=PATH: another vmm; HOSTILE_AMP=N,MIB sizes the amplification)
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
# shellcheck source=../lib/hostile.sh
. "$top/tests/lib/hostile.sh"

# ---- inside the test host: the boot ----
if [ "${1:-}" = --inside ]; then
	work=$2
	VMM=${VMM:-$top/build/vmm-asan}
	hostile_find_attacked "$work"
	echo "attacked disk: $ATTACKED (direct=on); vmm: $VMM"
	export VMM work HOSTILE_AMP
	log=$work/console.log
	GUEST_STALL_SEC=300 guest_boot_expect hostile "$log" 900 vmm_hostile_boot
	rc=$?
	tr -d '\r' < "$log" | grep -a '^HOSTILE' | sed 's/^/  /'
	grep -a '^vmm-peak-kb=' "$log" | sed 's/^/  /'
	cp "$log" "$work/console.saved"
	[ "$rc" -eq 0 ] && exited_with 0 "$log"
	exit
fi

# ---- outside: disks, the test host, the checks ----
work=$(mktemp -d /tmp/vmm-hostile.XXXXXX)
# Kept when anything failed, for the console log and vmm's stderr.
trap '[ "${fails:-1}" -eq 0 ] && rm -rf "$work" || echo "vmm-hostile: logs kept in $work" >&2' EXIT
export HOSTILE_AMP=${HOSTILE_AMP:-4,64}
hostile_prepare "$work" 256 || exit 1
img=$work/attacked.img

# md5 of the attacked disk before and after the scratch region, and of the
# untouched disk.
sums() {
	{
		head -c "$SCRATCH_START" "$img" | md5sum
		tail -c +"$((SCRATCH_END + 1))" "$img" | md5sum
		md5sum < "$work/untouched.img"
	} | cut -d' ' -f1 | tr '\n' ' '
}
before=$(sums)
fails=0
"$top/tests/kvmhost/run" --timeout 1200 --disk "$img" -- "$0" --inside "$work"
rc=$?
if [ "$rc" -eq 123 ]; then
	tr -d '\r' < "$work/console.log" 2>/dev/null | tail -n 20
	exit 123 # the test host froze: run-all runs it again
fi
echo "--- checks on the host"
if [ "$rc" -eq 0 ]; then
	echo "ok - every attack passed; vmm lived until the guest powered off (exit 0)"
else
	echo "not ok - the hostile guest run failed (status $rc)"
	[ -f "$work/console.saved" ] && tail -n 30 "$work/console.saved"
	fails=$((fails + 1))
fi
n=$(tr -d '\r' < "$work/console.saved" 2>/dev/null | grep -a -c '^HOSTILE [a-z0-9-]*: .*: PASS$')
total=$(tr -d '\r' < "$work/console.saved" 2>/dev/null | grep -a -c '^HOSTILE [a-z0-9-]*: ')
if [ "${n:-0}" -ge 40 ] && [ "$n" -eq "$total" ] && grep -aq '^HOSTILE-ROOT-DISK ok' "$work/console.saved"; then
	echo "ok - all $n attacks reported PASS and the root disk still read afterwards"
else
	echo "not ok - ${n:-0} of ${total:-0} attacks reported PASS (40 or more expected)"
	fails=$((fails + 1))
fi
if [ -f "$work/vmm.err" ] && ! grep -Eq 'Sanitizer|runtime error:|SUMMARY: ' "$work/vmm.err"; then
	echo "ok - no ASan/UBSan report in vmm's stderr ($(wc -l < "$work/vmm.err") lines:)"
	sed 's/^/  | /' "$work/vmm.err" | head -n 40
else
	echo "not ok - vmm's stderr has a sanitizer report (or is missing):"
	head -n 60 "$work/vmm.err" 2>/dev/null
	fails=$((fails + 1))
fi
after=$(sums)
if [ "$before" = "$after" ]; then
	echo "ok - the third disk and the attacked disk outside its scratch region are unchanged"
else
	echo "not ok - disk contents changed: before $before, after $after"
	fails=$((fails + 1))
fi
[ "$fails" -eq 0 ]
