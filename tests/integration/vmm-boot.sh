#!/bin/bash
# Boots the real guest (Debian's cloud kernel + our initramfs) under
# build/vmm inside the test host and checks what issue 3 promises:
#  - guest.run=smoke with 1 vCPU/512 MiB and 2 vCPUs/1 GiB: the marker, the
#    online CPU count equal to --cpus, MemTotal within 10% below --memory
#    (the kernel keeps ~40 MiB for itself: image, struct pages), no ACPI
#    errors or warnings in the log, and vmm exiting 0 after the ACPI S5
#    power-off; --stats prints the exit counters;
#  - guest.run=reboot: vmm exits 0 (so Linux's reboot never triple-faults);
#  - guest.run=panic: the kernel panics, pvpanic reports it and vmm exits
#    101 with one line saying so;
#  - stdout a pipe whose reader stalls (guest.run=flood): SIGTERM still
#    stops vmm (status 143) and it reports the guest output it lost;
#  - the interactive shell reads its input from vmm's stdin (a pipe here)
#    and `poweroff -f` typed there ends vmm with status 0;
#  - pvh: the same smoke checks (2 vCPUs) with the kernel uncompressed
#    (build/guest/vmlinux), which vmm enters through PVH;
#  - a bad kernel file, a truncated bzImage, an ELF file that is not a PVH
#    kernel, a truncated vmlinux and an initrd that does not fit each end
#    vmm with a non-zero status and one "vmm: ..." line.
#   usage: tests/integration/vmm-boot.sh [errors|smoke1|smoke2|pvh|reboot|panic|stall|shell]...
# (no argument: all of them)
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
kvmhost_reexec --timeout 1200 -- "$0" "$@"

