/*
 * The PCI bus: the host bridge, the slots, and the two ways the guest reaches
 * configuration space (ports 0xCF8/0xCFC and ECAM), both decoding to one
 * locked config access on a function, or all-ones where none is plugged.
 */
#include "devices/pci.h"

#include <endian.h>
#include <string.h>

#include "core/err.h"
#include "devices/pci_priv.h"

/* CONFIG_ADDRESS bits the latch keeps: enable, bus, device, function,
 * dword register.  Bits 30:24 are reserved (AMD's extended register
 * number, which we do not offer) and bits 1:0 read as 0. */
#define CONFIG_ADDRESS_MASK 0x80fffffcu

static const uint32_t all_ones[] = { 0, 0xff, 0xffff, 0, 0xffffffffu };

static struct pci_function *lookup(struct pci_bus *pb, unsigned int bus, unsigned int dev,
				   unsigned int fn)
{
	/* One bus, single-function devices: everything else is absent. */
	if (bus >= PCI_NUM_BUSES || fn != 0 || dev >= PCI_NUM_SLOTS)
		return NULL;
	return pb->slots[dev];
}

static uint32_t config_read(struct pci_bus *pb, unsigned int bus, unsigned int dev, unsigned int fn,
			    uint32_t reg, unsigned int len)
{
	uint32_t val = all_ones[len];

	pthread_mutex_lock(&pb->lock);
	struct pci_function *f = lookup(pb, bus, dev, fn);
	if (f)
		val = pci_function_config_read(f, reg, len);
	pthread_mutex_unlock(&pb->lock);
	return val;
}

static void config_write(struct pci_bus *pb, unsigned int bus, unsigned int dev, unsigned int fn,
			 uint32_t reg, unsigned int len, uint32_t val)
{
	pthread_mutex_lock(&pb->lock);
	struct pci_function *f = lookup(pb, bus, dev, fn);
	if (f)
		pci_function_config_write(f, reg, len, val);
	pthread_mutex_unlock(&pb->lock);
}

static bool valid_len(unsigned int len)
{
	return len == 1 || len == 2 || len == 4;
}

static void put_value(void *data, uint32_t val, unsigned int len)
{
	uint32_t le = htole32(val);
	memcpy(data, &le, len);
}

static uint32_t get_value(const void *data, unsigned int len)
{
	uint32_t le = 0;
	memcpy(&le, data, len);
	return le32toh(le);
}

/* ---- 0xCF8 / 0xCFC ---- */

static void pio_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct pci_bus *pb = opaque;
	uint32_t val = 0xffffffffu;

	if (offset == 0 && len == 4) {
		pthread_mutex_lock(&pb->lock);
		val = pb->config_address;
		pthread_mutex_unlock(&pb->lock);
	} else if (offset >= 4 && valid_len(len) && offset - 4 + len <= 4) {
		pthread_mutex_lock(&pb->lock);
		uint32_t ca = pb->config_address;
		pthread_mutex_unlock(&pb->lock);
		/* A guest racing two vCPUs on the latch gets what real
		 * hardware gives it: one of the two addresses. */
		if (ca & PCI_CONFIG_ENABLE)
			val = config_read(pb, (ca >> 16) & 0xff, (ca >> 11) & 0x1f, (ca >> 8) & 7,
					  (ca & 0xfc) + (uint32_t)(offset - 4), len);
	}
	if (len <= 4)
		put_value(data, val, len);
	else
		memset(data, 0xff, len);
}

static void pio_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct pci_bus *pb = opaque;

	/* Byte and word accesses to 0xCF8-0xCFB are not configuration
	 * cycles; a byte at 0xCF9 is the chipset's reset control. */
	if (offset == PCI_RESET_CONTROL && len == 1) {
		if ((*(const uint8_t *)data & PCI_RESET_RST_CPU) && pb->reset)
			pb->reset(pb->reset_opaque);
	} else if (offset == 0 && len == 4) {
		pthread_mutex_lock(&pb->lock);
		pb->config_address = get_value(data, 4) & CONFIG_ADDRESS_MASK;
		pthread_mutex_unlock(&pb->lock);
	} else if (offset >= 4 && valid_len(len) && offset - 4 + len <= 4) {
		pthread_mutex_lock(&pb->lock);
		uint32_t ca = pb->config_address;
		pthread_mutex_unlock(&pb->lock);
		if (ca & PCI_CONFIG_ENABLE)
			config_write(pb, (ca >> 16) & 0xff, (ca >> 11) & 0x1f, (ca >> 8) & 7,
				     (ca & 0xfc) + (uint32_t)(offset - 4), len,
				     get_value(data, len));
	}
}

const struct bus_ops pci_pio_ops = { .read = pio_read, .write = pio_write };

/* ---- ECAM: offset = bus << 20 | device << 15 | function << 12 | register ---- */

static bool ecam_decode(uint64_t offset, unsigned int len)
{
	/* Config accesses never cross a dword (the spec leaves it
	 * undefined; we refuse it). */
	return valid_len(len) && (offset & 3) + len <= 4 && offset < 256ull * PCI_ECAM_BUS_SIZE;
}

