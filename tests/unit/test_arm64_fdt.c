/*
 * arm64 device tree: builds the blob as vmm does for a 2-vCPU guest and
 * decodes it with libfdt: the set of nodes is exactly the expected one and
 * every node's properties say what arch/arm64/layout.h says; phandles and
 * stdout-path resolve; no initrd means no initrd properties; the PMU node
 * is there exactly when the vCPUs have a PMU; bad configurations and a too
 * small buffer fail cleanly.
 */
#include <check.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/fdt.h"
#include "arch/arm64/layout.h"
#include "core/err.h"
#include "devices/pci.h"
#include "devices/serial.h"
#include "unit_main.h"

#define BUF_SIZE    65536
#define RAM_SIZE    (512ULL << 20)
#define INITRD	    0x5f000000ULL
#define INITRD_SIZE 0x123000ULL

static uint8_t buf[BUF_SIZE];
static const uint64_t mpidr[2] = { 0x80000000, 0x80000001 }; /* RES1 bit 31 set, as KVM reads it */

static struct arm64_fdt_config config(void)
{
	return (struct arm64_fdt_config){
		.ncpus = 2,
		.mpidr = mpidr,
		.ram_base = ARM64_RAM_START,
		.ram_size = RAM_SIZE,
		.cmdline = "console=ttyS0 root=/dev/vda",
		.initrd_start = INITRD,
		.initrd_size = INITRD_SIZE,
		.pci_buses = 256,
		.pmu = true,
	};
}

static int node(const char *path)
{
	int off = fdt_path_offset(buf, path);
	ck_assert_msg(off >= 0, "node %s: %s", path, fdt_strerror(off));
	return off;
}

/* The property's cells, checked against want (n cells). */
static void cells_eq(const char *path, const char *name, const uint32_t *want, int n)
{
	int len;
	const fdt32_t *p = fdt_getprop(buf, node(path), name, &len);
	ck_assert_msg(p != NULL, "%s: no %s", path, name);
	ck_assert_int_eq(len, n * 4);
	for (int i = 0; i < n; i++)
		ck_assert_msg(fdt32_to_cpu(p[i]) == want[i], "%s %s cell %d: 0x%x, want 0x%x", path,
			      name, i, fdt32_to_cpu(p[i]), want[i]);
}

static void u32_eq(const char *path, const char *name, uint32_t want)
{
	cells_eq(path, name, &want, 1);
}

static void str_eq(const char *path, const char *name, const char *want)
{
	const char *s = fdt_getprop(buf, node(path), name, NULL);
	ck_assert_msg(s != NULL, "%s: no %s", path, name);
	ck_assert_str_eq(s, want);
}

static void u64_eq(const char *path, const char *name, uint64_t want)
{
	int len;
	const void *p = fdt_getprop(buf, node(path), name, &len);
	fdt64_t v;
	ck_assert_msg(p != NULL, "%s: no %s", path, name);
	ck_assert_int_eq(len, 8);
	memcpy(&v, p, sizeof(v)); /* properties are only 4-byte aligned */
	ck_assert_uint_eq(fdt64_to_cpu(v), want);
}

static void has_empty(const char *path, const char *name)
{
	int len = -1;
	ck_assert_ptr_nonnull(fdt_getprop(buf, node(path), name, &len));
	ck_assert_int_eq(len, 0);
}

#define HI(x) ((uint32_t)((uint64_t)(x) >> 32))
#define LO(x) ((uint32_t)(x))

START_TEST(blob_is_valid_and_has_exactly_the_nodes)
{
	static const char *const want[] = {
		"",
		"chosen",
		"memory@40000000",
		"cpus",
		"cpu@0",
		"cpu@1",
		"psci",
		"timer",
		"pmu",
		"intc@8000000",
		"its@8080000",
		"uart@9000000",
		"debug-exit@9010000",
		"pci@30000000",
	};
	struct arm64_fdt_config c = config();
	bool seen[sizeof(want) / sizeof(want[0])] = { false };
	int n = 0;

	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), 0);
	ck_assert_int_eq(fdt_check_header(buf), 0);
	ck_assert_uint_le(fdt_totalsize(buf), BUF_SIZE);
	for (int off = 0; off >= 0; off = fdt_next_node(buf, off, NULL)) {
		const char *name = fdt_get_name(buf, off, NULL);
		size_t i;
		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (strcmp(name, want[i]) == 0)
				break;
		ck_assert_msg(i < sizeof(want) / sizeof(want[0]), "unexpected node '%s'", name);
		ck_assert_msg(!seen[i], "node '%s' twice", name);
		seen[i] = true;
		n++;
	}
	ck_assert_int_eq(n, (int)(sizeof(want) / sizeof(want[0])));
}
END_TEST

