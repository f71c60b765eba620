#!/bin/bash
# The arm64 integration test: boots Debian's arm64 cloud kernel under
# build/arm64/vmm inside the arm64 test host (tests/kvmhost/run --arch
# arm64: emulated with TCG and EL2 on an x86 machine) and checks
#  - guest.run=smoke with 2 vCPUs, 512 MiB, root on virtio-blk: the marker,
#    2 CPUs online, MemTotal within 10% below 512 MiB, no device-tree or PCI
#    warnings in the boot log, the PMU driver bound, vmm exit 0 after the
#    PSCI power-off, --stats;
#  - guest.run=pci-info: two virtio-blk functions, MSI-X through the ITS;
#  - guest.run=fio-verify: fio write+verify on a second (writable) disk;
#  - guest.run=fail: status 3 through the debug-exit device on MMIO;
#  - guest.run=reboot: PSCI reset, vmm exit 0;
#  - guest.run=pvpanic-event: the pvpanic-pci device's PANICKED event
#    (written from guest user space: Debian's arm64 kernels have no
#    pvpanic driver), vmm exit 101;
#  - a non-Image kernel and an initrd too big for RAM: status 1, one line.
# Prints the time of each nested boot and closes with the totals line
# "arm64: N passed, M failed".  `make check-arm64` and `make check` run it.
# A test host whose own kernel froze or crashed (status 123, the TCG fault
# tests/integration/run-all also retries) is booted again, at most twice,
# loudly.  The boots' logs stay in build/arm64/smoke-logs/.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/arm64-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0 passes=0
check() {
	local what=$1
	shift
	if "$@"; then
		echo "  ok   $what"
		passes=$((passes + 1))
	else
		echo "  FAIL $what"
		fails=$((fails + 1))
	fi
}
status_is() { grep -qx "vmm-exit-status=$2" "$work/$1.log"; }
has() { grep -qE "$2" "$work/$1.log"; }
lacks() {
	if grep -E "$2" "$work/$1.log"; then return 1; fi
	return 0
}

tries=0
while :; do
	start=$(date +%s)
	rm -f "$work"/*.log
	"$top/tests/kvmhost/run" --arch arm64 --timeout "${ARM64_SMOKE_TIMEOUT:-900}" -- \
		sh "$top/tests/arm64/boots.sh" "$top" "$work"
	rc=$?
	echo "arm64: test host run: status $rc, $(($(date +%s) - start)) s"
	if [ "$rc" -ne 123 ] || [ "$tries" -ge 2 ]; then break; fi
	tries=$((tries + 1))
	echo "!!! RETRYING arm64: the test host froze or crashed (retry $tries of 2)"
done
if [ "$rc" -ne 0 ]; then
	echo "arm64: the test host failed (status $rc); the boots it logged:"
	for l in "$work"/*.log; do [ -f "$l" ] && { echo "=== $l"; tail -n 40 "$l"; }; done
	echo "arm64: 0 passed, 1 failed"
	exit 1
fi
for l in "$work"/*.log; do
	echo "--- $(basename "$l"): $(grep -E '^vmm-(exit-status|seconds)=' "$l" | tr '\n' ' ')"
done
rm -rf "$top/build/arm64/smoke-logs"
mkdir -p "$top/build/arm64/smoke-logs" && cp "$work"/*.log "$top/build/arm64/smoke-logs/"

echo "smoke:"
check "exit status 0" status_is smoke 0
check "marker with 2 CPUs" has smoke '^GUEST-SMOKE cpus=2 '
kb=$(sed -n 's/^GUEST-SMOKE .*memtotal_kb=\([0-9]*\).*/\1/p' "$work/smoke.log")
check "MemTotal ${kb:-?} kB within 10% below 512 MiB" \
	test "${kb:-0}" -le 524288 -a "${kb:-0}" -ge $((524288 * 90 / 100))
check "guest.run PASS" has smoke '^guest.run smoke: PASS'
check "kernel found the GICv3 ITS" has smoke 'ITS@0x0*8080000'
check "PCI host bridge from the device tree" has smoke 'pci-host-generic .*ECAM'
check "no device-tree, PCI or kernel warnings" lacks smoke \
	'OF: .*(warn|error|fail)|pci .*(fail|error|can.t)|WARNING:|Unable to|Call trace|BUG:'
check "console on ns16550a (ttyS0)" has smoke 'ttyS0 at MMIO 0x9000000'
# The test host's KVM (and arm64 servers') offers a PMUv3 to guests.
check "PMU from the device tree, its PPI working" has smoke 'hw perfevents: enabled with armv8_pmuv3'
check "--stats counters" has smoke '^  mmio +[0-9]+$'

echo "pci-info:"
check "exit status 0" status_is pci-info 0
check "two virtio functions, MSI-X vectors via the ITS" has pci-info '^PCI-INFO virtio_functions=2 msi_vectors=[1-9]'
check "interrupts are ITS-MSI" has pci-info '^IRQ .*ITS-MSI.*virtio'
check "pvpanic-pci function (1b36:0011) in slot 31" has pci-info '^PCI-DEV 0000:00:1f.0 0x1b36:0x0011 '

echo "fio-verify:"
check "exit status 0" status_is fio-verify 0
check "guest.run PASS" has fio-verify '^guest.run fio-verify: PASS'

echo "fail:"
check "status 3 through debug-exit" status_is fail 3
echo "reboot:"
check "exit status 0" status_is reboot 0
check "rebooted" has reboot '^GUEST-REBOOT'
echo "pvpanic:"
check "guest-panic status 101" status_is pvpanic 101
check "  ... through the pvpanic-pci BAR" has pvpanic '^GUEST-PVPANIC 0000:00:1f.0 bar0=0x'
check "  ... says why" has pvpanic 'guest kernel panicked \(pvpanic\)'
echo "bad input:"
check "non-Image kernel: status 1" status_is bad-kernel 1
check "  ... says why" has bad-kernel '^vmm: kernel .*(not an arm64 Image|gzip)'
check "initrd too big: status 1" status_is big-initrd 1
check "  ... says why" has big-initrd '^vmm: .*initrd.*does not fit'

if [ "$fails" -ne 0 ]; then
	echo "arm64: $fails checks failed; logs:"
	for l in "$work"/*.log; do echo "=== $l"; tail -n 40 "$l"; done
fi
echo "arm64: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
