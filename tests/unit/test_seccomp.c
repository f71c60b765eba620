/*
 * seccomp sandbox tests: in a forked child, each thread kind's filter lets
 * the calls of its job through and ends the process on any other with
 * SECCOMP_EXIT_STATUS and one line naming the call and the kind; argument
 * rules (ioctl requests, PROT_EXEC, clone3) and stacked filters of threads
 * started by a filtered thread.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "core/seccomp.h"
#include "core/thread.h"
#include "unit_main.h"

/* What a child did: how it ended and what it wrote on stderr. */
struct outcome {
	int status; /* exit status, or -signal */
	char err[512];
};

static void *nothing(void *arg)
{
	return arg;
}

/* Runs fn(kind) in a child whose stderr is a pipe, after the sandbox is
 * prepared and kind's filter entered; fn returns the child's status. */
static struct outcome run_child(enum seccomp_kind kind, int (*fn)(enum seccomp_kind))
{
	struct outcome o = { 0 };
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		/* As in vmm, threads were started before any filter: glibc
		 * installs its own signal handlers at the first. */
		pthread_t t;
		if (pthread_create(&t, NULL, nothing, NULL) || pthread_join(t, NULL))
			_exit(89);
		if (seccomp_prepare(true) || seccomp_enter(kind)) {
			dprintf(STDERR_FILENO, "setup: %s\n", err_msg());
			_exit(90);
		}
		/* Not _exit(): ASan's runs a leak check, whose system calls
		 * the filter forbids. */
		syscall(SYS_exit_group, fn(kind));
	}
	close(p[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < sizeof(o.err) && (r = read(p[0], o.err + n, sizeof(o.err) - 1 - n)) > 0)
		n += (size_t)r;
	o.err[n] = '\0';
	close(p[0]);
	int ws;
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	o.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -WTERMSIG(ws);
	return o;
}

/* Asserts o is a seccomp kill that names call (a syscall name) and kind. */
static void assert_killed(const struct outcome *o, const char *call, enum seccomp_kind kind)
{
	char want[128];

	ck_assert_msg(o->status == SECCOMP_EXIT_STATUS, "status %d, stderr: %s", o->status, o->err);
	snprintf(want, sizeof(want), "vmm: seccomp: %s thread made forbidden syscall %s (",
		 seccomp_kind_name(kind), call);
	ck_assert_msg(strstr(o->err, want), "no '%s' in: %s", want, o->err);
	/* One line. */
	ck_assert_ptr_eq(strchr(o->err, '\n'), o->err + strlen(o->err) - 1);
}

/* The pipe the children's calls use: pipe_fd, its read end pipe_fd - 1. */
static int pipe_fd = -1;

static void setup(void)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	/* pipe() gives adjacent fds, read end first. */
	ck_assert_int_eq(p[1], p[0] + 1);
	pipe_fd = p[1];
}

static void teardown(void)
{
	close(pipe_fd - 1);
	close(pipe_fd);
}

static int opens_a_file(enum seccomp_kind kind)
{
	(void)kind;
	int fd = open("/dev/null", O_RDONLY);
	return fd >= 0 ? 0 : 20;
}

static int main_work(enum seccomp_kind kind)
{
	(void)kind;
	char c;
	/* The event loop reads its fds and fcntl()s the console. */
	if (write(pipe_fd, "x", 1) != 1 || read(pipe_fd - 1, &c, 1) != 1 || c != 'x')
		return 30;
	if (fcntl(pipe_fd, F_GETFL) < 0)
		return 31;
	/* Console input raises the UART's interrupt line; on a pipe the
	 * request fails with ENOTTY, which means the filter let it through. */
	if (ioctl(pipe_fd, KVM_IRQ_LINE, NULL) == 0 || errno != ENOTTY)
		return 32;
	return 0;
}

static int vcpu_work(enum seccomp_kind kind)
{
	(void)kind;
	uint64_t v = 1;
	/* Starting a virtio-blk queue: an eventfd for its I/O thread. */
	int fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0 || write(fd, &v, sizeof(v)) != sizeof(v))
		return 33;
	return 0;
}

static int io_work(enum seccomp_kind kind)
{
	(void)kind;
	char buf[4] = "abc";
	struct iovec iov = { buf, 3 };
	/* The synchronous backend's calls, on a pipe: pwritev fails with
	 * ESPIPE, which means the call was allowed. */
	if (pwritev(pipe_fd, &iov, 1, 0) >= 0 || errno != ESPIPE)
		return 40;
	if (write(pipe_fd, "x", 1) != 1 || read(pipe_fd - 1, buf, 1) != 1)
		return 41;
	return 0;
}

