/*
 * The arm64 guest physical memory map and interrupt numbers: every fixed
 * address the VMM gives the guest is here, so the device tree, the GIC
 * and the devices agree.  Close to QEMU's "virt" machine, so the numbers
 * look familiar:
 *
 *   0x0800_0000  GICv3 distributor (64 KiB)
 *   0x0808_0000  GICv3 ITS (128 KiB: control and translation frames)
 *   0x080a_0000  GICv3 redistributors, 128 KiB per vCPU (at most 123)
 *   0x0900_0000  16550 UART (ns16550a, byte registers)
 *   0x0901_0000  debug-exit (see devices/debug_exit.h)
 *   0x1000_0000  32-bit PCI MMIO BAR window (512 MiB)
 *   0x3000_0000  PCI ECAM, 256 buses (256 MiB)
 *   0x4000_0000  RAM (one bank, up to the 64-bit PCI window)
 *   0x80_0000_0000  64-bit PCI MMIO BAR window (64 GiB), inside the
 *                   40-bit IPA space KVM gives a VM by default
 */
#ifndef ARCH_ARM64_LAYOUT_H
#define ARCH_ARM64_LAYOUT_H

#define ARM64_GIC_DIST_BASE    0x08000000ULL
#define ARM64_GIC_DIST_SIZE    0x00010000ULL
#define ARM64_GIC_ITS_BASE     0x08080000ULL
#define ARM64_GIC_ITS_SIZE     0x00020000ULL
#define ARM64_GIC_REDIST_BASE  0x080a0000ULL
#define ARM64_GIC_REDIST_SIZE  0x00020000ULL /* per vCPU (GICv3: RD + SGI frames) */
#define ARM64_GIC_REDIST_END   0x09000000ULL
#define ARM64_MAX_CPUS	       ((ARM64_GIC_REDIST_END - ARM64_GIC_REDIST_BASE) / ARM64_GIC_REDIST_SIZE)

#define ARM64_UART_BASE	       0x09000000ULL
#define ARM64_UART_CLOCK       1843200 /* the 16550's classic crystal */
#define ARM64_DEBUG_EXIT_BASE  0x09010000ULL

#define ARM64_PCI_MMIO32_START 0x10000000ULL
#define ARM64_PCI_MMIO32_SIZE  0x20000000ULL /* 512 MiB */
#define ARM64_PCI_ECAM_START   0x30000000ULL
#define ARM64_PCI_ECAM_SIZE    0x10000000ULL /* 256 buses x 1 MiB */
/* Disks take PCI slots from 1 up; the pvpanic device sits in the last. */
#define ARM64_PVPANIC_SLOT     31

#define ARM64_RAM_START	       0x40000000ULL
#define ARM64_RAM_MIN	       (64ULL << 20)

#define ARM64_PCI_MMIO64_START 0x8000000000ULL
#define ARM64_PCI_MMIO64_SIZE  0x1000000000ULL /* 64 GiB */

/* Interrupts, as the device tree names them: SPI n is GIC INTID 32 + n,
 * PPI n is INTID 16 + n.  The architected timer's PPIs are the ones KVM
 * wires by default (secure and non-secure physical, virtual, hypervisor). */
#define ARM64_GIC_SPI_BASE   32
#define ARM64_GIC_NR_IRQS    128 /* SGIs, PPIs and 96 SPIs */
#define ARM64_UART_SPI	     1
#define ARM64_TIMER_PPI_SEC  13
#define ARM64_TIMER_PPI_NS   14
#define ARM64_TIMER_PPI_VIRT 11
#define ARM64_TIMER_PPI_HYP  10
/* The PMU's overflow interrupt (per vCPU, the same PPI on each) and the
 * GIC's maintenance interrupt, where QEMU's virt puts them. */
#define ARM64_PMU_PPI	    7
#define ARM64_GIC_MAINT_PPI 9
#define ARM64_GIC_PPI_BASE  16

/* MSI GSIs (KVM routing entries behind irqfds) start here; arm64 has no
 * legacy irqchip pins to keep clear of. */
#define ARM64_FIRST_MSI_GSI 0

/* The Linux arm64 boot protocol: the kernel's 2 MiB aligned base, and the
 * device tree's limit (Documentation/arch/arm64/booting.rst). */
#define ARM64_KERNEL_ALIGN 0x200000ULL
#define ARM64_FDT_MAX_SIZE 0x200000ULL

#endif
