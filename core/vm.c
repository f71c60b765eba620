/* KVM VM lifecycle: capability checks, guest RAM, vCPUs, stopping. */
#include "core/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/arch.h"
#include "core/err.h"
#include "core/vcpu.h"

#define KVM_DEV "/dev/kvm"

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
};

static int check_kvm(struct vm *vm)
{
	int v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION)
		return err_set(KVM_DEV ": KVM API version %d, need %d", v, KVM_API_VERSION);
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0)
			return err_set(KVM_DEV ": missing capability %s", required_caps[i].name);
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	vm->max_vcpus = max > 0 ? (unsigned int)max : 4;
	int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return err_errno("KVM_GET_VCPU_MMAP_SIZE");
	vm->run_size = (size_t)size;
	return arch_check_kvm(vm->kvm_fd);
}

static int map_ram(struct vm *vm, uint64_t size)
{
	struct ram_bank *banks = vm->banks;
	int n = arch_ram_banks(size, banks, GUEST_MEM_MAX_REGIONS);
	if (n < 0)
		return -1;
	vm->nbanks = (unsigned int)n;
	uint64_t top = banks[n - 1].gpa + banks[n - 1].size;
	uint64_t max = arch_max_ram_top(vm);
	if (top > max)
		return err_set(
			"--memory %llu MiB does not fit in the guest's physical address space (RAM would end at 0x%llx, limit 0x%llx)",
			(unsigned long long)(size >> 20), (unsigned long long)top,
			(unsigned long long)max);
	if (size > SIZE_MAX)
		return err_set("--memory %llu MiB is larger than this host can map",
			       (unsigned long long)(size >> 20));
	/* Reserve address space only: pages are faulted in as the guest
	 * touches them, so start-up does not grow with the memory size.
	 * 2 MiB aligned (the slack is unmapped again): a transparent huge
	 * page can back guest RAM only where host and guest addresses are
	 * aligned alike, and only then can KVM map it with large pages.  An
	 * mmap() of this size is page aligned only (Linux before 6.7). */
	if (size > SIZE_MAX - VM_RAM_ALIGN)
		return err_set("--memory %llu MiB is larger than this host can map",
			       (unsigned long long)(size >> 20));
	size_t span = (size_t)size + VM_RAM_ALIGN;
	uint8_t *raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return err_errno("cannot map %llu MiB of guest memory",
				 (unsigned long long)(size >> 20));
	uint8_t *p =
		(uint8_t *)(((uintptr_t)raw + VM_RAM_ALIGN - 1) & ~(uintptr_t)(VM_RAM_ALIGN - 1));
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	if (raw + span > p + size)
		munmap(p + size, (size_t)(raw + span - (p + size)));
	vm->ram = p;
	/* Transparent huge pages cut the cost of the guest's page walks; the
	 * hint is optional (THP may be disabled), so its failure is not. */
	(void)madvise(p, (size_t)size, MADV_HUGEPAGE);

	uint64_t off = 0;
	for (int i = 0; i < n; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = (uint32_t)i,
			.guest_phys_addr = banks[i].gpa,
			.memory_size = banks[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)(vm->ram + off),
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return err_errno(
				"KVM refused guest RAM at 0x%llx+0x%llx (KVM_SET_USER_MEMORY_REGION)",
				(unsigned long long)r.guest_phys_addr,
				(unsigned long long)r.memory_size);
		if (guest_mem_add(&vm->mem, banks[i].gpa, banks[i].size, vm->ram + off))
			return err_set("guest memory bank 0x%llx+0x%llx is invalid",
				       (unsigned long long)banks[i].gpa,
				       (unsigned long long)banks[i].size);
		off += banks[i].size;
	}
	return 0;
}

uint64_t vm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int vm_create(struct vm *vm, unsigned int cpus, uint64_t memory)
{
	uint64_t start = vm->start_ns;
	memset(vm, 0, sizeof(*vm));
	vm->start_ns = start ? start : vm_now_ns();
	vm->kvm_fd = vm->vm_fd = vm->stop_fd = -1;
	atomic_init(&vm->stopping, false);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");

	vm->kvm_fd = open(KVM_DEV, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		err_errno(KVM_DEV);
		goto fail;
	}
	if (check_kvm(vm))
		goto fail;
	if (cpus > vm->max_vcpus) {
		err_set("%u vCPUs: KVM allows at most %u", cpus, vm->max_vcpus);
		goto fail;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		err_errno("KVM_CREATE_VM");
		goto fail;
	}
	vm->coalesced.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	coalesced_probe(vm);
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0) {
		err_errno("eventfd");
		goto fail;
	}
	vm->ram_size = memory;
	if (arch_vm_init(vm))
		goto fail;
	if (map_ram(vm, memory))
		goto fail;
	vm->vcpus = calloc(cpus, sizeof(*vm->vcpus));
	if (vm->vcpus == NULL) {
		err_set("out of memory");
		goto fail;
	}
	for (unsigned int i = 0; i < cpus; i++) {
		if (vcpu_create(vm, &vm->vcpus[i], i))
			goto fail;
		vm->ncpus++;
	}
	return 0;
