/*
 * The x86 guest physical memory map and I/O port map: every fixed address
 * the VMM gives the guest is here, so e820, ACPI and the devices agree.
 *
 *   0x0000_0000  RAM      low memory (zero page, command line, page tables)
 *   0x0009_fc00  reserved EBDA and the legacy BIOS area up to 1 MiB; the ACPI
 *                         tables live at 0xe0000 inside it
 *   0x0010_0000  RAM      the kernel, then the rest of RAM up to the hole
 *   0xc000_0000  hole     32-bit PCI MMIO BAR window (512 MiB), a gap in e820
 *   0xe000_0000  PCI ECAM window, 256 buses (256 MiB), reserved in e820 (the MCFG
 *                describes the buses that exist: PCI_NUM_BUSES)
 *   0xf000_0000  hole     unused, free for future platform MMIO
 *   0xfec0_0000  IOAPIC   (in-kernel)
 *   0xfee0_0000  LAPIC    (in-kernel)
 *   0xfffb_c000  KVM      EPT identity map (1 page), TSS (3 pages)
 *   0x1_0000_0000 RAM     whatever did not fit below the hole
 *   above RAM    64-bit PCI MMIO BAR window (64 GiB, 1 GiB aligned)
 *
 * Ports: COM1 0x3f8, debug exit 0xf4, ACPI PM 0x600, PCI config 0xcf8-0xcff,
 * and the PCI I/O BAR window 0xc000-0xffff.
 */
#ifndef ARCH_X86_LAYOUT_H
#define ARCH_X86_LAYOUT_H

#define X86_EBDA_START	0x9fc00ULL
#define X86_HIMEM_START 0x100000ULL /* 1 MiB */

/* Boot structures in low RAM (below 640 KiB, clear of the AP trampoline
 * Linux carves out of low memory at boot). */
#define X86_GDT_ADDR	     0x500ULL
#define X86_BOOT_PARAMS_ADDR 0x7000ULL
#define X86_BOOT_STACK	     0x8ff0ULL
#define X86_PML4_ADDR	     0x9000ULL
#define X86_PDPT_ADDR	     0xa000ULL
#define X86_PD_ADDR	     0xb000ULL /* 4 pages: 0xb000-0xefff */
#define X86_CMDLINE_ADDR     0x20000ULL
#define X86_CMDLINE_MAX	     0x10000ULL

/* ACPI tables: in the reserved BIOS area, where Linux also scans for the
 * RSDP when the zero page does not name it. */
#define X86_ACPI_ADDR 0xe0000ULL
#define X86_ACPI_SIZE 0x20000ULL

/* The real-mode reset vector F000:FFF0.  Linux jumps there as its last
 * reboot resort (with hardware-reduced ACPI it prefers "EFI", then "BIOS"
 * reboot over the ACPI reset register); a 16-byte stub there writes the
 * ACPI reset register, so that path reboots too. */
#define X86_RESET_VECTOR 0xffff0ULL

/* The bzImage's protected-mode code is loaded here. */
#define X86_KERNEL_LOAD_ADDR X86_HIMEM_START

/* The 32-bit hole: no RAM from here to 4 GiB. */
#define X86_MMIO_HOLE_START  0xc0000000ULL
#define X86_MMIO_HOLE_END    0x100000000ULL
#define X86_PCI_MMIO32_START X86_MMIO_HOLE_START
#define X86_PCI_MMIO32_SIZE  0x20000000ULL /* 512 MiB */
#define X86_PCI_ECAM_START   (X86_PCI_MMIO32_START + X86_PCI_MMIO32_SIZE)
#define X86_PCI_ECAM_SIZE    0x10000000ULL /* 256 buses x 1 MiB */
/* KVM wants three pages for the TSS and one for the EPT identity map that
 * real mode needs on Intel; they sit at the top of the hole, clear of the
 * IOAPIC, LAPIC and PCI windows. */
#define X86_KVM_IDENTITY_MAP 0xfffbc000ULL
#define X86_KVM_TSS	     0xfffbd000ULL
#define X86_IOAPIC_ADDR	     0xfec00000ULL
#define X86_LAPIC_ADDR	     0xfee00000ULL
#define X86_HIGH_RAM_START   X86_MMIO_HOLE_END

/* 64-bit PCI BAR window: 1 GiB aligned above the end of RAM. */
#define X86_PCI_MMIO64_ALIGN 0x40000000ULL
#define X86_PCI_MMIO64_SIZE  0x1000000000ULL /* 64 GiB */

/* Where the 64-bit PCI window starts for RAM ending at ram_top. */
static inline unsigned long long x86_pci_mmio64_start(unsigned long long ram_top)
{
	unsigned long long top = ram_top > X86_HIGH_RAM_START ? ram_top : X86_HIGH_RAM_START;
	return (top + X86_PCI_MMIO64_ALIGN - 1) & ~(X86_PCI_MMIO64_ALIGN - 1);
}

/* Interrupts: ISA IRQs are IOAPIC pins 0-15 (pin 2 carries IRQ 0, as on
 * PCs); MSI routes get GSIs from X86_FIRST_MSI_GSI up. */
#define X86_IOAPIC_PINS	  24
#define X86_FIRST_MSI_GSI 24

/* PCI: disks take slots from 1 up; the pvpanic device sits in the last. */
#define X86_PVPANIC_SLOT 31

/* I/O ports. */
#define X86_COM1_PORT	    0x3f8
#define X86_COM1_IRQ	    4
#define X86_DEBUG_EXIT_PORT 0xf4  /* see devices/debug_exit.h */
#define X86_ACPI_PM_PORT    0x600 /* see devices/acpi_pm.h */
/* The PCI I/O BAR window (virtio port notify), above every fixed port. */
#define X86_PCI_IO_START 0xc000ULL
#define X86_PCI_IO_SIZE	 0x4000ULL

_Static_assert(X86_PCI_ECAM_START + X86_PCI_ECAM_SIZE <= X86_IOAPIC_ADDR, "ECAM below the IOAPIC");
_Static_assert(X86_KVM_IDENTITY_MAP > X86_LAPIC_ADDR && X86_KVM_TSS + 3 * 4096 <= X86_MMIO_HOLE_END,
	       "KVM's pages inside the hole, above the LAPIC");
_Static_assert(X86_PCI_IO_START > X86_ACPI_PM_PORT && X86_PCI_IO_START > 0xcff &&
		       X86_PCI_IO_START + X86_PCI_IO_SIZE <= 0x10000,
	       "PCI I/O window above the fixed ports, inside port space");
_Static_assert(X86_CMDLINE_ADDR + X86_CMDLINE_MAX <= X86_EBDA_START, "command line in low RAM");

#endif
