/*
 * Debug-exit port: a guest write of value V (1, 2 or 4 bytes) ends the VMM
 * at once and passes V & 0xff to the callback, so scripts inside a guest
 * can report pass (0) or fail (anything else) to the host; which exit
 * status a value becomes is the VM's rule (vm_stop_debug_exit: 0 and
 * 3..99 as they are, others one status of their own).  Reads return 0xff.
 * On x86 it sits at port 0xf4 (the port QEMU's isa-debug-exit uses, but with
 * the plain value as status, not QEMU's (V << 1) | 1).
 */
#ifndef DEVICES_DEBUG_EXIT_H
#define DEVICES_DEBUG_EXIT_H

#include <stdint.h>

#include "core/bus.h"

#define DEBUG_EXIT_NR_PORTS 4

struct debug_exit {
	void (*exit)(void *opaque, uint8_t value);
	void *opaque;
};

extern const struct bus_ops debug_exit_ops;

#endif
