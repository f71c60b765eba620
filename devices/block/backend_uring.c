/*
 * io_uring block backend: one ring per I/O thread, requests batched into
 * the submission queue and handed to the kernel by submit(), completions
 * signalled on an eventfd registered with the ring so the I/O thread can
 * wait on guest kicks and completions with one epoll.
 */
#define _GNU_SOURCE
#include "devices/block/backend.h"

#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/iov.h"
#include "core/err.h"

struct uring_backend {
	struct block_backend be;
	struct io_uring ring;
	int efd;
};

static int uring_prep(struct uring_backend *u, struct block_io *io)
{
	int fd = u->be.params.fd;
	struct io_uring_sqe *sqe;
	int mode = 0;
	unsigned int cnt;

	if (io->op == BLOCK_IO_DISCARD || io->op == BLOCK_IO_WRITE_ZEROES) {
		mode = block_io_fallocate_mode(&u->be.params, io);
		if (mode < 0)
			return -EOPNOTSUPP;
	}
	sqe = io_uring_get_sqe(&u->ring);
	if (sqe == NULL) {
		/* Submission queue full: hand the batch over and go on. */
		int r = io_uring_submit(&u->ring);
		if (r < 0)
			return r;
		sqe = io_uring_get_sqe(&u->ring);
		if (sqe == NULL)
			return -EBUSY;
	}
	cnt = io->iovcnt > IOV_MAX ? IOV_MAX : io->iovcnt;
	switch (io->op) {
	case BLOCK_IO_READ:
		io_uring_prep_readv(sqe, fd, io->iov, cnt, io->offset);
		break;
	case BLOCK_IO_WRITE:
		io_uring_prep_writev(sqe, fd, io->iov, cnt, io->offset);
		break;
	case BLOCK_IO_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case BLOCK_IO_DISCARD:
	case BLOCK_IO_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, fd, mode, io->offset, io->len);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
	return 0;
}

static int uring_queue(struct block_backend *be, struct block_io *io)
{
	int r = uring_prep((struct uring_backend *)be, io);
	if (r == 0)
		be->inflight++;
	return r;
}

static int uring_submit(struct block_backend *be)
{
	struct uring_backend *u = (struct uring_backend *)be;
	int r;

	do {
		r = io_uring_submit(&u->ring);
	} while (r == -EINTR);
	return r < 0 ? r : 0;
}

/*
 * Accounts one completion.  Returns true when io is finished, false when
 * it was queued again (short transfer, EAGAIN): regular files can return
 * less than asked, e.g. when a signal or memory pressure interrupts.
 */
static bool uring_finish(struct uring_backend *u, struct block_io *io, int res)
{
	if (res == -EAGAIN || res == -EINTR) {
		if (uring_prep(u, io) == 0)
			return false;
		io->result = -EIO;
		return true;
	}
	if (res < 0) {
		io->result = res;
		return true;
	}
	if (io->op == BLOCK_IO_READ || io->op == BLOCK_IO_WRITE) {
		uint64_t want = block_io_bytes(io);
		if ((uint64_t)res < want) {
			if (res == 0) {
				io->result = -EIO;
				return true;
			}
			iov_advance(&io->iov, &io->iovcnt, (size_t)res);
			io->offset += (uint64_t)res;
			if (uring_prep(u, io) == 0)
				return false;
			io->result = -EIO;
			return true;
		}
	}
	io->result = 0;
	return true;
}

static int uring_reap(struct block_backend *be, bool wait, void (*done)(struct block_io *io, void *ctx),
		      void *ctx)
{
	struct uring_backend *u = (struct uring_backend *)be;
	struct io_uring_cqe *cqe;
	bool requeued = false;
	uint64_t count;
	int n = 0;

	if (wait && be->inflight > 0) {
		int r = uring_submit(be);
		if (r < 0)
			return r;
		do {
			r = io_uring_wait_cqe(&u->ring, &cqe);
		} while (r == -EINTR);
		if (r < 0)
			return r;
	}
	/* Reset the eventfd before looking at the queue: a completion posted
	 * after the last peek signals it again, so none is missed. */
	if (read(u->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -errno;
	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct block_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		if (!uring_finish(u, io, res)) {
			requeued = true;
			continue;
		}
		be->inflight--;
		done(io, ctx);
		n++;
	}
	if (requeued) {
		int r = uring_submit(be);
		if (r < 0)
			return r;
	}
	return n;
}

static int uring_completion_fd(struct block_backend *be)
{
	return ((struct uring_backend *)be)->efd;
}

static void uring_destroy(struct block_backend *be)
{
	struct uring_backend *u = (struct uring_backend *)be;

	io_uring_queue_exit(&u->ring);
	close(u->efd);
	free(u);
}

static const struct block_backend_ops uring_ops = {
	.name = "io_uring",
	.queue = uring_queue,
	.submit = uring_submit,
	.reap = uring_reap,
	.completion_fd = uring_completion_fd,
	.destroy = uring_destroy,
};

struct block_backend *block_backend_uring_create(const struct block_backend_params *params)
{
	struct uring_backend *u = calloc(1, sizeof(*u));
	unsigned int entries = params->depth;
	int r;

	if (u == NULL) {
		err_set("out of memory");
		return NULL;
	}
	if (entries < 8)
		entries = 8;
	if (entries > 1024)
		entries = 1024;
	r = io_uring_queue_init(entries, &u->ring, 0);
	if (r < 0) {
		err_set("io_uring_queue_init: %s", strerror(-r));
		free(u);
		return NULL;
	}
	u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->efd < 0) {
		err_errno("eventfd");
		io_uring_queue_exit(&u->ring);
		free(u);
		return NULL;
	}
	r = io_uring_register_eventfd(&u->ring, u->efd);
	if (r < 0) {
		err_set("io_uring_register_eventfd: %s", strerror(-r));
		close(u->efd);
		io_uring_queue_exit(&u->ring);
		free(u);
		return NULL;
	}
	u->be.ops = &uring_ops;
	u->be.params = *params;
	return &u->be;
}
