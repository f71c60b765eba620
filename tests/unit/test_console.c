/*
 * The host console: the Ctrl-A escape filter (quit, literal Ctrl-A, split
 * across reads), and input flow control through the event loop: a pipe and
 * a regular file as stdin, fed to a frontend that takes only a few bytes
 * at a time, must arrive complete and in order.  Output: at once before
 * the console is attached, in timed batches after, never blocking.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/loop.h"
#include "unit_main.h"
#include "vmm/console.h"

START_TEST(escape_filter)
{
	struct console c;
	uint8_t out[16];
	bool quit = false;
	ck_assert_int_eq(console_init(&c, -1, -1), 0);
	ck_assert_uint_eq(console_filter(&c, (const uint8_t *)"ab", 2, out, &quit), 2);
	ck_assert_mem_eq(out, "ab", 2);
	ck_assert_uint_eq(console_filter(&c, (const uint8_t *)"\x01\x01z", 3, out, &quit), 2);
	ck_assert_mem_eq(out, "\x01z", 2);
	ck_assert_uint_eq(console_filter(&c, (const uint8_t *)"\x01q", 2, out, &quit), 2);
	ck_assert_mem_eq(out, "\x01q", 2);
	ck_assert(!quit);
	/* Ctrl-A at the end of one read, x at the start of the next. */
	ck_assert_uint_eq(console_filter(&c, (const uint8_t *)"k\x01", 2, out, &quit), 1);
	ck_assert(!quit);
	ck_assert_uint_eq(console_filter(&c, (const uint8_t *)"xyz", 3, out, &quit), 0);
	ck_assert(quit);
	console_destroy(&c);
}
END_TEST

struct sink {
	struct console *c;
	struct loop *l;
	char got[256];
	size_t n, want;
	size_t room;
	unsigned int refusals;
	bool quit;
};

/* A 3-byte FIFO that the "guest" drains right after it fills up, and then
 * says so, as the UART does when its FIFO empties. */
static size_t sink_rx(void *opaque, const uint8_t *buf, size_t len)
{
	struct sink *s = opaque;
	size_t k = len < s->room ? len : s->room;
	memcpy(s->got + s->n, buf, k);
	s->n += k;
	s->room -= k;
	if (s->n >= s->want)
		loop_stop(s->l);
	if (s->room == 0) {
		s->refusals++;
		s->room = 3;
		console_wakeup(s->c);
	}
	return k;
}

static void sink_quit(void *opaque)
{
	struct sink *s = opaque;
	s->quit = true;
	loop_stop(s->l);
}

static void feed(int in_fd, const char *text, struct sink *s)
{
	struct console c;
	struct loop l;
	ck_assert_int_eq(loop_init(&l), 0);
	ck_assert_int_eq(console_init(&c, in_fd, -1), 0);
	s->c = &c;
	s->l = &l;
	s->room = 3;
	s->want = strlen(text);
	struct console_frontend fe = { .rx = sink_rx, .opaque = s };
	ck_assert_int_eq(console_attach(&c, &l, &fe, sink_quit, s), 0);
	ck_assert_int_eq(loop_run(&l), 0);
	console_destroy(&c);
	loop_destroy(&l);
}

START_TEST(pipe_input_flow_control)
{
	const char *text = "hello, flow-controlled world\n";
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
	struct sink s = { 0 };
	feed(p[0], text, &s);
	ck_assert_uint_eq(s.n, strlen(text));
	ck_assert_mem_eq(s.got, text, s.n);
	ck_assert_uint_gt(s.refusals, 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(file_input)
{
	const char *text = "from a regular file, which epoll cannot watch";
	char path[] = "/tmp/vmm-test-console-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	struct sink s = { 0 };
	feed(fd, text, &s);
	ck_assert_uint_eq(s.n, strlen(text));
	ck_assert_mem_eq(s.got, text, s.n);
	close(fd);
}
END_TEST

START_TEST(quit_key)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "ls\n\x01x", 5), 5);
	struct sink s = { 0 };
	feed(p[0], "never complete: quit comes first", &s);
	ck_assert(s.quit);
	ck_assert_mem_eq(s.got, "ls\n", 3);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(output)
{
	int p[2];
	char buf[16] = "";
	struct console c;
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(console_init(&c, -1, p[1]), 0);
	console_output(&c, (const uint8_t *)"out", 3);
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 3);
	ck_assert_str_eq(buf, "out");
	console_destroy(&c);
	close(p[0]);
	close(p[1]);
}
END_TEST

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 % 251);
}

