#!/bin/bash
# Boots the real guest from a virtio-blk root disk served by build/vmm
# (inside the test host) and checks what issue 4 promises:
#  - pci:      the guest enumerates the virtio-blk PCI functions (one with a
#              request queue per vCPU and the default port notify, one with
#              queues=1 and notify=mmio), their MSI-X vectors show as
#              PCI-MSI in /proc/interrupts, only the first claims an I/O
#              port range, and both disks read;
#  - fio:      fio write+verify (crc32c) on a second, writable disk, one
#              job per vCPU (so on both request queues), kicked through the
#              port I/O notify structure;
#  - pattern:  a pattern the host wrote before boot reads back in the guest,
#              and what the guest wrote and synced is in the host file after
#              power-off, and also after vmm was killed with SIGKILL;
#  - readonly: a readonly=on disk is read-only in the guest, the file is
#              unchanged;
#  - lock:     a second vmm on the same writable image fails clearly;
#  - exits:    a fio run of 40960 requests costs far fewer PIO/MMIO exits to
#              user space than requests (ioeventfd/irqfd data path);
#  - status:   a failing guest.run script's status is vmm's exit status
#              (debug-exit port), a passing one gives 0;
#  - errors:   bad --disk arguments and files give one "vmm:" line.
#   usage: tests/integration/vmm-disk.sh [pci|fio|pattern|readonly|lock|exits|status|errors]...
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
kvmhost_reexec --timeout 1500 -- "$0" "$@"