START_TEST(root_chosen_memory)
{
	struct arm64_fdt_config c = config();
	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), 0);
	str_eq("/", "compatible", "linux,dummy-virt");
	u32_eq("/", "#address-cells", 2);
	u32_eq("/", "#size-cells", 2);
	u32_eq("/", "interrupt-parent", ARM64_FDT_PHANDLE_GIC);

	str_eq("/chosen", "bootargs", "console=ttyS0 root=/dev/vda");
	u64_eq("/chosen", "linux,initrd-start", INITRD);
	u64_eq("/chosen", "linux,initrd-end", INITRD + INITRD_SIZE);
	/* stdout-path names the UART node. */
	const char *out = fdt_getprop(buf, node("/chosen"), "stdout-path", NULL);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(fdt_path_offset(buf, out), node("/uart@9000000"));

	str_eq("/memory@40000000", "device_type", "memory");
	cells_eq("/memory@40000000", "reg", (uint32_t[]){ 0, 0x40000000, 0, 0x20000000 }, 4);
}
END_TEST

START_TEST(cpus_psci_timer)
{
	struct arm64_fdt_config c = config();
	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), 0);
	u32_eq("/cpus", "#address-cells", 2);
	u32_eq("/cpus", "#size-cells", 0);
	for (int i = 0; i < 2; i++) {
		char path[32];
		snprintf(path, sizeof(path), "/cpus/cpu@%d", i);
		str_eq(path, "device_type", "cpu");
		str_eq(path, "compatible", "arm,arm-v8");
		str_eq(path, "enable-method", "psci");
		/* Affinity only: bit 31 of MPIDR is not part of reg. */
		cells_eq(path, "reg", (uint32_t[]){ 0, (uint32_t)i }, 2);
	}
	int len;
	const char *compat = fdt_getprop(buf, node("/psci"), "compatible", &len);
	ck_assert_ptr_nonnull(compat);
	ck_assert_str_eq(compat, "arm,psci-0.2");
	ck_assert_int_eq(fdt_node_check_compatible(buf, node("/psci"), "arm,psci"), 0);
	str_eq("/psci", "method", "hvc");

	str_eq("/timer", "compatible", "arm,armv8-timer");
	cells_eq("/timer", "interrupts", (uint32_t[]){ 1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4 },
		 12);
	has_empty("/timer", "always-on");

	/* The PMU's overflow interrupt: PPI 7 (INTID 23, what KVM is told). */
	str_eq("/pmu", "compatible", "arm,armv8-pmuv3");
	cells_eq("/pmu", "interrupts", (uint32_t[]){ 1, ARM64_PMU_PPI, 4 }, 3);
	ck_assert_int_eq(ARM64_GIC_PPI_BASE + ARM64_PMU_PPI, 23);
	/* No PMU, no node. */
	c.pmu = false;
	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), 0);
	ck_assert_int_eq(fdt_path_offset(buf, "/pmu"), -FDT_ERR_NOTFOUND);
	ck_assert_int_ge(fdt_path_offset(buf, "/timer"), 0);
}
END_TEST

