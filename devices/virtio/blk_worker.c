/*
 * virtio-blk I/O thread (see blk_worker.h).
 *
 * One loop, one blocking call: the backend's wait() submits what the last
 * pass queued and sleeps until an io completes, the guest kicks or stop is
 * asked (with io_uring all three arrive in the one ring).  Each pass then
 * completes what finished, takes new chains, and ends with one used-index
 * publication and at most one interrupt.
 *
 * Requests live in slots, one per possible in-flight chain (queue size).
 * A hostile guest can put the same head in the avail ring repeatedly and so
 * have more chains "in flight" than slots: then the thread stops popping,
 * leaves guest notifications disabled and resumes when completions free a
 * slot.  It stalls the same way when the backend has no room for another
 * request's ios (the io_uring completion queue must not overflow) or, with
 * direct=on, when the bounce pool is all in use: what the VMM allocates on
 * the guest's behalf is bounded.
 *
 * No lost wake-ups: chains are taken with virtq_pop_or_enable_notify(),
 * which re-arms guest notifications and re-checks the ring before it
 * reports empty; and no wait is unbounded, so a notification lost below
 * us costs a tenth of a second (BLK_IDLE_RECHECK_NS).
 * Kick batching: while requests are in flight their
 * completions bring the thread back, and each pass takes what the guest
 * added meanwhile, so the guest is not asked to kick at all (avail_event
 * is left a whole ring ahead); with one or none in flight it is asked to
 * kick for the next chain.  A kick is an exit of the guest's vCPU and a
 * wake-up of this thread: at queue depth 32 in the test host the guest
 * made 0.4 kicks per request when asked to kick after half as many new
 * chains as were in flight, and 0.19 with this rule.
 * Bounded: should nothing complete for four times the recent interval
 * between completions (1 to 10 ms: BLK_KICK_QUIET_MIN_NS/MAX_NS; slow
 * requests in flight, say), the thread asks for kicks again and re-checks
 * the ring, so a new request never waits longer than that for slow ones.
 * (A fixed 1 ms expired at almost every pass in the emulated test host,
 * where completions come in batches about 2 ms apart: 0.26 kicks per
 * request instead of 0.14.)
 * Refills: a guest at depth that got everything back at once (a merged
 * io) posts a burst of new chains; asked to kick for the first of them it
 * kicks again for the second, as this thread has taken only one (two or
 * three kicks per burst of eight at seqwrite 128k qd8).  So after such a
 * drain the guest is asked to kick once it has posted as many chains as
 * its recent refills (refill_est: grows by one per refill that met it, up
 * to the deepest recent in-flight count; falls to what came when a refill
 * wait runs out), and the wait is bounded by twice the recent refill time
 * (20 us to 2 ms; doubled when a wait ran out before anything came), after
 * which kicks are asked for at once again.  A guest at queue depth 1 never
 * has more than one in flight, so its refills are never waited for.
 * Measured (README, "One kick per refill"): kicks per request 0.24 -> 0.10,
 * interrupts 0.27 -> 0.13, seqwrite 128k qd8 +86 %, randwrite 4k qd32 +63 %.
 */
#define _GNU_SOURCE
#include "devices/virtio/blk_worker.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/thread.h"
#include "devices/iov.h"

enum {
	EV_KICK,
	EV_STOP
};

/* What an io's opaque points to. */
enum io_owner {
	OWNER_SLOT,
	OWNER_MERGE
};

struct blk_slot {
	enum io_owner owner; /* OWNER_SLOT; first, see io_done */
	struct virtq_req vreq;
	struct blk_request req;
	struct iovec *chain;  /* the chain's buffers (vreq.iov) */
	struct iovec *data;   /* the request's data slice of them */
	struct block_io io;   /* READ, WRITE or FLUSH */
	struct block_io *dwz; /* DISCARD / WRITE_ZEROES: one io per range,
			       * max_req_ios of them from dwz_pool */
	unsigned int pending; /* ios not completed yet */
	uint8_t status;
	void *bounce;	     /* a pool chunk for O_DIRECT, see disk.c */
	uint32_t bounce_off; /* data bytes done through it */
	uint32_t bounce_len; /* in the chunk now in flight */
	struct iovec bounce_iov;
	struct blk_slot *next_free;
	struct blk_slot *next; /* in a merge or the retry list */
};

/*
 * Request merging: the reads and writes a pass takes are sorted, and runs
 * of adjacent same-direction requests go to the backend as one io (up to
 * BLK_MERGE_MAX_BYTES and BLK_MERGE_MAX_SEGS buffers).  Each original
 * request is completed on its own; if the merged io fails they are retried
 * one by one, so an error lands only on the request it belongs to.
 *
 * A merge takes two slots at least, so nslots / 2 merges can be in flight;
 * their descriptors and iovec arrays are allocated with the worker (the
 * pages are touched only once used), and a pass with none free queues its
 * requests unmerged.  Nothing is allocated per request.
 *
 * The bound is 256 KiB, not more: a merged io completes only when all of
 * it is done, so merging everything in flight leaves the disk one io at a
 * time.  At seqread/seqwrite 128k qd8 in the test host, 1 MiB merged 86 %
 * of requests (eight into one) and gave 4300/4292 IOPS, 256 KiB gave
 * 4974/4808 with a narrower spread, no merging 5006/4852 (README, "Merge
 * bound").  VMM_BLK_TUNE=merge-max=KIB sets another, up to 1 MiB.
 */
