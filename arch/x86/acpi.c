/* ACPI table construction: RSDP, XSDT, FADT, MADT, DSDT (+ extra tables). */
#include "arch/x86/acpi.h"

#include <string.h>

#include "core/err.h"
#include "core/util.h"
#include "devices/acpi_pm.h"
#include "devices/debug_exit.h"
#include "devices/serial.h"

#define OEM_ID	     "VMMVMM"
#define OEM_TABLE_ID "VMMTABLE"
#define CREATOR_ID   "VMM "

uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

void acpi_header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
	memset(t, 0, ACPI_HEADER_SIZE);
	memcpy(t, sig, 4);
	put_le32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put_le32(t + 24, 1); /* OEM revision */
	memcpy(t + 28, CREATOR_ID, 4);
	put_le32(t + 32, 1); /* creator revision */
}

static void finish(uint8_t *t)
{
	uint32_t len =
		(uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
	t[9] = 0;
	t[9] = acpi_checksum(t, len);
}

/* A Generic Address Structure for an 8-bit I/O port register. */
static void gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = 1; /* SystemIO */
	g[1] = 8; /* bit width */
	g[2] = 0; /* bit offset */
	g[3] = 1; /* byte access */
	put_le64(g + 4, port);
}

/* Tables are laid out one after the other, 16-byte aligned. */
struct out {
	uint8_t *buf;
	size_t size, used;
	uint64_t gpa;
};

static uint8_t *alloc(struct out *o, size_t len, uint64_t *gpa)
{
	size_t at = (o->used + 15) & ~(size_t)15;
	if (at > o->size || len > o->size - at)
		return NULL;
	o->used = at + len;
	memset(o->buf + at, 0, len);
	*gpa = o->gpa + at;
	return o->buf + at;
}

static void build_dsdt_aml(const struct acpi_config *cfg, struct aml *a)
{
	aml_scope_begin(a, "\\_SB");

	aml_device_begin(a, "COM1");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name(a, "_UID");
	aml_integer(a, 1);
	aml_name(a, "_CRS");
	aml_resources_begin(a);
	aml_res_io(a, cfg->com1_port, SERIAL_NR_REGS);
	aml_res_irq(a, cfg->com1_irq);
	aml_end(a);
	aml_end(a);

	/* Motherboard resources: ports the VMM decodes itself, so that the
	 * guest never hands them to another device. */
	aml_device_begin(a, "MBRD");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	aml_resources_begin(a);
	aml_res_io(a, cfg->pm_port, ACPI_PM_NR_PORTS);
	aml_res_io(a, cfg->debug_exit_port, DEBUG_EXIT_NR_PORTS);
	aml_end(a);
	aml_end(a);

	if (cfg->dsdt_sb)
		cfg->dsdt_sb(a, cfg->dsdt_opaque);
	aml_end(a);

	/* \_S5: SLP_TYPa/b for soft-off, written to the sleep control
	 * register (only SLP_TYPa is used in hardware-reduced mode). */
	aml_name(a, "\\_S5");
	aml_package_begin(a, 4);
	aml_integer(a, ACPI_PM_S5);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a);
}

static int build_dsdt(const struct acpi_config *cfg, struct out *o, uint64_t *gpa)
{
	struct aml a;
	aml_init(&a);
	build_dsdt_aml(cfg, &a);
	if (!aml_ok(&a)) {
		aml_free(&a);
		return err_set("ACPI: cannot build the DSDT (bad AML or out of memory)");
	}
	uint8_t *t = alloc(o, ACPI_HEADER_SIZE + a.len, gpa);
	if (t == NULL) {
		aml_free(&a);
		return err_set("ACPI: tables do not fit in %zu bytes", o->size);
	}
	acpi_header(t, "DSDT", (uint32_t)(ACPI_HEADER_SIZE + a.len), 2);
	memcpy(t + ACPI_HEADER_SIZE, a.buf, a.len);
	finish(t);
	aml_free(&a);
	return 0;
}

static int build_fadt(const struct acpi_config *cfg, struct out *o, uint64_t dsdt, uint64_t *gpa)
{
	uint8_t *t = alloc(o, ACPI_FADT_SIZE, gpa);
	if (t == NULL)
		return err_set("ACPI: tables do not fit in %zu bytes", o->size);
	acpi_header(t, "FACP", ACPI_FADT_SIZE, 6);
	/* IAPC_BOOT_ARCH: no VGA, no CMOS RTC; no 8042 and no legacy devices
	 * (their bits stay clear).  MSI stays allowed for PCI. */
	put_le16(t + 109, (1u << 2) | (1u << 5));
	/* Flags: WBINVD works, power and sleep buttons are control-method
	 * (there are none), reset register supported, hardware-reduced. */
	put_le32(t + 112, (1u << 0) | (1u << 4) | (1u << 5) | (1u << 10) | (1u << 20));
	gas_io8(t + 116, (uint16_t)(cfg->pm_port + ACPI_PM_RESET)); /* RESET_REG */
	t[128] = ACPI_PM_RESET_VALUE;
	t[131] = 3;							    /* FADT minor version */
	put_le64(t + 140, dsdt);					    /* X_DSDT */
	gas_io8(t + 244, (uint16_t)(cfg->pm_port + ACPI_PM_SLEEP_CONTROL)); /* SLEEP_CONTROL_REG */
	gas_io8(t + 256, (uint16_t)(cfg->pm_port + ACPI_PM_SLEEP_STATUS));  /* SLEEP_STATUS_REG */
	memcpy(t + 268, "VMMVMMVM", 8);					    /* hypervisor vendor */
	finish(t);
	return 0;
}

