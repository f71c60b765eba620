/*
 * blkrec: numbered, checksummed records on a raw disk, for the test that
 * flushed data survives `kill -9` of vmm (tests/integration/vmm-data.sh).
 *
 *   blkrec write DEV GEN     (in the guest) writes record 0, 1, 2, ... of
 *                            generation GEN to DEV with O_DIRECT, in batches
 *                            of 1 to 8, and after each batch's fdatasync (a
 *                            virtio-blk FLUSH) has returned prints
 *                            "flushed N": records 0..N are durable.  Runs
 *                            until the disk is full or it is killed.
 *   blkrec check FILE GEN N  (on the host) checks that records 0..N of
 *                            generation GEN are in FILE, intact; prints how
 *                            many it checked.  Exit 0 when all are.
 *
 * Record n lives at byte n * BLKREC_SIZE.  It carries the generation, so a
 * record an earlier round left in the same file never passes for one of
 * this round, and its payload is derived from (generation, n), so a record
 * written in the wrong place or torn does not either.  Static, so it runs
 * in the guest's initramfs and on the host alike.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLKREC_SIZE  4096u		   /* a multiple of any logical block size */
#define BLKREC_MAGIC 0x31304345524b4c42ull /* "BLKREC01" */

struct blkrec_head {
	uint64_t magic;
	uint64_t gen;
	uint64_t seq;
	uint64_t sum; /* FNV-1a 64 of the record with this field zero */
};

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void make_record(unsigned char *buf, uint64_t gen, uint64_t seq)
{
	struct blkrec_head h = { .magic = BLKREC_MAGIC, .gen = gen, .seq = seq };
	uint64_t s = (gen * 0x9e3779b97f4a7c15ull) ^ (seq + 1);

	for (size_t i = sizeof(h); i + 8 <= BLKREC_SIZE; i += 8) {
		uint64_t v = xorshift(&s);
		memcpy(buf + i, &v, 8);
	}
	memcpy(buf, &h, sizeof(h));
	h.sum = fnv1a(buf, BLKREC_SIZE);
	memcpy(buf, &h, sizeof(h));
}

static uint64_t dev_size(int fd)
{
	struct stat st;
	uint64_t size = 0;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return (uint64_t)st.st_size;
	if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		return 0;
	return size;
}

static int do_write(const char *dev, uint64_t gen)
{
	int fd = open(dev, O_WRONLY | O_DIRECT);
	uint64_t max, seq = 0, rng = gen + 1;
	unsigned char *buf;

	if (fd < 0 || posix_memalign((void **)&buf, BLKREC_SIZE, BLKREC_SIZE) != 0) {
		fprintf(stderr, "blkrec: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	max = dev_size(fd) / BLKREC_SIZE;
	printf("blkrec: writing generation %" PRIu64 " to %s (%" PRIu64 " records)\n", gen, dev,
	       max);
	fflush(stdout);
	while (seq < max) {
		unsigned int batch = 1 + (unsigned int)(xorshift(&rng) % 8);

		for (unsigned int i = 0; i < batch && seq < max; i++, seq++) {
			make_record(buf, gen, seq);
			if (pwrite(fd, buf, BLKREC_SIZE, (off_t)(seq * BLKREC_SIZE)) !=
			    BLKREC_SIZE) {
				fprintf(stderr, "blkrec: write %" PRIu64 ": %s\n", seq,
					strerror(errno));
				return 1;
			}
		}
		if (fdatasync(fd) < 0) {
			fprintf(stderr, "blkrec: fdatasync: %s\n", strerror(errno));
			return 1;
		}
		printf("flushed %" PRIu64 "\n", seq - 1);
		fflush(stdout);
	}
	printf("blkrec: disk full after %" PRIu64 " records\n", seq);
	return 0;
}

static int do_check(const char *file, uint64_t gen, uint64_t last)
{
	int fd = open(file, O_RDONLY);
	unsigned char want[BLKREC_SIZE], got[BLKREC_SIZE];
	uint64_t bad = 0;

	if (fd < 0) {
		fprintf(stderr, "blkrec: %s: %s\n", file, strerror(errno));
		return 1;
	}
	for (uint64_t seq = 0; seq <= last; seq++) {
		ssize_t r = pread(fd, got, BLKREC_SIZE, (off_t)(seq * BLKREC_SIZE));

		make_record(want, gen, seq);
		if (r == BLKREC_SIZE && memcmp(want, got, BLKREC_SIZE) == 0)
			continue;
		if (bad++ < 5) {
			struct blkrec_head h;
			memcpy(&h, got, sizeof(h));
			fprintf(stderr,
				"blkrec: record %" PRIu64 " missing or damaged (read %zd bytes; "
				"found generation %" PRIu64 ", number %" PRIu64 ")\n",
				seq, r, h.gen, h.seq);
		}
	}
	printf("blkrec: checked %" PRIu64 " records of generation %" PRIu64 ": %" PRIu64 " bad\n",
	       last + 1, gen, bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "write") == 0)
		return do_write(argv[2], strtoull(argv[3], NULL, 10));
	if (argc == 5 && strcmp(argv[1], "check") == 0)
		return do_check(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
	fprintf(stderr, "usage: blkrec write DEV GEN | blkrec check FILE GEN LAST\n");
	return 2;
}
