/*
 * Interrupt plumbing toward KVM: the GSI routing table (KVM_SET_GSI_ROUTING)
 * with irqchip pins and MSI routes, interrupt lines, irqfds and ioeventfds.
 *
 * The routing table is kept here in full because KVM_SET_GSI_ROUTING always
 * replaces the whole table: every change rebuilds it and commits it again.
 * Changes are serialised by a mutex, so MSI-X table writes from any vCPU
 * thread may update routes concurrently.
 */
#ifndef CORE_IRQ_H
#define CORE_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/irq_ops.h"

struct kvm_irq_routing_entry;

struct irq_routing {
	int vm_fd;
	pthread_mutex_t lock;
	struct kvm_irq_routing_entry *entries;
	unsigned int nr, cap;
	unsigned int max_routes; /* KVM_CAP_IRQ_ROUTING */
	uint32_t first_msi_gsi;	 /* MSI GSIs are allocated from here up */
	bool msi_devid;		 /* MSI routes carry the device ID
					 * (KVM_MSI_VALID_DEVID: arm64 ITS) */
};

/* An empty table for vm_fd; MSI GSIs will be allocated from first_msi_gsi
 * (above the interrupt controllers' pins). */
int irq_routing_init(struct irq_routing *r, int vm_fd, uint32_t first_msi_gsi);
void irq_routing_destroy(struct irq_routing *r);

/* Adds a route from gsi to pin of an in-kernel irqchip (KVM_IRQCHIP_*),
 * without committing: the arch code adds its default table, then commits. */
int irq_route_irqchip(struct irq_routing *r, uint32_t gsi, uint32_t chip, uint32_t pin);

/* Pushes the table to KVM. */
int irq_routing_commit(struct irq_routing *r);

/* Allocates a free GSI >= first_msi_gsi routed to an MSI (address, data)
 * from device devid (the PCI requester ID, used when msi_devid is set) and
 * commits; *gsi receives it. */
int irq_msi_add(struct irq_routing *r, uint32_t devid, uint64_t addr, uint32_t data, uint32_t *gsi);
/* Changes the MSI message of a GSI returned by irq_msi_add and commits. */
int irq_msi_update(struct irq_routing *r, uint32_t gsi, uint32_t devid, uint64_t addr,
		   uint32_t data);
/* Removes an MSI route and commits; the GSI may be handed out again. */
int irq_msi_remove(struct irq_routing *r, uint32_t gsi);

/* Sets the level of an irqchip line (KVM_IRQ_LINE); for edge-triggered
 * pins KVM injects on the 0 -> 1 transition. */
int irq_line(int vm_fd, uint32_t gsi, int level);

/* KVM_IRQFD: a write to eventfd fd injects gsi without leaving the kernel. */
int irqfd_assign(int vm_fd, int fd, uint32_t gsi);
int irqfd_deassign(int vm_fd, int fd, uint32_t gsi);

int ioeventfd_assign(int vm_fd, const struct ioeventfd *ev);
int ioeventfd_deassign(int vm_fd, const struct ioeventfd *ev);

#endif
