/* Host terminal for the guest console: raw mode, escape keys, flow control. */
#include "vmm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/err.h"

/* The console whose terminal atexit() must restore (there is one). */
static struct console *restore_at_exit;

static void restore_atexit(void)
{
	if (restore_at_exit)
		console_restore(restore_at_exit);
}

/* A crash must not leave the user's terminal raw: restore it (tcsetattr
 * is async-signal-safe), then die of the same signal. */
static void restore_on_crash(int sig)
{
	if (restore_at_exit && restore_at_exit->raw)
		tcsetattr(restore_at_exit->in_fd, TCSANOW, &restore_at_exit->saved);
	raise(sig);
}

static void catch_crashes(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct sigaction sa = { .sa_handler = restore_on_crash, .sa_flags = SA_RESETHAND };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

int console_nonblock_fd(int fd)
{
	struct stat st;
	char path[32];
	int flags, nfd;

	if (fstat(fd, &st) < 0)
		return err_errno("fd %d", fd);
	/* A regular file never stalls, and a description of its own would
	 * have an offset of its own. */
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISSOCK(st.st_mode))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (nfd >= 0) {
		int r = dup2(nfd, fd);
		close(nfd);
		if (r >= 0)
			return 0;
	}
	/* A socket cannot be reopened: set the flag on the shared description
	 * (its other user is a log collector, not a shell).  A terminal or
	 * pipe we may not reopen stays blocking rather than leave the user's
	 * shell with a non-blocking terminal. */
	if (!S_ISSOCK(st.st_mode))
		return 0;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return err_errno("cannot make fd %d non-blocking", fd);
	return 0;
}

int console_init(struct console *c, int in_fd, int out_fd)
{
	memset(c, 0, sizeof(*c));
	c->batch_fd = -1;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->in_pollable = true;
	pthread_mutex_init(&c->out_lock, NULL);
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0)
		return err_errno("eventfd");
	c->batch_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->batch_fd < 0)
		return err_errno("timerfd_create");
	if (out_fd >= 0 && console_nonblock_fd(out_fd))
		return -1;
	if (isatty(in_fd) && tcgetattr(in_fd, &c->saved) == 0) {
		struct termios raw = c->saved;
		c->is_tty = true;
		cfmakeraw(&raw);
		/* Keep output post-processing off too: the guest sends \r\n. */
		if (tcsetattr(in_fd, TCSANOW, &raw) < 0)
			return err_errno("cannot set the terminal to raw mode");
		c->raw = true;
		restore_at_exit = c;
		atexit(restore_atexit);
		catch_crashes();
	}
	return 0;
}

void console_restore(struct console *c)
{
	if (c->raw) {
		/* Nothing useful is left to do if this fails at exit. */
		(void)tcsetattr(c->in_fd, TCSANOW, &c->saved);
		c->raw = false;
	}
}

void console_destroy(struct console *c)
{
	console_restore(c);
	if (restore_at_exit == c)
		restore_at_exit = NULL;
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	c->wake_fd = -1;
	if (c->batch_fd >= 0)
		close(c->batch_fd);
	c->batch_fd = -1;
	pthread_mutex_destroy(&c->out_lock);
}

/* Writes up to len bytes without waiting; returns how many went out.  A
 * closed or broken stdout (EPIPE, ...) means nobody reads the console any
 * more: the guest keeps running, as on a machine whose serial cable was
 * pulled, and its output is discarded from then on.  out_lock held. */
static size_t write_now(struct console *c, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len && !c->out_broken) {
		ssize_t n = write(c->out_fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->out_broken = true;
			break;
		}
		done += (size_t)n;
	}
	return done;
}

/* Writes the ring's contents that out_fd takes now.  out_lock held. */
static void flush_locked(struct console *c)
{
	while (c->out_len > 0 && !c->out_broken) {
		size_t chunk = CONSOLE_OUT_BUF - c->out_head;
		if (chunk > c->out_len)
			chunk = c->out_len;
		size_t n = write_now(c, c->out_buf + c->out_head, chunk);
		c->out_head = (c->out_head + n) % CONSOLE_OUT_BUF;
		c->out_len -= n;
		if (n < chunk)
			break;
	}
	if (c->out_broken)
		c->out_len = 0;
}

