#!/bin/bash
# vmm as a tool for scripts and CI (issue 12), where KVM boots stock Linux
# (inside the test host, or directly on a hardware-KVM host):
#  - checkhost: vmm --check-host passes: exit 0, every check "ok", the
#               capabilities and the hardware KVM module named;
#  - json:      a boot from the root disk with --stats=json: stderr is one
#               JSON object (parsed by jq) with vmm's exit status, the time
#               to the first KVM_RUN, exits per reason adding up to the
#               total, the root disk's requests, kicks and interrupts,
#               exits by place adding up to the PIO and MMIO exits (the
#               serial port among them), and KVM's own statistics of the VM
#               and of both vCPUs (KVM_GET_STATS_FD);
#  - file:      --stats-file alone writes that JSON to the file, not stderr,
#               with a failing guest's status (3) as exit_status;
#  - sandbox:   while a guest runs, every vmm thread is under seccomp
#               (/proc: main and vCPUs one filter, I/O threads two: the
#               vCPU's they inherit and their own), and SIGTERM still stops
#               vmm (143) with one line;
#  - nosandbox: --seccomp=off boots (exit 0) with no filter on any thread;
#  - debugexit: a debug-exit value that would read as one of vmm's own
#               statuses (a missing guest.run script's 127) ends vmm with
#               102 and a line naming it;
#  - badinput:  bad options, kernels, initrds and disks: exactly one "vmm:"
#               line and status 2 (usage) or 1 (error), never a crash.
#   usage: tests/integration/vmm-tool.sh [checkhost|json|file|sandbox|nosandbox|debugexit|badinput]...
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
kvmhost_reexec --timeout 1200 -- "$0" "$@"

VMM=$top/build/vmm
work=$(mktemp -d /tmp/vmm-tool.XXXXXX)
trap 'rm -rf "$work"' EXIT
ROOT_IMG=$GUEST_DIR/rootfs.img
BASE_CMDLINE='console=ttyS0 panic=-1 quiet loglevel=1 root=/dev/vda'

# vmm_tool_boot GUEST-RUN STDERR-FILE [VMM-ARGS...]: boots from the root
# disk with vmm's stderr apart from the console, then prints vmm's status.
vmm_tool_boot() {
	local run=$1 err=$2
	shift 2
	"$VMM" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --cpus 2 \
		--disk "path=$ROOT_IMG,readonly=on" --cmdline "$BASE_CMDLINE guest.run=$run" \
		"$@" </dev/null 2>"$err"
	echo "vmm-exit-status=$?"
}
export -f vmm_tool_boot
export VMM GUEST_DIR ROOT_IMG BASE_CMDLINE

only=" $* "
fails=0

check_host_ok() {
	local out rc
	out=$("$VMM" --check-host)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/  | /'
	[ "$rc" -eq 0 ] || { echo "  vmm --check-host exited $rc" >&2; return 1; }
	! grep -q '^FAIL' <<< "$out" || { echo "  a check failed" >&2; return 1; }
	for s in '^ok    /dev/kvm: present, opened read-write' '^ok    KVM API version 12' \
		'^ok    capabilities: irqfd, ioeventfd, GSI routing, MSI, in-kernel irqchip' \
		'^ok    a VM with an in-kernel irqchip and a vCPU: created' \
		'^ok    KVM is hardware-assisted \(kvm_(amd|intel)' 'can run vmm and boot stock Linux guests$'; do
		grep -Eq "$s" <<< "$out" || { echo "  no line matching '$s'" >&2; return 1; }
	done
}

