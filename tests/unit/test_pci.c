/*
 * PCI bus tests through the guest's two config mechanisms (0xCF8/0xCFC and
 * ECAM) on real PIO/MMIO buses: host bridge identity, absent functions,
 * read-only fields, command/status semantics, BAR sizing (32/64-bit),
 * allocation from the windows, decoding on/off/move on the MMIO bus with the
 * device's callbacks, I/O BARs (sizing, the I/O window, decoding on the port
 * bus with I/O space enable), capability list and device hooks.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "devices/pci.h"
#include "pci_fixture.h"

static struct pci_fixture pf;

/* A device with BARs whose MMIO reads return a marker, counting callbacks. */
struct test_dev {
	struct pci_function f;
	unsigned int mapped, moved, unmapped;
	unsigned int last_bar;
	uint64_t last_old, last_new;
	uint32_t last_write_reg, last_write_val;
	unsigned int last_write_len, writes;
	uint32_t hook_reg; /* config_read override target, 0: none */
};

static struct test_dev dev_a, dev_b;

static void region_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	uint64_t v = 0x5a00000000ull | offset;
	(void)opaque;
	memcpy(data, &v, len);
}

static void region_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	(void)opaque;
	(void)offset;
	(void)data;
	(void)len;
}

static const struct bus_ops region_ops = { .read = region_read, .write = region_write };

static void hook_read(void *opaque, uint32_t reg, unsigned int len, uint32_t *val)
{
	struct test_dev *d = opaque;
	(void)len;
	if (d->hook_reg && reg == d->hook_reg)
		*val = 0x12345678;
}

static void hook_write(void *opaque, uint32_t reg, unsigned int len, uint32_t val)
{
	struct test_dev *d = opaque;
	d->last_write_reg = reg;
	d->last_write_len = len;
	d->last_write_val = val;
	d->writes++;
}

static void cb_mapped(void *opaque, unsigned int bar, uint64_t addr)
{
	struct test_dev *d = opaque;
	d->mapped++;
	d->last_bar = bar;
	d->last_new = addr;
}

static void cb_moved(void *opaque, unsigned int bar, uint64_t old_addr, uint64_t new_addr)
{
	struct test_dev *d = opaque;
	d->moved++;
	d->last_bar = bar;
	d->last_old = old_addr;
	d->last_new = new_addr;
}

static void cb_unmapped(void *opaque, unsigned int bar, uint64_t old_addr)
{
	struct test_dev *d = opaque;
	d->unmapped++;
	d->last_bar = bar;
	d->last_old = old_addr;
}

static const struct pci_function_ops dev_ops = {
	.config_read = hook_read,
	.config_write = hook_write,
	.bar_mapped = cb_mapped,
	.bar_moved = cb_moved,
	.bar_unmapped = cb_unmapped,
};

static const struct pci_id dev_id = {
	.vendor = 0x1234,
	.device = 0x5678,
	.revision = 7,
	.class_code = 0x018000,
	.subsys_vendor = 0xabcd,
	.subsys_id = 0xef01,
};

/* BAR 0: 32-bit 4 KiB; BAR 1: 32-bit prefetchable 1 MiB; BAR 2-3: 64-bit
 * prefetchable 16 KiB; BAR 4-5: 64-bit 8 GiB. */
static void dev_init(struct test_dev *d)
{
	memset(d, 0, sizeof(*d));
	pci_function_init(&d->f, &dev_id, &dev_ops, d);
	ck_assert_int_eq(pci_function_add_bar(&d->f, 0, 0x1000, 0, &region_ops, d), 0);
	ck_assert_int_eq(
		pci_function_add_bar(&d->f, 1, 0x100000, PCI_BAR_MEM_PREFETCH, &region_ops, d), 0);
	ck_assert_int_eq(pci_function_add_bar(&d->f, 2, 0x4000,
					      PCI_BAR_MEM_64 | PCI_BAR_MEM_PREFETCH, &region_ops,
					      d),
			 0);
	ck_assert_int_eq(pci_function_add_bar(&d->f, 4, 8ull << 30, PCI_BAR_MEM_64, &region_ops, d),
			 0);
}

static void setup(void)
{
	pf_init(&pf);
	dev_init(&dev_a);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, &dev_a.f, 3), 0);
}

static void teardown(void)
{
	pf_destroy(&pf);
}

static bool mmio_hits(uint64_t addr)
{
	uint32_t v;
	return bus_read(&pf.mmio, addr, &v, 4);
}

/* ---- identity and absent functions ---- */

START_TEST(host_bridge_through_both_mechanisms)
{
	ck_assert_uint_eq(pf_cf8_read(&pf, 0, PCI_VENDOR_ID, 2), PCI_HOST_BRIDGE_VENDOR);
	ck_assert_uint_eq(pf_ecam_read(&pf, 0, PCI_VENDOR_ID, 2), PCI_HOST_BRIDGE_VENDOR);
	ck_assert_uint_eq(pf_cf8_read(&pf, 0, PCI_DEVICE_ID, 2), PCI_HOST_BRIDGE_DEVICE);
	ck_assert_uint_eq(pf_ecam_read(&pf, 0, 0, 4),
			  PCI_HOST_BRIDGE_DEVICE << 16 | PCI_HOST_BRIDGE_VENDOR);
	ck_assert_uint_eq(pf_cf8_read(&pf, 0, PCI_REVISION_ID, 4) >> 8, PCI_CLASS_BRIDGE_HOST);
	ck_assert_uint_eq(pf_ecam_read(&pf, 0, PCI_HEADER_TYPE, 1), 0);
	/* No BARs: sizing reads 0. */
	pf_cf8_write(&pf, 0, PCI_BAR0, 4, 0xffffffff);
	ck_assert_uint_eq(pf_cf8_read(&pf, 0, PCI_BAR0, 4), 0);
}
END_TEST

