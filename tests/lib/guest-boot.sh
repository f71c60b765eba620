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

# Runs a guest boot command, saving its console output in LOG, and returns
# 0 when the guest printed "guest.run NAME: PASS".  A boot that ends without
# any PASS/FAIL line (the guest died or hung: seen under nested TCG) is
# retried up to GUEST_BOOT_RETRIES times (default 2), loudly, so a green run
# is never the result of a silent retry.
# COMMAND may be a shell function if it is exported (export -f), with the
# variables it uses.
#   usage: guest_boot_expect NAME LOG TIMEOUT-SEC COMMAND...
guest_boot_expect() {
	local name=$1 log=$2 limit=$3
	shift 3
	local attempt=0 retries=${GUEST_BOOT_RETRIES:-2} rc
	while :; do
		attempt=$((attempt + 1))
		# Through bash so COMMAND may be an exported shell function.
		timeout -k 5 "$limit" bash -c '"$@"' guest-boot "$@" > "$log" 2>&1
		rc=$?
		if grep -q "guest.run $name: PASS" "$log"; then
			return 0
		fi
		if grep -q "guest.run $name: FAIL" "$log"; then
			echo "guest.run $name failed (command exit $rc); console output:" >&2
			tail -n 40 "$log" >&2
			return 1
		fi
		echo "!!! guest boot for '$name' ended without a PASS/FAIL line (exit $rc, attempt $attempt)" >&2
		tail -n 15 "$log" | sed 's/^/!!!   /' >&2
		# A command that could not start is a bug, not a flaky boot.
		if [ "$rc" -eq 126 ] || [ "$rc" -eq 127 ] || [ "$attempt" -gt "$retries" ]; then
			echo "!!! giving up on '$name' after $attempt attempts" >&2
			return 1
		fi
		echo "!!! RETRYING '$name'" >&2
	done
}
