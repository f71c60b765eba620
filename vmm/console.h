/*
 * The host side of the guest console: stdout for output, stdin for input
 * (raw mode when it is a terminal, restored on every exit path), the
 * Ctrl-A escape (Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A).  Input is
 * handed to a frontend device (the UART) only as fast as it accepts it.
 *
 * Output never waits: the UART calls console_output() on a vCPU thread
 * with its lock held, so a stdout pipe whose reader stalls must not stop
 * the vCPU (nor, through it, the whole VM and SIGTERM handling).  stdout
 * gets a non-blocking file description of its own; what it does not take
 * at once waits in a bounded buffer that the main loop flushes when stdout
 * becomes writable (EPOLLOUT), and what does not fit there is dropped and
 * counted (main reports the count at exit).
 *
 * Output is written in batches once the console is attached to the loop:
 * what arrives within CONSOLE_BATCH_NS of the first byte not yet written
 * goes out in one write(), which a timer on the loop makes; a batch that
 * reaches CONSOLE_BATCH_BYTES goes out at once.  A booting Linux prints its
 * log one character per exit (it polls the line status before each), and
 * one write() per character was 18,700 system calls per boot on the vCPU
 * thread.  5 ms is below what a person at the terminal notices.
 */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "core/console_io.h"
#include "core/loop.h"

#define CONSOLE_ESCAPE	    0x01  /* Ctrl-A */
#define CONSOLE_OUT_BUF	    65536 /* guest output waiting for a slow stdout */
#define CONSOLE_BATCH_NS    5000000
#define CONSOLE_BATCH_BYTES 4096

/* The device the console feeds. */
struct console {
	int in_fd, out_fd;
	bool is_tty, raw;
	struct termios saved;
	bool in_pollable; /* false for regular files: read on demand */
	bool in_eof;
	bool in_watched;
	bool escape;	      /* the previous input byte was Ctrl-A */
	uint8_t pending[256]; /* read and filtered, not yet accepted */
	size_t pend_off, pend_len;
	struct console_frontend fe;
	void (*quit)(void *opaque);
	void *quit_opaque;
	int wake_fd; /* eventfd: the frontend has room again */
	struct loop *loop;
	struct loop_watch in_watch, wake_watch, out_watch;

	/* Output waiting for out_fd (a ring), under out_lock (vCPU threads
	 * write, the main loop flushes). */
	pthread_mutex_t out_lock;
	uint8_t out_buf[CONSOLE_OUT_BUF];
	size_t out_head, out_len;
	uint64_t out_dropped; /* bytes lost to a full buffer */
	bool out_broken;      /* EPIPE or another hard error: discard */
	int batch_fd;	      /* timerfd: the batch's time is up */
	bool batching;	      /* attached: batch_fd is watched */
	bool batch_armed;     /* batch_fd runs for what out_buf holds */
	struct loop_watch batch_watch;
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

/* Output backend for the UART (any thread): writes to out_fd what it takes
 * now, buffers the rest (up to CONSOLE_OUT_BUF), drops what does not fit.
 * Never blocks on a pipe, FIFO, socket or terminal. */
void console_output(void *opaque, const uint8_t *buf, size_t len);

/* Writes buffered output that out_fd takes now (any thread; the loop calls
 * it on EPOLLOUT, main once more before exit). */
void console_flush(struct console *c);

/* Guest output lost so far: dropped for lack of room, plus what is still
 * buffered (lost unless flushed later). */
uint64_t console_lost(struct console *c);

/* Gives fd (a pipe, FIFO or terminal) O_NONBLOCK on a file description of
 * its own (reopened through /proc and dup2'd over fd), so that the flag
 * does not leak to the parent sharing the original; a socket gets the flag
 * on its shared description.  Regular files, and what cannot be reopened,
 * are left alone (blocking).  0, or -1 with err_msg(). */
int console_nonblock_fd(int fd);

/* The frontend calls this (any thread) when it can take input again. */
void console_wakeup(void *opaque);

/* The escape filter: copies in[0..n) to out (room for n bytes), handling
 * Ctrl-A sequences; returns the bytes written and sets *quit on Ctrl-A x. */
size_t console_filter(struct console *c, const uint8_t *in, size_t n, uint8_t *out, bool *quit);

#endif
