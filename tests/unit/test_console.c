/*
 * The host console: the Ctrl-A escape filter (quit, literal Ctrl-A, split
 * across reads), and input flow control through the event loop: a pipe and
 * a regular file as stdin, fed to a frontend that takes only a few bytes
 * at a time, must arrive complete and in order.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/console.h"
#include "core/loop.h"

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

int main(void)
{
	Suite *su = suite_create("console");
	TCase *t = tcase_create("console");
	tcase_add_test(t, escape_filter);
	tcase_add_test(t, pipe_input_flow_control);
	tcase_add_test(t, file_input);
	tcase_add_test(t, quit_key);
	tcase_add_test(t, output);
	suite_add_tcase(su, t);
	SRunner *r = srunner_create(su);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
