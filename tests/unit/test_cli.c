/*
 * CLI parsing: defaults, every option, --help/--version, and every bad
 * input the issue lists (missing kernel, --cpus 0 or too many, memory 0,
 * garbage, overflow), each with its one clear message and usage status.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/util.h"
#include "unit_main.h"
#include "vmm/cli.h"
#include "vmm/version.h"

static enum cli_result parse(struct vm_config *cfg, const char **args)
{
	char *argv[64];
	int argc = 0;
	argv[argc++] = (char *)"vmm";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	FILE *out = fopen("/dev/null", "w");
	enum cli_result r = cli_parse(argc, argv, cfg, out);
	fclose(out);
	return r;
}

#define PARSE(cfg, ...) parse(cfg, (const char *[]){ __VA_ARGS__, NULL })

START_TEST(defaults)
{
	struct vm_config c;
	ck_assert_int_eq(PARSE(&c, "--kernel", "bz"), CLI_RUN);
	ck_assert_str_eq(c.kernel, "bz");
	ck_assert_ptr_null(c.initrd);
	ck_assert_uint_eq(c.cpus, 1);
	ck_assert_uint_eq(c.memory, 512ULL << 20);
	ck_assert_ptr_nonnull(strstr(c.cmdline, "console=ttyS0"));
	ck_assert(!c.stats);
}
END_TEST

START_TEST(all_options)
{
	struct vm_config c;
	ck_assert_int_eq(PARSE(&c, "--kernel", "k", "--initrd", "i", "--cmdline", "a b", "--cpus",
			       "4", "--memory", "2G", "--stats"),
			 CLI_RUN);
	ck_assert_str_eq(c.initrd, "i");
	ck_assert_str_eq(c.cmdline, "a b");
	ck_assert_uint_eq(c.cpus, 4);
	ck_assert_uint_eq(c.memory, 2ULL << 30);
	ck_assert(c.stats);
	/* --opt=value works as well. */
	ck_assert_int_eq(PARSE(&c, "--kernel=k", "--cpus=2", "--memory=768M"), CLI_RUN);
	ck_assert_uint_eq(c.cpus, 2);
	ck_assert_uint_eq(c.memory, 768ULL << 20);
}
END_TEST

START_TEST(help_version)
{
	struct vm_config c;
	ck_assert_int_eq(PARSE(&c, "--help"), CLI_DONE);
	ck_assert_int_eq(PARSE(&c, "--version"), CLI_DONE);
	char buf[8192] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	char *argv[] = { (char *)"vmm", (char *)"--help", NULL };
	ck_assert_int_eq(cli_parse(2, argv, &c, f), CLI_DONE);
	fclose(f);
	/* --help documents every option. */
	const char *opts[] = { "--kernel",  "--initrd",		"--cmdline",	"--cpus",
			       "--memory",  "--disk",		"readonly=on",	"direct=on",
			       "--stats",   "--stats-file",	"--check-host", "--help",
			       "--version", "--seccomp=on|off", "159" };
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		ck_assert_msg(strstr(buf, opts[i]), "help lacks %s", opts[i]);
}
END_TEST

static void bad(const char **args, const char *msg_part)
{
	struct vm_config c;
	ck_assert_int_eq(parse(&c, args), CLI_USAGE);
	ck_assert_msg(strstr(err_msg(), msg_part), "message '%s' lacks '%s'", err_msg(), msg_part);
}
#define BAD(part, ...) bad((const char *[]){ __VA_ARGS__, NULL }, part)

