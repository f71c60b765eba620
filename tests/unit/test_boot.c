/*
 * x86 boot protocol: setup-header parsing (valid, wrong magic, truncated,
 * too old a protocol, no 64-bit entry), initrd placement, the e820 map for
 * memory sizes below and above the 32-bit hole, and the zero page fields.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "boot_fixture.h"
#include "core/arch.h"
#include "core/err.h"
#include "core/util.h"
#include "core/vm.h"
#include "scratch.h"
#include "unit_main.h"

#define SETUP_SECTS 4
#define PM_SIZE	    (64 * 1024)
#define IMG_SIZE    ((SETUP_SECTS + 1) * 512 + PM_SIZE)

static uint8_t img[IMG_SIZE];

/* A minimal bzImage as a 6.1 kernel's header describes itself. */
static void make_image(void)
{
	memset(img, 0, sizeof(img));
	img[BZ_SETUP_SECTS] = SETUP_SECTS;
	put_le32(img + BZ_SYSSIZE, PM_SIZE / 16);
	put_le16(img + BZ_BOOT_FLAG, 0xaa55);
	img[BZ_JUMP] = 0xeb;
	img[BZ_JUMP + 1] = 0x6a; /* header ends at 0x26c */
	memcpy(img + BZ_HEADER, "HdrS", 4);
	put_le16(img + BZ_VERSION, 0x020f);
	img[BZ_LOADFLAGS] = LOADFLAG_LOADED_HIGH;
	put_le32(img + BZ_INITRD_ADDR_MAX, 0x7fffffff);
	put_le32(img + BZ_KERNEL_ALIGNMENT, 0x200000);
	img[BZ_RELOCATABLE] = 1;
	put_le16(img + BZ_XLOADFLAGS, XLF_KERNEL_64 | 0x2);
	put_le32(img + BZ_CMDLINE_SIZE, 2047);
	put_le32(img + BZ_PREF_ADDRESS, 0x1000000);
	put_le32(img + BZ_INIT_SIZE, 0x2000000); /* 32 MiB */
	for (size_t i = (SETUP_SECTS + 1) * 512; i < IMG_SIZE; i++)
		img[i] = (uint8_t)i;
}

START_TEST(parse_valid)
{
	struct bzimage bz;
	make_image();
	ck_assert_int_eq(x86_bzimage_parse(img, IMG_SIZE, &bz), 0);
	ck_assert_uint_eq(bz.version, 0x020f);
	ck_assert_uint_eq(bz.setup_size, (SETUP_SECTS + 1) * 512);
	ck_assert_uint_eq(bz.kernel_size, PM_SIZE);
	ck_assert_uint_eq(bz.init_size, 0x2000000);
	ck_assert_uint_eq(bz.pref_address, 0x1000000);
	ck_assert_uint_eq(bz.cmdline_size, 2047);
	/* Decompresses at 16 MiB and needs 32 MiB there. */
	ck_assert_uint_eq(x86_kernel_end(&bz), 0x3000000);
	/* setup_sects 0 means 4. */
	img[BZ_SETUP_SECTS] = 0;
	ck_assert_int_eq(x86_bzimage_parse(img, IMG_SIZE, &bz), 0);
	ck_assert_uint_eq(bz.setup_size, 5 * 512);
}
END_TEST

static void parse_fails(size_t len, const char *part)
{
	struct bzimage bz;
	ck_assert_int_eq(x86_bzimage_parse(img, len, &bz), -1);
	ck_assert_msg(strstr(err_msg(), part), "'%s' lacks '%s'", err_msg(), part);
}

