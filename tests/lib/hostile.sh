# Shared by tests/integration/vmm-hostile.sh and tests/bench/hostile-amp.sh
# (source it after guest-boot.sh): the disks of a hostile-guest boot and
# the boot itself.  The guest side is guest/tools/hostile.c (guest.run=hostile).

HOSTILE=$top/build/guest/virtio-hostile
HOSTILE_ROOT=path=$GUEST_DIR/rootfs.img,readonly=on
HOSTILE_CMDLINE='console=ttyS0 panic=-1 quiet loglevel=1 root=/dev/vda'

# hostile_prepare WORK SIZE-MIB: in WORK, the attacked disk (attacked.img:
# the host's pattern up to PATTERN_END, this run's id over its first bytes,
# zeros up to SIZE-MIB) and a third disk that nothing may touch
# (untouched.img, random).  Sets PATTERN_END, SCRATCH_START, SCRATCH_END
# (the layout virtio-hostile uses).
hostile_prepare() {
	local work=$1 size=$2 id
	[ -x "$HOSTILE" ] || { echo "hostile: build $HOSTILE first (make guest)" >&2; return 1; }
	eval "$("$HOSTILE" layout)"
	truncate -s "${size}M" "$work/attacked.img" &&
		"$HOSTILE" pattern "$work/attacked.img" "$PATTERN_END" || return 1
	id="HOSTILE-RUN-$(date +%s%N)-$RANDOM"
	printf '%s' "$id" > "$work/id"
	printf '%s' "$id" | dd of="$work/attacked.img" conv=notrunc status=none &&
		head -c 16M /dev/urandom > "$work/untouched.img"
}

# hostile_find_attacked WORK: sets ATTACKED to the test host's disk that
# carries WORK's id (the emulated test host attaches attacked.img with
# --disk: O_DIRECT works there, not on its 9p file system), or where the
# command runs directly on a KVM host, to the file itself.
hostile_find_attacked() {
	local id b
	id=$(cat "$1/id")
	ATTACKED=$1/attacked.img
	for b in /dev/vd?; do
		[ -b "$b" ] && [ "$(head -c "${#id}" "$b" 2>/dev/null)" = "$id" ] && ATTACKED=$b
	done
	export ATTACKED
}

# vmm_hostile_boot: boots guest.run=hostile under $VMM with the root disk,
# the attacked disk (direct=on) and the untouched one, vmm's stderr in
# $work/vmm.err; samples vmm's VmHWM while it runs and prints the peak and
# vmm's exit status as lines.  HOSTILE_AMP and HOSTILE_ONLY pass on to the
# guest (hostile.amp=, hostile.only=).
vmm_hostile_boot() {
	local pid hwm=0 k v rc args="guest.run=hostile hostile.amp=${HOSTILE_AMP:-4,64}"
	[ -n "${HOSTILE_ONLY:-}" ] && args="$args hostile.only=$HOSTILE_ONLY"
	# No leak check at exit: LeakSanitizer stops the world with a traced
	# child process, which vmm's seccomp filter (on, as users run it)
	# forbids; ASan and UBSan reports are what this test reads.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
	"$VMM" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --cpus 2 \
		--memory 512M --disk "$HOSTILE_ROOT" --disk "path=$ATTACKED,direct=on" \
		--disk "path=$work/untouched.img" --cmdline "$HOSTILE_CMDLINE $args" \
		</dev/null 2>"$work/vmm.err" &
	pid=$!
	# VmHWM only grows: the last value read before exit is the peak.
	# (Builtins only: this runs beside the guest for minutes.)
	while kill -0 "$pid" 2>/dev/null; do
		while read -r k v _; do
			[ "$k" = VmHWM: ] && hwm=$v
		done 2>/dev/null < "/proc/$pid/status"
		nap 0.2
	done
	wait "$pid"
	rc=$?
	echo "vmm-peak-kb=$hwm"
	echo "vmm-exit-status=$rc"
}
export -f vmm_hostile_boot
export HOSTILE_ROOT HOSTILE_CMDLINE GUEST_DIR