/* Reads what the pipe holds now (p is non-blocking); checks it continues
 * the pattern at *pos. */
static void drain_check(int fd, size_t *pos)
{
	uint8_t buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t bad = -1;
		for (ssize_t i = 0; i < n && bad < 0; i++)
			if (buf[i] != pattern(*pos + (size_t)i))
				bad = i;
		ck_assert_msg(bad < 0, "byte %zu out of order", *pos + (size_t)bad);
		*pos += (size_t)n;
	}
	ck_assert_int_eq(n, -1);
	ck_assert_int_eq(errno, EAGAIN);
}

/* Issue 9 item 3: output to a pipe nobody reads never blocks (the UART
 * calls this on a vCPU thread under its lock): a bounded buffer takes what
 * the pipe does not, the rest is dropped and counted, and a later flush
 * delivers the buffer in order.  Before, the first write to the full pipe
 * hung here until Check's timeout. */
START_TEST(output_to_stalled_pipe_never_blocks)
{
	enum {
		TOTAL = 1 << 20,
		CHUNK = 1000
	};
	static uint8_t data[TOTAL];
	struct console c;
	int p[2];
	size_t pos = 0;

	for (size_t i = 0; i < TOTAL; i++)
		data[i] = pattern(i);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(console_init(&c, -1, p[1]), 0);
	/* The blocking write end was not made non-blocking for its other
	 * users: the console has a description of its own. */
	for (size_t off = 0; off < TOTAL; off += CHUNK)
		console_output(&c, data + off, off + CHUNK <= TOTAL ? CHUNK : TOTAL - off);
	/* The buffer is full and the rest dropped; "lost" counts both. */
	uint64_t lost = console_lost(&c);
	ck_assert_uint_eq(c.out_len, CONSOLE_OUT_BUF);
	ck_assert_uint_eq(c.out_dropped + CONSOLE_OUT_BUF, lost);
	/* The reader wakes up: the pipe, then the buffer, in order. */
	drain_check(p[0], &pos);
	ck_assert_uint_gt(pos, 0);
	ck_assert_uint_eq(pos, TOTAL - lost);
	for (int i = 0; i < 64 && console_lost(&c) > c.out_dropped; i++) {
		console_flush(&c);
		drain_check(p[0], &pos);
	}
	ck_assert_uint_eq(c.out_len, 0);
	ck_assert_uint_eq(pos + c.out_dropped, TOTAL);
	ck_assert_uint_eq(console_lost(&c), c.out_dropped);
	/* New output after the gap goes straight through. */
	console_output(&c, (const uint8_t *)"end", 3);
	char tail[4] = "";
	ck_assert_int_eq(read(p[0], tail, 3), 3);
	ck_assert_str_eq(tail, "end");
	console_destroy(&c);
	close(p[0]);
	close(p[1]);
}
END_TEST

static void stop_loop(void *opaque, uint32_t events)
{
	(void)events;
	loop_stop(opaque);
}

static size_t unused_rx(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque;
	(void)buf;
	return len;
}

static void unused_quit(void *opaque)
{
	(void)opaque;
}

/* c writes to the pipe p (its read end non-blocking) and is attached to
 * the loop l; data[] holds pattern(). */
