/*
 * Block backend interface: how a disk's I/O thread submits reads, writes,
 * flushes and deallocations on the disk's fd and learns they completed.
 * Two implementations: io_uring (backend_uring.c) and a synchronous one
 * (backend_sync.c) for kernels or sandboxes without io_uring.
 *
 * A backend instance belongs to one thread; nothing here locks.
 */
#ifndef DEVICES_BLOCK_BACKEND_H
#define DEVICES_BLOCK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum blk_io_op {
	BLK_IO_READ,
	BLK_IO_WRITE,
	BLK_IO_FLUSH,         /* fdatasync: data written before it is durable */
	BLK_IO_DISCARD,       /* deallocate [offset, offset + len) */
	BLK_IO_WRITE_ZEROES,  /* [offset, offset + len) reads back zeroes */
};

struct blk_io {
	enum blk_io_op op;
	uint64_t offset;
	uint64_t len;          /* DISCARD / WRITE_ZEROES */
	struct iovec *iov;     /* READ / WRITE; the backend advances it on short transfers */
	unsigned int iovcnt;
	bool unmap;            /* WRITE_ZEROES may deallocate */
	int result;            /* on completion: 0 or -errno */
	void *opaque;          /* the submitter's */
	struct blk_io *next;   /* backend-private list link */
};

struct blk_backend;

struct blk_backend_ops {
	const char *name;
	/* Queues io, or runs it at once (sync).  0, or -errno: io not taken. */
	int (*queue)(struct blk_backend *be, struct blk_io *io);
	/* Hands everything queued to the kernel in one go.  0 or -errno. */
	int (*submit)(struct blk_backend *be);
	/*
	 * Calls done() for every completed io and returns how many.  With
	 * wait, blocks until at least one completes if any is in flight.
	 */
	int (*reap)(struct blk_backend *be, bool wait, void (*done)(struct blk_io *io, void *ctx),
		    void *ctx);
	/* Readable when completions wait to be reaped; -1 if reap never has
	 * anything that was not already there after submit. */
	int (*completion_fd)(struct blk_backend *be);
	void (*destroy)(struct blk_backend *be);
};

/* What the backend needs to know about the disk. */
struct blk_backend_params {
	int fd;
	bool can_punch_hole;   /* fallocate PUNCH_HOLE works on fd */
	bool can_zero_range;   /* fallocate ZERO_RANGE works on fd */
	unsigned int depth;    /* expected in-flight requests */
};

struct blk_backend {
	const struct blk_backend_ops *ops;
	struct blk_backend_params params;
	unsigned int inflight;
};

enum blk_backend_kind {
	BLK_BACKEND_AUTO,      /* io_uring, else sync */
	BLK_BACKEND_IO_URING,
	BLK_BACKEND_SYNC,
};

/* Creates a backend; AUTO falls back to sync when io_uring cannot start.
 * NULL with err_msg() set on failure. */
struct blk_backend *blk_backend_create(enum blk_backend_kind kind,
				       const struct blk_backend_params *params);

struct blk_backend *blk_backend_uring_create(const struct blk_backend_params *params);
struct blk_backend *blk_backend_sync_create(const struct blk_backend_params *params);

/* fallocate mode for a DISCARD or WRITE_ZEROES io, -1 if unsupported. */
int blk_io_fallocate_mode(const struct blk_backend_params *params, const struct blk_io *io);

/* Total bytes of a READ or WRITE. */
uint64_t blk_io_bytes(const struct blk_io *io);

#endif
