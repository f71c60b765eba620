#!/bin/bash
# Flushed data survives `kill -9` of vmm (issue 9, "Data and bad input").
# Guests boot from the initramfs alone (quiet console, one vCPU, the test
# disk is /dev/vda) under build/vmm inside the test host:
#  - kill:        KILL_ROUNDS rounds (default 20) on one backing file
#                 (default cache mode, on a tmpfs); in each the guest
#                 writes numbered, checksummed records of a new generation
#                 (guest/tools/blkrec.c) and prints "flushed N" after each
#                 batch's flush (fdatasync: VIRTIO_BLK_T_FLUSH) completed;
#                 vmm is killed at a random time, 0-2 s after the first
#                 flush (seeded: KILL_SEED, printed); then every record up
#                 to the highest N the console showed must be in the file,
#                 intact and of this round's generation;
#  - kill-direct: the same with direct=on (KILL_DIRECT_ROUNDS, default 4),
#                 the disk a loop device over a tmpfs file (tmpfs has no
#                 O_DIRECT).
#   usage: tests/integration/vmm-kill.sh [kill|kill-direct]...
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
kvmhost_reexec --timeout 900 -- "$0" "$@"

VMM=$top/build/vmm
BLKREC=$GUEST_DIR/blkrec
# shellcheck source=../lib/work-tmpfs.sh
. "$top/tests/lib/work-tmpfs.sh"
# On exit (after the jobs, before the tmpfs goes): kill-direct's loop device.
cleanup() {
	[ -n "${loopdev:-}" ] && losetup -d "$loopdev" 2>/dev/null
}
work_tmpfs vmm-kill cleanup
export DM_DISABLE_UDEV=1
CMDLINE='console=ttyS0 panic=-1 quiet'


only=" $* "
fails=0
KILL_SEED=${KILL_SEED:-$(date +%s)}
echo "KILL_SEED=$KILL_SEED (set it to repeat these kill points)"
RANDOM=$KILL_SEED

# kill_rounds NAME ROUNDS DISK-SPEC FILE: the kill -9 loop on one backing
# FILE (DISK-SPEC is what vmm opens: the file or a device over it).
kill_rounds() {
	local name=$1 rounds=$2 spec=$3 file=$4
	local round gen log pid delay last total=0 start=$SECONDS kills="" t
	for round in $(seq 1 "$rounds"); do
		gen=$((KILL_SEED % 100000 * 1000 + round))
		log=$work/$name-$round.log
		"$VMM" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --cpus 1 \
			--cmdline "$CMDLINE guest.run=blkrec-kill guest.gen=$gen" \
			--disk "$spec" </dev/null >"$log" 2>&1 &
		pid=$!
		# The kill point: 0 to 2 s after the first completed flush.
		delay=$((RANDOM % 2000))
		t=$SECONDS
		if ! wait_for_line "$log" '^flushed ' "$pid" 120; then
			echo "  round $round: the guest never flushed (waited $((SECONDS - t)) s)" >&2
			tail -n 15 "$log" | sed 's/^/    /' >&2
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 1
		fi
		sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
		if ! kill -KILL "$pid" 2>/dev/null; then
			echo "  round $round: vmm had ended before the kill" >&2
			tail -n 15 "$log" | sed 's/^/    /' >&2
			return 1
		fi
		wait "$pid" 2>/dev/null
		# Complete or not, the last "flushed" line is at most what the
		# guest had flushed (a cut line only shows fewer digits).
		last=$(tr -d '\r' <"$log" | awk '/^flushed [0-9]+$/ { n = $2 } END { print n }')
		if ! "$BLKREC" check "$file" "$gen" "$last" >"$log.check" 2>&1; then
			echo "  round $round (generation $gen, killed ${delay} ms after the first flush," \
				"flushed up to $last): records lost:" >&2
			sed 's/^/    /' "$log.check" >&2
			return 1
		fi
		total=$((total + last + 1))
		kills="$kills $delay"
	done
	echo "  $rounds rounds, kill points (ms after the first flush):$kills"
	echo "  $total flushed records checked, all intact ($((SECONDS - start)) s for $rounds boots)"
}

kill_default() {
	truncate -s 64M "$work/t/kill.img"
	kill_rounds kill "${KILL_ROUNDS:-20}" "path=$work/t/kill.img" "$work/t/kill.img"
}

kill_direct() {
	local r
	truncate -s 64M "$work/t/killd.img"
	loopdev=$(losetup -f --show "$work/t/killd.img") || return 1
	kill_rounds kill-direct "${KILL_DIRECT_ROUNDS:-4}" "path=$loopdev,direct=on" "$loopdev"
	r=$?
	losetup -d "$loopdev"
	loopdev=
	return $r
}

check kill "flushed records survive kill -9 of vmm (default cache)" kill_default
check kill-direct "flushed records survive kill -9 of vmm (direct=on)" kill_direct
[ "$fails" -eq 0 ]
