/*
 * Split virtqueue tests against crafted rings in a fake guest RAM: ring
 * validation, chain walking (direct and indirect), every malformed chain
 * the queue must refuse, the used ring, 16-bit index wrap-around and
 * notification suppression with and without EVENT_IDX.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/util.h"
#include "devices/virtio/queue.h"
#include "fake_ring.h"

#define F_INDIRECT  (1ull << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT_IDX (1ull << VIRTIO_RING_F_EVENT_IDX)
#define R	    VIRTQ_DESC_F_NEXT
#define W	    VIRTQ_DESC_F_WRITE

static struct fake_ring ring;
static struct virtq vq;
static struct iovec iov[16];
static struct virtq_req req;

static void setup_features(uint16_t size, uint64_t features)
{
	fr_init(&ring, size, features);
	struct virtq_config cfg = fr_config(&ring);
	ck_assert_int_eq(virtq_init(&vq, &ring.mem, &cfg), 0);
	memset(&req, 0, sizeof(req));
	req.iov = iov;
	req.iov_cap = 16;
}

static void teardown(void)
{
	fr_free(&ring);
}

/* Pops expecting a refused chain with the given reason. */
static void expect_bad_chain(enum virtq_error err)
{
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_BAD_CHAIN);
	ck_assert_msg(vq.error == err, "error %s, expected %s", virtq_strerror(vq.error),
		      virtq_strerror(err));
	ck_assert(!virtq_is_broken(&vq));
	/* The request is failed, not the queue: it can be returned. */
	ck_assert_int_eq(virtq_push(&vq, req.head, 0), 0);
}

static void expect_broken(enum virtq_error err)
{
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_BROKEN);
	ck_assert_msg(vq.error == err, "error %s, expected %s", virtq_strerror(vq.error),
		      virtq_strerror(err));
	ck_assert(virtq_is_broken(&vq));
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_BROKEN);
}

/* ---- ring configuration ---- */

static int init_with(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct virtq_config cfg = fr_config(&ring);
	cfg.size = size;
	cfg.desc_gpa = desc;
	cfg.avail_gpa = avail;
	cfg.used_gpa = used;
	return virtq_init(&vq, &ring.mem, &cfg);
}

START_TEST(init_rejects_bad_sizes)
{
	static const uint16_t bad[] = { 0, 3, 6, 100, 255, 32767, 32769, 49152, 65535 };
	setup_features(8, 0);
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(init_with(bad[i], ring.desc_gpa, ring.avail_gpa, ring.used_gpa),
				 -1);
		ck_assert_int_eq(vq.error, VIRTQ_ERR_SIZE);
		ck_assert(!vq.ready);
	}
	/* Every power of two up to the maximum is fine. */
	for (uint32_t s = 1; s <= VIRTQ_MAX_SIZE; s <<= 1)
		ck_assert_int_eq(
			init_with((uint16_t)s, ring.desc_gpa, ring.avail_gpa, ring.used_gpa), 0);
}
END_TEST

START_TEST(init_rejects_misaligned_rings)
{
	setup_features(8, 0);
	ck_assert_int_eq(init_with(8, ring.desc_gpa + 8, ring.avail_gpa, ring.used_gpa), -1);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_RING_ALIGN);
	ck_assert_int_eq(init_with(8, ring.desc_gpa, ring.avail_gpa + 1, ring.used_gpa), -1);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_RING_ALIGN);
	ck_assert_int_eq(init_with(8, ring.desc_gpa, ring.avail_gpa, ring.used_gpa + 2), -1);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_RING_ALIGN);
	/* The minimum alignments are enough. */
	ck_assert_int_eq(init_with(8, ring.desc_gpa + 16, ring.avail_gpa + 2, ring.used_gpa + 4),
			 0);
}
END_TEST

START_TEST(init_rejects_rings_outside_ram)
{
	uint64_t end = FR_RAM_GPA + FR_RAM_SIZE;
	setup_features(8, 0);
	/* Entirely outside, below and above. */
	ck_assert_int_eq(init_with(8, 0, ring.avail_gpa, ring.used_gpa), -1);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_RING_ADDR);
	ck_assert_int_eq(init_with(8, ring.desc_gpa, end + 0x1000, ring.used_gpa), -1);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_RING_ADDR);
	/* Straddling the end of RAM. */
	ck_assert_int_eq(init_with(8, end - 64, ring.avail_gpa, ring.used_gpa), -1);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_RING_ADDR);
	ck_assert_int_eq(init_with(8, ring.desc_gpa, ring.avail_gpa, end - 64), -1);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_RING_ADDR);
	/* Wrapping the 64-bit address space. */
	ck_assert_int_eq(init_with(8, 0xfffffffffffffff0ull, ring.avail_gpa, ring.used_gpa), -1);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_RING_ADDR);
	/* Exactly fitting at the end is fine (used ring, 6 + 8*8 bytes, aligned to 4). */
	ck_assert_int_eq(init_with(8, ring.desc_gpa, ring.avail_gpa, end - 72), 0);
}
END_TEST

