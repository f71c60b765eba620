/*
 * The seccomp-bpf sandbox (seccomp.h): the system calls each kind of thread
 * may make once set up, the filters built from them with libseccomp (which
 * resolves the names for the architecture vmm is built for), and the
 * SIGSYS handler that reports a forbidden call.
 *
 * The state here is process-wide on purpose: the SIGSYS disposition and
 * no_new_privs are process attributes, and the filters are built once, in
 * the main thread, so that a thread installs its own with one seccomp()
 * call and no allocation.
 */
#define _GNU_SOURCE
#include "core/seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "core/err.h"
#include "core/util.h"

#define K_MAIN (1u << SECCOMP_MAIN)
#define K_VCPU (1u << SECCOMP_VCPU)
#define K_IO   (1u << SECCOMP_IO)
#define K_ALL  (K_MAIN | K_VCPU | K_IO)

/* How a call's arguments are restricted (beyond its name). */
enum arg_rule {
	ARGS_ANY,
	ARGS_IOCTL,	/* the request must be in ioctls[] for the kind */
	ARGS_NO_EXEC,	/* mmap/mprotect: never PROT_EXEC */
	ARGS_THREAD,	/* clone: a thread (CLONE_THREAD), never a process */
	ARGS_ENOSYS,	/* clone3: fails with ENOSYS (its flags are in memory,
			 * out of a filter's reach), so glibc falls back to clone */
	ARGS_SET_NAME,	/* prctl: PR_SET_NAME only */
	ARGS_SET_FILTER /* seccomp: SECCOMP_SET_MODE_FILTER only */
};

/*
 * The calls, by who makes them after set-up.  Names that do not exist on
 * an architecture (epoll_wait, poll on arm64) are skipped.
 *   all:   glibc's malloc (brk, mmap, munmap, madvise, mremap, mprotect),
 *          locks (futex), log lines (write), a thread's end (exit,
 *          madvise of its stack), abort(), the crash handler that puts the
 *          terminal back (ioctl TCSETS).
 *   main:  the event loop (epoll, signalfd/stdin/eventfd reads, console
 *          writes, fcntl of the console's O_NONBLOCK, the UART's interrupt
 *          line when input arrives: KVM_IRQ_LINE), kicking vCPUs
 *          (tgkill), and at exit the teardown: joins, closes, unmaps,
 *          io_uring rings freed, ioeventfds and irqfds deassigned, the
 *          statistics written.
 *   vCPU:  KVM_RUN and device emulation (IRQ lines, MSI routes, irqfds,
 *          ioeventfds), stopping the VM (eventfd write, tgkill), and a
 *          virtio-blk device's start and reset: I/O threads created
 *          (eventfd, io_uring_setup, clone of a thread that names itself
 *          and installs its filter) and stopped (join, close, unmap).
 *   I/O:   the block backends: io_uring_enter (and io_uring_register: the
 *          thread enables its ring), or the synchronous one's
 *          preadv/pwritev/fallocate/fdatasync and poll; eventfd reads and
 *          the irqfd writes.
 */
