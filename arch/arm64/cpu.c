/* arm64 vCPU init and boot registers (KVM_ARM_VCPU_INIT, KVM_SET_ONE_REG). */
#include "arch/arm64/cpu.h"

#include <asm/ptrace.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <sys/ioctl.h>

#include "core/err.h"

#define CORE_REG(name) \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(name))
#define MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)

int arm64_vcpu_init(int vm_fd, int vcpu_fd, bool boot, bool pmu)
{
	struct kvm_vcpu_init init = { 0 };

	if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return err_errno("KVM_ARM_PREFERRED_TARGET");
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (!boot)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (pmu)
		init.features[0] |= 1u << KVM_ARM_VCPU_PMU_V3;
	if (ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return err_errno("KVM_ARM_VCPU_INIT (target %u)", init.target);
	return 0;
}

static int pmu_attr(int vcpu_fd, uint64_t attr, const void *val, const char *what)
{
	struct kvm_device_attr a = {
		.group = KVM_ARM_VCPU_PMU_V3_CTRL,
		.attr = attr,
		.addr = (uint64_t)(uintptr_t)val,
	};
	if (ioctl(vcpu_fd, KVM_SET_DEVICE_ATTR, &a) < 0)
		return err_errno("%s (KVM_SET_DEVICE_ATTR)", what);
	return 0;
}

int arm64_vcpu_pmu_init(int vcpu_fd, uint32_t intid)
{
	const int irq = (int)intid;

	if (pmu_attr(vcpu_fd, KVM_ARM_VCPU_PMU_V3_IRQ, &irq, "PMU interrupt") ||
	    pmu_attr(vcpu_fd, KVM_ARM_VCPU_PMU_V3_INIT, NULL, "PMU initialisation"))
		return -1;
	return 0;
}

static int set_reg(int vcpu_fd, uint64_t id, uint64_t val, const char *name)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&val };
	if (ioctl(vcpu_fd, KVM_SET_ONE_REG, &r) < 0)
		return err_errno("KVM_SET_ONE_REG %s", name);
	return 0;
}

int arm64_vcpu_mpidr(int vcpu_fd, uint64_t *mpidr)
{
	struct kvm_one_reg r = { .id = MPIDR_EL1, .addr = (uint64_t)(uintptr_t)mpidr };
	if (ioctl(vcpu_fd, KVM_GET_ONE_REG, &r) < 0)
		return err_errno("KVM_GET_ONE_REG MPIDR_EL1");
	return 0;
}

int arm64_vcpu_set_entry(int vcpu_fd, uint64_t pc, uint64_t fdt)
{
	const uint64_t pstate = PSR_MODE_EL1h | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT;

	if (set_reg(vcpu_fd, CORE_REG(regs.pstate), pstate, "pstate") ||
	    set_reg(vcpu_fd, CORE_REG(regs.regs[0]), fdt, "x0") ||
	    set_reg(vcpu_fd, CORE_REG(regs.regs[1]), 0, "x1") ||
	    set_reg(vcpu_fd, CORE_REG(regs.regs[2]), 0, "x2") ||
	    set_reg(vcpu_fd, CORE_REG(regs.regs[3]), 0, "x3") ||
	    set_reg(vcpu_fd, CORE_REG(regs.pc), pc, "pc"))
		return -1;
	return 0;
}
