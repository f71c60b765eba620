/* The KVM side of virtio-pci notifications: ioeventfd ops on top of
 * vmm/irq.h (KVM_IOEVENTFD on the VM whose fd ctx points to). */
#include "devices/virtio/pci.h"
#include "vmm/irq.h"

static int kvm_assign(void *ctx, const struct ioeventfd *ev)
{
	return ioeventfd_assign(*(const int *)ctx, ev);
}

static int kvm_deassign(void *ctx, const struct ioeventfd *ev)
{
	return ioeventfd_deassign(*(const int *)ctx, ev);
}

const struct virtio_pci_ioeventfd_ops virtio_pci_kvm_ioeventfd_ops = {
	.assign = kvm_assign,
	.deassign = kvm_deassign,
};
