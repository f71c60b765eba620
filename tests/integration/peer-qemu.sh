#!/bin/bash
# Proof with a peer we did not write: inside the test host, Debian's own QEMU
# (-enable-kvm, virtio-blk-pci, rootfs.img as the root disk) boots our guest
# images with guest.run=smoke and guest.run=fio-verify; both must PASS.
# The benchmark issue measures vmm against exactly this setup.
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
kvmhost_reexec --timeout 900 -- "$0" "$@"

work=$(mktemp -d /run/peer-qemu.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
truncate -s 64M "$work/scratch.img"

only="  " fails=0

smoke() {
	local t0=$(date +%s.%N)
	guest_boot_expect smoke "$work/smoke.log" 300 peer_qemu_boot 2 "$work/scratch.img" \
		guest.run=smoke || return 1
	echo "  peer QEMU boot to PASS: $(echo "$(date +%s.%N) - $t0" | bc) s"
	grep -q '^GUEST-SMOKE cpus=2 memtotal_kb=[0-9]' "$work/smoke.log" || {
		echo "  smoke marker missing or wrong CPU count:" >&2
		grep GUEST-SMOKE "$work/smoke.log" >&2
		return 1
	}
}
fio_verify() {
	local t0=$(date +%s.%N)
	guest_boot_expect fio-verify "$work/fio.log" 600 peer_qemu_boot 2 "$work/scratch.img" \
		guest.run=fio-verify || return 1
	echo "  peer QEMU boot + fio-verify: $(echo "$(date +%s.%N) - $t0" | bc) s"
}

check smoke "peer QEMU boots the guest images (guest.run=smoke)" smoke
check fio-verify "peer QEMU runs fio write+verify on a second disk (guest.run=fio-verify)" fio_verify
[ "$fails" -eq 0 ]
