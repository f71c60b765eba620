/*
 * x86 vCPU state: CPUID (KVM's supported set, adjusted per vCPU for APIC
 * IDs and topology), MSRs, FPU, LAPIC LINT pins, and the registers, GDT and
 * identity page tables for the kernel's 64-bit entry (or the 32-bit state
 * of the PVH entry, pvh.h).
 */
#ifndef ARCH_X86_CPU_H
#define ARCH_X86_CPU_H

#include <stdint.h>

#include "arch/x86/boot.h"
#include "core/guest_mem.h"

struct kvm_cpuid2;

/* KVM_GET_SUPPORTED_CPUID, grown until it fits, with the TSC-deadline bit
 * when KVM has the timer mode; NULL with err_msg set. */
struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd);

/* A copy of base with the per-vCPU leaves set for vCPU id of ncpus:
 * APIC ID, logical-processor count, topology leaves, hypervisor bit. */
struct kvm_cpuid2 *x86_cpuid_for_vcpu(const struct kvm_cpuid2 *base, unsigned int id,
				      unsigned int ncpus);

/* Physical address bits the guest will see (CPUID 0x80000008), or 36. */
unsigned int x86_phys_bits(const struct kvm_cpuid2 *c);

/* Writes the GDT and the page tables identity-mapping the first 4 GiB. */
int x86_write_boot_tables(struct guest_mem *mem);

/* Sets CPUID, MSRs and LAPIC of a vCPU; for the boot vCPU (id 0) also
 * the registers for the kernel's entry (64-bit, or PVH).  The others wait for the
 * guest's INIT/SIPI. */
int x86_vcpu_setup(int vcpu_fd, unsigned int id, unsigned int ncpus,
		   const struct kvm_cpuid2 *supported, const struct x86_boot_entry *entry);

#endif
