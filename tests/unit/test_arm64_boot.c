/*
 * arm64 Image loading: header checks (valid, gzip, wrong magic, short,
 * big-endian, a pre-3.17 header with no size, a bad text offset), the
 * placement of kernel, initrd and device tree in RAM (and what does not
 * fit), and loading real files into guest memory.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arm64/boot.h"
#include "arch/arm64/layout.h"
#include "core/err.h"
#include "core/guest_mem.h"
#include "scratch.h"
#include "unit_main.h"

#define MIB (1ULL << 20)

static uint8_t hdr[ARM64_IMAGE_HEADER_SIZE];

static void put_le(uint8_t *p, size_t off, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

/* A header as Debian's 6.1 arm64 Image has it: text offset 0, flags 0xa
 * (4K pages, anywhere in RAM), a 30 MiB footprint. */
static void make_header(uint64_t text_offset, uint64_t size, uint64_t flags)
{
	memset(hdr, 0, sizeof(hdr));
	put_le(hdr, 0, 0xfa405a4d, 4); /* "MZ" + a branch, as EFI stub kernels */
	put_le(hdr, ARM64_IMAGE_TEXT_OFFSET, text_offset, 8);
	put_le(hdr, ARM64_IMAGE_SIZE, size, 8);
	put_le(hdr, ARM64_IMAGE_FLAGS, flags, 8);
	put_le(hdr, ARM64_IMAGE_MAGIC_OFF, ARM64_IMAGE_MAGIC, 4);
}

START_TEST(parse_valid)
{
	struct arm64_image img;
	make_header(0, 30 * MIB, 0xa);
	ck_assert_int_eq(arm64_image_parse(hdr, sizeof(hdr), 20 * MIB, &img), 0);
	ck_assert_uint_eq(img.text_offset, 0);
	ck_assert_uint_eq(img.size, 30 * MIB);
	ck_assert_uint_eq(img.file_size, 20 * MIB);
	/* A size smaller than the file: the file's. */
	make_header(0, 1 * MIB, 0xa);
	ck_assert_int_eq(arm64_image_parse(hdr, sizeof(hdr), 20 * MIB, &img), 0);
	ck_assert_uint_eq(img.size, 20 * MIB);
	/* Pre-3.17: no size, text offset 0x80000 whatever the field says. */
	make_header(0, 0, 0);
	ck_assert_int_eq(arm64_image_parse(hdr, sizeof(hdr), 8 * MIB, &img), 0);
	ck_assert_uint_eq(img.text_offset, 0x80000);
	ck_assert_uint_eq(img.size, 8 * MIB);
}
END_TEST

START_TEST(parse_bad)
{
	struct arm64_image img;
	static const uint8_t gz[ARM64_IMAGE_HEADER_SIZE] = { 0x1f, 0x8b, 8 };
	ck_assert_int_eq(arm64_image_parse(gz, sizeof(gz), 1 * MIB, &img), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "gzip"));

	make_header(0, 30 * MIB, 0xa);
	ck_assert_int_eq(arm64_image_parse(hdr, 32, 1 * MIB, &img), -1);
	ck_assert_int_eq(arm64_image_parse(hdr, sizeof(hdr), 40, &img), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "too short"));

	hdr[ARM64_IMAGE_MAGIC_OFF] ^= 1;
	ck_assert_int_eq(arm64_image_parse(hdr, sizeof(hdr), 1 * MIB, &img), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "magic"));

	make_header(0, 30 * MIB, 0xb);
	ck_assert_int_eq(arm64_image_parse(hdr, sizeof(hdr), 1 * MIB, &img), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "big-endian"));

	make_header(0x200000, 30 * MIB, 0xa);
	ck_assert_int_eq(arm64_image_parse(hdr, sizeof(hdr), 1 * MIB, &img), -1);
	make_header(0x80001, 30 * MIB, 0xa);
	ck_assert_int_eq(arm64_image_parse(hdr, sizeof(hdr), 1 * MIB, &img), -1);
	make_header(0, UINT64_MAX, 0xa);
	ck_assert_int_eq(arm64_image_parse(hdr, sizeof(hdr), 1 * MIB, &img), -1);
}
END_TEST

START_TEST(placement)
{
	struct arm64_image img = { .text_offset = 0, .size = 30 * MIB, .file_size = 20 * MIB };
	struct arm64_boot_layout l;

	ck_assert_int_eq(arm64_boot_place(&img, ARM64_RAM_START, 512 * MIB, 5 * MIB + 123, &l), 0);
	ck_assert_uint_eq(l.kernel, ARM64_RAM_START);
	ck_assert_uint_eq(l.kernel_end, ARM64_RAM_START + 30 * MIB);
	/* The device tree: the last 2 MiB, 2 MiB aligned. */
	ck_assert_uint_eq(l.fdt, ARM64_RAM_START + 510 * MIB);
	ck_assert_uint_eq(l.fdt % ARM64_KERNEL_ALIGN, 0);
	/* The initrd: page aligned right below it, clear of the kernel. */
	ck_assert_uint_eq(l.initrd_size, 5 * MIB + 123);
	ck_assert_uint_eq(l.initrd % 4096, 0);
	ck_assert_uint_le(l.initrd + l.initrd_size, l.fdt);
	ck_assert_uint_gt(l.initrd + 4096 + l.initrd_size, l.fdt);
	ck_assert_uint_ge(l.initrd, l.kernel_end);

	/* A text offset is kept from the 2 MiB aligned base. */
	img.text_offset = 0x80000;
	ck_assert_int_eq(arm64_boot_place(&img, ARM64_RAM_START, 512 * MIB, 0, &l), 0);
	ck_assert_uint_eq(l.kernel, ARM64_RAM_START + 0x80000);
	ck_assert_uint_eq(l.initrd_size, 0);
	ck_assert_uint_eq(l.initrd, 0);
}
END_TEST

