/*
 * Split virtqueue (virtio 1.x, "Split Virtqueues"), device side.  Knows
 * guest memory and nothing of PCI or KVM: it walks descriptor chains into
 * lists of host buffers, publishes used elements and decides when the guest
 * wants to be notified.  Every value read from the rings is guest-written
 * and hostile; nothing here trusts it.
 *
 * A queue is used by one thread at a time (its I/O thread); the guest runs
 * concurrently on other CPUs, which is what the barriers in queue.c are for.
 */
#ifndef DEVICES_VIRTIO_QUEUE_H
#define DEVICES_VIRTIO_QUEUE_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/guest_mem.h"

#define VIRTQ_MAX_SIZE 32768u

/* The split ring's layout and flags are the spec's, from
 * <linux/virtio_ring.h> (which also gives VIRTIO_RING_F_INDIRECT_DESC and
 * VIRTIO_RING_F_EVENT_IDX). */
#define VIRTQ_DESC_F_NEXT	   VRING_DESC_F_NEXT
#define VIRTQ_DESC_F_WRITE	   VRING_DESC_F_WRITE
#define VIRTQ_DESC_F_INDIRECT	   VRING_DESC_F_INDIRECT
#define VIRTQ_AVAIL_F_NO_INTERRUPT VRING_AVAIL_F_NO_INTERRUPT
#define VIRTQ_USED_F_NO_NOTIFY	   VRING_USED_F_NO_NOTIFY

/* Byte sizes of the three areas for a queue of `size` entries: each ring
 * has size entries plus the event index after them (EVENT_IDX). */
#define VIRTQ_DESC_BYTES(size) (sizeof(struct vring_desc) * (uint64_t)(size))
#define VIRTQ_AVAIL_BYTES(size) \
	(offsetof(struct vring_avail, ring) + sizeof(__virtio16) * ((uint64_t)(size) + 1))
#define VIRTQ_USED_BYTES(size)                                                                   \
	(offsetof(struct vring_used, ring) + sizeof(struct vring_used_elem) * (uint64_t)(size) + \
	 sizeof(__virtio16))

/* Why a queue or a chain was refused; kept for tests and log messages. */
enum virtq_error {
	VIRTQ_OK = 0,
	VIRTQ_ERR_SIZE,		    /* not a power of two, 0 or > 32768 */
	VIRTQ_ERR_RING_ALIGN,	    /* desc/avail/used misaligned */
	VIRTQ_ERR_RING_ADDR,	    /* ring area not inside guest RAM */
	VIRTQ_ERR_AVAIL_IDX,	    /* avail idx ran more than size ahead */
	VIRTQ_ERR_HEAD,		    /* head index >= queue size */
	VIRTQ_ERR_NEXT,		    /* next index outside its table */
	VIRTQ_ERR_CHAIN_LOOP,	    /* chain longer than its table: a loop */
	VIRTQ_ERR_INDIRECT_FEATURE, /* INDIRECT without the feature */
	VIRTQ_ERR_INDIRECT_NESTED,  /* INDIRECT inside an indirect table */
	VIRTQ_ERR_INDIRECT_NEXT,    /* INDIRECT together with NEXT */
	VIRTQ_ERR_INDIRECT_LEN,	    /* table length 0, not a multiple of 16 or too big */
	VIRTQ_ERR_BUF_ADDR,	    /* buffer or table not inside guest RAM */
	VIRTQ_ERR_LEN_OVERFLOW,	    /* addr+len wraps, or total length > 4 GiB - 1 */
	VIRTQ_ERR_READ_AFTER_WRITE, /* device-readable after device-writable */
	VIRTQ_ERR_TOO_MANY_SEGS,    /* more buffers than the caller can hold */
	VIRTQ_ERR_NOT_READY,	    /* queue not initialised */
	VIRTQ_ERR_BAD_PUSH,	    /* device pushed a head it never popped */
};

const char *virtq_strerror(enum virtq_error err);

/* What the transport learnt from the driver for one queue. */
struct virtq_config {
	uint16_t size;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint64_t features; /* negotiated device features (ring bits matter) */
};

/*
 * One popped chain.  iov[0 .. nr_readable) are device-readable buffers,
 * iov[nr_readable .. nr_readable + nr_writable) device-writable ones, in
 * chain order.  Zero-length buffers are dropped.  The caller provides the
 * iovec array (iov, iov_cap) before virtq_pop.
 */
struct virtq_req {
	uint16_t head;
	unsigned int nr_readable;
	unsigned int nr_writable;
	uint32_t readable_len;
	uint32_t writable_len;
	struct iovec *iov;
	unsigned int iov_cap;
};

