/*
 * Test helper: a fake guest RAM (one malloc'd region registered with
 * guest_mem_add at a non-zero guest address) holding a split virtqueue that
 * the test drives as the guest driver would.  Header-only so that each
 * test_*.c stays one binary.
 */
#ifndef TESTS_UNIT_FAKE_RING_H
#define TESTS_UNIT_FAKE_RING_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/guest_mem.h"
#include "devices/virtio/queue.h"

#define FR_RAM_GPA  0x100000ull
#define FR_RAM_SIZE (4ull << 20)

struct fake_ring {
	struct guest_mem mem;
	uint8_t *ram;
	uint16_t size;
	uint64_t features;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx; /* the driver's next avail index */
	uint64_t next_buf;  /* bump allocator for buffers */
};

static inline void *fr_host(struct fake_ring *r, uint64_t gpa)
{
	/* Not ck_assert: called per descriptor, and assertions are slow. */
	if (gpa < FR_RAM_GPA || gpa >= FR_RAM_GPA + FR_RAM_SIZE)
		ck_abort_msg("test bug: gpa %#llx outside fake RAM", (unsigned long long)gpa);
	return r->ram + (gpa - FR_RAM_GPA);
}

/* Rings at the start of RAM (room for size 32768), buffers after them. */
static inline void fr_init(struct fake_ring *r, uint16_t size, uint64_t features)
{
	memset(r, 0, sizeof(*r));
	r->ram = aligned_alloc(4096, FR_RAM_SIZE);
	ck_assert_ptr_nonnull(r->ram);
	memset(r->ram, 0, FR_RAM_SIZE);
	ck_assert_int_eq(guest_mem_add(&r->mem, FR_RAM_GPA, FR_RAM_SIZE, r->ram), 0);
	r->size = size;
	r->features = features;
	r->desc_gpa = FR_RAM_GPA;
	r->avail_gpa = FR_RAM_GPA + 0x80000;
	r->used_gpa = FR_RAM_GPA + 0x91000;
	r->next_buf = FR_RAM_GPA + 0x100000;
}

static inline void fr_free(struct fake_ring *r)
{
	free(r->ram);
	r->ram = NULL;
}

static inline struct virtq_config fr_config(const struct fake_ring *r)
{
	return (struct virtq_config){
		.size = r->size,
		.desc_gpa = r->desc_gpa,
		.avail_gpa = r->avail_gpa,
		.used_gpa = r->used_gpa,
		.features = r->features,
	};
}

/* A zeroed buffer of len bytes, 512-aligned. */
static inline uint64_t fr_alloc(struct fake_ring *r, uint64_t len)
{
	uint64_t gpa = r->next_buf;
	r->next_buf = (r->next_buf + len + 511) & ~511ull;
	if (r->next_buf > FR_RAM_GPA + FR_RAM_SIZE)
		ck_abort_msg("test bug: fake RAM exhausted");
	memset(fr_host(r, gpa), 0, len);
	return gpa;
}

static inline void fr_write_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags,
				 uint16_t next)
{
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static inline void fr_desc(struct fake_ring *r, uint16_t i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next)
{
	fr_write_desc(fr_host(r, r->desc_gpa + 16ull * i), addr, len, flags, next);
}

/* Entry i of a descriptor table at table_gpa (indirect tables). */
static inline void fr_table_desc(struct fake_ring *r, uint64_t table_gpa, uint16_t i, uint64_t addr,
				 uint32_t len, uint16_t flags, uint16_t next)
{
	fr_write_desc(fr_host(r, table_gpa + 16ull * i), addr, len, flags, next);
}

/* Ring fields the device reads or writes concurrently (flags, indices,
 * ring entries, event words, used elements): single untorn accesses, as a
 * real driver's READ_ONCE/WRITE_ONCE, so ThreadSanitizer sees what a guest
 * does.  Ordering comes from fr_publish (release) and
 * fr_used_idx_acquire. */
static inline void fr_put16(struct fake_ring *r, uint64_t gpa, uint16_t v)
{
	__atomic_store_n((uint16_t *)fr_host(r, gpa), v, __ATOMIC_RELAXED);
}

static inline uint16_t fr_get16(struct fake_ring *r, uint64_t gpa)
{
	return __atomic_load_n((uint16_t *)fr_host(r, gpa), __ATOMIC_RELAXED);
}

static inline uint32_t fr_get32(struct fake_ring *r, uint64_t gpa)
{
	return __atomic_load_n((uint32_t *)fr_host(r, gpa), __ATOMIC_RELAXED);
}

/* Puts head in the avail ring and publishes it. */
static inline void fr_publish(struct fake_ring *r, uint16_t head)
{
	fr_put16(r, r->avail_gpa + 4 + 2ull * (r->avail_idx % r->size), head);
	r->avail_idx++;
	/* Release: the device may be polling from another thread, and must
	 * see the descriptors and buffers written before. */
	__atomic_store_n((uint16_t *)fr_host(r, r->avail_gpa + 2), r->avail_idx, __ATOMIC_RELEASE);
}

static inline void fr_set_avail_idx(struct fake_ring *r, uint16_t idx)
{
	r->avail_idx = idx;
	fr_put16(r, r->avail_gpa + 2, idx);
}

static inline void fr_set_avail_flags(struct fake_ring *r, uint16_t flags)
{
	fr_put16(r, r->avail_gpa, flags);
}

static inline void fr_set_used_event(struct fake_ring *r, uint16_t v)
{
	fr_put16(r, r->avail_gpa + 4 + 2ull * r->size, v);
}

static inline uint16_t fr_used_idx(struct fake_ring *r)
{
	return fr_get16(r, r->used_gpa + 2);
}

/* The used idx as a driver on another CPU reads it: acquire. */
static inline uint16_t fr_used_idx_acquire(struct fake_ring *r)
{
	return __atomic_load_n((uint16_t *)fr_host(r, r->used_gpa + 2), __ATOMIC_ACQUIRE);
}

static inline uint16_t fr_used_flags(struct fake_ring *r)
{
	return fr_get16(r, r->used_gpa);
}

static inline uint16_t fr_avail_event(struct fake_ring *r)
{
	return fr_get16(r, r->used_gpa + 4 + 8ull * r->size);
}

/* Used element for used index i (mod size). */
static inline void fr_used_elem(struct fake_ring *r, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint64_t gpa = r->used_gpa + 4 + 8ull * (i % r->size);
	*id = fr_get32(r, gpa);
	*len = fr_get32(r, gpa + 4);
}

#endif
