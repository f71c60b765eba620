/*
 * --stats output at exit: the text form (the default, as vm_print_stats and
 * vm_disks_print_stats print it) or one JSON object for CI pipelines, on
 * stderr or in the --stats-file.
 */
#ifndef VMM_STATS_REPORT_H
#define VMM_STATS_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "core/vcpu.h"
#include "vmm/cli.h"

struct vm;
struct vm_disks;

/* What --stats reports, copied out of the VM and its disks. */
struct stats_disk {
	const char *path;
	uint64_t requests, kicks, interrupts;
};

struct stats_snapshot {
	const char *version;
	int exit_status;
	unsigned int vcpus;
	uint64_t memory;		       /* bytes */
	uint64_t start_ns, first_run_ns;       /* first_run_ns 0: never ran */
	uint64_t exits[VCPU_EXIT_REASONS + 1]; /* summed over vCPUs */
	unsigned int ndisks;
	struct stats_disk disks[CLI_MAX_DISKS];
};

void stats_snapshot(struct stats_snapshot *s, const struct vm *vm, const struct vm_disks *ds,
		    const struct vm_config *cfg, int exit_status);

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
