#!/bin/sh
# The inner loop of tests/kvmhost/stability.sh --arch arm64, run inside the
# arm64 test host (busybox sh: the host's bash cannot run there).  Boots
# the arm64 guest under build/arm64/vmm with guest.run=fio-verify (2 vCPUs,
# 512 MiB, read-only root, a scratch disk), runs FIRST+1..N, and appends
# PASS, FAIL or DIED per boot to RESULTS, as stability.sh's own loop does.
# No retries; a boot that has not ended after STABILITY_BOOT_SEC (240) is
# killed and counts as DIED.
#   usage: stability-inside.sh TOP RESULTS FIRST N
top=$1 results=$2 first=$3 n=$4
vmm=$top/build/arm64/vmm
g=$top/build/arm64/guest
work=$(mktemp -d /tmp/arm64-stability.XXXXXX) || exit 125
trap 'rm -rf "$work"' EXIT
dd if=/dev/zero of="$work/scratch.img" bs=1M count=0 seek=64 2>/dev/null
gcpus=${STABILITY_GUEST_CPUS:-2}
i=$((first + 1))
while [ "$i" -le "$n" ]; do
	t0=$(date +%s)
	timeout "${STABILITY_BOOT_SEC:-240}" "$vmm" --kernel "$g/vmlinuz" --initrd "$g/initrd.img" \
		--cpus "$gcpus" --memory 512M --disk "path=$g/rootfs.img,readonly=on" \
		--disk "path=$work/scratch.img" \
		--cmdline "console=ttyS0 panic=-1 quiet root=/dev/vda guest.run=fio-verify" \
		</dev/null >"$work/log" 2>&1
	rc=$?
	if grep -q 'guest.run fio-verify: PASS' "$work/log" && [ "$rc" -eq 0 ]; then
		result=PASS
	elif grep -q 'guest.run fio-verify: FAIL' "$work/log"; then
		result=FAIL
	else
		result=DIED
		echo "    vmm status $rc; last lines:"
		tail -n 5 "$work/log" | sed 's/^/    /'
	fi
	echo "$result" >>"$results"
	printf 'run %2d: %-16s %4d s\n' "$i" "$result" "$(($(date +%s) - t0))"
	i=$((i + 1))
done
dmesg | grep -Ei 'panic|bug:|stack|corrupt|oops' | head -5
exit 0
