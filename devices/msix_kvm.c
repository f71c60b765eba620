/* The KVM side of MSI-X: msix_irq_ops on top of vmm/irq.h (GSI routes
 * committed with KVM_SET_GSI_ROUTING, irqfds with KVM_IRQFD). */
#include "devices/msix.h"
#include "vmm/irq.h"

static int kvm_msi_add(void *ctx, uint32_t devid, uint64_t addr, uint32_t data, uint32_t *gsi)
{
	return irq_msi_add(ctx, devid, addr, data, gsi);
}

static int kvm_msi_update(void *ctx, uint32_t gsi, uint32_t devid, uint64_t addr, uint32_t data)
{
	return irq_msi_update(ctx, gsi, devid, addr, data);
}

static int kvm_msi_remove(void *ctx, uint32_t gsi)
{
	return irq_msi_remove(ctx, gsi);
}

static int kvm_irqfd_attach(void *ctx, int fd, uint32_t gsi)
{
	const struct irq_routing *r = ctx;
	return irqfd_assign(r->vm_fd, fd, gsi);
}

static int kvm_irqfd_detach(void *ctx, int fd, uint32_t gsi)
{
	const struct irq_routing *r = ctx;
	return irqfd_deassign(r->vm_fd, fd, gsi);
}

const struct msix_irq_ops msix_kvm_irq_ops = {
	.msi_add = kvm_msi_add,
	.msi_update = kvm_msi_update,
	.msi_remove = kvm_msi_remove,
	.irqfd_attach = kvm_irqfd_attach,
	.irqfd_detach = kvm_irqfd_detach,
};
