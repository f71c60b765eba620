/* vCPU threads: the KVM_RUN loop and the dispatch of exits to the buses. */
#include "core/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/err.h"
#include "core/thread.h"
#include "core/vm.h"

/* The signal that interrupts KVM_RUN.  Its handler does nothing: the point
 * is the EINTR.  Only vCPU threads unblock it. */
#define KICK_SIGNAL SIGUSR1

static const char *const exit_names[VCPU_EXIT_REASONS] = {
	[KVM_EXIT_UNKNOWN] = "unknown",
	[KVM_EXIT_EXCEPTION] = "exception",
	[KVM_EXIT_IO] = "io",
	[KVM_EXIT_HYPERCALL] = "hypercall",
	[KVM_EXIT_DEBUG] = "debug",
	[KVM_EXIT_HLT] = "hlt",
	[KVM_EXIT_MMIO] = "mmio",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open",
	[KVM_EXIT_SHUTDOWN] = "shutdown",
	[KVM_EXIT_FAIL_ENTRY] = "fail_entry",
	[KVM_EXIT_INTR] = "intr",
	[KVM_EXIT_SET_TPR] = "set_tpr",
	[KVM_EXIT_TPR_ACCESS] = "tpr_access",
	[KVM_EXIT_NMI] = "nmi",
	[KVM_EXIT_INTERNAL_ERROR] = "internal_error",
	[KVM_EXIT_SYSTEM_EVENT] = "system_event",
	[KVM_EXIT_IOAPIC_EOI] = "ioapic_eoi",
	[KVM_EXIT_HYPERV] = "hyperv",
	[KVM_EXIT_X86_RDMSR] = "rdmsr",
	[KVM_EXIT_X86_WRMSR] = "wrmsr",
};

const char *vcpu_exit_name(unsigned int reason)
{
	if (reason == VCPU_EXIT_INTR)
		return "interrupted";
	if (reason < VCPU_EXIT_REASONS && exit_names[reason])
		return exit_names[reason];
	return "other";
}

static void kick_handler(int sig)
{
	(void)sig;
}

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return err_errno("KVM_CREATE_VCPU %u", id);
	void *run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		err_errno("mmap of vCPU %u's kvm_run", id);
		close(vcpu->fd);
		vcpu->fd = -1;
		return -1;
	}
	vcpu->run = run;
	if (id == 0)
		coalesced_attach(vm, run, vm->run_size);
	return 0;
}

static void count_site(struct vcpu *vcpu, bool mmio, uint64_t addr)
{
	if (mmio)
		addr &= ~(uint64_t)(VCPU_EXIT_SITE_PAGE - 1);
	for (unsigned int i = 0; i < vcpu->nsites; i++) {
		struct vcpu_exit_site *s = &vcpu->sites[i];
		if (s->addr == addr && s->mmio == mmio) {
			s->count++;
			return;
		}
	}
	if (vcpu->nsites == VCPU_EXIT_SITES) {
		vcpu->sites_other++;
		return;
	}
	vcpu->sites[vcpu->nsites++] =
		(struct vcpu_exit_site){ .mmio = mmio, .addr = addr, .count = 1 };
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	/* String I/O (rep ins/outs) arrives as count items in one exit. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&vcpu->vm->pio, run->io.port, data, run->io.size);
		else
			bus_read(&vcpu->vm->pio, run->io.port, data, run->io.size);
	}
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	if (run->mmio.len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		bus_write(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len);
	else
		bus_read(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len);
}

bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;
	unsigned int reason = run->exit_reason;

	vcpu->exits[reason < VCPU_EXIT_REASONS ? reason : KVM_EXIT_UNKNOWN]++;
	/* Writes KVM queued come first: they happened before this exit. */
	coalesced_deliver(vm);
	switch (reason) {
	case KVM_EXIT_IO:
		count_site(vcpu, false, run->io.port);
		handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		count_site(vcpu, true, run->mmio.phys_addr);
		handle_mmio(vcpu);
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; nothing to wait for here. */
		return true;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault.  Old PCs reset this way, but Linux reboots
		 * here through the ACPI reset register (directly, or from the
		 * reset-vector stub its "BIOS" reboot jumps to), so this is a
		 * guest that crashed, and users who check only the status
		 * must see a failure. */
		vm_stop_msg(vm, VM_EXIT_GUEST_CRASH,
			    "vCPU %u: the guest crashed (triple fault: KVM_EXIT_SHUTDOWN)",
			    vcpu->id);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
		case KVM_SYSTEM_EVENT_RESET:
			vm_stop(vm, 0);
			break;
		case KVM_SYSTEM_EVENT_CRASH:
			vm_stop_msg(vm, VM_EXIT_GUEST_CRASH,
				    "vCPU %u: the guest reported a crash (KVM_SYSTEM_EVENT_CRASH)",
				    vcpu->id);
			break;
		default:
			vm_fail(vm, "vCPU %u: guest system event %u (crash)", vcpu->id,
				run->system_event.type);
		}
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vm_fail(vm, "vCPU %u: KVM could not enter the guest (hardware reason 0x%llx)",
			vcpu->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		vm_fail(vm, "vCPU %u: KVM internal error, suberror %u%s", vcpu->id,
			run->internal.suberror,
			run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				? " (instruction emulation failed)"
				: "");
		return false;
	default:
		vm_fail(vm, "vCPU %u: unexpected KVM exit reason %u", vcpu->id, reason);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

	if (vcpu->id == 0)
		vm->first_run_ns = vm_now_ns();
	while (!atomic_load(&vm->stopping)) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				vcpu->exits[VCPU_EXIT_INTR]++;
				continue;
			}
			vm_fail(vm, "vCPU %u: KVM_RUN: %s", vcpu->id, strerror(errno));
			break;
		}
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	static const struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t kick, old;

	if (sigaction(KICK_SIGNAL, &sa, NULL) < 0)
		return err_errno("sigaction");
	/* Threads inherit the mask: keep the kick blocked everywhere except
	 * in vCPU threads, which unblock it themselves. */
	sigemptyset(&kick);
	sigaddset(&kick, KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &kick, &old);
	char name[16];
	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	if (thread_spawn(&vcpu->thread, name, SECCOMP_VCPU, vcpu_thread, vcpu))
		return -1;
	vcpu->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->started)
		return;
	/* immediate_exit covers the window where the thread is between its
	 * stop check and KVM_RUN; the signal covers a thread inside it. */
	vcpu->run->immediate_exit = 1;
	pthread_kill(vcpu->thread, KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (!vcpu->started)
		return;
	pthread_join(vcpu->thread, NULL);
	vcpu->started = false;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
