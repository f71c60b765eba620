/*
 * Fuzz target for PCI configuration space and BARs (devices/pci.c,
 * pci_config.c, pci_bar.c): a guest's config accesses through the 0xCF8 /
 * 0xCFC port pair (any port of the eight, any size, any CONFIG_ADDRESS) and
 * through the ECAM window (any bus/device/function/register, any size),
 * plus MMIO accesses into the BAR windows, against two functions with
 * 32-bit, 64-bit and prefetchable BARs and a capability with writable bits.
 *
 * Checked: read-only header fields never change; an absent function reads
 * all-ones; a BAR decodes only with memory space on, not while being
 * sized, at an address aligned to its size, exactly when the device was
 * told so (mapped / moved / unmapped callbacks), and the MMIO bus then
 * routes its first and last dword to that BAR; BAR handlers only see
 * offsets inside the BAR; the capability list stays intact.
 */
#include <stdint.h>
#include <string.h>

#include "core/bus.h"
#include "devices/pci.h"
#include "fuzz.h"

#define MEM32_BASE 0xc0000000ull
#define MEM32_SIZE 0x20000000ull
#define ECAM_BASE  0xe0000000ull
#define ECAM_SIZE  0x10000000ull
#define MEM64_BASE 0x4000000000ull
#define MEM64_SIZE 0x1000000000ull

#define NFN	   2

struct region {
	unsigned int fn, bar;
	uint64_t size;
	unsigned long hits;
};

struct dev {
	struct pci_function f;
	struct region regions[PCI_NUM_BARS];
	/* What the callbacks told us. */
	bool mapped[PCI_NUM_BARS];
	uint64_t addr[PCI_NUM_BARS];
	uint16_t vendor, device;
	unsigned int slot;
};

static struct dev devs[NFN];

static void region_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct region *r = opaque;
	FUZZ_CHECK(off < r->size && len <= r->size - off);
	memset(data, 0x5a, len);
	r->hits++;
}

static void region_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct region *r = opaque;
	(void)data;
	FUZZ_CHECK(off < r->size && len <= r->size - off);
	r->hits++;
}

static const struct bus_ops region_ops = { .read = region_read, .write = region_write };

static void on_mapped(void *opaque, unsigned int bar, uint64_t addr)
{
	struct dev *d = opaque;
	FUZZ_CHECK(bar < PCI_NUM_BARS && !d->mapped[bar]);
	d->mapped[bar] = true;
	d->addr[bar] = addr;
}

static void on_moved(void *opaque, unsigned int bar, uint64_t old, uint64_t new_addr)
{
	struct dev *d = opaque;
	FUZZ_CHECK(bar < PCI_NUM_BARS && d->mapped[bar] && d->addr[bar] == old && old != new_addr);
	d->addr[bar] = new_addr;
}

static void on_unmapped(void *opaque, unsigned int bar, uint64_t old)
{
	struct dev *d = opaque;
	FUZZ_CHECK(bar < PCI_NUM_BARS && d->mapped[bar] && d->addr[bar] == old);
	d->mapped[bar] = false;
}

static void on_config_read(void *opaque, uint32_t reg, unsigned int len, uint32_t *val)
{
	(void)opaque;
	FUZZ_CHECK(len == 1 || len == 2 || len == 4);
	FUZZ_CHECK((reg & 3) + len <= 4); /* never crosses a dword */
	(void)val;
}

static void on_config_write(void *opaque, uint32_t reg, unsigned int len, uint32_t val)
{
	(void)opaque;
	(void)val;
	FUZZ_CHECK(len == 1 || len == 2 || len == 4);
	FUZZ_CHECK((reg & 3) + len <= 4);
}

static const struct pci_function_ops fn_ops = {
	.config_read = on_config_read,
	.config_write = on_config_write,
	.bar_mapped = on_mapped,
	.bar_moved = on_moved,
	.bar_unmapped = on_unmapped,
};

static void add_bar(struct dev *d, unsigned int fn, unsigned int bar, uint64_t size, uint32_t flags)
{
	d->regions[bar] = (struct region){ .fn = fn, .bar = bar, .size = size };
	FUZZ_CHECK(pci_function_add_bar(&d->f, bar, size, flags, &region_ops, &d->regions[bar]) ==
		   0);
}

