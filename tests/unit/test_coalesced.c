/*
 * Delivery from KVM's coalesced I/O ring without KVM: a ring page filled as
 * KVM fills it, delivered to the port and MMIO buses in order, the ring
 * left empty; entries with impossible lengths and indexes past the ring
 * (which only a broken kernel would write) are not followed.
 */
#include <check.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/vm.h"
#include "unit_main.h"

struct rec {
	char log[64][16];
	unsigned int n;
};

static struct rec pio_rec, mmio_rec;

static void dev_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

static void dev_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct rec *r = opaque;
	uint64_t v = 0;
	memcpy(&v, data, len);
	ck_assert_uint_lt(r->n, 64);
	snprintf(r->log[r->n++], sizeof(r->log[0]), "%s%llx:%u=%llx", r == &pio_rec ? "p" : "m",
		 (unsigned long long)off, len, (unsigned long long)v);
}

static const struct bus_ops ops = { dev_read, dev_write };
static struct vm vm;
static struct kvm_coalesced_mmio_ring *ring;

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	memset(&pio_rec, 0, sizeof(pio_rec));
	memset(&mmio_rec, 0, sizeof(mmio_rec));
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	ck_assert_int_eq(bus_register(&vm.pio, 0x3f8, 8, &ops, &pio_rec), 0);
	ck_assert_int_eq(bus_register(&vm.mmio, 0x10000, 0x1000, &ops, &mmio_rec), 0);
	vm.coalesced.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	vm.coalesced.page = 1;
	size_t psz = (size_t)sysconf(_SC_PAGESIZE);
	/* A vCPU mapping of two pages: kvm_run, then the ring. */
	uint8_t *map = aligned_alloc(psz, 2 * psz);
	memset(map, 0, 2 * psz);
	coalesced_attach(&vm, map, 2 * psz);
	ring = vm.coalesced.ring;
	ck_assert_ptr_eq(ring, map + psz);
	ck_assert_uint_eq(vm.coalesced.max,
			  (psz - sizeof(*ring)) / sizeof(struct kvm_coalesced_mmio));
}

static void teardown(void)
{
	free((uint8_t *)ring - sysconf(_SC_PAGESIZE));
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
}

/* Appends an entry as KVM does: the entry, then last. */
static void put(bool pio, uint64_t addr, uint32_t len, uint64_t val)
{
	struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[ring->last];
	*e = (struct kvm_coalesced_mmio){ .phys_addr = addr, .len = len, .pio = pio };
	memcpy(e->data, &val, sizeof(val));
	ring->last = (ring->last + 1) % vm.coalesced.max;
}

START_TEST(delivers_in_order)
{
	put(true, 0x3f8, 1, 'O');
	put(false, 0x10008, 4, 0x11223344);
	put(true, 0x3f8, 1, 'K');
	coalesced_deliver(&vm);
	ck_assert_uint_eq(pio_rec.n, 2);
	ck_assert_str_eq(pio_rec.log[0], "p0:1=4f");
	ck_assert_str_eq(pio_rec.log[1], "p0:1=4b");
	ck_assert_uint_eq(mmio_rec.n, 1);
	ck_assert_str_eq(mmio_rec.log[0], "m8:4=11223344");
	ck_assert_uint_eq(ring->first, ring->last);
	ck_assert_uint_eq(vm.coalesced.delivered, 3);
	/* Empty: nothing more. */
	coalesced_deliver(&vm);
	ck_assert_uint_eq(vm.coalesced.delivered, 3);
}
END_TEST

START_TEST(wraps_around)
{
	unsigned int max = vm.coalesced.max;
	ring->first = ring->last = max - 2;
	for (unsigned int i = 0; i < 5; i++)
		put(true, 0x3f8, 1, '0' + i);
	ck_assert_uint_eq(ring->last, 3);
	coalesced_deliver(&vm);
	ck_assert_uint_eq(pio_rec.n, 5);
	ck_assert_str_eq(pio_rec.log[4], "p0:1=34");
	ck_assert_uint_eq(ring->first, 3);
}
END_TEST

START_TEST(bad_entries_not_followed)
{
	put(true, 0x3f8, 0, 1);
	put(true, 0x3f8, 3, 2);
	put(true, 0x3f8, 9, 3);
	put(true, 0x3f8, 2, 0x4142);
	coalesced_deliver(&vm);
	/* Impossible lengths are dropped, the ring still moves on. */
	ck_assert_uint_eq(pio_rec.n, 1);
	ck_assert_str_eq(pio_rec.log[0], "p0:2=4142");
	ck_assert_uint_eq(ring->first, ring->last);
	/* An index past the ring: nothing is read from beyond the page. */
	ring->last = vm.coalesced.max + 5;
	coalesced_deliver(&vm);
	ck_assert_uint_eq(pio_rec.n, 1);
	ring->last = ring->first;
	ring->first = 0xffffffffu;
	coalesced_deliver(&vm);
	ck_assert_uint_eq(pio_rec.n, 1);
}
END_TEST

START_TEST(no_ring_without_its_page)
{
	struct vm v;
	memset(&v, 0, sizeof(v));
	uint8_t page[64];
	/* KVM without the capability (page 0), or a mapping too small. */
	coalesced_attach(&v, page, sizeof(page));
	ck_assert_ptr_null(v.coalesced.ring);
	v.coalesced.page = 1;
	coalesced_attach(&v, page, (size_t)sysconf(_SC_PAGESIZE));
	ck_assert_ptr_null(v.coalesced.ring);
	coalesced_deliver(&v); /* nothing to do, no crash */
	/* Without a ring nothing is registered, and nothing fails. */
	struct vm_coalesced_zone z = { .vm = &v, .pio = true, .addr = 0x3f8, .size = 1 };
	vm_coalesced_zone_set(&z, true);
	ck_assert(!z.on);
	vm_coalesced_zone_set(&z, false);
	ck_assert(!z.on);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = {
		.name = "coalesced", .tcase = "ring", .setup = setup, .teardown = teardown
	};
	const TTest *tests[] = { delivers_in_order, wraps_around, bad_entries_not_followed,
				 no_ring_without_its_page, NULL };
	return unit_main(&u, tests);
}
