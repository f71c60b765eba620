#!/bin/sh
# Fetches Debian's arm64 qemu-system-aarch64 with every shared library it
# links into DIR/root (scripts/fetch-debs: apt-get download + dpkg-deb -x,
# nothing installed), for the arm64 benchmark (tests/arm64/bench.sh) to run
# as a peer of vmm inside the arm64 test host, whose user space is busybox.
# The libraries' packages are chosen as the host's own qemu-system-aarch64
# (the same Debian version) links them; it runs there through the fetched
# dynamic loader (DIR/root/lib/ld-linux-aarch64.so.1 --library-path ...).
#   usage: fetch-qemu.sh DIR
set -eu
dir=${1:?usage: fetch-qemu.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
host_qemu=$(command -v qemu-system-aarch64) || {
	echo "fetch-qemu.sh: qemu-system-aarch64 is not installed here (apt-get install qemu-system-arm)" >&2
	exit 1
}
libpkgs=$(ldd "$host_qemu" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
	while read -r lib; do
		dpkg -S "*/$(basename "$(dirname "$lib")")/$(basename "$lib")" 2>/dev/null |
			sed -n 's/^\([^:,]*\)\(:[a-z0-9]*\)\{0,1\}: .*/\1/p'
	done | sort -u)
# shellcheck disable=SC2086
"$here/../../scripts/fetch-debs" arm64 "$dir" qemu-system-arm $libpkgs
root=$dir/root
if [ ! -x "$root/usr/bin/qemu-system-aarch64" ] || [ ! -e "$root/lib/ld-linux-aarch64.so.1" ]; then
	echo "fetch-qemu.sh: no qemu-system-aarch64 or dynamic loader in $root" >&2
	exit 1
fi
for so in $(readelf -d "$root/usr/bin/qemu-system-aarch64" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
	[ -n "$(find "$root/lib" "$root/usr/lib" -name "$so" 2>/dev/null | head -n 1)" ] || {
		echo "fetch-qemu.sh: qemu-system-aarch64 needs $so, which no fetched package holds" >&2
		exit 1
	}
done