START_TEST(pop_before_init_is_refused)
{
	struct virtq fresh;
	struct virtq_req r = { .iov = iov, .iov_cap = 16 };
	virtq_reset(&fresh);
	ck_assert_int_eq(virtq_pop(&fresh, &r), VIRTQ_POP_BROKEN);
	ck_assert_int_eq(fresh.error, VIRTQ_ERR_NOT_READY);
	ck_assert_int_eq(virtq_push(&fresh, 0, 0), -1);
	ck_assert(!virtq_should_notify(&fresh));
}
END_TEST

/* ---- chains ---- */

START_TEST(pop_empty)
{
	setup_features(8, 0);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_EMPTY);
	ck_assert(!virtq_has_avail(&vq));
}
END_TEST

START_TEST(pop_direct_chain_splits_readable_and_writable)
{
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 16), b = fr_alloc(&ring, 4096), c = fr_alloc(&ring, 1);
	fr_desc(&ring, 5, a, 16, R, 2);
	fr_desc(&ring, 2, b, 4096, R | W, 7);
	fr_desc(&ring, 7, c, 1, W, 0);
	fr_publish(&ring, 5);

	ck_assert(virtq_has_avail(&vq));
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert_uint_eq(req.head, 5);
	ck_assert_uint_eq(req.nr_readable, 1);
	ck_assert_uint_eq(req.nr_writable, 2);
	ck_assert_uint_eq(req.readable_len, 16);
	ck_assert_uint_eq(req.writable_len, 4097);
	ck_assert_ptr_eq(iov[0].iov_base, fr_host(&ring, a));
	ck_assert_ptr_eq(iov[1].iov_base, fr_host(&ring, b));
	ck_assert_uint_eq(iov[1].iov_len, 4096);
	ck_assert_ptr_eq(iov[2].iov_base, fr_host(&ring, c));
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_EMPTY);
}
END_TEST

START_TEST(zero_length_buffers_are_dropped)
{
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 0, R, 1);
	fr_desc(&ring, 1, a, 16, R, 2);
	/* Zero length: no memory is touched, so even a wild address is harmless. */
	fr_desc(&ring, 2, 0xdead0000000ull, 0, W, 0);
	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert_uint_eq(req.nr_readable, 1);
	ck_assert_uint_eq(req.nr_writable, 0);
	ck_assert_uint_eq(req.readable_len, 16);
}
END_TEST

START_TEST(chain_loop_is_refused)
{
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, R, 1);
	fr_desc(&ring, 1, a, 16, R, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_CHAIN_LOOP);
	/* A descriptor pointing at itself. */
	fr_desc(&ring, 3, a, 16, R, 3);
	fr_publish(&ring, 3);
	expect_bad_chain(VIRTQ_ERR_CHAIN_LOOP);
}
END_TEST

START_TEST(chain_longer_than_queue_is_refused)
{
	/* Every descriptor used once, then the tail points back into the
	 * chain: size + 1 steps, so the chain is too long. */
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 8);
	for (uint16_t i = 0; i < 8; i++)
		fr_desc(&ring, i, a, 8, R, (uint16_t)((i + 1) % 8));
	fr_publish(&ring, 0);
	req.iov_cap = 16;
	expect_bad_chain(VIRTQ_ERR_CHAIN_LOOP);
	/* Exactly size descriptors is the longest legal chain. */
	fr_desc(&ring, 7, a, 8, 0, 0);
	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert_uint_eq(req.nr_readable, 8);
}
END_TEST

START_TEST(next_out_of_range_is_refused)
{
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, R, 8);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_NEXT);
	fr_desc(&ring, 0, a, 16, R, 0xffff);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_NEXT);
}
END_TEST