static const struct {
	const char *name;
	unsigned int kinds;
	enum arg_rule args;
} calls[] = {
	{ "brk", K_ALL, ARGS_ANY },
	{ "mmap", K_ALL, ARGS_NO_EXEC },
	{ "munmap", K_ALL, ARGS_ANY },
	{ "mremap", K_ALL, ARGS_ANY },
	{ "mprotect", K_ALL, ARGS_NO_EXEC },
	{ "madvise", K_ALL, ARGS_ANY },
	{ "futex", K_ALL, ARGS_ANY },
	{ "write", K_ALL, ARGS_ANY },
	{ "writev", K_ALL, ARGS_ANY },
	{ "ioctl", K_ALL, ARGS_IOCTL },
	{ "rt_sigprocmask", K_ALL, ARGS_ANY },
	{ "rt_sigreturn", K_ALL, ARGS_ANY },
	{ "restart_syscall", K_ALL, ARGS_ANY },
	{ "clock_gettime", K_ALL, ARGS_ANY },
	{ "clock_nanosleep", K_ALL, ARGS_ANY },
	{ "nanosleep", K_ALL, ARGS_ANY },
	{ "sched_yield", K_ALL, ARGS_ANY },
	{ "getpid", K_ALL, ARGS_ANY },
	{ "gettid", K_ALL, ARGS_ANY },
	{ "tgkill", K_ALL, ARGS_ANY },
	{ "exit", K_ALL, ARGS_ANY },
	{ "exit_group", K_ALL, ARGS_ANY },
	/* Guest output: the console's batch timer (vmm/console.c). */
	{ "timerfd_settime", K_MAIN | K_VCPU, ARGS_ANY },

	{ "read", K_MAIN | K_IO, ARGS_ANY },
	{ "close", K_MAIN | K_VCPU, ARGS_ANY },
	{ "epoll_wait", K_MAIN, ARGS_ANY },
	{ "epoll_pwait", K_MAIN, ARGS_ANY },
	{ "epoll_ctl", K_MAIN, ARGS_ANY },
	{ "fcntl", K_MAIN, ARGS_ANY },
	/* main: the console; I/O: a disk's size after a failed read (a file
	 * that shrank under the guest is named as such). */
	{ "fstat", K_MAIN | K_IO, ARGS_ANY },
	{ "newfstatat", K_MAIN | K_IO, ARGS_ANY },
	{ "lseek", K_MAIN, ARGS_ANY },
	{ "io_uring_register", K_MAIN | K_VCPU | K_IO, ARGS_ANY },

	{ "eventfd2", K_VCPU, ARGS_ANY },
	{ "io_uring_setup", K_VCPU, ARGS_ANY },
	{ "clone", K_VCPU, ARGS_THREAD },
	{ "clone3", K_VCPU, ARGS_ENOSYS },
	{ "set_robust_list", K_VCPU, ARGS_ANY },
	{ "rseq", K_VCPU, ARGS_ANY },
	/* Read-only; what a sanitizer's thread start asks (stack bounds). */
	{ "sched_getaffinity", K_VCPU, ARGS_ANY },
	/* Any kind: a sanitizer build's threads set and remove an alternate
	 * signal stack when they start and when they end (the hostile-guest
	 * test's resets end I/O threads under the I/O filter). */
	{ "sigaltstack", K_ALL, ARGS_ANY },
	{ "prctl", K_VCPU, ARGS_SET_NAME },
	{ "seccomp", K_VCPU, ARGS_SET_FILTER },

	{ "io_uring_enter", K_MAIN | K_IO, ARGS_ANY },
	{ "readv", K_IO, ARGS_ANY },
	{ "preadv", K_IO, ARGS_ANY },
	{ "pwritev", K_IO, ARGS_ANY },
	{ "preadv2", K_IO, ARGS_ANY },
	{ "pwritev2", K_IO, ARGS_ANY },
	/* I/O: the synchronous backend; main: KVM's statistics files read for
	 * --stats at exit. */
	{ "pread64", K_MAIN | K_IO, ARGS_ANY },
	{ "pwrite64", K_IO, ARGS_ANY },
	{ "fallocate", K_IO, ARGS_ANY },
	{ "fdatasync", K_IO, ARGS_ANY },
	/* glibc's qsort (the worker sorts a pass's requests to merge them)
	 * asks for the physical memory size before sorting a large array. */
	{ "sysinfo", K_IO, ARGS_ANY },
	{ "poll", K_IO, ARGS_ANY },
	{ "ppoll", K_IO, ARGS_ANY },
};