START_TEST(device_identity_and_byte_word_accesses)
{
	/* Byte and word reads at every lane of 0xCFC-0xCFF and of ECAM. */
	ck_assert_uint_eq(pf_cf8_read(&pf, 3, 0, 1), 0x34);
	ck_assert_uint_eq(pf_cf8_read(&pf, 3, 1, 1), 0x12);
	ck_assert_uint_eq(pf_cf8_read(&pf, 3, 2, 2), 0x5678);
	ck_assert_uint_eq(pf_cf8_read(&pf, 3, 3, 1), 0x56);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, 2, 1), 0x78);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_REVISION_ID, 1), 7);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_CLASS_PROG, 1), 0x00);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_CLASS_PROG + 1, 2), 0x0180);
	ck_assert_uint_eq(pf_cf8_read(&pf, 3, PCI_SUBSYS_VENDOR, 4), 0xef01abcd);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_INTERRUPT_PIN, 1), 0);
}
END_TEST

START_TEST(absent_functions_read_all_ones)
{
	static const unsigned int lens[] = { 1, 2, 4 };
	static const uint32_t ones[] = { 0xff, 0xffff, 0xffffffff };

	for (unsigned int i = 0; i < 3; i++) {
		/* Empty slot, function 1 of a present device, bus 1. */
		ck_assert_uint_eq(pf_cf8_read(&pf, 9, 0, lens[i]), ones[i]);
		ck_assert_uint_eq(pf_ecam_read(&pf, 9, 0, lens[i]), ones[i]);
		ck_assert_uint_eq(pf_cf8_read_bdf(&pf, 0, 3, 1, 0, lens[i]), ones[i]);
		ck_assert_uint_eq(pf_cf8_read_bdf(&pf, 1, 3, 0, 0, lens[i]), ones[i]);
		uint32_t v = 0;
		bus_read(&pf.mmio, pf_ecam_addr(0, 3, 1, 0), &v, lens[i]);
		ck_assert_uint_eq(v, ones[i]);
		v = 0;
		bus_read(&pf.mmio, pf_ecam_addr(1, 3, 0, 0), &v, lens[i]);
		ck_assert_uint_eq(v, ones[i]);
	}
	/* Writes there go nowhere and break nothing. */
	pf_cf8_write(&pf, 9, PCI_COMMAND, 2, 0xffff);
	pf_ecam_write(&pf, 31, PCI_COMMAND, 2, 0xffff);
	ck_assert_uint_eq(pf_ecam_read(&pf, 9, 0, 4), 0xffffffff);
}
END_TEST

START_TEST(config_address_latch)
{
	uint32_t a = 0xffffffff, v = 0, data = 0;

	bus_write(&pf.pio, PCI_PIO_BASE, &a, 4);
	bus_read(&pf.pio, PCI_PIO_BASE, &v, 4);
	/* Reserved bits 30:24 and 1:0 read as zero. */
	ck_assert_uint_eq(v, 0x80fffffc);
	/* Byte writes to 0xCF8-0xCFB are not configuration cycles. */
	uint8_t b = 0;
	bus_write(&pf.pio, PCI_PIO_BASE, &b, 1);
	bus_read(&pf.pio, PCI_PIO_BASE, &v, 4);
	ck_assert_uint_eq(v, 0x80fffffc);
	v = 0;
	bus_read(&pf.pio, PCI_PIO_BASE + 1, &v, 1);
	ck_assert_uint_eq(v, 0xff);
	/* Without the enable bit the data port reads all-ones. */
	a = 3 << 11;
	bus_write(&pf.pio, PCI_PIO_BASE, &a, 4);
	bus_read(&pf.pio, PCI_PIO_BASE + 4, &data, 4);
	ck_assert_uint_eq(data, 0xffffffff);
	/* ...and writes do nothing. */
	data = PCI_COMMAND_MEMORY;
	a = 3 << 11 | PCI_COMMAND;
	bus_write(&pf.pio, PCI_PIO_BASE, &a, 4);
	bus_write(&pf.pio, PCI_PIO_BASE + 4, &data, 2);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_COMMAND, 2), 0);
}
END_TEST

START_TEST(ecam_refuses_accesses_crossing_a_dword)
{
	uint32_t v = 0;
	uint64_t q = 0;

	bus_read(&pf.mmio, pf_ecam_addr(0, 3, 0, 3), &v, 2);
	ck_assert_uint_eq(v, 0xffff);
	bus_read(&pf.mmio, pf_ecam_addr(0, 3, 0, 2), &v, 4);
	ck_assert_uint_eq(v, 0xffffffff);
	bus_read(&pf.mmio, pf_ecam_addr(0, 3, 0, 0), &q, 8);
	ck_assert_uint_eq(q, 0xffffffffffffffffull);
	/* An unaligned write does not land either. */
	v = 0xffffffff;
	bus_write(&pf.mmio, pf_ecam_addr(0, 3, 0, PCI_COMMAND + 1), &v, 4);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_COMMAND, 2), 0);
	/* Extended config space of a present function: zeros. */
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, 0x100, 4), 0);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, 0xffc, 4), 0);
}
END_TEST

/* ---- header semantics ---- */

