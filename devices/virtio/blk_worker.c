/*
 * virtio-blk I/O thread (see blk_worker.h).
 *
 * Requests live in slots, one per possible in-flight chain (queue size).
 * A hostile guest can put the same head in the avail ring repeatedly and so
 * have more chains "in flight" than slots: then the thread stops popping,
 * leaves guest notifications disabled and resumes when completions free a
 * slot.
 *
 * No lost wake-ups: the thread disables notifications, drains, and only
 * sleeps after virtq_enable_notify() found the ring empty (that call
 * re-checks after a full barrier).  A kick that arrives meanwhile stays
 * pending on the eventfd and wakes epoll.
 */
#define _GNU_SOURCE
#include "devices/virtio/blk_worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/iov.h"
#include "core/err.h"
#include "core/log.h"
#include "core/thread.h"


enum { EV_KICK, EV_COMPLETION, EV_STOP };

struct blk_slot {
	struct virtq_req vreq;
	struct blk_request req;
	struct iovec *chain;      /* the chain's buffers (vreq.iov) */
	struct iovec *data;       /* the request's data slice of them */
	struct block_io io;         /* READ, WRITE or FLUSH */
	struct block_io *dwz;       /* DISCARD / WRITE_ZEROES: one io per range */
	unsigned int pending;     /* ios not completed yet */
	uint8_t status;
	void *bounce;             /* aligned copy for O_DIRECT, see disk.c */
	struct iovec bounce_iov;
	struct blk_slot *next_free;
};

struct blk_worker {
	struct blk_worker_params p;
	struct virtq vq;
	struct block_backend *be;
	struct blk_slot *slots;
	struct iovec *iov_pool;
	unsigned int nslots;
	unsigned int seg_cap;     /* chain buffers per slot */
	struct blk_slot *free;
	size_t dio_align;
	int epfd;
	int stop_fd;
	pthread_t thread;
	bool stopping;
	bool stalled;             /* out of slots with work left in the ring */
	bool need_notify;         /* pushed since the last should_notify */
	bool broken_reported;
	unsigned long bad_chains;
	struct blk_queue_stats stats;  /* written by the thread, read by anyone */
};

/* One writer: a relaxed load and store, so readers see whole values. */
static void count(uint64_t *counter, uint64_t n)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static void push_used(struct blk_worker *w, uint16_t head, uint32_t len)
{
	/* Fails only on a broken queue, which was already reported. */
	if (virtq_push(&w->vq, head, len) == 0)
		w->need_notify = true;
}

static void flush_notify(struct blk_worker *w)
{
	if (!w->need_notify || w->stopping)
		return;
	w->need_notify = false;
	if (virtq_should_notify(&w->vq)) {
		count(&w->stats.interrupts, 1);
		w->p.transport.notify_queue(w->p.transport.opaque, w->p.queue_index);
	}
}

static void complete_request(struct blk_worker *w, struct blk_slot *slot, uint8_t status)
{
	if (slot->req.status)
		*slot->req.status = status;
	push_used(w, slot->vreq.head, blk_used_len(&slot->req, status));
	free(slot->bounce);
	slot->bounce = NULL;
	free(slot->dwz);
	slot->dwz = NULL;
	slot->next_free = w->free;
	w->free = slot;
}

static void io_done(struct block_io *io, void *ctx)
{
	struct blk_worker *w = ctx;
	struct blk_slot *slot = io->opaque;

	if (io->result < 0)
		slot->status = VIRTIO_BLK_S_IOERR;
	if (--slot->pending > 0)
		return;
	if (slot->bounce && slot->req.type == VIRTIO_BLK_T_IN && slot->status == VIRTIO_BLK_S_OK)
		iov_from_buf(slot->req.data, slot->req.data_cnt, 0, slot->bounce, slot->req.data_len);
	complete_request(w, slot, slot->status);
}

/* Queues io on the backend; a refusal completes it with an error. */
static void queue_io(struct blk_worker *w, struct blk_slot *slot, struct block_io *io)
{
	io->opaque = slot;
	io->result = 0;
	if (w->be->ops->queue(w->be, io) < 0) {
		io->result = -EIO;
		io_done(io, w);
	}
}

