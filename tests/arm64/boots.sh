#!/bin/sh
# Runs inside the arm64 test host (busybox sh, see tests/kvmhost/run --arch
# arm64): the arm64 guest boots that tests/arm64/smoke.sh checks, one log
# per boot in WORKDIR, each ending with the line "vmm-exit-status=N".
# One test host for all of them: booting it is the slow part.
#   usage: boots.sh TOP WORKDIR
top=$1 work=$2
vmm=$top/build/arm64/vmm
g=$top/build/arm64/guest
root="--disk path=$g/rootfs.img,readonly=on"

# A boot that runs past ARM64_BOOT_TIMEOUT seconds (a boot takes 5-20 s
# here) is a hang: the log gets each vmm thread's state, twice 5 s apart
# (which one still burns CPU, where the others wait), then vmm is stopped
# (SIGTERM: its --stats still print) and the boot fails, instead of the
# whole test host running into its timeout with nothing to show.
watch() {
	pid=$1 log=$2 n=0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		n=$((n + 1))
		[ "$n" -lt "${ARM64_BOOT_TIMEOUT:-240}" ] && continue
		echo "arm64: HUNG: vmm still running after $n s" >> "$log"
		for pass in 1 2; do
			for t in /proc/"$pid"/task/*; do
				echo "arm64: thread $(cat "$t/comm") $(cut -d' ' -f3,14,15 "$t/stat") wchan=$(cat "$t/wchan")" >> "$log"
			done
			[ "$pass" = 1 ] && sleep 5
		done
		kill "$pid"
		sleep 5
		kill -9 "$pid" 2>/dev/null
		return
	done
}

boot() {
	name=$1
	shift
	start=$(date +%s)
	echo "arm64: boot $name" >&2
	"$vmm" --kernel "$g/vmlinuz" --initrd "$g/initrd.img" "$@" </dev/null > "$work/$name.log" 2>&1 &
	pid=$!
	watch "$pid" "$work/$name.log"
	wait "$pid"
	echo "vmm-exit-status=$?" >> "$work/$name.log"
	echo "vmm-seconds=$(($(date +%s) - start))" >> "$work/$name.log"
}

# Full console output on the first boot: its log is checked for DT and PCI
# complaints.  The UART costs tens of ms per line under TCG, so the other
# boots are quiet.
boot smoke --cpus 2 --memory 512M $root --stats \
	--cmdline "console=ttyS0 panic=-1 root=/dev/vda guest.run=smoke"
dd if=/dev/zero of="$work/scratch.img" bs=1M count=0 seek=64 2>/dev/null
boot pci-info --cpus 2 --memory 512M $root --disk "path=$work/scratch.img" \
	--cmdline "console=ttyS0 panic=-1 quiet root=/dev/vda guest.run=pci-info"
boot fio-verify --cpus 2 --memory 512M $root --disk "path=$work/scratch.img" --stats \
	--cmdline "console=ttyS0 panic=-1 quiet root=/dev/vda guest.run=fio-verify"
boot fail --memory 256M $root \
	--cmdline "console=ttyS0 panic=-1 quiet root=/dev/vda guest.run=fail"
boot reboot --memory 256M $root \
	--cmdline "console=ttyS0 panic=-1 quiet root=/dev/vda guest.run=reboot"
boot pvpanic --memory 256M $root \
	--cmdline "console=ttyS0 panic=-1 quiet root=/dev/vda guest.run=pvpanic-event"
# Bad input: no VM starts.
"$vmm" --kernel "$g/initrd.img" --memory 256M </dev/null > "$work/bad-kernel.log" 2>&1
echo "vmm-exit-status=$?" >> "$work/bad-kernel.log"
"$vmm" --kernel "$g/vmlinuz" --initrd "$g/rootfs.img" --memory 64M </dev/null > "$work/big-initrd.log" 2>&1
echo "vmm-exit-status=$?" >> "$work/big-initrd.log"
exit 0
