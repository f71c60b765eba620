/*
 * io_uring block backend: one ring per I/O thread.  The ring is the
 * thread's only event source: ios are batched into the submission queue,
 * the guest's kick eventfd and the stop eventfd are watched by multishot
 * polls in the same ring, and wait() submits and sleeps in one
 * io_uring_enter.  Where the kernel has them the ring is single-issuer with
 * deferred task work (no task-work interruptions, completions run only
 * when the thread asks), else cooperative task work, else plain.
 *
 * Completion-queue room: the ios in flight plus what the watches may post
 * never exceed the CQ (room()); a kernel that still reports -EBUSY gets
 * its completions reaped and the submission retried.
 */
#define _GNU_SOURCE
#include "devices/block/backend.h"

#include <errno.h>
#include <liburing.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/err.h"
#include "devices/iov.h"

/* user_data of the ring's own requests; block_io pointers are aligned. */
#define TAG_WATCH  1u /* | index << 2 */
#define TAG_CANCEL 2u
/* CQEs a multishot poll may post between two waits, kept free for it. */
#define WATCH_CQ_RESERVE 8u

struct uring_watch {
	int fd;
	unsigned int tag;
	bool armed;
	bool multishot;
};

struct uring_backend {
	struct block_backend be;
	struct io_uring ring;
	unsigned int cq_entries;
	unsigned int setup_flags;
	bool enabled;	/* R_DISABLED rings start on their first use */
	bool cancelled; /* no more watches */
	unsigned int nwatch;
	struct uring_watch watch[BLOCK_BACKEND_MAX_WATCH];
};

static unsigned int reserved(const struct uring_backend *u)
{
	return u->nwatch * WATCH_CQ_RESERVE + 1; /* + a cancel request */
}

static unsigned int uring_room(const struct block_backend *be)
{
	const struct uring_backend *u = (const struct uring_backend *)be;
	unsigned int used = be->inflight + reserved(u);

	return used >= u->cq_entries ? 0 : u->cq_entries - used;
}

/* The thread that first uses a single-issuer ring becomes its issuer. */
static int ensure_enabled(struct uring_backend *u)
{
	if (u->enabled)
		return 0;
	/* (liburing 2.3 declares io_uring_enable_rings but does not export it) */
	if ((u->setup_flags & IORING_SETUP_R_DISABLED) &&
	    syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		    0) < 0)
		return -errno;
	u->enabled = true;
	return 0;
}

/* One io_uring_enter: submit, and wait for `want` completions, for at
 * most timeout_ns when it is positive (timed_wait: the kernel takes the
 * timeout as an argument; running out of it is no error).  -EBUSY
 * (completion queue overflowed on older kernels) is left to the caller,
 * which reaps and retries. */
static int enter(struct uring_backend *u, unsigned int want, int64_t timeout_ns)
{
	int r = ensure_enabled(u);

	if (r < 0)
		return r;
	do {
		if (want && timeout_ns > 0) {
			struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000,
							.tv_nsec = timeout_ns % 1000000000 };
			struct io_uring_cqe *cqe;

			r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, want, &ts, NULL);
			if (r == -ETIME)
				r = 0;
		} else if (want)
			r = io_uring_submit_and_wait(&u->ring, want);
		else if (u->setup_flags & IORING_SETUP_DEFER_TASKRUN)
			r = io_uring_submit_and_get_events(&u->ring);
		else
			r = io_uring_submit(&u->ring);
	} while (r == -EINTR);
	return r < 0 ? r : 0;
}

