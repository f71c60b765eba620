# shellcheck shell=bash
# Shared by tests/integration/vmm-data.sh and vmm-kill.sh (source it): a
# work directory with a tmpfs of the test host's own, removed on exit.

# work_tmpfs NAME [CLEANUP]: sets work to a new directory /tmp/NAME.XXXXXX
# with a 512 MiB tmpfs at $work/t (fast, and a file system the test may
# fill up); exits 1 when it cannot be made.  On exit the script's
# background jobs are killed and waited for, then the function CLEANUP
# runs (the script's own loop and device-mapper devices, mounts inside
# $work/t), then the tmpfs is unmounted and $work removed.
work_tmpfs() {
	work=$(mktemp -d "/tmp/$1.XXXXXX") || exit 1
	work_cleanup=${2:-}
	trap work_tmpfs_cleanup EXIT
	mkdir -p "$work/t"
	mount -t tmpfs -o size=512M tmpfs "$work/t" || exit 1
}

work_tmpfs_cleanup() {
	# shellcheck disable=SC2046
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	[ -n "$work_cleanup" ] && "$work_cleanup"
	umount "$work/t" 2>/dev/null
	rm -rf "$work"
}