START_TEST(read_only_fields_stay_read_only)
{
	static const uint32_t ro_regs[] = {
		PCI_VENDOR_ID,
		PCI_REVISION_ID,
		PCI_HEADER_TYPE & ~3u,
		PCI_SUBSYS_VENDOR,
		PCI_ROM_ADDRESS,
		PCI_CAP_PTR,
		0x28,
		0x38,
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(ro_regs); i++) {
		uint32_t before = pf_ecam_read(&pf, 3, ro_regs[i], 4);
		pf_cf8_write(&pf, 3, ro_regs[i], 4, 0xffffffff);
		pf_ecam_write(&pf, 3, ro_regs[i], 4, 0);
		ck_assert_msg(pf_ecam_read(&pf, 3, ro_regs[i], 4) == before, "reg 0x%x changed",
			      ro_regs[i]);
	}
	pf_ecam_write(&pf, 3, PCI_INTERRUPT_PIN, 1, 0xff);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_INTERRUPT_PIN, 1), 0);
	/* Interrupt line and cache line size are the OS's scratch bytes;
	 * the header type next to them is not. */
	pf_ecam_write(&pf, 3, PCI_INTERRUPT_LINE, 1, 0x0b);
	ck_assert_uint_eq(pf_cf8_read(&pf, 3, PCI_INTERRUPT_LINE, 1), 0x0b);
	pf_ecam_write(&pf, 3, PCI_CACHE_LINE, 4, 0xffffffff);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_CACHE_LINE, 4), 0xff);
}
END_TEST

START_TEST(command_register_writable_bits)
{
	pf_cf8_write(&pf, 3, PCI_COMMAND, 2, 0xffff);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_COMMAND, 2),
			  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	pf_ecam_write(&pf, 3, PCI_COMMAND, 1, 0);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_COMMAND, 2), PCI_COMMAND_INTX_DISABLE);
	pf_ecam_write(&pf, 3, PCI_COMMAND, 2, 0);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_COMMAND, 2), 0);
}
END_TEST

START_TEST(status_error_bits_are_rw1c)
{
	/* The device reports errors; the guest clears them with ones. */
	pci_cfg_set16(&dev_a.f, PCI_STATUS, 0xf900);
	pf_ecam_write(&pf, 3, PCI_STATUS, 2, 0x8100);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_STATUS, 2), 0x7800);
	pf_ecam_write(&pf, 3, PCI_STATUS, 2, 0);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_STATUS, 2), 0x7800);
	pf_cf8_write(&pf, 3, PCI_STATUS, 2, 0xffff);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_STATUS, 2), 0);
	/* A dword write to command+status does not clear by accident. */
	pci_cfg_set16(&dev_a.f, PCI_STATUS, 0x2000);
	pf_ecam_write(&pf, 3, PCI_COMMAND, 4, PCI_COMMAND_MASTER);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_COMMAND, 4), 0x2000u << 16 | PCI_COMMAND_MASTER);
}
END_TEST

/* ---- BARs ---- */

static uint32_t size_bar(unsigned int dev, uint32_t reg)
{
	uint32_t old = pf_ecam_read(&pf, dev, reg, 4);
	pf_ecam_write(&pf, dev, reg, 4, 0xffffffff);
	uint32_t mask = pf_ecam_read(&pf, dev, reg, 4);
	pf_ecam_write(&pf, dev, reg, 4, old);
	ck_assert_uint_eq(pf_ecam_read(&pf, dev, reg, 4), old);
	return mask;
}

START_TEST(bar_sizing_32_bit)
{
	ck_assert_uint_eq(size_bar(3, PCI_BAR0), 0xfffff000);
	ck_assert_uint_eq(size_bar(3, PCI_BAR0 + 4), 0xfff00000 | PCI_BAR_MEM_PREFETCH);
	/* Flag bits are read-only whatever is written. */
	pf_cf8_write(&pf, 3, PCI_BAR0, 4, 0);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_BAR0 + 4, 4) & 0xf, PCI_BAR_MEM_PREFETCH);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_BAR0, 4), 0);
	/* Bits below the size cannot be set: addresses stay aligned. */
	pf_ecam_write(&pf, 3, PCI_BAR0, 4, 0xc0001234);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, PCI_BAR0, 4), 0xc0001000);
}
END_TEST

START_TEST(bar_sizing_64_bit)
{
	uint32_t lo = PCI_BAR0 + 8, hi = PCI_BAR0 + 12;
	uint32_t old_lo = pf_ecam_read(&pf, 3, lo, 4), old_hi = pf_ecam_read(&pf, 3, hi, 4);

	pf_ecam_write(&pf, 3, lo, 4, 0xffffffff);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, lo, 4),
			  0xffffc000 | PCI_BAR_MEM_64 | PCI_BAR_MEM_PREFETCH);
	pf_ecam_write(&pf, 3, hi, 4, 0xffffffff);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, hi, 4), 0xffffffff);
	pf_ecam_write(&pf, 3, lo, 4, old_lo);
	pf_ecam_write(&pf, 3, hi, 4, old_hi);

	/* 8 GiB: the size shows in the upper dword. */
	ck_assert_uint_eq(size_bar(3, PCI_BAR0 + 16), PCI_BAR_MEM_64);
	ck_assert_uint_eq(size_bar(3, PCI_BAR0 + 20), 0xfffffffe);
}
END_TEST