START_TEST(each_kind_allows_its_work)
{
	static int (*const work[SECCOMP_KINDS])(enum seccomp_kind) = {
		[SECCOMP_MAIN] = main_work,
		[SECCOMP_VCPU] = vcpu_work,
		[SECCOMP_IO] = io_work,
	};
	for (int k = 0; k < SECCOMP_KINDS; k++) {
		struct outcome o = run_child((enum seccomp_kind)k, work[k]);
		ck_assert_msg(o.status == 0, "%s: status %d, stderr: %s",
			      seccomp_kind_name((enum seccomp_kind)k), o.status, o.err);
		ck_assert_str_eq(o.err, "");
	}
}
END_TEST

START_TEST(forbidden_call_kills_with_its_name)
{
	for (int k = 0; k < SECCOMP_KINDS; k++) {
		struct outcome o = run_child((enum seccomp_kind)k, opens_a_file);
		assert_killed(&o, "openat", (enum seccomp_kind)k);
	}
}
END_TEST

static int creates_a_vm(enum seccomp_kind kind)
{
	(void)kind;
	/* Any fd will do: the filter refuses the request before the kernel
	 * looks at the fd. */
	return ioctl(pipe_fd, KVM_CREATE_VM, 0) == -1 ? 50 : 51;
}

static int runs_a_vcpu(enum seccomp_kind kind)
{
	(void)kind;
	/* Allowed for a vCPU; on a pipe it fails with ENOTTY. */
	return ioctl(pipe_fd, KVM_RUN, 0) < 0 && errno == ENOTTY ? 0 : 60;
}

START_TEST(ioctl_requests_are_checked)
{
	struct outcome o = run_child(SECCOMP_VCPU, creates_a_vm);
	assert_killed(&o, "ioctl", SECCOMP_VCPU);
	o = run_child(SECCOMP_VCPU, runs_a_vcpu);
	ck_assert_msg(o.status == 0, "status %d, stderr: %s", o.status, o.err);
	o = run_child(SECCOMP_IO, runs_a_vcpu);
	assert_killed(&o, "ioctl", SECCOMP_IO);
}
END_TEST

static int maps_code(enum seccomp_kind kind)
{
	(void)kind;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? 70 : 71;
}

static int clone3_fails(enum seccomp_kind kind)
{
	(void)kind;
	long r = syscall(SYS_clone3, NULL, 0);
	return r == -1 && errno == ENOSYS ? 0 : 80;
}

START_TEST(no_exec_mappings_nor_clone3)
{
	struct outcome o = run_child(SECCOMP_MAIN, maps_code);
	assert_killed(&o, "mmap", SECCOMP_MAIN);
	o = run_child(SECCOMP_VCPU, clone3_fails);
	ck_assert_msg(o.status == 0, "status %d, stderr: %s", o.status, o.err);
}
END_TEST

static void *io_thread_opens(void *arg)
{
	(void)arg;
	open("/dev/null", O_RDONLY);
	return NULL;
}

/* A vCPU starts an I/O thread: it installs its own filter on top of the
 * vCPU one it inherits, and its forbidden call is reported as an I/O
 * thread's. */
static int starts_io_thread(enum seccomp_kind kind)
{
	pthread_t t;
	(void)kind;
	if (thread_spawn(&t, "test-io", SECCOMP_IO, io_thread_opens, NULL))
		return 90;
	pthread_join(t, NULL);
	return 91;
}

START_TEST(threads_stack_their_kind)
{
	struct outcome o = run_child(SECCOMP_VCPU, starts_io_thread);
	assert_killed(&o, "openat", SECCOMP_IO);
}
END_TEST

START_TEST(off_installs_nothing)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (seccomp_prepare(false) || seccomp_enter(SECCOMP_IO))
			_exit(1);
		int fd = open("/dev/null", O_RDONLY);
		_exit(fd >= 0 ? 0 : 2);
	}
	int ws;
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFEXITED(ws));
	ck_assert_int_eq(WEXITSTATUS(ws), 0);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = {
		.name = "seccomp", .tcase = "seccomp", .setup = setup, .teardown = teardown
	};
	const TTest *tests[] = { each_kind_allows_its_work,
				 forbidden_call_kills_with_its_name,
				 ioctl_requests_are_checked,
				 no_exec_mappings_nor_clone3,
				 threads_stack_their_kind,
				 off_installs_nothing,
				 NULL };

	return unit_main(&u, tests);
}