START_TEST(placement_does_not_fit)
{
	struct arm64_image img = { .text_offset = 0, .size = 30 * MIB, .file_size = 20 * MIB };
	struct arm64_boot_layout l;

	/* Kernel plus device tree need more than 31 MiB. */
	ck_assert_int_eq(arm64_boot_place(&img, ARM64_RAM_START, 31 * MIB, 0, &l), -1);
	ck_assert_int_eq(arm64_boot_place(&img, ARM64_RAM_START, 1 * MIB, 0, &l), -1);
	/* An initrd that would overlap the kernel. */
	ck_assert_int_eq(arm64_boot_place(&img, ARM64_RAM_START, 64 * MIB, 33 * MIB, &l), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "initrd"));
	ck_assert_int_eq(arm64_boot_place(&img, ARM64_RAM_START, 64 * MIB, UINT64_MAX, &l), -1);
	/* RAM that wraps. */
	ck_assert_int_eq(arm64_boot_place(&img, UINT64_MAX - MIB, 512 * MIB, 0, &l), -1);
}
END_TEST

START_TEST(load_from_files)
{
	struct scratch sc;
	const uint64_t ram_size = 64 * MIB;
	uint8_t *ram = calloc(1, ram_size);
	struct guest_mem mem;
	struct arm64_boot_layout l;

	ck_assert_ptr_nonnull(ram);
	scratch_make(&sc, "test_arm64_boot", (const char *[]){ "Image", "initrd", NULL });
	const char *kpath = sc.path[0], *ipath = sc.path[1];
	memset(&mem, 0, sizeof(mem));
	ck_assert_int_eq(guest_mem_add(&mem, ARM64_RAM_START, ram_size, ram), 0);

	size_t klen = 3 * 4096;
	uint8_t *k = calloc(1, klen);
	make_header(0, 4 * MIB, 0xa);
	memcpy(k, hdr, sizeof(hdr));
	k[klen - 1] = 0x5a;
	write_file(kpath, k, klen);
	write_file(ipath, "initrd!", 7);

	ck_assert_int_eq(arm64_boot_load(&mem, ARM64_RAM_START, ram_size, kpath, ipath, &l), 0);
	ck_assert_uint_eq(l.kernel, ARM64_RAM_START);
	ck_assert_int_eq(memcmp(ram, k, klen), 0);
	ck_assert_uint_eq(l.initrd_size, 7);
	ck_assert_int_eq(memcmp(ram + (l.initrd - ARM64_RAM_START), "initrd!", 7), 0);

	/* No initrd. */
	ck_assert_int_eq(arm64_boot_load(&mem, ARM64_RAM_START, ram_size, kpath, NULL, &l), 0);
	ck_assert_uint_eq(l.initrd_size, 0);
	/* Missing files, an empty initrd, a directory, a non-Image. */
	ck_assert_int_eq(arm64_boot_load(&mem, ARM64_RAM_START, ram_size, "/nonexistent", NULL, &l),
			 -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "/nonexistent"));
	write_file(ipath, "", 0);
	ck_assert_int_eq(arm64_boot_load(&mem, ARM64_RAM_START, ram_size, kpath, ipath, &l), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "empty"));
	ck_assert_int_eq(arm64_boot_load(&mem, ARM64_RAM_START, ram_size, sc.dir, NULL, &l), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "not a regular file"));
	write_file(kpath, "#!/bin/sh\n", 10);
	ck_assert_int_eq(arm64_boot_load(&mem, ARM64_RAM_START, ram_size, kpath, NULL, &l), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), kpath));
	/* A kernel whose footprint exceeds RAM. */
	make_header(0, 128 * MIB, 0xa);
	memcpy(k, hdr, sizeof(hdr));
	write_file(kpath, k, klen);
	ck_assert_int_eq(arm64_boot_load(&mem, ARM64_RAM_START, ram_size, kpath, NULL, &l), -1);

	scratch_remove(&sc);
	free(k);
	free(ram);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = { .name = "arm64_boot", .tcase = "boot" };
	const TTest *tests[] = { parse_valid,	  parse_bad, placement, placement_does_not_fit,
				 load_from_files, NULL };

	return unit_main(&u, tests);
}