START_TEST(parse_bad)
{
	make_image();
	parse_fails(100, "only 100 bytes");
	put_le16(img + BZ_BOOT_FLAG, 0x1234);
	parse_fails(IMG_SIZE, "not a Linux bzImage");
	make_image();
	memcpy(img + BZ_HEADER, "HdrX", 4);
	parse_fails(IMG_SIZE, "not a Linux bzImage");
	make_image();
	parse_fails(IMG_SIZE - 1, "truncated");
	parse_fails(3000, "truncated");
	make_image();
	put_le16(img + BZ_VERSION, 0x020b);
	parse_fails(IMG_SIZE, "2.11 is too old");
	make_image();
	put_le16(img + BZ_XLOADFLAGS, 0);
	parse_fails(IMG_SIZE, "no 64-bit entry");
	make_image();
	img[BZ_LOADFLAGS] = 0;
	parse_fails(IMG_SIZE, "zImage");
	make_image();
	put_le32(img + BZ_INIT_SIZE, 0);
	parse_fails(IMG_SIZE, "init_size");
	make_image();
	put_le32(img + BZ_KERNEL_ALIGNMENT, 0x3000);
	parse_fails(IMG_SIZE, "power of two");
}
END_TEST

/* Issue 9: truncated and corrupt headers.  Every prefix of the image and
 * thousands of images with random header bytes either parse into values
 * the loader can use without overflow, or fail with a message; the zero
 * page and the initrd placement built from whatever parsed stay in bounds
 * (ASan watches; kernel_end_saturates covers a pref_address near 2^64). */
START_TEST(parse_hostile_headers)
{
	static uint8_t zp[BOOT_PARAMS_SIZE];
	struct e820_entry e820 = { 0, 64 << 20, E820_RAM };
	struct x86_boot_args args = { .cmdline_len = 10, .e820 = &e820, .e820_nr = 1 };
	struct bzimage bz;
	uint32_t seed = 1;
	unsigned int parsed = 0;

	make_image();
	for (size_t len = 0; len <= IMG_SIZE; len += len < 0x300 ? 1 : 509) {
		int r = x86_bzimage_parse(img, len, &bz);
		if (r != (len == IMG_SIZE ? 0 : -1) || (r && err_msg()[0] == '\0'))
			ck_abort_msg("%zu bytes: parse returned %d (%s)", len, r, err_msg());
	}
	/* Plain ifs in the loop: each ck_assert marks a point (slow). */
	static uint8_t pristine[BZ_HEADER_LIMIT];
	make_image();
	memcpy(pristine, img, sizeof(pristine));
	for (unsigned int round = 0; round < 10000; round++) {
		memcpy(img, pristine, sizeof(pristine));
		for (unsigned int k = 0; k < 1 + round % 8; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t off =
				BZ_SETUP_SECTS + (seed >> 8) % (BZ_HEADER_LIMIT - BZ_SETUP_SECTS);
			img[off] = (uint8_t)(seed >> 20);
		}
		if (x86_bzimage_parse(img, IMG_SIZE, &bz)) {
			if (err_msg()[0] == '\0')
				ck_abort_msg("round %u: failed without a message", round);
			continue;
		}
		parsed++;
		if (bz.setup_size > IMG_SIZE ||
		    (uint64_t)bz.setup_size + bz.kernel_size != IMG_SIZE || bz.init_size == 0 ||
		    (bz.kernel_alignment & (bz.kernel_alignment - 1)))
			ck_abort_msg("round %u: inconsistent header values", round);
		/* The end is past the start: no wrap-around. */
		if (x86_kernel_end(&bz) < X86_KERNEL_LOAD_ADDR + bz.kernel_size)
			ck_abort_msg("round %u: kernel end 0x%llx wrapped", round,
				     (unsigned long long)x86_kernel_end(&bz));
		uint64_t addr;
		if (x86_initrd_place(&bz, 0xc0000000ULL, 1 << 20, &addr) == 0 &&
		    (addr < x86_kernel_end(&bz) || addr + (1 << 20) > 0xc0000000ULL))
			ck_abort_msg("round %u: initrd at 0x%llx", round, (unsigned long long)addr);
		(void)x86_boot_params_build(zp, &bz, &args);
	}
	/* Most single-byte changes leave a usable header: the loop above
	 * really exercised the success path. */
	ck_assert_uint_gt(parsed, 500);
}
END_TEST

