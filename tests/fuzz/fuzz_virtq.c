/*
 * Fuzz target for the split virtqueue (devices/virtio/queue.c): the input is
 * a small program a hostile guest driver runs against one queue.  Guest RAM
 * is several regions with an MMIO hole between them and two regions that
 * touch (a buffer may not span them: their host mappings differ), so rings,
 * buffers and indirect tables can sit anywhere, straddle a boundary or fall
 * into the hole.  Queue sizes go up to 32768 and indirect tables up to
 * 32768 entries, built by a few "descriptor run" operations rather than
 * byte by byte.  Buffers are completed out of order, as a device may.
 *
 * Checked: every buffer handed out lies wholly inside one RAM region, the
 * segment counts and lengths add up, heads are in range, and a push of a
 * head that was popped always succeeds while a push with nothing in flight
 * fails.  ASan/UBSan catch the rest (each region is its own allocation).
 *
 * Input: a header (queue size as log2 mod 16, ring features, iov capacity,
 * ring addresses), then operations until the input ends; see run_op().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/queue.h"
#include "fuzz.h"

#define MIB (1ull << 20)

/* R0 [0, 1M), hole [1M, 2M), R1 [2M, 3M), R2 [3M, 3M+256K) touching R1,
 * R3 above 4 GiB. */
static const struct {
	uint64_t gpa, size;
} layout[] = {
	{ 0, MIB },
	{ 2 * MIB, MIB },
	{ 3 * MIB, 256 << 10 },
	{ 4ull << 30, 64 << 10 },
};
#define NR_REGIONS  (sizeof(layout) / sizeof(layout[0]))
#define HOLE_GPA    MIB

#define MAX_IOV	    1024
#define MAX_PENDING 65536
#define MAX_DIRTY   256

static uint8_t *ram[NR_REGIONS];
static struct guest_mem mem;
static struct iovec iov[MAX_IOV];
static uint16_t pending[MAX_PENDING];
static unsigned int nr_pending;
/* Pops per input.  A chain may take up to size + 32768 descriptor reads
 * (a direct part, then a full indirect table), so a ring of 32768 such
 * chains is 2^31 reads: bounded, but minutes under libFuzzer.  512 chains
 * still cover two laps of every queue the device offers (256). */
#define MAX_POPS 512
static unsigned int pops_left;

/* What the run wrote, zeroed again before the next input (cheaper than
 * clearing megabytes per run). */
static struct {
	uint8_t *p;
	size_t len;
} dirty[MAX_DIRTY];
static unsigned int nr_dirty;
static bool dirty_all;

static void mark_dirty(uint8_t *p, size_t len)
{
	if (nr_dirty == MAX_DIRTY) {
		dirty_all = true;
		return;
	}
	dirty[nr_dirty].p = p;
	dirty[nr_dirty].len = len;
	nr_dirty++;
}

static void clean_ram(void)
{
	for (unsigned int i = 0; i < NR_REGIONS; i++)
		if (dirty_all)
			memset(ram[i], 0, layout[i].size);
	if (!dirty_all)
		for (unsigned int i = 0; i < nr_dirty; i++)
			memset(dirty[i].p, 0, dirty[i].len);
	nr_dirty = 0;
	dirty_all = false;
}

static void setup(void)
{
	for (unsigned int i = 0; i < NR_REGIONS; i++) {
		ram[i] = aligned_alloc(4096, layout[i].size);
		FUZZ_CHECK(ram[i] != NULL);
		memset(ram[i], 0, layout[i].size);
		FUZZ_CHECK(guest_mem_add(&mem, layout[i].gpa, layout[i].size, ram[i]) == 0);
	}
}

/* A guest address: mostly inside a region (or the hole, or just before a
 * region's end), sometimes any 64-bit value. */
static uint64_t fz_gpa(struct fz *f, uint64_t align)
{
	uint8_t sel = fz_u8(f);
	uint32_t off = fz_u32(f);
	uint64_t gpa;

	if (sel & 0x80)
		return fz_u64(f);
	sel %= NR_REGIONS + 2;
	if (sel < NR_REGIONS)
		gpa = layout[sel].gpa + off % layout[sel].size;
	else if (sel == NR_REGIONS)
		gpa = HOLE_GPA + off % MIB;
	else /* just before the end of a region */
		gpa = layout[off % NR_REGIONS].gpa + layout[off % NR_REGIONS].size -
		      (off >> 8) % 4096;
	return gpa & ~(align - 1);
}

