/*
 * Builds the arm64 guest's flattened device tree with libfdt's sequential
 * writer.  Node by node, what Linux needs and why:
 *   /            two address and size cells: RAM and PCI windows pass 4 GiB
 *   /chosen      bootargs, the initrd, and the console (stdout-path)
 *   /memory      the one RAM bank
 *   /cpus        one node per vCPU, reg = its MPIDR affinity, started by PSCI
 *   /psci        PSCI 0.2 through HVC: KVM implements it in the kernel
 *   /timer       the architected timer's PPIs
 *   /pmu         PMUv3 and its per-CPU PPI, when the vCPUs have one
 *   /intc        GICv3: distributor and redistributors, its maintenance
 *                interrupt, the ITS as child
 *   /uart        our 16550, so the console code is shared with x86
 *   /debug-exit  the test device (no driver binds: it tells a reader of the
 *                tree that the range is taken, and where guest tools write)
 *   /pci         ECAM host bridge; MSIs go to the ITS with the requester ID
 *                as the device ID (msi-map).  Memory windows only: the
 *                host bridge has no I/O space (devices/pci.c gives out
 *                memory BARs alone), so ranges has no I/O entry.
 */
#include "arch/arm64/fdt.h"

#include <libfdt.h>
#include <stdio.h>

#include "arch/arm64/layout.h"
#include "core/err.h"
#include "devices/debug_exit.h"
#include "devices/pci.h"
#include "devices/serial.h"

/* GIC interrupt specifier: type, number, flags (bindings/interrupt-
 * controller/arm,gic-v3.yaml). */
#define GIC_FDT_SPI	    0
#define GIC_FDT_PPI	    1
#define IRQ_TYPE_LEVEL_HIGH 4

/* PCI address space codes in the first cell of a ranges entry. */
#define FDT_PCI_MEM32 0x02000000u
#define FDT_PCI_MEM64 0x03000000u

/* Every libfdt call below returns 0 or a negative FDT_ERR_*; the first
 * failure is kept and the rest are skipped. */
struct writer {
	void *fdt;
	int err;
};

static void check(struct writer *w, int ret)
{
	if (w->err == 0 && ret < 0)
		w->err = ret;
}

static void begin(struct writer *w, const char *name)
{
	if (w->err == 0)
		check(w, fdt_begin_node(w->fdt, name));
}

static void end(struct writer *w)
{
	if (w->err == 0)
		check(w, fdt_end_node(w->fdt));
}

static void prop(struct writer *w, const char *name, const void *val, int len)
{
	if (w->err == 0)
		check(w, fdt_property(w->fdt, name, val, len));
}

static void prop_str(struct writer *w, const char *name, const char *s)
{
	if (w->err == 0)
		check(w, fdt_property_string(w->fdt, name, s));
}

static void prop_u32(struct writer *w, const char *name, uint32_t v)
{
	if (w->err == 0)
		check(w, fdt_property_u32(w->fdt, name, v));
}

static void prop_u64(struct writer *w, const char *name, uint64_t v)
{
	if (w->err == 0)
		check(w, fdt_property_u64(w->fdt, name, v));
}

static void prop_empty(struct writer *w, const char *name)
{
	prop(w, name, NULL, 0);
}

/* A list of 32-bit cells, big-endian as the blob wants them. */
static void prop_cells(struct writer *w, const char *name, const uint32_t *cells, unsigned int n)
{
	fdt32_t be[32];

	if (n > sizeof(be) / sizeof(be[0])) {
		check(w, -FDT_ERR_NOSPACE);
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	prop(w, name, be, (int)(n * sizeof(be[0])));
}

#define HI(x) ((uint32_t)((uint64_t)(x) >> 32))
#define LO(x) ((uint32_t)(x))

static void node_chosen(struct writer *w, const struct arm64_fdt_config *cfg)
{
	char path[64];

	begin(w, "chosen");
	if (cfg->cmdline)
		prop_str(w, "bootargs", cfg->cmdline);
	snprintf(path, sizeof(path), "/uart@%llx", (unsigned long long)ARM64_UART_BASE);
	prop_str(w, "stdout-path", path);
	if (cfg->initrd_size) {
		prop_u64(w, "linux,initrd-start", cfg->initrd_start);
		prop_u64(w, "linux,initrd-end", cfg->initrd_start + cfg->initrd_size);
	}
	end(w);
}

static void node_memory(struct writer *w, const struct arm64_fdt_config *cfg)
{
	char name[64];

	snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)cfg->ram_base);
	begin(w, name);
	prop_str(w, "device_type", "memory");
	prop_cells(w, "reg",
		   (uint32_t[]){ HI(cfg->ram_base), LO(cfg->ram_base), HI(cfg->ram_size),
				 LO(cfg->ram_size) },
		   4);
	end(w);
}