START_TEST(initrd_placement)
{
	struct bzimage bz;
	uint64_t addr;
	make_image();
	ck_assert_int_eq(x86_bzimage_parse(img, IMG_SIZE, &bz), 0);
	/* 512 MiB: as high as possible, page aligned. */
	ck_assert_int_eq(x86_initrd_place(&bz, 512ULL << 20, 1000000, &addr), 0);
	ck_assert_uint_eq(addr, ((512ULL << 20) - 1000000) & ~0xfffULL);
	ck_assert_uint_ge(addr, x86_kernel_end(&bz));
	/* 3 GiB of low RAM: below initrd_addr_max. */
	ck_assert_int_eq(x86_initrd_place(&bz, 3ULL << 30, 4096, &addr), 0);
	ck_assert_uint_eq(addr + 4096 - 1, 0x7fffffff);
	/* Does not fit above the kernel. */
	ck_assert_int_eq(x86_initrd_place(&bz, 64ULL << 20, 40ULL << 20, &addr), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "does not fit"));
	ck_assert_int_eq(x86_initrd_place(&bz, 64ULL << 20, 1ULL << 40, &addr), -1);
}
END_TEST

/* Found by fuzz_bzimage: a pref_address near 2^64 made the kernel's end
 * wrap to a small value, so a kernel that cannot fit passed the RAM check
 * and the initrd could be placed where it runs. */
START_TEST(kernel_end_saturates)
{
	struct bzimage bz;
	uint64_t addr;
	make_image();
	put_le32(img + BZ_PREF_ADDRESS, 0xfffff000);
	put_le32(img + BZ_PREF_ADDRESS + 4, 0xffffffff);
	ck_assert_int_eq(x86_bzimage_parse(img, IMG_SIZE, &bz), 0);
	ck_assert_uint_eq(x86_kernel_end(&bz), UINT64_MAX);
	ck_assert_int_eq(x86_initrd_place(&bz, 512ULL << 20, 4096, &addr), -1);
}
END_TEST

static int e820_for(uint64_t mem, struct e820_entry *e)
{
	struct ram_bank banks[2];
	int nb = arch_ram_banks(mem, banks, 2);
	ck_assert_int_gt(nb, 0);
	return x86_e820_build(banks, (unsigned int)nb, e, E820_MAX_ENTRIES);
}

static void check_e820_sane(const struct e820_entry *e, int n, uint64_t mem)
{
	uint64_t ram = 0;
	for (int i = 0; i < n; i++) {
		if (i > 0)
			ck_assert_uint_ge(e[i].addr, e[i - 1].addr + e[i - 1].size);
		if (e[i].type == E820_RAM) {
			ram += e[i].size;
			/* No RAM in the hole. */
			ck_assert(e[i].addr + e[i].size <= X86_MMIO_HOLE_START ||
				  e[i].addr >= X86_MMIO_HOLE_END);
		}
	}
	/* All RAM but the legacy BIOS area is usable. */
	ck_assert_uint_eq(ram, mem - (X86_HIMEM_START - X86_EBDA_START));
}

START_TEST(e820_small)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	int n = e820_for(512ULL << 20, e);
	ck_assert_int_eq(n, 4);
	ck_assert_uint_eq(e[0].addr, 0);
	ck_assert_uint_eq(e[0].size, X86_EBDA_START);
	ck_assert_uint_eq(e[0].type, E820_RAM);
	ck_assert_uint_eq(e[1].addr, X86_EBDA_START);
	ck_assert_uint_eq(e[1].type, E820_RESERVED);
	ck_assert_uint_eq(e[2].addr, 0x100000);
	ck_assert_uint_eq(e[2].size, (512ULL << 20) - 0x100000);
	ck_assert_uint_eq(e[2].type, E820_RAM);
	ck_assert_uint_eq(e[3].addr, X86_PCI_ECAM_START);
	ck_assert_uint_eq(e[3].size, X86_PCI_ECAM_SIZE);
	ck_assert_uint_eq(e[3].type, E820_RESERVED);
	check_e820_sane(e, n, 512ULL << 20);
}
END_TEST

