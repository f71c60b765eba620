/*
 * The I/O thread of one virtio-blk queue: woken by the queue's kick
 * eventfd and by backend completions (both through the backend's wait()),
 * it drains the avail ring, runs the requests on the block backend in
 * batches, completes them in the used ring and asks the transport for an
 * interrupt when the guest wants one.
 * It alone touches its virtqueue and its backend.
 */
#ifndef DEVICES_VIRTIO_BLK_WORKER_H
#define DEVICES_VIRTIO_BLK_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "devices/block/backend.h"
#include "devices/block/disk.h"
#include "devices/virtio/blk_request.h"
#include "devices/virtio/device.h"
#include "devices/virtio/queue.h"

struct blk_worker_params {
	const struct guest_mem *mem;
	struct virtq_config vq; /* validated by blk_worker_start */
	struct disk *disk;	/* must outlive the worker; its error state is shared */
	struct blk_limits limits;
	unsigned int seg_max; /* data buffers per request */
	enum block_backend_kind backend;
	int kick_fd; /* the transport's; read, never closed */
	unsigned int queue_index;
	struct virtio_transport transport;
};

struct blk_worker;

/* What a queue did, for --stats: how well notifications are batched. */
struct blk_queue_stats {
	uint64_t requests;	  /* chains taken from the avail ring */
	uint64_t kicks;		  /* guest notifications (the kick eventfd's count) */
	uint64_t interrupts;	  /* interrupts asked of the transport */
	uint64_t merged;	  /* requests merged into another's io */
	uint64_t late;		  /* ios that completed during a pass and joined it */
	uint64_t refill_timeouts; /* refill waits that ran out (blk_worker.c) */
	uint64_t unnotified;	  /* chains found by the idle re-check, posted
				   * with no kick reaching the thread */
	uint64_t bounce_bytes;	  /* O_DIRECT bounce memory allocated (never freed
				* before the queue stops) */
	/* Depth over time (the coarse clock, read once per wait of the I/O
	 * thread: sampled at the kernel's tick, so good over seconds): ns
	 * with a request in flight, and the sums over that time of requests
	 * in flight (taken, not completed) and of ios at the backend.  So
	 * inflight_ns / busy_ns is how many of the guest's requests the
	 * device held on average, backend_ns / busy_ns how deep the disk was
	 * kept. */
	uint64_t busy_ns;
	uint64_t inflight_ns;
	uint64_t backend_ns;
};

/*
 * With direct=on a request whose buffers are not aligned is copied through
 * a bounce pool of at most BLK_BOUNCE_CHUNKS chunks of BLK_BOUNCE_CHUNK
 * bytes per queue, one chunk per request at a time; when all are in use the
 * queue waits.  What the VMM allocates on a guest's behalf stays bounded.
 */
#define BLK_BOUNCE_CHUNK  (256u * 1024u)
#define BLK_BOUNCE_CHUNKS 4u

/* Maps the queue, creates the backend and starts the thread.  0, or -1
 * with a message in err. */
int blk_worker_start(const struct blk_worker_params *params, struct blk_worker **out);

/* Stops taking requests at once, cancels what the kernel can cancel, waits
 * for the rest (their used elements are published, without interrupts),
 * joins the thread and frees everything. */
void blk_worker_stop(struct blk_worker *w);

/* Adds w's counters to *acc.  Any thread, while w runs. */
void blk_worker_add_stats(const struct blk_worker *w, struct blk_queue_stats *acc);

/* Where the thread last went to sleep: the ring's indices and the ios it
 * had at the backend (diagnostics for a stalled guest; see --stats). */
struct blk_wait_state {
	struct virtq_state q;
	unsigned int backend_ios;
};

/* false before the thread first slept.  Any thread. */
bool blk_worker_wait_state(const struct blk_worker *w, struct blk_wait_state *out);

#endif
