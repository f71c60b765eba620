#!/bin/bash
# Self-test of the boot harness (tests/lib/guest-boot.sh), on this machine
# with stand-in commands instead of guests: guest_boot_expect's outcomes
# (PASS, FAIL, a panic, an exit without a result line, silence, a command
# that cannot start), its retries and the logs it keeps, and wait_for_line.
# No KVM, no test host: it checks the loops every integration test and the
# benchmark wait in.
set -u
. "$(dirname "$0")/guest-boot.sh"
passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
# expect NAME COMMAND...: COMMAND must succeed.
expect() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
work=$(mktemp -d /tmp/guest-boot-selftest.XXXXXX)
trap 'rm -rf "$work"' EXIT
export work
log=$work/console.log

# Stand-ins for boot commands (exported, as guest_boot_expect runs them
# through bash).
says_pass() { echo "booting"; echo "guest.run t: PASS"; }
says_fail() { echo "guest.run t: FAIL"; exit 3; }
# A guest kernel panic, then vmm's panic exit status, at once: the message
# is only in the last output before the command ends.
panics() { echo "Kernel panic - not syncing: Attempted to kill init!"; exit 101; }
# The first attempt ends without a result line, the second passes.
flaky() {
	local n
	n=$(cat "$work/count" 2>/dev/null || echo 0)
	echo $((n + 1)) > "$work/count"
	[ "$n" -ge 1 ] && { echo "guest.run t: PASS"; return; }
	echo "first attempt dies"
	exit 1
}
silent() { echo "started"; sleep 59.125; }
export -f says_pass says_fail panics flaky silent

rc=0
guest_boot_expect t "$log" 30 says_pass 2> "$work/err" || rc=$?
expect "a PASS line returns 0, without a retry" \
	test "$rc" = 0 -a ! -s "$work/err"

rc=0
guest_boot_expect t "$log" 30 says_fail 2> "$work/err" || rc=$?
expect "a FAIL line returns 1 at once, with the console shown" \
	test "$rc" = 1 -a "$(grep -c RETRYING "$work/err")" = 0 -a "$(grep -c 'guest.run t failed (command exit 3)' "$work/err")" = 1

rc=0
GUEST_BOOT_RETRIES=1 GUEST_BOOT_ATTEMPT_FILE=$work/attempt \
	guest_boot_expect t "$log" 30 panics 2> "$work/err" || rc=$?
expect "a panic printed just before the command ends is named as the reason" \
	grep -q "hung: Kernel panic - not syncing (attempt 1)" "$work/err"
expect "after GUEST_BOOT_RETRIES retries it gives up with 1" \
	test "$rc" = 1 -a "$(grep -c RETRYING "$work/err")" = 1 -a "$(grep -c "giving up on 't' after 2 attempts" "$work/err")" = 1
expect "a failed attempt's whole log is kept as LOG.attemptN" \
	grep -q "Attempted to kill init" "$log.attempt1"
expect "each attempt's number goes to GUEST_BOOT_ATTEMPT_FILE" \
	test "$(cat "$work/attempt")" = 2

rm -f "$log".attempt*
rc=0
guest_boot_expect t "$log" 30 flaky 2> "$work/err" || rc=$?
expect "an attempt without a result line is retried, loudly, and the retry can pass" \
	test "$rc" = 0 -a "$(grep -c "ended without a PASS/FAIL line (exit 1, attempt 1)" "$work/err")" = 1 -a "$(grep -c "RETRYING 't'" "$work/err")" = 1
expect "the passing attempt's log is LOG, the failed one's LOG.attempt1" \
	test "$(cat "$log.attempt1")" = "first attempt dies" -a "$(cat "$log")" = "guest.run t: PASS"

rc=0 start=$SECONDS
GUEST_STALL_SEC=2 GUEST_BOOT_RETRIES=0 guest_boot_expect t "$log" 50 silent 2> "$work/err" || rc=$?
expect "a silent command is stopped after GUEST_STALL_SEC, not at its timeout" \
	test "$rc" = 1 -a $((SECONDS - start)) -lt 20
expect "silence is named as the reason" grep -q "hung: no console output for 2 s" "$work/err"
nothing_left() { ! ps -eo args | grep -qx "sleep 59.125"; }
expect "a stopped command leaves nothing running" nothing_left

rc=0
guest_boot_expect t "$log" 30 /nonexistent/command 2> "$work/err" || rc=$?
expect "a command that cannot start is not retried" \
	test "$rc" = 1 -a "$(grep -c RETRYING "$work/err")" = 0 -a "$(grep -c "exit 127, attempt 1" "$work/err")" = 1

# wait_for_line LOG REGEX PID SECONDS
wl=$work/wl.log
rm -f "$wl"
(sleep 1; echo "noise"; echo "ready: 42"; sleep 30) > "$wl" &
p=$!
expect "wait_for_line: a line that arrives returns 0" wait_for_line "$wl" '^ready: [0-9]+$' $p 20
kill $p 2>/dev/null
wait $p 2>/dev/null

(echo "something else") > "$wl" &
p=$!
wait $p
rc=0
wait_for_line "$wl" '^ready' $p 20 || rc=$?
expect "wait_for_line: a process that ended without the line returns 1" test "$rc" = 1

(printf 'partial ready'; sleep 30) > "$wl" &
p=$!
rc=0 start=$SECONDS
wait_for_line "$wl" 'ready' $p 2 || rc=$?
expect "wait_for_line: times out (an unfinished line does not count)" \
	test "$rc" = 1 -a $((SECONDS - start)) -lt 10
kill $p 2>/dev/null
wait $p 2>/dev/null

rm -f "$wl"
(sleep 0.5; echo "last words: ready"; exit 0) > "$wl" &
p=$!
expect "wait_for_line: the last line before the process ends is still read" \
	wait_for_line "$wl" 'ready$' $p 20

start=$SECONDS
nap 0.3
nap 0.3
expect "nap sleeps without a process and returns" test $((SECONDS - start)) -lt 3
poll_close

echo "guest-boot-selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
