/*
 * KVM's coalesced I/O ring: guest writes to a registered port or MMIO range
 * that KVM appends to a ring shared with user space instead of exiting.
 * vmm delivers them to the buses in order, at the start of the next exit of
 * any vCPU (so before that exit's own access) and when the VM stops.
 *
 * A device may ask for it only while a late write cannot be observed: the
 * write has no effect the guest sees except through a later access of its
 * own, which exits and so delivers first (the UART's transmitter while all
 * its interrupts are disabled, which is how Linux prints its console).
 */
#ifndef CORE_COALESCED_H
#define CORE_COALESCED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;
struct kvm_coalesced_mmio_ring;

struct vm_coalesced {
	unsigned int page;		      /* the ring's page in a vCPU's mapping; 0: none */
	bool pio;			      /* KVM_CAP_COALESCED_PIO */
	struct kvm_coalesced_mmio_ring *ring; /* in vCPU 0's mapping, or NULL */
	unsigned int max;		      /* ring entries */
	pthread_mutex_t lock;		      /* delivery order across vCPUs (static init) */
	uint64_t delivered;		      /* writes delivered from the ring (--stats) */
};

/* Learns what KVM offers (vm_create, before any vCPU). */
void coalesced_probe(struct vm *vm);
/* Finds the ring in vCPU 0's kvm_run mapping of map_size bytes. */
void coalesced_attach(struct vm *vm, void *run, size_t map_size);
void coalesced_destroy(struct vm *vm);

/* Delivers what the ring holds to the buses, in order.  Any thread; cheap
 * when the ring is empty. */
void coalesced_deliver(struct vm *vm);

/* A range whose writes may be coalesced, for a device's ops table (shaped
 * like vm_irq_pin): vm_coalesced_zone_set(zone, on) registers or removes it.
 * Registering fails quietly where KVM has no ring (nothing is coalesced
 * then); failing to remove a registered range stops the VM (vm_fail),
 * because the device relies on exits again. */
struct vm_coalesced_zone {
	struct vm *vm;
	bool pio;
	uint64_t addr;
	uint32_t size;
	bool on; /* registered now */
};
void vm_coalesced_zone_set(void *zone, bool on);

#endif
