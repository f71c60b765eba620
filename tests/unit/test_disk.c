/*
 * Disk option parsing and image opening: every bad input gives its one
 * clear message, the image lock keeps a second user out, and the probed
 * properties (size, serial, deallocation, O_DIRECT) are right.
 */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "devices/block/disk.h"
#include "vmm/disk_config.h"

static char dir[64];

static void make_dir(void)
{
	strcpy(dir, "/tmp/vmm-test-disk-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_dir(void)
{
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Creates dir/name of size bytes with mode; returns the path. */
static const char *make_file(const char *name, off_t size, mode_t mode)
{
	static char path[4][256];
	static unsigned int n;
	char *p = path[n++ % 4];
	int fd;

	snprintf(p, 256, "%s/%s", dir, name);
	fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	close(fd);
	ck_assert_int_eq(chmod(p, mode), 0);
	return p;
}

static struct disk_config config_for(const char *path, bool readonly, bool direct)
{
	struct disk_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.path, sizeof(cfg.path), "%s", path);
	cfg.readonly = readonly;
	cfg.direct = direct;
	return cfg;
}

/* disk_open must fail with a message containing want. */
static void expect_open_error(const struct disk_config *cfg, const char *want)
{
	struct disk d;
	err_set("%s", "");
	ck_assert_int_eq(disk_open(cfg, &d), -1);
	ck_assert_msg(strstr(err_msg(), want) != NULL, "message '%s' lacks '%s'", err_msg(), want);
	ck_assert_msg(strstr(err_msg(), cfg->path) != NULL, "message '%s' lacks the path",
		      err_msg());
	ck_assert_ptr_null(strchr(err_msg(), '\n'));
	ck_assert_int_eq(d.fd, -1);
}

/* ---- option parsing ---- */

static void expect_parse_error(const char *arg, const char *want)
{
	struct disk_config cfg;
	err_set("%s", "");
	ck_assert_int_eq(disk_config_parse(arg, &cfg), -1);
	ck_assert_msg(strstr(err_msg(), want) != NULL, "'%s': message '%s' lacks '%s'", arg,
		      err_msg(), want);
}

START_TEST(parse_path_only)
{
	struct disk_config cfg;
	ck_assert_int_eq(disk_config_parse("path=/var/lib/a.img", &cfg), 0);
	ck_assert_str_eq(cfg.path, "/var/lib/a.img");
	ck_assert(!cfg.readonly);
	ck_assert(!cfg.direct);
	ck_assert_str_eq(cfg.serial, "");
	ck_assert_uint_eq(cfg.queues, 0);
}
END_TEST

START_TEST(parse_all_options)
{
	struct disk_config cfg;
	ck_assert_int_eq(
		disk_config_parse("readonly=on,path=x.img,direct=on,serial=disk-0001", &cfg), 0);
	ck_assert_str_eq(cfg.path, "x.img");
	ck_assert(cfg.readonly);
	ck_assert(cfg.direct);
	ck_assert_str_eq(cfg.serial, "disk-0001");
	ck_assert_int_eq(disk_config_parse("path=x,queues=1", &cfg), 0);
	ck_assert_uint_eq(cfg.queues, 1);
	ck_assert_int_eq(disk_config_parse("queues=16,path=x", &cfg), 0);
	ck_assert_uint_eq(cfg.queues, DISK_MAX_QUEUES);
	ck_assert_int_eq(disk_config_parse("path=x,readonly=off,direct=off", &cfg), 0);
	ck_assert(!cfg.readonly);
	ck_assert(!cfg.direct);
	/* '=' inside the path value is kept. */
	ck_assert_int_eq(disk_config_parse("path=a=b", &cfg), 0);
	ck_assert_str_eq(cfg.path, "a=b");
}
END_TEST

START_TEST(parse_errors)
{
	expect_parse_error("path=x,cache=none", "unknown option 'cache'");
	expect_parse_error("x.img", "'x.img' is not key=value");
	expect_parse_error("path=x,garbage", "'garbage' is not key=value");
	expect_parse_error("", "empty option");
	expect_parse_error("path=x,", "empty option");
	expect_parse_error("path=x,,readonly=on", "empty option");
	expect_parse_error("readonly=on", "missing path=");
	expect_parse_error("path=", "path is empty");
	expect_parse_error("path=a,path=b", "'path' given twice");
	expect_parse_error("path=a,readonly=yes", "readonly=yes: expected on or off");
	expect_parse_error("path=a,direct=", "expected on or off");
	expect_parse_error("path=a,serial=123456789012345678901", "1 to 20 characters");
	expect_parse_error("path=a,serial=", "1 to 20 characters");
	expect_parse_error("path=a,serial=ab\tc", "printable");
	expect_parse_error("path=a,queues=0", "queues=0: expected a number from 1 to 16");
	expect_parse_error("path=a,queues=17", "from 1 to 16");
	expect_parse_error("path=a,queues=99999999999999999999", "from 1 to 16");
	expect_parse_error("path=a,queues=-1", "from 1 to 16");
	expect_parse_error("path=a,queues= 2", "from 1 to 16");
	expect_parse_error("path=a,queues=2x", "from 1 to 16");
	expect_parse_error("path=a,queues=", "from 1 to 16");
	expect_parse_error("path=a,queues=2,queues=2", "'queues' given twice");
}
END_TEST

START_TEST(parse_rejects_overlong_path)
{
	char *arg = malloc(DISK_PATH_MAX + 16);
	strcpy(arg, "path=");
	memset(arg + 5, 'a', DISK_PATH_MAX);
	arg[5 + DISK_PATH_MAX] = '\0';
	expect_parse_error(arg, "too long");
	free(arg);
}
END_TEST

/* ---- opening ---- */

START_TEST(open_good_image)
{
	const char *p = make_file("a.img", 1 << 20, 0644);
	struct disk_config cfg = config_for(p, false, false);
	struct disk d;
	ck_assert_int_eq(disk_open(&cfg, &d), 0);
	ck_assert_int_ge(d.fd, 0);
	ck_assert_uint_eq(d.size, 1 << 20);
	ck_assert(!d.readonly);
	ck_assert_uint_eq(d.block_size, 512);
	int fl = fcntl(d.fd, F_GETFL);
	ck_assert_int_eq(fl & O_ACCMODE, O_RDWR);
	/* The O_NONBLOCK used while opening is gone (io_uring honours it). */
	ck_assert_int_eq(fl & O_NONBLOCK, 0);
	/* /tmp here is ext4: holes can be punched. */
	ck_assert(d.can_punch_hole);
	/* The probe past EOF left the file alone. */
	struct stat st;
	ck_assert_int_eq(fstat(d.fd, &st), 0);
	ck_assert_int_eq(st.st_size, 1 << 20);
	disk_close(&d);
	ck_assert_int_eq(d.fd, -1);
}
END_TEST

START_TEST(open_readonly_image)
{
	const char *p = make_file("ro.img", 4096, 0444);
	struct disk_config cfg = config_for(p, true, false);
	struct disk d;
	ck_assert_int_eq(disk_open(&cfg, &d), 0);
	ck_assert(d.readonly);
	ck_assert(!d.can_punch_hole);
	ck_assert(!d.can_zero_range);
	ck_assert_int_eq(fcntl(d.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	disk_close(&d);
}
END_TEST

START_TEST(open_missing_file)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/nope.img", dir);
	struct disk_config cfg = config_for(p, false, false);
	expect_open_error(&cfg, "no such file");
}
END_TEST

START_TEST(open_directory)
{
	struct disk_config cfg = config_for(dir, false, false);
	expect_open_error(&cfg, "is a directory");
	cfg.readonly = true;
	expect_open_error(&cfg, "is a directory");
}
END_TEST

START_TEST(open_fifo)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(p, 0644), 0);
	struct disk_config cfg = config_for(p, true, false);
	expect_open_error(&cfg, "not a regular file or block device");
}
END_TEST

START_TEST(open_unaligned_size)
{
	const char *p = make_file("odd.img", 1000, 0644);
	struct disk_config cfg = config_for(p, false, false);
	expect_open_error(&cfg, "size 1000 is not a multiple of 512 bytes");
	cfg.readonly = true;
	expect_open_error(&cfg, "size 1000 is not a multiple of 512 bytes");
}
END_TEST

START_TEST(open_empty_file)
{
	const char *p = make_file("empty.img", 0, 0644);
	struct disk_config cfg = config_for(p, false, false);
	expect_open_error(&cfg, "is empty");
}
END_TEST

START_TEST(open_readonly_file_without_readonly)
{
	const char *p = make_file("ro.img", 4096, 0444);
	struct disk_config cfg = config_for(p, false, false);
	expect_open_error(&cfg, "file is read-only; use readonly=on");
}
END_TEST

START_TEST(open_direct)
{
	const char *p = make_file("d.img", 1 << 20, 0644);
	struct disk_config cfg = config_for(p, false, true);
	struct disk d;
	ck_assert_int_eq(disk_open(&cfg, &d), 0);
	ck_assert(d.direct);
	ck_assert(fcntl(d.fd, F_GETFL) & O_DIRECT);
	ck_assert_uint_ge(d.dio_mem_align, 1);
	ck_assert_uint_ge(d.block_size, 512);
	ck_assert_uint_eq(d.block_size & (d.block_size - 1), 0);
	disk_close(&d);
}
END_TEST

START_TEST(serial_is_stable_and_overridable)
{
	const char *p = make_file("s.img", 4096, 0644);
	const char *q = make_file("t.img", 4096, 0644);
	struct disk_config cfg = config_for(p, false, false);
	struct disk a, b;
	ck_assert_int_eq(disk_open(&cfg, &a), 0);
	disk_close(&a);
	ck_assert_int_eq(disk_open(&cfg, &b), 0);
	disk_close(&b);
	ck_assert_int_eq(memcmp(a.serial, b.serial, DISK_SERIAL_LEN), 0);
	ck_assert_int_eq(memcmp(a.serial, "vmm-", 4), 0);
	for (unsigned int i = 0; i < DISK_SERIAL_LEN; i++)
		ck_assert(a.serial[i] > ' ' && a.serial[i] < 127);
	/* Another file, another serial. */
	cfg = config_for(q, false, false);
	ck_assert_int_eq(disk_open(&cfg, &b), 0);
	disk_close(&b);
	ck_assert_int_ne(memcmp(a.serial, b.serial, DISK_SERIAL_LEN), 0);
	/* A given serial wins, NUL-padded. */
	strcpy(cfg.serial, "my-disk");
	ck_assert_int_eq(disk_open(&cfg, &b), 0);
	disk_close(&b);
	ck_assert_int_eq(memcmp(b.serial, "my-disk\0\0\0\0\0\0\0\0\0\0\0\0\0", DISK_SERIAL_LEN), 0);
}
END_TEST

/* ---- locking ---- */

START_TEST(second_writable_open_fails)
{
	const char *p = make_file("lock.img", 4096, 0644);
	struct disk_config cfg = config_for(p, false, false);
	struct disk first, again;
	ck_assert_int_eq(disk_open(&cfg, &first), 0);
	expect_open_error(&cfg, "image is locked: another process (another vmm?) is using it");
	/* A reader cannot slip in while we write either. */
	cfg.readonly = true;
	expect_open_error(&cfg, "image is locked");
	disk_close(&first);
	/* Closing releases the lock. */
	cfg.readonly = false;
	ck_assert_int_eq(disk_open(&cfg, &again), 0);
	disk_close(&again);
}
END_TEST

START_TEST(second_process_cannot_open)
{
	const char *p = make_file("lock2.img", 4096, 0644);
	struct disk_config cfg = config_for(p, false, false);
	struct disk first;
	int status;
	ck_assert_int_eq(disk_open(&cfg, &first), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct disk d;
		int r = disk_open(&cfg, &d);
		_exit(r == -1 && strstr(err_msg(), "image is locked") ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	disk_close(&first);
}
END_TEST

START_TEST(readonly_opens_share_but_exclude_writers)
{
	const char *p = make_file("shared.img", 4096, 0644);
	struct disk_config ro = config_for(p, true, false);
	struct disk_config rw = config_for(p, false, false);
	struct disk a, b;
	ck_assert_int_eq(disk_open(&ro, &a), 0);
	ck_assert_int_eq(disk_open(&ro, &b), 0);
	expect_open_error(&rw, "image is locked");
	disk_close(&a);
	disk_close(&b);
}
END_TEST

static Suite *disk_suite(void)
{
	Suite *s = suite_create("disk");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, parse_path_only);
	tcase_add_test(tc, parse_all_options);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, parse_rejects_overlong_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_add_test(tc, open_good_image);
	tcase_add_test(tc, open_readonly_image);
	tcase_add_test(tc, open_missing_file);
	tcase_add_test(tc, open_directory);
	tcase_add_test(tc, open_fifo);
	tcase_add_test(tc, open_unaligned_size);
	tcase_add_test(tc, open_empty_file);
	tcase_add_test(tc, open_readonly_file_without_readonly);
	tcase_add_test(tc, open_direct);
	tcase_add_test(tc, serial_is_stable_and_overridable);
	suite_add_tcase(s, tc);

	tc = tcase_create("lock");
	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_add_test(tc, second_writable_open_fails);
	tcase_add_test(tc, second_process_cannot_open);
	tcase_add_test(tc, readonly_opens_share_but_exclude_writers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(disk_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