void console_flush(struct console *c)
{
	pthread_mutex_lock(&c->out_lock);
	flush_locked(c);
	pthread_mutex_unlock(&c->out_lock);
}

struct console_backend console_backend(struct console *c)
{
	return (struct console_backend){ .output = console_output,
					 .wakeup = console_wakeup,
					 .opaque = c };
}

/* Appends up to len bytes to the ring; what does not fit is dropped and
 * counted.  out_lock held. */
static void buffer_locked(struct console *c, const uint8_t *buf, size_t len)
{
	size_t room = CONSOLE_OUT_BUF - c->out_len;
	size_t take = len < room ? len : room;
	for (size_t i = 0; i < take; i++)
		c->out_buf[(c->out_head + c->out_len + i) % CONSOLE_OUT_BUF] = buf[i];
	c->out_len += take;
	c->out_dropped += len - take;
}

void console_output(void *opaque, const uint8_t *buf, size_t len)
{
	struct console *c = opaque;

	pthread_mutex_lock(&c->out_lock);
	if (c->batching && !c->out_broken && c->out_len + len < CONSOLE_BATCH_BYTES) {
		/* The loop writes the batch when its time is up. */
		buffer_locked(c, buf, len);
		if (!c->batch_armed) {
			struct itimerspec t = { .it_value = { .tv_nsec = CONSOLE_BATCH_NS } };
			c->batch_armed = timerfd_settime(c->batch_fd, 0, &t, NULL) == 0;
			if (!c->batch_armed)
				flush_locked(c); /* no timer: write now */
		}
		pthread_mutex_unlock(&c->out_lock);
		return;
	}
	/* Older bytes first; only then may new ones bypass the ring. */
	flush_locked(c);
	if (c->out_len == 0) {
		size_t n = write_now(c, buf, len);
		buf += n;
		len -= n;
	}
	/* What stdout does not take now waits; when it has not kept up for
	 * a whole buffer, the newest output is dropped rather than stop the
	 * guest. */
	if (!c->out_broken)
		buffer_locked(c, buf, len);
	pthread_mutex_unlock(&c->out_lock);
}

uint64_t console_lost(struct console *c)
{
	pthread_mutex_lock(&c->out_lock);
	uint64_t n = c->out_dropped + c->out_len;
	pthread_mutex_unlock(&c->out_lock);
	return n;
}

void console_wakeup(void *opaque)
{
	struct console *c = opaque;
	uint64_t one = 1;
	/* Fails only if the counter would overflow: then it is already set. */
	(void)!write(c->wake_fd, &one, sizeof(one));
}

size_t console_filter(struct console *c, const uint8_t *in, size_t n, uint8_t *out, bool *quit)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = in[i];
		if (c->escape) {
			c->escape = false;
			if (ch == 'x' || ch == 'X') {
				*quit = true;
				return o;
			}
			if (ch != CONSOLE_ESCAPE)
				out[o++] = CONSOLE_ESCAPE;
			out[o++] = ch;
			/* o <= i + 1 always holds: Ctrl-A itself wrote nothing. */
		} else if (ch == CONSOLE_ESCAPE) {
			c->escape = true;
		} else {
			out[o++] = ch;
		}
	}
	return o;
}

static void watch_input(struct console *c, bool on)
{
	if (!c->in_pollable || c->in_eof || c->in_watched == on)
		return;
	if (on ? loop_add(c->loop, &c->in_watch, EPOLLIN) : loop_del(c->loop, &c->in_watch))
		return; /* cannot happen for an fd that was added before */
	c->in_watched = on;
}