fail:
	vm_destroy(vm);
	return -1;
}

int vm_start(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->ncpus; i++)
		if (vcpu_start(&vm->vcpus[i]))
			return -1;
	return 0;
}

void vm_stop(struct vm *vm, int status)
{
	bool expected = false;
	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, true))
		return;
	vm->exit_status = status;
	uint64_t one = 1;
	/* An eventfd write only fails when the counter would overflow. */
	if (write(vm->stop_fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

static void stop_msg(struct vm *vm, int status, const char *fmt, va_list ap)
{
	bool expected = false;
	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, true))
		return;
	vsnprintf(vm->fail_msg, sizeof(vm->fail_msg), fmt, ap);
	vm->exit_status = status;
	uint64_t one = 1;
	if (write(vm->stop_fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

void vm_fail(struct vm *vm, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	stop_msg(vm, 1, fmt, ap);
	va_end(ap);
}

void vm_stop_msg(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	stop_msg(vm, status, fmt, ap);
	va_end(ap);
}

void vm_stop_debug_exit(struct vm *vm, unsigned int value)
{
	if (value == 0 || (value >= VM_EXIT_DEBUG_MIN && value <= VM_EXIT_DEBUG_MAX))
		vm_stop(vm, (int)value);
	else
		vm_stop_msg(vm, VM_EXIT_DEBUG_OTHER,
			    "the guest wrote %u to the debug-exit device (only 0 and %d..%d are "
			    "exit statuses of their own)",
			    value, VM_EXIT_DEBUG_MIN, VM_EXIT_DEBUG_MAX);
}

void vm_join_vcpus(struct vm *vm)
{
	atomic_store(&vm->stopping, true);
	for (unsigned int i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned int i = 0; i < vm->ncpus; i++)
		vcpu_join(&vm->vcpus[i]);
	/* What the guest wrote last, e.g. its final console line. */
	coalesced_deliver(vm);
}

void vm_print_stats(const struct vm *vm, FILE *out)
{
	uint64_t total = 0;
	fprintf(out, "vmm: exits to user space by reason (%u vCPU%s):\n", vm->ncpus,
		vm->ncpus == 1 ? "" : "s");
	if (vm->first_run_ns)
		fprintf(out, "vmm: first KVM_RUN %.3f ms after start\n",
			(double)(vm->first_run_ns - vm->start_ns) / 1e6);
	for (unsigned int r = 0; r <= VCPU_EXIT_REASONS; r++) {
		uint64_t n = 0;
		for (unsigned int i = 0; i < vm->ncpus; i++)
			n += vm->vcpus[i].exits[r];
		if (n == 0)
			continue;
		fprintf(out, "  %-16s %12llu\n", vcpu_exit_name(r), (unsigned long long)n);
		total += n;
	}
	fprintf(out, "  %-16s %12llu\n", "total", (unsigned long long)total);
	if (vm->coalesced.delivered)
		fprintf(out, "vmm: writes coalesced by KVM (no exit): %llu\n",
			(unsigned long long)vm->coalesced.delivered);
}

void vm_destroy(struct vm *vm)
{
	coalesced_destroy(vm); /* its ring is in vCPU 0's mapping */
	if (vm->vcpus) {
		for (unsigned int i = 0; i < vm->ncpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	vm->ncpus = 0;
	arch_vm_destroy(vm);
	if (vm->irq.entries || vm->irq.max_routes)
		irq_routing_destroy(&vm->irq);
	if (vm->ram) {
		munmap(vm->ram, (size_t)vm->ram_size);
		vm->ram = NULL;
	}
	vm->ram_size = 0;
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->stop_fd = vm->vm_fd = vm->kvm_fd = -1;
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
}

void vm_irq_pin_set(void *opaque, int level)
{
	struct vm_irq_pin *pin = opaque;
	if (irq_line(pin->vm->vm_fd, pin->gsi, level))
		vm_fail(pin->vm, "%s", err_msg());
}
