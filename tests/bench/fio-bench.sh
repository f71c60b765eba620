#!/bin/bash
# Storage benchmark (not part of `make check`): guest/fio/bench.fio, job by
# job, on
#   host     fio directly on the test host's disk (the ceiling; first
#            repetition only),
#   vmm      a guest under build/vmm (default options, direct=on),
#   qemu-io  a guest under Debian's QEMU with an iothread
#            (-object iothread, virtio-blk-pci,iothread=, cache=none,
#            aio=io_uring): the peer to beat,
#   qemu     the same QEMU without an iothread,
# all against the same disk (the test host's /dev/vda, a virtio-blk disk of
# the test host backed by one file, so O_DIRECT reaches a real block
# device), with the same guest, vCPUs and memory.  Each part runs in a test
# host of its own (a dead test host is booted again and the part re-run,
# which the output says); repetitions alternate the VMMs' order.  Around
# every job the part samples, inside the test host: the inner KVM's exit
# counters of the VM (debugfs), the VMM process's CPU time, the test host's
# busy CPU time, and the guest's interrupts and completed requests.
# tests/bench/fio-report.py turns the parts into the table (stdout),
# build/bench/results.json and build/bench/fio.svg.
#
# Environment:
#   BENCH_REPS=3          repetitions
#   BENCH_RUNTIME=10      seconds per job (BENCH_RAMP=2 of warm-up before)
#   BENCH_JOBS=a,b        only these jobs of bench.fio (default: all)
#   BENCH_VMMS="vmm qemu-io qemu"  the columns; NAME=PATH adds a vmm binary
#                         under another name (e.g. base=/tmp/vmm-main), and
#                         NAME=PATH,OPTS also appends ,OPTS to its --disk
#                         (e.g. mmio=build/vmm,notify=mmio)
#   BENCH_VMM_DISK_OPTS   appended to vmm's --disk for the image
#   BENCH_HOST=0          leave out the host column
#   BENCH_LOCK=FILE       hold flock FILE for one repetition at a time
#                         (others queue between repetitions)
#   BENCH_STRACE=1        one more part for vmm and one for qemu-io that
#                         counts the I/O threads' syscalls per job (strace
#                         -c attached to them: slow, so its IOPS do not count)
#   BENCH_OUT=DIR         where the raw outputs go (default build/bench)
#   usage: tests/bench/fio-bench.sh
#   inside the test host: fio-bench.sh --part NAME[=PATH] DIR
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"

reps=${BENCH_REPS:-3}
runtime=${BENCH_RUNTIME:-10}
ramp=${BENCH_RAMP:-2}
jobs=${BENCH_JOBS:-}
vmms=${BENCH_VMMS:-vmm qemu-io qemu}
out=${BENCH_OUT:-$top/build/bench}
JOBFILE=$top/guest/fio/bench.fio
# 2 vCPUs and 1 GiB for every guest.
GUEST_CPUS=2 GUEST_MEM=1024

# ---- inside the test host: one part ------------------------------------

# One line of counters: the VM's inner-KVM exits by kind (debugfs, summed
# over vCPUs), the VMM's CPU ticks, the test host's busy ticks.
KVM_STATS="exits insn_emulation io_exits mmio_exits halt_exits irq_exits irq_window_exits irq_injections pf_taken pf_emulate signal_exits request_irq_exits"
# The I/O threads: vmm's (one per queue) and qemu-io's iothread (QEMU runs
# with debug-threads=on so its threads have names).
IO_THREAD_RE='^(vmm-blk-io[0-9]*|IO io0)$'
io_threads() {
	local t comm
	for t in /proc/$1/task/*; do
		read -r comm < "$t/comm" 2>/dev/null || continue
		[[ $comm =~ $IO_THREAD_RE ]] && echo "${t##*/}"
	done
}