START_TEST(head_out_of_range_breaks_queue)
{
	setup_features(8, 0);
	fr_publish(&ring, 8);
	expect_broken(VIRTQ_ERR_HEAD);
	/* A broken queue takes no more pushes and raises no interrupts. */
	ck_assert_int_eq(virtq_push(&vq, 0, 0), -1);
	ck_assert(!virtq_should_notify(&vq));
}
END_TEST

START_TEST(avail_idx_jump_breaks_queue)
{
	setup_features(8, 0);
	fr_set_avail_idx(&ring, 9);
	expect_broken(VIRTQ_ERR_AVAIL_IDX);
}
END_TEST

START_TEST(avail_idx_full_queue_is_fine)
{
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 16);
	for (uint16_t i = 0; i < 8; i++) {
		fr_desc(&ring, i, a, 16, 0, 0);
		fr_publish(&ring, i);
	}
	for (uint16_t i = 0; i < 8; i++) {
		ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
		ck_assert_uint_eq(req.head, i);
	}
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_EMPTY);
}
END_TEST

START_TEST(avail_idx_going_backwards_breaks_queue)
{
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, 0, 0);
	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	/* 0 - 1 = 65535 entries "pending". */
	fr_set_avail_idx(&ring, 0);
	expect_broken(VIRTQ_ERR_AVAIL_IDX);
}
END_TEST

START_TEST(buffer_outside_ram_is_refused)
{
	setup_features(8, 0);
	uint64_t end = FR_RAM_GPA + FR_RAM_SIZE;
	fr_desc(&ring, 0, 0x1000, 16, 0, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_BUF_ADDR);
	/* Starts inside, ends outside. */
	fr_desc(&ring, 0, end - 8, 16, 0, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_BUF_ADDR);
	/* Ends exactly at the end of RAM: fine. */
	fr_desc(&ring, 0, end - 16, 16, 0, 0);
	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
}
END_TEST

START_TEST(address_overflow_is_refused)
{
	setup_features(8, 0);
	fr_desc(&ring, 0, 0xfffffffffffff000ull, 0x2000, 0, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_LEN_OVERFLOW);
}
END_TEST

START_TEST(total_length_overflow_is_refused)
{
	/* Two 2 GiB buffers inside (reserved, never touched) RAM: their sum
	 * does not fit the used ring's 32-bit length. */
	const uint64_t big = 3ull << 30, big_gpa = 1ull << 32;
	void *p = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	setup_features(8, 0);
	ck_assert_int_eq(guest_mem_add(&ring.mem, big_gpa, big, p), 0);
	fr_desc(&ring, 0, big_gpa, 0x80000000u, W | R, 1);
	fr_desc(&ring, 1, big_gpa, 0x80000000u, W, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_LEN_OVERFLOW);
	/* Just below the limit is fine. */
	fr_desc(&ring, 1, big_gpa, 0x7fffffffu, W, 0);
	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert_uint_eq(req.writable_len, 0xffffffffu);
	munmap(p, big);
}
END_TEST

START_TEST(readable_after_writable_is_refused)
{
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, W | R, 1);
	fr_desc(&ring, 1, a, 16, 0, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_READ_AFTER_WRITE);
}
END_TEST

START_TEST(too_many_buffers_for_caller_is_refused)
{
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, R, 1);
	fr_desc(&ring, 1, a, 16, R, 2);
	fr_desc(&ring, 2, a, 16, 0, 0);
	fr_publish(&ring, 0);
	req.iov_cap = 2;
	expect_bad_chain(VIRTQ_ERR_TOO_MANY_SEGS);
}
END_TEST

START_TEST(bad_chain_is_returned_in_used_ring)
{
	setup_features(8, 0);
	fr_desc(&ring, 3, 0x10, 16, 0, 0);
	fr_publish(&ring, 3);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_BAD_CHAIN);
	ck_assert_uint_eq(req.head, 3);
	ck_assert_int_eq(virtq_push(&vq, req.head, 0), 0);
	uint32_t id, len;
	ck_assert_uint_eq(fr_used_idx(&ring), 1);
	fr_used_elem(&ring, 0, &id, &len);
	ck_assert_uint_eq(id, 3);
	ck_assert_uint_eq(len, 0);
}
END_TEST

/* ---- indirect descriptors ---- */