/* O_DIRECT cannot use a misaligned guest buffer: copy through an aligned one. */
static int setup_bounce(struct blk_worker *w, struct blk_slot *slot)
{
	if (posix_memalign(&slot->bounce, w->dio_align, slot->req.data_len) != 0) {
		slot->bounce = NULL;
		return -1;
	}
	if (slot->req.type == VIRTIO_BLK_T_OUT)
		iov_to_buf(slot->req.data, slot->req.data_cnt, 0, slot->bounce, slot->req.data_len);
	slot->bounce_iov = (struct iovec){ .iov_base = slot->bounce, .iov_len = slot->req.data_len };
	slot->io.iov = &slot->bounce_iov;
	slot->io.iovcnt = 1;
	return 0;
}

static void start_rw(struct blk_worker *w, struct blk_slot *slot)
{
	struct block_io *io = &slot->io;

	if (slot->req.data_len == 0) {
		complete_request(w, slot, VIRTIO_BLK_S_OK);
		return;
	}
	*io = (struct block_io){
		.op = slot->req.type == VIRTIO_BLK_T_IN ? BLOCK_IO_READ : BLOCK_IO_WRITE,
		.offset = slot->req.sector * DISK_SECTOR_SIZE,
		.iov = slot->req.data,
		.iovcnt = slot->req.data_cnt,
	};
	if (w->p.disk->direct && !iov_is_aligned(slot->req.data, slot->req.data_cnt, w->dio_align) &&
	    setup_bounce(w, slot) < 0) {
		complete_request(w, slot, VIRTIO_BLK_S_IOERR);
		return;
	}
	slot->pending = 1;
	queue_io(w, slot, io);
}

static void start_dwz(struct blk_worker *w, struct blk_slot *slot)
{
	struct blk_dwz_range ranges[VIRTIO_BLK_MAX_DWZ_SEG];
	unsigned int n;
	uint8_t status;

	status = blk_parse_dwz(&w->p.limits, &slot->req, ranges, VIRTIO_BLK_MAX_DWZ_SEG, &n);
	if (status != VIRTIO_BLK_S_OK || n == 0) {
		complete_request(w, slot, status);
		return;
	}
	slot->dwz = calloc(n, sizeof(*slot->dwz));
	if (slot->dwz == NULL) {
		complete_request(w, slot, VIRTIO_BLK_S_IOERR);
		return;
	}
	/* Count them all before queueing: a sync backend completes at once. */
	slot->pending = n;
	for (unsigned int i = 0; i < n; i++) {
		slot->dwz[i] = (struct block_io){
			.op = slot->req.type == VIRTIO_BLK_T_DISCARD ? BLOCK_IO_DISCARD
								      : BLOCK_IO_WRITE_ZEROES,
			.offset = ranges[i].sector * DISK_SECTOR_SIZE,
			.len = (uint64_t)ranges[i].num_sectors * DISK_SECTOR_SIZE,
			.unmap = ranges[i].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
		};
		queue_io(w, slot, &slot->dwz[i]);
	}
}

static void start_request(struct blk_worker *w, struct blk_slot *slot)
{
	uint8_t status = blk_parse_request(&w->p.limits, &slot->vreq, &slot->req, slot->data,
					   w->seg_cap);

	slot->status = VIRTIO_BLK_S_OK;
	slot->pending = 0;
	if (status != VIRTIO_BLK_S_OK) {
		complete_request(w, slot, status);
		return;
	}
	switch (slot->req.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		start_rw(w, slot);
		return;
	case VIRTIO_BLK_T_FLUSH:
		slot->io = (struct block_io){ .op = BLOCK_IO_FLUSH };
		slot->pending = 1;
		queue_io(w, slot, &slot->io);
		return;
	case VIRTIO_BLK_T_GET_ID: {
		size_t len = slot->req.data_len < VIRTIO_BLK_ID_BYTES ? slot->req.data_len
								       : VIRTIO_BLK_ID_BYTES;
		iov_from_buf(slot->req.data, slot->req.data_cnt, 0, w->p.disk->serial, len);
		complete_request(w, slot, VIRTIO_BLK_S_OK);
		return;
	}
	default:  /* DISCARD, WRITE_ZEROES: blk_parse_request let nothing else by */
		start_dwz(w, slot);
		return;
	}
}

