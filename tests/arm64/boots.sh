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

boot() {
	name=$1
	shift
	start=$(date +%s)
	echo "arm64: boot $name" >&2
	"$vmm" --kernel "$g/vmlinuz" --initrd "$g/initrd.img" "$@" </dev/null > "$work/$name.log" 2>&1
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
