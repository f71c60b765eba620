/*
 * Opening a disk image: file type and permission checks, O_DIRECT, the
 * image lock, size, deallocation support, the serial for GET_ID.
 *
 * O_DIRECT and guest buffers: O_DIRECT needs buffers, lengths and offsets
 * aligned to the file system's direct-I/O alignment (statx DIOALIGN, 512
 * bytes when unknown).  Offsets and lengths are whole blocks of block_size:
 * the guest is told it as virtio-blk's blk_size, must accept it as its
 * logical block size, and the device rejects anything else; guest buffers are normally 512-aligned too, and the rare one
 * that is not goes through an aligned bounce buffer (blk_worker.c), so all
 * I/O of a direct disk really bypasses the page cache.
 */
#define _GNU_SOURCE
#include "devices/block/disk.h"
#include "core/err.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

static int check_type(const char *path, const struct stat *st)
{
	if (S_ISDIR(st->st_mode)) {
		err_set("disk %s: is a directory", path);
		return -1;
	}
	if (!S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode)) {
		err_set("disk %s: not a regular file or block device", path);
		return -1;
	}
	return 0;
}

static int open_image(const struct disk_config *cfg)
{
	const char *path = cfg->path;
	/* O_NONBLOCK: a FIFO swapped in after stat() must not hang us; it is
	 * cleared again before any I/O (io_uring honours it on files). */
	int flags = (cfg->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK;
	int fd;

	if (cfg->direct)
		flags |= O_DIRECT;
	fd = open(path, flags);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		err_set("disk %s: no such file", path);
	else if (!cfg->readonly && (errno == EACCES || errno == EROFS || errno == EPERM))
		err_set("disk %s: file is read-only; use readonly=on", path);
	else if (cfg->direct && errno == EINVAL)
		err_set("disk %s: direct=on is not supported by its file system", path);
	else
		err_set("disk %s: %s", path, strerror(errno));
	return -1;
}

static int image_size(int fd, const struct stat *st, uint64_t *size)
{
	if (S_ISBLK(st->st_mode))
		return ioctl(fd, BLKGETSIZE64, size);
	*size = (uint64_t)st->st_size;
	return 0;
}

/*
 * One vmm per writable image: a write lock for a writable disk, a read lock
 * for a read-only one (so no writer can open it while we read it).  OFD
 * locks belong to the open file, not the process, so they also conflict
 * within one process and are not dropped by closing some other fd.
 */
static int lock_image(int fd, const struct disk_config *cfg)
{
	struct flock fl = {
		.l_type = cfg->readonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES) {
		if (cfg->readonly)
			err_set("disk %s: image is locked: another process has it open for writing",
				cfg->path);
		else
			err_set("disk %s: image is locked: another process (another vmm?) is using it",
				cfg->path);
	} else {
		err_set("disk %s: cannot lock: %s", cfg->path, strerror(errno));
	}
	return -1;
}

/*
 * Deallocation support.  Punching a hole past the end of the file is a
 * harmless no-op where PUNCH_HOLE exists and EOPNOTSUPP where it does not.
 * ZERO_RANGE has no such harmless probe (past EOF it preallocates), so it
 * is trusted on the file systems known to implement it.
 */
static void probe_fallocate(struct disk *disk, const struct stat *st)
{
	struct statfs sfs;

	if (disk->readonly || !S_ISREG(st->st_mode))
		return;
	disk->can_punch_hole = fallocate(disk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					 (off_t)disk->size, DISK_SECTOR_SIZE) == 0;
	if (fstatfs(disk->fd, &sfs) == 0)
		disk->can_zero_range =
			sfs.f_type == EXT4_SUPER_MAGIC || sfs.f_type == XFS_SUPER_MAGIC;
}

static int probe_alignment(struct disk *disk, const char *path)
{
	struct statx stx;

	disk->block_size = DISK_SECTOR_SIZE;
	disk->dio_mem_align = 1;
	if (!disk->direct)
		return 0;
	disk->dio_mem_align = DISK_SECTOR_SIZE;
	if (statx(disk->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0 ||
	    !(stx.stx_mask & STATX_DIOALIGN) || stx.stx_dio_offset_align == 0)
		return 0;
	if (stx.stx_dio_offset_align > DISK_SECTOR_SIZE)
		disk->block_size = stx.stx_dio_offset_align;
	if (stx.stx_dio_mem_align > 0)
		disk->dio_mem_align = stx.stx_dio_mem_align;
	/* The guest must use block_size as its logical block (blk.c); Linux
	 * accepts powers of two up to its page size, 4 KiB on x86. */
	if (disk->block_size > DISK_MAX_BLOCK_SIZE || (disk->block_size & (disk->block_size - 1))) {
		return err_set(
			"disk %s: direct=on needs %u-byte aligned I/O here; at most %u is supported",
			path, disk->block_size, DISK_MAX_BLOCK_SIZE);
	}
	return 0;
}

/* A serial stable for the life of the file: FNV-1a of device and inode. */
static void derive_serial(struct disk *disk, const struct disk_config *cfg, const struct stat *st)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint64_t parts[2] = { (uint64_t)st->st_dev, (uint64_t)st->st_ino };
	char buf[DISK_SERIAL_LEN + 1];

	if (cfg->serial[0] != '\0') {
		memset(disk->serial, 0, sizeof(disk->serial));
		memcpy(disk->serial, cfg->serial, strnlen(cfg->serial, DISK_SERIAL_LEN));
		return;
	}
	for (unsigned int p = 0; p < 2; p++) {
		for (unsigned int i = 0; i < 8; i++) {
			h ^= (parts[p] >> (8 * i)) & 0xff;
			h *= 0x100000001b3ull;
		}
	}
	snprintf(buf, sizeof(buf), "vmm-%016llx", (unsigned long long)h);
	memcpy(disk->serial, buf, DISK_SERIAL_LEN);
}

static int check_image(const struct disk_config *cfg, struct disk *disk, struct stat *st)
{
	const char *path = cfg->path;
	int flags;

	if (fstat(disk->fd, st) < 0) {
		err_set("disk %s: %s", path, strerror(errno));
		return -1;
	}
	if (check_type(path, st) < 0)
		return -1;
	flags = fcntl(disk->fd, F_GETFL);
	if (flags < 0 || fcntl(disk->fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		err_set("disk %s: %s", path, strerror(errno));
		return -1;
	}
	if (image_size(disk->fd, st, &disk->size) < 0) {
		err_set("disk %s: cannot get size: %s", path, strerror(errno));
		return -1;
	}
	if (disk->size == 0) {
		err_set("disk %s: is empty", path);
		return -1;
	}
	if (disk->size % DISK_SECTOR_SIZE) {
		err_set("disk %s: size %llu is not a multiple of %u bytes", path,
			(unsigned long long)disk->size, DISK_SECTOR_SIZE);
		return -1;
	}
	return lock_image(disk->fd, cfg);
}

int disk_open(const struct disk_config *cfg, struct disk *disk)
{
	const char *path = cfg->path;
	struct stat st;

	memset(disk, 0, sizeof(*disk));
	disk->fd = -1;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			err_set("disk %s: no such file", path);
		else
			err_set("disk %s: %s", path, strerror(errno));
		return -1;
	}
	if (check_type(path, &st) < 0)
		return -1;
	/* root may open a file without write permission bits for writing; a
	 * file nobody may write is meant read-only all the same. */
	if (!cfg->readonly && S_ISREG(st.st_mode) &&
	    !(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))) {
		err_set("disk %s: file is read-only; use readonly=on", path);
		return -1;
	}
	disk->fd = open_image(cfg);
	if (disk->fd < 0)
		return -1;
	disk->readonly = cfg->readonly;
	disk->direct = cfg->direct;
	if (check_image(cfg, disk, &st) < 0) {
		disk_close(disk);
		return -1;
	}
	probe_fallocate(disk, &st);
	if (probe_alignment(disk, path) < 0) {
		disk_close(disk);
		return -1;
	}
	derive_serial(disk, cfg, &st);
	snprintf(disk->path, sizeof(disk->path), "%s", path);
	return 0;
}

