#!/bin/bash
# Boot-time benchmark (not part of `make check`): inside the test host, boots
# the smoke guest (initramfs only, 1 vCPU) RUNS=5 times per configuration
# under each vmm binary and under Debian's QEMU (-enable-kvm, same kernel,
# initrd and command line), the runs alternating between the VMMs, and
# reports per configuration min/median/max of
#   - start of the VMM process -> the guest init's GUEST-SMOKE marker line;
#   - vmm only: start -> its first KVM_RUN (vmm --stats reports it), and
#     its exits to user space for the whole boot, with the ports that took
#     most of them.
# Memory: 512 MiB and 8 GiB for everyone, and 16 GiB for vmm alone (QEMU
# reserves guest RAM up front and the 10 GiB test host cannot give it that):
# vmm maps RAM without touching it, so its start-up must not grow with the
# memory size.  Each memory size runs in a test host of its own; one that
# dies is booted again and that size's runs repeated, and the output says so.
#   usage: tests/bench/boot-time.sh
#   BOOT_VMMS="vmm pvh"  the vmm columns: vmm boots the bzImage (as QEMU
#                     does), pvh the same kernel uncompressed (build/guest/
#                     vmlinux, through the PVH entry); NAME=PATH adds a binary
#                     under another name (e.g. "base=/tmp/vmm-main vmm"),
#                     under the project tree or /tmp, which the test host
#                     shares, and NAME=PATH@pvh boots it through PVH
#   BOOT_QEMU=0       leave QEMU out
#   BOOT_CMDLINE=...  the guest's command line (default below; e.g. add
#                     quiet to see what a boot costs besides its console)
#   RUNS=5
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"

MEMS="512M 8G 16G"
# Outside: each memory size in a test host of its own, so that a test host
# that dies (its kernel can stall under the emulation's load) costs one
# size's runs, which are then run again (at most twice), loudly.
if [ -z "${KVMHOST_INSIDE:-}" ]; then
	out=$(mktemp /tmp/boot-time.XXXXXX)
	trap 'rm -f "$out"' EXIT
	for mem in $MEMS; do
		for try in 1 2 3; do
			BOOT_MEM=$mem "$top/tests/kvmhost/run" --memory 10G --timeout 3600 -- "$0" "$@" 2>&1 |
				tee "$out" | grep --line-buffered -v '^RESULT ' >&2
			rc=${PIPESTATUS[0]}
			case $rc in
			0) sed -n 's/^RESULT //p' "$out"; break ;;
			123 | 125) echo "boot-time: the test host died (status $rc) during the $mem runs; running them again" ;;
			*) echo "boot-time: the $mem runs failed (status $rc)" >&2; exit 1 ;;
			esac
			[ "$try" = 3 ] && { echo "boot-time: gave up on $mem" >&2; exit 1; }
		done
	done
	exit 0
fi

RUNS=${RUNS:-5}
CMDLINE=${BOOT_CMDLINE:-console=ttyS0 panic=-1 guest.run=smoke}
work=$(mktemp -d /tmp/boot-time.XXXXXX)
trap 'rm -rf "$work"' EXIT

names=() paths=() kernels=()
for v in ${BOOT_VMMS:-vmm pvh}; do
	k=$GUEST_DIR/vmlinuz
	case "$v" in
	*=*@pvh) k=$GUEST_DIR/vmlinux v=${v%@pvh} ;;
	esac
	case "$v" in
	*=*) names+=("${v%%=*}") paths+=("${v#*=}") ;;
	vmm) names+=(vmm) paths+=("$top/build/vmm") ;;
	pvh) names+=(pvh) paths+=("$top/build/vmm") k=$GUEST_DIR/vmlinux ;;
	*) echo "boot-time: BOOT_VMMS: '$v' is neither vmm, pvh nor NAME=PATH[@pvh]" >&2; exit 2 ;;
	esac
	kernels+=("$k")
	[ -r "$k" ] || { echo "boot-time: $k: missing (make guest builds it)" >&2; exit 2; }
done
[ "${BOOT_QEMU:-1}" = 0 ] || names+=(qemu) paths+=(qemu) kernels+=("$GUEST_DIR/vmlinuz")
for p in "${paths[@]}"; do
	[ "$p" = qemu ] || [ -x "$p" ] || { echo "boot-time: $p: not an executable here" >&2; exit 2; }
