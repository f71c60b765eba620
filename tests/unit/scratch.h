/*
 * Test helper: the temporary files unit tests hand to code that opens files
 * by name or reads a descriptor: a scratch directory under /tmp with named
 * paths in it, whole files written at those paths, and anonymous memory
 * files (memfd) with given contents.  Header-only so that each test_*.c
 * stays one binary.
 */
#ifndef TESTS_UNIT_SCRATCH_H
#define TESTS_UNIT_SCRATCH_H

#ifndef _GNU_SOURCE
#error "scratch.h: define _GNU_SOURCE before any include (memfd_create)"
#endif

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define SCRATCH_FILES 4

struct scratch {
	char dir[64];
	char path[SCRATCH_FILES][96]; /* dir/name of each name given */
};

/* Makes a fresh directory /tmp/TEST.XXXXXX and names (does not create)
 * the files `names` (NULL-ended, at most SCRATCH_FILES) in it, so that a
 * test's file names are the only thing it states. */
static inline void scratch_make(struct scratch *s, const char *test, const char *const names[])
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/%s.XXXXXX", test);
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	for (unsigned int i = 0; i < SCRATCH_FILES; i++)
		s->path[i][0] = '\0';
	for (unsigned int i = 0; names[i]; i++) {
		ck_assert_uint_lt(i, SCRATCH_FILES);
		snprintf(s->path[i], sizeof(s->path[i]), "%s/%s", s->dir, names[i]);
	}
}

/* Removes the named files that exist and the directory. */
static inline void scratch_remove(struct scratch *s)
{
	for (unsigned int i = 0; i < SCRATCH_FILES; i++)
		if (s->path[i][0])
			unlink(s->path[i]);
	rmdir(s->dir);
}

/* Replaces the file at path with len bytes of data. */
static inline void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* A memory file holding len bytes of data, its offset at the end: for
 * code that reads a descriptor and needs no name. */
static inline int memfd_with(const char *name, const void *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	if (len)
		ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	return fd;
}

#endif