#define BLK_MERGE_MAX_BYTES (256u << 10)
#define BLK_MERGE_CAP_BYTES (1u << 20)
/* BLK_MERGE_CAP_BYTES in 4 KiB pages. */
#define BLK_MERGE_MAX_SEGS (IOV_MAX < 256 ? IOV_MAX : 256)

struct blk_merge {
	enum io_owner owner; /* OWNER_MERGE */
	struct block_io io;
	struct blk_slot *slots; /* linked by next */
	struct blk_merge *next_free;
	struct iovec *iov; /* BLK_MERGE_MAX_SEGS, from merge_iov */
};

/* How long the guest may go unheard while requests are in flight: four
 * recent completion intervals, within these bounds. */
#define BLK_KICK_QUIET_MIN_NS 1000000
#define BLK_KICK_QUIET_MAX_NS 10000000

/*
 * The wait for a kick is bounded as well: after BLK_IDLE_RECHECK_NS without
 * a kick or a completion the thread looks at the ring anyway, and counts
 * what it finds there (stats.unnotified), as such chains were posted with
 * no notification reaching it.  Seen in the test host (nested KVM, its
 * Linux 6.1): with a kick asked for after every chain
 * (VMM_BLK_TUNE=no-kick-batching), a guest at seqread 128k qd8 stalled about
 * once every 100,000 requests with chains in the ring, avail_event asking
 * to be told of them and the I/O thread asleep in io_uring_enter with its
 * kick poll armed; writing the kick eventfd by hand resumed it.  A lost
 * notification then costs a tenth of a second, not the guest.  One wake-up
 * per tenth of a second of an idle queue is what it costs otherwise.
 */
#define BLK_IDLE_RECHECK_NS 100000000

/*
 * Refills (see the top of this file): how long the guest may take to post
 * the chains it is expected to post after a drain: twice the time its
 * recent refills took, within these bounds.  The window over which the
 * deepest in-flight count is kept, in passes.
 */
#define BLK_REFILL_QUIET_MIN_NS 20000
#define BLK_REFILL_QUIET_MAX_NS 2000000
#define BLK_PEAK_WINDOW		64

struct blk_worker {
	struct blk_worker_params p;
	struct virtq vq;
	struct block_backend *be;
	struct blk_slot *slots;
	struct iovec *iov_pool;
	struct blk_dwz_range *ranges;
	unsigned int nranges;	  /* DISCARD / WRITE_ZEROES segments per request */
	unsigned int max_req_ios; /* backend ios one request may need */
	unsigned int nslots;
	unsigned int seg_cap; /* chain buffers per slot */
	struct blk_slot *free;
	size_t dio_align;
	void *bounce_free[BLK_BOUNCE_CHUNKS];
	unsigned int nbounce_free;
	unsigned int nbounce;	 /* chunks allocated */
	struct blk_slot **batch; /* reads and writes of this pass, to merge */
	unsigned int nbatch;
	struct blk_slot *retry;	  /* from failed merges, to queue one by one */
	struct blk_merge *merges; /* nslots / 2 of them, see blk_merge */
	struct iovec *merge_iov;
	struct blk_merge *merge_free;
	struct block_io *dwz_pool; /* max_req_ios per slot, with DISCARD or
				    * WRITE_ZEROES */
	int stop_fd;
	pthread_t thread;
	bool stop_asked; /* set by blk_worker_stop, atomic */
	bool stopping;
	bool kick_batching;
	bool kicks_off;	    /* the guest was last told not to kick */
	bool quiet_expired; /* and nothing completed within the quiet time */
	int64_t last_done;  /* when the last wait with completions returned */
	int64_t interval;   /* recent time between such waits (EWMA), busy */
	/* Refills: after a pass that left fewer than two in flight. */
	bool refill_batching;
	bool refill_waiting;			   /* that pass ended; the next one judges it */
	bool refill_deferred;			   /* and asked the guest for refill_est chains */
	bool kicked;				   /* a kick arrived in the last wait */
	unsigned int refill_est;		   /* chains the guest posts in one refill */
	int64_t refill_start;			   /* when that pass ended */
	int64_t refill_time;			   /* recent time a refill took (EWMA) */
	unsigned int taken;			   /* chains taken in this pass */
	unsigned int peak, peak_prev, peak_passes; /* deepest in flight, recent */
	unsigned int refill_peak;		   /* the larger of the two */
	bool completion_batching;
	bool merging;
	uint64_t merge_max_bytes; /* BLK_MERGE_MAX_BYTES unless tuned */
	bool late_join;		  /* see late_completions */
	bool need_notify;	  /* pushed since the last should_notify */
	/* Depth accounting (see account_depth): since when, and what. */
	int64_t depth_since;
	uint32_t depth_reqs, depth_ios;
	/* The state it last slept in, packed for other threads (see
	 * blk_worker_wait_state); 0 in [0] until then. */
	uint64_t wait_words[3];
	bool broken_reported;
	bool unnotified_reported;
	unsigned long bad_chains;
	struct blk_queue_stats stats; /* written by the thread, read by anyone */
};

/* One writer: a relaxed load and store, so readers see whole values. */
static void count(uint64_t *counter, uint64_t n)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static void push_used(struct blk_worker *w, uint16_t head, uint32_t len)
{
	/* Fails only on a broken queue, which was already reported. */
	if ((w->completion_batching ? virtq_add_used(&w->vq, head, len)
				    : virtq_push(&w->vq, head, len)) == 0)
		w->need_notify = true;
}