START_TEST(bars_are_allocated_aligned_in_their_windows)
{
	struct test_dev *d = &dev_a;
	uint64_t a0 = pf_ecam_read(&pf, 3, PCI_BAR0, 4) & ~0xfull;
	uint64_t a1 = pf_ecam_read(&pf, 3, PCI_BAR0 + 4, 4) & ~0xfull;
	uint64_t a2 = pf_bar64(&pf, 3, 2), a4 = pf_bar64(&pf, 3, 4);

	ck_assert_uint_eq(a0 % 0x1000, 0);
	ck_assert_uint_eq(a1 % 0x100000, 0);
	ck_assert_uint_eq(a2 % 0x4000, 0);
	ck_assert_uint_eq(a4 % (8ull << 30), 0);
	ck_assert(a0 >= PF_MEM32_BASE && a0 + 0x1000 <= PF_MEM32_BASE + PF_MEM32_SIZE);
	ck_assert(a1 >= PF_MEM32_BASE && a1 + 0x100000 <= PF_MEM32_BASE + PF_MEM32_SIZE);
	ck_assert(a2 >= PF_MEM64_BASE && a2 + 0x4000 <= PF_MEM64_BASE + PF_MEM64_SIZE);
	ck_assert(a4 >= PF_MEM64_BASE && a4 + (8ull << 30) <= PF_MEM64_BASE + PF_MEM64_SIZE);
	ck_assert(a0 + 0x1000 <= a1 || a1 + 0x100000 <= a0);
	ck_assert(a2 + 0x4000 <= a4 || a4 + (8ull << 30) <= a2);
	(void)d;

	/* A second device gets the first free slot and disjoint BARs. */
	dev_init(&dev_b);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, &dev_b.f, -1), 0);
	ck_assert_uint_eq(dev_b.f.slot, 1);
	uint64_t b0 = pf_ecam_read(&pf, 1, PCI_BAR0, 4) & ~0xfull;
	uint64_t b4 = pf_bar64(&pf, 1, 4);
	ck_assert(b0 != a0 && b0 % 0x1000 == 0);
	ck_assert(b4 != a4 && b4 % (8ull << 30) == 0);
	ck_assert_uint_eq(pf_ecam_read(&pf, 1, PCI_VENDOR_ID, 2), 0x1234);
}
END_TEST

START_TEST(plug_refuses_taken_slots_and_full_windows)
{
	struct pci_fixture small;
	struct test_dev d;

	dev_init(&dev_b);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, &dev_b.f, 3), -1);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, &dev_b.f, 0), -1);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, &dev_b.f, 32), -1);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, &dev_a.f, 5), -1);

	/* Windows too small for an 8 GiB BAR. */
	bus_init(&small.mmio, "mmio");
	ck_assert_int_eq(pci_bus_init(&small.pb, &small.mmio, 0xc0000000, 0x200000, 0, 0), 0);
	dev_init(&d);
	ck_assert_int_eq(pci_bus_plug(&small.pb, &d.f, -1), -1);
	ck_assert_ptr_null(d.f.bus);
	pci_bus_destroy(&small.pb);
	bus_destroy(&small.mmio);

	/* Invalid windows and BAR declarations. */
	ck_assert_int_eq(pci_bus_init(&small.pb, &small.mmio, 0xf0000000, 0x20000000, 0, 0), -1);
	pci_function_init(&d.f, &dev_id, NULL, NULL);
	ck_assert_int_eq(pci_function_add_bar(&d.f, 0, 0x1800, 0, &region_ops, NULL), -1);
	ck_assert_int_eq(pci_function_add_bar(&d.f, 0, 8, 0, &region_ops, NULL), -1);
	ck_assert_int_eq(pci_function_add_bar(&d.f, 5, 0x1000, PCI_BAR_MEM_64, &region_ops, NULL),
			 -1);
	ck_assert_int_eq(pci_function_add_bar(&d.f, 6, 0x1000, 0, &region_ops, NULL), -1);
	ck_assert_int_eq(pci_function_add_bar(&d.f, 0, 0x1000, 0x1, &region_ops, NULL), -1);
	ck_assert_int_eq(pci_function_add_bar(&d.f, 0, 0x1000, PCI_BAR_MEM_64, &region_ops, NULL),
			 0);
	ck_assert_int_eq(pci_function_add_bar(&d.f, 1, 0x1000, 0, &region_ops, NULL), -1);
}
END_TEST

