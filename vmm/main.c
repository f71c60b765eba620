/*
 * vmm: boot a Linux guest in a KVM virtual machine from the command line.
 * main() is init / run / exit: app_init wires CLI -> VM -> platform devices
 * -> disks -> boot image -> vCPU state; app_run starts the vCPUs and runs
 * the event loop (console input, signals) until the VM stops; app_exit
 * releases whatever init got to, on every path.  This is the only file
 * that prints the "vmm: what failed and why" line.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/arch.h"
#include "core/err.h"
#include "core/loop.h"
#include "core/seccomp.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "vmm/check_host.h"
#include "vmm/cli.h"
#include "vmm/console.h"
#include "vmm/disk_attach.h"
#include "vmm/stats_report.h"

/* Exit statuses of vmm itself (the guest's own are 0 and debug-exit values). */
enum {
	STATUS_ERROR = 1,
	STATUS_USAGE = 2
};

struct app {
	struct vm_config cfg;
	struct vm vm;
	struct loop loop;
	struct console con;
	struct vm_disks disks;
	struct loop_watch stop_watch, sig_watch;
	int sig_fd;
	int signo;	 /* the signal that ended us, or 0 */
	FILE *stats_out; /* --stats: stderr or the --stats-file */
	/* What app_init got to, for app_exit. */
	bool have_vm, have_loop, have_con;
};

static void on_stop(void *opaque, uint32_t events)
{
	struct app *a = opaque;
	(void)events;
	loop_stop(&a->loop);
}

static void on_signal(void *opaque, uint32_t events)
{
	struct app *a = opaque;
	struct signalfd_siginfo si;
	(void)events;
	if (read(a->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (a->signo == 0)
		a->signo = (int)si.ssi_signo;
	vm_stop(&a->vm, 128 + (int)si.ssi_signo);
}

static void on_quit(void *opaque)
{
	struct app *a = opaque;
	/* Ctrl-A x: the user ended the session on purpose. */
	vm_stop(&a->vm, 0);
}

/* Signals are read from a signalfd by the loop, never delivered
 * asynchronously; every thread inherits or is given a mask without them. */
static int init_signals(struct app *a)
{
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	/* A closed stdout must not kill us: console_output sees EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	/* Nor may a stderr pipe whose reader stalls hang a thread that
	 * reports something (or us at exit): messages are dropped instead.
	 * Best effort: a blocking stderr still works. */
	(void)console_nonblock_fd(STDERR_FILENO);
	a->sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	return a->sig_fd < 0 ? err_errno("signalfd") : 0;
}

/* Everything up to the vCPUs' first KVM_RUN.  -1 with err_msg() set. */
static int app_init(struct app *a)
{
	const struct vm_config *cfg = &a->cfg;
	struct console_frontend fe;

	if (init_signals(a))
		return -1;
	if (vm_create(&a->vm, cfg->cpus, cfg->memory))
		return -1;
	a->have_vm = true;
	if (loop_init(&a->loop))
		return -1;
	a->have_loop = true;
	if (console_init(&a->con, STDIN_FILENO, STDOUT_FILENO))
		return -1;
	a->have_con = true;

	struct console_backend con_be = console_backend(&a->con);
	struct boot_config boot = { .kernel = cfg->kernel,
				    .initrd = cfg->initrd,
				    .cmdline = cfg->cmdline };
	if (arch_platform_init(&a->vm, &con_be, &fe) || vm_disks_attach(&a->disks, &a->vm, cfg) ||
	    arch_boot_load(&a->vm, &boot))
		return -1;
	for (unsigned int i = 0; i < a->vm.ncpus; i++)
		if (arch_vcpu_init(&a->vm, &a->vm.vcpus[i]))
			return -1;

	a->stop_watch = (struct loop_watch){ .fd = a->vm.stop_fd, .fn = on_stop, .opaque = a };
	a->sig_watch = (struct loop_watch){ .fd = a->sig_fd, .fn = on_signal, .opaque = a };
	if (loop_add(&a->loop, &a->stop_watch, EPOLLIN) ||
	    loop_add(&a->loop, &a->sig_watch, EPOLLIN) ||
	    console_attach(&a->con, &a->loop, &fe, on_quit, a))
		return -1;
	return 0;
}

/* Runs the guest until it stops; returns the exit status. */
static int app_run(struct app *a)
{
	/* The main thread's sandbox closes once it has started the vCPUs
	 * (they enter their own as they start). */
	if (vm_start(&a->vm) || seccomp_enter(SECCOMP_MAIN))
		vm_fail(&a->vm, "%s", err_msg());
	else if (loop_run(&a->loop))
		vm_fail(&a->vm, "%s", err_msg());
	vm_join_vcpus(&a->vm);
	console_restore(&a->con);
	/* What stdout takes now; the rest of the guest's output is lost. */
	console_flush(&a->con);
	uint64_t lost = console_lost(&a->con);
	if (lost)
		fprintf(stderr,
			"vmm: console: %llu bytes of guest output lost (stdout was not read fast enough)\n",
			(unsigned long long)lost);
	if (a->vm.fail_msg[0])
		fprintf(stderr, "vmm: %s\n", a->vm.fail_msg);
	else if (a->signo)
		fprintf(stderr, "vmm: stopped by signal %d (%s)\n", a->signo, strsignal(a->signo));
	int status = a->vm.exit_status;
	if (a->cfg.stats && stats_report(a->stats_out, &a->cfg, &a->vm, &a->disks, status)) {
		fprintf(stderr, "vmm: %s\n", err_msg());
		status = status ? status : STATUS_ERROR;
	}
	return status;
}

/* Releases what app_init set up, in reverse order: the disks drain their
 * in-flight requests before the VM's memory goes away. */
static void app_exit(struct app *a)
{
	if (a->have_con)
		console_restore(&a->con);
	vm_disks_destroy(&a->disks);
	if (a->have_con)
		console_destroy(&a->con);
	if (a->have_vm)
		vm_destroy(&a->vm);
	if (a->have_loop)
		loop_destroy(&a->loop);
	if (a->sig_fd >= 0)
		close(a->sig_fd);
}

int main(int argc, char **argv)
{
	static struct app app = { .sig_fd = -1 }; /* large: the --disk table */
	struct app *a = &app;
	int status;

	a->vm.start_ns = vm_now_ns();
	/* A closed stdin/stdout/stderr would be reused by the next open()
	 * (say /dev/kvm) and then read or written as the console. */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return STATUS_ERROR;
	switch (cli_parse(argc, argv, &a->cfg, stdout)) {
	case CLI_DONE:
		return 0;
	case CLI_CHECK_HOST:
		return check_host(stdout, &check_host_default_paths);
	case CLI_USAGE:
		fprintf(stderr, "vmm: %s\n", err_msg());
		return STATUS_USAGE;
	case CLI_RUN:
		break;
	}
	if (a->cfg.stats && (a->stats_out = stats_open(&a->cfg)) == NULL) {
		fprintf(stderr, "vmm: %s\n", err_msg());
		return STATUS_ERROR;
	}
	/* Before any thread starts: they all inherit no_new_privs. */
	if (seccomp_prepare(a->cfg.seccomp)) {
		fprintf(stderr, "vmm: %s\n", err_msg());
		return STATUS_ERROR;
	}

	if (app_init(a) == 0) {
		status = app_run(a);
	} else {
		if (a->have_con)
			console_restore(&a->con);
		fprintf(stderr, "vmm: %s\n", err_msg());
		status = STATUS_ERROR;
	}
	app_exit(a);
	return status;
}
