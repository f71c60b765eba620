/*
 * Split virtqueue, device side: ring mapping and validation, descriptor
 * chain walking (direct and indirect), the used ring, and notification
 * suppression in both directions (flags, or EVENT_IDX).
 *
 * Memory ordering (the guest runs on other CPUs and writes the rings
 * concurrently):
 *   - avail->idx is loaded with acquire so the ring entries and descriptors
 *     it covers are read after it;
 *   - used->idx is stored with release so the used elements (and the data
 *     and status bytes the device wrote) are visible before it;
 *   - a full barrier separates "publish used idx" from "read used_event or
 *     avail flags", and "publish avail_event / clear NO_NOTIFY" from "re-read
 *     avail idx": each side stores then loads, which only a full barrier
 *     orders (otherwise both sides can miss each other and a wake-up is lost).
 * Every guest field is read exactly once into a local before it is checked,
 * so the guest cannot change it between the check and the use.
 */
#include "devices/virtio/queue.h"

#include <endian.h>
#include <string.h>

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static const char *const error_names[] = {
	[VIRTQ_OK] = "no error",
	[VIRTQ_ERR_SIZE] = "queue size is not a power of two in 1..32768",
	[VIRTQ_ERR_RING_ALIGN] = "ring address misaligned",
	[VIRTQ_ERR_RING_ADDR] = "ring outside guest RAM",
	[VIRTQ_ERR_AVAIL_IDX] = "avail index moved more than the queue size",
	[VIRTQ_ERR_HEAD] = "head index out of range",
	[VIRTQ_ERR_NEXT] = "next index out of range",
	[VIRTQ_ERR_CHAIN_LOOP] = "descriptor chain loops or is too long",
	[VIRTQ_ERR_INDIRECT_FEATURE] = "indirect descriptor without INDIRECT_DESC",
	[VIRTQ_ERR_INDIRECT_NESTED] = "indirect descriptor inside an indirect table",
	[VIRTQ_ERR_INDIRECT_NEXT] = "indirect descriptor with NEXT",
	[VIRTQ_ERR_INDIRECT_LEN] = "bad indirect table length",
	[VIRTQ_ERR_BUF_ADDR] = "buffer outside guest RAM",
	[VIRTQ_ERR_LEN_OVERFLOW] = "buffer length overflow",
	[VIRTQ_ERR_READ_AFTER_WRITE] = "device-readable buffer after a writable one",
	[VIRTQ_ERR_TOO_MANY_SEGS] = "too many buffers in one chain",
	[VIRTQ_ERR_NOT_READY] = "queue not ready",
	[VIRTQ_ERR_BAD_PUSH] = "used element for a chain never popped",
};

const char *virtq_strerror(enum virtq_error err)
{
	if ((unsigned int)err < sizeof(error_names) / sizeof(error_names[0]) && error_names[err])
		return error_names[err];
	return "unknown virtqueue error";
}

/* Guest-shared little-endian fields.  Relaxed atomics: one untorn access
 * the compiler can neither repeat nor split. */