/* The end of a pass: one used-index store, at most one interrupt. */
static void flush_notify(struct blk_worker *w)
{
	virtq_publish_used(&w->vq);
	if (!w->need_notify || w->stopping)
		return;
	w->need_notify = false;
	if (virtq_should_notify(&w->vq)) {
		count(&w->stats.interrupts, 1);
		w->p.transport.notify_queue(w->p.transport.opaque, w->p.queue_index);
	}
}

/* ---- the bounce pool: at most BLK_BOUNCE_CHUNKS chunks per queue ---- */

static bool bounce_available(const struct blk_worker *w)
{
	return w->nbounce_free > 0 || w->nbounce < BLK_BOUNCE_CHUNKS;
}

static void *bounce_get(struct blk_worker *w)
{
	void *p;

	if (w->nbounce_free > 0)
		return w->bounce_free[--w->nbounce_free];
	if (w->nbounce >= BLK_BOUNCE_CHUNKS ||
	    posix_memalign(&p, w->dio_align, BLK_BOUNCE_CHUNK) != 0)
		return NULL;
	w->nbounce++;
	count(&w->stats.bounce_bytes, BLK_BOUNCE_CHUNK);
	return p;
}

static void bounce_put(struct blk_worker *w, void *p)
{
	w->bounce_free[w->nbounce_free++] = p;
}

static void complete_request(struct blk_worker *w, struct blk_slot *slot, uint8_t status)
{
	if (slot->req.status)
		*slot->req.status = status;
	push_used(w, slot->vreq.head, blk_used_len(&slot->req, status));
	if (slot->bounce)
		bounce_put(w, slot->bounce);
	slot->bounce = NULL;
	slot->next_free = w->free;
	w->free = slot;
}

static void io_done(struct block_io *io, void *ctx);

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

/* O_DIRECT cannot use a misaligned guest buffer: the data goes through an
 * aligned pool chunk, one chunk-sized piece after the other. */
static void start_bounce_chunk(struct blk_worker *w, struct blk_slot *slot)
{
	uint32_t left = slot->req.data_len - slot->bounce_off;
	uint32_t len = left < BLK_BOUNCE_CHUNK ? left : BLK_BOUNCE_CHUNK;

	if (slot->req.type == VIRTIO_BLK_T_OUT)
		iov_to_buf(slot->req.data, slot->req.data_cnt, slot->bounce_off, slot->bounce, len);
	slot->bounce_len = len;
	slot->bounce_iov = (struct iovec){ .iov_base = slot->bounce, .iov_len = len };
	slot->io = (struct block_io){
		.op = slot->req.type == VIRTIO_BLK_T_IN ? BLOCK_IO_READ : BLOCK_IO_WRITE,
		.offset = slot->req.sector * DISK_SECTOR_SIZE + slot->bounce_off,
		.iov = &slot->bounce_iov,
		.iovcnt = 1,
	};
	slot->pending = 1;
	queue_io(w, slot, &slot->io);
}

/* A bounced chunk finished: copy it out, and start the next one.  false
 * when the request goes on. */
static bool bounce_chunk_done(struct blk_worker *w, struct blk_slot *slot)
{
	if (slot->status != VIRTIO_BLK_S_OK)
		return true;
	if (slot->req.type == VIRTIO_BLK_T_IN)
		iov_from_buf(slot->req.data, slot->req.data_cnt, slot->bounce_off, slot->bounce,
			     slot->bounce_len);
	slot->bounce_off += slot->bounce_len;
	if (slot->bounce_off >= slot->req.data_len)
		return true;
	if (w->stopping) {
		slot->status = VIRTIO_BLK_S_IOERR; /* not all of it was done */
		return true;
	}
	start_bounce_chunk(w, slot);
	return false;
}

static void merge_done(struct blk_worker *w, struct blk_merge *m);

static const char *const io_op_names[] = {
	[BLOCK_IO_READ] = "read",
	[BLOCK_IO_WRITE] = "write",
	[BLOCK_IO_FLUSH] = "flush",
	[BLOCK_IO_DISCARD] = "discard",
	[BLOCK_IO_WRITE_ZEROES] = "write-zeroes",
};

/* A request's io failed on the host: one line per kind of error and disk
 * (disk_report_error), and a failed flush fails every later one.  Ios
 * cancelled by a reset or shutdown are no host error. */
static void report_io_error(struct blk_worker *w, const struct block_io *io)
{
	if (io->result == -ECANCELED && w->stopping)
		return;
	if (io->op == BLOCK_IO_FLUSH)
		disk_set_flush_failed(w->p.disk);
	disk_report_error(w->p.disk, io_op_names[io->op], io->offset, -io->result);
}

static void io_done(struct block_io *io, void *ctx)
{
	struct blk_worker *w = ctx;
	struct blk_slot *slot = io->opaque;

	if (*(enum io_owner *)io->opaque == OWNER_MERGE) {
		merge_done(w, io->opaque);
		return;
	}
	if (io->result < 0) {
		slot->status = VIRTIO_BLK_S_IOERR;
		report_io_error(w, io);
	}
	if (--slot->pending > 0)
		return;
	if (slot->bounce && !bounce_chunk_done(w, slot))
		return;
	complete_request(w, slot, slot->status);
}

