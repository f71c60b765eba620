/* Debug-exit port: the guest chooses the VMM's exit status. */
#include "devices/debug_exit.h"

#include <string.h>

static void dbg_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	(void)opaque;
	(void)offset;
	memset(data, 0xff, len);
}

static void dbg_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct debug_exit *d = opaque;
	/* Only writes starting at the port itself count: the low byte of the
	 * value is the status whatever the access width. */
	if (offset == 0 && len >= 1)
		d->exit(d->opaque, *(const uint8_t *)data);
}

const struct bus_ops debug_exit_ops = {
	.read = dbg_read,
	.write = dbg_write,
};
