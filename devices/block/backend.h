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

enum block_io_op {
	BLOCK_IO_READ,
	BLOCK_IO_WRITE,
	BLOCK_IO_FLUSH,	       /* fdatasync: data written before it is durable */
	BLOCK_IO_DISCARD,      /* deallocate [offset, offset + len) */
	BLOCK_IO_WRITE_ZEROES, /* [offset, offset + len) reads back zeroes */
};

struct block_io {
	enum block_io_op op;
	uint64_t offset;
	uint64_t len;	   /* DISCARD / WRITE_ZEROES */
	struct iovec *iov; /* READ / WRITE; the backend advances it on short transfers */
	unsigned int iovcnt;
	bool unmap;	       /* WRITE_ZEROES may deallocate */
	int result;	       /* on completion: 0 or -errno */
	void *opaque;	       /* the submitter's */
	struct block_io *next; /* backend-private list link */
};

struct block_backend;

/* What wait() reports, to the caller's ctx. */
struct block_backend_cb {
	void (*done)(struct block_io *io, void *ctx); /* an io completed */
	void (*event)(unsigned int tag, void *ctx);   /* a watched fd fired */
};

struct block_backend_ops {
	const char *name;
	/* Queues io, or runs it at once (sync).  0, or -errno: io not taken
	 * (-EBUSY: no room, see room()). */
	int (*queue)(struct block_backend *be, struct block_io *io);
	/* Hands everything queued to the kernel in one go.  0 or -errno. */
	int (*submit)(struct block_backend *be);
	/*
	 * Calls done() for every completed io and returns how many.  With
	 * wait, blocks until at least one completes if any is in flight.
	 */
	int (*reap)(struct block_backend *be, bool wait,
		    void (*done)(struct block_io *io, void *ctx), void *ctx);
	/* Watches the eventfd fd (at most BLOCK_BACKEND_MAX_WATCH): wait()
	 * reports each time it is signalled, as event(tag).  0 or -errno. */
	int (*watch)(struct block_backend *be, int fd, unsigned int tag);
	/*
	 * The I/O thread's one blocking call: submits what is queued, then
	 * sleeps until an io completes or a watched fd fires, for at most
	 * timeout_ns (BLOCK_WAIT_FOREVER; BLOCK_WAIT_NONE: not at all; a
	 * positive time only where timed_wait says the backend has one), and
	 * reports everything that did.  Returns the number of ios completed,
	 * or -errno.
	 */
	int (*wait)(struct block_backend *be, int64_t timeout_ns, const struct block_backend_cb *cb,
		    void *ctx);
	/* Asks the kernel to cancel every io in flight (best effort: they
	 * still complete, with -ECANCELED when cancelled) and stops watching. */
	void (*cancel)(struct block_backend *be);
	/* How many more ios may be queued before the next wait() without
	 * overflowing what the backend can report.  With nothing in flight
	 * it is at least params.depth, so a caller that asks for no more
	 * than depth at once always gets room eventually. */
	unsigned int (*room)(const struct block_backend *be);
	/* Whether completions are waiting that a wait(BLOCK_WAIT_NONE)
	 * would report, told without a system call; false when the backend
	 * cannot tell cheaply.  May be NULL. */
	bool (*pending)(const struct block_backend *be);
	void (*destroy)(struct block_backend *be);
};

#define BLOCK_BACKEND_MAX_WATCH 4

/* wait()'s timeouts besides a positive number of nanoseconds. */
#define BLOCK_WAIT_FOREVER ((int64_t)-1)
#define BLOCK_WAIT_NONE	   ((int64_t)0)

/* What the backend needs to know about the disk. */
struct block_backend_params {
	int fd;
	bool can_punch_hole; /* fallocate PUNCH_HOLE works on fd */
	bool can_zero_range; /* fallocate ZERO_RANGE works on fd */
	unsigned int depth;  /* expected in-flight ios (room() when idle) */
};

struct block_backend {
	const struct block_backend_ops *ops;
	struct block_backend_params params;
	unsigned int inflight;
	bool timed_wait; /* wait() honours a positive timeout cheaply */
};

enum block_backend_kind {
	BLOCK_BACKEND_AUTO, /* io_uring, else sync */
	BLOCK_BACKEND_IO_URING,
	BLOCK_BACKEND_SYNC,
};

/* Creates a backend; AUTO falls back to sync when io_uring cannot start.
 * NULL with err_msg() set on failure. */
struct block_backend *block_backend_create(enum block_backend_kind kind,
					   const struct block_backend_params *params);

struct block_backend *block_backend_uring_create(const struct block_backend_params *params);
struct block_backend *block_backend_sync_create(const struct block_backend_params *params);

/* fallocate mode for a DISCARD or WRITE_ZEROES io, -1 if unsupported. */
int block_io_fallocate_mode(const struct block_backend_params *params, const struct block_io *io);

/* Total bytes of a READ or WRITE. */
uint64_t block_io_bytes(const struct block_io *io);

#endif
