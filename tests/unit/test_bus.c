/*
 * PIO/MMIO bus maps: registration and overlap refusal, lookups at range
 * edges, open-bus reads, unregister and move, and dispatch staying correct
 * while another thread moves a range back and forth.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/bus.h"
#include "unit_main.h"

struct dev {
	uint64_t last_off;
	unsigned int last_len;
	uint8_t id;
	uint8_t written;
	atomic_uint reads;
};

static void dev_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct dev *d = opaque;
	/* Several reader threads may be here at once (concurrent_move). */
	__atomic_store_n(&d->last_off, off, __ATOMIC_RELAXED);
	__atomic_store_n(&d->last_len, len, __ATOMIC_RELAXED);
	atomic_fetch_add(&d->reads, 1);
	memset(data, d->id, len);
}

static void dev_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct dev *d = opaque;
	d->last_off = off;
	d->last_len = len;
	d->written = *(const uint8_t *)data;
}

static const struct bus_ops ops = { .read = dev_read, .write = dev_write };

START_TEST(register_and_dispatch)
{
	struct bus b;
	struct dev d1 = { .id = 1 }, d2 = { .id = 2 }, d3 = { .id = 3 };
	uint8_t v[8];

	bus_init(&b, "pio");
	ck_assert_int_eq(bus_register(&b, 0x3f8, 8, &ops, &d1), 0);
	ck_assert_int_eq(bus_register(&b, 0x600, 3, &ops, &d2), 0);
	ck_assert_int_eq(bus_register(&b, 0xf4, 4, &ops, &d3), 0);
	/* Overlaps, empty and wrapping ranges are refused. */
	ck_assert_int_eq(bus_register(&b, 0x3ff, 1, &ops, &d3), -1);
	ck_assert_int_eq(bus_register(&b, 0x3f0, 9, &ops, &d3), -1);
	ck_assert_int_eq(bus_register(&b, 0x3f0, 0x20, &ops, &d3), -1);
	ck_assert_int_eq(bus_register(&b, 0x500, 0, &ops, &d3), -1);
	ck_assert_int_eq(bus_register(&b, UINT64_MAX, 2, &ops, &d3), -1);
	ck_assert_uint_eq(b.nr, 3);

	ck_assert(bus_read(&b, 0x3f8, v, 1));
	ck_assert_uint_eq(v[0], 1);
	ck_assert(bus_read(&b, 0x3fd, v, 1));
	ck_assert_uint_eq(d1.last_off, 5);
	ck_assert(bus_read(&b, 0x3fc, v, 4));  /* last 4 bytes */
	ck_assert(!bus_read(&b, 0x3fd, v, 4)); /* runs past the end */
	ck_assert_uint_eq(v[0], 0xff);
	ck_assert(!bus_read(&b, 0x400, v, 1)); /* open bus */
	ck_assert_uint_eq(v[0], 0xff);
	ck_assert(!bus_read(&b, 0, v, 2));
	ck_assert(bus_write(&b, 0x602, &(uint8_t){ 0x5a }, 1));
	ck_assert_uint_eq(d2.written, 0x5a);
	ck_assert_uint_eq(d2.last_off, 2);
	ck_assert(bus_read(&b, 0xf4, v, 4));
	ck_assert_uint_eq(v[3], 3);
	ck_assert(!bus_write(&b, 0x603, v, 1));
	bus_destroy(&b);
}
END_TEST

