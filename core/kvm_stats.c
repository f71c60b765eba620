/*
 * KVM_GET_STATS_FD reader (see kvm_stats.h).  The layout: a struct
 * kvm_stats_header at 0; num_desc descriptors at desc_offset, each a struct
 * kvm_stats_desc followed by name_size bytes of name; each statistic's
 * size u64 values at data_offset + desc.offset.
 */
#include "core/kvm_stats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/err.h"

/* Far above what any kernel has (about 50 per vCPU): a bound, not a guess. */
#define KVM_STATS_MAX_DESC 4096

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno("KVM stats: read");
		if (n == 0)
			return err_set("KVM stats: file ends at %llu",
				       (unsigned long long)(off + done));
		done += (size_t)n;
	}
	return 0;
}

static bool scalar(uint32_t flags)
{
	uint32_t type = flags & KVM_STATS_TYPE_MASK;

	return type == KVM_STATS_TYPE_CUMULATIVE || type == KVM_STATS_TYPE_INSTANT ||
	       type == KVM_STATS_TYPE_PEAK;
}

int kvm_stats_read(int fd, kvm_stat_fn fn, void *opaque)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	char name[KVM_STAT_NAME_MAX];

	if (read_at(fd, &h, sizeof(h), 0))
		return -1;
	if (h.name_size == 0 || h.name_size > KVM_STAT_NAME_MAX || h.num_desc > KVM_STATS_MAX_DESC)
		return err_set("KVM stats: header with %u descriptors of %u-byte names", h.num_desc,
			       h.name_size);
	size_t dsize = sizeof(*d) + h.name_size;
	d = malloc(dsize);
	if (d == NULL)
		return err_set("KVM stats: out of memory");
	for (uint32_t i = 0; i < h.num_desc; i++) {
		uint64_t value = 0;

		if (read_at(fd, d, dsize, (uint64_t)h.desc_offset + (uint64_t)i * dsize)) {
			free(d);
			return -1;
		}
		if (!scalar(d->flags) || d->size != 1)
			continue;
		if (read_at(fd, &value, sizeof(value), (uint64_t)h.data_offset + d->offset)) {
			free(d);
			return -1;
		}
		memcpy(name, d->name, h.name_size);
		name[h.name_size - 1] = '\0';
		fn(opaque, name, value);
	}
	free(d);
	return 0;
}

int kvm_stats_each(int kvm_obj_fd, kvm_stat_fn fn, void *opaque)
{
	int fd = ioctl(kvm_obj_fd, KVM_GET_STATS_FD, NULL);

	if (fd < 0)
		return err_errno("KVM_GET_STATS_FD");
	int r = kvm_stats_read(fd, fn, opaque);
	close(fd);
	return r;
}