START_TEST(indirect_table_is_walked)
{
	setup_features(8, F_INDIRECT);
	uint64_t table = fr_alloc(&ring, 3 * 16);
	uint64_t a = fr_alloc(&ring, 16), b = fr_alloc(&ring, 512), c = fr_alloc(&ring, 1);
	fr_table_desc(&ring, table, 0, a, 16, R, 2);
	fr_table_desc(&ring, table, 2, b, 512, R | W, 1);
	fr_table_desc(&ring, table, 1, c, 1, W, 0);
	fr_desc(&ring, 4, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	fr_publish(&ring, 4);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert_uint_eq(req.head, 4);
	ck_assert_uint_eq(req.nr_readable, 1);
	ck_assert_uint_eq(req.nr_writable, 2);
	ck_assert_ptr_eq(iov[1].iov_base, fr_host(&ring, b));
	ck_assert_uint_eq(req.writable_len, 513);
}
END_TEST

START_TEST(direct_then_indirect_is_walked)
{
	setup_features(8, F_INDIRECT);
	uint64_t table = fr_alloc(&ring, 16);
	uint64_t a = fr_alloc(&ring, 16), c = fr_alloc(&ring, 1);
	fr_table_desc(&ring, table, 0, c, 1, W, 0);
	fr_desc(&ring, 0, a, 16, R, 1);
	fr_desc(&ring, 1, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert_uint_eq(req.nr_readable, 1);
	ck_assert_uint_eq(req.nr_writable, 1);
}
END_TEST

START_TEST(indirect_without_feature_is_refused)
{
	setup_features(8, 0);
	uint64_t table = fr_alloc(&ring, 16), a = fr_alloc(&ring, 16);
	fr_table_desc(&ring, table, 0, a, 16, 0, 0);
	fr_desc(&ring, 0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_INDIRECT_FEATURE);
}
END_TEST

START_TEST(nested_indirect_is_refused)
{
	setup_features(8, F_INDIRECT);
	uint64_t inner = fr_alloc(&ring, 16), outer = fr_alloc(&ring, 16), a = fr_alloc(&ring, 16);
	fr_table_desc(&ring, inner, 0, a, 16, 0, 0);
	fr_table_desc(&ring, outer, 0, inner, 16, VIRTQ_DESC_F_INDIRECT, 0);
	fr_desc(&ring, 0, outer, 16, VIRTQ_DESC_F_INDIRECT, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_INDIRECT_NESTED);
	/* A table pointing at itself is nested too, not an endless walk. */
	fr_table_desc(&ring, outer, 0, outer, 16, VIRTQ_DESC_F_INDIRECT, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_INDIRECT_NESTED);
}
END_TEST

START_TEST(indirect_with_next_is_refused)
{
	setup_features(8, F_INDIRECT);
	uint64_t table = fr_alloc(&ring, 16), a = fr_alloc(&ring, 16);
	fr_table_desc(&ring, table, 0, a, 16, 0, 0);
	fr_desc(&ring, 0, table, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&ring, 1, a, 16, W, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_INDIRECT_NEXT);
}
END_TEST

START_TEST(indirect_bad_lengths_are_refused)
{
	static const uint32_t bad[] = { 0, 1, 15, 17, 24, 0x80010, 0xfffffff0u };
	setup_features(8, F_INDIRECT);
	uint64_t table = fr_alloc(&ring, 64), a = fr_alloc(&ring, 16);
	fr_table_desc(&ring, table, 0, a, 16, 0, 0);
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		fr_desc(&ring, 0, table, bad[i], VIRTQ_DESC_F_INDIRECT, 0);
		fr_publish(&ring, 0);
		expect_bad_chain(VIRTQ_ERR_INDIRECT_LEN);
	}
}
END_TEST

START_TEST(indirect_table_outside_ram_is_refused)
{
	setup_features(8, F_INDIRECT);
	fr_desc(&ring, 0, FR_RAM_GPA + FR_RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_BUF_ADDR);
	fr_desc(&ring, 0, 0xfffffffffffffff0ull, 32, VIRTQ_DESC_F_INDIRECT, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_LEN_OVERFLOW);
}
END_TEST

START_TEST(indirect_loop_and_bad_next_are_refused)
{
	setup_features(8, F_INDIRECT);
	uint64_t table = fr_alloc(&ring, 4 * 16), a = fr_alloc(&ring, 16);
	fr_table_desc(&ring, table, 0, a, 16, R, 1);
	fr_table_desc(&ring, table, 1, a, 16, R, 0);
	fr_desc(&ring, 0, table, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_CHAIN_LOOP);
	/* next past the end of a 2-entry table (though inside the queue size). */
	fr_table_desc(&ring, table, 1, a, 16, R, 2);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_NEXT);
	/* Writable then readable inside the table. */
	fr_table_desc(&ring, table, 0, a, 16, R | W, 1);
	fr_table_desc(&ring, table, 1, a, 16, 0, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_READ_AFTER_WRITE);
	/* Buffer outside RAM inside the table. */
	fr_table_desc(&ring, table, 0, 0x42, 16, 0, 0);
	fr_publish(&ring, 0);
	expect_bad_chain(VIRTQ_ERR_BUF_ADDR);
}
END_TEST

