# Shared by the integration tests and benchmarks (source it): run a guest
# boot that ends with a "guest.run NAME: PASS|FAIL" line, and re-run through
# the test host when not already inside it.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GUEST_DIR=$top/build/guest

# Re-executes the calling script inside the test host (or directly on a
# hardware-KVM host) unless it already runs there.
#   usage: kvmhost_reexec [RUN-OPTIONS...] -- "$0" "$@"
kvmhost_reexec() {
	[ -n "${KVMHOST_INSIDE:-}" ] && return 0
	exec "$top/tests/kvmhost/run" "$@"
}

# peer_qemu_boot CPUS SCRATCH-IMAGE KERNEL-ARGS...: the peer setup of issue
# 2 that the benchmarks measure vmm against: Debian's QEMU (-enable-kvm)
# boots the guest images with rootfs.img as its read-only root disk and
# SCRATCH-IMAGE as /dev/vdb, both virtio-blk-pci, console on stdout.
peer_qemu_boot() {
	local cpus=$1 scratch=$2
	shift 2
	qemu-system-x86_64 -enable-kvm -cpu host -smp "$cpus" -m 512 -M pc \
		-nodefaults -no-user-config -display none -no-reboot -serial stdio \
		-kernel "$GUEST_DIR/vmlinuz" -initrd "$GUEST_DIR/initrd.img" \
		-append "console=ttyS0 panic=-1 root=/dev/vda $*" \
		-drive "file=$GUEST_DIR/rootfs.img,if=none,id=root,format=raw,readonly=on" \
		-device virtio-blk-pci,drive=root \
		-drive "file=$scratch,if=none,id=scratch,format=raw" \
		-device virtio-blk-pci,drive=scratch </dev/null
}
export -f peer_qemu_boot
export GUEST_DIR

# Poll loops without processes.  Inside the test host every fork and exec
# costs tens of ms of emulated CPU: fio-bench's old marker watcher (grep,
# tr and sleep five times a second) took half a CPU of the two, beside the
# guest it was measuring.  These use bash builtins only.
# nap SECONDS: sleeps (read with a timeout on a FIFO nobody writes to,
# made once per shell: not with <(:), as the test host has no /dev/fd, and
# not in its /tmp, which takes no FIFOs; sleep(1) if none can be made).
nap() {
	if [ -z "${_nap_fd:-}" ] && [ -z "${_nap_sleep:-}" ]; then
		local d f
		for d in /dev/shm /run "${TMPDIR:-/tmp}"; do
			f=$d/nap.$$.$RANDOM
			mkfifo "$f" 2>/dev/null || continue
			exec {_nap_fd}<> "$f"
			rm -f "$f"
			break
		done
		[ -n "${_nap_fd:-}" ] || _nap_sleep=1
	fi
	if [ -n "${_nap_fd:-}" ]; then
		read -r -t "$1" -u "$_nap_fd" _ || :
	else
		sleep "$1"
	fi
}

# log_open FILE: opens FILE for log_more (the file must exist).
# log_more: sets log_new to what was appended to it since the last call
# (empty if nothing).
log_open() {
	[ -z "${_log_fd:-}" ] || exec {_log_fd}<&-
	exec {_log_fd}< "$1"
}
log_more() {
	log_new=
	LC_ALL=C IFS= read -r -d '' -N 1048576 -u "$_log_fd" log_new || :
}
# poll_close: closes what nap and log_open keep open (nap makes its FIFO
# again when next called), so processes started afterwards inherit none.
poll_close() {
	[ -z "${_log_fd:-}" ] || exec {_log_fd}<&-
	[ -z "${_nap_fd:-}" ] || exec {_nap_fd}<&-
	_log_fd= _nap_fd=
}
# (for boot commands that are exported functions)
export -f nap