START_TEST(e820_exactly_hole)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	int n = e820_for(3ULL << 30, e);
	ck_assert_int_eq(n, 4);
	ck_assert_uint_eq(e[2].addr + e[2].size, X86_MMIO_HOLE_START);
	check_e820_sane(e, n, 3ULL << 30);
}
END_TEST

START_TEST(e820_above_hole)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	uint64_t sizes[] = { (3ULL << 30) + 4096, 4ULL << 30, 8ULL << 30, 100ULL << 30 };
	for (size_t s = 0; s < 4; s++) {
		int n = e820_for(sizes[s], e);
		ck_assert_int_eq(n, 5);
		ck_assert_uint_eq(e[2].addr + e[2].size, X86_MMIO_HOLE_START);
		ck_assert_uint_eq(e[3].addr, X86_PCI_ECAM_START);
		ck_assert_uint_eq(e[3].type, E820_RESERVED);
		ck_assert_uint_eq(e[4].addr, 1ULL << 32);
		ck_assert_uint_eq(e[4].size, sizes[s] - (3ULL << 30));
		ck_assert_uint_eq(e[4].type, E820_RAM);
		check_e820_sane(e, n, sizes[s]);
		ck_assert_uint_ge(x86_pci_mmio64_start(e[4].addr + e[4].size),
				  e[4].addr + e[4].size);
	}
}
END_TEST

START_TEST(ram_banks_bad)
{
	struct ram_bank b[2];
	ck_assert_int_eq(arch_ram_banks(1ULL << 20, b, 2), -1);
	ck_assert_int_eq(arch_ram_banks(4096, b, 2), -1);
}
END_TEST

START_TEST(zero_page)
{
	struct bzimage bz;
	struct e820_entry e[E820_MAX_ENTRIES];
	static uint8_t zp[BOOT_PARAMS_SIZE];
	make_image();
	ck_assert_int_eq(x86_bzimage_parse(img, IMG_SIZE, &bz), 0);
	int n = e820_for(8ULL << 30, e);
	struct x86_boot_args a = {
		.cmdline_addr = X86_CMDLINE_ADDR,
		.cmdline_len = 20,
		.initrd_addr = 0x1f000000,
		.initrd_size = 123456,
		.e820 = e,
		.e820_nr = (unsigned int)n,
		.rsdp_addr = X86_ACPI_ADDR,
	};
	ck_assert_int_eq(x86_boot_params_build(zp, &bz, &a), 0);
	/* The header was copied... */
	ck_assert_mem_eq(zp + BZ_HEADER, "HdrS", 4);
	ck_assert_uint_eq(get_le16(zp + BZ_VERSION), 0x020f);
	ck_assert_uint_eq(get_le32(zp + BZ_INIT_SIZE), 0x2000000);
	/* ...and the loader's fields filled in. */
	ck_assert_uint_eq(zp[BZ_TYPE_OF_LOADER], 0xff);
	ck_assert_uint_eq(zp[BZ_LOADFLAGS], LOADFLAG_LOADED_HIGH | LOADFLAG_CAN_USE_HEAP);
	ck_assert_uint_eq(get_le32(zp + BZ_CMD_LINE_PTR), X86_CMDLINE_ADDR);
	ck_assert_uint_eq(get_le32(zp + BZ_RAMDISK_IMAGE), 0x1f000000);
	ck_assert_uint_eq(get_le32(zp + BZ_RAMDISK_SIZE), 123456);
	ck_assert_uint_eq(get_le16(zp + BZ_VID_MODE), 0xffff);
	ck_assert_uint_eq(get_le64(zp + BP_ACPI_RSDP_ADDR), X86_ACPI_ADDR);
	ck_assert_uint_eq(zp[BP_E820_ENTRIES], n);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(get_le64(zp + (BP_E820_TABLE + i * 20)), e[i].addr);
		ck_assert_uint_eq(get_le64(zp + (BP_E820_TABLE + i * 20 + 8)), e[i].size);
		ck_assert_uint_eq(get_le32(zp + (BP_E820_TABLE + i * 20 + 16)), e[i].type);
	}
	/* Nothing past the header but what we set. */
	ck_assert_uint_eq(zp[0x26c], 0);
	/* Before protocol 2.14 there is no acpi_rsdp_addr field. */
	put_le16(img + BZ_VERSION, 0x020d);
	ck_assert_int_eq(x86_bzimage_parse(img, IMG_SIZE, &bz), 0);
	ck_assert_int_eq(x86_boot_params_build(zp, &bz, &a), 0);
	ck_assert_uint_eq(get_le64(zp + BP_ACPI_RSDP_ADDR), 0);
	/* A command line longer than the kernel takes. */
	a.cmdline_len = 2048;
	ck_assert_int_eq(x86_boot_params_build(zp, &bz, &a), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "at most 2047"));
}
END_TEST