/* The ioctl requests allowed, by kind. */
static const struct {
	unsigned long request;
	unsigned int kinds;
} ioctls[] = {
	/* The terminal: console_restore (main), the crash handler (any). */
	{ TCGETS, K_MAIN },
	{ TCSETS, K_ALL },
	{ TCSETSW, K_MAIN },
	{ KVM_RUN, K_VCPU },
	/* The UART's interrupt: raised by a vCPU, and by main when console
	 * input arrives. */
	{ KVM_IRQ_LINE, K_MAIN | K_VCPU },
	{ KVM_SET_GSI_ROUTING, K_MAIN | K_VCPU },
	{ KVM_IRQFD, K_MAIN | K_VCPU },
	{ KVM_IOEVENTFD, K_MAIN | K_VCPU },
	/* The UART's transmit register coalesced or not, as the guest
	 * switches its interrupts (core/coalesced.h). */
	{ KVM_REGISTER_COALESCED_MMIO, K_MAIN | K_VCPU },
	{ KVM_UNREGISTER_COALESCED_MMIO, K_MAIN | K_VCPU },
	/* --stats at exit: KVM's binary statistics of the VM and each vCPU
	 * (read-only file descriptors). */
	{ KVM_GET_STATS_FD, K_MAIN },
};

/*
 * The kinds whose calls a kind's filter allows.  A vCPU's filter also
 * allows what an I/O thread does: the I/O threads it starts inherit it
 * (filters stack; the strictest verdict wins).
 */
static unsigned int allowed_kinds(enum seccomp_kind kind)
{
	return kind == SECCOMP_VCPU ? K_VCPU | K_IO : 1u << kind;
}

/* Syscall names by number for the SIGSYS handler, resolved beforehand
 * (libseccomp allocates; a signal handler must not). */
#define NAMES 1024
static const char *names[NAMES];
static uint32_t native_arch;

static struct sock_fprog progs[SECCOMP_KINDS];
static bool prepared;
static __thread int thread_kind = -1;

static const char *const kind_names[SECCOMP_KINDS] = {
	[SECCOMP_MAIN] = "main",
	[SECCOMP_VCPU] = "vCPU",
	[SECCOMP_IO] = "I/O",
};

const char *seccomp_kind_name(enum seccomp_kind kind)
{
	return (unsigned int)kind < SECCOMP_KINDS ? kind_names[kind] : "unknown";
}

/* Async-signal-safe formatting for the handler. */
static void put_str(char *buf, size_t cap, size_t *n, const char *s)
{
	while (*s && *n + 1 < cap)
		buf[(*n)++] = *s++;
}

static void put_num(char *buf, size_t cap, size_t *n, unsigned long v, unsigned int base)
{
	char d[24];
	size_t k = 0;
	do {
		d[k++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && k < sizeof(d));
	while (k > 0 && *n + 1 < cap)
		buf[(*n)++] = d[--k];
}

static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char line[200];
	size_t n = 0;
	int saved = errno;
	(void)sig;
	(void)uctx;

	put_str(line, sizeof(line), &n, "vmm: seccomp: ");
	put_str(line, sizeof(line), &n,
		thread_kind >= 0 ? seccomp_kind_name((enum seccomp_kind)thread_kind) : "unknown");
	put_str(line, sizeof(line), &n, " thread made forbidden syscall ");
	unsigned int nr = (unsigned int)si->si_syscall;
	if (si->si_arch == native_arch && nr < NAMES && names[nr]) {
		put_str(line, sizeof(line), &n, names[nr]);
		put_str(line, sizeof(line), &n, " (");
		put_num(line, sizeof(line), &n, nr, 10);
		put_str(line, sizeof(line), &n, ")");
	} else {
		put_num(line, sizeof(line), &n, nr, 10);
		if (si->si_arch != native_arch) {
			put_str(line, sizeof(line), &n, " of another ABI (audit arch 0x");
			put_num(line, sizeof(line), &n, si->si_arch, 16);
			put_str(line, sizeof(line), &n, ")");
		}
	}
	put_str(line, sizeof(line), &n, "; run with --seccomp=off to debug\n");
	/* Best effort: stderr may be a full non-blocking pipe. */
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
	errno = saved;
	/* The system call itself: a sanitizer's _exit() would first run its
	 * leak check, whose calls the filter forbids. */
	syscall(SYS_exit_group, SECCOMP_EXIT_STATUS);
}