START_TEST(bad_inputs)
{
	BAD("--kernel PATH is required", "--cpus", "2");
	BAD("--kernel PATH is required", "--kernel", "");
	BAD("out of range", "--kernel", "k", "--cpus", "0");
	BAD("out of range", "--kernel", "k", "--cpus", "255");
	BAD("invalid --cpus", "--kernel", "k", "--cpus", "100000000000000000000");
	BAD("invalid --cpus", "--kernel", "k", "--cpus", "two");
	BAD("invalid --cpus", "--kernel", "k", "--cpus", "-1");
	BAD("invalid --cpus", "--kernel", "k", "--cpus", "2x");
	BAD("must not be 0", "--kernel", "k", "--memory", "0");
	BAD("must not be 0", "--kernel", "k", "--memory", "0G");
	BAD("invalid memory size", "--kernel", "k", "--memory", "lots");
	BAD("invalid memory size", "--kernel", "k", "--memory", "-5M");
	BAD("unknown suffix", "--kernel", "k", "--memory", "5X");
	BAD("unknown suffix", "--kernel", "k", "--memory", "5Mxyz");
	BAD("too large", "--kernel", "k", "--memory", "99999999999999999999");
	BAD("too large", "--kernel", "k", "--memory", "17000000000T");
	BAD("multiple of 4 KiB", "--kernel", "k", "--memory", "1001K");
	BAD("needs an argument", "--kernel");
	BAD("unknown option", "--kernel", "k", "--frobnicate");
	BAD("unexpected argument", "--kernel", "k", "extra");
	BAD("missing path=", "--kernel", "k", "--disk", "readonly=on");
	BAD("unknown option 'bogus'", "--kernel", "k", "--disk", "path=a,bogus=1");
	BAD("expected on or off", "--kernel", "k", "--disk", "path=a,readonly=yes");
	BAD("given twice", "--kernel", "k", "--disk", "path=a,path=b");
	BAD("path is empty", "--kernel", "k", "--disk", "path=");
	BAD("from 1 to 16", "--kernel", "k", "--disk", "path=a,queues=0");
	BAD("needs an argument", "--kernel", "k", "--disk");
	/* Empty or odd values, overlong strings. */
	BAD("--initrd needs a path", "--kernel", "k", "--initrd", "");
	BAD("invalid --cpus", "--kernel", "k", "--cpus", "");
	BAD("invalid --cpus", "--kernel", "k", "--cpus", " 2");
	BAD("invalid memory size", "--kernel", "k", "--memory", "");
	BAD("unknown suffix", "--kernel", "k", "--memory", "1.5G");
	BAD("needs an argument", "--kernel", "k", "--cmdline");
	BAD("empty option", "--kernel", "k", "--disk", "");
	BAD("empty option", "--kernel", "k", "--disk", "path=a,,readonly=on");
	BAD("empty option", "--kernel", "k", "--disk", "path=a,");
	BAD("not key=value", "--kernel", "k", "--disk", "/tmp/disk.img");
	BAD("serial: must be 1 to", "--kernel", "k", "--disk", "path=a,serial=");
	BAD("serial: must be 1 to", "--kernel", "k", "--disk",
	    "path=a,serial=123456789012345678901");
	BAD("printable", "--kernel", "k", "--disk", "path=a,serial=a\tb");
	BAD("from 1 to 16", "--kernel", "k", "--disk", "path=a,queues=99999999999999999999");
	BAD("from 1 to 16", "--kernel", "k", "--disk", "path=a,queues=-1");
	BAD("from 1 to 16", "--kernel", "k", "--disk", "path=a,queues=");
	static char longpath[8192];
	memset(longpath, 'a', sizeof(longpath) - 1);
	memcpy(longpath, "path=", 5);
	BAD("too long", "--kernel", "k", "--disk", longpath);
	longpath[DISK_PATH_MAX + 5] = '\0';
	BAD("path is too long", "--kernel", "k", "--disk", longpath);
}
END_TEST

/* --seccomp=on|off: the sandbox, on unless turned off. */
START_TEST(seccomp_option)
{
	struct vm_config c;
	ck_assert_int_eq(PARSE(&c, "--kernel", "k"), CLI_RUN);
	ck_assert(c.seccomp);
	ck_assert_int_eq(PARSE(&c, "--kernel", "k", "--seccomp=off"), CLI_RUN);
	ck_assert(!c.seccomp);
	ck_assert_int_eq(PARSE(&c, "--kernel", "k", "--seccomp=off", "--seccomp", "on"), CLI_RUN);
	ck_assert(c.seccomp);
	BAD("expected on or off", "--kernel", "k", "--seccomp=maybe");
	BAD("expected on or off", "--kernel", "k", "--seccomp=");
	BAD("expected on or off", "--kernel", "k", "--seccomp=OFF");
	BAD("needs an argument", "--kernel", "k", "--seccomp");
}
END_TEST

START_TEST(disks)
{
	static struct vm_config c;
	ck_assert_int_eq(PARSE(&c, "--kernel", "k", "--disk", "path=root.img,readonly=on", "--disk",
			       "path=/dev/sdz,direct=on,serial=abc,queues=3"),
			 CLI_RUN);
	ck_assert_uint_eq(c.ndisks, 2);
	ck_assert_str_eq(c.disks[0].path, "root.img");
	ck_assert(c.disks[0].readonly && !c.disks[0].direct);
	ck_assert_str_eq(c.disks[1].path, "/dev/sdz");
	ck_assert(!c.disks[1].readonly && c.disks[1].direct);
	ck_assert_str_eq(c.disks[1].serial, "abc");
	ck_assert_uint_eq(c.disks[0].queues, 0);
	ck_assert_uint_eq(c.disks[1].queues, 3);
	/* A new parse starts from no disks. */
	ck_assert_int_eq(PARSE(&c, "--kernel", "k"), CLI_RUN);
	ck_assert_uint_eq(c.ndisks, 0);
	/* More disks than there are slots for. */
	const char *args[2 + 2 * (CLI_MAX_DISKS + 1) + 1];
	int n = 0;
	args[n++] = "--kernel";
	args[n++] = "k";
	for (int i = 0; i <= CLI_MAX_DISKS; i++) {
		args[n++] = "--disk";
		args[n++] = "path=x";
	}
	args[n] = NULL;
	ck_assert_int_eq(parse(&c, args), CLI_USAGE);
	ck_assert_ptr_nonnull(strstr(err_msg(), "too many --disk"));
}
END_TEST