START_TEST(load_from_files)
{
	struct boot_ram r;
	struct x86_boot_entry entry;
	struct scratch sc;
	static uint8_t initrd[300000];

	boot_ram_init(&r, 0);
	scratch_make(&sc, "vmm-test-boot",
		     (const char *[]){ "bzImage", "initrd", "missing", NULL });
	const char *kpath = sc.path[0], *ipath = sc.path[1], *missing = sc.path[2];
	make_image();
	write_file(kpath, img, IMG_SIZE);
	memset(initrd, 0x5a, sizeof(initrd));
	write_file(ipath, initrd, sizeof(initrd));

	ck_assert_int_eq(
		x86_boot_load(&r.mem, &r.bank, 1, kpath, ipath, "console=ttyS0", 0xe0000, &entry),
		0);
	ck_assert_uint_eq(entry.rip, X86_KERNEL_LOAD_ADDR + 0x200);
	ck_assert_uint_eq(entry.params, X86_BOOT_PARAMS_ADDR);
	ck_assert(!entry.pvh);
	ck_assert_mem_eq(r.ram + X86_KERNEL_LOAD_ADDR, img + (SETUP_SECTS + 1) * 512, PM_SIZE);
	ck_assert_str_eq((char *)r.ram + X86_CMDLINE_ADDR, "console=ttyS0");
	const uint8_t *zp = r.ram + X86_BOOT_PARAMS_ADDR;
	uint32_t ird = get_le32(zp + BZ_RAMDISK_IMAGE);
	ck_assert_uint_eq(get_le32(zp + BZ_RAMDISK_SIZE), sizeof(initrd));
	ck_assert_uint_eq(ird % 4096, 0);
	ck_assert_uint_le(ird + sizeof(initrd), BOOT_RAM_SIZE);
	ck_assert_uint_gt(ird + sizeof(initrd), BOOT_RAM_SIZE - 4096);
	ck_assert_mem_eq(r.ram + ird, initrd, sizeof(initrd));
	ck_assert_uint_eq(zp[BP_E820_ENTRIES], 4);

	/* Missing files, a directory, an initrd that does not fit, too small
	 * a guest for the kernel: each one clear message. */
	ck_assert_int_eq(x86_boot_load(&r.mem, &r.bank, 1, missing, NULL, "", 0, &entry), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "No such file"));
	ck_assert_int_eq(x86_boot_load(&r.mem, &r.bank, 1, sc.dir, NULL, "", 0, &entry), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "not a regular file"));
	ck_assert_int_eq(x86_boot_load(&r.mem, &r.bank, 1, kpath, missing, "", 0, &entry), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "initrd"));
	struct ram_bank small = { 0, (48ULL << 20) + (100 << 10) };
	ck_assert_int_eq(x86_boot_load(&r.mem, &small, 1, kpath, ipath, "", 0, &entry), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "does not fit"));
	struct ram_bank tiny = { 0, 32ULL << 20 };
	expect_boot_error(&r.mem, &tiny, kpath, NULL, "needs 48 MiB");
	write_file(kpath, img, 2000);
	expect_boot_error(&r.mem, &r.bank, kpath, NULL, "truncated");

	scratch_remove(&sc);
	boot_ram_free(&r);
}
END_TEST

