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
#               with a failing guest's status (3) as exit_status.
#   usage: tests/integration/vmm-tool.sh [checkhost|json|file]...
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

check checkhost "vmm --check-host passes where KVM boots stock Linux" check_host_ok
check json "--stats=json prints one JSON object on stderr that describes the boot" stats_stderr
check file "--stats-file writes the JSON to the file, with the guest's failing status" stats_file
[ "$fails" -eq 0 ]