START_TEST(indirect_table_larger_than_queue_is_walked)
{
	/* The table's own size bounds the walk, not the ring's. */
	setup_features(4, F_INDIRECT);
	uint64_t table = fr_alloc(&ring, 10 * 16), a = fr_alloc(&ring, 16);
	for (uint16_t i = 0; i < 10; i++)
		fr_table_desc(&ring, table, i, a, 16, i < 9 ? R : 0, (uint16_t)(i + 1));
	fr_desc(&ring, 0, table, 10 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert_uint_eq(req.nr_readable, 10);
}
END_TEST

/* ---- used ring and indices ---- */

START_TEST(push_publishes_used_element)
{
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 6, a, 16, W, 0);
	fr_publish(&ring, 6);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert_int_eq(virtq_push(&vq, 6, 12), 0);
	uint32_t id, len;
	fr_used_elem(&ring, 0, &id, &len);
	ck_assert_uint_eq(id, 6);
	ck_assert_uint_eq(len, 12);
	ck_assert_uint_eq(fr_used_idx(&ring), 1);
	/* Nothing else in flight: a second push is a device bug, refused. */
	ck_assert_int_eq(virtq_push(&vq, 6, 12), -1);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_BAD_PUSH);
	ck_assert_uint_eq(fr_used_idx(&ring), 1);
}
END_TEST

START_TEST(indices_wrap_around)
{
	/* More than 65536 requests through a 4-entry queue, in bursts that
	 * straddle the 16-bit wrap of both indices. */
	setup_features(4, 0);
	uint64_t a = fr_alloc(&ring, 16);
	for (uint16_t i = 0; i < 4; i++)
		fr_desc(&ring, i, a, 16, W, 0);
	uint32_t done = 0;
	while (done < 70000) {
		unsigned int burst = 1 + done % 4;
		for (unsigned int i = 0; i < burst; i++)
			fr_publish(&ring, (uint16_t)i);
		for (unsigned int i = 0; i < burst; i++) {
			if (virtq_pop(&vq, &req) != VIRTQ_POP_OK || req.head != i ||
			    virtq_push(&vq, req.head, (uint32_t)i) != 0)
				ck_abort_msg("request %u: %s", done + i, virtq_strerror(vq.error));
		}
		if (virtq_pop(&vq, &req) != VIRTQ_POP_EMPTY)
			ck_abort_msg("ring not empty after %u", done);
		done += burst;
		uint32_t id, len;
		fr_used_elem(&ring, (uint16_t)(done - 1), &id, &len);
		if (fr_used_idx(&ring) != (uint16_t)done || id != burst - 1 || len != burst - 1)
			ck_abort_msg("used ring wrong after %u: idx %u id %u len %u", done,
				     fr_used_idx(&ring), id, len);
	}
	ck_assert_uint_eq(vq.last_avail_idx, (uint16_t)done);
	ck_assert_uint_eq(ring.avail_idx, (uint16_t)done);
}
END_TEST

/* ---- notifications ---- */

START_TEST(need_event_rule)
{
	ck_assert(vring_need_event(0, 1, 0));
	ck_assert(!vring_need_event(1, 1, 0));
	ck_assert(vring_need_event(5, 6, 3));
	ck_assert(!vring_need_event(10, 6, 3));
	ck_assert(!vring_need_event(2, 3, 3));
	/* Across the 16-bit wrap. */
	ck_assert(vring_need_event(65535, 2, 65534));
	ck_assert(vring_need_event(0, 1, 65535));
	ck_assert(!vring_need_event(3, 2, 65534));
}
END_TEST

/* Pops and pushes n single-buffer requests. */
static void cycle(unsigned int n)
{
	/* Plain ifs: a Check assertion per step is slow with CK_FORK. */
	for (unsigned int i = 0; i < n; i++) {
		fr_publish(&ring, 0);
		if (virtq_pop(&vq, &req) != VIRTQ_POP_OK || virtq_push(&vq, req.head, 1) != 0)
			ck_abort_msg("request %u of %u failed: %s", i, n, virtq_strerror(vq.error));
	}
}

