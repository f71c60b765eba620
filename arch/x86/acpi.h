/*
 * ACPI tables for x86 guests: RSDP, XSDT, FADT (hardware-reduced, with the
 * sleep control/status and reset registers), MADT, DSDT.  Debian's cloud
 * kernel finds CPUs, the IOAPIC and power-off only through these.
 *
 * Extending (PCI, issue 4): append devices to the DSDT's \_SB scope with
 * the aml_* emitter through acpi_config.dsdt_sb, and whole tables (MCFG)
 * through acpi_config.tables; both are placed, linked from the XSDT and
 * checksummed here.
 */
#ifndef ARCH_X86_ACPI_H
#define ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/aml.h"

#define ACPI_HEADER_SIZE      36
#define ACPI_RSDP_SIZE	      36
#define ACPI_FADT_SIZE	      276 /* revision 6 */
#define ACPI_MAX_EXTRA_TABLES 8

/* Sleep control register value for S5: SLP_TYP (bits 4:2) = 5, SLP_EN (5). */

struct acpi_table {
	const uint8_t *data; /* a complete table; its checksum is fixed here */
	size_t len;
};

struct acpi_config {
	unsigned int ncpus; /* one local APIC each, APIC IDs 0..n-1 */
	uint64_t lapic_addr;
	uint64_t ioapic_addr;
	uint16_t pm_port; /* sleep control, +1 status, +2 reset */
	uint16_t com1_port;
	unsigned int com1_irq;
	uint16_t debug_exit_port;
	/* Adds AML inside Scope(\_SB); may be NULL. */
	void (*dsdt_sb)(struct aml *a, void *opaque);
	void *dsdt_opaque;
	struct acpi_table tables[ACPI_MAX_EXTRA_TABLES];
	unsigned int ntables;
};

/* The PCI host bridge as ACPI describes it (acpi_pci.c). */
#define ACPI_MCFG_SIZE (ACPI_HEADER_SIZE + 8 + 16)

struct acpi_pci {
	uint64_t ecam_base;
	unsigned int ecam_buses; /* 1..256, 1 MiB each */
	uint16_t cfg_port;	 /* the 0xCF8 port pair */
	uint8_t cfg_port_len;
	uint16_t io_base, io_size; /* I/O BAR window; size 0: none */
	uint64_t mem32_base, mem32_size;
	uint64_t mem64_base, mem64_size; /* size 0: no 64-bit window */
};

/* The MCFG table (checksum fixed by acpi_build). */
void acpi_mcfg_build(uint8_t t[ACPI_MCFG_SIZE], const struct acpi_pci *pci);
/* An acpi_config.dsdt_sb callback (opaque: struct acpi_pci): the root
 * bridge PCI0 and the motherboard resource that claims the ECAM window. */
void acpi_pci_dsdt(struct aml *a, void *opaque);

/*
 * Builds all tables into buf (size bytes), which the guest will see at
 * guest-physical address gpa.  Returns the RSDP's guest address in *rsdp
 * (it is at gpa) and the bytes used in *used.
 */
int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t size, uint64_t gpa,
	       uint64_t *rsdp, size_t *used);

/* Fills a standard table header (checksum left 0; see acpi_checksum). */
void acpi_header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev);
/* The byte that makes p[0..len) sum to 0 when stored in a zeroed slot. */
uint8_t acpi_checksum(const uint8_t *p, size_t len);

#endif