VMM=$top/build/vmm
work=$(mktemp -d /tmp/vmm-boot.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The command guest_boot_expect runs: vmm, then its exit status as a line.
vmm_boot() {
	"$VMM" --kernel "${KERNEL:-$GUEST_DIR/vmlinuz}" --initrd "$GUEST_DIR/initrd.img" "$@" </dev/null
	echo "vmm-exit-status=$?"
}
export -f vmm_boot
export VMM GUEST_DIR

only=" $* "
fails=0

no_acpi_complaints() {
	if grep -E 'ACPI Error|ACPI BIOS Error|ACPI Warning' "$1" >&2; then
		echo "  ACPI complaints in the guest log (above)" >&2
		return 1
	fi
}

# smoke CPUS MEMORY-MIB [KERNEL]
smoke() {
	local cpus=$1 mib=$2 kernel=${3:-}
	local log=$work/smoke-$1-${kernel##*/}.log
	local t0=$(date +%s.%N)
	KERNEL=$kernel guest_boot_expect smoke "$log" 300 vmm_boot --cpus "$cpus" --memory "${mib}M" \
		--cmdline 'console=ttyS0 panic=-1 guest.run=smoke' --stats || return 1
	echo "  boot to PASS: $(echo "$(date +%s.%N) - $t0" | bc) s"
	local line=$(grep -m1 '^GUEST-SMOKE ' "$log")
	echo "  $line"
	local got_cpus=$(echo "$line" | sed -n 's/.*cpus=\([0-9]*\).*/\1/p')
	local kb=$(echo "$line" | sed -n 's/.*memtotal_kb=\([0-9]*\).*/\1/p')
	[ "$got_cpus" = "$cpus" ] || { echo "  expected $cpus CPUs, the guest has '$got_cpus'" >&2; return 1; }
	local want_kb=$((mib * 1024))
	[ -n "$kb" ] && [ "$kb" -le "$want_kb" ] && [ "$kb" -ge $((want_kb * 90 / 100)) ] || {
		echo "  MemTotal $kb kB is not within 10% below $want_kb kB" >&2
		return 1
	}
	no_acpi_complaints "$log" || return 1
	grep -q 'reboot: Power down' "$log" || { echo "  no ACPI power-off in the log" >&2; return 1; }
	grep -q '^vmm: exits to user space by reason' "$log" &&
		grep -qE '^  io +[0-9]+$' "$log" || { echo "  --stats printed no counters" >&2; return 1; }
	exited_with 0 "$log"
}

reboot_exits_0() {
	local log=$work/reboot.log attempt
	# Retried like guest_boot_expect does when a boot under nested TCG hangs.
	for attempt in 1 2 3; do
		timeout -k 5 300 bash -c 'vmm_boot --cmdline "console=ttyS0 guest.run=reboot"' > "$log" 2>&1
		grep -q '^GUEST-REBOOT' "$log" && break
		echo "!!! reboot boot $attempt never reached its reboot:" >&2
		tail -n 15 "$log" | sed 's/^/!!!   /' >&2
	done
	grep -q '^GUEST-REBOOT' "$log" || return 1
	grep -q 'reboot: Restarting system' "$log" || { echo "  no restart in the log" >&2; return 1; }
	no_acpi_complaints "$log" && exited_with 0 "$log"
}

# A kernel panic reaches vmm through pvpanic: status 101 and one line.
panic_exits_101() {
	local log=$work/panic.log attempt
	for attempt in 1 2 3; do
		timeout -k 5 300 bash -c 'vmm_boot --cmdline "console=ttyS0 guest.run=panic"' > "$log" 2>&1
		grep -q '^GUEST-PANIC' "$log" && break
		echo "!!! panic boot $attempt never reached its panic:" >&2
		tail -n 15 "$log" | sed 's/^/!!!   /' >&2
	done
	grep -q '^GUEST-PANIC' "$log" || return 1
	grep -q 'Kernel panic - not syncing' "$log" || { echo "  no panic in the log" >&2; return 1; }
	grep -q '^vmm: the guest kernel panicked (pvpanic)$' "$log" ||
		{ echo "  no 'vmm: the guest kernel panicked' line" >&2; return 1; }
	exited_with 101 "$log"
}

# vmm's stdout is a pipe whose reader never reads, the guest prints without
# end.  Once the pipe is full (the guest's console output can no longer be
# written), vmm must still stop on SIGTERM, at once, with 128 + 15.  (An
# anonymous pipe: the test host's /tmp is 9p, which has no FIFOs.)
stalled_stdout_sigterm() {
	local mark=$work/stall.full err=$work/stall.err pidf=$work/stall.pid rcf=$work/stall.rc
	local vmm rc
	(
		"$VMM" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" \
			--cmdline 'console=ttyS0 panic=-1 guest.run=flood' </dev/null 2>"$err" &
		echo $! > "$pidf"
		wait $!
		echo $? > "$rcf"
	) | perl -e 'for (;;) { my $n = pack("L", 0); ioctl(STDIN, 0x541B, $n);
			# The stalled reader (perl-base is essential on Debian):
			# never reads, marks when the pipe holds 60 KiB (FIONREAD).
			if (unpack("L", $n) >= 61440) { open(my $m, ">", $ARGV[0]); close($m); }
			sleep 1; }' "$mark" &
	local reader=$!
	for _ in $(seq 300); do
		[ -s "$pidf" ] && [ -e "$mark" ] && break
		[ -e "$rcf" ] && break
		sleep 1
	done
	vmm=$(cat "$pidf" 2>/dev/null)
	if [ ! -e "$mark" ] || [ -z "$vmm" ]; then
		echo "  the pipe never filled up (vmm exit: $(cat "$rcf" 2>/dev/null))" >&2
		[ -n "$vmm" ] && kill -KILL "$vmm" 2>/dev/null
		kill "$reader" 2>/dev/null
		cat "$err" >&2
		return 1
	fi
	# Let the guest keep printing into the full pipe for a while.
	sleep 20
	kill -TERM "$vmm"
	for _ in $(seq 30); do
		[ -e "$rcf" ] && break
		sleep 1
	done
	if [ ! -e "$rcf" ]; then
		echo "  vmm still running 30 s after SIGTERM" >&2
		kill -KILL "$vmm" 2>/dev/null
		kill "$reader" 2>/dev/null
		# Let the subshell note the status before $work goes away.
		for _ in 1 2 3 4 5; do [ -e "$rcf" ] && break; sleep 1; done
		return 1
	fi
	kill "$reader" 2>/dev/null
	rc=$(cat "$rcf")
	sed 's/^/  /' "$err"
	[ "$rc" -eq 143 ] || { echo "  vmm exited $rc, expected 143" >&2; return 1; }
	grep -q '^vmm: console: [0-9]* bytes of guest output lost' "$err" ||
		{ echo "  no report of the lost output" >&2; return 1; }
}

# The shell on the console gets "poweroff -f" from vmm's stdin, a pipe that
# keeps offering it until the shell is up (input sent before the 8250
# driver starts is flushed by it, as on real hardware).
shell_poweroff() {
	local log=$work/shell.log
	(
		sleep 1
		while echo 'poweroff -f' 2>/dev/null; do sleep 2; done
	) | timeout -k 5 300 "$VMM" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" \
		--cmdline 'console=ttyS0 panic=-1' > "$log" 2>&1
	local rc=${PIPESTATUS[1]}
	grep -q 'starting a shell' "$log" || { echo "  the shell did not start" >&2; tail -n 15 "$log" >&2; return 1; }
	grep -q 'reboot: Power down' "$log" || { echo "  poweroff typed into the console did nothing" >&2; tail -n 15 "$log" >&2; return 1; }
	[ "$rc" -eq 0 ] || { echo "  vmm exited $rc" >&2; return 1; }
}

# expect_error WHAT-MESSAGE VMM-ARGS...: non-zero exit, one "vmm:" line.
expect_error() {
	local want=$1
	shift
	local out rc
	out=$(timeout 60 "$VMM" "$@" </dev/null 2>&1)
	rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { echo "  vmm $* exited $rc" >&2; return 1; }
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && printf '%s\n' "$out" | grep -Eq "^vmm: .*$want" || {
		echo "  vmm $*: expected one 'vmm: ...$want' line, got:" >&2
		printf '%s\n' "$out" >&2
		return 1
	}
	echo "  $out (exit $rc)"
}

bad_kernels() {
	printf 'not a kernel\n' > "$work/text"
	head -c 1000000 "$GUEST_DIR/vmlinuz" > "$work/truncated"
	expect_error "not a (Linux )?bzImage" --kernel "$work/text" &&
		expect_error "truncated bzImage" --kernel "$work/truncated" &&
		expect_error "without a PVH entry note" --kernel "$GUEST_DIR/debug-exit" &&
		head -c 30000000 "$GUEST_DIR/vmlinux" > "$work/truncated-elf" &&
		expect_error "outside the file" --kernel "$work/truncated-elf" &&
		expect_error "No such file" --kernel "$work/missing" &&
		expect_error "not a regular file" --kernel "$work" &&
		expect_error "does not fit" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/rootfs.img" --memory 128M &&
		expect_error "No such file" --kernel "$GUEST_DIR/vmlinuz" --initrd "$work/missing"
}

check errors "bad kernel and initrd files end vmm with a message" bad_kernels
check smoke1 "1 vCPU, 512 MiB: smoke marker, CPUs, MemTotal, clean ACPI, exit 0" smoke 1 512
check smoke2 "2 vCPUs, 1 GiB: smoke marker, CPUs, MemTotal, clean ACPI, exit 0" smoke 2 1024
check pvh "vmlinux through PVH, 2 vCPUs: smoke marker, CPUs, MemTotal, clean ACPI, exit 0" smoke 2 1024 "$GUEST_DIR/vmlinux"
check reboot "guest reboot ends vmm with status 0" reboot_exits_0
check panic "guest kernel panic ends vmm with status 101 (pvpanic)" panic_exits_101
check stall "SIGTERM stops vmm while stdout is a pipe nobody reads (status 143)" stalled_stdout_sigterm
check shell "poweroff -f typed on the console ends vmm with status 0" shell_poweroff
[ "$fails" -eq 0 ]