/* Guest bytes at gpa if [gpa, gpa + len) is RAM, for the "driver" side. */
static uint8_t *guest(uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&mem, gpa, len);
	if (p && len)
		mark_dirty(p, len);
	return p;
}

static void put16(uint64_t gpa, uint16_t v)
{
	uint8_t *p = guest(gpa, 2);
	if (p)
		memcpy(p, &v, 2);
}

static void check_inside(const struct iovec *v)
{
	const uint8_t *p = v->iov_base;

	FUZZ_CHECK(v->iov_len > 0);
	for (unsigned int i = 0; i < NR_REGIONS; i++)
		if (p >= ram[i] && v->iov_len <= layout[i].size &&
		    p <= ram[i] + layout[i].size - v->iov_len)
			return;
	FUZZ_CHECK(!"buffer outside guest RAM");
}

struct state {
	struct virtq vq;
	struct virtq_config cfg;
	unsigned int iov_cap;
	uint16_t avail_idx; /* the driver's */
};

static void push_one(struct state *s, unsigned int k)
{
	uint16_t head = pending[k];

	pending[k] = pending[--nr_pending];
	/* Only a queue that broke since the pop may refuse it. */
	FUZZ_CHECK(virtq_push(&s->vq, head, 0) == 0 || virtq_is_broken(&s->vq));
}

/* The device side: pop up to n chains, checking each. */
static void device_run(struct state *s, unsigned int n)
{
	struct virtq_req req = { .iov = iov, .iov_cap = s->iov_cap };

	for (unsigned int i = 0; i < n && pops_left; i++, pops_left--) {
		enum virtq_pop_result r;
		uint64_t rd = 0, wr = 0;

		virtq_disable_notify(&s->vq);
		r = virtq_pop(&s->vq, &req);
		if (r == VIRTQ_POP_EMPTY) {
			if (!virtq_enable_notify(&s->vq))
				break;
			continue;
		}
		if (r == VIRTQ_POP_BROKEN) {
			FUZZ_CHECK(virtq_is_broken(&s->vq) || !s->vq.ready);
			FUZZ_CHECK(virtq_push(&s->vq, 0, 0) < 0);
			break;
		}
		FUZZ_CHECK(req.head < s->vq.size);
		if (r == VIRTQ_POP_OK) {
			FUZZ_CHECK(req.nr_readable + req.nr_writable <= s->iov_cap);
			for (unsigned int k = 0; k < req.nr_readable + req.nr_writable; k++) {
				check_inside(&iov[k]);
				if (k < req.nr_readable)
					rd += iov[k].iov_len;
				else
					wr += iov[k].iov_len;
			}
			FUZZ_CHECK(rd == req.readable_len && wr == req.writable_len);
		}
		if (nr_pending == MAX_PENDING)
			push_one(s, 0);
		pending[nr_pending++] = req.head;
	}
	(void)virtq_should_notify(&s->vq);
}

static bool config_from(struct fz *f, struct state *s)
{
	uint8_t b = fz_u8(f);

	s->cfg = (struct virtq_config){
		.size = (uint16_t)(1u << (b & 15)),
		.features = ((b & 0x10) ? 1ull << VIRTIO_RING_F_INDIRECT_DESC : 0) |
			    ((b & 0x20) ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0),
	};
	if (b & 0x40) /* a size that is not a power of two, or 0 */
		s->cfg.size = fz_u16(f);
	s->iov_cap = 1 + fz_u16(f) % MAX_IOV;
	s->cfg.desc_gpa = fz_gpa(f, 16);
	s->cfg.avail_gpa = fz_gpa(f, 2);
	s->cfg.used_gpa = fz_gpa(f, 4);
	s->avail_idx = 0;
	nr_pending = 0;
	if (virtq_init(&s->vq, &mem, &s->cfg) < 0)
		return false;
	FUZZ_CHECK(s->vq.size == s->cfg.size);
	/* The device wrote the used ring's flags (and avail_event). */
	mark_dirty(s->vq.used, VIRTQ_USED_BYTES(s->cfg.size));
	return true;
}

