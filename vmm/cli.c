/* Command-line parsing for vmm: options, sizes, defaults and usage text. */
#include "vmm/cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "vmm/disk_config.h"
#include "vmm/version.h"

void cli_usage(FILE *out)
{
	fprintf(out,
		"usage: vmm --kernel PATH [--initrd PATH] [--cmdline STRING] [--cpus N]\n"
		"           [--memory SIZE] [--disk path=FILE[,readonly=on][,direct=on]]...\n"
		"           [--stats[=text|json]] [--stats-file PATH] [--seccomp=on|off]\n"
		"       vmm --check-host | --help | --version\n"
		"\n"
		"Boots a Linux kernel in a KVM virtual machine with a serial console on\n"
		"stdin/stdout (Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A).\n"
		"\n"
		"  --kernel PATH     Linux kernel to boot (required): on x86-64 a bzImage, or\n"
		"                    a vmlinux with a PVH entry (CONFIG_PVH; boots without\n"
		"                    the decompressor); on arm64 an Image\n"
		"  --initrd PATH     initial ramdisk loaded for the kernel\n"
		"  --cmdline STRING  kernel command line (default: \"%s\")\n"
		"  --cpus N          number of vCPUs, 1..%d (default: %d)\n"
		"  --memory SIZE     guest RAM; suffix K, M, G or T, bare numbers are MiB\n"
		"                    (default: 512M)\n"
		"  --disk path=FILE[,readonly=on][,direct=on][,serial=ID][,queues=N]\n"
		"                    a virtio-blk disk backed by FILE (an image or a block\n"
		"                    device); repeatable: /dev/vda, /dev/vdb, ... in order\n"
		"                    (at most %d).  readonly=on: the guest cannot write;\n"
		"                    direct=on: O_DIRECT, no host page cache; serial: the\n"
		"                    GET_ID string (default: derived from the file);\n"
		"                    queues: request queues, each with an I/O thread,\n"
		"                    1..%d (default: one per vCPU).\n"
		"                    Writable disks are locked against other writers.\n"
		"  --stats[=FORMAT]  at exit, print the time to the first KVM_RUN, the exits\n"
		"                    to user space per reason and each disk's requests,\n"
		"                    kicks and interrupts on stderr; FORMAT text (default)\n"
		"                    or json (one JSON object)\n"
		"  --stats-file PATH write the statistics to PATH instead of stderr (alone:\n"
		"                    as JSON)\n"
		"  --seccomp=on|off  the seccomp-bpf sandbox: each thread may make only the\n"
		"                    system calls its job needs, and any other ends vmm\n"
		"                    with a line naming the call (default: on; off is for\n"
		"                    debugging)\n"
		"  --check-host      check that this host can run vmm and boot stock Linux\n"
		"                    guests (/dev/kvm, capabilities, kind of KVM); exit 0\n"
		"                    when it can, 1 when not\n"
		"  --help            print this help and exit\n"
		"  --version         print the version and exit\n"
		"\n"
		"Exit status: 0 when the guest powers off or reboots (or the value written\n"
		"to the debug-exit port 0xf4, see vmm(1)), 1 on a runtime error, 2 on a\n"
		"usage error, 100 when the guest crashed (triple fault), 101 when its\n"
		"kernel panicked (pvpanic), 128+N when signal N stopped vmm (159: a\n"
		"system call the seccomp sandbox forbids).\n",
		CLI_DEFAULT_CMDLINE, CLI_MAX_CPUS, CLI_DEFAULT_CPUS, CLI_MAX_DISKS,
		DISK_MAX_QUEUES);
}

int cli_parse_size(const char *s, uint64_t *bytes)
{
	const char *p = s;
	uint64_t n = 0;
	unsigned int shift = 20;

	if (!isdigit((unsigned char)*p))
		return err_set(
			"invalid memory size '%s': expected a number with an optional K, M, G or T suffix",
			s);
	for (; isdigit((unsigned char)*p); p++) {
		unsigned int d = (unsigned int)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return err_set("memory size '%s' is too large", s);
		n = n * 10 + d;
	}
	if (*p) {
		switch (toupper((unsigned char)*p)) {
		case 'K':
			shift = 10;
			break;
		case 'M':
			shift = 20;
			break;
		case 'G':
			shift = 30;
			break;
		case 'T':
			shift = 40;
			break;
		default:
			return err_set("invalid memory size '%s': unknown suffix '%s'", s, p);
		}
		p++;
		if (strcasecmp(p, "") && strcasecmp(p, "iB") && strcasecmp(p, "B"))
			return err_set("invalid memory size '%s': unknown suffix", s);
	}
	if (n == 0)
		return err_set("memory size must not be 0");
	if (n > (UINT64_MAX >> shift))
		return err_set("memory size '%s' is too large", s);
	n <<= shift;
	if (n & 0xfff)
		return err_set("memory size '%s' is not a multiple of 4 KiB", s);
	*bytes = n;
	return 0;
}

