/*
 * The one way the VMM starts a thread (vCPUs, I/O threads).  The threads and
 * who may take which lock:
 *
 *   main      CLI, set-up, then the event loop (console, signals, stop);
 *             owns every signal except the vCPU kick.  Every thread
 *             takes SIGSYS (seccomp.h) itself.
 *   vCPU N    KVM_RUN and the exits to user space: PIO/MMIO dispatch to the
 *             devices, each under its own lock.  It unblocks only the kick
 *             signal (vcpu.c).
 *   blk-io    one per virtio-blk queue: the ring, the block backend, irqfd
 *             writes.  Takes no signals and, on its request path, no lock.
 *
 * Lock order, outermost first: PCI bus (config-space dispatch) -> virtio-pci
 * transport -> virtio-blk device or MSI-X table -> GSI routing table.  The
 * UART's lock is a leaf.
 */
#ifndef CORE_THREAD_H
#define CORE_THREAD_H

#include <pthread.h>

#include "core/seccomp.h"

/* Starts fn(arg) as a thread named "vmm-<name>" (cut to the kernel's 15
 * characters) with every signal blocked; the thread unblocks what it
 * handles itself.  Before fn runs, the thread installs kind's seccomp
 * filter (seccomp.h; nothing when the sandbox is off), and thread_spawn
 * returns only then.  0, or -1 with err_msg() saying which thread failed. */
int thread_spawn(pthread_t *thread, const char *name, enum seccomp_kind kind, void *(*fn)(void *),
		 void *arg);

#endif