/* A run of count descriptors in the table at table_gpa: buffer k at
 * addr + k * stride, linked k -> k + 1 (or all to one fixed next). */
static void desc_run(struct fz *f)
{
	uint64_t table = fz_gpa(f, 16);
	uint32_t count = fz_u16(f) % (VIRTQ_MAX_SIZE + 1);
	uint64_t addr = fz_gpa(f, 1);
	uint32_t len = fz_u32(f);
	uint16_t flags = fz_u16(f);
	uint32_t stride = fz_u32(f);
	uint8_t mode = fz_u8(f);
	uint16_t fixed_next = fz_u16(f);
	uint8_t *p;

	if (mode & 1)
		len %= 8192;
	p = guest(table, 16ull * count);
	if (p == NULL)
		return;
	for (uint32_t k = 0; k < count; k++) {
		uint64_t a = addr + (uint64_t)k * stride;
		uint16_t fl = flags, next = (mode & 2) ? fixed_next : (uint16_t)(k + 1);
		if (!(mode & 2) && k + 1 == count)
			fl &= ~VIRTQ_DESC_F_NEXT;
		memcpy(p + 16ull * k, &a, 8);
		memcpy(p + 16ull * k + 8, &len, 4);
		memcpy(p + 16ull * k + 12, &fl, 2);
		memcpy(p + 16ull * k + 14, &next, 2);
	}
}

/* The driver publishes count heads: start, start + step, ... */
static void publish(struct fz *f, struct state *s)
{
	uint16_t count = fz_u16(f), head = fz_u16(f), step = fz_u16(f);
	uint16_t size = s->cfg.size ? s->cfg.size : 1;
	uint8_t *idx;

	count %= (uint32_t)size + 2; /* one past the limit breaks the queue */
	for (uint16_t k = 0; k < count; k++, head += step)
		put16(s->cfg.avail_gpa + 4 + 2ull * ((s->avail_idx + k) % size), head);
	s->avail_idx += count;
	idx = guest(s->cfg.avail_gpa + 2, 2);
	if (idx && ((uintptr_t)idx & 1) == 0)
		__atomic_store_n((uint16_t *)idx, s->avail_idx, __ATOMIC_RELEASE);
}

static void run_op(struct fz *f, struct state *s)
{
	switch (fz_u8(f) % 8) {
	case 0: { /* raw bytes anywhere */
		uint64_t gpa = fz_gpa(f, 1);
		uint8_t len = fz_u8(f), buf[256];
		uint8_t *p;
		fz_bytes(f, buf, len);
		p = guest(gpa, len);
		if (p)
			memcpy(p, buf, len);
		break;
	}
	case 1:
		desc_run(f);
		break;
	case 2:
		publish(f, s);
		break;
	case 3:
		device_run(s, 1 + fz_u8(f));
		break;
	case 4: { /* complete one in-flight chain, in any order */
		uint16_t k = fz_u16(f);
		if (nr_pending)
			push_one(s, k % nr_pending);
		(void)virtq_should_notify(&s->vq);
		break;
	}
	case 5: { /* ring words the driver owns */
		uint16_t size = s->cfg.size;
		put16(s->cfg.avail_gpa, fz_u16(f));		      /* flags */
		put16(s->cfg.avail_gpa + 4 + 2ull * size, fz_u16(f)); /* used_event */
		if (fz_u8(f) & 1) {
			s->avail_idx = fz_u16(f);
			put16(s->cfg.avail_gpa + 2, s->avail_idx);
		}
		break;
	}
	case 6: /* the driver resets the queue and sets it up again */
		virtq_reset(&s->vq);
		(void)config_from(f, s);
		break;
	case 7: /* drain everything */
		device_run(s, 65536);
		while (nr_pending)
			push_one(s, 0);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	static struct state s;

	if (ram[0] == NULL)
		setup();
	memset(&s, 0, sizeof(s));
	pops_left = MAX_POPS;
	(void)config_from(&f, &s);
	for (unsigned int ops = 0; fz_more(&f) && ops < 4096; ops++)
		run_op(&f, &s);
	device_run(&s, 65536);
	while (nr_pending)
		push_one(&s, 0);
	if (s.vq.ready && !s.vq.broken)
		FUZZ_CHECK(s.vq.inflight == 0 && virtq_push(&s.vq, 0, 0) < 0);
	clean_ram();
	return 0;
}
