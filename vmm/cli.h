/*
 * Command line -> struct vm_config.  Parsing is separate from main() so the
 * unit tests can feed it every bad input without starting a VM.
 */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/block/disk.h"

#define CLI_DEFAULT_CPUS    1
#define CLI_DEFAULT_MEMORY  (512ULL << 20)
#define CLI_DEFAULT_CMDLINE "console=ttyS0"
/* MADT local-APIC entries carry an 8-bit APIC ID, and 0xff is broadcast. */
#define CLI_MAX_CPUS 254
/* Each disk is a PCI function on bus 0 (31 slots beside the host bridge). */
#define CLI_MAX_DISKS 16

struct vm_config {
	const char *kernel;
	const char *initrd; /* NULL: no initrd */
	const char *cmdline;
	unsigned int cpus;
	uint64_t memory;	/* bytes, a multiple of 4 KiB */
	bool stats;		/* print exit counters at exit */
	bool stats_json;	/* --stats=json: as one JSON object */
	const char *stats_file; /* --stats-file: there, not stderr; NULL: stderr */
	bool seccomp;		/* --seccomp: the sandbox (core/seccomp.h), default on */
	unsigned int ndisks;
	struct disk_config disks[CLI_MAX_DISKS]; /* --disk, in order: vda, vdb, ... */
};

enum cli_result {
	CLI_RUN,	/* config filled in: start the VM */
	CLI_DONE,	/* --help or --version printed: exit 0 */
	CLI_CHECK_HOST, /* --check-host: check the host, exit with its verdict */
	CLI_USAGE,	/* bad usage: err_msg() says why, exit 2 */
};

enum cli_result cli_parse(int argc, char **argv, struct vm_config *cfg, FILE *out);

/*
 * Parses a memory size: a decimal number with an optional K, M, G or T
 * suffix (binary units; "MiB"/"MB" spellings accepted); a bare number means
 * MiB.  Returns -1 (with err_msg set) on garbage, zero, overflow or a size
 * that is not a multiple of 4 KiB.
 */
int cli_parse_size(const char *s, uint64_t *bytes);

void cli_usage(FILE *out);

#endif
