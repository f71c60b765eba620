/*
 * ACPI tables: checksums and lengths of every table, the RSDP -> XSDT ->
 * FADT/MADT -> DSDT links, MADT entries per vCPU count, the FADT's
 * hardware-reduced registers, extension hooks (DSDT content, extra tables),
 * AML encodings, and an independent parser: `iasl -d` must disassemble
 * every generated table without errors, and the DSDT must compile back.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "core/util.h"
#include "devices/acpi_pm.h"
#include "unit_main.h"

#define BASE 0xe0000ULL
#define SIZE 0x20000

static uint8_t buf[SIZE];

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static struct acpi_config config(unsigned int ncpus)
{
	return (struct acpi_config){
		.ncpus = ncpus,
		.lapic_addr = X86_LAPIC_ADDR,
		.ioapic_addr = X86_IOAPIC_ADDR,
		.pm_port = X86_ACPI_PM_PORT,
		.com1_port = X86_COM1_PORT,
		.com1_irq = X86_COM1_IRQ,
		.debug_exit_port = X86_DEBUG_EXIT_PORT,
	};
}

static const uint8_t *at(uint64_t gpa)
{
	ck_assert_uint_ge(gpa, BASE);
	ck_assert_uint_lt(gpa, BASE + SIZE);
	return buf + (gpa - BASE);
}

/* Checks a table's signature, length and checksum; returns it. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	const uint8_t *t = at(gpa);
	ck_assert_mem_eq(t, sig, 4);
	uint32_t len = get_le32(t + 4);
	ck_assert_uint_ge(len, ACPI_HEADER_SIZE);
	ck_assert_uint_le(gpa - BASE + len, SIZE);
	ck_assert_msg(sum(t, len) == 0, "%s checksum", sig);
	return t;
}

/* Builds, walks and checks the tables; returns the XSDT entry count. */
static unsigned int build_and_walk(const struct acpi_config *cfg, const uint8_t **fadt_out,
				   const uint8_t **madt_out, const uint8_t **dsdt_out)
{
	uint64_t rsdp;
	size_t used;
	memset(buf, 0xaa, sizeof(buf));
	ck_assert_int_eq(acpi_build(cfg, buf, SIZE, BASE, &rsdp, &used), 0);
	ck_assert_uint_eq(rsdp, BASE);
	ck_assert_uint_le(used, SIZE);
	const uint8_t *r = at(rsdp);
	ck_assert_mem_eq(r, "RSD PTR ", 8);
	ck_assert_uint_eq(sum(r, 20), 0);
	ck_assert_uint_eq(sum(r, 36), 0);
	ck_assert_uint_eq(r[15], 2);
	ck_assert_uint_eq(get_le32(r + 20), 36);
	const uint8_t *x = table(get_le64(r + 24), "XSDT");
	unsigned int n = (get_le32(x + 4) - ACPI_HEADER_SIZE) / 8;
	*fadt_out = *madt_out = NULL;
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *t = at(get_le64(x + 36 + 8 * i));
		if (!memcmp(t, "FACP", 4))
			*fadt_out = table(get_le64(x + 36 + 8 * i), "FACP");
		else if (!memcmp(t, "APIC", 4))
			*madt_out = table(get_le64(x + 36 + 8 * i), "APIC");
		else
			table(get_le64(x + 36 + 8 * i), (const char *)t);
	}
	ck_assert_ptr_nonnull(*fadt_out);
	ck_assert_ptr_nonnull(*madt_out);
	*dsdt_out = table(get_le64(*fadt_out + 140), "DSDT");
	return n;
}