START_TEST(decoding_follows_memory_space_enable)
{
	uint64_t a0 = pf_ecam_read(&pf, 3, PCI_BAR0, 4) & ~0xfull;
	uint64_t a4 = pf_bar64(&pf, 3, 4);
	uint32_t v = 0;

	ck_assert(!mmio_hits(a0));
	ck_assert_uint_eq(dev_a.mapped, 0);
	pf_set_memory(&pf, 3, 1);
	ck_assert_uint_eq(dev_a.mapped, 4);
	ck_assert(bus_read(&pf.mmio, a0 + 0x10, &v, 4));
	ck_assert_uint_eq(v, 0x10);
	ck_assert(mmio_hits(a4 + (8ull << 30) - 4));
	uint64_t addr;
	ck_assert(pci_bar_decoding(&dev_a.f, 4, &addr));
	ck_assert_uint_eq(addr, a4);

	/* Master or INTx bits do not disturb decoding. */
	pf_ecam_write(&pf, 3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_uint_eq(dev_a.mapped, 4);
	ck_assert_uint_eq(dev_a.unmapped, 0);

	pf_set_memory(&pf, 3, 0);
	ck_assert_uint_eq(dev_a.unmapped, 4);
	ck_assert(!mmio_hits(a0));
	ck_assert(!pci_bar_decoding(&dev_a.f, 4, &addr));
}
END_TEST

START_TEST(bar_write_moves_the_range)
{
	uint64_t a0 = pf_ecam_read(&pf, 3, PCI_BAR0, 4) & ~0xfull;
	uint64_t new0 = PF_MEM32_BASE + 0x10000000;

	pf_set_memory(&pf, 3, 1);
	pf_cf8_write(&pf, 3, PCI_BAR0, 4, (uint32_t)new0);
	ck_assert_uint_eq(dev_a.moved, 1);
	ck_assert_uint_eq(dev_a.last_bar, 0);
	ck_assert_uint_eq(dev_a.last_old, a0);
	ck_assert_uint_eq(dev_a.last_new, new0);
	ck_assert(!mmio_hits(a0));
	ck_assert(mmio_hits(new0));

	/* 64-bit BAR: each half moves it (decoding on, as a careless guest
	 * would); it ends up where both halves say. */
	uint64_t new2 = 0x5000000000ull;
	pf_ecam_write(&pf, 3, PCI_BAR0 + 8, 4, (uint32_t)new2);
	pf_ecam_write(&pf, 3, PCI_BAR0 + 12, 4, (uint32_t)(new2 >> 32));
	ck_assert_uint_eq(pf_bar64(&pf, 3, 2), new2);
	ck_assert(mmio_hits(new2));
	ck_assert_uint_eq(dev_a.last_new, new2);
	ck_assert_uint_eq(dev_a.unmapped, 0);
}
END_TEST

START_TEST(sizing_with_decoding_on_unmaps_then_restores)
{
	uint32_t lo = PCI_BAR0 + 8, hi = PCI_BAR0 + 12;
	uint64_t a2 = pf_bar64(&pf, 3, 2);
	uint32_t old_lo = pf_ecam_read(&pf, 3, lo, 4), old_hi = pf_ecam_read(&pf, 3, hi, 4);
	uint64_t a0 = pf_ecam_read(&pf, 3, PCI_BAR0, 4) & ~0xfull;

	pf_set_memory(&pf, 3, 1);
	unsigned int mapped = dev_a.mapped;

	/* 32-bit BAR sized under decoding: gone while all-ones, back after. */
	pf_ecam_write(&pf, 3, PCI_BAR0, 4, 0xffffffff);
	ck_assert_uint_eq(dev_a.unmapped, 1);
	ck_assert(!mmio_hits(a0));
	ck_assert(!mmio_hits(0xfffff000));
	pf_ecam_write(&pf, 3, PCI_BAR0, 4, (uint32_t)a0);
	ck_assert_uint_eq(dev_a.mapped, mapped + 1);
	ck_assert(mmio_hits(a0));

	/* 64-bit: the BAR stays off the bus until both halves are restored. */
	pf_ecam_write(&pf, 3, lo, 4, 0xffffffff);
	ck_assert_uint_eq(dev_a.unmapped, 2);
	ck_assert(!mmio_hits(a2));
	pf_ecam_write(&pf, 3, hi, 4, 0xffffffff);
	pf_ecam_write(&pf, 3, lo, 4, old_lo);
	ck_assert_uint_eq(dev_a.mapped, mapped + 1);
	ck_assert(!mmio_hits(a2));
	pf_ecam_write(&pf, 3, hi, 4, old_hi);
	ck_assert_uint_eq(dev_a.mapped, mapped + 2);
	ck_assert(mmio_hits(a2));
	ck_assert_uint_eq(dev_a.moved, 0);
}
END_TEST

START_TEST(overlapping_bar_does_not_decode_until_moved_away)
{
	dev_init(&dev_b);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, &dev_b.f, 4), 0);
	uint32_t a0 = pf_ecam_read(&pf, 3, PCI_BAR0, 4);
	uint32_t b0 = pf_ecam_read(&pf, 4, PCI_BAR0, 4);

	pf_set_memory(&pf, 3, 1);
	pf_ecam_write(&pf, 4, PCI_BAR0, 4, a0);
	pf_set_memory(&pf, 4, 1);
	uint64_t addr;
	ck_assert(!pci_bar_decoding(&dev_b.f, 0, &addr));
	ck_assert(pci_bar_decoding(&dev_a.f, 0, &addr));
	pf_ecam_write(&pf, 4, PCI_BAR0, 4, b0);
	ck_assert(pci_bar_decoding(&dev_b.f, 0, &addr));
	ck_assert_uint_eq(addr, b0);

	/* A move onto a taken range unmaps rather than corrupting. */
	pf_ecam_write(&pf, 4, PCI_BAR0, 4, a0);
	ck_assert(!pci_bar_decoding(&dev_b.f, 0, &addr));
	ck_assert(pci_bar_decoding(&dev_a.f, 0, &addr));
	ck_assert_uint_eq(addr, a0);
	ck_assert_uint_eq(dev_b.unmapped, 1);
}
END_TEST

START_TEST(unplug_takes_bars_off_the_bus)
{
	uint64_t a0 = pf_ecam_read(&pf, 3, PCI_BAR0, 4) & ~0xfull;

	pf_set_memory(&pf, 3, 1);
	ck_assert(mmio_hits(a0));
	pci_bus_unplug(&dev_a.f);
	ck_assert(!mmio_hits(a0));
	ck_assert_uint_eq(dev_a.unmapped, 4);
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, 0, 4), 0xffffffff);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, &dev_a.f, 3), 0);
}
END_TEST

/* ---- capabilities and hooks ---- */

/* ---- I/O BARs ---- */

#define IO_BASE 0xc000u
#define IO_SIZE 0x4000u

static struct test_dev dev_io;

/* A function with memory BAR 0 (4 KiB) and I/O BAR 2 (16 ports), in slot
 * 5 of a bus with an I/O window. */