# wait_for_line LOG REGEX PID SECONDS: waits, polling ten times a second,
# until a whole line of LOG matches REGEX (bash =~), PID has ended or
# SECONDS have passed; returns 0 for the line only.  (LOG is created if
# the process writing it has not opened it yet.)
wait_for_line() {
	local log=$1 re=$2 pid=$3 limit=$4 text= line alive rc=1 start=$SECONDS
	: >> "$log"
	log_open "$log"
	while :; do
		# Alive before the read: the lines a process wrote before it
		# ended are read before it counts as ended.
		alive=1
		kill -0 "$pid" 2>/dev/null || alive=
		log_more
		text=$text$log_new
		while [[ $text == *$'\n'* ]]; do
			line=${text%%$'\n'*}
			text=${text#*$'\n'}
			[[ $line =~ $re ]] && { rc=0; break 2; }
		done
		[ -n "$alive" ] && [ $((SECONDS - start)) -lt "$limit" ] || break
		nap 0.1
	done
	poll_close
	return $rc
}

# The signs of a nested guest that will never finish (seen under nested
# TCG): the guest kernel's own lockup and stall detectors.
GUEST_HUNG_RE='watchdog: BUG: soft lockup|rcu: INFO: rcu_[a-z]* (self-)?detected stall|Kernel panic - not syncing'

# Runs a guest boot command, saving its console output in LOG, and returns
# 0 when the guest printed "guest.run NAME: PASS".  A boot that ends without
# any PASS/FAIL line (the guest died or hung: seen under nested TCG) is
# retried up to GUEST_BOOT_RETRIES times (default 2), loudly, so a green run
# is never the result of a silent retry.  A guest whose kernel reports a
# soft lockup, an RCU stall or a panic, or that prints nothing for
# GUEST_STALL_SEC seconds (default 120; the nested guest then is frozen,
# also seen), is stopped at once and counts as hung, rather than waiting
# for TIMEOUT.
# COMMAND may be a shell function if it is exported (export -f), with the
# variables it uses.  Each attempt empties LOG; a failed one's log is kept
# as LOG.attemptN.  With GUEST_BOOT_ATTEMPT_FILE set, each attempt writes
# its number there first.
#   usage: guest_boot_expect NAME LOG TIMEOUT-SEC COMMAND...
guest_boot_expect() {
	local name=$1 log=$2 limit=$3
	shift 3
	local attempt=0 retries=${GUEST_BOOT_RETRIES:-2} stall=${GUEST_STALL_SEC:-120}
	local rc pid hung quiet why tail alive
	while :; do
		attempt=$((attempt + 1))
		hung= why=
		: > "$log"
		# For a watcher of LOG (fio-bench): a new attempt starts it over.
		[ -z "${GUEST_BOOT_ATTEMPT_FILE:-}" ] || echo "$attempt" > "$GUEST_BOOT_ATTEMPT_FILE"
		log_open "$log"
		# Through bash so COMMAND may be an exported shell function; in
		# its own process group so a hung guest can be stopped whole.
		# (Without the poll loop's descriptors.)
		(
			[ -z "${_log_fd:-}" ] || exec {_log_fd}<&-
			[ -z "${_nap_fd:-}" ] || exec {_nap_fd}<&-
			exec setsid timeout -k 5 "$limit" bash -c '"$@"' guest-boot "$@"
		) > "$log" 2>&1 &
		pid=$!
		quiet=0 tail=
		while :; do
			# Alive before the read: what the command wrote before
			# it ended (a panic message, say) is still scanned.
			alive=1
			kill -0 "$pid" 2>/dev/null || alive=
			log_more
			if [ -n "$log_new" ]; then
				quiet=0
			else
				quiet=$((quiet + 1))
			fi
			# The new text and the unfinished line before it: a
			# match may straddle two reads.
			tail=$tail$log_new
			if [[ $tail =~ $GUEST_HUNG_RE ]] || [ "$quiet" -ge "$stall" ]; then
				# (not appended to LOG: the command's own writes
				# would land over it)
				why=${BASH_REMATCH[0]:-}
				[ "$quiet" -ge "$stall" ] && why="no console output for $stall s"
				hung=1
				kill -TERM -- "-$pid" 2>/dev/null
				nap 1
				kill -KILL -- "-$pid" 2>/dev/null
				break
			fi
			[[ $tail == *$'\n'* ]] && tail=${tail##*$'\n'}
			[ -n "$alive" ] || break
			nap 1
		done
		wait "$pid"
		rc=$?
		# No descriptor of this loop outlives it: whatever the caller
		# starts next (vmm-boot's stall test keeps a guest writing into
		# a full pipe) inherits none of them.
		poll_close
		if [ -z "$hung" ] && grep -aq "guest.run $name: PASS" "$log"; then
			return 0
		fi
		if [ -z "$hung" ] && grep -aq "guest.run $name: FAIL" "$log"; then
			echo "guest.run $name failed (command exit $rc); console output:" >&2
			tail -n 40 "$log" >&2
			return 1
		fi
		if [ -n "$hung" ]; then
			echo "!!! guest boot for '$name' hung: $why (attempt $attempt)" >&2
		else
			echo "!!! guest boot for '$name' ended without a PASS/FAIL line (exit $rc, attempt $attempt)" >&2
		fi
		tail -n 15 "$log" | sed 's/^/!!!   /' >&2
		# A command that could not start is a bug, not a flaky boot.
		if [ "$rc" -eq 126 ] || [ "$rc" -eq 127 ] || [ "$attempt" -gt "$retries" ]; then
			echo "!!! giving up on '$name' after $attempt attempts" >&2
			return 1
		fi
		# The next attempt empties LOG: keep this one's whole console
		# (the lines above are its tail; a panic message may be higher).
		cp "$log" "$log.attempt$attempt" 2>/dev/null &&
			echo "!!!   (its whole log: $log.attempt$attempt)" >&2
		echo "!!! RETRYING '$name'" >&2
	done
}

# The integration scripts' test steps.  Callers set only=" $* " (the test
# IDs asked for) and fails=0 first.
# check ID DESCRIPTION COMMAND...: runs COMMAND unless IDs were given and
# this is not one of them.
check() {
	local id=$1 name=$2
	shift 2
	[ "$only" = "  " ] || [[ "$only" == *" $id "* ]] || return 0
	if "$@"; then
		echo "ok - $name"
	else
		echo "not ok - $name"
		fails=$((fails + 1))
	fi
}

# exited_with STATUS LOG: the boot command's log ends with vmm's status
# (the scripts print it as vmm-exit-status=N).
exited_with() {
	local want=$1 log=$2
	grep -q "^vmm-exit-status=$want\$" "$log" && return 0
	echo "  vmm did not exit $want: $(grep '^vmm-exit-status=' "$log")" >&2
	grep '^vmm: ' "$log" >&2
	return 1
}