static int parse_cpus(const char *s, unsigned int *cpus)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return err_set("invalid --cpus '%s': expected a number from 1 to %d", s,
			       CLI_MAX_CPUS);
	unsigned long v = strtoul(s, &end, 10);
	if (*end || errno)
		return err_set("invalid --cpus '%s': expected a number from 1 to %d", s,
			       CLI_MAX_CPUS);
	if (v == 0 || v > CLI_MAX_CPUS)
		return err_set("--cpus %s is out of range: 1 to %d", s, CLI_MAX_CPUS);
	*cpus = (unsigned int)v;
	return 0;
}

static int parse_disk(const char *s, struct vm_config *cfg)
{
	if (cfg->ndisks == CLI_MAX_DISKS)
		return err_set("too many --disk options: at most %d", CLI_MAX_DISKS);
	if (disk_config_parse(s, &cfg->disks[cfg->ndisks]))
		return -1;
	cfg->ndisks++;
	return 0;
}

enum cli_result cli_parse(int argc, char **argv, struct vm_config *cfg, FILE *out)
{
	enum {
		OPT_KERNEL = 256,
		OPT_INITRD,
		OPT_CMDLINE,
		OPT_CPUS,
		OPT_MEMORY,
		OPT_DISK,
		OPT_STATS,
		OPT_STATS_FILE,
		OPT_SECCOMP,
		OPT_CHECK_HOST,
		OPT_HELP,
		OPT_VERSION
	};
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "stats", optional_argument, NULL, OPT_STATS },
		{ "stats-file", required_argument, NULL, OPT_STATS_FILE },
		{ "seccomp", required_argument, NULL, OPT_SECCOMP },
		{ "check-host", no_argument, NULL, OPT_CHECK_HOST },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};

	bool check_host = false;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = CLI_DEFAULT_CMDLINE;
	cfg->cpus = CLI_DEFAULT_CPUS;
	cfg->memory = CLI_DEFAULT_MEMORY;
	cfg->seccomp = true;
	/* getopt keeps global state; reset it so tests can parse repeatedly. */
	optind = 0;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, ":", opts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case OPT_KERNEL:
			cfg->kernel = optarg;
			break;
		case OPT_INITRD:
			cfg->initrd = optarg;
			break;
		case OPT_CMDLINE:
			cfg->cmdline = optarg;
			break;
		case OPT_CPUS:
			if (parse_cpus(optarg, &cfg->cpus))
				return CLI_USAGE;
			break;
		case OPT_MEMORY:
			if (cli_parse_size(optarg, &cfg->memory))
				return CLI_USAGE;
			break;
		case OPT_DISK:
			if (parse_disk(optarg, cfg))
				return CLI_USAGE;
			break;
		case OPT_STATS:
			if (optarg && strcmp(optarg, "text") && strcmp(optarg, "json")) {
				err_set("invalid --stats=%s: expected text or json", optarg);
				return CLI_USAGE;
			}
			cfg->stats = true;
			cfg->stats_json = optarg && !strcmp(optarg, "json");
			break;
		case OPT_STATS_FILE:
			if (optarg[0] == '\0') {
				err_set("--stats-file needs a path");
				return CLI_USAGE;
			}
			cfg->stats_file = optarg;
			break;
		case OPT_SECCOMP:
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				err_set("invalid --seccomp=%s: expected on or off", optarg);
				return CLI_USAGE;
			}
			cfg->seccomp = !strcmp(optarg, "on");
			break;
		case OPT_CHECK_HOST:
			check_host = true;
			break;
		case OPT_HELP:
			cli_usage(out);
			return CLI_DONE;
		case OPT_VERSION:
			fprintf(out, "vmm %s\n", vmm_version);
			return CLI_DONE;
		case ':':
			err_set("option '%s' needs an argument", argv[optind - 1]);
			return CLI_USAGE;
		default:
			err_set("unknown option '%s' (try --help)", argv[optind - 1]);
			return CLI_USAGE;
		}
	}
	if (optind < argc) {
		err_set("unexpected argument '%s' (try --help)", argv[optind]);
		return CLI_USAGE;
	}
	if (check_host)
		return CLI_CHECK_HOST;
	/* A file is for a program to read: alone, it gets the JSON. */
	if (cfg->stats_file && !cfg->stats) {
		cfg->stats = true;
		cfg->stats_json = true;
	}
	if (cfg->kernel == NULL || cfg->kernel[0] == '\0') {
		err_set("--kernel PATH is required (try --help)");
		return CLI_USAGE;
	}
	if (cfg->initrd && cfg->initrd[0] == '\0') {
		err_set("--initrd needs a path");
		return CLI_USAGE;
	}
	return CLI_RUN;
}
