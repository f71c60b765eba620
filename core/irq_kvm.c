/* The KVM implementations of the device-facing interrupt ops (irq_ops.h):
 * MSI routes and irqfds on the VM's routing table, ioeventfds on the VM. */
#include "core/irq.h"
#include "core/irq_ops.h"

static int kvm_msi_add(void *ctx, uint64_t addr, uint32_t data, uint32_t *gsi)
{
	return irq_msi_add(ctx, addr, data, gsi);
}

static int kvm_msi_update(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data)
{
	return irq_msi_update(ctx, gsi, addr, data);
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

const struct irq_msi_ops irq_kvm_msi_ops = {
	.msi_add = kvm_msi_add,
	.msi_update = kvm_msi_update,
	.msi_remove = kvm_msi_remove,
	.irqfd_attach = kvm_irqfd_attach,
	.irqfd_detach = kvm_irqfd_detach,
};

static int kvm_ioeventfd_assign(void *ctx, const struct ioeventfd *ev)
{
	return ioeventfd_assign(*(const int *)ctx, ev);
}

static int kvm_ioeventfd_deassign(void *ctx, const struct ioeventfd *ev)
{
	return ioeventfd_deassign(*(const int *)ctx, ev);
}

const struct ioeventfd_ops irq_kvm_ioeventfd_ops = {
	.assign = kvm_ioeventfd_assign,
	.deassign = kvm_ioeventfd_deassign,
};