done

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Runs a VMM command; prints "<ms to marker> <first-KVM_RUN ms> <user exits>"
# (- where unknown).  The console goes through a reader that notes when the
# marker arrives.
measure() {
	local log=$work/run.log t0 marker
	t0=$(now_ms)
	"$@" </dev/null 2>"$work/stderr" | while IFS= read -r line; do
		case "$line" in
		GUEST-SMOKE*) echo "MARKER $(($(now_ms) - t0))" ;;
		esac
		printf '%s\n' "$line"
	done > "$log"
	marker=$(sed -n 's/^MARKER //p' "$log")
	if [ -z "$marker" ]; then
		echo "boot failed: $*" >&2
		tail -n 5 "$log" "$work/stderr" >&2
		echo "- - -"
		return
	fi
	local first exits
	first=$(sed -n 's/^vmm: first KVM_RUN \([0-9.]*\) ms.*/\1/p' "$work/stderr")
	exits=$(awk '$1 == "total" { print $2; exit }' "$work/stderr")
	# The ports that took most exits, for the summary.
	awk '/^vmm: exits to user space by place/ { on = 1; next } /^vmm:/ { on = 0 }
	     on && $1 == "port" { n[$2] += $3 } END { for (p in n) print p, n[p] }' \
		"$work/stderr" >> "$work/ports.$who"
	echo "$marker ${first:--} ${exits:--}"
}

run_one() {
	local who=$1 path=$2 mem=$3 kernel=$4
	if [ "$path" = qemu ]; then
		measure qemu-system-x86_64 -enable-kvm -cpu host -m "$mem" -M pc \
			-nodefaults -no-user-config -display none -no-reboot -serial stdio \
			-kernel "$GUEST_DIR/vmlinuz" -initrd "$GUEST_DIR/initrd.img" \
			-append "$CMDLINE"
	else
		measure "$path" --kernel "$kernel" --initrd "$GUEST_DIR/initrd.img" \
			--cmdline "$CMDLINE" --memory "$mem" --stats
	fi
}

# stats "values...": min/median/max
stats() {
	printf '%s\n' "$@" | grep -v '^-$' | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "min %8.1f  median %8.1f  max %8.1f  (n=%d)\n", v[1], m, v[NR], NR
		}'
}

echo "RESULT boot-time: $RUNS runs each, alternating, 1 vCPU, inside the test host ($(uname -r))"
for mem in ${BOOT_MEM:-$MEMS}; do
	declare -A res=()
	for r in $(seq "$RUNS"); do
		for i in "${!names[@]}"; do
			who=${names[$i]}
			[ "${paths[$i]}" = qemu ] && [ "$mem" = 16G ] && continue
			echo "  $mem run $r: ${who}" >&2
			res[$who]+="$(run_one "$who" "${paths[$i]}" "$mem" "${kernels[$i]}");"
		done
	done
	for i in "${!names[@]}"; do
		who=${names[$i]}
		[ -n "${res[$who]:-}" ] || continue
		IFS=';' read -r -a rows <<< "${res[$who]}"
		markers=() firsts=() exits=()
		for row in "${rows[@]}"; do
			read -r m f e <<< "$row"
			markers+=("$m") firsts+=("$f") exits+=("$e")
		done
		printf 'RESULT %-6s %-4s to marker (ms):      %s\n' "$who" "$mem" "$(stats "${markers[@]}")"
		[ "${paths[$i]}" = qemu ] && continue
		printf 'RESULT %-6s %-4s to first KVM_RUN (ms): %s\n' "$who" "$mem" "$(stats "${firsts[@]}")"
		printf 'RESULT %-6s %-4s exits to user space:   %s\n' "$who" "$mem" "$(stats "${exits[@]}")"
	done
	unset res
done
for i in "${!names[@]}"; do
	who=${names[$i]}
	[ -s "$work/ports.$who" ] || continue
	printf 'RESULT %-6s %-4s exits per boot by port (mean): %s\n' "$who" "${BOOT_MEM:-all}" \
		"$(awk '{ n[$1] += $2; c[$1]++ } END { for (p in n) printf "%s %d\n", p, n[p] / c[p] }' \
			"$work/ports.$who" | sort -k2 -rn | head -n 5 | awk '{ printf "%s%s=%s", s, $1, $2; s = ", " }')"
done
