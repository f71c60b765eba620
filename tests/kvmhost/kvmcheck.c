/*
 * kvmcheck: proves that /dev/kvm works well enough for a VMM: the API
 * version, the capabilities vmm relies on, and that a VM with an in-kernel
 * irqchip and a vCPU can be created.  The test host runs it after loading
 * kvm_amd (x86) or with the kernel's KVM (arm64: a GICv3 with an ITS); it
 * prints one line and exits 0 when KVM is usable.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const struct {
	int cap;
	const char *name;
} required[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
#ifdef __x86_64__
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
#else
	{ KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2" },
	{ KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL" },
#endif
};

/* The interrupt controller vmm uses: the x86 PIC/IOAPIC pair, or a GICv3
 * and its ITS on arm64. */
static int create_irqchip(int vm)
{
#ifdef __x86_64__
	return ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0
		       ? -1
		       : 0;
#else
	struct kvm_create_device gic = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	struct kvm_create_device its = { .type = KVM_DEV_TYPE_ARM_VGIC_ITS };
	if (ioctl(vm, KVM_CREATE_DEVICE, &gic) < 0 || ioctl(vm, KVM_CREATE_DEVICE, &its) < 0)
		return -1;
	if (ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_MSI_DEVID) <= 0) {
		errno = ENOTSUP;
		return -1;
	}
	return 0;
#endif
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvmcheck: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	int version = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		fprintf(stderr, "kvmcheck: KVM API version %d, need %d\n", version,
			KVM_API_VERSION);
		return 1;
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (ioctl(kvm, KVM_CHECK_EXTENSION, required[i].cap) <= 0) {
			fprintf(stderr, "kvmcheck: missing %s\n", required[i].name);
			return 1;
		}
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "kvmcheck: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	if (create_irqchip(vm) < 0) {
		fprintf(stderr, "kvmcheck: irqchip setup: %s\n", strerror(errno));
		return 1;
	}
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		fprintf(stderr, "kvmcheck: KVM_CREATE_VCPU: %s\n", strerror(errno));
		return 1;
	}
	int max_vcpus = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	printf("kvmcheck: /dev/kvm usable (API %d, max vCPUs %d, irqfd, ioeventfd, GSI routing, MSI)\n",
	       version, max_vcpus);
	close(vcpu);
	close(vm);
	close(kvm);
	return 0;
}
