/*
 * The virtual machine: the KVM VM file descriptor, guest RAM and its memory
 * slots, the PIO/MMIO buses, the GSI routing table, the vCPUs, and the one
 * decision every thread may take: stop the VM with an exit status.
 * This is the root object; devices hang off it through the arch code.
 */
#ifndef CORE_VM_H
#define CORE_VM_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "core/bus.h"
#include "core/coalesced.h"
#include "core/guest_mem.h"
#include "core/irq.h"

struct vcpu;

/* One contiguous piece of guest RAM, as laid out by the arch code. */
struct ram_bank {
	uint64_t gpa;
	uint64_t size;
};

/* Guest RAM's host alignment (vm.c): a transparent huge page's size. */
#define VM_RAM_ALIGN (2u << 20)

struct vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size; /* KVM_GET_VCPU_MMAP_SIZE */
	unsigned int max_vcpus;

	uint8_t *ram; /* one mapping for all RAM banks, VM_RAM_ALIGN aligned */
	uint64_t ram_size;
	struct ram_bank banks[GUEST_MEM_MAX_REGIONS]; /* from arch_ram_banks */
	unsigned int nbanks;
	struct guest_mem mem;

	struct bus pio;
	struct bus mmio;
	struct irq_routing irq;
	struct vm_coalesced coalesced; /* writes KVM queues instead of exiting */

	unsigned int ncpus;
	struct vcpu *vcpus;

	/* Stopping: the first vm_stop() wins and sets the status; the main
	 * thread waits on stop_fd (an eventfd), then stops the vCPUs. */
	atomic_bool stopping;
	int exit_status;
	char fail_msg[512]; /* set by vm_fail(), printed by main */
	int stop_fd;

	/* Start-up time (--stats): CLOCK_MONOTONIC when main started and
	 * when the boot vCPU first entered KVM_RUN, in ns. */
	uint64_t start_ns;
	uint64_t first_run_ns;

	void *arch; /* owned by arch/ */
};

/* CLOCK_MONOTONIC in ns. */
uint64_t vm_now_ns(void);

/*
 * Opens /dev/kvm, checks the API version and the capabilities we rely on,
 * creates the VM, maps guest RAM (memory bytes, not pre-faulted) and
 * registers it, then lets the arch code create the irqchip and create the
 * vCPUs.  On failure err_msg() says why and everything is released.
 */
int vm_create(struct vm *vm, unsigned int cpus, uint64_t memory);

/* Starts one thread per vCPU running KVM_RUN. */
int vm_start(struct vm *vm);

/* Asks the VM to stop with status (first caller wins).  Any thread. */
void vm_stop(struct vm *vm, int status);

/* Stops the VM with status 1 and records "what failed and why" for main
 * to print (first failure wins).  Any thread. */
void vm_fail(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * vmm's exit statuses (README, vmm(1)), each with one meaning:
 *   0        the guest powered off or rebooted (or debug-exit 0)
 *   1, 2     a runtime error, a usage error (vmm/main.c)
 *   3..99    the value the guest wrote to the debug-exit device
 *   100      the guest crashed (triple fault, crash event)
 *   101      the guest kernel panicked (pvpanic)
 *   102      a debug-exit value that would read as one of vmm's own
 *            statuses (1, 2, 100..255); a line names it
 *   128 + N  stopped by signal N; 159 (SIGSYS): a system call the seccomp
 *            sandbox forbids (core/seccomp.h)
 */
#define VM_EXIT_DEBUG_MIN   3
#define VM_EXIT_DEBUG_MAX   99
#define VM_EXIT_GUEST_CRASH 100 /* triple fault (KVM_EXIT_SHUTDOWN), crash event */
#define VM_EXIT_GUEST_PANIC 101 /* the guest kernel reported a panic (pvpanic) */
#define VM_EXIT_DEBUG_OTHER 102 /* debug-exit value outside 0, 3..99 */

/* The guest wrote value to the debug-exit device: stops the VM with the
 * status above that value maps to.  Any thread. */
void vm_stop_debug_exit(struct vm *vm, unsigned int value);

/* vm_stop() with a line saying why, printed by main like vm_fail's. */
void vm_stop_msg(struct vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Kicks every vCPU out of KVM_RUN and joins the threads.  Main thread. */
void vm_join_vcpus(struct vm *vm);

/* Prints the exits to user space per reason, summed over vCPUs. */
void vm_print_stats(const struct vm *vm, FILE *out);

void vm_destroy(struct vm *vm);

/* An interrupt line for a device's ops table: KVM_IRQ_LINE on gsi.  A
 * failing ioctl stops the VM (vm_fail): the guest cannot run without it. */
struct vm_irq_pin {
	struct vm *vm;
	uint32_t gsi;
};
void vm_irq_pin_set(void *pin, int level);

#endif