START_TEST(tables_per_cpu_count)
{
	unsigned int counts[] = { 1, 2, 8, 64, 254 };
	for (size_t c = 0; c < ARRAY_SIZE(counts); c++) {
		struct acpi_config cfg = config(counts[c]);
		const uint8_t *fadt, *madt, *dsdt;
		ck_assert_uint_eq(build_and_walk(&cfg, &fadt, &madt, &dsdt), 2);
		/* MADT: header, LAPIC address, flags, then entries. */
		ck_assert_uint_eq(get_le32(madt + 36), X86_LAPIC_ADDR);
		uint32_t len = get_le32(madt + 4);
		unsigned int lapics = 0, ioapics = 0, isos = 0;
		for (uint32_t off = 44; off < len; off += madt[off + 1]) {
			ck_assert_uint_gt(madt[off + 1], 0);
			switch (madt[off]) {
			case 0:
				ck_assert_uint_eq(madt[off + 3], lapics);	/* APIC ID */
				ck_assert_uint_eq(get_le32(madt + off + 4), 1); /* enabled */
				lapics++;
				break;
			case 1:
				ck_assert_uint_eq(get_le32(madt + off + 4), X86_IOAPIC_ADDR);
				ioapics++;
				break;
			case 2:
				isos++;
				break;
			}
		}
		ck_assert_uint_eq(lapics, counts[c]);
		ck_assert_uint_eq(ioapics, 1);
		ck_assert_uint_eq(isos, 1);
		ck_assert_uint_eq(len, 44 + 8 * counts[c] + 12 + 10);
	}
}
END_TEST

START_TEST(fadt_hw_reduced)
{
	struct acpi_config cfg = config(2);
	const uint8_t *fadt, *madt, *dsdt;
	build_and_walk(&cfg, &fadt, &madt, &dsdt);
	ck_assert_uint_eq(get_le32(fadt + 4), 276);
	ck_assert_uint_eq(fadt[8], 6);
	uint32_t flags = get_le32(fadt + 112);
	ck_assert(flags & (1u << 20)); /* HW_REDUCED_ACPI */
	ck_assert(flags & (1u << 10)); /* RESET_REG_SUP */
	/* Reset register: SystemIO byte at pm_port + 2, value 1. */
	ck_assert_uint_eq(fadt[116], 1);
	ck_assert_uint_eq(fadt[117], 8);
	ck_assert_uint_eq(get_le64(fadt + 120), X86_ACPI_PM_PORT + 2);
	ck_assert_uint_eq(fadt[128], ACPI_PM_RESET_VALUE);
	/* Sleep control and status registers. */
	ck_assert_uint_eq(fadt[244], 1);
	ck_assert_uint_eq(get_le64(fadt + 248), X86_ACPI_PM_PORT);
	ck_assert_uint_eq(fadt[256], 1);
	ck_assert_uint_eq(get_le64(fadt + 260), X86_ACPI_PM_PORT + 1);
	/* Only the 64-bit DSDT pointer is set. */
	ck_assert_uint_eq(get_le32(fadt + 40), 0);
}
END_TEST

/* The PCI description the x86 platform gives its guests. */
static struct acpi_pci test_pci = {
	.ecam_base = 0xe0000000,
	.ecam_buses = 256,
	.cfg_port = 0xcf8,
	.cfg_port_len = 8,
	.mem32_base = 0xc0000000,
	.mem32_size = 0x20000000,
	.mem64_base = 0x8000000000ULL,
	.mem64_size = 0x1000000000ULL,
};

static void add_pci(struct acpi_config *cfg, uint8_t *mcfg)
{
	acpi_mcfg_build(mcfg, &test_pci);
	cfg->dsdt_sb = acpi_pci_dsdt;
	cfg->dsdt_opaque = &test_pci;
	cfg->tables[cfg->ntables++] = (struct acpi_table){ mcfg, ACPI_MCFG_SIZE };
}

