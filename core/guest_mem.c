/* Guest physical memory map: bounds-checked translation of guest ranges. */
#include "core/guest_mem.h"

#include <string.h>

int guest_mem_add(struct guest_mem *m, uint64_t gpa, uint64_t size, void *host)
{
	if (m->nr >= GUEST_MEM_MAX_REGIONS || size == 0 || host == NULL)
		return -1;
	if (gpa + size < gpa)
		return -1;
	for (unsigned int i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->regions[i];
		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -1;
	}
	m->regions[m->nr++] = (struct guest_region){ .gpa = gpa, .size = size, .host = host };
	return 0;
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->regions[i];
		if (gpa < r->gpa || gpa - r->gpa > r->size)
			continue;
		/* gpa is inside (or at the end of) r: the length must fit what is
		 * left.  Ranges never span regions: their host mappings differ. */
		if (len > r->size - (gpa - r->gpa))
			continue;
		return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len)
{
	const void *p = guest_mem_ptr(m, gpa, len);
	if (p == NULL)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = guest_mem_ptr(m, gpa, len);
	if (p == NULL)
		return -1;
	memcpy(p, src, len);
	return 0;
}

uint64_t guest_mem_total(const struct guest_mem *m)
{
	uint64_t total = 0;
	for (unsigned int i = 0; i < m->nr; i++)
		total += m->regions[i].size;
	return total;
}