sample() {
	local vmdir pid f t files=()
	for vmdir in /sys/kernel/debug/kvm/*-*; do break; done
	for f in $KVM_STATS; do
		[ -e "$vmdir/$f" ] && files+=("$vmdir/$f")
	done
	pid=${vmdir##*/}
	pid=${pid%%-*}
	if [ -n "$pid" ] && [ -e "/proc/$pid/stat" ]; then
		files+=("/proc/$pid/stat")
		for t in $(io_threads "$pid"); do
			files+=("/proc/$pid/task/$t/stat" "/proc/$pid/task/$t/status")
		done
	fi
	# One process: under emulation every fork costs.  In a stat file,
	# after the command name: utime and stime are fields 12 and 13, and
	# guest_time (the vCPUs' time in guest mode, part of utime) 41.
	awk -v pidstat="/proc/$pid/stat" '
		FILENAME == "/proc/stat" { if ($1 == "cpu") host = $2 + $3 + $4 + $7 + $8; next }
		FILENAME ~ /\/stat$/ { sub(/^.*\) /, "")
			if (FILENAME == pidstat) { vmm = $12 + $13; guest = $41 } else io += $12 + $13; next }
		FILENAME ~ /\/status$/ { if ($1 == "voluntary_ctxt_switches:") wake += $2; next }
		{ n = split(FILENAME, p, "/"); printf " kvm_%s=%s", p[n], $1 }
		END { if (vmm != "") printf " vmm_ticks=%d guest_ticks=%d io_ticks=%d io_sleeps=%d", vmm, guest, io, wake
		      printf " host_busy_ticks=%d\n", host }' "${files[@]}" /proc/stat
}

