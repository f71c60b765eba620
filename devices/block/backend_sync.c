/*
 * Synchronous block backend: preadv/pwritev/fdatasync/fallocate run in the
 * I/O thread as they are queued.  Used where io_uring is unavailable; it
 * serialises a disk's I/O but is otherwise equivalent.
 */
#define _GNU_SOURCE
#include "devices/block/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "devices/iov.h"

struct sync_backend {
	struct block_backend be;
	struct block_io *done_head;
	struct block_io *done_tail;
	unsigned int nwatch;
	bool cancelled;
	struct pollfd watch[BLOCK_BACKEND_MAX_WATCH];
	unsigned int tag[BLOCK_BACKEND_MAX_WATCH];
};

static int sync_rw(int fd, struct block_io *io)
{
	struct iovec *iov = io->iov;
	unsigned int n = io->iovcnt;
	off_t offset = (off_t)io->offset;

	while (n > 0) {
		int cnt = n > IOV_MAX ? IOV_MAX : (int)n;
		ssize_t r = io->op == BLOCK_IO_READ ? preadv(fd, iov, cnt, offset)
						    : pwritev(fd, iov, cnt, offset);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* The capacity was checked against the size at open: a zero
		 * transfer means the file shrank or the disk is full. */
		if (r == 0)
			return -EIO;
		offset += r;
		iov_advance(&iov, &n, (size_t)r);
	}
	return 0;
}

static int sync_run(struct block_backend *be, struct block_io *io)
{
	int fd = be->params.fd;
	int mode;

	switch (io->op) {
	case BLOCK_IO_READ:
	case BLOCK_IO_WRITE:
		return sync_rw(fd, io);
	case BLOCK_IO_FLUSH:
		return fdatasync(fd) < 0 ? -errno : 0;
	case BLOCK_IO_DISCARD:
	case BLOCK_IO_WRITE_ZEROES:
		mode = block_io_fallocate_mode(&be->params, io);
		if (mode < 0)
			return -EOPNOTSUPP;
		return fallocate(fd, mode, (off_t)io->offset, (off_t)io->len) < 0 ? -errno : 0;
	}
	return -EINVAL;
}

static int sync_queue(struct block_backend *be, struct block_io *io)
{
	struct sync_backend *s = (struct sync_backend *)be;

	io->result = sync_run(be, io);
	io->next = NULL;
	if (s->done_tail)
		s->done_tail->next = io;
	else
		s->done_head = io;
	s->done_tail = io;
	be->inflight++;
	return 0;
}

static int sync_submit(struct block_backend *be)
{
	(void)be;
	return 0;
}

static int sync_reap(struct block_backend *be, bool wait,
		     void (*done)(struct block_io *io, void *ctx), void *ctx)
{
	struct sync_backend *s = (struct sync_backend *)be;
	int n = 0;

	(void)wait; /* everything queued has already completed */
	while (s->done_head) {
		struct block_io *io = s->done_head;
		s->done_head = io->next;
		if (s->done_head == NULL)
			s->done_tail = NULL;
		be->inflight--;
		done(io, ctx);
		n++;
	}
	return n;
}

static int sync_watch(struct block_backend *be, int fd, unsigned int tag)
{
	struct sync_backend *s = (struct sync_backend *)be;

	if (s->nwatch >= BLOCK_BACKEND_MAX_WATCH)
		return -ENOSPC;
	s->watch[s->nwatch] = (struct pollfd){ .fd = fd, .events = POLLIN };
	s->tag[s->nwatch++] = tag;
	return 0;
}

/* Completed ios first; sleep in poll() only when there are none. */
static int sync_wait(struct block_backend *be, int64_t timeout_ns,
		     const struct block_backend_cb *cb, void *ctx)
{
	struct sync_backend *s = (struct sync_backend *)be;
	int n = sync_reap(be, false, cb->done, ctx);
	struct timespec ts = { .tv_sec = timeout_ns / 1000000000,
			       .tv_nsec = timeout_ns % 1000000000 };
	int r;

	if (s->cancelled || s->nwatch == 0)
		return n;
	if (n > 0)
		ts = (struct timespec){ 0 };
	do {
		r = ppoll(s->watch, s->nwatch, n == 0 && timeout_ns < 0 ? NULL : &ts, NULL);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	for (unsigned int i = 0; i < s->nwatch; i++) {
		uint64_t count;

		if (!(s->watch[i].revents & POLLIN))
			continue;
		/* EAGAIN: someone else read it first. */
		if (read(s->watch[i].fd, &count, sizeof(count)) == sizeof(count) && cb->event)
			cb->event(s->tag[i], ctx);
	}
	return n;
}

/* Nothing to cancel: every io ran when it was queued. */
static void sync_cancel(struct block_backend *be)
{
	((struct sync_backend *)be)->cancelled = true;
}

static unsigned int sync_room(const struct block_backend *be)
{
	(void)be;
	return UINT_MAX;
}

static void sync_destroy(struct block_backend *be)
{
	free(be);
}

static const struct block_backend_ops sync_ops = {
	.name = "sync",
	.queue = sync_queue,
	.submit = sync_submit,
	.reap = sync_reap,
	.watch = sync_watch,
	.wait = sync_wait,
	.cancel = sync_cancel,
	.room = sync_room,
	.destroy = sync_destroy,
};

struct block_backend *block_backend_sync_create(const struct block_backend_params *params)
{
	struct sync_backend *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		err_set("out of memory");
		return NULL;
	}
	s->be.ops = &sync_ops;
	s->be.params = *params;
	s->be.timed_wait = true;
	return &s->be;
}