static void start_rw(struct blk_worker *w, struct blk_slot *slot)
{
	struct block_io *io = &slot->io;

	if (slot->req.data_len == 0) {
		complete_request(w, slot, VIRTIO_BLK_S_OK);
		return;
	}
	if (w->p.disk->direct &&
	    !iov_is_aligned(slot->req.data, slot->req.data_cnt, w->dio_align)) {
		slot->bounce = bounce_get(w);
		if (slot->bounce == NULL) {
			complete_request(w, slot, VIRTIO_BLK_S_IOERR);
			return;
		}
		slot->bounce_off = 0;
		start_bounce_chunk(w, slot);
		return;
	}
	*io = (struct block_io){
		.op = slot->req.type == VIRTIO_BLK_T_IN ? BLOCK_IO_READ : BLOCK_IO_WRITE,
		.offset = slot->req.sector * DISK_SECTOR_SIZE,
		.iov = slot->req.data,
		.iovcnt = slot->req.data_cnt,
	};
	slot->pending = 1;
	if (w->merging) {
		w->batch[w->nbatch++] = slot; /* queued by queue_batch() */
		return;
	}
	queue_io(w, slot, io);
}

/* ---- request merging ---- */

static int batch_cmp(const void *a, const void *b)
{
	const struct block_io *x = &(*(struct blk_slot *const *)a)->io;
	const struct block_io *y = &(*(struct blk_slot *const *)b)->io;

	if (x->op != y->op)
		return x->op < y->op ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* slots[0 .. n), adjacent and of one direction, as one io. */
static void queue_merged(struct blk_worker *w, struct blk_slot **slots, unsigned int n,
			 unsigned int segs)
{
	struct blk_merge *m = w->merge_free;
	unsigned int k = 0;

	if (m == NULL) {
		for (unsigned int i = 0; i < n; i++)
			queue_io(w, slots[i], &slots[i]->io);
		return;
	}
	w->merge_free = m->next_free;
	m->owner = OWNER_MERGE;
	m->slots = NULL;
	for (unsigned int i = n; i-- > 0;) {
		slots[i]->next = m->slots;
		m->slots = slots[i];
	}
	for (unsigned int i = 0; i < n; i++) {
		memcpy(&m->iov[k], slots[i]->io.iov, slots[i]->io.iovcnt * sizeof(struct iovec));
		k += slots[i]->io.iovcnt;
	}
	m->io = (struct block_io){ .op = slots[0]->io.op,
				   .offset = slots[0]->io.offset,
				   .iov = m->iov,
				   .iovcnt = segs,
				   .opaque = m };
	count(&w->stats.merged, n - 1);
	if (w->be->ops->queue(w->be, &m->io) < 0) {
		m->io.result = -EIO;
		merge_done(w, m);
	}
}

/* Queues this pass's reads and writes, adjacent ones merged. */
static void queue_batch(struct blk_worker *w)
{
	unsigned int n = w->nbatch, i = 0;

	w->nbatch = 0;
	if (n > 1)
		qsort(w->batch, n, sizeof(*w->batch), batch_cmp);
	while (i < n) {
		struct block_io *last = &w->batch[i]->io;
		uint64_t bytes = block_io_bytes(last);
		unsigned int segs = last->iovcnt, j = i + 1;

		for (; j < n; j++) {
			struct block_io *io = &w->batch[j]->io;
			uint64_t len = block_io_bytes(io);

			if (io->op != last->op ||
			    io->offset != last->offset + block_io_bytes(last) ||
			    bytes + len > w->merge_max_bytes ||
			    segs + io->iovcnt > BLK_MERGE_MAX_SEGS)
				break;
			bytes += len;
			segs += io->iovcnt;
			last = io;
		}
		if (j - i == 1)
			queue_io(w, w->batch[i], &w->batch[i]->io);
		else
			queue_merged(w, &w->batch[i], j - i, segs);
		i = j;
	}
}

static void merge_done(struct blk_worker *w, struct blk_merge *m)
{
	struct blk_slot *slot = m->slots;

	while (slot) {
		struct blk_slot *next = slot->next;

		if (m->io.result < 0 && !w->stopping) {
			/* Again on its own, so the error finds its request. */
			slot->next = w->retry;
			w->retry = slot;
		} else {
			slot->pending = 0;
			complete_request(w, slot,
					 m->io.result < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
		}
		slot = next;
	}
	m->next_free = w->merge_free;
	w->merge_free = m;
}

/* Requests of a failed merge, one io each, as room allows. */
static bool queue_retries(struct blk_worker *w)
{
	while (w->retry) {
		struct blk_slot *slot = w->retry;

		if (w->be->ops->room(w->be) == 0)
			return false;
		w->retry = slot->next;
		queue_io(w, slot, &slot->io);
	}
	return true;
}

static void start_dwz(struct blk_worker *w, struct blk_slot *slot)
{
	unsigned int n;
	uint8_t status;

	status = blk_parse_dwz(&w->p.limits, &slot->req, w->ranges, w->nranges, &n);
	if (status != VIRTIO_BLK_S_OK || n == 0) {
		complete_request(w, slot, status);
		return;
	}
	/* Count them all before queueing: a sync backend completes at once. */
	slot->pending = n;
	for (unsigned int i = 0; i < n; i++) {
		slot->dwz[i] = (struct block_io){
			.op = slot->req.type == VIRTIO_BLK_T_DISCARD ? BLOCK_IO_DISCARD
								     : BLOCK_IO_WRITE_ZEROES,
			.offset = w->ranges[i].sector * DISK_SECTOR_SIZE,
			.len = (uint64_t)w->ranges[i].num_sectors * DISK_SECTOR_SIZE,
			.unmap = w->ranges[i].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
		};
		queue_io(w, slot, &slot->dwz[i]);
	}
}

static void start_request(struct blk_worker *w, struct blk_slot *slot)
{
	uint8_t status =
		blk_parse_request(&w->p.limits, &slot->vreq, &slot->req, slot->data, w->seg_cap);

	slot->status = VIRTIO_BLK_S_OK;
	slot->pending = 0;
	slot->bounce = NULL;
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
		if (disk_flush_failed(w->p.disk)) {
			complete_request(w, slot, VIRTIO_BLK_S_IOERR);
			return;
		}
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
	default: /* DISCARD, WRITE_ZEROES: blk_parse_request let nothing else by */
		start_dwz(w, slot);
		return;
	}
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

static bool stop_asked(const struct blk_worker *w)
{
	return __atomic_load_n(&w->stop_asked, __ATOMIC_ACQUIRE);
}

/* Whether one more request can start: a slot, backend room for the most
 * ios a request needs, and (direct=on) a bounce chunk it may need. */
static bool can_start(const struct blk_worker *w)
{
	return w->free && w->be->ops->room(w->be) >= w->max_req_ios + w->nbatch &&
	       (!w->p.disk->direct || bounce_available(w));
}

/* How many new chains the guest may add before it kicks: none while
 * requests are in flight (their completions bring this thread back), the
 * queue size standing for "never"; see the top of this file.  With one
 * in flight, kicks stay on: at queue depth 1 a quiet wait would only add
 * a wake-up whenever a request takes longer than the quiet time. */
static uint16_t kick_defer(const struct blk_worker *w)
{
	if (!w->kick_batching || w->quiet_expired)
		return 0;
	if (w->vq.inflight >= 2)
		return w->vq.size;
	/* Drained: one kick for the refill the guest usually posts. */
	if (w->refill_batching && w->vq.event_idx && w->refill_est > 1)
		return (uint16_t)(w->refill_est - 1);
	return 0;
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* After a wait that completed something, with two or more in flight
 * before it: the interval between completions, averaged. */
static void note_completions(struct blk_worker *w, int n, uint32_t inflight_before)
{
	int64_t now;

	if (!w->kick_batching || n <= 0)
		return;
	now = now_ns();
	if (w->last_done && inflight_before >= 2)
		w->interval = w->interval ? (7 * w->interval + (now - w->last_done)) / 8
					  : now - w->last_done;
	w->last_done = now;
}

static int64_t quiet_time(const struct blk_worker *w)
{
	int64_t t = 4 * w->interval;

	return t < BLK_KICK_QUIET_MIN_NS   ? BLK_KICK_QUIET_MIN_NS
	       : t > BLK_KICK_QUIET_MAX_NS ? BLK_KICK_QUIET_MAX_NS
					   : t;
}

/* The time a drained queue waits for the guest's refill. */
static int64_t refill_quiet_time(const struct blk_worker *w)
{
	int64_t t = 2 * w->refill_time;

	return t < BLK_REFILL_QUIET_MIN_NS   ? BLK_REFILL_QUIET_MIN_NS
	       : t > BLK_REFILL_QUIET_MAX_NS ? BLK_REFILL_QUIET_MAX_NS
					     : t;
}

/* The deepest the guest has kept the queue, over the last one or two
 * windows of BLK_PEAK_WINDOW passes. */
static unsigned int note_peak(struct blk_worker *w)
{
	if (w->vq.inflight > w->peak)
		w->peak = w->vq.inflight;
	if (++w->peak_passes >= BLK_PEAK_WINDOW) {
		w->peak_prev = w->peak;
		w->peak = 0;
		w->peak_passes = 0;
	}
	return w->peak > w->peak_prev ? w->peak : w->peak_prev;
}

/*
 * The pass after a drain: a kick that came once the guest had posted what
 * was asked (or more) lets the expectation grow by one, up to the deepest
 * recent in-flight count; a refill wait that ran out lowers it to what the
 * guest did post, so a guest that changes its pattern costs one wait.
 */
static void judge_refill(struct blk_worker *w, bool timed_out)
{
	unsigned int peak = note_peak(w);

	w->refill_peak = peak;
	if (!w->refill_waiting)
		return;
	w->refill_waiting = false;
	if (timed_out && w->refill_deferred) {
		count(&w->stats.refill_timeouts, 1);
		if (w->taken > 0)
			w->refill_est = w->taken; /* it posts fewer now */
		else if (w->refill_time < BLK_REFILL_QUIET_MAX_NS)
			w->refill_time = 2 * w->refill_time + 1; /* slower: wait longer */
	} else if (w->refill_start && w->kicked &&
		   w->taken >= (w->refill_deferred ? w->refill_est : 1)) {
		int64_t t = now_ns() - w->refill_start;

		/* Up at once, down slowly: the bound covers the slow ones. */
		w->refill_time = t > w->refill_time ? t : (7 * w->refill_time + t) / 8;
		if (w->refill_est < peak)
			w->refill_est++;
	}
	if (w->refill_est > peak)
		w->refill_est = peak > 1 ? peak : 1;
}

/* The end of a pass that left fewer than two in flight: the next pass
 * judges how the guest refilled. */
static void note_drain(struct blk_worker *w)
{
	if (!w->refill_batching || !w->kick_batching || w->vq.inflight >= 2)
		return;
	w->refill_waiting = true;
	w->refill_deferred = w->kicks_off;
	/* A guest that never keeps two in flight cannot be asked for more
	 * than one: no clock reads for it (at queue depth 1, every pass). */
	w->refill_start = w->refill_peak > 1 ? now_ns() : 0;
}

/* For a guest that stalls: the state this thread sleeps in, where any
 * thread can read it (three relaxed words: each whole, together as good
 * as a diagnostic needs). */
static void save_wait_state(struct blk_worker *w)
{
	struct virtq_state q;

	if (!virtq_get_state(&w->vq, &q))
		return;
	__atomic_store_n(&w->wait_words[0],
			 1ull << 63 | (uint64_t)q.event_idx << 62 | (uint64_t)q.avail_idx |
				 (uint64_t)q.last_avail_idx << 16 | (uint64_t)q.used_idx << 32,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&w->wait_words[1],
			 (uint64_t)q.avail_event | (uint64_t)q.used_event << 16 |
				 (uint64_t)q.used_flags << 32 | (uint64_t)q.avail_flags << 48,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&w->wait_words[2], (uint64_t)q.inflight | (uint64_t)w->be->inflight << 32,
			 __ATOMIC_RELAXED);
}

bool blk_worker_wait_state(const struct blk_worker *w, struct blk_wait_state *out)
{
	uint64_t a = __atomic_load_n(&w->wait_words[0], __ATOMIC_RELAXED);
	uint64_t b = __atomic_load_n(&w->wait_words[1], __ATOMIC_RELAXED);
	uint64_t c = __atomic_load_n(&w->wait_words[2], __ATOMIC_RELAXED);

	*out = (struct blk_wait_state){ 0 };
	if (!(a >> 63))
		return false;
	out->q = (struct virtq_state){ .event_idx = (a >> 62) & 1,
				       .avail_idx = (uint16_t)a,
				       .last_avail_idx = (uint16_t)(a >> 16),
				       .used_idx = (uint16_t)(a >> 32),
				       .avail_event = (uint16_t)b,
				       .used_event = (uint16_t)(b >> 16),
				       .used_flags = (uint16_t)(b >> 32),
				       .avail_flags = (uint16_t)(b >> 48),
				       .inflight = (uint32_t)c };
	out->backend_ios = (unsigned int)(c >> 32);
	return true;
}

/*
 * --stats: how deep the device and the disk were kept (blk_queue_stats),
 * as time-weighted sums: the counts as a wait starts hold through it, as
 * only this thread changes them, and the pass after it is short.  That is
 * what tells a guest that waits for its completions (the device holds few
 * of its requests) from a disk that is slow (the backend holds them all).
 * The clock is the coarse one (the kernel's tick, read in the vDSO without
 * a system call; the precise clock is one where the clocksource is not
 * the TSC, as in the test host): each tick is then a sample of the counts,
 * so the means hold over seconds, not over one request.
 */
static void account_depth(struct blk_worker *w)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC_COARSE);

	if (w->depth_since && w->depth_reqs) {
		uint64_t dt = (uint64_t)(now - w->depth_since);

		count(&w->stats.busy_ns, dt);
		count(&w->stats.inflight_ns, w->depth_reqs * dt);
		count(&w->stats.backend_ns, w->depth_ios * dt);
	}
	w->depth_since = now;
	w->depth_reqs = w->vq.inflight;
	w->depth_ios = w->be->inflight;
	save_wait_state(w);
}

static void take_chains(struct blk_worker *w);

/* Takes chains until the ring is empty (guest notifications re-armed) or
 * a request cannot start (they stay off: completions bring us back). */
static void process_queue(struct blk_worker *w)
{
	if (!queue_retries(w))
		return;
	take_chains(w);
	if (w->nbatch)
		queue_batch(w);
}

static void take_chains(struct blk_worker *w)
{
	while (can_start(w) && !stop_asked(w)) {
		struct blk_slot *slot = w->free;
		uint16_t defer = kick_defer(w);

		slot->vreq.iov = slot->chain;
		slot->vreq.iov_cap = w->seg_cap;
		switch (virtq_pop_or_enable_notify(&w->vq, &slot->vreq, defer)) {
		case VIRTQ_POP_EMPTY:
			w->kicks_off = defer != 0;
			return;
		case VIRTQ_POP_BROKEN:
			report_broken(w);
			return;
		case VIRTQ_POP_BAD_CHAIN:
			count(&w->stats.requests, 1);
			if (w->bad_chains++ == 0)
				log_warn("virtio-blk queue %u: bad request: %s", w->p.queue_index,
					 virtq_strerror(w->vq.error));
			push_used(w, slot->vreq.head, 0);
			continue;
		case VIRTQ_POP_OK:
			count(&w->stats.requests, 1);
			w->taken++;
			w->free = slot->next_free;
			start_request(w, slot);
			continue;
		}
	}
}

static const struct block_backend_cb worker_cb;

/* Chains found by the idle re-check (see BLK_IDLE_RECHECK_NS). */
static void note_unnotified(struct blk_worker *w)
{
	count(&w->stats.unnotified, w->taken);
	if (!w->unnotified_reported) {
		w->unnotified_reported = true;
		log_warn("virtio-blk queue %u: %u requests were waiting with no notification "
			 "from the guest; found by the idle re-check (counted in --stats)",
			 w->p.queue_index, w->taken);
	}
}

/*
 * Completions that arrived while this pass ran join it, so they share its
 * used-index publication and interrupt instead of waking the thread for a
 * pass (and an interrupt) of their own.  Once per pass, and only when the
 * backend says, without a system call, that there are some.
 */
static void late_completions(struct blk_worker *w)
{
	int r;

	if (!w->late_join || w->be->ops->pending == NULL || !w->be->ops->pending(w->be))
		return;
	r = w->be->ops->wait(w->be, BLOCK_WAIT_NONE, &worker_cb, w);
	if (r > 0) {
		count(&w->stats.late, (uint64_t)r);
		process_queue(w);
	}
}

static void on_event(unsigned int tag, void *ctx)
{
	struct blk_worker *w = ctx;

	if (tag == EV_KICK) {
		count(&w->stats.kicks, 1);
		w->kicked = true;
	}
}

static const struct block_backend_cb worker_cb = { .done = io_done, .event = on_event };

static void *worker_main(void *arg)
{
	struct blk_worker *w = arg;
	bool block = false; /* the first pass looks before any kick */

	while (!stop_asked(w)) {
		/* Kicks off: sleep no longer than the guest may go unheard
		 * (where the backend can time its wait; else kicks stay on). */
		bool quiet = block && w->kicks_off;
		/* Kicks on: bounded too (BLK_IDLE_RECHECK_NS). */
		bool idle = block && !quiet && w->be->timed_wait;
		uint32_t inflight = w->vq.inflight;
		bool recheck;
		int r;

		w->kicked = false;
		account_depth(w);
		r = w->be->ops->wait(w->be,
				     !block		  ? BLOCK_WAIT_NONE
				     : idle		  ? BLK_IDLE_RECHECK_NS
				     : !quiet		  ? BLOCK_WAIT_FOREVER
				     : w->vq.inflight < 2 ? refill_quiet_time(w)
							  : quiet_time(w),
				     &worker_cb, w);

		if (r < 0) {
			log_warn("virtio-blk queue %u: %s: %s", w->p.queue_index, w->be->ops->name,
				 strerror(-r));
			w->p.transport.needs_reset(w->p.transport.opaque);
			break;
		}
		if (stop_asked(w))
			break;
		/* Nothing completed in a quiet wait and the guest did not
		 * kick (it may, for a refill): ask for kicks again. */
		w->quiet_expired = quiet && r == 0 && !w->kicked;
		recheck = idle && r == 0 && !w->kicked;
		if (recheck) {
			/* A kick (or completion) that raced the timeout is
			 * not a lost one: collect it first. */
			int more = w->be->ops->wait(w->be, BLOCK_WAIT_NONE, &worker_cb, w);

			if (more > 0)
				r = more;
			recheck = more == 0 && !w->kicked;
		}
		note_completions(w, r, inflight);
		w->taken = 0;
		process_queue(w);
		if (recheck && w->taken > 0)
			note_unnotified(w);
		late_completions(w);
		judge_refill(w, w->quiet_expired);
		note_drain(w);
		flush_notify(w);
		block = true;
	}
	/*
	 * Reset or shutdown: take nothing more, cancel what the kernel can,
	 * and wait for the rest (a running read of a regular file cannot be
	 * cancelled, and nothing may write guest memory after we return).
	 * Their used elements are published, without interrupts.
	 */
	w->stopping = true;
	while (w->retry) {
		struct blk_slot *slot = w->retry;
		w->retry = slot->next;
		complete_request(w, slot, VIRTIO_BLK_S_IOERR);
	}
	w->be->ops->cancel(w->be);
	while (w->be->inflight > 0) {
		if (w->be->ops->wait(w->be, BLOCK_WAIT_FOREVER, &worker_cb, w) < 0)
			break;
	}
	virtq_publish_used(&w->vq);
	return NULL;
}

static void worker_free(struct blk_worker *w)
{
	if (w->be)
		w->be->ops->destroy(w->be);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	while (w->nbounce_free > 0)
		free(w->bounce_free[--w->nbounce_free]);
	free(w->slots);
	free(w->iov_pool);
	free(w->ranges);
	free(w->batch);
	free(w->merges);
	free(w->merge_iov);
	free(w->dwz_pool);
	free(w);
}

static int setup_merges(struct blk_worker *w)
{
	unsigned int n = w->nslots / 2;

	if (n == 0)
		return 0;
	w->merges = calloc(n, sizeof(*w->merges));
	w->merge_iov = calloc((size_t)n * BLK_MERGE_MAX_SEGS, sizeof(*w->merge_iov));
	if (w->merges == NULL || w->merge_iov == NULL)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		w->merges[i].iov = w->merge_iov + (size_t)i * BLK_MERGE_MAX_SEGS;
		w->merges[i].next_free = w->merge_free;
		w->merge_free = &w->merges[i];
	}
	return 0;
}

