/*
 * One vCPU: its KVM file descriptor, the shared kvm_run page, the thread
 * running the KVM_RUN loop and the per-reason count of exits to user space.
 */
#ifndef CORE_VCPU_H
#define CORE_VCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;
struct kvm_run;

/* KVM exit reasons are small integers; one more slot counts interruptions
 * (KVM_RUN returning EINTR, e.g. after a kick). */
#define VCPU_EXIT_REASONS 64
#define VCPU_EXIT_INTR	  VCPU_EXIT_REASONS

/* Exits to user space by where they went, for --stats: a port, or the
 * 4 KiB page of an MMIO address (a virtio BAR's structures each have
 * their own page).  The first VCPU_EXIT_SITES places get a slot; the
 * rest are counted together.  Written by the vCPU thread only. */
#define VCPU_EXIT_SITES	    32
#define VCPU_EXIT_SITE_PAGE 4096

struct vcpu_exit_site {
	bool mmio;
	uint64_t addr;
	uint64_t count;
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	uint64_t exits[VCPU_EXIT_REASONS + 1];
	struct vcpu_exit_site sites[VCPU_EXIT_SITES];
	unsigned int nsites;
	uint64_t sites_other; /* exits to places without a slot */
};

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id);
int vcpu_start(struct vcpu *vcpu);
/* Makes the thread leave KVM_RUN now (immediate_exit + a signal). */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);

/* Name of a counter slot for --stats ("io", "mmio", ..., "intr"). */
const char *vcpu_exit_name(unsigned int reason);

/* Handles one exit that KVM_RUN returned; false when the vCPU must stop.
 * Exposed so unit tests can drive the dispatch with a fake kvm_run. */
bool vcpu_handle_exit(struct vcpu *vcpu);

#endif
