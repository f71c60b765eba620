/*
 * Shared by the fuzz targets: the libFuzzer entry point's prototype and a
 * reader that turns the fuzzer's bytes into a stream of operations.  Reads
 * past the end of the input return zeros, so every input is a valid
 * (possibly empty) program and targets need no length checks.
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A target's own invariant failed: abort, so both libFuzzer and the gcc
 * replayer report it with the input that caused it. */
#define FUZZ_CHECK(cond)                                      \
	do {                                                  \
		if (!(cond))                                  \
			fuzz_fail(#cond, __FILE__, __LINE__); \
	} while (0)

void fuzz_fail(const char *what, const char *file, int line);

struct fz {
	const uint8_t *p;
	size_t left;
};

static inline bool fz_more(const struct fz *f)
{
	return f->left > 0;
}

static inline void fz_bytes(struct fz *f, void *dst, size_t n)
{
	size_t k = n < f->left ? n : f->left;
	memcpy(dst, f->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	f->p += k;
	f->left -= k;
}

static inline uint8_t fz_u8(struct fz *f)
{
	uint8_t v;
	fz_bytes(f, &v, 1);
	return v;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t v;
	fz_bytes(f, &v, 2);
	return v;
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t v;
	fz_bytes(f, &v, 4);
	return v;
}

static inline uint64_t fz_u64(struct fz *f)
{
	uint64_t v;
	fz_bytes(f, &v, 8);
	return v;
}

/* An access size the bus can issue: 1, 2, 4 or 8. */
static inline unsigned int fz_len(struct fz *f)
{
	return 1u << (fz_u8(f) & 3);
}

#endif
