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
};

/*
 * Opens, locks and checks the image: O_RDWR, or O_RDONLY for readonly;
 * O_DIRECT for direct; an OFD lock (write lock for a writable disk, read
 * lock for a read-only one) so no other process writes the image while we
 * use it.  0, or -1 with one line in err ("disk FILE: reason").
 */
int disk_open(const struct disk_config *cfg, struct disk *disk);

/* Closes the fd (which drops the lock). */
void disk_close(struct disk *disk);

#endif
