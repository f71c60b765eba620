/*
 * PIO and MMIO address maps.  Devices register [base, base + len) with an
 * ops table; vCPU exits are dispatched by binary search over a sorted array.
 *
 * Concurrency: any number of vCPU threads may dispatch while another thread
 * registers, unregisters or moves a range (a guest reprogramming a PCI BAR).
 * A dispatch copies the matching entry under a read lock and calls the
 * device after dropping it, so a handler may itself change the map (a
 * config-space write that moves a BAR) without deadlocking.  The price: a
 * handler can run once more just after its range was removed, so devices
 * must stay allocated until all vCPUs have stopped.
 */
#ifndef CORE_BUS_H
#define CORE_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus_ops {
	/* offset is relative to the registered base; data holds len bytes
	 * (1, 2, 4 or 8), little-endian as the guest sees them. */
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned int len);
	void (*write)(void *opaque, uint64_t offset, const void *data, unsigned int len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	pthread_rwlock_t lock;
	struct bus_range *ranges; /* sorted by base, never overlapping */
	size_t nr, cap;
};

void bus_init(struct bus *b, const char *name);
void bus_destroy(struct bus *b);

/* Fails (-1, err_msg set) on len 0, wrap-around or overlap. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque);

/* Removes the range at base registered with opaque; -1 if there is none. */
int bus_unregister(struct bus *b, uint64_t base, void *opaque);

/* Moves the range at old_base (registered with opaque) to new_base in one
 * step: no dispatch sees it at both or neither place.  -1 on overlap. */
int bus_move(struct bus *b, uint64_t old_base, void *opaque, uint64_t new_base);

/* Dispatch an access wholly inside one range.  Returns false when no range
 * covers [addr, addr + len): reads then fill data with 0xff (an open bus),
 * writes are dropped. */
bool bus_read(struct bus *b, uint64_t addr, void *data, unsigned int len);
bool bus_write(struct bus *b, uint64_t addr, const void *data, unsigned int len);

#endif