START_TEST(event_idx_used_event)
{
	setup_features(8, F_EVENT_IDX);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, W, 0);

	cycle(1);
	/* First interrupt always: nothing signalled before to compare with. */
	ck_assert(virtq_should_notify(&vq));
	/* Nothing new since: no interrupt whatever used_event says. */
	fr_set_used_event(&ring, 0);
	ck_assert(!virtq_should_notify(&vq));

	/* Guest wants an interrupt once entry 2 is used (used idx > 2). */
	fr_set_used_event(&ring, 2);
	cycle(1); /* used idx 2 */
	ck_assert(!virtq_should_notify(&vq));
	cycle(1); /* used idx 3 */
	ck_assert(virtq_should_notify(&vq));

	/* A batch that passes the event in its middle still notifies. */
	fr_set_used_event(&ring, 4);
	cycle(3); /* 3 -> 6 */
	ck_assert(virtq_should_notify(&vq));
	/* An event far ahead: no interrupt. */
	fr_set_used_event(&ring, 100);
	cycle(3);
	ck_assert(!virtq_should_notify(&vq));
	/* The flag is ignored with EVENT_IDX. */
	fr_set_avail_flags(&ring, VIRTQ_AVAIL_F_NO_INTERRUPT);
	fr_set_used_event(&ring, 9);
	cycle(1); /* -> 10 */
	ck_assert(virtq_should_notify(&vq));
}
END_TEST

START_TEST(event_idx_used_event_wraps)
{
	setup_features(8, F_EVENT_IDX);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, W, 0);
	cycle(65534);
	ck_assert(virtq_should_notify(&vq)); /* signalled at 65534 */
	fr_set_used_event(&ring, 65535);
	cycle(4); /* 65534 -> 2, passing 65535 */
	ck_assert(virtq_should_notify(&vq));
	fr_set_used_event(&ring, 3);
	cycle(1); /* 2 -> 3: not past 3 yet */
	ck_assert(!virtq_should_notify(&vq));
	cycle(1); /* 3 -> 4 */
	ck_assert(virtq_should_notify(&vq));
}
END_TEST

START_TEST(event_idx_avail_event)
{
	setup_features(8, F_EVENT_IDX);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, W, 0);
	cycle(3);

	virtq_disable_notify(&vq);
	/* EVENT_IDX never uses the flag. */
	ck_assert_uint_eq(fr_used_flags(&ring), 0);
	ck_assert(!virtq_enable_notify(&vq));
	/* Kick me when you add entry 3 (the next I would pop). */
	ck_assert_uint_eq(fr_avail_event(&ring), 3);

	/* Work that arrived while notifications were off is reported. */
	virtq_disable_notify(&vq);
	fr_publish(&ring, 0);
	ck_assert(virtq_enable_notify(&vq));
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert(!virtq_enable_notify(&vq));
	ck_assert_uint_eq(fr_avail_event(&ring), 4);
}
END_TEST

START_TEST(flags_without_event_idx)
{
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, W, 0);

	cycle(1);
	ck_assert(virtq_should_notify(&vq));
	fr_set_avail_flags(&ring, VIRTQ_AVAIL_F_NO_INTERRUPT);
	cycle(1);
	ck_assert(!virtq_should_notify(&vq));
	fr_set_avail_flags(&ring, 0);
	cycle(1);
	ck_assert(virtq_should_notify(&vq));

	virtq_disable_notify(&vq);
	ck_assert_uint_eq(fr_used_flags(&ring), VIRTQ_USED_F_NO_NOTIFY);
	fr_publish(&ring, 0);
	ck_assert(virtq_enable_notify(&vq));
	ck_assert_uint_eq(fr_used_flags(&ring), 0);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert(!virtq_enable_notify(&vq));
}
END_TEST

/* The one call a device's pop loop makes: the ring found empty is re-armed
 * and re-checked; kick batching puts avail_event ahead while in flight. */