static struct io_uring_sqe *get_sqe(struct uring_backend *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (sqe == NULL) {
		/* Submission queue full: hand the batch over and go on. */
		if (enter(u, 0, BLOCK_WAIT_NONE) < 0)
			return NULL;
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

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
	sqe = get_sqe(u);
	if (sqe == NULL)
		return -EBUSY;
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
	int r;

	if (uring_room(be) == 0)
		return -EBUSY;
	r = uring_prep((struct uring_backend *)be, io);
	if (r == 0)
		be->inflight++;
	return r;
}

static int uring_submit(struct block_backend *be)
{
	return enter((struct uring_backend *)be, 0, BLOCK_WAIT_NONE);
}

static int arm_watch(struct uring_backend *u, unsigned int i)
{
	struct uring_watch *wt = &u->watch[i];
	struct io_uring_sqe *sqe = get_sqe(u);

	if (sqe == NULL)
		return -EBUSY;
	if (wt->multishot)
		io_uring_prep_poll_multishot(sqe, wt->fd, POLLIN);
	else
		io_uring_prep_poll_add(sqe, wt->fd, POLLIN);
	io_uring_sqe_set_data64(sqe, TAG_WATCH | (uint64_t)i << 2);
	wt->armed = true;
	return 0;
}

static int uring_watch(struct block_backend *be, int fd, unsigned int tag)
{
	struct uring_backend *u = (struct uring_backend *)be;
	unsigned int i = u->nwatch;

	if (i >= BLOCK_BACKEND_MAX_WATCH)
		return -ENOSPC;
	u->watch[i] = (struct uring_watch){ .fd = fd, .tag = tag, .multishot = true };
	u->nwatch++;
	return arm_watch(u, i);
}

/*
 * A watch fired.  A multishot poll stays armed and the eventfd's count is
 * never read (each signal wakes the poll once).  A one-shot poll (the
 * kernel has no multishot, or it ended) needs the count read, or it would
 * fire again at once, and re-arming.
 */
static void watch_cqe(struct uring_backend *u, unsigned int i, const struct io_uring_cqe *cqe,
		      const struct block_backend_cb *cb, void *ctx)
{
	struct uring_watch *wt = &u->watch[i];
	uint64_t count;

	if (cqe->res == -EINVAL && wt->multishot) {
		wt->multishot = false; /* before 5.13 */
		arm_watch(u, i);
		return;
	}
	if (cqe->res > 0 && cb && cb->event)
		cb->event(wt->tag, ctx);
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	wt->armed = false;
	if (u->cancelled || cqe->res == -ECANCELED)
		return;
	/* EAGAIN: someone else read it first. */
	if (read(wt->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	arm_watch(u, i);
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

/* Everything in the completion queue, without entering the kernel. */
static int drain_cq(struct uring_backend *u, const struct block_backend_cb *cb, void *ctx)
{
	struct io_uring_cqe *cqe;
	int n = 0;

	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		uint64_t data = io_uring_cqe_get_data64(cqe);
		struct block_io *io = (struct block_io *)(uintptr_t)data;
		int res = cqe->res;

		if (data & TAG_WATCH) {
			struct io_uring_cqe copy = *cqe;
			io_uring_cqe_seen(&u->ring, cqe);
			watch_cqe(u, (unsigned int)(data >> 2), &copy, cb, ctx);
			continue;
		}
		io_uring_cqe_seen(&u->ring, cqe);
		if (data == TAG_CANCEL)
			continue;
		if (!uring_finish(u, io, res))
			continue;
		u->be.inflight--;
		if (cb && cb->done)
			cb->done(io, ctx);
		n++;
	}
	return n;
}

static int uring_wait(struct block_backend *be, int64_t timeout_ns,
		      const struct block_backend_cb *cb, void *ctx)
{
	struct uring_backend *u = (struct uring_backend *)be;
	int n = 0, r;

	for (;;) {
		/* Something already there: do not sleep for more. */
		bool block = timeout_ns != BLOCK_WAIT_NONE && io_uring_cq_ready(&u->ring) == 0;

		r = enter(u, block ? 1 : 0, timeout_ns);
		n += drain_cq(u, cb, ctx);
		if (r != -EBUSY)
			break;
		/* Overflowed on an older kernel: the queue is reaped now. */
		timeout_ns = BLOCK_WAIT_NONE;
	}
	return r < 0 ? r : n;
}

static int uring_reap(struct block_backend *be, bool wait,
		      void (*done)(struct block_io *io, void *ctx), void *ctx)
{
	const struct block_backend_cb cb = { .done = done };

	return uring_wait(be, wait && be->inflight > 0 ? BLOCK_WAIT_FOREVER : BLOCK_WAIT_NONE, &cb,
			  ctx);
}

static void uring_cancel(struct block_backend *be)
{
	struct uring_backend *u = (struct uring_backend *)be;
	struct io_uring_sqe *sqe;

	u->cancelled = true;
	sqe = get_sqe(u);
	if (sqe == NULL)
		return;
	/* Reads of regular files and block devices already running cannot be
	 * cancelled; they complete on their own. */
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data64(sqe, TAG_CANCEL);
	enter(u, 0, BLOCK_WAIT_NONE);
}

/* With TASKRUN_FLAG the kernel sets IORING_SQ_TASKRUN while completions
 * wait in task work for the thread to enter; without it only what is
 * already in the completion queue is seen. */
static bool uring_pending(const struct block_backend *be)
{
	const struct uring_backend *u = (const struct uring_backend *)be;

	return (__atomic_load_n(u->ring.sq.kflags, __ATOMIC_ACQUIRE) & IORING_SQ_TASKRUN) ||
	       io_uring_cq_ready(&u->ring) > 0;
}

static void uring_destroy(struct block_backend *be)
{
	struct uring_backend *u = (struct uring_backend *)be;

	io_uring_queue_exit(&u->ring);
	free(u);
}

static const struct block_backend_ops uring_ops = {
	.name = "io_uring",
	.queue = uring_queue,
	.submit = uring_submit,
	.reap = uring_reap,
	.watch = uring_watch,
	.wait = uring_wait,
	.cancel = uring_cancel,
	.room = uring_room,
	.pending = uring_pending,
	.destroy = uring_destroy,
};

/* Best first; a kernel that does not know a flag refuses it (EINVAL). */
#define DEFER_TIER                                                                           \
	(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED | \
	 IORING_SETUP_SUBMIT_ALL)
#define COOP_TIER (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL)
static const unsigned int setup_tiers[] = {
	DEFER_TIER | IORING_SETUP_TASKRUN_FLAG, /* pending() sees task work */
	DEFER_TIER,
	COOP_TIER | IORING_SETUP_TASKRUN_FLAG,
	COOP_TIER,
	0,
};

struct block_backend *block_backend_uring_create(const struct block_backend_params *params)
{
	struct uring_backend *u = calloc(1, sizeof(*u));
	unsigned int entries = params->depth;
	int r = -EINVAL;

	if (u == NULL) {
		err_set("out of memory");
		return NULL;
	}
	if (entries < 8)
		entries = 8;
	if (entries > 1024)
		entries = 1024;
	/* room() must reach depth when idle: the CQ (twice the SQ) holds
	 * depth ios plus what the watches and a cancel may post. */
	if (2 * entries < params->depth + BLOCK_BACKEND_MAX_WATCH * WATCH_CQ_RESERVE + 1)
		entries = (params->depth + BLOCK_BACKEND_MAX_WATCH * WATCH_CQ_RESERVE + 2) / 2;
	for (unsigned int i = 0; i < sizeof(setup_tiers) / sizeof(setup_tiers[0]); i++) {
		r = io_uring_queue_init(entries, &u->ring, setup_tiers[i]);
		if (r != -EINVAL) {
			u->setup_flags = setup_tiers[i];
			break;
		}
	}
	if (r < 0) {
		err_set("io_uring_queue_init: %s", strerror(-r));
		free(u);
		return NULL;
	}
	u->cq_entries = *u->ring.cq.kring_entries;
	u->be.ops = &uring_ops;
	u->be.params = *params;
	/* Without the timeout argument (before Linux 5.11) liburing would
	 * queue a timeout request of its own, whose completion this backend
	 * does not expect: no timed waits then. */
	u->be.timed_wait = u->ring.features & IORING_FEAT_EXT_ARG;
	return &u->be;
}
