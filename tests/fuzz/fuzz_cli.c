/*
 * Fuzz target for the command-line parser (vmm/cli.c) and the --disk
 * option parser it uses (disk_config_parse): the input, split at NUL bytes,
 * is argv after "vmm"; each piece is also parsed on its own as a size and
 * as a --disk value.
 *
 * Checked: cli_parse returns one of its four results; a usage error comes
 * with a message; an accepted configuration has a kernel, 1..254 vCPUs, a
 * non-zero memory size that is a multiple of 4 KiB, at most 16 disks, each
 * with a NUL-terminated non-empty path and serial, queues in range.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "devices/block/disk.h"
#include "fuzz.h"
#include "vmm/cli.h"
#include "vmm/disk_config.h"

#define MAX_ARGS 64

static void check_disk(const struct disk_config *d)
{
	FUZZ_CHECK(memchr(d->path, 0, sizeof(d->path)) != NULL && d->path[0] != '\0');
	FUZZ_CHECK(memchr(d->serial, 0, sizeof(d->serial)) != NULL);
	FUZZ_CHECK(d->queues <= DISK_MAX_QUEUES);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *out;
	char *buf = malloc(size + 1);
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	struct vm_config cfg;
	enum cli_result r;

	if (out == NULL)
		out = fopen("/dev/null", "w");
	FUZZ_CHECK(buf != NULL && out != NULL);
	memcpy(buf, data, size);
	buf[size] = '\0';
	static char prog[] = "vmm";

	argv[argc++] = prog;
	for (char *p = buf; p < buf + size && argc <= MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;

	for (int i = 1; i < argc; i++) {
		uint64_t bytes;
		struct disk_config dc;

		if (cli_parse_size(argv[i], &bytes) == 0)
			FUZZ_CHECK(bytes != 0 && (bytes & 0xfff) == 0);
		memset(&dc, 0x55, sizeof(dc));
		if (disk_config_parse(argv[i], &dc) == 0)
			check_disk(&dc);
		else
			FUZZ_CHECK(err_msg() != NULL && err_msg()[0] != '\0');
	}

	r = cli_parse(argc, argv, &cfg, out);
	switch (r) {
	case CLI_RUN:
		FUZZ_CHECK(cfg.kernel != NULL && cfg.kernel[0] != '\0');
		FUZZ_CHECK(cfg.initrd == NULL || cfg.initrd[0] != '\0');
		FUZZ_CHECK(cfg.cmdline != NULL);
		FUZZ_CHECK(cfg.cpus >= 1 && cfg.cpus <= CLI_MAX_CPUS);
		FUZZ_CHECK(cfg.memory != 0 && (cfg.memory & 0xfff) == 0);
		FUZZ_CHECK(cfg.ndisks <= CLI_MAX_DISKS);
		for (unsigned int i = 0; i < cfg.ndisks; i++)
			check_disk(&cfg.disks[i]);
		/* --stats=json and --stats-file come with --stats. */
		FUZZ_CHECK(!cfg.stats_json || cfg.stats);
		FUZZ_CHECK(cfg.stats_file == NULL || (cfg.stats && cfg.stats_file[0] != '\0'));
		break;
	case CLI_USAGE:
		FUZZ_CHECK(err_msg() != NULL && err_msg()[0] != '\0');
		break;
	case CLI_DONE:
	case CLI_CHECK_HOST:
		break;
	default:
		FUZZ_CHECK(!"unknown cli_parse result");
	}
	free(buf);
	return 0;
}