struct virtq {
	const struct guest_mem *mem;
	uint16_t size;
	bool ready;
	bool broken;
	bool event_idx;
	bool indirect;
	enum virtq_error error; /* last error (chain or queue) */

	/* Host views of the guest's ring areas, translated once at init. */
	uint8_t *desc;
	uint8_t *avail;
	uint8_t *used;

	uint16_t last_avail_idx; /* next avail entry to pop */
	uint16_t used_idx;	 /* next used entry to write */
	uint16_t published_used; /* used->idx as last stored */
	uint16_t used_flags;	 /* our copy: the device owns used->flags */
	uint16_t signalled_used; /* used idx at the last should_notify() */
	bool signalled_used_valid;
	uint32_t inflight; /* popped but not yet pushed */
};

/* The ring's indices as they are now: diagnostics, for what a stalled
 * guest and device were each waiting for.  The guest's fields are read
 * from guest memory as they stand. */
struct virtq_state {
	uint16_t avail_idx;	 /* the guest's avail->idx */
	uint16_t last_avail_idx; /* taken up to */
	uint16_t used_idx;	 /* used->idx as published */
	uint16_t avail_event;	 /* ours (EVENT_IDX) */
	uint16_t used_event;	 /* the guest's (EVENT_IDX) */
	uint16_t used_flags;	 /* ours (without EVENT_IDX) */
	uint16_t avail_flags;	 /* the guest's (without EVENT_IDX) */
	uint32_t inflight;
	bool event_idx;
};

/* Fills st; false when the queue is not running (nothing to read). */
bool virtq_get_state(const struct virtq *vq, struct virtq_state *st);

/* Validates the configuration and maps the rings.  0, or -1 with vq->error. */
int virtq_init(struct virtq *vq, const struct guest_mem *mem, const struct virtq_config *cfg);

/* Back to the state before virtq_init (no rings, indices 0). */
void virtq_reset(struct virtq *vq);

enum virtq_pop_result {
	VIRTQ_POP_EMPTY = 0,	  /* nothing available */
	VIRTQ_POP_OK = 1,	  /* req filled */
	VIRTQ_POP_BAD_CHAIN = -1, /* req->head valid, chain refused: push it with len 0 */
	VIRTQ_POP_BROKEN = -2,	  /* queue unusable until reset: DEVICE_NEEDS_RESET */
};

/* Takes the next available chain, validating all of it. */
enum virtq_pop_result virtq_pop(struct virtq *vq, struct virtq_req *req);

/*
 * Takes the next available chain; when the ring is empty, asks the guest to
 * notify for the next one and looks again (after a full barrier), so that
 * VIRTQ_POP_EMPTY means the guest will kick when it adds more.  Guest
 * notifications stay suppressed while chains are being taken (Firecracker's
 * pop_or_enable_notification).
 *
 * Kick batching: with `defer` > 0 the guest is asked to kick only once it
 * has added more than `defer` further chains (avail_event ahead of
 * last_avail_idx; without EVENT_IDX notifications simply stay off), so a
 * caller may pass it only while something it waits for anyway (e.g.
 * completions of requests in flight) will make it call again.  The last
 * call before going idle must pass 0.
 */
enum virtq_pop_result virtq_pop_or_enable_notify(struct virtq *vq, struct virtq_req *req,
						 uint16_t defer);

/* Publishes `head` with `len` bytes written to its writable buffers. */
int virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/*
 * Completion batching: virtq_add_used() writes a used element without
 * moving used->idx; virtq_publish_used() then makes all of them visible
 * with one store.  virtq_should_notify() publishes first.
 */
int virtq_add_used(struct virtq *vq, uint16_t head, uint32_t len);
void virtq_publish_used(struct virtq *vq);

/*
 * Whether the guest wants an interrupt for what was pushed since the last
 * call (used_event with EVENT_IDX, else VIRTQ_AVAIL_F_NO_INTERRUPT).  Call
 * once after a batch of pushes.
 */
bool virtq_should_notify(struct virtq *vq);

/* Asks the guest not to kick while the device is already draining. */
void virtq_disable_notify(struct virtq *vq);

/*
 * Asks the guest to kick again, then re-checks the ring: returns true when
 * buffers arrived meanwhile (the caller must drain again; the guest may not
 * kick for them).
 */
bool virtq_enable_notify(struct virtq *vq);

/* Whether avail holds entries not yet popped (no validation). */
bool virtq_has_avail(struct virtq *vq);

static inline bool virtq_is_broken(const struct virtq *vq)
{
	return vq->broken;
}

/* The EVENT_IDX rule (does moving from old to new_idx pass event?) is
 * <linux/virtio_ring.h>'s vring_need_event. */

#endif
