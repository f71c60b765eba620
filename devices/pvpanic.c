/* pvpanic-pci: the event register in BAR 0. */
#include "devices/pvpanic.h"

#include <string.h>

#include "core/err.h"

#define PVPANIC_SUPPORTED (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

static void bar_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	(void)opaque;
	memset(data, 0, len);
	/* Linux reads the byte at 0 to learn which events it may send. */
	if (offset == 0 && len > 0)
		*(uint8_t *)data = PVPANIC_SUPPORTED;
}

static void bar_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct pvpanic *pv = opaque;
	uint8_t events;

	if (offset != 0 || len == 0)
		return;
	/* Bits we did not offer are ignored, as QEMU does. */
	events = *(const uint8_t *)data & PVPANIC_SUPPORTED;
	if (events)
		pv->event(pv->opaque, events);
}

static const struct bus_ops bar_ops = { .read = bar_read, .write = bar_write };

int pvpanic_init(struct pvpanic *pv, void (*event)(void *opaque, uint8_t events), void *opaque)
{
	static const struct pci_id id = {
		.vendor = PVPANIC_PCI_VENDOR,
		.device = PVPANIC_PCI_DEVICE,
		.revision = PVPANIC_PCI_REVISION,
		.class_code = PVPANIC_PCI_CLASS,
		.subsys_vendor = PVPANIC_PCI_VENDOR,
		.subsys_id = PVPANIC_PCI_DEVICE,
	};

	pci_function_init(&pv->pci, &id, NULL, pv);
	pv->event = event;
	pv->opaque = opaque;
	if (pci_function_add_bar(&pv->pci, PVPANIC_BAR, PVPANIC_BAR_SIZE, 0, &bar_ops, pv))
		return err_set("pvpanic: cannot declare BAR %u", PVPANIC_BAR);
	return 0;
}