/* --stats[=text|json], --stats-file (alone: JSON), --check-host. */
START_TEST(stats_and_check_host)
{
	struct vm_config c;
	ck_assert_int_eq(PARSE(&c, "--kernel", "k", "--stats"), CLI_RUN);
	ck_assert(c.stats && !c.stats_json && c.stats_file == NULL);
	ck_assert_int_eq(PARSE(&c, "--kernel", "k", "--stats=text"), CLI_RUN);
	ck_assert(c.stats && !c.stats_json);
	ck_assert_int_eq(PARSE(&c, "--kernel", "k", "--stats=json"), CLI_RUN);
	ck_assert(c.stats && c.stats_json && c.stats_file == NULL);
	ck_assert_int_eq(PARSE(&c, "--kernel", "k", "--stats-file", "s.json"), CLI_RUN);
	ck_assert(c.stats && c.stats_json);
	ck_assert_str_eq(c.stats_file, "s.json");
	/* An explicit format wins over the file's default. */
	ck_assert_int_eq(PARSE(&c, "--kernel", "k", "--stats", "--stats-file=s.txt"), CLI_RUN);
	ck_assert(c.stats && !c.stats_json);
	ck_assert_str_eq(c.stats_file, "s.txt");
	BAD("expected text or json", "--kernel", "k", "--stats=xml");
	BAD("expected text or json", "--kernel", "k", "--stats=");
	BAD("unexpected argument 'json'", "--kernel", "k", "--stats", "json");
	BAD("needs a path", "--kernel", "k", "--stats-file", "");
	BAD("needs an argument", "--kernel", "k", "--stats-file");
	/* --check-host needs no kernel, and takes no arguments. */
	ck_assert_int_eq(PARSE(&c, "--check-host"), CLI_CHECK_HOST);
	ck_assert_int_eq(PARSE(&c, "--kernel", "k", "--check-host"), CLI_CHECK_HOST);
	BAD("unexpected argument", "--check-host", "now");
	BAD("unknown option", "--check-host=yes");
}
END_TEST

START_TEST(version)
{
	struct vm_config c;
	char buf[256] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	char *argv[] = { (char *)"vmm", (char *)"--version", NULL };
	ck_assert_int_eq(cli_parse(2, argv, &c, f), CLI_DONE);
	fclose(f);
	/* One line "vmm VERSION", VERSION a Debian version from the base on. */
	ck_assert_msg(!strncmp(buf, "vmm " VMM_VERSION_BASE, strlen("vmm " VMM_VERSION_BASE)),
		      "version line '%s'", buf);
	ck_assert_ptr_null(strchr(buf + 4, ' '));
	ck_assert_ptr_eq(strchr(buf, '\n'), buf + strlen(buf) - 1);
}
END_TEST

START_TEST(sizes)
{
	uint64_t b;
	ck_assert_int_eq(cli_parse_size("512", &b), 0);
	ck_assert_uint_eq(b, 512ULL << 20);
	ck_assert_int_eq(cli_parse_size("8K", &b), 0);
	ck_assert_uint_eq(b, 8192);
	ck_assert_int_eq(cli_parse_size("512M", &b), 0);
	ck_assert_uint_eq(b, 512ULL << 20);
	ck_assert_int_eq(cli_parse_size("2g", &b), 0);
	ck_assert_uint_eq(b, 2ULL << 30);
	ck_assert_int_eq(cli_parse_size("1GiB", &b), 0);
	ck_assert_uint_eq(b, 1ULL << 30);
	ck_assert_int_eq(cli_parse_size("1T", &b), 0);
	ck_assert_uint_eq(b, 1ULL << 40);
	ck_assert_int_eq(cli_parse_size("", &b), -1);
	ck_assert_int_eq(cli_parse_size("M", &b), -1);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = { .name = "cli", .tcase = "parse" };
	const TTest *tests[] = { defaults,	 all_options, help_version, bad_inputs,
				 seccomp_option, disks,	      sizes,	    stats_and_check_host,
				 version,	 NULL };

	return unit_main(&u, tests);
}