static inline uint16_t shared_load16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static inline uint16_t shared_load16_acquire(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

static inline void shared_store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static inline void shared_store16_release(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}

static inline void shared_store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

static inline void full_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Ring layout: avail = flags, idx, ring[size], used_event;
 *              used  = flags, idx, {id, len}[size], avail_event. */
static inline uint8_t *avail_flags(const struct virtq *vq)
{
	return vq->avail + offsetof(struct vring_avail, flags);
}
static inline uint8_t *avail_idx(const struct virtq *vq)
{
	return vq->avail + offsetof(struct vring_avail, idx);
}
static inline uint8_t *avail_ring(const struct virtq *vq, uint16_t i)
{
	return vq->avail + offsetof(struct vring_avail, ring) + sizeof(__virtio16) * i;
}
static inline uint8_t *used_event(const struct virtq *vq)
{
	return avail_ring(vq, vq->size);
}
static inline uint8_t *used_flags(const struct virtq *vq)
{
	return vq->used + offsetof(struct vring_used, flags);
}
static inline uint8_t *used_idx(const struct virtq *vq)
{
	return vq->used + offsetof(struct vring_used, idx);
}
static inline uint8_t *used_elem(const struct virtq *vq, uint16_t i)
{
	return vq->used + offsetof(struct vring_used, ring) + sizeof(struct vring_used_elem) * i;
}
static inline uint8_t *avail_event(const struct virtq *vq)
{
	return used_elem(vq, vq->size);
}

/* Indirect tables need no alignment in the spec, so descriptors are copied
 * bytewise; the compiler barrier keeps the copy from being re-read later. */
static void read_desc(const uint8_t *table, uint32_t i, struct desc *d)
{
	uint8_t raw[sizeof(struct vring_desc)];
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;

	memcpy(raw, table + sizeof(struct vring_desc) * i, sizeof(raw));
	__asm__ __volatile__("" ::: "memory");
	memcpy(&addr, raw + offsetof(struct vring_desc, addr), sizeof(addr));
	memcpy(&len, raw + offsetof(struct vring_desc, len), sizeof(len));
	memcpy(&flags, raw + offsetof(struct vring_desc, flags), sizeof(flags));
	memcpy(&next, raw + offsetof(struct vring_desc, next), sizeof(next));
	d->addr = le64toh(addr);
	d->len = le32toh(len);
	d->flags = le16toh(flags);
	d->next = le16toh(next);
}

static uint8_t *map_ring(const struct guest_mem *mem, uint64_t gpa, uint64_t len, uint64_t align,
			 enum virtq_error *err)
{
	uint8_t *p;

	if (gpa & (align - 1)) {
		*err = VIRTQ_ERR_RING_ALIGN;
		return NULL;
	}
	p = guest_mem_ptr(mem, gpa, len);
	if (p == NULL) {
		*err = VIRTQ_ERR_RING_ADDR;
		return NULL;
	}
	/* Atomic accesses need the host address aligned too; regions are
	 * page-aligned mappings in vmm, but do not assume it. */
	if ((uintptr_t)p & (align - 1)) {
		*err = VIRTQ_ERR_RING_ALIGN;
		return NULL;
	}
	return p;
}

int virtq_init(struct virtq *vq, const struct guest_mem *mem, const struct virtq_config *cfg)
{
	enum virtq_error err = VIRTQ_OK;
	uint16_t size = cfg->size;

	virtq_reset(vq);
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1))) {
		vq->error = VIRTQ_ERR_SIZE;
		return -1;
	}
	vq->size = size;
	vq->desc = map_ring(mem, cfg->desc_gpa, VIRTQ_DESC_BYTES(size), 16, &err);
	if (vq->desc)
		vq->avail = map_ring(mem, cfg->avail_gpa, VIRTQ_AVAIL_BYTES(size), 2, &err);
	if (vq->avail)
		vq->used = map_ring(mem, cfg->used_gpa, VIRTQ_USED_BYTES(size), 4, &err);
	if (vq->used == NULL) {
		virtq_reset(vq);
		vq->error = err;
		return -1;
	}
	vq->mem = mem;
	vq->event_idx = cfg->features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = cfg->features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	/* The driver zeroed the used ring; start from the same place.  Our
	 * copy of the flags starts with notifications enabled. */
	vq->used_flags = 0;
	shared_store16(used_flags(vq), 0);
	if (vq->event_idx)
		shared_store16(avail_event(vq), 0);
	vq->ready = true;
	return 0;
}

void virtq_reset(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
}

static enum virtq_pop_result chain_error(struct virtq *vq, enum virtq_error err)
{
	vq->error = err;
	return VIRTQ_POP_BAD_CHAIN;
}

/* Adds one buffer to req, enforcing readable-before-writable and the
 * 32-bit total length (the used ring reports lengths in 32 bits). */
static enum virtq_error add_buffer(struct virtq *vq, struct virtq_req *req, const struct desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	uint32_t *total = writable ? &req->writable_len : &req->readable_len;
	unsigned int n = req->nr_readable + req->nr_writable;
	void *host;

	if (!writable && req->nr_writable > 0)
		return VIRTQ_ERR_READ_AFTER_WRITE;
	if (d->len == 0)
		return VIRTQ_OK;
	if (d->addr + d->len < d->addr)
		return VIRTQ_ERR_LEN_OVERFLOW;
	if ((uint64_t)*total + d->len > UINT32_MAX)
		return VIRTQ_ERR_LEN_OVERFLOW;
	host = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (host == NULL)
		return VIRTQ_ERR_BUF_ADDR;
	if (n >= req->iov_cap)
		return VIRTQ_ERR_TOO_MANY_SEGS;
	req->iov[n].iov_base = host;
	req->iov[n].iov_len = d->len;
	*total += d->len;
	if (writable)
		req->nr_writable++;
	else
		req->nr_readable++;
	return VIRTQ_OK;
}