static void node_cpus(struct writer *w, const struct arm64_fdt_config *cfg)
{
	char name[64];

	begin(w, "cpus");
	prop_u32(w, "#address-cells", 2);
	prop_u32(w, "#size-cells", 0);
	for (unsigned int i = 0; i < cfg->ncpus; i++) {
		/* reg is the MPIDR's affinity fields (Aff3 and Aff2..Aff0). */
		uint64_t aff = cfg->mpidr[i] & 0xff00ffffffULL;
		snprintf(name, sizeof(name), "cpu@%llx", (unsigned long long)aff);
		begin(w, name);
		prop_str(w, "device_type", "cpu");
		prop_str(w, "compatible", "arm,arm-v8");
		prop_str(w, "enable-method", "psci");
		prop_cells(w, "reg", (uint32_t[]){ HI(aff), LO(aff) }, 2);
		end(w);
	}
	end(w);
}

static void node_psci(struct writer *w)
{
	static const char compat[] = "arm,psci-0.2\0arm,psci";

	begin(w, "psci");
	prop(w, "compatible", compat, sizeof(compat));
	prop_str(w, "method", "hvc");
	end(w);
}

static void node_timer(struct writer *w)
{
	begin(w, "timer");
	prop_str(w, "compatible", "arm,armv8-timer");
	prop_cells(w, "interrupts",
		   (uint32_t[]){
			   GIC_FDT_PPI,
			   ARM64_TIMER_PPI_SEC,
			   IRQ_TYPE_LEVEL_HIGH,
			   GIC_FDT_PPI,
			   ARM64_TIMER_PPI_NS,
			   IRQ_TYPE_LEVEL_HIGH,
			   GIC_FDT_PPI,
			   ARM64_TIMER_PPI_VIRT,
			   IRQ_TYPE_LEVEL_HIGH,
			   GIC_FDT_PPI,
			   ARM64_TIMER_PPI_HYP,
			   IRQ_TYPE_LEVEL_HIGH,
		   },
		   12);
	prop_empty(w, "always-on");
	end(w);
}

static void node_pmu(struct writer *w)
{
	begin(w, "pmu");
	prop_str(w, "compatible", "arm,armv8-pmuv3");
	prop_cells(w, "interrupts", (uint32_t[]){ GIC_FDT_PPI, ARM64_PMU_PPI, IRQ_TYPE_LEVEL_HIGH },
		   3);
	end(w);
}

static void node_gic(struct writer *w, const struct arm64_fdt_config *cfg)
{
	char name[64];
	uint64_t redist = (uint64_t)cfg->ncpus * ARM64_GIC_REDIST_SIZE;

	snprintf(name, sizeof(name), "intc@%llx", (unsigned long long)ARM64_GIC_DIST_BASE);
	begin(w, name);
	prop_str(w, "compatible", "arm,gic-v3");
	prop_u32(w, "#interrupt-cells", 3);
	prop_empty(w, "interrupt-controller");
	/* Raised for a nested hypervisor's list registers. */
	prop_cells(w, "interrupts",
		   (uint32_t[]){ GIC_FDT_PPI, ARM64_GIC_MAINT_PPI, IRQ_TYPE_LEVEL_HIGH }, 3);
	prop_cells(w, "reg",
		   (uint32_t[]){
			   HI(ARM64_GIC_DIST_BASE),
			   LO(ARM64_GIC_DIST_BASE),
			   HI(ARM64_GIC_DIST_SIZE),
			   LO(ARM64_GIC_DIST_SIZE),
			   HI(ARM64_GIC_REDIST_BASE),
			   LO(ARM64_GIC_REDIST_BASE),
			   HI(redist),
			   LO(redist),
		   },
		   8);
	prop_u32(w, "#address-cells", 2);
	prop_u32(w, "#size-cells", 2);
	prop_empty(w, "ranges");
	prop_u32(w, "phandle", ARM64_FDT_PHANDLE_GIC);

	snprintf(name, sizeof(name), "its@%llx", (unsigned long long)ARM64_GIC_ITS_BASE);
	begin(w, name);
	prop_str(w, "compatible", "arm,gic-v3-its");
	prop_empty(w, "msi-controller");
	prop_u32(w, "#msi-cells", 1);
	prop_cells(w, "reg",
		   (uint32_t[]){
			   HI(ARM64_GIC_ITS_BASE),
			   LO(ARM64_GIC_ITS_BASE),
			   HI(ARM64_GIC_ITS_SIZE),
			   LO(ARM64_GIC_ITS_SIZE),
		   },
		   4);
	prop_u32(w, "phandle", ARM64_FDT_PHANDLE_ITS);
	end(w);
	end(w);
}

static void node_uart(struct writer *w)
{
	char name[64];

	snprintf(name, sizeof(name), "uart@%llx", (unsigned long long)ARM64_UART_BASE);
	begin(w, name);
	prop_str(w, "compatible", "ns16550a");
	prop_cells(w, "reg",
		   (uint32_t[]){ HI(ARM64_UART_BASE), LO(ARM64_UART_BASE), 0, SERIAL_NR_REGS }, 4);
	prop_cells(w, "interrupts",
		   (uint32_t[]){ GIC_FDT_SPI, ARM64_UART_SPI, IRQ_TYPE_LEVEL_HIGH }, 3);
	prop_u32(w, "clock-frequency", ARM64_UART_CLOCK);
	end(w);
}