static void io_setup(void)
{
	pf_init(&pf);
	ck_assert_int_eq(pci_bus_set_io_window(&pf.pb, &pf.pio, IO_BASE, IO_SIZE), 0);
	memset(&dev_io, 0, sizeof(dev_io));
	pci_function_init(&dev_io.f, &dev_id, &dev_ops, &dev_io);
	ck_assert_int_eq(pci_function_add_bar(&dev_io.f, 0, 0x1000, 0, &region_ops, &dev_io), 0);
	ck_assert_int_eq(pci_function_add_bar(&dev_io.f, 2, 16, PCI_BAR_IO, &region_ops, &dev_io),
			 0);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, &dev_io.f, 5), 0);
}

static bool pio_hits(uint64_t port)
{
	uint16_t v;
	return bus_read(&pf.pio, port, &v, 2);
}

START_TEST(io_bar_declaration_limits)
{
	struct pci_function f;

	pci_function_init(&f, &dev_id, &dev_ops, NULL);
	/* 4 to 256 ports, a power of two; nothing beside PCI_BAR_IO. */
	ck_assert_int_eq(pci_function_add_bar(&f, 0, 2, PCI_BAR_IO, &region_ops, NULL), -1);
	ck_assert_int_eq(pci_function_add_bar(&f, 0, 512, PCI_BAR_IO, &region_ops, NULL), -1);
	ck_assert_int_eq(pci_function_add_bar(&f, 0, 24, PCI_BAR_IO, &region_ops, NULL), -1);
	ck_assert_int_eq(
		pci_function_add_bar(&f, 0, 16, PCI_BAR_IO | PCI_BAR_MEM_64, &region_ops, NULL),
		-1);
	ck_assert_int_eq(pci_function_add_bar(&f, 0, 4, PCI_BAR_IO, &region_ops, NULL), 0);
	ck_assert_int_eq(pci_function_add_bar(&f, 1, 256, PCI_BAR_IO, &region_ops, NULL), 0);
	ck_assert_int_eq(pci_function_add_bar(&f, 1, 4, PCI_BAR_IO, &region_ops, NULL), -1);
}
END_TEST

START_TEST(io_bar_sizing_and_flags)
{
	uint32_t reg = PCI_BAR0 + 8;

	/* Bit 0 says I/O and is read-only; 16-bit decode: the upper half
	 * reads 0; the size shows in the low bits a write cannot set. */
	ck_assert_uint_eq(size_bar(5, reg), 0x0000fff0 | PCI_BAR_IO);
	pf_ecam_write(&pf, 5, reg, 4, 0);
	ck_assert_uint_eq(pf_ecam_read(&pf, 5, reg, 4), PCI_BAR_IO);
	pf_ecam_write(&pf, 5, reg, 4, 0x1234d00f);
	ck_assert_uint_eq(pf_ecam_read(&pf, 5, reg, 4), 0xd000 | PCI_BAR_IO);
}
END_TEST

START_TEST(io_bar_is_allocated_in_the_io_window)
{
	uint32_t a = pf_ecam_read(&pf, 5, PCI_BAR0 + 8, 4);

	ck_assert_uint_eq(a & PCI_BAR_IO_FLAGS, PCI_BAR_IO);
	a &= ~(uint32_t)PCI_BAR_IO_FLAGS;
	ck_assert_uint_ge(a, IO_BASE);
	ck_assert_uint_le(a + 16, IO_BASE + IO_SIZE);
	ck_assert_uint_eq(a % 16, 0);
	/* The memory BAR still comes from the memory window. */
	ck_assert_uint_ge(pf_ecam_read(&pf, 5, PCI_BAR0, 4), PF_MEM32_BASE);
	ck_assert(pci_bus_has_io(&pf.pb));
}
END_TEST