START_TEST(gic_its_uart)
{
	struct arm64_fdt_config c = config();
	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), 0);
	const char *gic = "/intc@8000000", *its = "/intc@8000000/its@8080000";
	str_eq(gic, "compatible", "arm,gic-v3");
	u32_eq(gic, "#interrupt-cells", 3);
	has_empty(gic, "interrupt-controller");
	/* Distributor, then one 128 KiB redistributor per vCPU. */
	cells_eq(gic, "reg", (uint32_t[]){ 0, 0x08000000, 0, 0x10000, 0, 0x080a0000, 0, 0x40000 },
		 8);
	u32_eq(gic, "phandle", ARM64_FDT_PHANDLE_GIC);
	ck_assert_int_eq(fdt_node_offset_by_phandle(buf, ARM64_FDT_PHANDLE_GIC), node(gic));
	has_empty(gic, "ranges");
	/* The maintenance interrupt: PPI 9, level. */
	cells_eq(gic, "interrupts", (uint32_t[]){ 1, 9, 4 }, 3);

	str_eq(its, "compatible", "arm,gic-v3-its");
	has_empty(its, "msi-controller");
	u32_eq(its, "#msi-cells", 1);
	cells_eq(its, "reg", (uint32_t[]){ 0, 0x08080000, 0, 0x20000 }, 4);
	ck_assert_int_eq(fdt_node_offset_by_phandle(buf, ARM64_FDT_PHANDLE_ITS), node(its));

	str_eq("/uart@9000000", "compatible", "ns16550a");
	cells_eq("/uart@9000000", "reg", (uint32_t[]){ 0, 0x09000000, 0, SERIAL_NR_REGS }, 4);
	cells_eq("/uart@9000000", "interrupts", (uint32_t[]){ 0, ARM64_UART_SPI, 4 }, 3);
	u32_eq("/uart@9000000", "clock-frequency", 1843200);

	str_eq("/debug-exit@9010000", "compatible", "vmm,debug-exit");
	cells_eq("/debug-exit@9010000", "reg", (uint32_t[]){ 0, 0x09010000, 0, 4 }, 4);
}
END_TEST

START_TEST(pci_host)
{
	struct arm64_fdt_config c = config();
	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), 0);
	const char *pci = "/pci@30000000";
	str_eq(pci, "compatible", "pci-host-ecam-generic");
	str_eq(pci, "device_type", "pci");
	u32_eq(pci, "#address-cells", 3);
	u32_eq(pci, "#size-cells", 2);
	cells_eq(pci, "bus-range", (uint32_t[]){ 0, 255 }, 2);
	cells_eq(pci, "reg", (uint32_t[]){ 0, 0x30000000, 0, 0x10000000 }, 4);
	cells_eq(pci, "ranges",
		 (uint32_t[]){
			 0x02000000,
			 0,
			 0x10000000,
			 0,
			 0x10000000,
			 0,
			 0x20000000,
			 0x03000000,
			 0x80,
			 0,
			 0x80,
			 0,
			 0x10,
			 0,
		 },
		 14);
	/* Two memory windows and no I/O one (the bus gives out memory BARs
	 * only): 14 cells above. */
	cells_eq(pci, "msi-map", (uint32_t[]){ 0, ARM64_FDT_PHANDLE_ITS, 0, 0x10000 }, 4);
	has_empty(pci, "dma-coherent");
	/* A smaller ECAM: bus-range and reg shrink together. */
	c.pci_buses = 16;
	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), 0);
	cells_eq(pci, "bus-range", (uint32_t[]){ 0, 15 }, 2);
	cells_eq(pci, "reg", (uint32_t[]){ 0, 0x30000000, 0, 16 * PCI_ECAM_BUS_SIZE }, 4);
}
END_TEST

START_TEST(no_initrd_no_cmdline)
{
	struct arm64_fdt_config c = config();
	c.initrd_size = 0;
	c.cmdline = NULL;
	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), 0);
	int chosen = node("/chosen");
	ck_assert_ptr_null(fdt_getprop(buf, chosen, "linux,initrd-start", NULL));
	ck_assert_ptr_null(fdt_getprop(buf, chosen, "linux,initrd-end", NULL));
	ck_assert_ptr_null(fdt_getprop(buf, chosen, "bootargs", NULL));
	ck_assert_ptr_nonnull(fdt_getprop(buf, chosen, "stdout-path", NULL));
}
END_TEST

START_TEST(bad_configs_fail)
{
	struct arm64_fdt_config c = config();
	c.ncpus = 0;
	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), -1);
	c = config();
	c.ncpus = ARM64_MAX_CPUS + 1;
	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), -1);
	c = config();
	c.pci_buses = 0;
	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), -1);
	c.pci_buses = 257;
	ck_assert_int_eq(arm64_fdt_build(buf, sizeof(buf), &c), -1);
	/* Too small a buffer: an error, no overrun (ASan watches). */
	c = config();
	uint8_t *small = malloc(256);
	ck_assert_int_eq(arm64_fdt_build(small, 256, &c), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "device tree"));
	free(small);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = { .name = "arm64_fdt", .tcase = "fdt" };
	const TTest *tests[] = { blob_is_valid_and_has_exactly_the_nodes,
				 root_chosen_memory,
				 cpus_psci_timer,
				 gic_its_uart,
				 pci_host,
				 no_initrd_no_cmdline,
				 bad_configs_fail,
				 NULL };

	return unit_main(&u, tests);
}