# stats_json_ok FILE STATUS: FILE holds exactly one JSON object describing
# a boot that ended with STATUS from the root disk.
stats_json_ok() {
	local file=$1 status=$2
	[ "$(wc -l < "$file")" -eq 1 ] || { echo "  $file: not one line:" >&2; cat "$file" >&2; return 1; }
	jq -e . "$file" > /dev/null || { echo "  $file: not JSON:" >&2; cat "$file" >&2; return 1; }
	sed 's/^/  /' "$file"
	jq -e --arg root "$ROOT_IMG" --arg version "$("$VMM" --version | cut -d' ' -f2)" \
		--argjson status "$status" '
		.version == $version and .exit_status == $status and .vcpus == 2
		and .memory_bytes == 536870912
		and (.first_kvm_run_ms | type) == "number" and .first_kvm_run_ms > 0
		and (.exits | length) > 0 and .exits.io > 0
		and ([.exits[]] | add) == .exits_total
		and (.disks | length) == 1 and .disks[0].index == 0 and .disks[0].path == $root
		and .disks[0].requests > 0 and .disks[0].kicks > 0 and .disks[0].interrupts > 0
		and ([.exits_by_place[].count] | add) + .exits_elsewhere == .exits.io + (.exits.mmio // 0)
		and ([.exits_by_place[] | select(.space == "port" and .addr == 1016)] | length) == 1
		and (.kvm.vm | type) == "object" and (.kvm.vcpus | length) == 2
		and .kvm.vcpus[0].exits > 0 and .kvm.vcpus[1].exits > 0' \
		"$file" > /dev/null || { echo "  $file: the values do not describe this boot" >&2; return 1; }
}

stats_stderr() {
	local log=$work/json.log err=$work/json.err
	guest_boot_expect smoke "$log" 300 vmm_tool_boot smoke "$err" --stats=json || return 1
	exited_with 0 "$log" || return 1
	stats_json_ok "$err" 0
}

# A failing guest script: vmm exits 3, and the file says so.  A boot that
# died before the script ran (nested TCG) is retried once, loudly.
stats_file() {
	local log=$work/file.log err=$work/file.err json=$work/stats.json attempt
	for attempt in 1 2; do
		timeout -k 5 300 bash -c 'vmm_tool_boot fail "$1" --stats-file "$2"' _ "$err" "$json" \
			> "$log" 2>&1
		grep -q 'guest.run fail: FAIL (exit 3)' "$log" && break
		echo "!!! the boot died before the script ran (attempt $attempt); RETRYING" >&2
		tail -n 10 "$log" | sed 's/^/!!!   /' >&2
	done
	grep -q 'guest.run fail: FAIL (exit 3)' "$log" || return 1
	exited_with 3 "$log" || return 1
	[ ! -s "$err" ] || { echo "  stderr is not empty:" >&2; cat "$err" >&2; return 1; }
	stats_json_ok "$json" 3
}

# seccomp_of PID: one "NAME MODE FILTERS" line per thread of PID.
seccomp_of() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "$(cat "$t/comm") $(awk '$1 == "Seccomp:" { m = $2 } $1 == "Seccomp_filters:" { f = $2 }
			END { print m, f }' "$t/status")"
	done
}

# A guest that holds (root disk: I/O threads running) is inspected through
# /proc, then stopped with SIGTERM.
sandbox_on() {
	local log=$work/hold.log err=$work/hold.err pid rc threads
	"$VMM" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --cpus 2 \
		--disk "path=$ROOT_IMG,readonly=on" --cmdline "$BASE_CMDLINE guest.run=hold" \
		</dev/null >"$log" 2>"$err" &
	pid=$!
	for _ in $(seq 300); do
		grep -q GUEST-HOLDING "$log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
	done
	if ! grep -q GUEST-HOLDING "$log"; then
		echo "  the guest never held" >&2
		kill -KILL "$pid" 2>/dev/null
		tail -n 15 "$log" "$err" >&2
		return 1
	fi
	threads=$(seccomp_of "$pid")
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	printf '%s\n' "$threads" | sed 's/^/  | /'
	# Mode 2 is SECCOMP_MODE_FILTER.
	printf '%s\n' "$threads" | awk '
		$1 == "vmm" { main++; if ($2 != 2 || $3 != 1) bad++ }
		$1 ~ /^vmm-vcpu/ { vcpu++; if ($2 != 2 || $3 != 1) bad++ }
		$1 ~ /^vmm-blk-io/ { io++; if ($2 != 2 || $3 != 2) bad++ }
		END { exit !(main == 1 && vcpu == 2 && io >= 1 && !bad) }' ||
		{ echo "  not every thread has its filter" >&2; return 1; }
	[ "$rc" -eq 143 ] || { echo "  vmm exited $rc after SIGTERM, expected 143" >&2; cat "$err" >&2; return 1; }
	[ "$(cat "$err")" = "vmm: stopped by signal 15 (Terminated)" ] ||
		{ echo "  stderr is not the one line:" >&2; cat "$err" >&2; return 1; }
}

