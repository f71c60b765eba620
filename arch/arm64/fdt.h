/*
 * The arm64 guest's device tree: what the kernel learns about its machine
 * (CPUs, memory, command line and initrd, GICv3 + ITS, timer, PMU, PSCI,
 * the UART, the debug-exit device, the PCI host bridge).  Plain C on libfdt, no KVM: the unit test
 * builds and decodes it on any host.
 */
#ifndef ARCH_ARM64_FDT_H
#define ARCH_ARM64_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* phandles the nodes refer to each other by. */
#define ARM64_FDT_PHANDLE_GIC 1
#define ARM64_FDT_PHANDLE_ITS 2

struct arm64_fdt_config {
	unsigned int ncpus;
	const uint64_t *mpidr; /* ncpus MPIDR_EL1 values (affinity bits) */
	uint64_t ram_base, ram_size;
	const char *cmdline;		    /* NULL: none */
	uint64_t initrd_start, initrd_size; /* size 0: no initrd */
	unsigned int pci_buses;		    /* ECAM buses, 1..256 */
	bool pmu;			    /* the vCPUs have a PMUv3: a /pmu node */
};

/*
 * Builds the blob into buf (size bytes; finished with fdt_pack, so its
 * fdt_totalsize() is what to copy).  Addresses come from arch/arm64/layout.h.
 * Returns 0, or -1 with err_msg() set when it does not fit.
 */
int arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_config *cfg);

#endif