/* Hands pending input to the frontend; true when all of it was taken. */
static bool deliver(struct console *c)
{
	if (c->pend_len > c->pend_off)
		c->pend_off +=
			c->fe.rx(c->fe.opaque, c->pending + c->pend_off, c->pend_len - c->pend_off);
	if (c->pend_off < c->pend_len)
		return false;
	c->pend_off = c->pend_len = 0;
	return true;
}

/* Reads one chunk of input, filters it and tries to deliver it.  Returns
 * true when more input may be read right away. */
static bool read_input(struct console *c)
{
	uint8_t buf[sizeof(c->pending)];
	ssize_t n = read(c->in_fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0) {
		/* EOF (or an unreadable stdin): the guest just gets no input. */
		watch_input(c, false);
		c->in_eof = true;
		return false;
	}
	bool quit = false;
	c->pend_len = console_filter(c, buf, (size_t)n, c->pending, &quit);
	c->pend_off = 0;
	if (quit) {
		/* What came before the escape still goes in, as far as it fits. */
		deliver(c);
		c->quit(c->quit_opaque);
		return false;
	}
	return deliver(c);
}

static void on_input(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	(void)events;
	if (!read_input(c))
		watch_input(c, false); /* wait for the frontend's wakeup */
}

static void on_wakeup(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	uint64_t v;
	(void)events;
	(void)!read(c->wake_fd, &v, sizeof(v));
	if (!deliver(c) || c->in_eof)
		return;
	if (c->in_pollable) {
		watch_input(c, true);
	} else if (read_input(c)) {
		/* A file is always readable: keep going through the loop so
		 * that other events are served in between. */
		console_wakeup(c);
	}
}

static void on_output_ready(void *opaque, uint32_t events)
{
	(void)events;
	console_flush(opaque);
}

/* A batch's time is up: write it (what stdout does not take waits for
 * EPOLLOUT). */
static void on_batch_time(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	uint64_t n;
	(void)events;
	(void)!read(c->batch_fd, &n, sizeof(n));
	pthread_mutex_lock(&c->out_lock);
	c->batch_armed = false;
	flush_locked(c);
	pthread_mutex_unlock(&c->out_lock);
}

int console_attach(struct console *c, struct loop *l, const struct console_frontend *fe,
		   void (*quit)(void *opaque), void *quit_opaque)
{
	c->loop = l;
	c->fe = *fe;
	c->quit = quit;
	c->quit_opaque = quit_opaque;
	c->wake_watch = (struct loop_watch){ .fd = c->wake_fd, .fn = on_wakeup, .opaque = c };
	c->in_watch = (struct loop_watch){ .fd = c->in_fd, .fn = on_input, .opaque = c };
	c->out_watch = (struct loop_watch){ .fd = c->out_fd, .fn = on_output_ready, .opaque = c };
	if (loop_add(l, &c->wake_watch, EPOLLIN))
		return -1;
	c->batch_watch = (struct loop_watch){ .fd = c->batch_fd, .fn = on_batch_time, .opaque = c };
	if (c->out_fd >= 0 && loop_add(l, &c->batch_watch, EPOLLIN))
		return -1;
	pthread_mutex_lock(&c->out_lock);
	c->batching = c->out_fd >= 0;
	pthread_mutex_unlock(&c->out_lock);
	/* Edge-triggered: buffered output exists only after a write found
	 * stdout full, so the next room it gets is an edge.  Regular files
	 * (EPERM) never fill up; no stdout (EBADF) takes nothing. */
	if (c->out_fd >= 0 && loop_add(l, &c->out_watch, EPOLLOUT | EPOLLET) && errno != EPERM &&
	    errno != EBADF)
		return -1;
	if (loop_add(l, &c->in_watch, EPOLLIN) == 0) {
		c->in_watched = true;
		return 0;
	}
	if (errno == EBADF) {
		/* No stdin at all: the guest gets no input. */
		c->in_eof = true;
		return 0;
	}
	if (errno != EPERM)
		return -1;
	/* Regular files (and /dev/null) cannot be polled: read them when
	 * the frontend has room, starting now. */
	c->in_pollable = false;
	console_wakeup(c);
	return 0;
}