/* Files that are not a boot file: each gives one clear message at once
 * (a FIFO must not make vmm wait for a writer). */
START_TEST(bad_boot_files)
{
	struct boot_ram r;
	struct x86_boot_entry entry;
	struct scratch sc;

	boot_ram_init(&r, 0);
	scratch_make(&sc, "vmm-test-boot", (const char *[]){ "bzImage", "fifo", "empty", NULL });
	const char *kpath = sc.path[0], *fifo = sc.path[1], *empty = sc.path[2];
	make_image();
	write_file(kpath, img, IMG_SIZE);
	write_file(empty, img, 0);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);

	static const struct {
		bool initrd; /* the bad file is the initrd (with a good kernel) */
		const char *path;
		const char *msg;
	} cases[] = {
		{ false, "fifo", "not a regular file" },
		{ true, "fifo", "not a regular file" },
		{ false, "empty", "empty file" },
		{ true, "empty", "empty file" },
		{ false, "/dev/null", "not a regular file" },
		{ true, "/dev/zero", "not a regular file" },
		{ true, ".", "not a regular file" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char path[96];
		if (cases[i].path[0] == '/')
			snprintf(path, sizeof(path), "%s", cases[i].path);
		else
			snprintf(path, sizeof(path), "%s/%s", sc.dir, cases[i].path);
		int rc = cases[i].initrd
				 ? x86_boot_load(&r.mem, &r.bank, 1, kpath, path, "", 0, &entry)
				 : x86_boot_load(&r.mem, &r.bank, 1, path, NULL, "", 0, &entry);
		ck_assert_int_eq(rc, -1);
		ck_assert_msg(strstr(err_msg(), cases[i].msg) && strstr(err_msg(), path) &&
				      strstr(err_msg(), cases[i].initrd ? "initrd" : "kernel") &&
				      !strchr(err_msg(), '\n'),
			      "case %zu: '%s'", i, err_msg());
	}

	/* Corrupt headers: a kernel that is all 0xff, a header that claims
	 * more protected-mode code than the file holds, too many setup
	 * sectors for the 64 KiB header buffer. */
	memset(img, 0xff, IMG_SIZE);
	write_file(kpath, img, IMG_SIZE);
	ck_assert_int_eq(x86_boot_load(&r.mem, &r.bank, 1, kpath, NULL, "", 0, &entry), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "not a Linux bzImage"));
	make_image();
	put_le32(img + BZ_SYSSIZE, 0xffffffffu);
	write_file(kpath, img, IMG_SIZE);
	ck_assert_int_eq(x86_boot_load(&r.mem, &r.bank, 1, kpath, NULL, "", 0, &entry), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "truncated bzImage"));
	make_image();
	img[BZ_SETUP_SECTS] = 0xff;
	put_le32(img + BZ_SYSSIZE, 0);
	write_file(kpath, img, IMG_SIZE);
	ck_assert_int_eq(x86_boot_load(&r.mem, &r.bank, 1, kpath, NULL, "", 0, &entry), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "bzImage"));

	scratch_remove(&sc);
	boot_ram_free(&r);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = { .name = "bootparams", .tcase = "boot", .timeout = 30 };
	const TTest *tests[] = { parse_valid,
				 parse_bad,
				 parse_hostile_headers,
				 initrd_placement,
				 kernel_end_saturates,
				 e820_small,
				 e820_exactly_hole,
				 e820_above_hole,
				 ram_banks_bad,
				 zero_page,
				 load_from_files,
				 bad_boot_files,
				 NULL };

	return unit_main(&u, tests);
}