/* Maps the table an INDIRECT descriptor points to. */
static enum virtq_error map_indirect(struct virtq *vq, const struct desc *d, bool nested,
				     const uint8_t **table, uint32_t *entries)
{
	if (!vq->indirect)
		return VIRTQ_ERR_INDIRECT_FEATURE;
	if (nested)
		return VIRTQ_ERR_INDIRECT_NESTED;
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return VIRTQ_ERR_INDIRECT_NEXT;
	if (d->len == 0 || d->len % 16 || d->len / 16 > VIRTQ_MAX_SIZE)
		return VIRTQ_ERR_INDIRECT_LEN;
	if (d->addr + d->len < d->addr)
		return VIRTQ_ERR_LEN_OVERFLOW;
	*table = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (*table == NULL)
		return VIRTQ_ERR_BUF_ADDR;
	*entries = d->len / 16;
	return VIRTQ_OK;
}

/*
 * Walks the chain starting at req->head: zero or more direct descriptors,
 * optionally ending in one INDIRECT descriptor whose table is walked from
 * entry 0.  Each table is walked at most `entries` steps, which bounds any
 * loop the guest builds.
 */
static enum virtq_pop_result walk_chain(struct virtq *vq, struct virtq_req *req)
{
	const uint8_t *table = vq->desc;
	uint32_t entries = vq->size;
	uint32_t steps = 0;
	uint32_t i = req->head;
	bool in_indirect = false;
	enum virtq_error err;
	struct desc d;

	for (;;) {
		if (++steps > entries)
			return chain_error(vq, VIRTQ_ERR_CHAIN_LOOP);
		read_desc(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			err = map_indirect(vq, &d, in_indirect, &table, &entries);
			if (err != VIRTQ_OK)
				return chain_error(vq, err);
			in_indirect = true;
			steps = 0;
			i = 0;
			continue;
		}
		err = add_buffer(vq, req, &d);
		if (err != VIRTQ_OK)
			return chain_error(vq, err);
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return VIRTQ_POP_OK;
		if (d.next >= entries)
			return chain_error(vq, VIRTQ_ERR_NEXT);
		i = d.next;
	}
}

static enum virtq_pop_result queue_broken(struct virtq *vq, enum virtq_error err)
{
	vq->broken = true;
	vq->error = err;
	return VIRTQ_POP_BROKEN;
}

enum virtq_pop_result virtq_pop(struct virtq *vq, struct virtq_req *req)
{
	uint16_t avail, pending, head;

	if (!vq->ready) {
		vq->error = VIRTQ_ERR_NOT_READY;
		return VIRTQ_POP_BROKEN;
	}
	if (vq->broken)
		return VIRTQ_POP_BROKEN;

	avail = shared_load16_acquire(avail_idx(vq));
	pending = (uint16_t)(avail - vq->last_avail_idx);
	if (pending == 0)
		return VIRTQ_POP_EMPTY;
	if (pending > vq->size)
		return queue_broken(vq, VIRTQ_ERR_AVAIL_IDX);

	head = shared_load16(avail_ring(vq, vq->last_avail_idx & (vq->size - 1)));
	/* An out-of-range head cannot even be returned in the used ring. */
	if (head >= vq->size)
		return queue_broken(vq, VIRTQ_ERR_HEAD);
	vq->last_avail_idx++;
	vq->inflight++;

	req->head = head;
	req->nr_readable = 0;
	req->nr_writable = 0;
	req->readable_len = 0;
	req->writable_len = 0;
	return walk_chain(vq, req);
}

int virtq_add_used(struct virtq *vq, uint16_t head, uint32_t len)
{
	uint8_t *elem;

	if (!vq->ready || vq->broken)
		return -1;
	if (head >= vq->size || vq->inflight == 0) {
		vq->error = VIRTQ_ERR_BAD_PUSH;
		return -1;
	}
	elem = used_elem(vq, vq->used_idx & (vq->size - 1));
	shared_store32(elem + offsetof(struct vring_used_elem, id), head);
	shared_store32(elem + offsetof(struct vring_used_elem, len), len);
	vq->used_idx++;
	vq->inflight--;
	return 0;
}