static int setup_slots(struct blk_worker *w)
{
	/* Header and status may sit in buffers of their own. */
	w->seg_cap = w->p.seg_max + 2;
	w->nslots = w->p.vq.size;
	w->nranges = w->p.limits.max_discard_seg > w->p.limits.max_write_zeroes_seg
			     ? w->p.limits.max_discard_seg
			     : w->p.limits.max_write_zeroes_seg;
	w->max_req_ios = w->nranges > 1 ? w->nranges : 1;
	w->slots = calloc(w->nslots, sizeof(*w->slots));
	w->iov_pool = calloc((size_t)w->nslots * w->seg_cap * 2, sizeof(*w->iov_pool));
	w->ranges = calloc(w->max_req_ios, sizeof(*w->ranges));
	w->batch = calloc(w->nslots, sizeof(*w->batch));
	if (w->slots == NULL || w->iov_pool == NULL || w->ranges == NULL || w->batch == NULL)
		return -1;
	/* Only a device that offers DISCARD or WRITE_ZEROES needs them. */
	if (w->nranges) {
		w->dwz_pool = calloc((size_t)w->nslots * w->max_req_ios, sizeof(*w->dwz_pool));
		if (w->dwz_pool == NULL)
			return -1;
	}
	for (unsigned int i = 0; i < w->nslots; i++) {
		struct blk_slot *s = &w->slots[i];
		s->owner = OWNER_SLOT;
		s->chain = w->iov_pool + (size_t)i * w->seg_cap * 2;
		s->data = s->chain + w->seg_cap;
		if (w->dwz_pool)
			s->dwz = w->dwz_pool + (size_t)i * w->max_req_ios;
		s->next_free = w->free;
		w->free = s;
	}
	return setup_merges(w);
}

