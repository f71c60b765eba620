/*
 * The KVM_GET_STATS_FD reader on files laid out as the kernel lays them
 * out: scalar statistics reported in descriptor order with their names,
 * histograms and multi-value entries skipped, and truncated or absurd
 * headers refused.  (The real file is read in the test host by
 * tests/integration/vmm-tool.sh through --stats.)
 */
#define _GNU_SOURCE
#include <check.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/kvm_stats.h"
#include "scratch.h"
#include "unit_main.h"

#define NAME_SIZE 48

struct seen {
	unsigned int n;
	char names[8][KVM_STAT_NAME_MAX];
	uint64_t values[8];
};

static void record(void *opaque, const char *name, uint64_t value)
{
	struct seen *s = opaque;

	ck_assert_uint_lt(s->n, 8);
	snprintf(s->names[s->n], KVM_STAT_NAME_MAX, "%s", name);
	s->values[s->n++] = value;
}

struct desc {
	uint32_t flags;
	uint16_t size;
	const char *name;
	uint64_t value[2];
};

/* A stats file: header, id string, descriptors, data. */
static int make_file(const struct desc *d, unsigned int n, size_t truncate_to)
{
	uint8_t buf[4096] = { 0 };
	struct kvm_stats_header h = { .name_size = NAME_SIZE, .num_desc = n, .id_offset = 24 };
	size_t dsize = sizeof(struct kvm_stats_desc) + NAME_SIZE;
	uint32_t data_off = 0;

	h.desc_offset = h.id_offset + NAME_SIZE;
	h.data_offset = h.desc_offset + (uint32_t)(n * dsize);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + h.id_offset, "kvm-1234", 8);
	for (unsigned int i = 0; i < n; i++) {
		struct kvm_stats_desc kd = { .flags = d[i].flags,
					     .size = d[i].size,
					     .offset = data_off };
		memcpy(buf + h.desc_offset + i * dsize, &kd, sizeof(kd));
		strncpy((char *)buf + h.desc_offset + i * dsize + sizeof(kd), d[i].name,
			NAME_SIZE - 1);
		memcpy(buf + h.data_offset + data_off, d[i].value, d[i].size * 8);
		data_off += d[i].size * 8;
	}
	size_t len = h.data_offset + data_off;
	return memfd_with("kvm-stats", buf, truncate_to ? truncate_to : len);
}

static const struct desc sample[] = {
	{ KVM_STATS_TYPE_CUMULATIVE, 1, "exits", { 1234 } },
	{ KVM_STATS_TYPE_LOG_HIST, 2, "halt_wait_hist", { 5, 6 } },
	{ KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_BOOLEAN, 1, "guest_mode", { 1 } },
	{ KVM_STATS_TYPE_PEAK, 1, "max_mmu_page_hash_collisions", { 3 } },
	{ KVM_STATS_TYPE_CUMULATIVE, 2, "two_values", { 7, 8 } },
};

START_TEST(scalars_in_descriptor_order)
{
	struct seen s = { 0 };
	int fd = make_file(sample, 5, 0);

	ck_assert_int_eq(kvm_stats_read(fd, record, &s), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_str_eq(s.names[0], "exits");
	ck_assert_uint_eq(s.values[0], 1234);
	ck_assert_str_eq(s.names[1], "guest_mode");
	ck_assert_uint_eq(s.values[1], 1);
	ck_assert_str_eq(s.names[2], "max_mmu_page_hash_collisions");
	ck_assert_uint_eq(s.values[2], 3);
	close(fd);
}
END_TEST

START_TEST(truncated_file_is_refused)
{
	struct seen s = { 0 };
	/* Header only; then the descriptors but not all the data. */
	int fd = make_file(sample, 5, sizeof(struct kvm_stats_header) - 1);

	ck_assert_int_eq(kvm_stats_read(fd, record, &s), -1);
	close(fd);
	fd = make_file(sample, 5, 24 + NAME_SIZE + 5 * (sizeof(struct kvm_stats_desc) + NAME_SIZE));
	ck_assert_int_eq(kvm_stats_read(fd, record, &s), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "ends"));
	close(fd);
}
END_TEST

START_TEST(absurd_header_is_refused)
{
	struct seen s = { 0 };
	struct kvm_stats_header h = { .name_size = 4096, .num_desc = 1 };
	int fd = memfd_with("kvm-stats", &h, sizeof(h));

	ck_assert_int_eq(kvm_stats_read(fd, record, &s), -1);
	h = (struct kvm_stats_header){ .name_size = NAME_SIZE, .num_desc = 1u << 20 };
	ck_assert_int_eq(pwrite(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	ck_assert_int_eq(kvm_stats_read(fd, record, &s), -1);
	ck_assert_uint_eq(s.n, 0);
	close(fd);
}
END_TEST

START_TEST(not_a_kvm_fd)
{
	struct seen s = { 0 };
	int fd = memfd_with("x", NULL, 0);

	ck_assert_int_eq(kvm_stats_each(fd, record, &s), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "KVM_GET_STATS_FD"));
	close(fd);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = { .name = "kvm_stats", .tcase = "read" };
	const TTest *tests[] = { scalars_in_descriptor_order, truncated_file_is_refused,
				 absurd_header_is_refused, not_a_kvm_fd, NULL };

	return unit_main(&u, tests);
}
