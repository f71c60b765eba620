/*
 * What devices need from the interrupt core, as ops tables: MSI routes with
 * irqfds bound to them (MSI-X), and ioeventfds (queue notifications).  The
 * KVM implementations are in core/irq_kvm.c; unit tests pass fakes that
 * record what would be done.  Every op returns 0, or -1 with err_msg() set.
 */
#ifndef CORE_IRQ_OPS_H
#define CORE_IRQ_OPS_H

#include <stdbool.h>
#include <stdint.h>

/* devid: the PCI requester ID (bus << 8 | devfn) of the function raising
 * the MSI; an interrupt translation service (the arm64 GICv3 ITS) tells
 * devices apart by it. */
struct irq_msi_ops {
	int (*msi_add)(void *ctx, uint32_t devid, uint64_t addr, uint32_t data, uint32_t *gsi);
	int (*msi_update)(void *ctx, uint32_t gsi, uint32_t devid, uint64_t addr, uint32_t data);
	int (*msi_remove)(void *ctx, uint32_t gsi);
	int (*irqfd_attach)(void *ctx, int fd, uint32_t gsi);
	int (*irqfd_detach)(void *ctx, int fd, uint32_t gsi);
};

/* KVM_IOEVENTFD: a guest write of len bytes (1, 2, 4 or 8; 0 = any length,
 * MMIO only) to addr signals fd in the kernel, with no exit to user space.
 * With datamatch, only writes of exactly that value do.  The same
 * arguments must be given to deassign. */
struct ioeventfd {
	uint64_t addr;
	uint32_t len;
	bool mmio; /* false: port I/O */
	bool datamatch;
	uint64_t data;
	int fd;
};

struct ioeventfd_ops {
	int (*assign)(void *ctx, const struct ioeventfd *ev);
	int (*deassign)(void *ctx, const struct ioeventfd *ev);
};

/* KVM: ctx is the VM's struct irq_routing (core/irq.h). */
extern const struct irq_msi_ops irq_kvm_msi_ops;
/* KVM: ctx points to the VM's file descriptor (an int). */
extern const struct ioeventfd_ops irq_kvm_ioeventfd_ops;

#endif