static void reap(struct blk_worker *w, bool wait)
{
	int r = w->be->ops->reap(w->be, wait, io_done, w);
	if (r < 0)
		log_warn("virtio-blk queue %u: %s: reaping completions: %s",
			w->p.queue_index, w->be->ops->name, strerror(-r));
}

static void report_broken(struct blk_worker *w)
{
	if (w->broken_reported)
		return;
	w->broken_reported = true;
	log_warn("virtio-blk queue %u: %s; device needs reset", w->p.queue_index,
		virtq_strerror(w->vq.error));
	w->p.transport.needs_reset(w->p.transport.opaque);
}

/* Pops until the ring is empty or slots run out.  false: stop for now. */
static bool drain_avail(struct blk_worker *w)
{
	while (w->free) {
		struct blk_slot *slot = w->free;

		slot->vreq.iov = slot->chain;
		slot->vreq.iov_cap = w->seg_cap;
		switch (virtq_pop(&w->vq, &slot->vreq)) {
		case VIRTQ_POP_EMPTY:
			return true;
		case VIRTQ_POP_BROKEN:
			report_broken(w);
			return false;
		case VIRTQ_POP_BAD_CHAIN:
			count(&w->stats.requests, 1);
			if (w->bad_chains++ == 0)
				log_warn("virtio-blk queue %u: bad request: %s",
					w->p.queue_index, virtq_strerror(w->vq.error));
			push_used(w, slot->vreq.head, 0);
			continue;
		case VIRTQ_POP_OK:
			count(&w->stats.requests, 1);
			w->free = slot->next_free;
			start_request(w, slot);
			continue;
		}
	}
	return true;
}

static void process_queue(struct blk_worker *w)
{
	w->stalled = false;
	for (;;) {
		bool more;

		virtq_disable_notify(&w->vq);
		more = drain_avail(w);
		/* One submission for the whole batch. */
		int r = w->be->ops->submit(w->be);
		if (r < 0)
			log_warn("virtio-blk queue %u: submit: %s", w->p.queue_index,
				strerror(-r));
		reap(w, false);
		if (!more || virtq_is_broken(&w->vq))
			break;
		if (w->free == NULL) {
			/* Notifications stay off: completions bring us back. */
			w->stalled = true;
			break;
		}
		if (!virtq_enable_notify(&w->vq))
			break;
	}
	flush_notify(w);
}

/* The eventfd's count: how many writes (kicks) it gathered; 0 if none. */
static uint64_t read_eventfd(int fd)
{
	uint64_t n;
	/* EAGAIN: someone else's read, or a non-blocking fd with nothing. */
	if (read(fd, &n, sizeof(n)) == sizeof(n))
		return n;
	if (errno != EAGAIN && errno != EINTR)
		log_warn("virtio-blk: reading eventfd: %s", strerror(errno));
	return 0;
}

static void *worker_main(void *arg)
{
	struct blk_worker *w = arg;
	struct epoll_event events[4];

	process_queue(w);
	while (!w->stopping) {
		bool kicked = false;
		int n = epoll_wait(w->epfd, events, 4, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("virtio-blk queue %u: epoll_wait: %s",
				w->p.queue_index, strerror(errno));
			w->p.transport.needs_reset(w->p.transport.opaque);
			break;
		}
		for (int i = 0; i < n; i++) {
			switch (events[i].data.u32) {
			case EV_KICK:
				count(&w->stats.kicks, read_eventfd(w->p.kick_fd));
				kicked = true;
				break;
			case EV_COMPLETION:
				reap(w, false);
				break;
			case EV_STOP:
				w->stopping = true;
				break;
			}
		}
		if (w->stopping)
			break;
		if (kicked || (w->stalled && w->free))
			process_queue(w);
		flush_notify(w);
	}
	w->stopping = true;
	/* Reset waits for this: nothing may write guest memory afterwards. */
	while (w->be->inflight > 0)
		reap(w, true);
	return NULL;
}

