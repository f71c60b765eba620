#!/bin/sh
# Fetches one of Debian 12's kernels with `apt-get download`, unpacks it with
# `dpkg-deb -x` into DIR (never installing it into the host's /boot), runs
# depmod on its module tree and copies the kernel image to OUT (a bzImage on
# amd64; on arm64 Debian's vmlinuz is the uncompressed Image vmm boots).
# ARCH is a Debian architecture (default amd64); a foreign one must be known
# to dpkg (dpkg --add-architecture, done by scripts/ensure-packages).
#   usage: fetch-kernel.sh cloud|generic DIR OUT [ARCH]
set -eu
flavour=$1 out=$3 arch=${4:-amd64}
mkdir -p "$2"
dir=$(cd "$2" && pwd)
case "$flavour" in
cloud) meta=linux-image-cloud-$arch ;;
generic) meta=linux-image-$arch ;;
*) echo "fetch-kernel.sh: unknown flavour '$flavour'" >&2; exit 2 ;;
esac

# The meta package depends on the versioned image package: resolve it.
pkg=$(apt-cache depends "$meta:$arch" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*\).*$/\1/p' | head -n 1)
if [ -z "$pkg" ]; then
	echo "fetch-kernel.sh: cannot resolve $meta (run: apt-get update)" >&2
	exit 1
fi
echo "guest: fetching kernel $pkg" >&2
rm -rf "$dir"
mkdir -p "$dir/deb"
# apt's download sandbox user must be able to write the directory.
(cd "$dir/deb" && apt-get download -q "$pkg:$arch" >/dev/null 2>"$dir/apt.log") || {
	cat "$dir/apt.log" >&2
	echo "fetch-kernel.sh: apt-get download $pkg failed" >&2
	exit 1
}
dpkg-deb -x "$dir"/deb/*.deb "$dir/root"
kver=${pkg#linux-image-}
depmod -b "$dir/root" "$kver"
echo "$kver" > "$dir/version"
mkdir -p "$(dirname "$out")"
cp "$dir/root/boot/vmlinuz-$kver" "$out.tmp"
mv "$out.tmp" "$out"
