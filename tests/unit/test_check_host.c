/*
 * vmm --check-host against scratch stand-ins for /dev/kvm and /sys/module:
 * a missing device, a device that is not KVM, an unreadable one, and each
 * kind of KVM module (PVM fails, kvm_intel/kvm_amd pass, none is a note).
 * The real /dev/kvm is checked by tests/integration/vmm-tool.sh.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_main.h"
#include "vmm/check_host.h"

static char dir[64];
static char mods[128], dev[128];

static void setup(void)
{
	strcpy(dir, "/tmp/test_check_host.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(mods, sizeof(mods), "%s/module", dir);
	snprintf(dev, sizeof(dev), "%s/kvm", dir);
	ck_assert_int_eq(mkdir(mods, 0755), 0);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void module(const char *name)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", mods, name);
	ck_assert_int_eq(mkdir(p, 0755), 0);
}

/* Runs the check; returns its status, the report in out. */
static int run(char *out, size_t len)
{
	struct check_host_paths p = { .kvm_dev = dev, .sys_module = mods };
	memset(out, 0, len);
	FILE *f = fmemopen(out, len, "w");
	int rc = check_host(f, &p);
	fclose(f);
	return rc;
}

#define HAS(out, s) ck_assert_msg(strstr(out, s), "report lacks '%s':\n%s", s, out)

START_TEST(missing_device_and_pvm)
{
	char out[4096];
	module("kvm");
	module("kvm_pvm");
	ck_assert_int_eq(run(out, sizeof(out)), 1);
	HAS(out, "FAIL  ");
	HAS(out, "not present");
	HAS(out, "kvm module is loaded");
	HAS(out, "PVM (kvm_pvm)");
	HAS(out, "tests/kvmhost/run");
	HAS(out, "cannot boot stock Linux guests");
	HAS(out, "2 problems");
}
END_TEST

START_TEST(missing_device_no_module)
{
	char out[4096];
	ck_assert_int_eq(run(out, sizeof(out)), 1);
	HAS(out, "load kvm_intel or kvm_amd");
	HAS(out, "note  KVM module not recognised");
	HAS(out, "1 problem above");
}
END_TEST

/* A file that is not a KVM device: the API version ioctl fails. */
START_TEST(not_kvm)
{
	char out[4096];
	FILE *f = fopen(dev, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	module("kvm_intel");
	ck_assert_int_eq(run(out, sizeof(out)), 1);
	HAS(out, "ok    ");
	HAS(out, "opened read-write");
	HAS(out, "not a KVM device");
	HAS(out, "ok    KVM is hardware-assisted (kvm_intel");
	ck_assert_ptr_null(strstr(out, "capabilities"));
}
END_TEST

/* A device this user may not open.  As root, the check runs in a child
 * that has become nobody, since root opens anything. */
START_TEST(no_access)
{
	char out[4096] = "";
	int fds[2];
	FILE *f = fopen(dev, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(chmod(dev, 0600), 0);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	module("kvm_amd");
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char buf[4096];
		close(fds[0]);
		if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(99);
		int rc = run(buf, sizeof(buf));
		if (write(fds[1], buf, strlen(buf)) < 0)
			_exit(98);
		_exit(rc);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t r;
	while ((r = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	close(fds[0]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	HAS(out, "no read-write access");
	HAS(out, "kvm_amd: AMD-V");
}
END_TEST

int main(void)
{
	static const struct unit_suite u = {
		.name = "check_host", .tcase = "check_host", .setup = setup, .teardown = teardown
	};
	const TTest *tests[] = { missing_device_and_pvm, missing_device_no_module, not_kvm,
				 no_access, NULL };

	return unit_main(&u, tests);
}
