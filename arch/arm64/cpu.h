/*
 * arm64 vCPU set-up: KVM_ARM_VCPU_INIT with the host's preferred target and
 * PSCI 0.2 (secondaries start powered off and are brought up by the guest
 * through PSCI CPU_ON, which KVM handles), the PMU where KVM offers one,
 * the MPIDR the device tree needs, and the boot CPU's entry state through
 * KVM_SET_ONE_REG.
 */
#ifndef ARCH_ARM64_CPU_H
#define ARCH_ARM64_CPU_H

#include <stdbool.h>
#include <stdint.h>

/* KVM_ARM_VCPU_INIT; the boot CPU (boot true) starts running, the others
 * powered off.  pmu: with the PMUv3 (KVM_CAP_ARM_PMU_V3), which then needs
 * arm64_vcpu_pmu_init once the GIC is initialised. */
int arm64_vcpu_init(int vm_fd, int vcpu_fd, bool boot, bool pmu);

/* The PMU's overflow interrupt (a PPI, as GIC INTID) and the PMU's
 * initialisation (KVM_ARM_VCPU_PMU_V3_CTRL): after arm64_gic_init, as KVM
 * wants an initialised GIC to deliver it. */
int arm64_vcpu_pmu_init(int vcpu_fd, uint32_t intid);

/* MPIDR_EL1 as KVM set it (after arm64_vcpu_init). */
int arm64_vcpu_mpidr(int vcpu_fd, uint64_t *mpidr);

/* booting.rst's entry state: EL1h with DAIF masked, x0 = device tree,
 * x1..x3 = 0, PC = the kernel.  (KVM resets the MMU and caches off.) */
int arm64_vcpu_set_entry(int vcpu_fd, uint64_t pc, uint64_t fdt);

#endif