static int setup_fds(struct blk_worker *w)
{
	int r;

	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0)
		return err_errno("virtio-blk: I/O thread setup");
	r = w->be->ops->watch(w->be, w->p.kick_fd, EV_KICK);
	if (r == 0)
		r = w->be->ops->watch(w->be, w->stop_fd, EV_STOP);
	if (r < 0)
		return err_set("virtio-blk: I/O thread setup: %s", strerror(-r));
	return 0;
}

/* VMM_BLK_TUNE (benchmarks only): turn a means off to measure what it pays. */
static void read_tuning(struct blk_worker *w)
{
	const char *t = getenv("VMM_BLK_TUNE");

	w->kick_batching = !(t && strstr(t, "no-kick-batching"));
	w->completion_batching = !(t && strstr(t, "no-completion-batching"));
	w->merging = !(t && strstr(t, "no-merging"));
	w->refill_batching = !(t && strstr(t, "no-refill-batching"));
	w->late_join = !(t && strstr(t, "no-late-join"));
	/* merge-max=KIB: another bound for merged ios, 4 KiB to 1 MiB. */
	w->merge_max_bytes = BLK_MERGE_MAX_BYTES;
	const char *mm = t ? strstr(t, "merge-max=") : NULL;
	if (mm) {
		unsigned long kib = strtoul(mm + strlen("merge-max="), NULL, 10);
		if (kib >= 4 && kib <= BLK_MERGE_CAP_BYTES / 1024)
			w->merge_max_bytes = kib * 1024;
	}
	w->refill_est = 1;
}

