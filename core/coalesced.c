/* KVM's coalesced I/O ring (see coalesced.h). */
#include "core/coalesced.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/vm.h"

void coalesced_probe(struct vm *vm)
{
	struct vm_coalesced *c = &vm->coalesced;
	int page = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	c->page = page > 0 ? (unsigned int)page : 0;
	c->pio = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0;
}

void coalesced_attach(struct vm *vm, void *run, size_t map_size)
{
	struct vm_coalesced *c = &vm->coalesced;
	size_t psz = (size_t)sysconf(_SC_PAGESIZE);
	/* The ring's page is part of the vCPU mapping when KVM has it. */
	if (c->page == 0 || map_size < ((size_t)c->page + 1) * psz)
		return;
	c->ring = (struct kvm_coalesced_mmio_ring *)((uint8_t *)run + (size_t)c->page * psz);
	c->max = (unsigned int)((psz - sizeof(struct kvm_coalesced_mmio_ring)) /
				sizeof(struct kvm_coalesced_mmio));
}

void coalesced_destroy(struct vm *vm)
{
	struct vm_coalesced *c = &vm->coalesced;
	/* The ring is in vCPU 0's mapping, gone with it. */
	c->ring = NULL;
	c->page = 0;
	c->pio = false;
}

void coalesced_deliver(struct vm *vm)
{
	struct vm_coalesced *c = &vm->coalesced;
	struct kvm_coalesced_mmio_ring *r = c->ring;
	if (r == NULL || __atomic_load_n(&r->first, __ATOMIC_RELAXED) ==
				 __atomic_load_n(&r->last, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&c->lock);
	uint32_t first = r->first;
	/* KVM writes the entries and last; first is ours.  Still, a stale or
	 * torn index must not walk off the page. */
	for (;;) {
		uint32_t last = __atomic_load_n(&r->last, __ATOMIC_ACQUIRE);
		if (first == last || first >= c->max || last >= c->max)
			break;
		const struct kvm_coalesced_mmio *e = &r->coalesced_mmio[first];
		if (e->len == 1 || e->len == 2 || e->len == 4 || e->len == 8)
			bus_write(e->pio ? &vm->pio : &vm->mmio, e->phys_addr, e->data, e->len);
		c->delivered++;
		first = (first + 1) % c->max;
		__atomic_store_n(&r->first, first, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&c->lock);
}

void vm_coalesced_zone_set(void *opaque, bool on)
{
	struct vm_coalesced_zone *z = opaque;
	struct vm_coalesced *c = &z->vm->coalesced;
	if (on == z->on)
		return;
	if (on && (c->ring == NULL || (z->pio && !c->pio)))
		return;
	struct kvm_coalesced_mmio_zone kz = { .addr = z->addr, .size = z->size, .pio = z->pio };
	if (ioctl(z->vm->vm_fd, on ? KVM_REGISTER_COALESCED_MMIO : KVM_UNREGISTER_COALESCED_MMIO,
		  &kz) == 0) {
		z->on = on;
		return;
	}
	if (!on)
		vm_fail(z->vm, "cannot stop coalescing writes to %s 0x%llx: %m",
			z->pio ? "port" : "address", (unsigned long long)z->addr);
}
