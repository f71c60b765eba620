/* Backend selection (io_uring with a synchronous fallback) and the helpers
 * both backends share. */
#define _GNU_SOURCE
#include "devices/block/backend.h"
#include "core/err.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>

struct block_backend *block_backend_create(enum block_backend_kind kind,
					   const struct block_backend_params *params)
{
	struct block_backend *be = NULL;

	if (kind == BLOCK_BACKEND_AUTO || kind == BLOCK_BACKEND_IO_URING) {
		be = block_backend_uring_create(params);
		if (be != NULL || kind == BLOCK_BACKEND_IO_URING) {
			if (be == NULL)
				err_prefix("io_uring unavailable");
			return be;
		}
	}
	/* io_uring can be missing (old kernel), disabled by sysctl or blocked
	 * by a seccomp filter; the synchronous backend always works. */
	be = block_backend_sync_create(params);
	if (be == NULL)
		err_prefix("block backend");
	return be;
}

int block_io_fallocate_mode(const struct block_backend_params *params, const struct block_io *io)
{
	if (io->op == BLOCK_IO_DISCARD)
		return params->can_punch_hole ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : -1;
	if (io->op != BLOCK_IO_WRITE_ZEROES)
		return -1;
	/* Deallocating is cheaper when the guest allows it; otherwise keep
	 * the blocks allocated, as the guest expects without unmap. */
	if (io->unmap && params->can_punch_hole)
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	if (params->can_zero_range)
		return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	if (params->can_punch_hole)
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	return -1;
}

uint64_t block_io_bytes(const struct block_io *io)
{
	uint64_t total = 0;
	for (unsigned int i = 0; i < io->iovcnt; i++)
		total += io->iov[i].iov_len;
	return total;
}
