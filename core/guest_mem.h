/*
 * Guest physical memory map: the one place where guest physical addresses
 * become host pointers.  Every range the guest hands us goes through
 * guest_mem_ptr(), which refuses anything not wholly inside one RAM region.
 */
#ifndef CORE_GUEST_MEM_H
#define CORE_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 8

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_mem {
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nr;
};

/* Adds a RAM region; fails (-1) on overlap, overflow or a full table. */
int guest_mem_add(struct guest_mem *m, uint64_t gpa, uint64_t size, void *host);

/*
 * Host pointer for [gpa, gpa + len) if the whole range lies inside one RAM
 * region, NULL otherwise (including on arithmetic overflow).  A zero-length
 * range is valid when gpa is inside or at the end of a region.
 */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Copies to/from guest memory; -1 if the range is not entirely RAM. */
int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len);
int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len);

/* Total RAM bytes over all regions. */
uint64_t guest_mem_total(const struct guest_mem *m);

#endif