static void attach_to_pipe(struct console *c, struct loop *l, int p[2], uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		data[i] = pattern(i);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(loop_init(l), 0);
	ck_assert_int_eq(console_init(c, -1, p[1]), 0);
	struct console_frontend fe = { .rx = unused_rx };
	ck_assert_int_eq(console_attach(c, l, &fe, unused_quit, NULL), 0);
}

static void detach_from_pipe(struct console *c, struct loop *l, int p[2])
{
	console_destroy(c);
	loop_destroy(l);
	close(p[0]);
	close(p[1]);
}

/* Runs the loop for ms milliseconds. */
static void run_loop_for(struct loop *l, long ms)
{
	int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	ck_assert_int_ge(t, 0);
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000,
						.tv_nsec = ms % 1000 * 1000 * 1000 } };
	ck_assert_int_eq(timerfd_settime(t, 0, &its, NULL), 0);
	struct loop_watch tw = { .fd = t, .fn = stop_loop, .opaque = l };
	ck_assert_int_eq(loop_add(l, &tw, EPOLLIN), 0);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(loop_del(l, &tw), 0);
	close(t);
}

/* The main loop flushes the buffer when stdout has room again (EPOLLOUT),
 * without any further guest output. */
START_TEST(loop_flushes_output_when_stdout_drains)
{
	static uint8_t data[3 * CONSOLE_OUT_BUF / 2];
	struct console c;
	struct loop l;
	int p[2];
	size_t pos = 0;

	attach_to_pipe(&c, &l, p, data, sizeof(data));
	console_output(&c, data, sizeof(data));
	ck_assert_uint_gt(c.out_len, 0);
	drain_check(p[0], &pos);
	/* Let the loop run for 200 ms: its EPOLLOUT handler refills the pipe. */
	run_loop_for(&l, 200);
	drain_check(p[0], &pos);
	ck_assert_uint_eq(pos, sizeof(data));
	ck_assert_uint_eq(console_lost(&c), 0);
	detach_from_pipe(&c, &l, p);
}
END_TEST

/* Once attached, small outputs wait for the batch time and go out in one
 * write, in order; a batch of CONSOLE_BATCH_BYTES goes out at once, after
 * what was waiting. */
START_TEST(attached_output_is_batched)
{
	static uint8_t data[CONSOLE_BATCH_BYTES + 100];
	uint8_t buf[64];
	struct console c;
	struct loop l;
	int p[2];
	size_t pos = 0;

	attach_to_pipe(&c, &l, p, data, sizeof(data));
	for (size_t i = 0; i < 10; i++)
		console_output(&c, data + i, 1);
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(console_lost(&c), 10); /* waiting, counted if never written */
	run_loop_for(&l, 3 * CONSOLE_BATCH_NS / 1000000);
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 10);
	ck_assert_mem_eq(buf, data, 10);
	pos = 10;
	/* The next batch: one byte waits, then a large output follows it. */
	console_output(&c, data + pos, 1);
	console_output(&c, data + pos + 1, CONSOLE_BATCH_BYTES);
	drain_check(p[0], &pos);
	ck_assert_uint_eq(pos, 11 + CONSOLE_BATCH_BYTES);
	ck_assert_uint_eq(console_lost(&c), 0);
	/* The timer of the first byte finds nothing more to write. */
	run_loop_for(&l, 3 * CONSOLE_BATCH_NS / 1000000);
	drain_check(p[0], &pos);
	ck_assert_uint_eq(pos, 11 + CONSOLE_BATCH_BYTES);
	detach_from_pipe(&c, &l, p);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = { .name = "console", .tcase = "console", .timeout = 30 };
	const TTest *tests[] = { escape_filter,
				 output_to_stalled_pipe_never_blocks,
				 loop_flushes_output_when_stdout_drains,
				 attached_output_is_batched,
				 pipe_input_flow_control,
				 file_input,
				 quit_key,
				 output,
				 NULL };

	return unit_main(&u, tests);
}