START_TEST(io_decoding_follows_io_space_enable)
{
	uint32_t a = pf_ecam_read(&pf, 5, PCI_BAR0 + 8, 4) & ~(uint32_t)PCI_BAR_IO_FLAGS;
	uint16_t v = 0;
	uint64_t addr;

	/* The I/O enable bit is writable for a function with an I/O BAR. */
	pf_ecam_write(&pf, 5, PCI_COMMAND, 2, 0xffff);
	ck_assert_uint_eq(pf_ecam_read(&pf, 5, PCI_COMMAND, 2),
			  PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
				  PCI_COMMAND_INTX_DISABLE);
	ck_assert(pio_hits(a));
	ck_assert(bus_read(&pf.pio, a + 6, &v, 2));
	ck_assert_uint_eq(v, 6);
	ck_assert(pci_bar_decoding(&dev_io.f, 2, &addr));
	ck_assert_uint_eq(addr, a);
	ck_assert_uint_eq(dev_io.mapped, 2);

	/* Memory space alone does not decode the I/O BAR, nor the reverse. */
	pf_ecam_write(&pf, 5, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert(!pio_hits(a));
	ck_assert(mmio_hits(pf_ecam_read(&pf, 5, PCI_BAR0, 4)));
	ck_assert_uint_eq(dev_io.unmapped, 1);
	ck_assert_uint_eq(dev_io.last_bar, 2);
	pf_ecam_write(&pf, 5, PCI_COMMAND, 2, PCI_COMMAND_IO);
	ck_assert(pio_hits(a));
	ck_assert(!mmio_hits(pf_ecam_read(&pf, 5, PCI_BAR0, 4)));

	/* The guest moves it: the ports follow, the device is told. */
	pf_ecam_write(&pf, 5, PCI_BAR0 + 8, 4, 0xe000);
	ck_assert(!pio_hits(a));
	ck_assert(pio_hits(0xe000));
	ck_assert_uint_eq(dev_io.moved, 1);
	ck_assert_uint_eq(dev_io.last_old, a);
	ck_assert_uint_eq(dev_io.last_new, 0xe000);

	/* Sizing while decoding: off the bus until an address is written. */
	pf_ecam_write(&pf, 5, PCI_BAR0 + 8, 4, 0xffffffff);
	ck_assert(!pio_hits(0xe000));
	ck_assert(!pio_hits(0xfff0));
	pf_ecam_write(&pf, 5, PCI_BAR0 + 8, 4, 0xe000);
	ck_assert(pio_hits(0xe000));

	/* Over the config ports: it does not decode there. */
	pf_ecam_write(&pf, 5, PCI_BAR0 + 8, 4, PCI_PIO_BASE & ~15u);
	ck_assert(!pci_bar_decoding(&dev_io.f, 2, &addr));
	uint32_t id = pf_cf8_read(&pf, 5, PCI_VENDOR_ID, 2);
	ck_assert_uint_eq(id, dev_id.vendor);

	pf_ecam_write(&pf, 5, PCI_BAR0 + 8, 4, 0xe000);
	pf_ecam_write(&pf, 5, PCI_COMMAND, 2, 0);
	ck_assert(!pio_hits(0xe000));
}
END_TEST

START_TEST(io_bar_needs_an_io_window)
{
	struct pci_fixture nio;
	struct pci_function f;

	pf_init(&nio);
	ck_assert(!pci_bus_has_io(&nio.pb));
	pci_function_init(&f, &dev_id, &dev_ops, NULL);
	ck_assert_int_eq(pci_function_add_bar(&f, 0, 16, PCI_BAR_IO, &region_ops, NULL), 0);
	ck_assert_int_eq(pci_bus_plug(&nio.pb, &f, 1), -1);
	/* Windows outside 16-bit port space are refused. */
	ck_assert_int_eq(pci_bus_set_io_window(&nio.pb, &nio.pio, 0xf000, 0x2000), -1);
	ck_assert_int_eq(pci_bus_set_io_window(&nio.pb, &nio.pio, 0xf000, 0), -1);
	pf_destroy(&nio);
}
END_TEST

START_TEST(capability_list_walk)
{
	struct pci_fixture p2;
	struct test_dev d;
	uint8_t body[10] = { 0, 0, 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4 };
	uint8_t wm[10] = { 0xff, 0xff, 0, 0xff, 0x0f, 0, 0, 0, 0, 0 };

	pf_init(&p2);
	memset(&d, 0, sizeof(d));
	pci_function_init(&d.f, &dev_id, &dev_ops, &d);
	ck_assert_uint_eq(pci_cfg_get16(&d.f, PCI_STATUS) & PCI_STATUS_CAP_LIST, 0);
	int c1 = pci_add_capability(&d.f, PCI_CAP_ID_VNDR, body, 6, wm);
	int c2 = pci_add_capability(&d.f, PCI_CAP_ID_MSIX, NULL, 12, NULL);
	int c3 = pci_add_capability(&d.f, PCI_CAP_ID_VNDR, body, 10, wm);
	ck_assert_int_eq(c1, PCI_CAP_START);
	ck_assert_int_eq(c2, PCI_CAP_START + 8); /* dword aligned after 6 bytes */
	ck_assert_int_eq(c3, PCI_CAP_START + 20);
	ck_assert_int_eq(pci_bus_plug(&p2.pb, &d.f, 2), 0);

	ck_assert_uint_eq(pf_find_cap(&p2, 2, PCI_CAP_ID_VNDR, 0), (uint32_t)c1);
	ck_assert_uint_eq(pf_find_cap(&p2, 2, PCI_CAP_ID_MSIX, 0), (uint32_t)c2);
	ck_assert_uint_eq(pf_find_cap(&p2, 2, PCI_CAP_ID_VNDR, 1), (uint32_t)c3);
	ck_assert_uint_eq(pf_find_cap(&p2, 2, PCI_CAP_ID_VNDR, 2), 0);
	ck_assert_uint_eq(pf_ecam_read(&p2, 2, (uint32_t)c3 + 1, 1), 0);
	ck_assert_uint_eq(pf_ecam_read(&p2, 2, (uint32_t)c1 + 2, 2), 0xbbaa);
	ck_assert_uint_eq(pf_ecam_read(&p2, 2, (uint32_t)c1 + 4, 2), 0xddcc);

	/* Per-byte write masks; ID and next are never writable. */
	pf_ecam_write(&p2, 2, (uint32_t)c1, 4, 0);
	ck_assert_uint_eq(pf_ecam_read(&p2, 2, (uint32_t)c1, 2),
			  (uint32_t)(c2 << 8 | PCI_CAP_ID_VNDR));
	pf_ecam_write(&p2, 2, (uint32_t)c1 + 2, 2, 0x0000);
	pf_ecam_write(&p2, 2, (uint32_t)c1 + 4, 2, 0x0000);
	ck_assert_uint_eq(pf_ecam_read(&p2, 2, (uint32_t)c1, 4),
			  0x00aa0000u | c2 << 8 | PCI_CAP_ID_VNDR);
	ck_assert_uint_eq(pf_ecam_read(&p2, 2, (uint32_t)c1 + 4, 2), 0xddc0);
	pf_cf8_write(&p2, 2, (uint32_t)c1 + 4, 2, 0xffff);
	pf_cf8_write(&p2, 2, (uint32_t)c1, 4, 0xffffffff);
	ck_assert_uint_eq(pf_ecam_read(&p2, 2, (uint32_t)c1, 4),
			  0xffaa0000u | c2 << 8 | PCI_CAP_ID_VNDR);
	ck_assert_uint_eq(pf_ecam_read(&p2, 2, (uint32_t)c1 + 4, 2), 0xddcf);
	pf_ecam_write(&p2, 2, (uint32_t)c2, 4, 0xffffffff);
	ck_assert_uint_eq(pf_ecam_read(&p2, 2, (uint32_t)c2 + 2, 2), 0);

	/* Config space runs out. */
	ck_assert_int_eq(pci_add_capability(&d.f, PCI_CAP_ID_VNDR, NULL, 200, NULL), -1);
	ck_assert_int_ge(pci_add_capability(&d.f, PCI_CAP_ID_VNDR, NULL, 160, NULL), 0);
	ck_assert_int_eq(pci_add_capability(&d.f, PCI_CAP_ID_VNDR, NULL, 2, NULL), -1);
	ck_assert_int_eq(pci_add_capability(&d.f, PCI_CAP_ID_VNDR, NULL, 1, NULL), -1);
	pf_destroy(&p2);
}
END_TEST

START_TEST(device_hooks_see_reads_and_writes)
{
	dev_a.hook_reg = 0x80;
	ck_assert_uint_eq(pf_ecam_read(&pf, 3, 0x80, 4), 0x12345678);
	ck_assert_uint_eq(pf_cf8_read(&pf, 3, 0x84, 4), 0);
	pf_cf8_write(&pf, 3, 0x86, 2, 0xbeef);
	ck_assert_uint_eq(dev_a.last_write_reg, 0x86);
	ck_assert_uint_eq(dev_a.last_write_len, 2);
	ck_assert_uint_eq(dev_a.last_write_val, 0xbeef);
	/* Read-only bytes stay put even though the hook saw the write. */
	ck_assert_uint_eq(pf_cf8_read(&pf, 3, 0x86, 2), 0);
	unsigned int writes = dev_a.writes;
	pf_ecam_write(&pf, 3, 0x200, 4, 1);
	ck_assert_uint_eq(dev_a.writes, writes);
}
END_TEST

static unsigned int resets;

static void count_reset(void *opaque)
{
	ck_assert_ptr_eq(opaque, &pf);
	resets++;
}

/* Issue 9 item 8: 0xCF9 reset control (Linux's reboot=pci writes 0x02, then
 * 0x06) reboots instead of leaving Linux to a triple fault; it does not
 * disturb the CONFIG_ADDRESS latch. */
START_TEST(cf9_reset_control)
{
	uint8_t b;
	uint16_t w = 0xffff;

	resets = 0;
	pf.pb.reset = count_reset;
	pf.pb.reset_opaque = &pf;
	ck_assert_uint_eq(pf_cf8_read(&pf, 3, PCI_VENDOR_ID, 2), 0x1234);
	b = 0x02;
	bus_write(&pf.pio, PCI_PIO_BASE + PCI_RESET_CONTROL, &b, 1);
	ck_assert_uint_eq(resets, 0);
	bus_write(&pf.pio, PCI_PIO_BASE, &w, 2); /* a word: neither */
	ck_assert_uint_eq(resets, 0);
	b = 0x06;
	bus_write(&pf.pio, PCI_PIO_BASE + PCI_RESET_CONTROL, &b, 1);
	ck_assert_uint_eq(resets, 1);
	/* The latch still holds the last configuration address. */
	uint32_t v = 0;
	bus_read(&pf.pio, PCI_PIO_BASE + 4, &v, 2);
	ck_assert_uint_eq(v, 0x1234);
	/* Without a handler the write is ignored. */
	pf.pb.reset = NULL;
	bus_write(&pf.pio, PCI_PIO_BASE + PCI_RESET_CONTROL, &b, 1);
	ck_assert_uint_eq(resets, 1);
}
END_TEST

static Suite *pci_suite(void)
{
	Suite *s = suite_create("pci");
	TCase *tc;

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, host_bridge_through_both_mechanisms);
	tcase_add_test(tc, device_identity_and_byte_word_accesses);
	tcase_add_test(tc, absent_functions_read_all_ones);
	tcase_add_test(tc, config_address_latch);
	tcase_add_test(tc, ecam_refuses_accesses_crossing_a_dword);
	tcase_add_test(tc, read_only_fields_stay_read_only);
	tcase_add_test(tc, command_register_writable_bits);
	tcase_add_test(tc, status_error_bits_are_rw1c);
	suite_add_tcase(s, tc);

	tc = tcase_create("bars");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bar_sizing_32_bit);
	tcase_add_test(tc, bar_sizing_64_bit);
	tcase_add_test(tc, bars_are_allocated_aligned_in_their_windows);
	tcase_add_test(tc, plug_refuses_taken_slots_and_full_windows);
	tcase_add_test(tc, decoding_follows_memory_space_enable);
	tcase_add_test(tc, bar_write_moves_the_range);
	tcase_add_test(tc, sizing_with_decoding_on_unmaps_then_restores);
	tcase_add_test(tc, overlapping_bar_does_not_decode_until_moved_away);
	tcase_add_test(tc, unplug_takes_bars_off_the_bus);
	suite_add_tcase(s, tc);

	tc = tcase_create("io_bars");
	tcase_add_checked_fixture(tc, io_setup, teardown);
	tcase_add_test(tc, io_bar_declaration_limits);
	tcase_add_test(tc, io_bar_sizing_and_flags);
	tcase_add_test(tc, io_bar_is_allocated_in_the_io_window);
	tcase_add_test(tc, io_decoding_follows_io_space_enable);
	tcase_add_test(tc, io_bar_needs_an_io_window);
	suite_add_tcase(s, tc);

	tc = tcase_create("capabilities");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, capability_list_walk);
	tcase_add_test(tc, device_hooks_see_reads_and_writes);
	tcase_add_test(tc, cf9_reset_control);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pci_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
