/*
 * BARs: declaring them (memory: size, 32/64-bit, prefetchable; or I/O),
 * assigning addresses from the bus windows, and decoding: keeping each
 * BAR's range on the MMIO or port bus where the guest put it, only while
 * memory (or I/O) space is enabled and the BAR is not being sized, and
 * telling the device when it moves.
 */
#include "core/bus.h"

#include "devices/pci.h"
#include "devices/pci_priv.h"

static int add_io_bar(struct pci_function *f, unsigned int bar, uint64_t size,
		      const struct bus_ops *ops, void *opaque)
{
	uint32_t reg = PCI_BAR0 + 4 * bar;
	/* 16-bit decode: the upper half of the register reads 0. */
	uint32_t wmask =
		(uint32_t) ~(size - 1) & (PCI_IO_SPACE_END - 1) & ~(uint32_t)PCI_BAR_IO_FLAGS;

	/* The PCI spec caps an I/O BAR at 256 bytes. */
	if (size < 4 || size > 256 || (size & (size - 1)))
		return -1;
	f->bars[bar] =
		(struct pci_bar){ .size = size, .flags = PCI_BAR_IO, .ops = ops, .opaque = opaque };
	pci_cfg_set32(f, reg, PCI_BAR_IO);
	for (unsigned int i = 0; i < 4; i++)
		f->wmask[reg + i] = (uint8_t)(wmask >> (8 * i));
	f->wmask[PCI_COMMAND] |= PCI_COMMAND_IO;
	return 0;
}

int pci_function_add_bar(struct pci_function *f, unsigned int bar, uint64_t size, uint32_t flags,
			 const struct bus_ops *ops, void *opaque)
{
	bool is64 = flags & PCI_BAR_MEM_64;
	uint32_t reg = PCI_BAR0 + 4 * bar;
	uint64_t mask = ~(size - 1);

	if (bar >= PCI_NUM_BARS || (is64 && bar + 1 >= PCI_NUM_BARS) || f->bus || ops == NULL)
		return -1;
	if (f->bars[bar].size || (bar > 0 && f->bars[bar - 1].flags & PCI_BAR_MEM_64) ||
	    (is64 && f->bars[bar + 1].size))
		return -1;
	if (flags == PCI_BAR_IO)
		return add_io_bar(f, bar, size, ops, opaque);
	if (size < 16 || (size & (size - 1)) || (!is64 && size > (1ull << 31)))
		return -1;
	if (flags & ~(uint32_t)(PCI_BAR_MEM_64 | PCI_BAR_MEM_PREFETCH))
		return -1;

	f->bars[bar] =
		(struct pci_bar){ .size = size, .flags = flags, .ops = ops, .opaque = opaque };
	/* The flag bits sit below the size, so they survive any write. */
	pci_cfg_set32(f, reg, flags);
	pci_cfg_set32(f, reg + 4 * is64, is64 ? 0 : flags);
	for (unsigned int i = 0; i < 4; i++)
		f->wmask[reg + i] =
			(uint8_t)(((uint32_t)mask & ~(uint32_t)PCI_BAR_MEM_FLAGS) >> (8 * i));
	if (is64)
		for (unsigned int i = 0; i < 4; i++)
			f->wmask[reg + 4 + i] = (uint8_t)((mask >> 32) >> (8 * i));
	return 0;
}

static bool is_io(const struct pci_bar *b)
{
	return b->flags & PCI_BAR_IO;
}

/* The bus a BAR decodes on. */
static struct bus *bar_bus(const struct pci_function *f, const struct pci_bar *b)
{
	return is_io(b) ? f->bus->pio : f->bus->mmio;
}

static uint64_t bar_address(const struct pci_function *f, unsigned int bar)
{
	uint32_t reg = PCI_BAR0 + 4 * bar;
	if (is_io(&f->bars[bar]))
		return pci_cfg_get32(f, reg) & ~(uint32_t)PCI_BAR_IO_FLAGS;

	uint64_t addr = pci_cfg_get32(f, reg) & ~(uint32_t)PCI_BAR_MEM_FLAGS;

	if (f->bars[bar].flags & PCI_BAR_MEM_64)
		addr |= (uint64_t)pci_cfg_get32(f, reg + 4) << 32;
	return addr;
}

/* Bump allocation with natural alignment; false when it does not fit. */
static bool window_alloc(struct pci_window *w, uint64_t size, uint64_t *addr)
{
	uint64_t end = w->base + w->size;
	uint64_t a = (w->next + size - 1) & ~(size - 1);

	if (w->size == 0 || a < w->next || a > end || size > end - a)
		return false;
	*addr = a;
	w->next = a + size;
	return true;
}