START_TEST(pop_or_enable_notify_event_idx)
{
	setup_features(8, F_EVENT_IDX);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, W, 0);

	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 0), VIRTQ_POP_EMPTY);
	ck_assert_uint_eq(fr_avail_event(&ring), 0);
	fr_publish(&ring, 0);
	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 0), VIRTQ_POP_OK);
	/* Taking chains does not move avail_event: the guest need not kick. */
	ck_assert_uint_eq(fr_avail_event(&ring), 0);
	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 0), VIRTQ_POP_OK);
	/* Two in flight: kick only after 1 + 1 more. */
	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 1), VIRTQ_POP_EMPTY);
	ck_assert_uint_eq(fr_avail_event(&ring), 3);
	uint16_t old = ring.avail_idx;
	fr_publish(&ring, 0);
	ck_assert(!vring_need_event(fr_avail_event(&ring), ring.avail_idx, old));
	old = ring.avail_idx;
	fr_publish(&ring, 0);
	ck_assert(vring_need_event(fr_avail_event(&ring), ring.avail_idx, old));
	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 1), VIRTQ_POP_OK);
	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 1), VIRTQ_POP_OK);
	/* Idle: the next chain kicks. */
	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 0), VIRTQ_POP_EMPTY);
	ck_assert_uint_eq(fr_avail_event(&ring), 4);
	/* A chain published before the re-check is taken, not slept on. */
	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 0), VIRTQ_POP_OK);
}
END_TEST

START_TEST(pop_or_enable_notify_flags)
{
	setup_features(8, 0);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, W, 0);

	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 0), VIRTQ_POP_OK);
	/* Draining: no kicks wanted. */
	ck_assert_uint_eq(fr_used_flags(&ring), VIRTQ_USED_F_NO_NOTIFY);
	/* In flight (defer): still none; the caller looks again itself. */
	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 1), VIRTQ_POP_EMPTY);
	ck_assert_uint_eq(fr_used_flags(&ring), VIRTQ_USED_F_NO_NOTIFY);
	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 1), VIRTQ_POP_OK);
	/* Idle: kicks wanted again. */
	ck_assert_int_eq(virtq_pop_or_enable_notify(&vq, &req, 0), VIRTQ_POP_EMPTY);
	ck_assert_uint_eq(fr_used_flags(&ring), 0);
}
END_TEST

START_TEST(used_elements_published_once)
{
	setup_features(8, F_EVENT_IDX);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, W, 0);
	fr_publish(&ring, 0);
	fr_publish(&ring, 0);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_OK);
	ck_assert_int_eq(virtq_add_used(&vq, 0, 1), 0);
	ck_assert_int_eq(virtq_add_used(&vq, 0, 2), 0);
	/* Written, not yet visible. */
	ck_assert_uint_eq(fr_used_idx(&ring), 0);
	/* should_notify publishes before it reads used_event. */
	ck_assert(virtq_should_notify(&vq));
	ck_assert_uint_eq(fr_used_idx(&ring), 2);
	ck_assert_int_eq(virtq_add_used(&vq, 0, 1), -1); /* none in flight */
}
END_TEST

START_TEST(reset_forgets_everything)
{
	setup_features(8, F_EVENT_IDX);
	uint64_t a = fr_alloc(&ring, 16);
	fr_desc(&ring, 0, a, 16, W, 0);
	cycle(2);
	virtq_reset(&vq);
	ck_assert(!vq.ready);
	ck_assert_uint_eq(vq.last_avail_idx, 0);
	ck_assert_int_eq(virtq_pop(&vq, &req), VIRTQ_POP_BROKEN);
}
END_TEST