START_TEST(unregister_and_move)
{
	struct bus b;
	struct dev d1 = { .id = 1 }, d2 = { .id = 2 };
	uint8_t v;

	bus_init(&b, "mmio");
	ck_assert_int_eq(bus_register(&b, 0xc0000000, 0x1000, &ops, &d1), 0);
	ck_assert_int_eq(bus_register(&b, 0xc0002000, 0x1000, &ops, &d2), 0);
	/* Wrong opaque or base: nothing happens. */
	ck_assert_int_eq(bus_unregister(&b, 0xc0000000, &d2), -1);
	ck_assert_int_eq(bus_unregister(&b, 0xc0000800, &d1), -1);
	ck_assert_int_eq(bus_move(&b, 0xc0000000, &d1, 0xc0002800), -1); /* overlaps d2 */
	ck_assert_int_eq(bus_move(&b, 0xc0000000, &d1, UINT64_MAX - 10), -1);
	/* A move may overlap the range's own old place. */
	ck_assert_int_eq(bus_move(&b, 0xc0000000, &d1, 0xc0000800), 0);
	ck_assert(!bus_read(&b, 0xc0000000, &v, 1));
	ck_assert(bus_read(&b, 0xc0000800, &v, 1));
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(bus_move(&b, 0xc0000800, &d1, 0xd0000000), 0);
	ck_assert(bus_read(&b, 0xd0000fff, &v, 1));
	ck_assert_uint_eq(d1.last_off, 0xfff);
	ck_assert_uint_eq(b.ranges[0].base, 0xc0002000); /* still sorted */
	ck_assert_int_eq(bus_unregister(&b, 0xc0002000, &d2), 0);
	ck_assert(!bus_read(&b, 0xc0002000, &v, 1));
	ck_assert_uint_eq(b.nr, 1);
	bus_destroy(&b);
}
END_TEST

START_TEST(many_ranges)
{
	struct bus b;
	static struct dev d[200];
	uint8_t v;

	bus_init(&b, "mmio");
	/* Registered out of order; lookups must find each one. */
	for (int i = 199; i >= 0; i--) {
		d[i].id = (uint8_t)i;
		ck_assert_int_eq(bus_register(&b, 0x10000 + (uint64_t)i * 0x100, 0x80, &ops, &d[i]),
				 0);
	}
	for (int i = 0; i < 200; i++) {
		ck_assert(bus_read(&b, 0x10000 + (uint64_t)i * 0x100 + 0x7f, &v, 1));
		ck_assert_uint_eq(v, (uint8_t)i);
		ck_assert(!bus_read(&b, 0x10000 + (uint64_t)i * 0x100 + 0x80, &v, 1));
	}
	bus_destroy(&b);
}
END_TEST

struct race {
	struct bus *b;
	struct dev *d;
	atomic_bool stop;
	atomic_uint bad;
};

static void *reader(void *arg)
{
	struct race *r = arg;
	uint8_t v;
	while (!atomic_load(&r->stop)) {
		/* The device is always at exactly one of two places. */
		bool a = bus_read(r->b, 0x1000, &v, 1);
		bool b = bus_read(r->b, 0x2000, &v, 1);
		(void)a;
		(void)b;
		if (bus_read(r->b, 0x3000, &v, 1))
			atomic_fetch_add(&r->bad, 1);
	}
	return NULL;
}

START_TEST(concurrent_move)
{
	struct bus b;
	struct dev d = { .id = 9 };
	struct race r = { .b = &b, .d = &d };
	pthread_t t[2];

	bus_init(&b, "mmio");
	ck_assert_int_eq(bus_register(&b, 0x1000, 0x100, &ops, &d), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, reader, &r);
	uint64_t at = 0x1000;
	for (int i = 0; i < 20000; i++) {
		uint64_t to = at == 0x1000 ? 0x2000 : 0x1000;
		ck_assert_int_eq(bus_move(&b, at, &d, to), 0);
		at = to;
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(atomic_load(&r.bad), 0);
	ck_assert_uint_gt(atomic_load(&d.reads), 0);
	ck_assert_uint_eq(b.nr, 1);
	bus_destroy(&b);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = { .name = "bus", .tcase = "bus", .timeout = 60 };
	const TTest *tests[] = { register_and_dispatch, unregister_and_move, many_ranges,
				 concurrent_move, NULL };

	return unit_main(&u, tests);
}
