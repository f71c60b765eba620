/*
 * The seam between the program's console (vmm/console.c: the terminal) and
 * the machine's console device (a UART the arch code creates): output and
 * "room again" go one way, input the other.  Both may be called from any
 * thread.
 */
#ifndef CORE_CONSOLE_IO_H
#define CORE_CONSOLE_IO_H

#include <stddef.h>
#include <stdint.h>

/* The host side, given to the device. */
struct console_backend {
	void (*output)(void *opaque, const uint8_t *buf, size_t len);
	/* The device can take input again after refusing some. */
	void (*wakeup)(void *opaque);
	void *opaque;
};

/* The device side, given to the console: takes up to len bytes of input;
 * returns how many it accepted. */
struct console_frontend {
	size_t (*rx)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;
};

#endif
