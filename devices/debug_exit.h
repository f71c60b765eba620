/*
 * Debug-exit port: a guest write of value V (1, 2 or 4 bytes) ends the VMM
 * at once with exit status V & 0xff, so scripts inside a guest can report
 * pass (0) or fail (anything else) to the host.  Reads return 0xff.
 * On x86 it sits at port 0xf4 (the port QEMU's isa-debug-exit uses, but with
 * the plain value as status, not QEMU's (V << 1) | 1).
 */
#ifndef DEVICES_DEBUG_EXIT_H
#define DEVICES_DEBUG_EXIT_H

#include <stdint.h>

#include "core/bus.h"

#define DEBUG_EXIT_NR_PORTS 4

struct debug_exit {
	void (*exit)(void *opaque, int status);
	void *opaque;
};

extern const struct bus_ops debug_exit_ops;

#endif