sandbox_off() {
	local log=$work/off.log err=$work/off.err pid threads
	"$VMM" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --cpus 2 \
		--disk "path=$ROOT_IMG,readonly=on" --cmdline "$BASE_CMDLINE guest.run=hold" \
		--seccomp=off </dev/null >"$log" 2>"$err" &
	pid=$!
	for _ in $(seq 300); do
		grep -q GUEST-HOLDING "$log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
	done
	threads=$(seccomp_of "$pid")
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	grep -q GUEST-HOLDING "$log" || { echo "  the guest never held" >&2; tail -n 15 "$log" "$err" >&2; return 1; }
	printf '%s\n' "$threads" | sed 's/^/  | /'
	printf '%s\n' "$threads" | awk '$2 != 0 { bad++ } END { exit bad > 0 }' ||
		{ echo "  a thread has a filter" >&2; return 1; }
	# And a whole boot to power-off.
	local boot=$work/offboot.log
	guest_boot_expect smoke "$boot" 300 vmm_tool_boot smoke "$work/offboot.err" --seccomp=off || return 1
	exited_with 0 "$boot"
}

debug_exit_other() {
	local log=$work/dbg.log err=$work/dbg.err
	timeout -k 5 300 bash -c 'vmm_tool_boot no-such-script "$1"' _ "$err" > "$log" 2>&1
	grep -q 'guest.run: no script named' "$log" || { tail -n 15 "$log" >&2; return 1; }
	exited_with 102 "$log" || return 1
	sed 's/^/  /' "$err"
	if [ "$(wc -l < "$err")" -ne 1 ] || ! grep -q '^vmm: the guest wrote 127 to the debug-exit device' "$err"; then
		echo "  expected one line naming 127" >&2
		return 1
	fi
}

# bad STATUS PATTERN VMM-ARGS...: vmm exits STATUS at once with exactly one
# line, "vmm: ...PATTERN...".
bad() {
	local want=$1 pattern=$2 out rc
	shift 2
	out=$(timeout 60 "$VMM" "$@" </dev/null 2>&1)
	rc=$?
	if [ "$rc" -ne "$want" ] || [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ] ||
		! printf '%s\n' "$out" | grep -Eq "^vmm: .*$pattern"; then
		echo "  vmm $*: expected exit $want and one 'vmm: ...$pattern' line, got exit $rc:" >&2
		printf '%s\n' "$out" | head -n 20 >&2
		return 1
	fi
	echo "  $rc: $out"
}

