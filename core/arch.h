/*
 * What the architecture code (arch/<arch>/) provides to the core.  The core
 * calls these in this order: arch_check_kvm, arch_vm_init, arch_ram_banks,
 * arch_platform_init, arch_boot_load, then arch_vcpu_init for every vCPU.
 */
#ifndef CORE_ARCH_H
#define CORE_ARCH_H

#include <stdint.h>

struct vm;
struct vcpu;
struct ram_bank;
struct console_backend;
struct console_frontend;

/* What the kernel is booted from. */
struct boot_config {
	const char *kernel;
	const char *initrd; /* NULL: no initrd */
	const char *cmdline;
};
struct pci_bus;

/* Capabilities the arch needs beyond the core's; names the missing one. */
int arch_check_kvm(int kvm_fd);

/* Splits ram_size bytes of RAM into banks around the arch's holes;
 * returns the number of banks (at most max) or -1. */
int arch_ram_banks(uint64_t ram_size, struct ram_bank *banks, unsigned int max);

/* The largest guest-physical address RAM may reach, given KVM's CPUID
 * (physical address bits minus the room the arch reserves for MMIO).
 * Called after arch_vm_init. */
uint64_t arch_max_ram_top(struct vm *vm);

/* Interrupt controllers, timers and the default GSI routes; before vCPUs. */
int arch_vm_init(struct vm *vm);

/* The platform's devices (console UART on con, power management, ...);
 * *fe receives the device that takes the console's input. */
int arch_platform_init(struct vm *vm, const struct console_backend *con,
		       struct console_frontend *fe);

/* The PCI bus devices plug into (after arch_platform_init), or NULL when
 * the platform has none. */
struct pci_bus *arch_pci_bus(struct vm *vm);

/* Loads kernel and initrd and writes the firmware tables the kernel needs. */
int arch_boot_load(struct vm *vm, const struct boot_config *boot);

/* Per-vCPU state: CPUID, MSRs, registers at the kernel's entry point. */
int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu);

/* Releases what the arch functions above allocated. */
void arch_vm_destroy(struct vm *vm);

#endif
