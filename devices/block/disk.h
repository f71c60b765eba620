/*
 * Disk images: the `--disk` option and opening a backing file or block
 * device for a virtio-blk disk (mode, O_DIRECT, locking, size and
 * capability checks).  Errors come back as one line of text for the CLI
 * to print as "vmm: <message>".
 */
#ifndef DEVICES_BLOCK_DISK_H
#define DEVICES_BLOCK_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISK_SECTOR_SIZE    512u
#define DISK_MAX_BLOCK_SIZE 4096u /* largest logical block a guest takes */
#define DISK_SERIAL_LEN	    20u	  /* virtio-blk GET_ID size */
#define DISK_PATH_MAX	    4096u

#define DISK_MAX_QUEUES	    16

/* --disk path=FILE[,readonly=on|off][,direct=on|off][,serial=ID][,queues=N] */
/* How the guest notifies the device: the transport's business, carried
 * here because it is a per-disk option (vmm/disk_attach.c acts on it). */
enum disk_notify {
	DISK_NOTIFY_DEFAULT, /* the VMM's choice for the platform */
	DISK_NOTIFY_PIO,     /* a port I/O notify structure first (x86) */
	DISK_NOTIFY_MMIO,    /* MMIO notify only */
};

struct disk_config {
	char path[DISK_PATH_MAX];
	bool readonly;
	bool direct;
	char serial[DISK_SERIAL_LEN + 1]; /* empty: derived from the file */
	unsigned int queues;		  /* request queues; 0: the VMM's default */
	enum disk_notify notify;	  /* how the guest kicks (for the transport) */
};

struct disk {
	int fd;
	uint64_t size; /* bytes, a multiple of DISK_SECTOR_SIZE */
	bool readonly;
	bool direct;
	bool can_punch_hole;	      /* discard, write-zeroes with unmap */
	bool can_zero_range;	      /* write-zeroes keeping allocation */
	uint32_t block_size;	      /* logical block the guest must use (I/O unit) */
	uint32_t dio_mem_align;	      /* O_DIRECT buffer alignment (1 without direct) */
	char serial[DISK_SERIAL_LEN]; /* not NUL-terminated when 20 chars long */
	char path[DISK_PATH_MAX];     /* as given, for messages */
	/* Written by the disk's I/O threads (atomics): */
	uint64_t errors_reported; /* errnos already logged, see disk_report_error */
	bool flush_failed;	  /* sticky, see disk_flush_failed */
};

/*
 * Opens, locks and checks the image: O_RDWR, or O_RDONLY for readonly;
 * O_DIRECT for direct; an OFD lock (write lock for a writable disk, read
 * lock for a read-only one) so no other process writes the image while we
 * use it.  0, or -1 with one line in err ("disk FILE: reason").
 */
int disk_open(const struct disk_config *cfg, struct disk *disk);

/*
 * A host I/O error the guest will see as VIRTIO_BLK_S_IOERR: logs one line
 * the first time this errno happens on this disk (any queue), none after,
 * so a guest retrying into a full file system or a bad sector cannot flood
 * the log.  what: "read", "write", "flush", ...  A read that found the file
 * shorter than the disk says so (the file was truncated under us).
 */
void disk_report_error(struct disk *disk, const char *what, uint64_t offset, int err);

/*
 * Flush failures are sticky: once fdatasync has failed, the kernel may have
 * dropped the dirty pages it could not write back and reports the error
 * only once per open file, so a later fdatasync would "succeed" for data
 * that is gone.  Every later flush of the disk fails too (what QEMU does
 * too); the guest must not be told its data is durable.
 */
void disk_set_flush_failed(struct disk *disk);
bool disk_flush_failed(const struct disk *disk);

/* Closes the fd (which drops the lock). */
void disk_close(struct disk *disk);

#endif