VMM=$top/build/vmm
work=$(mktemp -d /tmp/vmm-disk.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
ROOT=path=$GUEST_DIR/rootfs.img,readonly=on
BASE_CMDLINE='console=ttyS0 panic=-1 quiet root=/dev/vda'

# vmm_disk_boot GUEST-RUN [VMM-ARGS...]: boots from the root disk, then
# prints vmm's exit status as a line.
vmm_disk_boot() {
	local run=$1
	shift
	"$VMM" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --cpus 2 \
		--disk "$ROOT" --cmdline "$BASE_CMDLINE guest.run=$run" "$@" </dev/null
	echo "vmm-exit-status=$?"
}
export -f vmm_disk_boot
export VMM GUEST_DIR ROOT BASE_CMDLINE

only=" $* "
fails=0

# exits LOG: PIO + MMIO exits to user space that --stats printed.
exits() {
	awk '$1 == "io" || $1 == "mmio" { n += $2 } END { print n + 0 }' "$1"
}

pci() {
	local log=$work/pci.log
	truncate -s 64M "$work/scratch.img"
	guest_boot_expect pci-info "$log" 300 vmm_disk_boot pci-info \
		--disk "path=$work/scratch.img,queues=1,notify=mmio" || return 1
	grep -E '^(PCI-DEV|IRQ|PCI-INFO|BLK-MQ|IOPORT|MMCONFIG)' "$log" | sed 's/^/  /'
	# ECAM for the one bus there is: Linux accepted the MCFG and, since it
	# covers bus 0 only, did not probe 255 empty buses at boot.
	grep -Eq '^MMCONFIG PCI: MMCONFIG for domain 0000 \[bus 00-00\] at \[mem 0xe0000000-0xe00fffff\]' "$log" ||
		{ echo "  expected the kernel to take the MCFG's ECAM for bus 0 only" >&2; return 1; }
	# Linux maps the BARs of the notify structure it uses: vda's port one
	# (I/O BAR in the host bridge's window), vdb's only in memory.
	[ "$(grep -Ec '^IOPORT [0-9a-f]+-[0-9a-f]+ : virtio-pci-modern' "$log")" -eq 1 ] ||
		{ echo "  expected one virtio-pci I/O port range (vda's port notify)" >&2; return 1; }
	grep -Eq '^PCI-DEV 0000:00:00.0 0x8086:0x0d57' "$log" ||
		{ echo "  no host bridge at 00:00.0" >&2; return 1; }
	[ "$(grep -Ec '^PCI-DEV .* 0x1af4:0x1042 .*driver=virtio-pci' "$log")" -eq 2 ] ||
		{ echo "  expected two virtio-blk functions bound to virtio-pci" >&2; return 1; }
	grep -Eq '^PCI-DEV 0000:00:1f.0 0x1b36:0x0011 .*driver=pvpanic-pci' "$log" ||
		{ echo "  no pvpanic at 00:1f.0 bound to pvpanic-pci" >&2; return 1; }
	# A config vector per disk and a vector per request queue: vda has
	# the default, one queue per vCPU (2); vdb was given queues=1.
	[ "$(grep -Ec '^IRQ .*PCI-MSI.*virtio[0-9]-(config|req)' "$log")" -ge 5 ] ||
		{ echo "  virtio MSI-X vectors missing from /proc/interrupts" >&2; return 1; }
	grep -q '^BLK-MQ vda queues=2' "$log" && grep -q '^BLK-MQ vdb queues=1' "$log" ||
		{ echo "  expected 2 request queues on vda and 1 on vdb" >&2; return 1; }
	if grep -E 'ACPI (BIOS )?(Error|Warning)' "$log" >&2; then
		echo "  ACPI complaints in the guest log" >&2
		return 1
	fi
	exited_with 0 "$log"
}

fio_verify() {
	local log=$work/fio.log
	truncate -s 64M "$work/scratch.img"
	# One fio job per vCPU: both request queues carry verified data.
	guest_boot_expect fio-verify-mq "$log" 600 vmm_disk_boot fio-verify-mq \
		--disk "path=$work/scratch.img,notify=pio" || return 1
	grep '^fio-verify:' "$log" | sed 's/^/  /'
	exited_with 0 "$log"
}

# write_pattern FILE: 64 recognisable bytes at offset 0; prints them.
write_pattern() {
	local p
	p=$(printf 'HOST-WROTE-%s-%s' "$(date +%s%N)" "$RANDOM" | head -c 64)
	truncate -s 16M "$1"
	printf '%s' "$p" | dd of="$1" conv=notrunc 2>/dev/null
	echo "$p"
}

# marker_in_file LOG FILE: the marker the guest printed is at 1 MiB in FILE.
marker_in_file() {
	local marker got
	marker=$(sed -n 's/^GUEST-MARKER://p' "$1" | tr -d '\r' | head -n 1)
	[ -n "$marker" ] || { echo "  the guest printed no marker" >&2; return 1; }
	got=$(dd if="$2" bs=512 skip=2048 count=1 2>/dev/null | tr -d '\0')
	[ "$got" = "$marker" ] || {
		echo "  host file has '$got' at 1 MiB, the guest wrote '$marker'" >&2
		return 1
	}
}

pattern() {
	local log=$work/pattern.log img=$work/pattern.img p
	p=$(write_pattern "$img")
	guest_boot_expect disk-pattern "$log" 300 vmm_disk_boot disk-pattern \
		--disk "path=$img" || return 1
	grep -q "^HOST-PATTERN:$p" "$log" || {
		echo "  guest read '$(grep '^HOST-PATTERN:' "$log")', host wrote '$p'" >&2
		return 1
	}
	echo "  guest read the host's pattern; host finds the guest's marker after power-off"
	marker_in_file "$log" "$img" && exited_with 0 "$log"
}

# The guest syncs, says so and waits; vmm is killed with SIGKILL: what the
# guest flushed must be in the file anyway.
pattern_kill() {
	local log=$work/kill.log img=$work/kill.img attempt pid
	write_pattern "$img" > /dev/null
	for attempt in 1 2 3; do
		vmm_disk_boot disk-pattern --disk "path=$img" \
			--cmdline "$BASE_CMDLINE guest.run=disk-pattern guest.hold" > "$log" 2>&1 &
		pid=$!
		for _ in $(seq 300); do
			grep -q '^GUEST-SYNCED' "$log" && break
			kill -0 $pid 2>/dev/null || break
			sleep 1
		done
		pkill -KILL -f "vmm .*path=$img" 2>/dev/null
		wait $pid 2>/dev/null
		grep -q '^GUEST-SYNCED' "$log" && break
		echo "!!! boot $attempt never synced; RETRYING" >&2
		tail -n 10 "$log" | sed 's/^/!!!   /' >&2
	done
	grep -q '^GUEST-SYNCED' "$log" || return 1
	echo "  vmm killed with SIGKILL after the guest's sync; the marker is in the file"
	marker_in_file "$log" "$img"
}

readonly_disk() {
	local log=$work/ro.log img=$work/ro.img before after
	write_pattern "$img" > /dev/null
	before=$(md5sum < "$img")
	guest_boot_expect readonly "$log" 300 vmm_disk_boot readonly \
		--disk "path=$img,readonly=on" || return 1
	grep '^READONLY' "$log" | sed 's/^/  /'
	after=$(md5sum < "$img")
	[ "$before" = "$after" ] || { echo "  the read-only image changed" >&2; return 1; }
	local want
	want=$(dd if="$img" bs=64k count=16 2>/dev/null | md5sum | cut -d' ' -f1)
	grep -q "^READONLY ro=1 sum=$want" "$log" || { echo "  guest read other bytes than the file has" >&2; return 1; }
	exited_with 0 "$log"
}

# A second vmm on an image the first one has open for writing.  The first
# one must be up (its guest says so) and still running afterwards, or the
# check proves nothing; a first boot that dies under nested TCG is retried.
lock() {
	local img=$work/lock.img log=$work/lock-a.log out rc out_ro rc_ro pid attempt up=
	truncate -s 16M "$img"
	for attempt in 1 2 3; do
		vmm_disk_boot hold --disk "path=$img" > "$log" 2>&1 &
		pid=$!
		for _ in $(seq 300); do
			grep -aq '^GUEST-HOLDING' "$log" && { up=1; break; }
			kill -0 $pid 2>/dev/null || break
			sleep 1
		done
		[ -n "$up" ] && break
		pkill -KILL -f "vmm .*path=$img" 2>/dev/null
		wait $pid 2>/dev/null
		echo "!!! the first vmm's guest never came up (attempt $attempt); RETRYING" >&2
		tail -n 5 "$log" | sed 's/^/!!!   /' >&2
	done
	[ -n "$up" ] || return 1
	timeout 60 "$VMM" --kernel "$GUEST_DIR/vmlinuz" --disk "path=$img" </dev/null > "$work/b.out" 2>&1
	rc=$?
	out=$(head -n 5 "$work/b.out")
	timeout 60 "$VMM" --kernel "$GUEST_DIR/vmlinuz" --disk "path=$img,readonly=on" </dev/null > "$work/b.out" 2>&1
	rc_ro=$?
	out_ro=$(head -n 5 "$work/b.out")
	kill -0 $pid 2>/dev/null || { echo "  the first vmm was gone before the checks ended" >&2; return 1; }
	pkill -KILL -f "vmm .*path=$img" 2>/dev/null
	wait $pid 2>/dev/null
	echo "  second vmm: $out (exit $rc)"
	echo "  read-only vmm: $out_ro (exit $rc_ro)"
	[ "$rc" -eq 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
		printf '%s\n' "$out" | grep -q "^vmm: disk $img: image is locked" || return 1
	[ "$rc_ro" -eq 1 ] && printf '%s\n' "$out_ro" | grep -q "^vmm: disk $img: image is locked"
}

# Exits of a fio run against those of a boot that does no I/O.
exit_counts() {
	local idle=$work/idle.log busy=$work/busy.log n_idle n_busy requests
	# Every console byte costs exits: keep the guest kernel's messages
	# (timing warnings under the slow emulation come and go) off it.
	local -x BASE_CMDLINE="$BASE_CMDLINE loglevel=1"
	truncate -s 64M "$work/scratch.img"
	guest_boot_expect smoke "$idle" 300 vmm_disk_boot smoke \
		--disk "path=$work/scratch.img" --stats || return 1
	# fio prints nothing while it runs (each character would be exits).
	GUEST_STALL_SEC=600 guest_boot_expect fio-exits "$busy" 900 vmm_disk_boot fio-exits \
		--disk "path=$work/scratch.img" --stats || return 1
	requests=$(sed -n 's/^FIO-EXITS requests=//p' "$busy" | tr -d '\r')
	n_idle=$(exits "$idle")
	n_busy=$(exits "$busy")
	echo "  PIO+MMIO exits: $n_idle for a boot without I/O, $n_busy with $requests fio requests"
	echo "  => $((n_busy - n_idle)) exits for $requests requests"
	[ -n "$requests" ] && [ $((n_busy - n_idle)) -lt $((requests / 100)) ] || {
		echo "  too many exits: the data path leaves the kernel" >&2
		return 1
	}
	# vmm's own count for the fio disk: it saw the requests (at least 90%:
	# blk-mq may merge adjacent random ones), and raised at most one
	# interrupt per completed request.
	local line dreq dkick dirq
	line=$(grep -a '^vmm: disk 1: ' "$busy" | tr -d '\r')
	echo "  ${line#vmm: }"
	read -r dreq dkick dirq <<< "$(echo "$line" | awk '{ print $4, $6, $8 }')"
	[ -n "$dirq" ] && [ "$dreq" -ge $((requests * 9 / 10)) ] && [ "$dirq" -le "$dreq" ] || {
		echo "  disk 1 counters do not add up: '$line'" >&2
		return 1
	}
	echo "  => $(awk -v k="$dkick" -v r="$dreq" -v i="$dirq" 'BEGIN { printf "%.3f kicks and %.3f interrupts per request", k / r, i / r }')"
}

status() {
	local log=$work/fail.log
	timeout -k 5 300 bash -c 'vmm_disk_boot fail' > "$log" 2>&1
	if ! grep -q 'guest.run fail: FAIL (exit 3)' "$log"; then
		echo "!!! the boot died before the script ran; RETRYING" >&2
		timeout -k 5 300 bash -c 'vmm_disk_boot fail' > "$log" 2>&1
	fi
	grep -q 'guest.run fail: FAIL (exit 3)' "$log" || { tail -n 10 "$log" >&2; return 1; }
	exited_with 3 "$log" || return 1
	echo "  a script failing with 3 ends vmm with 3"
}

# expect_error PATTERN VMM-ARGS...: non-zero exit with one "vmm:" line.
expect_error() {
	local want=$1 out rc
	shift
	out=$(timeout 60 "$VMM" --kernel "$GUEST_DIR/vmlinuz" "$@" </dev/null 2>&1)
	rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
		printf '%s\n' "$out" | grep -Eiq "^vmm: .*$want" || {
		echo "  vmm --disk $*: expected one 'vmm: ...$want' line and a failure, got (exit $rc):" >&2
		printf '%s\n' "$out" >&2
		return 1
	}
	echo "  $out (exit $rc)"
}

disk_errors() {
	truncate -s 1000 "$work/odd.img"
	truncate -s 1M "$work/ro.img"
	chmod 0444 "$work/ro.img"
	expect_error "No such file" --disk "path=$work/missing.img" &&
		expect_error "directory" --disk "path=$work" &&
		expect_error "multiple of 512" --disk "path=$work/odd.img" &&
		expect_error "unknown option" --disk "path=$work/ro.img,bogus=1" &&
		expect_error "missing path" --disk "readonly=on" &&
		if [ "$(id -u)" -ne 0 ]; then
			expect_error "readonly=on" --disk "path=$work/ro.img"
		else
			# root may write a 0444 file; a read-only bind mount is the
			# read-only file root cannot write.
			mkdir -p "$work/romnt" && touch "$work/romnt.img" && truncate -s 1M "$work/romnt.img" &&
				mount --bind -o ro "$work/romnt.img" "$work/romnt.img" 2>/dev/null &&
				{ expect_error "readonly=on" --disk "path=$work/romnt.img"; r=$?; umount "$work/romnt.img"; [ $r -eq 0 ]; }
		fi
}

check errors "bad --disk arguments and files end vmm with one message" disk_errors
check pci "guest enumerates virtio-blk-pci functions with PCI-MSI vectors" pci
check fio "fio write+verify (crc32c) on a second disk, port I/O notify" fio_verify
check pattern "host pattern reads back in the guest; guest data is in the file after power-off" pattern
check pattern "data the guest synced survives vmm being killed with SIGKILL" pattern_kill
check readonly "readonly=on disk is read-only in the guest and unchanged" readonly_disk
check lock "a second vmm on the same writable image fails clearly" lock
check exits "fio's requests cost far fewer PIO/MMIO exits than requests" exit_counts
check status "a failing guest.run script's status is vmm's exit status" status
[ "$fails" -eq 0 ]
