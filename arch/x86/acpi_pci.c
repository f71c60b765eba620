/*
 * The PCI parts of the x86 ACPI tables: the MCFG that points the guest at
 * the ECAM window, and the DSDT's PCI root bridge (PNP0A08) whose _CRS
 * hands Linux the bus range, the I/O BAR window and the two memory BAR windows, so it enumerates bus 0
 * through ACPI and keeps BARs where the VMM decodes them.
 */
#include <string.h>

#include "arch/x86/acpi.h"
#include "core/util.h"

void acpi_mcfg_build(uint8_t t[ACPI_MCFG_SIZE], const struct acpi_pci *pci)
{
	memset(t, 0, ACPI_MCFG_SIZE);
	acpi_header(t, "MCFG", ACPI_MCFG_SIZE, 1);
	/* 8 reserved bytes, then one allocation: base, segment, bus range. */
	uint8_t *e = t + ACPI_HEADER_SIZE + 8;
	put_le64(e, pci->ecam_base);
	put_le16(e + 8, 0);
	e[10] = 0;
	e[11] = (uint8_t)(pci->ecam_buses - 1);
}

void acpi_pci_dsdt(struct aml *a, void *opaque)
{
	const struct acpi_pci *pci = opaque;

	aml_device_begin(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	aml_resources_begin(a);
	/* Only bus 0 exists (the MCFG says the same); the ECAM window decodes
	 * more, for future bridges. */
	aml_res_word_bus(a, 0, 0);
	aml_res_io(a, pci->cfg_port, pci->cfg_port_len);
	if (pci->io_size)
		aml_res_word_io(a, pci->io_base, (uint16_t)(pci->io_base + pci->io_size - 1));
	aml_res_dword_mem(a, (uint32_t)pci->mem32_base,
			  (uint32_t)(pci->mem32_base + pci->mem32_size - 1), false);
	if (pci->mem64_size)
		aml_res_qword_mem(a, pci->mem64_base, pci->mem64_base + pci->mem64_size - 1, true);
	aml_end(a);
	aml_end(a);

	/* The ECAM window is claimed as a motherboard resource, which is where
	 * Linux looks to trust the MCFG (besides the e820 reservation). */
	aml_device_begin(a, "PCFG");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name(a, "_UID");
	aml_integer(a, 1);
	aml_name(a, "_CRS");
	aml_resources_begin(a);
	aml_res_mem32_fixed(a, (uint32_t)pci->ecam_base,
			    (uint32_t)((uint64_t)pci->ecam_buses << 20), false);
	aml_end(a);
	aml_end(a);
}