static int add_rule(scmp_filter_ctx ctx, int nr, enum arg_rule args, unsigned int kinds)
{
	int r = 0;

	switch (args) {
	case ARGS_ANY:
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		break;
	case ARGS_NO_EXEC:
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
		break;
	case ARGS_THREAD:
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
		break;
	case ARGS_ENOSYS:
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		break;
	case ARGS_SET_NAME:
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				     SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME, 0));
		break;
	case ARGS_SET_FILTER:
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				     SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER, 0));
		break;
	case ARGS_IOCTL:
		for (size_t i = 0; i < ARRAY_SIZE(ioctls) && r == 0; i++)
			if (ioctls[i].kinds & kinds)
				/* The kernel reads the request as 32 bits. */
				r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
						     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
							     ioctls[i].request));
		break;
	}
	return r;
}

/* Builds kind's filter and exports it as BPF into *prog. */
static int build(enum seccomp_kind kind, struct sock_fprog *prog)
{
	unsigned int kinds = allowed_kinds(kind);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int fd = -1, r = 0;

	if (ctx == NULL)
		return err_set("seccomp: cannot create a filter");
	/* A call of another ABI (int 0x80, x32) is forbidden alike; the
	 * thread's no_new_privs is set once, by seccomp_prepare. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (size_t i = 0; i < ARRAY_SIZE(calls) && r == 0; i++) {
		if (!(calls[i].kinds & kinds))
			continue;
		int nr = seccomp_syscall_resolve_name(calls[i].name);
		if (nr == __NR_SCMP_ERROR) {
			/* A name libseccomp does not know: a typo. */
			seccomp_release(ctx);
			return err_set("seccomp: unknown system call '%s'", calls[i].name);
		}
		if (nr < 0)
			continue; /* a pseudo number: not on this architecture */
		r = add_rule(ctx, nr, calls[i].args, kinds);
	}
	if (r < 0) {
		seccomp_release(ctx);
		return err_set("seccomp: building the %s filter: %s", seccomp_kind_name(kind),
			       strerror(-r));
	}
	fd = memfd_create("vmm-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		seccomp_release(ctx);
		return err_errno("seccomp: memfd_create");
	}
	r = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	off_t size = lseek(fd, 0, SEEK_END);
	void *insns = NULL;
	if (r < 0 || size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
	    size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS ||
	    (insns = malloc((size_t)size)) == NULL ||
	    pread(fd, insns, (size_t)size, 0) != (ssize_t)size) {
		free(insns);
		close(fd);
		return err_set("seccomp: cannot export the %s filter", seccomp_kind_name(kind));
	}
	close(fd);
	prog->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	prog->filter = insns;
	return 0;
}

int seccomp_prepare(bool on)
{
	if (!on || prepared)
		return 0;
	native_arch = seccomp_arch_native();
	for (unsigned int nr = 0; nr < NAMES; nr++)
		names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);
	for (unsigned int k = 0; k < SECCOMP_KINDS; k++)
		if (build((enum seccomp_kind)k, &progs[k]))
			return -1;
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return err_errno("seccomp: sigaction SIGSYS");
	/* Inherited by every thread started from here on. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_errno("seccomp: PR_SET_NO_NEW_PRIVS");
	prepared = true;
	return 0;
}

int seccomp_enter(enum seccomp_kind kind)
{
	sigset_t sys;

	if (!prepared)
		return 0;
	if ((unsigned int)kind >= SECCOMP_KINDS)
		return err_set("seccomp: no filter for thread kind %d", (int)kind);
	/* The kernel forces SIGSYS on the thread; were it blocked, the
	 * handler would be reset and the line lost. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	thread_kind = (int)kind;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &progs[kind]) < 0)
		return err_errno("seccomp: installing the %s thread's filter (--seccomp=off runs "
				 "without)",
				 seccomp_kind_name(kind));
	return 0;
}