/* ---- hostile rings at random ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static bool inside_ram(const struct iovec *v)
{
	uint8_t *lo = ring.ram, *hi = ring.ram + FR_RAM_SIZE;
	return (uint8_t *)v->iov_base >= lo && (uint8_t *)v->iov_base + v->iov_len <= hi;
}

START_TEST(random_rings_never_escape_ram)
{
	setup_features(16, F_INDIRECT | F_EVENT_IDX);
	uint64_t table = fr_alloc(&ring, 16 * 16);
	unsigned int ok = 0, bad = 0;
	for (unsigned int round = 0; round < 20000; round++) {
		if (virtq_is_broken(&vq)) {
			struct virtq_config cfg = fr_config(&ring);
			ring.avail_idx = 0;
			fr_set_avail_idx(&ring, 0);
			ck_assert_int_eq(virtq_init(&vq, &ring.mem, &cfg), 0);
		}
		for (uint16_t i = 0; i < 16; i++) {
			/* Addresses mostly near RAM so some chains pass. */
			uint64_t addr = FR_RAM_GPA + rnd() % (FR_RAM_SIZE + 0x2000) - 0x1000;
			uint32_t len = (uint32_t)(rnd() % 0x3000);
			uint16_t flags = (uint16_t)(rnd() & 7), next = (uint16_t)(rnd() % 20);
			if (rnd() % 8 == 0)
				addr = table, len = (uint32_t)(rnd() % 20) * 16;
			fr_desc(&ring, i, addr, len, flags, next);
			fr_table_desc(&ring, table, i, addr, len, (uint16_t)(rnd() & 7),
				      (uint16_t)(rnd() % 20));
		}
		fr_publish(&ring, (uint16_t)(rnd() % 18));
		req.iov_cap = 16;
		enum virtq_pop_result r = virtq_pop(&vq, &req);
		if (r == VIRTQ_POP_OK) {
			ok++;
			for (unsigned int i = 0; i < req.nr_readable + req.nr_writable; i++) {
				if (!inside_ram(&iov[i]))
					ck_abort_msg("round %u: buffer outside RAM", round);
			}
		}
		if (r == VIRTQ_POP_BAD_CHAIN)
			bad++;
		if ((r == VIRTQ_POP_OK || r == VIRTQ_POP_BAD_CHAIN) &&
		    virtq_push(&vq, req.head, 0) != 0)
			ck_abort_msg("round %u: push refused", round);
	}
	/* The generator must reach both outcomes to mean anything. */
	ck_assert_uint_gt(ok, 100);
	ck_assert_uint_gt(bad, 100);
}
END_TEST

static Suite *virtq_suite(void)
{
	Suite *s = suite_create("virtq");
	TCase *tc;

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, init_rejects_bad_sizes);
	tcase_add_test(tc, init_rejects_misaligned_rings);
	tcase_add_test(tc, init_rejects_rings_outside_ram);
	tcase_add_test(tc, pop_before_init_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("chains");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, pop_empty);
	tcase_add_test(tc, pop_direct_chain_splits_readable_and_writable);
	tcase_add_test(tc, zero_length_buffers_are_dropped);
	tcase_add_test(tc, chain_loop_is_refused);
	tcase_add_test(tc, chain_longer_than_queue_is_refused);
	tcase_add_test(tc, next_out_of_range_is_refused);
	tcase_add_test(tc, head_out_of_range_breaks_queue);
	tcase_add_test(tc, avail_idx_jump_breaks_queue);
	tcase_add_test(tc, avail_idx_full_queue_is_fine);
	tcase_add_test(tc, avail_idx_going_backwards_breaks_queue);
	tcase_add_test(tc, buffer_outside_ram_is_refused);
	tcase_add_test(tc, address_overflow_is_refused);
	tcase_add_test(tc, total_length_overflow_is_refused);
	tcase_add_test(tc, readable_after_writable_is_refused);
	tcase_add_test(tc, too_many_buffers_for_caller_is_refused);
	tcase_add_test(tc, bad_chain_is_returned_in_used_ring);
	suite_add_tcase(s, tc);

	tc = tcase_create("indirect");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, indirect_table_is_walked);
	tcase_add_test(tc, direct_then_indirect_is_walked);
	tcase_add_test(tc, indirect_without_feature_is_refused);
	tcase_add_test(tc, nested_indirect_is_refused);
	tcase_add_test(tc, indirect_with_next_is_refused);
	tcase_add_test(tc, indirect_bad_lengths_are_refused);
	tcase_add_test(tc, indirect_table_outside_ram_is_refused);
	tcase_add_test(tc, indirect_loop_and_bad_next_are_refused);
	tcase_add_test(tc, indirect_table_larger_than_queue_is_walked);
	suite_add_tcase(s, tc);

	tc = tcase_create("used");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, push_publishes_used_element);
	tcase_add_test(tc, indices_wrap_around);
	suite_add_tcase(s, tc);

	tc = tcase_create("notify");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, need_event_rule);
	tcase_add_test(tc, event_idx_used_event);
	tcase_add_test(tc, event_idx_used_event_wraps);
	tcase_add_test(tc, event_idx_avail_event);
	tcase_add_test(tc, flags_without_event_idx);
	tcase_add_test(tc, pop_or_enable_notify_event_idx);
	tcase_add_test(tc, pop_or_enable_notify_flags);
	tcase_add_test(tc, used_elements_published_once);
	tcase_add_test(tc, reset_forgets_everything);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, random_rings_never_escape_ram);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(virtq_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
