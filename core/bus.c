/* PIO/MMIO address maps: sorted ranges, binary search, rwlock for updates. */
#include "core/bus.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	pthread_rwlock_init(&b->lock, NULL);
}

void bus_destroy(struct bus *b)
{
	pthread_rwlock_destroy(&b->lock);
	free(b->ranges);
	b->ranges = NULL;
	b->nr = b->cap = 0;
}

/* Index of the first range whose base is > addr. */
static size_t upper_bound(const struct bus *b, uint64_t addr)
{
	size_t lo = 0, hi = b->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Would [base, base+len) overlap any range other than index skip? */
static bool overlaps(const struct bus *b, uint64_t base, uint64_t len, size_t skip)
{
	size_t i = upper_bound(b, base + len - 1);
	/* Only ranges starting at or below the new range's last byte can
	 * overlap; of those, sorted and disjoint, at most the nearest ones. */
	while (i > 0) {
		const struct bus_range *r = &b->ranges[--i];
		if (i == skip)
			continue;
		return r->base + r->len - 1 >= base;
	}
	return false;
}

static size_t find(const struct bus *b, uint64_t base, void *opaque)
{
	size_t i = upper_bound(b, base);
	if (i > 0 && b->ranges[i - 1].base == base && b->ranges[i - 1].opaque == opaque)
		return i - 1;
	return (size_t)-1;
}

static void insert_at(struct bus *b, size_t i, const struct bus_range *r)
{
	memmove(&b->ranges[i + 1], &b->ranges[i], (b->nr - i) * sizeof(*r));
	b->ranges[i] = *r;
	b->nr++;
}

static void remove_at(struct bus *b, size_t i)
{
	memmove(&b->ranges[i], &b->ranges[i + 1], (b->nr - i - 1) * sizeof(b->ranges[0]));
	b->nr--;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque)
{
	int ret = 0;

	if (len == 0 || base + len - 1 < base)
		return err_set("%s bus: invalid range 0x%llx+0x%llx", b->name,
			       (unsigned long long)base, (unsigned long long)len);
	pthread_rwlock_wrlock(&b->lock);
	if (overlaps(b, base, len, (size_t)-1)) {
		ret = err_set("%s bus: range 0x%llx+0x%llx overlaps a registered device", b->name,
			      (unsigned long long)base, (unsigned long long)len);
		goto out;
	}
	if (b->nr == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *n = realloc(b->ranges, cap * sizeof(*n));
		if (n == NULL) {
			ret = err_set("%s bus: out of memory", b->name);
			goto out;
		}
		b->ranges = n;
		b->cap = cap;
	}
	insert_at(b, upper_bound(b, base),
		  &(struct bus_range){ .base = base, .len = len, .ops = ops, .opaque = opaque });
out:
	pthread_rwlock_unlock(&b->lock);
	return ret;
}

int bus_unregister(struct bus *b, uint64_t base, void *opaque)
{
	int ret = 0;
	pthread_rwlock_wrlock(&b->lock);
	size_t i = find(b, base, opaque);
	if (i == (size_t)-1)
		ret = err_set("%s bus: nothing registered at 0x%llx", b->name,
			      (unsigned long long)base);
	else
		remove_at(b, i);
	pthread_rwlock_unlock(&b->lock);
	return ret;
}

int bus_move(struct bus *b, uint64_t old_base, void *opaque, uint64_t new_base)
{
	int ret = 0;
	pthread_rwlock_wrlock(&b->lock);
	size_t i = find(b, old_base, opaque);
	if (i == (size_t)-1) {
		ret = err_set("%s bus: nothing registered at 0x%llx", b->name,
			      (unsigned long long)old_base);
		goto out;
	}
	struct bus_range r = b->ranges[i];
	if (new_base + r.len - 1 < new_base || overlaps(b, new_base, r.len, i)) {
		ret = err_set("%s bus: cannot move 0x%llx to 0x%llx: range overlaps or wraps",
			      b->name, (unsigned long long)old_base, (unsigned long long)new_base);
		goto out;
	}
	remove_at(b, i);
	r.base = new_base;
	insert_at(b, upper_bound(b, new_base), &r);
out:
	pthread_rwlock_unlock(&b->lock);
	return ret;
}

static bool lookup(struct bus *b, uint64_t addr, unsigned int len, struct bus_range *out)
{
	bool found = false;
	pthread_rwlock_rdlock(&b->lock);
	size_t i = upper_bound(b, addr);
	if (i > 0) {
		const struct bus_range *r = &b->ranges[i - 1];
		uint64_t off = addr - r->base;
		if (off < r->len && len <= r->len - off) {
			*out = *r;
			found = true;
		}
	}
	pthread_rwlock_unlock(&b->lock);
	return found;
}

bool bus_read(struct bus *b, uint64_t addr, void *data, unsigned int len)
{
	struct bus_range r;
	if (!lookup(b, addr, len, &r) || r.ops->read == NULL) {
		memset(data, 0xff, len);
		return false;
	}
	r.ops->read(r.opaque, addr - r.base, data, len);
	return true;
}

bool bus_write(struct bus *b, uint64_t addr, const void *data, unsigned int len)
{
	struct bus_range r;
	if (!lookup(b, addr, len, &r) || r.ops->write == NULL)
		return false;
	r.ops->write(r.opaque, addr - r.base, data, len);
	return true;
}
