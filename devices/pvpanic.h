/*
 * pvpanic-pci: QEMU's paravirtual panic device (vendor 0x1b36, device
 * 0x0011), which Linux's pvpanic_pci driver binds to.  One 16-byte memory
 * BAR; its first byte reads as the events the device supports and a write
 * of an event bit (<misc/pvpanic.h>) reports it: PANICKED when the guest
 * kernel panics, CRASH_LOADED when it panics with a kdump kernel loaded
 * (it then keeps running in that kernel).
 */
#ifndef DEVICES_PVPANIC_H
#define DEVICES_PVPANIC_H

#include <misc/pvpanic.h> /* PVPANIC_PANICKED, PVPANIC_CRASH_LOADED */
#include <stdint.h>

#include "devices/pci.h"

#define PVPANIC_PCI_VENDOR   0x1b36 /* Red Hat, as QEMU's */
#define PVPANIC_PCI_DEVICE   0x0011
#define PVPANIC_PCI_REVISION 1
#define PVPANIC_PCI_CLASS    0x088000u /* system peripheral, other */
#define PVPANIC_BAR	     0
#define PVPANIC_BAR_SIZE     16 /* the smallest memory BAR */

struct pvpanic {
	struct pci_function pci;
	/* The supported event bits the guest wrote (never 0).  Any vCPU. */
	void (*event)(void *opaque, uint8_t events);
	void *opaque;
};

/* Sets up the function, ready for pci_bus_plug(bus, &pv->pci, slot). */
int pvpanic_init(struct pvpanic *pv, void (*event)(void *opaque, uint8_t events), void *opaque);

#endif