START_TEST(extensions)
{
	uint8_t mcfg[ACPI_MCFG_SIZE];
	struct acpi_config cfg = config(1);
	add_pci(&cfg, mcfg);
	const uint8_t *fadt, *madt, *dsdt;
	ck_assert_uint_eq(build_and_walk(&cfg, &fadt, &madt, &dsdt), 3);
	ck_assert_ptr_nonnull(memmem(dsdt, get_le32(dsdt + 4), "PCI0", 4));
	/* The MCFG as placed: length, one allocation for segment 0, buses
	 * 0-255 at the ECAM base, and a valid checksum. */
	const uint8_t *xsdt = at(get_le64(buf + 24));
	const uint8_t *m = at(get_le64(xsdt + ACPI_HEADER_SIZE + 16));
	ck_assert_int_eq(memcmp(m, "MCFG", 4), 0);
	ck_assert_uint_eq(get_le32(m + 4), 60);
	ck_assert_uint_eq(acpi_checksum(m, 60), 0);
	ck_assert_uint_eq(get_le64(m + 44), 0xe0000000);
	ck_assert_uint_eq(m[54], 0);
	ck_assert_uint_eq(m[55], 255);
	/* Too short an extra table is refused. */
	cfg.tables[0].len = 10;
	uint64_t rsdp;
	size_t used;
	ck_assert_int_eq(acpi_build(&cfg, buf, SIZE, BASE, &rsdp, &used), -1);
	/* Tables that do not fit are refused, not overrun. */
	cfg.ntables = 0;
	ck_assert_int_eq(acpi_build(&cfg, buf, 200, BASE, &rsdp, &used), -1);
}
END_TEST

START_TEST(aml_encoding)
{
	struct aml a;
	aml_init(&a);
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 5);
	aml_integer(&a, 0x1234);
	aml_integer(&a, 0x12345678);
	aml_integer(&a, 0x123456789aULL);
	static const uint8_t ints[] = { 0x00, 0x01, 0x0a, 5,	0x0b, 0x34, 0x12,
					0x0c, 0x78, 0x56, 0x34, 0x12, 0x0e, 0x9a,
					0x78, 0x56, 0x34, 0x12, 0,    0,    0 };
	ck_assert_uint_eq(a.len, sizeof(ints));
	ck_assert_mem_eq(a.buf, ints, sizeof(ints));
	aml_free(&a);

	aml_init(&a);
	aml_eisaid(&a, "PNP0A03");
	static const uint8_t eisa[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	ck_assert_mem_eq(a.buf, eisa, sizeof(eisa));
	aml_free(&a);

	aml_init(&a);
	aml_namestring(&a, "\\_SB.PCI0.S08");
	static const uint8_t ns[] = { '\\', 0x2f, 3,   '_', 'S', 'B', '_', 'P',
				      'C',  'I',  '0', 'S', '0', '8', '_' };
	ck_assert_uint_eq(a.len, sizeof(ns));
	ck_assert_mem_eq(a.buf, ns, sizeof(ns));
	aml_free(&a);

	/* PkgLength: 1 byte below 64, 2 bytes with the low nibble first. */
	aml_init(&a);
	aml_scope_begin(&a, "ABCD");
	aml_end(&a);
	static const uint8_t small[] = { 0x10, 5, 'A', 'B', 'C', 'D' };
	ck_assert_mem_eq(a.buf, small, sizeof(small));
	aml_free(&a);
	aml_init(&a);
	aml_scope_begin(&a, "ABCD");
	for (int i = 0; i < 100; i++)
		aml_integer(&a, 0);
	aml_end(&a);
	ck_assert(aml_ok(&a));
	/* body 104 + 2 length bytes = 106 = 0x6a */
	ck_assert_uint_eq(a.buf[1], 0x40 | 0xa);
	ck_assert_uint_eq(a.buf[2], 0x6);
	aml_free(&a);

	/* Errors are sticky and reported. */
	aml_init(&a);
	aml_namestring(&a, "lower");
	ck_assert(!aml_ok(&a));
	aml_free(&a);
	aml_init(&a);
	aml_device_begin(&a, "DEV0");
	ck_assert(!aml_ok(&a)); /* unbalanced */
	aml_end(&a);
	ck_assert(aml_ok(&a));
	aml_end(&a);
	ck_assert(!aml_ok(&a));
	aml_free(&a);
	aml_init(&a);
	aml_eisaid(&a, "PNP0X03");
	ck_assert(!aml_ok(&a));
	aml_free(&a);
}
END_TEST

