/*
 * vmm: boot a Linux guest in a KVM virtual machine from the command line.
 * main() wires the pieces together: CLI -> VM -> platform devices -> boot
 * image -> vCPU threads, then runs the event loop (console input, signals)
 * until the VM stops, and turns the outcome into the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/arch.h"
#include "vmm/check_host.h"
#include "vmm/cli.h"
#include "vmm/console.h"
#include "vmm/disks.h"
#include "core/err.h"
#include "core/loop.h"
#include "vmm/stats_report.h"
#include "core/vcpu.h"
#include "core/vm.h"

struct app {
	struct vm vm;
	struct loop loop;
	struct console con;
	struct vm_disks disks;
	struct loop_watch stop_watch, sig_watch;
	int sig_fd;
	int signo;      /* the signal that ended us, or 0 */
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

static int fail(struct app *a, const char *msg)
{
	console_restore(&a->con);
	fprintf(stderr, "vmm: %s\n", msg);
	return 1;
}

int main(int argc, char **argv)
{
	static struct app app;
	struct app *a = &app;
	static struct vm_config cfg;   /* large: the --disk table */
	struct console_frontend fe;
	sigset_t sigs;
	FILE *stats_out = NULL;

	a->vm.start_ns = vm_now_ns();
	/* A closed stdin/stdout/stderr would be reused by the next open()
	 * (say /dev/kvm) and then read or written as the console. */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return 1;
	switch (cli_parse(argc, argv, &cfg, stdout)) {
	case CLI_DONE:
		return 0;
	case CLI_CHECK_HOST:
		return check_host(stdout, &check_host_default_paths);
	case CLI_USAGE:
		fprintf(stderr, "vmm: %s\n", err_msg());
		return 2;
	case CLI_RUN:
		break;
	}
	if (cfg.stats && (stats_out = stats_open(&cfg)) == NULL) {
		fprintf(stderr, "vmm: %s\n", err_msg());
		return 1;
	}

	/* Signals are read from a signalfd by the loop, never delivered
	 * asynchronously; the vCPU threads inherit this mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	/* A closed stdout must not kill us: console_output sees EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	a->sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sig_fd < 0) {
		err_errno("signalfd");
		fprintf(stderr, "vmm: %s\n", err_msg());
		return 1;
	}

	if (vm_create(&a->vm, cfg.cpus, cfg.memory)) {
		fprintf(stderr, "vmm: %s\n", err_msg());
		return 1;
	}
	struct console_backend con_be = console_backend(&a->con);
	struct boot_config boot = { .kernel = cfg.kernel, .initrd = cfg.initrd, .cmdline = cfg.cmdline };
	if (loop_init(&a->loop) || console_init(&a->con, STDIN_FILENO, STDOUT_FILENO) ||
	    arch_platform_init(&a->vm, &con_be, &fe) || vm_disks_attach(&a->disks, &a->vm, &cfg) ||
	    arch_boot_load(&a->vm, &boot))
		goto fail;
	for (unsigned int i = 0; i < a->vm.ncpus; i++)
		if (arch_vcpu_init(&a->vm, &a->vm.vcpus[i]))
			goto fail;

	a->stop_watch = (struct loop_watch){ .fd = a->vm.stop_fd, .fn = on_stop, .opaque = a };
	a->sig_watch = (struct loop_watch){ .fd = a->sig_fd, .fn = on_signal, .opaque = a };
	if (loop_add(&a->loop, &a->stop_watch, EPOLLIN) ||
	    loop_add(&a->loop, &a->sig_watch, EPOLLIN) ||
	    console_attach(&a->con, &a->loop, &fe, on_quit, a))
		goto fail;

	if (vm_start(&a->vm)) {
		vm_fail(&a->vm, "%s", err_msg());
	} else if (loop_run(&a->loop)) {
		vm_fail(&a->vm, "%s", err_msg());
	}
	vm_join_vcpus(&a->vm);
	console_restore(&a->con);

	int status = a->vm.exit_status;
	if (a->vm.fail_msg[0])
		fprintf(stderr, "vmm: %s\n", a->vm.fail_msg);
	else if (a->signo)
		fprintf(stderr, "vmm: stopped by signal %d (%s)\n", a->signo, strsignal(a->signo));
	if (cfg.stats && stats_report(stats_out, &cfg, &a->vm, &a->disks, status)) {
		fprintf(stderr, "vmm: %s\n", err_msg());
		status = status ? status : 1;
	}
	vm_disks_destroy(&a->disks);
	console_destroy(&a->con);
	vm_destroy(&a->vm);
	loop_destroy(&a->loop);
	return status;
fail:
	{
		int r = fail(a, err_msg());
		vm_disks_destroy(&a->disks);
		vm_destroy(&a->vm);
		return r;
	}
}
