/*
 * The host side of the guest console: stdout for output, stdin for input
 * (raw mode when it is a terminal, restored on every exit path), the
 * Ctrl-A escape (Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A).  Input is
 * handed to a frontend device (the UART) only as fast as it accepts it.
 */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "core/console_io.h"
#include "core/loop.h"

#define CONSOLE_ESCAPE 0x01     /* Ctrl-A */

/* The device the console feeds. */
struct console {
	int in_fd, out_fd;
	bool is_tty, raw;
	struct termios saved;
	bool in_pollable;       /* false for regular files: read on demand */
	bool in_eof;
	bool in_watched;
	bool escape;            /* the previous input byte was Ctrl-A */
	uint8_t pending[256];   /* read and filtered, not yet accepted */
	size_t pend_off, pend_len;
	struct console_frontend fe;
	void (*quit)(void *opaque);
	void *quit_opaque;
	int wake_fd;            /* eventfd: the frontend has room again */
	struct loop *loop;
	struct loop_watch in_watch, wake_watch;
};

/* Sets the terminal to raw mode if in_fd is one.  The terminal is restored
 * by console_restore(), which also runs at exit(). */
int console_init(struct console *c, int in_fd, int out_fd);
void console_restore(struct console *c);
void console_destroy(struct console *c);

/* Starts feeding input from the loop to fe; quit runs on Ctrl-A x. */
int console_attach(struct console *c, struct loop *l, const struct console_frontend *fe,
		   void (*quit)(void *opaque), void *quit_opaque);

/* The backend for the machine's console device: console_output and
 * console_wakeup below, on c. */
struct console_backend console_backend(struct console *c);

/* Output backend for the UART (any thread): writes everything to out_fd. */
void console_output(void *opaque, const uint8_t *buf, size_t len);

/* The frontend calls this (any thread) when it can take input again. */
void console_wakeup(void *opaque);

/* The escape filter: copies in[0..n) to out (room for n bytes), handling
 * Ctrl-A sequences; returns the bytes written and sets *quit on Ctrl-A x. */
size_t console_filter(struct console *c, const uint8_t *in, size_t n, uint8_t *out,
		      bool *quit);

#endif
