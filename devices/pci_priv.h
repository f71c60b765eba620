/*
 * Internals shared by the PCI files (pci.c: bus and config mechanisms,
 * pci_config.c: header semantics and capabilities, pci_bar.c: BAR
 * allocation and decoding).  Not for devices.
 */
#ifndef DEVICES_PCI_PRIV_H
#define DEVICES_PCI_PRIV_H

#include <stdint.h>

#include "devices/pci.h"

/* A config access of len 1, 2 or 4 bytes at reg, not crossing a dword;
 * reg may reach into extended config space (ECAM). */
uint32_t pci_function_config_read(struct pci_function *f, uint32_t reg, unsigned int len);
void pci_function_config_write(struct pci_function *f, uint32_t reg, unsigned int len,
			       uint32_t val);

/* Sets the BAR registers to addresses from the bus windows.  Bus lock held. */
int pci_bars_assign(struct pci_bus *pb, struct pci_function *f);

/* Notes a guest write into the BAR registers (sizing writes). */
void pci_bars_written(struct pci_function *f, uint32_t reg, unsigned int len, uint32_t val);

/* Brings the MMIO bus in line with the command register and BAR values:
 * maps, moves or unmaps each BAR and tells the device.  Bus lock held. */
void pci_bars_update(struct pci_function *f);

/* Takes every BAR of f off the MMIO bus (unplug).  Bus lock held. */
void pci_bars_unmap_all(struct pci_function *f);

#endif