static void check_dev(struct bus *mmio, struct dev *d)
{
	struct pci_function *f = &d->f;
	uint16_t cmd = pci_cfg_get16(f, PCI_COMMAND);

	FUZZ_CHECK(pci_cfg_get16(f, PCI_VENDOR_ID) == d->vendor);
	FUZZ_CHECK(pci_cfg_get16(f, PCI_DEVICE_ID) == d->device);
	FUZZ_CHECK(pci_cfg_get8(f, PCI_CAP_PTR) == PCI_CAP_START);
	FUZZ_CHECK(pci_cfg_get8(f, PCI_CAP_START) == PCI_CAP_ID_VNDR);
	FUZZ_CHECK(pci_cfg_get8(f, PCI_INTERRUPT_PIN) == 0);
	for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
		uint64_t addr;
		bool dec = pci_bar_decoding(f, b, &addr);
		FUZZ_CHECK(dec == d->mapped[b]);
		if (!dec)
			continue;
		struct region *r = &d->regions[b];
		unsigned long hits = r->hits;
		uint32_t v;
		FUZZ_CHECK(addr == d->addr[b]);
		FUZZ_CHECK(cmd & PCI_COMMAND_MEMORY);
		FUZZ_CHECK(!f->bars[b].sizing_lo && !f->bars[b].sizing_hi);
		FUZZ_CHECK((addr & (r->size - 1)) == 0);
		FUZZ_CHECK(bus_read(mmio, addr, &v, 4) && r->hits == hits + 1);
		FUZZ_CHECK(bus_read(mmio, addr + r->size - 4, &v, 4) && r->hits == hits + 2);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct bus pio, mmio;
	struct pci_bus pb;
	static const uint8_t vcap[8] = { 0, 0, 8, 1, 2, 3, 4, 5 };
	static const uint8_t vmask[8] = { 0, 0, 0, 0, 0xff, 0x0f, 0, 0xff };

	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	FUZZ_CHECK(pci_bus_init(&pb, &mmio, MEM32_BASE, MEM32_SIZE, MEM64_BASE, MEM64_SIZE) == 0);
	FUZZ_CHECK(pci_bus_register_pio(&pb, &pio) == 0);
	FUZZ_CHECK(pci_bus_register_ecam(&pb, &mmio, ECAM_BASE, ECAM_SIZE) == 0);
	memset(devs, 0, sizeof(devs));
	for (unsigned int i = 0; i < NFN; i++) {
		struct dev *d = &devs[i];
		d->vendor = 0x1af4;
		d->device = (uint16_t)(0x1040 + i);
		pci_function_init(&d->f,
				  &(struct pci_id){ .vendor = d->vendor,
						    .device = d->device,
						    .class_code = PCI_CLASS_STORAGE_OTHER },
				  &fn_ops, d);
		if (i == 0) {
			add_bar(d, i, 0, 0x8000, PCI_BAR_MEM_64);
			add_bar(d, i, 2, 0x1000, 0);
			add_bar(d, i, 4, 1ull << 32, PCI_BAR_MEM_64 | PCI_BAR_MEM_PREFETCH);
		} else {
			add_bar(d, i, 1, 0x100000, 0);
			add_bar(d, i, 5, 0x10, PCI_BAR_MEM_PREFETCH);
		}
		FUZZ_CHECK(pci_add_capability(&d->f, PCI_CAP_ID_VNDR, vcap, sizeof(vcap), vmask) ==
			   PCI_CAP_START);
		d->slot = 1 + i * 7;
		FUZZ_CHECK(pci_bus_plug(&pb, &d->f, (int)d->slot) == 0);
	}

	for (unsigned int ops = 0; fz_more(&f) && ops < 2000; ops++) {
		uint8_t op = fz_u8(&f);
		unsigned int len = fz_len(&f);
		uint64_t val = fz_u64(&f), buf = 0;
		/* Mostly our two functions, sometimes anywhere. */
		unsigned int dev = (op & 0x80) ? fz_u8(&f) : devs[fz_u8(&f) & 1].slot;
		uint32_t reg = fz_u16(&f);

		switch (op & 7) {
		case 0: /* CONFIG_ADDRESS */
			if (op & 0x40)
				val = PCI_CONFIG_ENABLE | (dev & 0x1f) << 11 | (reg & 0x7fc);
			bus_write(&pio, PCI_PIO_BASE + (op >> 3 & 7), &val, len);
			break;
		case 1:
			bus_read(&pio, PCI_PIO_BASE + (op >> 3 & 7), &buf, len);
			break;
		case 2:
			bus_write(&pio, PCI_PIO_BASE + (op >> 3 & 7), &val, len);
			break;
		case 3: { /* ECAM: bus 0 mostly */
			uint64_t a = ECAM_BASE + ((uint64_t)((op & 0x40) ? val >> 56 : 0) << 20 |
						  (uint64_t)(dev & 0x1f) << 15 | (reg & 0x7fff));
			bus_read(&mmio, a, &buf, len);
			if (!(op & 0x40) && (reg >> 12 & 7) == 0 && (dev & 0x1f) != devs[0].slot &&
			    (dev & 0x1f) != devs[1].slot && (dev & 0x1f) != 0 &&
			    (reg & 0xfff) == 0 && len >= 2)
				FUZZ_CHECK((buf & 0xffff) == 0xffff); /* nobody there */
			break;
		}
		case 4: {
			uint64_t a = ECAM_BASE + ((uint64_t)((op & 0x40) ? val >> 56 : 0) << 20 |
						  (uint64_t)(dev & 0x1f) << 15 | (reg & 0x7fff));
			bus_write(&mmio, a, &val, len);
			break;
		}
		case 5: { /* a BAR's sizing dance, or a new address, on one of ours */
			struct dev *d = &devs[dev & 1];
			uint32_t breg = PCI_BAR0 + 4 * (reg % PCI_NUM_BARS);
			uint64_t a = ECAM_BASE + ((uint64_t)d->slot << 15 | breg);
			uint32_t v = (op & 0x40) ? 0xffffffffu : (uint32_t)val;
			bus_write(&mmio, a, &v, 4);
			bus_read(&mmio, a, &v, 4);
			break;
		}
		case 6: { /* command register */
			struct dev *d = &devs[dev & 1];
			uint16_t cmd = (uint16_t)val;
			bus_write(&mmio, ECAM_BASE + ((uint64_t)d->slot << 15 | PCI_COMMAND), &cmd,
				  2);
			break;
		}
		case 7: { /* MMIO into the windows */
			uint64_t a = (op & 0x40) ? MEM64_BASE + val % MEM64_SIZE
						 : MEM32_BASE + val % MEM32_SIZE;
			if (op & 0x20)
				bus_read(&mmio, a, &buf, len);
			else
				bus_write(&mmio, a, &val, len);
			break;
		}
		}
		for (unsigned int i = 0; i < NFN; i++)
			check_dev(&mmio, &devs[i]);
	}
	pci_bus_destroy(&pb);
	for (unsigned int i = 0; i < NFN; i++)
		for (unsigned int b = 0; b < PCI_NUM_BARS; b++)
			FUZZ_CHECK(!devs[i].mapped[b]);
	bus_destroy(&mmio);
	bus_destroy(&pio);
	return 0;
}
