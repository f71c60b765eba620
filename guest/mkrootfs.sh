#!/bin/sh
# Builds the guest root disk: an ext4 image made with `mkfs.ext4 -d` (no loop
# mounts) holding busybox, fio with the shared libraries it needs, the init
# and the guest.run scripts, with the debug-exit helper beside them, and the
# hostile virtio-blk driver (guest.run=hostile) as /usr/bin/virtio-hostile.
# For a guest of another Debian architecture ARCH (arm64), busybox and fio
# come from that architecture's packages (scripts/fetch-debs, cached in
# DEBS), fio's libraries chosen as the host's fio links them.
#   usage: mkrootfs.sh OUT DEBUG-EXIT-BINARY HOSTILE-BINARY [ARCH DEBS]
set -eu
out=$1
debug_exit=$2
hostile=$3
arch=${4:-$(dpkg --print-architecture)}
here=$(cd "$(dirname "$0")" && pwd)
sysroot=/
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
	debs=${5:?mkrootfs.sh: a foreign ARCH needs a DEBS directory}
	# The packages holding the libraries the host's fio links, by name.
	libpkgs=$(ldd /usr/bin/fio | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
		while read -r lib; do
			# "pkg:arch: path", or "pkg: path" for packages that are
			# not Multi-Arch: same.
			dpkg -S "*/$(basename "$(dirname "$lib")")/$(basename "$lib")" 2>/dev/null | sed -n 's/^\([^:,]*\)\(:[a-z0-9]*\)\{0,1\}: .*/\1/p'
		done | sort -u)
	# shellcheck disable=SC2086
	"$here/../scripts/fetch-debs" "$arch" "$debs" busybox-static fio $libpkgs
	sysroot=$(cd "$debs/root" && pwd)
fi
stage=$(mktemp -d "${TMPDIR:-/tmp}/rootfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

echo "guest: building rootfs image $out" >&2
for d in bin sbin usr/bin usr/sbin usr/lib/guest-run etc root proc sys dev tmp run mnt var/tmp; do
	mkdir -p "$stage/$d"
done
cp "$sysroot/bin/busybox" "$stage/bin/busybox"
# The applet list comes from the host's busybox (the same package on every
# architecture; a foreign one cannot run here).
for applet in $(/bin/busybox --list-full); do
	[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done
# busybox installed /sbin/init as a symlink to the host path /bin/busybox:
# replace the link, never write through it.
rm -f "$stage/sbin/init"
cp "$here/rootfs/init" "$stage/sbin/init"
cp "$here"/run/* "$stage/usr/lib/guest-run/"
cp "$debug_exit" "$stage/usr/lib/guest-run/debug-exit"
cp "$hostile" "$stage/usr/bin/virtio-hostile"
mkdir -p "$stage/usr/share/guest-fio"
cp "$here"/fio/*.fio "$stage/usr/share/guest-fio/"

# fio and every shared library it links, at the same paths as on the host.
copy_with_libs() {
	bin=$1
	mkdir -p "$stage$(dirname "$bin")"
	cp -L "$bin" "$stage$bin"
	ldd "$bin" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
		while read -r lib; do
			mkdir -p "$stage$(dirname "$lib")"
			[ -e "$stage$lib" ] || cp -L "$lib" "$stage$lib"
		done
}
if [ "$sysroot" = / ]; then
	copy_with_libs /usr/bin/fio
else
	# Every shared library the fetched packages hold (ldd cannot run a
	# foreign binary), and fio.
	mkdir -p "$stage/usr/bin"
	cp -L "$sysroot/usr/bin/fio" "$stage/usr/bin/fio"
	(cd "$sysroot" && find lib usr/lib -name '*.so*' \( -type f -o -type l \) 2>/dev/null) |
		while read -r lib; do
			mkdir -p "$stage/$(dirname "$lib")"
			cp -a "$sysroot/$lib" "$stage/$lib"
		done
	# Every library fio links must be there: a missing one would only show
	# as a failing guest.
	for so in $(readelf -d "$stage/usr/bin/fio" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -n "$(find "$stage/lib" "$stage/usr/lib" -name "$so" 2>/dev/null | head -n 1)" ] || {
			echo "mkrootfs.sh: $arch fio needs $so, which no fetched package holds" >&2
			exit 1
		}
	done
fi

printf 'root:x:0:0:root:/root:/bin/sh\n' > "$stage/etc/passwd"
printf 'root:x:0:\n' > "$stage/etc/group"
printf 'export PS1="guest# "\n' > "$stage/etc/profile"

# Size: contents plus room for the journal and a little free space.
kib=$(du -sk "$stage" | cut -f1)
size=$(( (kib * 5 / 4 + 32768) / 1024 ))M
rm -f "$out.tmp"
mkfs.ext4 -q -F -L guestroot -d "$stage" "$out.tmp" "$size" >/dev/null
mv "$out.tmp" "$out"