# BENCH_STRACE parts: the I/O threads' syscalls during each job.
strace_start() {
	local job=$1 dir=$2 vmdir pid args=()
	for vmdir in /sys/kernel/debug/kvm/*-*; do break; done
	pid=${vmdir##*/}
	pid=${pid%%-*}
	for t in $(io_threads "$pid"); do args+=(-p "$t"); done
	[ ${#args[@]} -gt 0 ] || return
	strace -c -o "$dir/strace-$job.txt" "${args[@]}" 2>/dev/null &
	echo $! > "$dir/strace.pid"
}

strace_stop() {
	local dir=$1
	[ -e "$dir/strace.pid" ] || return
	kill -INT "$(cat "$dir/strace.pid")" 2>/dev/null
	wait "$(cat "$dir/strace.pid")" 2>/dev/null
	rm -f "$dir/strace.pid"
}

# Watches LOG while PID runs: on each "fio-bench: begin JOB" and
# "fio-bench: irqs JOB ..." line, appends a counter sample to SAMPLES.
# Bash builtins only (log_more, nap; see guest-boot.sh), apart from the
# sample itself.
MARKER_RE=$'^fio-bench: (begin|irqs) ([^ \r]+)'
# A retried boot (guest_boot_expect empties LOG and says so in
# GUEST_BOOT_ATTEMPT_FILE) starts the samples over with the log.
watch_markers() {
	local log=$1 pid=$2 samples=$3 text= line kind job attempt=1 now
	: > "$samples"
	log_open "$log"
	while kill -0 "$pid" 2>/dev/null; do
		now=
		read -r now 2>/dev/null < "$GUEST_BOOT_ATTEMPT_FILE"
		if [ -n "$now" ] && [ "$now" != "$attempt" ]; then
			attempt=$now text=
			: > "$samples"
			echo "$attempt" > "${samples%/*}/boot-attempts"
			log_open "$log"
		fi
		log_more
		text=$text$log_new
		# Whole lines only (the console ends them with CR LF): a line
		# still being written would give a cut job name.
		while [[ $text == *$'\n'* ]]; do
			line=${text%%$'\n'*}
			text=${text#*$'\n'}
			[[ $line =~ $MARKER_RE ]] || continue
			kind=${BASH_REMATCH[1]} job=${BASH_REMATCH[2]}
			[ "$kind" = irqs ] && [ -n "${BENCH_STRACE_PART:-}" ] && strace_stop "${samples%/*}"
			echo "$kind $job $(sample)" >> "$samples"
			[ "$kind" = begin ] && [ -n "${BENCH_STRACE_PART:-}" ] && strace_start "$job" "${samples%/*}"
		done
		[ -n "${BENCH_THREADS:-}" ] && thread_sample >> "${samples%/*}/threads"
		nap 0.2
	done
}

# BENCH_THREADS=1: every 0.2 s, the VMM's threads: name, the test-host CPU
# each last ran on, and its CPU ticks so far (which share a CPU, and who is
# busy).
thread_sample() {
	local vmdir pid t line comm rest f
	for vmdir in /sys/kernel/debug/kvm/*-*; do break; done
	pid=${vmdir##*/}
	pid=${pid%%-*}
	[ -n "$pid" ] && [ -d "/proc/$pid/task" ] || return 0
	printf '%s' "$EPOCHREALTIME"
	for t in /proc/"$pid"/task/*; do
		read -r line < "$t/stat" 2>/dev/null || continue
		comm=${line#*(}
		comm=${comm%%)*}
		rest=${line##*) }
		read -r -a f <<< "$rest"
		# After the name: utime, stime are fields 12, 13; processor 37.
		printf ' %s:%s:%s' "${comm// /_}" "${f[36]}" "$((f[11] + f[12]))"
	done
	echo
}

# The guest's kernel command line; the guest script reads the bench.* knobs.
guest_cmdline() {
	echo "console=ttyS0 panic=-1 quiet root=/dev/vda guest.run=fio-bench bench.runtime=$runtime bench.ramp=$ramp${jobs:+ bench.jobs=$jobs}"
}

boot_vmm() {
	local bin=$1
	shift
	"$@" "$bin" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" \
		--cpus $GUEST_CPUS --memory ${GUEST_MEM}M --cmdline "$(guest_cmdline)" \
		--disk "path=$GUEST_DIR/rootfs.img,readonly=on" \
		--disk "path=$BENCH_DEV,direct=on${BENCH_VMM_DISK_OPTS:-}" --stats
}

# qemu-io (with an iothread) or qemu (without).
boot_qemu() {
	local iothread=$1 obj=() dev=virtio-blk-pci,drive=bench
	if [ "$iothread" = 1 ]; then
		obj=(-object "iothread,id=io0")
		dev=$dev,iothread=io0
	fi
	qemu-system-x86_64 -name fio-bench,debug-threads=on \
		-enable-kvm -cpu host -smp $GUEST_CPUS -m $GUEST_MEM -M pc \
		-nodefaults -no-user-config -display none -no-reboot -serial stdio "${obj[@]}" \
		-kernel "$GUEST_DIR/vmlinuz" -initrd "$GUEST_DIR/initrd.img" -append "$(guest_cmdline)" \
		-drive "file=$GUEST_DIR/rootfs.img,if=none,id=root,format=raw,readonly=on" \
		-device virtio-blk-pci,drive=root \
		-drive "file=$BENCH_DEV,if=none,id=bench,format=raw,cache=none,aio=io_uring" \
		-device "$dev" </dev/null
}
export -f boot_vmm boot_qemu guest_cmdline
export GUEST_CPUS GUEST_MEM runtime ramp jobs

# The host column: fio on the disk itself, with the same markers.
part_host() {
	local dir=$1 s
	export FIO_DEV=$BENCH_DEV FIO_SIZE=2G FIO_RUNTIME=$runtime FIO_RAMP=$ramp
	: > "$dir/samples"
	for s in $(if [ -n "$jobs" ]; then echo "$jobs" | tr , ' '; else
			sed -n 's/^\[\(.*\)\]$/\1/p' "$JOBFILE" | grep -vx global; fi); do
		echo "begin $s $(sample)" >> "$dir/samples"
		r0=$(awk '{ print $1 + $5 }' /sys/block/vda/stat)
		fio --output-format=terse --terse-version=3 --section="$s" "$JOBFILE" >> "$dir/console.log" 2>&1 ||
			return 1
		echo "fio-bench: irqs $s 0 $(($(awk '{ print $1 + $5 }' /sys/block/vda/stat) - r0))" >> "$dir/console.log"
		echo "irqs $s $(sample)" >> "$dir/samples"
	done
}

# How fast this test host runs plain CPU work now, in ms for a fixed awk
# loop: the emulated CPUs' speed differs between test-host boots and over
# time, and with it every IOPS figure; the report shows it beside them.
probe() {
	local t0 t1
	t0=$(date +%s%N)
	awk 'BEGIN { for (i = 0; i < 5000000; i++) s += i }'
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

run_part() {
	local name=$1 dir=$2 bin="" cmd=() pid rc
	mkdir -p "$dir"
	echo "before $(probe)" > "$dir/speed"
	BENCH_DEV=/dev/vda
	export BENCH_DEV
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
	# fio prints its terse line only when a job is done.
	export GUEST_STALL_SEC=$((runtime + ramp + 120))
	case "$name" in
	host) part_host "$dir"; rc=$?; echo "after $(probe)" >> "$dir/speed"; return $rc ;;
	qemu-io) cmd=(boot_qemu 1) ;;
	qemu) cmd=(boot_qemu 0) ;;
	vmm) cmd=(boot_vmm "$BENCH_VMM") ;;
	strace:qemu-io) export BENCH_STRACE_PART=1; cmd=(boot_qemu 1) ;;
	strace:*) export BENCH_STRACE_PART=1; bin=${name#strace:}; bin=${bin#*=}
		cmd=(boot_vmm "$bin") ;;
	*=*) bin=${name#*=}
		# NAME=PATH,OPTS: the options go to the benchmarked disk.
		export BENCH_VMM_DISK_OPTS="${BENCH_VMM_DISK_OPTS:-}${bin#"${bin%%,*}"}"
		cmd=(boot_vmm "${bin%%,*}") ;;
	*) echo "fio-bench: unknown column $name" >&2; return 2 ;;
	esac
	: > "$dir/console.log" # (for watch_markers to open)
	export GUEST_BOOT_ATTEMPT_FILE=$dir/attempt
	guest_boot_expect fio-bench "$dir/console.log" $((600 + 20 * runtime)) "${cmd[@]}" &
	pid=$!
	watch_markers "$dir/console.log" "$pid" "$dir/samples"
	wait "$pid"
	rc=$?
	echo "after $(probe)" >> "$dir/speed"
	return $rc
}

if [ "${1:-}" = --part ]; then
	[ -n "${KVMHOST_INSIDE:-}" ] || { echo "fio-bench: --part runs inside the test host" >&2; exit 2; }
	run_part "$2" "$3"
	exit
fi

# ---- outside: the repetitions ------------------------------------------

mkdir -p "$out"
raw=$out/raw
rm -rf "$raw"
mkdir -p "$raw"
scratch=$(mktemp /tmp/fio-bench-disk.XXXXXX)
trap 'rm -f "$scratch"' EXIT
# Written out, so every part reads the same allocated blocks.
dd if=/dev/zero of="$scratch" bs=1M count=2048 status=none || exit 1
{
	echo "date=$(date -u +%FT%TZ)"
	echo "machine=$(uname -srm), $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "reps=$reps"
	echo "runtime=$runtime"
	echo "ramp=$ramp"
	echo "jobs=${jobs:-all}"
	echo "vmms=$vmms"
	echo "vmm=$(git -C "$top" log -1 --format=%h 2>/dev/null)$(git -C "$top" diff --quiet 2>/dev/null || echo +changes) ${BENCH_VMM_DISK_OPTS:-}"
} > "$raw/meta"
# The binaries as they are now: a rebuild during the run changes nothing.
mkdir -p "$raw/bin"
cp "$top/build/vmm" "$raw/bin/vmm" || exit 1
export BENCH_VMM=$raw/bin/vmm

# A part in a test host of its own; a test host that died (123, 125) is
# booted again once and the part re-run, which the report shows.
part() {
	local name=$1 dir=$2 try rc log
	for try in 1 2; do
		# One log per repetition, column and test-host boot: a later one
		# must not overwrite the log of a hang or a death.
		log=$raw/$(basename "$(dirname "$dir")").${dir##*/}.boot$try.out
		echo "bench: $(date -u +%T) $(basename "$(dirname "$dir")") ${name%%=*} (test host boot $try)" >&2
		rm -rf "$dir"
		"$top/tests/kvmhost/run" --memory 3G --disk "$scratch" \
			--timeout $((900 + 30 * runtime)) -- "$0" --part "$name" "$dir" \
			> "$log" 2>&1 9>&-
		rc=$?
		[ "$try" = 2 ] && echo "rerun" > "$dir/rerun"
		case $rc in
		0) return 0 ;;
		123 | 125) echo "bench: the test host died (status $rc); running the part again" >&2 ;;
		*) echo "bench: part ${name%%=*} failed (status $rc); see $log" >&2
			tail -5 "$log" >&2
			return 1 ;;
		esac
	done
	return 1
}

# BENCH_LOCK: held for one repetition at a time.
lock() { [ -z "${BENCH_LOCK:-}" ] || { exec 9> "$BENCH_LOCK" && flock 9; }; }
unlock() { [ -z "${BENCH_LOCK:-}" ] || exec 9>&-; }

read -r -a order <<< "$vmms"
for rep in $(seq 1 "$reps"); do
	lock
	list=("${order[@]}")
	if [ $((rep % 2)) = 0 ]; then
		list=()
		for ((i = ${#order[@]} - 1; i >= 0; i--)); do list+=("${order[$i]}"); done
	fi
	[ "$rep" = 1 ] && [ "${BENCH_HOST:-1}" != 0 ] && list=(host "${list[@]}")
	for name in "${list[@]}"; do
		part "$name" "$raw/rep$rep/${name%%=*}"
	done
	unlock
done
if [ -n "${BENCH_STRACE:-}" ]; then
	lock
	for name in "${order[@]}"; do
		case "$name" in
		vmm) part "strace:$BENCH_VMM" "$raw/strace/vmm" ;;
		qemu-io) part "strace:qemu-io" "$raw/strace/qemu-io" ;;
		esac
	done
	unlock
fi
python3 "$top/tests/bench/fio-report.py" "$raw" "$out"