static void node_debug_exit(struct writer *w)
{
	char name[64];

	snprintf(name, sizeof(name), "debug-exit@%llx", (unsigned long long)ARM64_DEBUG_EXIT_BASE);
	begin(w, name);
	prop_str(w, "compatible", "vmm,debug-exit");
	prop_cells(w, "reg",
		   (uint32_t[]){ HI(ARM64_DEBUG_EXIT_BASE), LO(ARM64_DEBUG_EXIT_BASE), 0,
				 DEBUG_EXIT_NR_PORTS },
		   4);
	end(w);
}

static void node_pci(struct writer *w, const struct arm64_fdt_config *cfg)
{
	char name[64];
	uint64_t ecam = (uint64_t)cfg->pci_buses * PCI_ECAM_BUS_SIZE;

	snprintf(name, sizeof(name), "pci@%llx", (unsigned long long)ARM64_PCI_ECAM_START);
	begin(w, name);
	prop_str(w, "compatible", "pci-host-ecam-generic");
	prop_str(w, "device_type", "pci");
	prop_u32(w, "#address-cells", 3);
	prop_u32(w, "#size-cells", 2);
	prop_u32(w, "linux,pci-domain", 0);
	prop_cells(w, "bus-range", (uint32_t[]){ 0, cfg->pci_buses - 1 }, 2);
	prop_cells(w, "reg",
		   (uint32_t[]){ HI(ARM64_PCI_ECAM_START), LO(ARM64_PCI_ECAM_START), HI(ecam),
				 LO(ecam) },
		   4);
	/* PCI address == CPU address: (space, pci hi, lo, cpu hi, lo, size hi, lo). */
	prop_cells(w, "ranges",
		   (uint32_t[]){
			   FDT_PCI_MEM32,
			   HI(ARM64_PCI_MMIO32_START),
			   LO(ARM64_PCI_MMIO32_START),
			   HI(ARM64_PCI_MMIO32_START),
			   LO(ARM64_PCI_MMIO32_START),
			   HI(ARM64_PCI_MMIO32_SIZE),
			   LO(ARM64_PCI_MMIO32_SIZE),
			   FDT_PCI_MEM64,
			   HI(ARM64_PCI_MMIO64_START),
			   LO(ARM64_PCI_MMIO64_START),
			   HI(ARM64_PCI_MMIO64_START),
			   LO(ARM64_PCI_MMIO64_START),
			   HI(ARM64_PCI_MMIO64_SIZE),
			   LO(ARM64_PCI_MMIO64_SIZE),
		   },
		   14);
	/* Requester ID r is ITS device ID r, for every RID of the domain. */
	prop_cells(w, "msi-map", (uint32_t[]){ 0, ARM64_FDT_PHANDLE_ITS, 0, 0x10000 }, 4);
	prop_empty(w, "dma-coherent");
	end(w);
}

int arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_config *cfg)
{
	struct writer w = { .fdt = buf };

	if (cfg->ncpus == 0 || cfg->ncpus > ARM64_MAX_CPUS)
		return err_set("device tree: %u vCPUs (1 to %llu)", cfg->ncpus,
			       (unsigned long long)ARM64_MAX_CPUS);
	if (cfg->pci_buses == 0 || cfg->pci_buses > 256 ||
	    (uint64_t)cfg->pci_buses * PCI_ECAM_BUS_SIZE > ARM64_PCI_ECAM_SIZE)
		return err_set("device tree: %u PCI buses do not fit the ECAM window",
			       cfg->pci_buses);
	if (size > ARM64_FDT_MAX_SIZE)
		size = ARM64_FDT_MAX_SIZE;
	check(&w, fdt_create(buf, (int)size));
	check(&w, w.err ? 0 : fdt_finish_reservemap(buf));
	begin(&w, "");
	prop_str(&w, "compatible", "linux,dummy-virt");
	prop_str(&w, "model", "vmm");
	prop_u32(&w, "#address-cells", 2);
	prop_u32(&w, "#size-cells", 2);
	prop_u32(&w, "interrupt-parent", ARM64_FDT_PHANDLE_GIC);
	node_chosen(&w, cfg);
	node_memory(&w, cfg);
	node_cpus(&w, cfg);
	node_psci(&w);
	node_timer(&w);
	if (cfg->pmu)
		node_pmu(&w);
	node_gic(&w, cfg);
	node_uart(&w);
	node_debug_exit(&w);
	node_pci(&w, cfg);
	end(&w);
	check(&w, w.err ? 0 : fdt_finish(buf));
	if (w.err)
		return err_set("device tree: %s", fdt_strerror(w.err));
	return 0;
}