void virtq_publish_used(struct virtq *vq)
{
	if (!vq->ready || vq->broken || vq->published_used == vq->used_idx)
		return;
	vq->published_used = vq->used_idx;
	shared_store16_release(used_idx(vq), vq->used_idx);
}

int virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	if (virtq_add_used(vq, head, len) < 0)
		return -1;
	virtq_publish_used(vq);
	return 0;
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old, event;
	bool valid;

	if (!vq->ready || vq->broken)
		return false;
	virtq_publish_used(vq);
	/* Order our used idx store before reading what the guest asked for. */
	full_barrier();
	if (!vq->event_idx)
		return !(shared_load16(avail_flags(vq)) & VIRTQ_AVAIL_F_NO_INTERRUPT);

	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	vq->signalled_used = vq->used_idx;
	vq->signalled_used_valid = true;
	/* Nothing signalled yet: we have no "old" to compare against. */
	if (!valid)
		return true;
	event = shared_load16(used_event(vq));
	return vring_need_event(event, vq->used_idx, old);
}

void virtq_disable_notify(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return;
	/* With EVENT_IDX the guest kicks only when it passes avail_event,
	 * which stays behind what we will pop: nothing to write. */
	if (vq->event_idx || (vq->used_flags & VIRTQ_USED_F_NO_NOTIFY))
		return;
	vq->used_flags |= VIRTQ_USED_F_NO_NOTIFY;
	shared_store16(used_flags(vq), vq->used_flags);
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	if (vq->event_idx) {
		shared_store16(avail_event(vq), vq->last_avail_idx);
	} else if (vq->used_flags & VIRTQ_USED_F_NO_NOTIFY) {
		vq->used_flags &= ~VIRTQ_USED_F_NO_NOTIFY;
		shared_store16(used_flags(vq), vq->used_flags);
	}
	/* The guest stores avail idx then reads our request; we store our
	 * request then read avail idx.  Without this, both can miss. */
	full_barrier();
	return virtq_has_avail(vq);
}

/* Asks the guest to kick once it has added more than `defer` chains
 * beyond what was taken; true when chains are (still) available. */
static bool arm_notify(struct virtq *vq, uint16_t defer)
{
	if (vq->event_idx) {
		shared_store16(avail_event(vq), (uint16_t)(vq->last_avail_idx + defer));
	} else if (defer > 0) {
		/* No threshold without EVENT_IDX: stay quiet, the caller
		 * promised to look again. */
		return virtq_has_avail(vq);
	} else if (vq->used_flags & VIRTQ_USED_F_NO_NOTIFY) {
		vq->used_flags &= ~VIRTQ_USED_F_NO_NOTIFY;
		shared_store16(used_flags(vq), vq->used_flags);
	}
	/* See virtq_enable_notify: store our request, then re-read avail. */
	full_barrier();
	return virtq_has_avail(vq);
}

enum virtq_pop_result virtq_pop_or_enable_notify(struct virtq *vq, struct virtq_req *req,
						 uint16_t defer)
{
	enum virtq_pop_result r = virtq_pop(vq, req);

	if (r != VIRTQ_POP_EMPTY)
		goto taken;
	if (!arm_notify(vq, defer))
		return VIRTQ_POP_EMPTY;
	/* Chains arrived meanwhile: take them, and the guest need not kick
	 * for them (with EVENT_IDX avail_event now falls behind by itself). */
	r = virtq_pop(vq, req);
taken:
	if (r != VIRTQ_POP_BROKEN)
		virtq_disable_notify(vq);
	return r;
}

bool virtq_has_avail(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	return shared_load16_acquire(avail_idx(vq)) != vq->last_avail_idx;
}

bool virtq_get_state(const struct virtq *vq, struct virtq_state *st)
{
	*st = (struct virtq_state){ .event_idx = vq->event_idx };
	if (!vq->ready)
		return false;
	st->avail_idx = shared_load16(avail_idx(vq));
	st->last_avail_idx = vq->last_avail_idx;
	st->used_idx = vq->published_used;
	st->avail_event = shared_load16(avail_event(vq));
	st->used_event = shared_load16(used_event(vq));
	st->used_flags = vq->used_flags;
	st->avail_flags = shared_load16(avail_flags(vq));
	st->inflight = vq->inflight;
	return true;
}