static int epoll_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void worker_free(struct blk_worker *w)
{
	if (w->be)
		w->be->ops->destroy(w->be);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	free(w->slots);
	free(w->iov_pool);
	free(w);
}

static int setup_slots(struct blk_worker *w)
{
	/* Header and status may sit in buffers of their own. */
	w->seg_cap = w->p.seg_max + 2;
	w->nslots = w->p.vq.size;
	w->slots = calloc(w->nslots, sizeof(*w->slots));
	w->iov_pool = calloc((size_t)w->nslots * w->seg_cap * 2, sizeof(*w->iov_pool));
	if (w->slots == NULL || w->iov_pool == NULL)
		return -1;
	for (unsigned int i = 0; i < w->nslots; i++) {
		struct blk_slot *s = &w->slots[i];
		s->chain = w->iov_pool + (size_t)i * w->seg_cap * 2;
		s->data = s->chain + w->seg_cap;
		s->next_free = w->free;
		w->free = s;
	}
	return 0;
}

static int setup_fds(struct blk_worker *w)
{
	int cfd = w->be->ops->completion_fd(w->be);

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->epfd < 0 || w->stop_fd < 0 || epoll_add(w->epfd, w->p.kick_fd, EV_KICK) < 0 ||
	    epoll_add(w->epfd, w->stop_fd, EV_STOP) < 0 ||
	    (cfd >= 0 && epoll_add(w->epfd, cfd, EV_COMPLETION) < 0)) {
		err_set("virtio-blk: I/O thread setup: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int blk_worker_start(const struct blk_worker_params *params, struct blk_worker **out)
{
	struct blk_worker *w = calloc(1, sizeof(*w));
	struct block_backend_params bp;

	if (w == NULL) {
		err_set("virtio-blk: out of memory");
		return -1;
	}
	w->p = *params;
	w->epfd = w->stop_fd = -1;
	w->dio_align = params->disk->dio_mem_align > DISK_SECTOR_SIZE ? params->disk->dio_mem_align
								      : DISK_SECTOR_SIZE;
	if (virtq_init(&w->vq, params->mem, &params->vq) < 0) {
		err_set("virtio-blk queue %u: %s", params->queue_index,
			 virtq_strerror(w->vq.error));
		worker_free(w);
		return -1;
	}
	if (setup_slots(w) < 0) {
		err_set("virtio-blk: out of memory");
		worker_free(w);
		return -1;
	}
	bp = (struct block_backend_params){
		.fd = params->disk->fd,
		.can_punch_hole = params->disk->can_punch_hole,
		.can_zero_range = params->disk->can_zero_range,
		.depth = w->nslots,
	};
	w->be = block_backend_create(params->backend, &bp);
	if (w->be == NULL || setup_fds(w) < 0) {
		worker_free(w);
		return -1;
	}
	char name[16];
	snprintf(name, sizeof(name), "blk-io%u", params->queue_index);
	if (thread_spawn(&w->thread, name, worker_main, w)) {
		worker_free(w);
		return -1;
	}
	*out = w;
	return 0;
}

void blk_worker_add_stats(const struct blk_worker *w, struct blk_queue_stats *acc)
{
	acc->requests += __atomic_load_n(&w->stats.requests, __ATOMIC_RELAXED);
	acc->kicks += __atomic_load_n(&w->stats.kicks, __ATOMIC_RELAXED);
	acc->interrupts += __atomic_load_n(&w->stats.interrupts, __ATOMIC_RELAXED);
}

void blk_worker_stop(struct blk_worker *w)
{
	uint64_t one = 1;

	/* An eventfd write of 1 cannot fail short of a counter overflow. */
	if (write(w->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("virtio-blk: stopping I/O thread: %s", strerror(errno));
	pthread_join(w->thread, NULL);
	worker_free(w);
}