static int build_madt(const struct acpi_config *cfg, struct out *o, uint64_t *gpa)
{
	size_t len = ACPI_HEADER_SIZE + 8 + 8 * cfg->ncpus + 12 + 10;
	uint8_t *t = alloc(o, len, gpa);
	if (t == NULL)
		return err_set("ACPI: tables do not fit in %zu bytes", o->size);
	acpi_header(t, "APIC", (uint32_t)len, 5);
	put_le32(t + 36, (uint32_t)cfg->lapic_addr);
	put_le32(t + 40, 1); /* PCAT_COMPAT: the in-kernel 8259s exist */
	uint8_t *e = t + 44;
	for (unsigned int i = 0; i < cfg->ncpus; i++, e += 8) {
		e[0] = 0; /* Processor Local APIC */
		e[1] = 8;
		e[2] = (uint8_t)i;  /* ACPI processor UID */
		e[3] = (uint8_t)i;  /* APIC ID */
		put_le32(e + 4, 1); /* enabled */
	}
	e[0] = 1; /* I/O APIC */
	e[1] = 12;
	e[2] = 0; /* I/O APIC ID */
	put_le32(e + 4, (uint32_t)cfg->ioapic_addr);
	put_le32(e + 8, 0); /* GSI base */
	e += 12;
	e[0] = 2; /* Interrupt Source Override */
	e[1] = 10;
	e[2] = 0;	    /* ISA */
	e[3] = 0;	    /* IRQ 0 (the PIT) ... */
	put_le32(e + 4, 2); /* ... is GSI 2, as on every PC */
	put_le16(e + 8, 0); /* bus-conforming polarity/trigger */
	finish(t);
	return 0;
}

int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t size, uint64_t gpa,
	       uint64_t *rsdp_gpa, size_t *used)
{
	struct out o = { .buf = buf, .size = size, .gpa = gpa };
	uint64_t rsdp_at = 0, dsdt = 0, fadt = 0, madt = 0, xsdt = 0;
	uint64_t entries[2 + ACPI_MAX_EXTRA_TABLES];
	unsigned int n = 0;

	if (cfg->ncpus == 0 || cfg->ncpus > 255)
		return err_set("ACPI: %u CPUs cannot be described", cfg->ncpus);
	if (cfg->ntables > ACPI_MAX_EXTRA_TABLES)
		return err_set("ACPI: too many extra tables");
	uint8_t *rsdp = alloc(&o, ACPI_RSDP_SIZE, &rsdp_at);
	if (rsdp == NULL)
		return err_set("ACPI: tables do not fit in %zu bytes", size);
	if (build_dsdt(cfg, &o, &dsdt) || build_fadt(cfg, &o, dsdt, &fadt) ||
	    build_madt(cfg, &o, &madt))
		return -1;
	entries[n++] = fadt;
	entries[n++] = madt;
	for (unsigned int i = 0; i < cfg->ntables; i++) {
		const struct acpi_table *x = &cfg->tables[i];
		if (x->len < ACPI_HEADER_SIZE)
			return err_set("ACPI: extra table %u is too short", i);
		uint8_t *t = alloc(&o, x->len, &entries[n]);
		if (t == NULL)
			return err_set("ACPI: tables do not fit in %zu bytes", size);
		memcpy(t, x->data, x->len);
		put_le32(t + 4, (uint32_t)x->len);
		finish(t);
		n++;
	}
	uint8_t *t = alloc(&o, ACPI_HEADER_SIZE + 8 * n, &xsdt);
	if (t == NULL)
		return err_set("ACPI: tables do not fit in %zu bytes", size);
	acpi_header(t, "XSDT", (uint32_t)(ACPI_HEADER_SIZE + 8 * n), 1);
	for (unsigned int i = 0; i < n; i++)
		put_le64(t + ACPI_HEADER_SIZE + 8 * i, entries[i]);
	finish(t);

	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, OEM_ID, 6);
	rsdp[15] = 2;		/* ACPI 2.0+: XSDT */
	put_le32(rsdp + 16, 0); /* no RSDT */
	put_le32(rsdp + 20, ACPI_RSDP_SIZE);
	put_le64(rsdp + 24, xsdt);
	rsdp[8] = acpi_checksum(rsdp, 20);
	rsdp[32] = acpi_checksum(rsdp, ACPI_RSDP_SIZE);
	*rsdp_gpa = rsdp_at;
	*used = o.used;
	return 0;
}
