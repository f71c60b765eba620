/*
 * --stats output at exit: the text form (the default, as vm_print_stats and
 * vm_disks_print_stats print it) or one JSON object for CI pipelines, on
 * stderr or in the --stats-file.
 */
#ifndef VMM_STATS_REPORT_H
#define VMM_STATS_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "core/kvm_stats.h"
#include "core/vcpu.h"
#include "vmm/cli.h"

struct vm;
struct vm_disks;

/* What --stats reports, copied out of the VM and its disks. */
struct stats_disk {
	const char *path;
	uint64_t requests, kicks, interrupts;
};

/* KVM's own nonzero scalar statistics of the VM or of one vCPU. */
#define STATS_KVM_MAX 128
struct stats_kvm {
	unsigned int n;
	struct {
		char name[KVM_STAT_NAME_MAX];
		uint64_t value;
	} c[STATS_KVM_MAX];
};

/* Places exits went to, summed over vCPUs (see struct vcpu_exit_site). */
#define STATS_SITES 64

struct stats_snapshot {
	const char *version;
	int exit_status;
	unsigned int vcpus;
	uint64_t memory;		       /* bytes */
	uint64_t start_ns, first_run_ns;       /* first_run_ns 0: never ran */
	uint64_t exits[VCPU_EXIT_REASONS + 1]; /* summed over vCPUs */
	unsigned int ndisks;
	struct stats_disk disks[CLI_MAX_DISKS];
	unsigned int nsites; /* most exits first */
	struct vcpu_exit_site sites[STATS_SITES];
	uint64_t sites_other;
	/* KVM_GET_STATS_FD, allocated; NULL where the kernel has none. */
	struct stats_kvm *kvm_vm;
	struct stats_kvm *kvm_vcpus; /* kvm_nvcpus of them */
	unsigned int kvm_nvcpus;
};

void stats_snapshot(struct stats_snapshot *s, const struct vm *vm, const struct vm_disks *ds,
		    const struct vm_config *cfg, int exit_status);
/* Frees what stats_snapshot allocated (the KVM statistics). */
void stats_snapshot_release(struct stats_snapshot *s);

/* The places and KVM statistics in the text form of --stats. */
void stats_print_text_extra(const struct stats_snapshot *s, FILE *out);

/* One JSON object and a newline. */
void stats_print_json(const struct stats_snapshot *s, FILE *out);

/* Where the statistics go: stderr, or the --stats-file, opened (and
 * truncated) before the guest starts so a bad path fails early.  NULL with
 * err_msg() set when it cannot be opened. */
FILE *stats_open(const struct vm_config *cfg);

/* Writes the statistics in cfg's format to out and closes out unless it is
 * stderr.  -1 with err_msg() set when the file could not be written. */
int stats_report(FILE *out, const struct vm_config *cfg, const struct vm *vm,
		 const struct vm_disks *ds, int exit_status);

#endif
