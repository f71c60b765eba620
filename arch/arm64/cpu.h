/*
 * arm64 vCPU set-up: KVM_ARM_VCPU_INIT with the host's preferred target and
 * PSCI 0.2 (secondaries start powered off and are brought up by the guest
 * through PSCI CPU_ON, which KVM handles), the MPIDR the device tree needs,
 * and the boot CPU's entry state through KVM_SET_ONE_REG.
 */
#ifndef ARCH_ARM64_CPU_H
#define ARCH_ARM64_CPU_H

#include <stdbool.h>
#include <stdint.h>

/* KVM_ARM_VCPU_INIT; the boot CPU (boot true) starts running, the others
 * powered off. */
int arm64_vcpu_init(int vm_fd, int vcpu_fd, bool boot);

/* MPIDR_EL1 as KVM set it (after arm64_vcpu_init). */
int arm64_vcpu_mpidr(int vcpu_fd, uint64_t *mpidr);

/* booting.rst's entry state: EL1h with DAIF masked, x0 = device tree,
 * x1..x3 = 0, PC = the kernel.  (KVM resets the MMU and caches off.) */
int arm64_vcpu_set_entry(int vcpu_fd, uint64_t pc, uint64_t fdt);

#endif
