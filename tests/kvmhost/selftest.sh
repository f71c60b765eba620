#!/bin/bash
# Self-test of the test host (tests/kvmhost/run): exit status, byte-exact
# output, arguments, working directory and environment pass through; /dev/kvm
# works inside; --disk files appear as virtio-blk disks; --timeout kills the
# machine and nothing is left running; a silent machine counts as frozen;
# bad usage is refused.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
run=$here/run
tag=kvmhost-selftest-$$
export KVMHOST_APPEND="${KVMHOST_APPEND:-} $tag"
passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
expect_status() { # NAME WANT GOT
	if [ "$3" -eq "$2" ]; then ok "$1"; else not_ok "$1 (exit $3, want $2)"; fi
}
work=$(mktemp -d /tmp/kvmhost-selftest.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$run" -- true </dev/null
expect_status "true exits 0" 0 $?
"$run" -- sh -c 'exit 7' </dev/null
expect_status "exit status 7 passes through" 7 $?

# One boot for everything that only needs output: arguments with spaces and
# quotes, working directory, environment, /dev/kvm, the disk's bytes.
head -c 1048576 /dev/urandom > "$work/disk.img"
want_sum=$(md5sum < "$work/disk.img" | cut -d' ' -f1)
mkdir -p "$work/cwd dir"
cd "$work/cwd dir" || exit 1
SELFTEST_VAR='x y$z' "$run" --disk "$work/disk.img" -- bash -c '
	printf "<%s>" "$@"; echo
	echo "cwd=$PWD"
	echo "var=$SELFTEST_VAR"
	"'"$top"'/build/tools/kvmcheck" >/dev/null && echo kvm=usable
	if [ -b /dev/vda ]; then echo "disk=$(md5sum < /dev/vda | cut -d" " -f1)"; fi
	printf "tab\there\r\nend"
' selftest 'a b' "c'd" '' </dev/null > "$work/out"
rc=$?
cd "$top" || exit 1
expect_status "output boot exits 0" 0 $rc
grep -qxF "<a b><c'd><>" "$work/out" && ok "arguments pass through unchanged" || not_ok "arguments: $(head -n 1 "$work/out")"
grep -qxF "cwd=$work/cwd dir" "$work/out" && ok "working directory is kept" || not_ok "working directory"
grep -qxF 'var=x y$z' "$work/out" && ok "environment passes through" || not_ok "environment"
grep -qx 'kvm=usable' "$work/out" && ok "/dev/kvm is usable inside (kvmcheck)" || not_ok "/dev/kvm inside"
[ "$(tail -c 13 "$work/out" | od -An -c | tr -s ' ')" = "$(printf 'tab\there\r\nend' | od -An -c | tr -s ' ')" ] &&
	ok "output is byte-exact (no CR/LF translation)" || not_ok "output bytes: $(tail -c 13 "$work/out" | od -An -c)"
if [ "${KVMHOST_MODE:-}" = direct ] || { [ -z "${KVMHOST_MODE:-}" ] && [ ! -e /sys/module/kvm_pvm ] &&
	{ [ -e /sys/module/kvm_intel ] || [ -e /sys/module/kvm_amd ]; }; }; then
	echo "ok - --disk: not applicable in direct mode (no emulated machine) # SKIP"
else
	grep -qx "disk=$want_sum" "$work/out" && ok "--disk file is /dev/vda with the same bytes" || not_ok "--disk content"
fi

"$run" --timeout 25 -- sleep 1000 </dev/null 2>/dev/null
expect_status "--timeout ends a hung command with 124" 124 $?
sleep 1
if pgrep -f "$tag" >/dev/null; then
	not_ok "no process left behind ($(pgrep -af "$tag" | head -n 2))"
else
	ok "no process left behind"
fi

# A command that finishes before its --timeout leaves no watchdog behind
# (one that held the caller's pipe open once kept `run ... | tail` waiting).
"$run" --timeout 7771 -- true 2>/dev/null | cat >/dev/null
if pgrep -f "sleep 7771" >/dev/null; then
	not_ok "the --timeout watchdog outlives the run ($(pgrep -af 'sleep 7771'))"
	pkill -f "sleep 7771"
else
	ok "the --timeout watchdog ends with the run"
fi

if [ "${KVMHOST_MODE:-}" = direct ] || { [ -z "${KVMHOST_MODE:-}" ] && [ ! -e /sys/module/kvm_pvm ] &&
	{ [ -e /sys/module/kvm_intel ] || [ -e /sys/module/kvm_amd ]; }; }; then
	echo "ok - silent machine detection: not applicable in direct mode # SKIP"
else
	# A machine whose console says nothing for KVMHOST_SILENT_SEC counts
	# as frozen (123); the init's heartbeat (every 15 s) keeps a healthy
	# one from looking silent.
	KVMHOST_SILENT_SEC=8 "$run" -- sleep 40 </dev/null 2>/dev/null
	expect_status "a silent test host is stopped with 123" 123 $?
	KVMHOST_SILENT_SEC=25 "$run" -- sleep 35 </dev/null 2>/dev/null
	expect_status "the heartbeat keeps a quiet command running" 0 $?
fi

"$run" 2>/dev/null
expect_status "no COMMAND is a usage error" 2 $?
"$run" --cpus 0 -- true 2>/dev/null
expect_status "--cpus 0 is a usage error" 2 $?
"$run" --disk /nonexistent -- true 2>/dev/null
expect_status "a missing --disk file is a usage error" 2 $?

echo "kvmhost-selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