static void write_table(const char *dir, const char *name, const uint8_t *t)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(t, 1, get_le32(t + 4), f), get_le32(t + 4));
	fclose(f);
}

/* Runs cmd, returns its exit status; its output goes to out (for messages). */
static int run(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	return pclose(p);
}

/* The first part of a long output, small enough for a Check message. */
static const char *head(const char *out)
{
	static char h[1500];
	snprintf(h, sizeof(h), "%s", out);
	return h;
}

START_TEST(iasl_disassembles)
{
	if (system("command -v iasl >/dev/null 2>&1") != 0)
		ck_abort_msg("iasl (Debian package acpica-tools) is not installed");
	char dir[] = "/tmp/vmm-test-acpi-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct acpi_config cfg = config(4);
	uint8_t mcfg[ACPI_MCFG_SIZE];
	add_pci(&cfg, mcfg);
	const uint8_t *fadt, *madt, *dsdt;
	build_and_walk(&cfg, &fadt, &madt, &dsdt);
	write_table(dir, "facp.dat", fadt);
	write_table(dir, "apic.dat", madt);
	write_table(dir, "dsdt.dat", dsdt);
	write_table(dir, "xsdt.dat", at(get_le64(buf + 24)));
	write_table(dir, "mcfg.dat", at(get_le64(at(get_le64(buf + 24)) + ACPI_HEADER_SIZE + 16)));

	static char out[65536];
	char cmd[512];
	const char *names[] = { "facp", "apic", "dsdt", "xsdt", "mcfg" };
	for (int i = 0; i < 5; i++) {
		snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat 2>&1", dir, names[i]);
		int st = run(cmd, out, sizeof(out));
		ck_assert_msg(st == 0, "iasl -d %s failed:\n%s", names[i], head(out));
		ck_assert_msg(!strstr(out, "Error") && !strstr(out, "Warning"),
			      "iasl -d %s complained:\n%s", names[i], head(out));
	}
	/* The disassembly says what we meant... */
	snprintf(cmd, sizeof(cmd), "cat %s/dsdt.dsl", dir);
	run(cmd, out, sizeof(out));
	ck_assert_msg(strstr(out, "PNP0501") && strstr(out, "_S5_") && strstr(out, "PNP0A08") &&
			      strstr(out, "IRQNoFlags") && strstr(out, "0x03F8") &&
			      strstr(out, "PNP0A03") && strstr(out, "0xDFFFFFFF") &&
			      strstr(out, "0x0000008FFFFFFFFF") && strstr(out, "0x10000000"),
		      "DSDT:\n%s", head(out));
	snprintf(cmd, sizeof(cmd), "cat %s/mcfg.dsl", dir);
	run(cmd, out, sizeof(out));
	ck_assert_msg(strstr(out, "00000000E0000000") && strstr(out, "End Bus Number : FF"),
		      "MCFG:\n%s", head(out));
	snprintf(cmd, sizeof(cmd), "cat %s/apic.dsl", dir);
	run(cmd, out, sizeof(out));
	ck_assert_msg(strstr(out, "Local Apic ID : 03") && strstr(out, "Interrupt Source Override"),
		      "MADT:\n%s", head(out));
	snprintf(cmd, sizeof(cmd), "cat %s/facp.dsl", dir);
	run(cmd, out, sizeof(out));
	ck_assert_msg(strstr(out, "Hardware Reduced (V5) : 1"), "FADT:\n%s", head(out));
	/* ...and compiles back without errors or warnings. */
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -p recompiled dsdt.dsl 2>&1", dir);
	int st = run(cmd, out, sizeof(out));
	ck_assert_msg(st == 0 && strstr(out, "0 Errors, 0 Warnings"), "iasl compile:\n%s",
		      head(out));

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = { .name = "acpi", .tcase = "acpi", .timeout = 60 };
	const TTest *tests[] = { tables_per_cpu_count, fadt_hw_reduced,	  extensions,
				 aml_encoding,	       iasl_disassembles, NULL };

	return unit_main(&u, tests);
}
