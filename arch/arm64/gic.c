/* GICv3 + ITS through KVM's device API. */
#include "arch/arm64/gic.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arm64/layout.h"
#include "core/err.h"

static int set_attr(int fd, uint32_t group, uint64_t attr, const void *val, const char *what)
{
	struct kvm_device_attr a = {
		.group = group,
		.attr = attr,
		.addr = (uint64_t)(uintptr_t)val,
	};
	if (ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0)
		return err_errno("%s (KVM_SET_DEVICE_ATTR)", what);
	return 0;
}

static int create_device(int vm_fd, uint32_t type, const char *what)
{
	struct kvm_create_device d = { .type = type };
	if (ioctl(vm_fd, KVM_CREATE_DEVICE, &d) < 0)
		return err_errno("cannot create the in-kernel %s (KVM_CREATE_DEVICE)", what);
	return (int)d.fd;
}

int arm64_gic_create(struct arm64_gic *g, int vm_fd)
{
	static const uint64_t dist = ARM64_GIC_DIST_BASE, redist = ARM64_GIC_REDIST_BASE;
	static const uint64_t its = ARM64_GIC_ITS_BASE;

	g->gic_fd = g->its_fd = -1;
	g->gic_fd = create_device(vm_fd, KVM_DEV_TYPE_ARM_VGIC_V3, "GICv3");
	if (g->gic_fd < 0)
		return -1;
	if (set_attr(g->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist,
		     "GICv3 distributor address") ||
	    set_attr(g->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist,
		     "GICv3 redistributor address"))
		return -1;
	g->its_fd = create_device(vm_fd, KVM_DEV_TYPE_ARM_VGIC_ITS, "GICv3 ITS");
	if (g->its_fd < 0)
		return -1;
	if (set_attr(g->its_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, &its,
		     "GICv3 ITS address"))
		return -1;
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MSI_DEVID) <= 0)
		return err_set(
			"KVM lacks KVM_CAP_MSI_DEVID: MSIs cannot name their device to the ITS");
	return 0;
}

int arm64_gic_init(struct arm64_gic *g)
{
	static const uint32_t nr_irqs = ARM64_GIC_NR_IRQS;

	if (set_attr(g->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs,
		     "GICv3 interrupt count") ||
	    set_attr(g->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL,
		     "GICv3 initialisation") ||
	    set_attr(g->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL,
		     "GICv3 ITS initialisation"))
		return -1;
	return 0;
}

void arm64_gic_destroy(struct arm64_gic *g)
{
	if (g->its_fd >= 0)
		close(g->its_fd);
	if (g->gic_fd >= 0)
		close(g->gic_fd);
	g->its_fd = g->gic_fd = -1;
}

uint32_t arm64_gic_spi_line(unsigned int spi)
{
	/* KVM_IRQ_LINE on arm64: type in bits 24-27, the INTID below; the
	 * vCPU field is ignored for SPIs. */
	return (uint32_t)KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT |
	       (ARM64_GIC_SPI_BASE + spi);
}