bad_input() {
	local k=$GUEST_DIR/vmlinuz i=$GUEST_DIR/initrd.img d=$work/bad f=0
	mkdir -p "$d"
	: > "$d/empty"
	printf 'not a kernel\n' > "$d/text"
	head -c 600 "$k" > "$d/header-only"
	head -c 3000000 "$k" > "$d/truncated"
	# A kernel whose setup header is zeroed: no "HdrS".
	cp "$k" "$d/corrupt" && dd if=/dev/zero of="$d/corrupt" bs=1 seek=497 count=100 conv=notrunc 2>/dev/null
	head -c 1000 "$i" > "$d/initrd-truncated"
	truncate -s 1000 "$d/odd.img"
	# Usage errors: 2.
	bad 2 "--kernel PATH is required" || f=1
	bad 2 "unknown option" --kernel "$k" --bogus || f=1
	bad 2 "out of range" --kernel "$k" --cpus 0 || f=1
	bad 2 "invalid --cpus" --kernel "$k" --cpus lots || f=1
	bad 2 "too large" --kernel "$k" --memory 99999999999999999999 || f=1
	bad 2 "too large" --kernel "$k" --memory 20000000T || f=1
	bad 2 "multiple of 4 KiB" --kernel "$k" --memory 1001K || f=1
	bad 2 "invalid --seccomp" --kernel "$k" --seccomp=maybe || f=1
	bad 2 "missing path" --kernel "$k" --disk readonly=on || f=1
	bad 2 "expected on or off" --kernel "$k" --disk "path=$d/odd.img,direct=1" || f=1
	bad 2 "from 1 to" --kernel "$k" --disk "path=$d/odd.img,queues=999" || f=1
	bad 2 "needs a path" --kernel "$k" --initrd "" || f=1
	# Errors: 1.  Memory the guest's address space cannot hold, or too
	# little for the kernel.
	bad 1 "does not fit in the guest's physical address space" --kernel "$k" --memory 8192T || f=1
	bad 1 "at least 2 MiB" --kernel "$k" --memory 1M || f=1
	bad 1 "needs [0-9]+ MiB of RAM" --kernel "$k" --memory 16M || f=1
	# Kernels.
	bad 1 "No such file" --kernel "$d/missing" || f=1
	bad 1 "not a regular file" --kernel "$d" || f=1
	bad 1 "not a regular file" --kernel /dev/null || f=1
	bad 1 "empty file" --kernel "$d/empty" || f=1
	bad 1 "not a (Linux )?bzImage" --kernel "$d/text" || f=1
	bad 1 "not a (Linux )?bzImage" --kernel "$d/header-only" || f=1
	bad 1 "not a Linux bzImage" --kernel "$d/corrupt" || f=1
	bad 1 "truncated bzImage" --kernel "$d/truncated" || f=1
	# Initrds.
	bad 1 "initrd .*No such file" --kernel "$k" --initrd "$d/missing" || f=1
	bad 1 "initrd .*not a regular file" --kernel "$k" --initrd "$d" || f=1
	bad 1 "initrd .*empty file" --kernel "$k" --initrd "$d/empty" || f=1
	bad 1 "does not fit" --kernel "$k" --initrd "$ROOT_IMG" --memory 128M || f=1
	# Disks.
	bad 1 "disk .*: no such file" --kernel "$k" --disk "path=$d/missing.img" || f=1
	bad 1 "disk .*: [Ii]s a directory" --kernel "$k" --disk "path=$d" || f=1
	bad 1 "multiple of 512" --kernel "$k" --disk "path=$d/odd.img" || f=1
	bad 1 "disk .*: is empty" --kernel "$k" --disk "path=$d/empty" || f=1
	bad 1 "not a regular file or block device" --kernel "$k" --disk "path=/dev/null" || f=1
	# A truncated initrd is the kernel's business (it says so on the
	# console); vmm loads it: not an error here.
	return $f
}

check checkhost "vmm --check-host passes where KVM boots stock Linux" check_host_ok
check json "--stats=json prints one JSON object on stderr that describes the boot" stats_stderr
check file "--stats-file writes the JSON to the file, with the guest's failing status" stats_file
check sandbox "every vmm thread runs under its seccomp filter; SIGTERM still stops vmm (143)" sandbox_on
check nosandbox "--seccomp=off: no filter, and the guest boots to power-off" sandbox_off
check debugexit "a debug-exit value outside 0 and 3..99 ends vmm with 102 and names it" debug_exit_other
check badinput "bad options, kernels, initrds and disks: one line, exit 2 or 1" bad_input
[ "$fails" -eq 0 ]