void disk_report_error(struct disk *disk, const char *what, uint64_t offset, int err)
{
	uint64_t bit = 1ull << (err > 0 && err < 63 ? err : 63);
	struct stat st;

	if (__atomic_fetch_or(&disk->errors_reported, bit, __ATOMIC_RELAXED) & bit)
		return;
	/* A read past the end of a file that shrank comes back short (-EIO
	 * from the backend): say what really happened. */
	if (err == EIO && fstat(disk->fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size < disk->size) {
		log_warn(
			"disk %s: %s at byte %llu failed: the file is now %llu bytes, shorter than "
			"the disk (%llu): truncated while in use?  The guest gets I/O errors past "
			"its end (reported once)",
			disk->path, what, (unsigned long long)offset,
			(unsigned long long)st.st_size, (unsigned long long)disk->size);
		return;
	}
	log_warn("disk %s: %s at byte %llu failed: %s; the guest gets an I/O error (this error "
		 "is reported once)",
		 disk->path, what, (unsigned long long)offset, strerror(err));
}

void disk_set_flush_failed(struct disk *disk)
{
	__atomic_store_n(&disk->flush_failed, true, __ATOMIC_RELEASE);
}

bool disk_flush_failed(const struct disk *disk)
{
	return __atomic_load_n(&disk->flush_failed, __ATOMIC_ACQUIRE);
}

void disk_close(struct disk *disk)
{
	if (disk->fd >= 0)
		close(disk->fd);
	disk->fd = -1;
}
