#!/bin/bash
# Peak memory of vmm under the O_DIRECT bounce amplification attack (issue 9
# item 1; not part of `make check`).  In one test host, each vmm named is
# booted twice with the hostile guest running only the amplification
# attack (guest/tools/hostile.c): once with a token attack (1 request of
# about 2 MiB: the baseline, mostly guest RAM the guest touched) and once
# with HOSTILE_AMP (default 8 requests of 128 MiB of misaligned buffers
# each, all overlapping one 2 MiB guest huge page, in flight at once).  vmm's
# VmHWM is sampled while it runs; the report gives both peaks and their
# difference, which is what vmm allocated for the attack.
#   usage: tests/bench/hostile-amp.sh [LABEL=VMM]...   (default: now=build/vmm)
# The test host gets 6 GiB so that an unbounded vmm can show how far it goes.
set -u
. "$(dirname "$0")/../lib/guest-boot.sh"
# shellcheck source=../lib/hostile.sh
. "$top/tests/lib/hostile.sh"

if [ "${1:-}" = --inside ]; then
	work=$2
	shift 2
	hostile_find_attacked "$work"
	export work HOSTILE_ONLY=amplification
	for spec in "$@"; do
		export VMM=${spec#*=}
		for amp in 1,2 "$HOSTILE_AMP"; do
			export HOSTILE_AMP=$amp
			log=$work/${spec%%=*}-$amp.log
			guest_boot_expect hostile "$log" 1200 vmm_hostile_boot > /dev/null 2>&1
			peak=$(sed -n 's/^vmm-peak-kb=//p' "$log" | tr -d '\r' | tail -n 1)
			line=$(tr -d '\r' < "$log" | grep -a '^HOSTILE amplification: ' | tail -n 1)
			echo "peak ${spec%%=*} $amp ${peak:-?} $(sed -n 's/^vmm-exit-status=//p' "$log" | tail -n 1)"
			echo "  ${line:-no amplification line; vmm stderr: $(tail -n 3 "$work/vmm.err" | tr '\n' ' ')}"
		done
	done
	exit 0
fi

[ $# -gt 0 ] || set -- "now=$top/build/vmm"
work=$(mktemp -d /tmp/hostile-amp.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOSTILE_AMP=${HOSTILE_AMP:-8,128}
hostile_prepare "$work" 256 || exit 1
"$top/tests/kvmhost/run" --memory 6G --timeout 3600 --disk "$work/attacked.img" -- \
	"$0" --inside "$work" "$@" | tee "$work/report"
echo "--- vmm's peak memory (VmHWM) under the amplification attack"
awk '$1 == "peak" { p[$2, $3] = $4; e[$2, $3] = $5; if (!($2 in seen)) { seen[$2] = 1; order[n++] = $2 } }
	$1 == "peak" && $3 != "1,2" { amp[$2] = $3 }
	END { for (i = 0; i < n; i++) { l = order[i]
		printf "%-8s baseline %7d KiB (exit %s), attack %s: %7d KiB (exit %s), difference %+d KiB\n",
			l, p[l, "1,2"], e[l, "1,2"], amp[l], p[l, amp[l]], e[l, amp[l]], p[l, amp[l]] - p[l, "1,2"] } }' \
	"$work/report"
