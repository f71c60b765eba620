/*
 * The seccomp-bpf sandbox: one filter per kind of thread, installed by each
 * thread once its set-up is done (files open, memory mapped, rings
 * created), allowing only the system calls that kind makes from then on.
 * A forbidden call ends vmm at once with one line naming the call and the
 * thread kind, and exit status SECCOMP_EXIT_STATUS.
 *
 * Filters stack: a thread inherits its creator's filter and adds its own,
 * and the strictest verdict wins.  vCPU threads start the virtio-blk I/O
 * threads (when the guest sets DRIVER_OK), so the vCPU filter also allows
 * what an I/O thread does; the I/O filter then narrows it to that alone.
 */
#ifndef CORE_SECCOMP_H
#define CORE_SECCOMP_H

#include <signal.h>
#include <stdbool.h>

enum seccomp_kind {
	SECCOMP_MAIN, /* the event loop, after the vCPUs have started */
	SECCOMP_VCPU, /* KVM_RUN and device emulation */
	SECCOMP_IO,   /* a virtio-blk queue's I/O thread */
	SECCOMP_KINDS
};

/* 128 + SIGSYS, like any death by signal: what a forbidden call ends with. */
#define SECCOMP_EXIT_STATUS (128 + SIGSYS)

/*
 * Process-wide, once, in the main thread before any other thread starts:
 * with on, builds every kind's filter, installs the SIGSYS handler that
 * reports a forbidden call and sets no_new_privs; without, seccomp_enter
 * does nothing.  0, or -1 with err_msg() set.
 */
int seccomp_prepare(bool on);

/* Installs kind's filter in the calling thread (and the threads it starts
 * later).  0 (also when the sandbox is off), or -1 with err_msg() set. */
int seccomp_enter(enum seccomp_kind kind);

/* "main", "vCPU", "I/O": how messages name a kind. */
const char *seccomp_kind_name(enum seccomp_kind kind);

#endif