int blk_worker_start(const struct blk_worker_params *params, struct blk_worker **out)
{
	struct blk_worker *w = calloc(1, sizeof(*w));
	struct block_backend_params bp;
	char name[16];

	if (w == NULL) {
		err_set("virtio-blk: out of memory");
		return -1;
	}
	w->p = *params;
	w->stop_fd = -1;
	read_tuning(w);
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
		/* A queue smaller than one request's ios (a DISCARD of
		 * nranges) must still fit that request. */
		.depth = w->nslots > w->max_req_ios ? w->nslots : w->max_req_ios,
	};
	w->be = block_backend_create(params->backend, &bp);
	if (w->be == NULL || setup_fds(w) < 0) {
		worker_free(w);
		return -1;
	}
	/* No kicks while busy only where the quiet time can be bounded. */
	if (!w->be->timed_wait)
		w->kick_batching = false;
	snprintf(name, sizeof(name), "blk-io%u", params->queue_index);
	if (thread_spawn(&w->thread, name, SECCOMP_IO, worker_main, w)) {
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
	acc->bounce_bytes += __atomic_load_n(&w->stats.bounce_bytes, __ATOMIC_RELAXED);
	acc->merged += __atomic_load_n(&w->stats.merged, __ATOMIC_RELAXED);
	acc->late += __atomic_load_n(&w->stats.late, __ATOMIC_RELAXED);
	acc->refill_timeouts += __atomic_load_n(&w->stats.refill_timeouts, __ATOMIC_RELAXED);
	acc->unnotified += __atomic_load_n(&w->stats.unnotified, __ATOMIC_RELAXED);
	acc->busy_ns += __atomic_load_n(&w->stats.busy_ns, __ATOMIC_RELAXED);
	acc->inflight_ns += __atomic_load_n(&w->stats.inflight_ns, __ATOMIC_RELAXED);
	acc->backend_ns += __atomic_load_n(&w->stats.backend_ns, __ATOMIC_RELAXED);
}

void blk_worker_stop(struct blk_worker *w)
{
	uint64_t one = 1;

	/* The flag stops the thread between two chains; the eventfd wakes it. */
	__atomic_store_n(&w->stop_asked, true, __ATOMIC_RELEASE);
	if (write(w->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("virtio-blk: stopping I/O thread: %s", strerror(errno));
	pthread_join(w->thread, NULL);
	worker_free(w);
}
