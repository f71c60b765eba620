/*
 * Type-0 configuration header semantics of one PCI function: identity,
 * write masks (read-only fields stay read-only), RW1C status bits, the
 * capability list, and the dispatch of reads and writes to the BAR logic
 * and to the device's hooks.
 */
#include <string.h>

#include "devices/pci.h"
#include "devices/pci_priv.h"

uint8_t pci_cfg_get8(const struct pci_function *f, uint32_t off)
{
	return off < PCI_CFG_SIZE ? f->cfg[off] : 0;
}

uint16_t pci_cfg_get16(const struct pci_function *f, uint32_t off)
{
	return (uint16_t)(pci_cfg_get8(f, off) | pci_cfg_get8(f, off + 1) << 8);
}

uint32_t pci_cfg_get32(const struct pci_function *f, uint32_t off)
{
	return (uint32_t)pci_cfg_get16(f, off) | (uint32_t)pci_cfg_get16(f, off + 2) << 16;
}

void pci_cfg_set8(struct pci_function *f, uint32_t off, uint8_t v)
{
	if (off < PCI_CFG_SIZE)
		f->cfg[off] = v;
}

void pci_cfg_set16(struct pci_function *f, uint32_t off, uint16_t v)
{
	pci_cfg_set8(f, off, (uint8_t)v);
	pci_cfg_set8(f, off + 1, (uint8_t)(v >> 8));
}

void pci_cfg_set32(struct pci_function *f, uint32_t off, uint32_t v)
{
	pci_cfg_set16(f, off, (uint16_t)v);
	pci_cfg_set16(f, off + 2, (uint16_t)(v >> 16));
}

static void set_wmask16(struct pci_function *f, uint32_t off, uint16_t mask)
{
	f->wmask[off] = (uint8_t)mask;
	f->wmask[off + 1] = (uint8_t)(mask >> 8);
}

void pci_function_init(struct pci_function *f, const struct pci_id *id,
		       const struct pci_function_ops *ops, void *opaque)
{
	memset(f, 0, sizeof(*f));
	f->ops = ops;
	f->opaque = opaque;
	pci_cfg_set16(f, PCI_VENDOR_ID, id->vendor);
	pci_cfg_set16(f, PCI_DEVICE_ID, id->device);
	pci_cfg_set8(f, PCI_REVISION_ID, id->revision);
	pci_cfg_set8(f, PCI_CLASS_PROG, (uint8_t)id->class_code);
	pci_cfg_set16(f, PCI_CLASS_PROG + 1, (uint16_t)(id->class_code >> 8));
	pci_cfg_set16(f, PCI_SUBSYS_VENDOR, id->subsys_vendor);
	pci_cfg_set16(f, PCI_SUBSYS_ID, id->subsys_id);
	/* No INTx line to speak of, but INTx disable is writable because
	 * drivers set it with MSI-X.  I/O space enable stays 0 unless an I/O
	 * BAR is declared (pci_bar.c). */
	set_wmask16(f, PCI_COMMAND,
		    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	f->w1cmask[PCI_STATUS] = (uint8_t)PCI_STATUS_RW1C;
	f->w1cmask[PCI_STATUS + 1] = (uint8_t)(PCI_STATUS_RW1C >> 8);
	/* Scratch registers for the OS; they mean nothing to us. */
	f->wmask[PCI_CACHE_LINE] = 0xff;
	f->wmask[PCI_INTERRUPT_LINE] = 0xff;
	f->cap_next_free = PCI_CAP_START;
}

int pci_add_capability(struct pci_function *f, uint8_t cap_id, const void *data, unsigned int len,
		       const uint8_t *wmask)
{
	/* Capabilities start on dword boundaries (the pointer's low two
	 * bits are reserved). */
	unsigned int off = (f->cap_next_free + 3u) & ~3u;

	if (len < 2 || off > PCI_CFG_SIZE || len > PCI_CFG_SIZE - off)
		return -1;
	if (data)
		memcpy(&f->cfg[off], data, len);
	else
		memset(&f->cfg[off], 0, len);
	if (wmask)
		memcpy(&f->wmask[off], wmask, len);
	else
		memset(&f->wmask[off], 0, len);
	memset(&f->w1cmask[off], 0, len);
	f->cfg[off] = cap_id;
	f->cfg[off + 1] = 0;
	f->wmask[off] = f->wmask[off + 1] = 0;

	if (f->cap_last)
		f->cfg[f->cap_last + 1] = (uint8_t)off;
	else
		f->cfg[PCI_CAP_PTR] = (uint8_t)off;
	f->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	f->cap_last = (uint8_t)off;
	f->cap_next_free = (uint16_t)(off + len);
	return (int)off;
}

uint32_t pci_function_config_read(struct pci_function *f, uint32_t reg, unsigned int len)
{
	uint32_t val = 0;

	/* Extended config space exists (ECAM reaches it) but holds no
	 * capabilities: zero, which ends the extended list at once. */
	if (reg >= PCI_CFG_SIZE)
		return 0;
	for (unsigned int i = 0; i < len; i++)
		val |= (uint32_t)f->cfg[reg + i] << (8 * i);
	if (f->ops && f->ops->config_read)
		f->ops->config_read(f->opaque, reg, len, &val);
	return val;
}

static bool overlaps(uint32_t reg, unsigned int len, uint32_t start, uint32_t end)
{
	return reg < end && reg + len > start;
}

void pci_function_config_write(struct pci_function *f, uint32_t reg, unsigned int len, uint32_t val)
{
	if (reg >= PCI_CFG_SIZE)
		return;
	for (unsigned int i = 0; i < len; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i));
		uint32_t o = reg + i;
		f->cfg[o] = (uint8_t)((f->cfg[o] & ~f->wmask[o]) | (b & f->wmask[o]));
		f->cfg[o] &= (uint8_t) ~(b & f->w1cmask[o]);
	}
	if (overlaps(reg, len, PCI_BAR0, PCI_BAR0 + 4 * PCI_NUM_BARS))
		pci_bars_written(f, reg, len, val);
	if (overlaps(reg, len, PCI_COMMAND, PCI_COMMAND + 2) ||
	    overlaps(reg, len, PCI_BAR0, PCI_BAR0 + 4 * PCI_NUM_BARS))
		pci_bars_update(f);
	if (f->ops && f->ops->config_write)
		f->ops->config_write(f->opaque, reg, len, val);
}