static void ecam_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	if (!ecam_decode(offset, len)) {
		memset(data, 0xff, len);
		return;
	}
	uint32_t val = config_read(opaque, (unsigned int)(offset >> 20), (offset >> 15) & 0x1f,
				   (offset >> 12) & 7, (uint32_t)(offset & 0xfff), len);
	put_value(data, val, len);
}

static void ecam_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	if (!ecam_decode(offset, len))
		return;
	config_write(opaque, (unsigned int)(offset >> 20), (offset >> 15) & 0x1f,
		     (offset >> 12) & 7, (uint32_t)(offset & 0xfff), len, get_value(data, len));
}

const struct bus_ops pci_ecam_ops = { .read = ecam_read, .write = ecam_write };

/* ---- bus ---- */

int pci_bus_set_io_window(struct pci_bus *pb, struct bus *pio, uint64_t base, uint64_t size)
{
	if (pio == NULL || size == 0 || base + size < base || base + size > PCI_IO_SPACE_END)
		return err_set("PCI: I/O window 0x%llx+0x%llx is not inside port space",
			       (unsigned long long)base, (unsigned long long)size);
	pb->pio = pio;
	pb->io = (struct pci_window){ base, size, base };
	return 0;
}

bool pci_bus_has_io(const struct pci_bus *pb)
{
	return pb->pio != NULL && pb->io.size != 0;
}

int pci_bus_init(struct pci_bus *pb, struct bus *mmio, uint64_t mem32_base, uint64_t mem32_size,
		 uint64_t mem64_base, uint64_t mem64_size)
{
	if (mem32_base + mem32_size < mem32_base || mem32_base + mem32_size > (1ull << 32))
		return err_set("PCI: 32-bit window 0x%llx+0x%llx is not below 4 GiB",
			       (unsigned long long)mem32_base, (unsigned long long)mem32_size);
	if (mem64_base + mem64_size < mem64_base)
		return err_set("PCI: 64-bit window 0x%llx+0x%llx wraps",
			       (unsigned long long)mem64_base, (unsigned long long)mem64_size);
	memset(pb, 0, sizeof(*pb));
	pthread_mutex_init(&pb->lock, NULL);
	pb->mmio = mmio;
	pb->mem32 = (struct pci_window){ mem32_base, mem32_size, mem32_base };
	pb->mem64 = (struct pci_window){ mem64_base, mem64_size, mem64_base };

	pci_function_init(&pb->host_bridge,
			  &(struct pci_id){ .vendor = PCI_HOST_BRIDGE_VENDOR,
					    .device = PCI_HOST_BRIDGE_DEVICE,
					    .class_code = PCI_CLASS_BRIDGE_HOST },
			  NULL, NULL);
	pb->host_bridge.bus = pb;
	pb->host_bridge.slot = 0;
	pb->slots[0] = &pb->host_bridge;
	return 0;
}

void pci_bus_destroy(struct pci_bus *pb)
{
	for (unsigned int i = 1; i < PCI_NUM_SLOTS; i++)
		if (pb->slots[i])
			pci_bus_unplug(pb->slots[i]);
	pb->slots[0] = NULL;
	pthread_mutex_destroy(&pb->lock);
}

int pci_bus_register_pio(struct pci_bus *pb, struct bus *pio)
{
	if (bus_register(pio, PCI_PIO_BASE, PCI_PIO_LEN, &pci_pio_ops, pb))
		return err_prefix("PCI config ports");
	return 0;
}

int pci_bus_register_ecam(struct pci_bus *pb, struct bus *mmio, uint64_t base, uint64_t size)
{
	if (size == 0 || size % PCI_ECAM_BUS_SIZE || size > 256ull * PCI_ECAM_BUS_SIZE ||
	    base % PCI_ECAM_BUS_SIZE)
		return err_set("PCI: ECAM window 0x%llx+0x%llx is not whole buses",
			       (unsigned long long)base, (unsigned long long)size);
	if (bus_register(mmio, base, size, &pci_ecam_ops, pb))
		return err_prefix("PCI ECAM");
	return 0;
}

int pci_bus_plug(struct pci_bus *pb, struct pci_function *f, int slot)
{
	int ret = 0;

	pthread_mutex_lock(&pb->lock);
	if (slot < 0) {
		for (slot = 1; slot < PCI_NUM_SLOTS && pb->slots[slot]; slot++)
			;
	}
	if (f->bus) {
		ret = err_set("PCI: function already plugged into slot %u", f->slot);
	} else if (slot < 1 || slot >= PCI_NUM_SLOTS) {
		ret = err_set("PCI: no free slot (slots 1-%d)", PCI_NUM_SLOTS - 1);
	} else if (pb->slots[slot]) {
		ret = err_set("PCI: slot %d is taken", slot);
	} else if (pci_bars_assign(pb, f)) {
		ret = err_set("PCI: no room for the BARs of the device in slot %d", slot);
	} else {
		f->bus = pb;
		f->slot = (unsigned int)slot;
		pb->slots[slot] = f;
	}
	pthread_mutex_unlock(&pb->lock);
	return ret;
}

void pci_bus_unplug(struct pci_function *f)
{
	struct pci_bus *pb = f->bus;

	if (pb == NULL)
		return;
	pthread_mutex_lock(&pb->lock);
	pci_bars_unmap_all(f);
	pb->slots[f->slot] = NULL;
	f->bus = NULL;
	pthread_mutex_unlock(&pb->lock);
}