int pci_bars_assign(struct pci_bus *pb, struct pci_function *f)
{
	/* Largest first, so alignment wastes as little window as it can. */
	bool done[PCI_NUM_BARS] = { false };

	for (;;) {
		int best = -1;
		for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
			if (f->bars[i].size && !done[i] &&
			    (best < 0 || f->bars[i].size > f->bars[best].size))
				best = (int)i;
		if (best < 0)
			return 0;
		done[best] = true;

		struct pci_bar *b = &f->bars[best];
		uint32_t reg = PCI_BAR0 + 4 * (uint32_t)best;
		uint64_t addr;
		bool ok = false;
		if (is_io(b))
			ok = pci_bus_has_io(pb) && window_alloc(&pb->io, b->size, &addr);
		else if (b->flags & PCI_BAR_MEM_64)
			ok = window_alloc(&pb->mem64, b->size, &addr);
		if (!ok && !is_io(b))
			ok = window_alloc(&pb->mem32, b->size, &addr);
		if (!ok)
			return -1;
		pci_cfg_set32(f, reg, (uint32_t)addr | b->flags);
		if (b->flags & PCI_BAR_MEM_64)
			pci_cfg_set32(f, reg + 4, (uint32_t)(addr >> 32));
	}
}

void pci_bars_written(struct pci_function *f, uint32_t reg, unsigned int len, uint32_t val)
{
	/* Sizing is the guest writing all-ones to a whole BAR dword; any
	 * other write to that dword ends it. */
	bool sizing = len == 4 && val == 0xffffffffu;
	unsigned int dword = (reg - PCI_BAR0) / 4;

	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &f->bars[i];
		if (b->size == 0)
			continue;
		if (dword == i)
			b->sizing_lo = sizing;
		else if ((b->flags & PCI_BAR_MEM_64) && dword == i + 1)
			b->sizing_hi = sizing;
	}
}

static void bar_unmap(struct pci_function *f, unsigned int bar)
{
	struct pci_bar *b = &f->bars[bar];
	uint64_t old = b->map_addr;

	if (!b->mapped)
		return;
	/* It is ours and registered: this cannot fail. */
	bus_unregister(bar_bus(f, b), old, b->opaque);
	b->mapped = false;
	if (f->ops && f->ops->bar_unmapped)
		f->ops->bar_unmapped(f->opaque, bar, old);
}

static void bar_update(struct pci_function *f, unsigned int bar, uint16_t command)
{
	struct pci_bar *b = &f->bars[bar];
	struct bus *on_bus = bar_bus(f, b);
	uint64_t addr = bar_address(f, bar);
	bool on = command & (is_io(b) ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY);
	bool want = on && on_bus != NULL && !b->sizing_lo && !b->sizing_hi &&
		    addr + b->size - 1 >= addr && (!is_io(b) || addr + b->size <= PCI_IO_SPACE_END);

	if (!want) {
		bar_unmap(f, bar);
	} else if (!b->mapped) {
		/* A guest that places a BAR over another device's range gets
		 * a BAR that does not decode, as on a bus with a conflict. */
		if (bus_register(on_bus, addr, b->size, b->ops, b->opaque) == 0) {
			b->mapped = true;
			b->map_addr = addr;
			if (f->ops && f->ops->bar_mapped)
				f->ops->bar_mapped(f->opaque, bar, addr);
		}
	} else if (addr != b->map_addr) {
		uint64_t old = b->map_addr;
		if (bus_move(on_bus, old, b->opaque, addr) == 0) {
			b->map_addr = addr;
			if (f->ops && f->ops->bar_moved)
				f->ops->bar_moved(f->opaque, bar, old, addr);
		} else {
			bar_unmap(f, bar);
		}
	}
}

void pci_bars_update(struct pci_function *f)
{
	uint16_t command = pci_cfg_get16(f, PCI_COMMAND);

	if (f->bus == NULL)
		return;
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		if (f->bars[i].size)
			bar_update(f, i, command);
}

void pci_bars_unmap_all(struct pci_function *f)
{
	if (f->bus == NULL)
		return;
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		bar_unmap(f, i);
}

bool pci_bar_decoding(struct pci_function *f, unsigned int bar, uint64_t *addr)
{
	if (bar >= PCI_NUM_BARS || !f->bars[bar].mapped)
		return false;
	*addr = f->bars[bar].map_addr;
	return true;
}
