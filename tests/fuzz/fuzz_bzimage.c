/*
 * Fuzz target for the Linux/x86 kernel loaders (arch/x86/boot.c, pvh.c):
 * bzImage setup-header parsing (whole image, and header-only as
 * x86_boot_load reads it), the kernel's memory footprint, initrd placement,
 * the zero page; vmlinux ELF parsing, the PVH entry note and the start
 * info; and x86_boot_load itself on a kernel (either kind) and initrd held
 * in memfds.  Kernel images are user input: corrupt or truncated ones must
 * give an error, never a crash or a load outside guest RAM.
 *
 * Input: a mode byte, a few parameters (initrd size, low RAM size, claimed
 * file length, command-line length, e820 count), then the kernel image.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"
#include "core/util.h"
#include "fuzz.h"

#define RAM_MAX (64ull << 20)

typedef unsigned __int128 u128;

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static void check_parsed(const struct bzimage *bz, uint64_t len)
{
	FUZZ_CHECK(bz->version >= BZ_MIN_VERSION);
	FUZZ_CHECK(bz->setup_size >= 512 && (uint64_t)bz->setup_size <= bz->len);
	FUZZ_CHECK((uint64_t)bz->setup_size + bz->kernel_size == len);
	FUZZ_CHECK(bz->kernel_alignment && !(bz->kernel_alignment & (bz->kernel_alignment - 1)));
	FUZZ_CHECK(bz->init_size != 0);
}

/* The footprint, computed without overflow. */
static u128 footprint(const struct bzimage *bz)
{
	u128 run = align_up(X86_KERNEL_LOAD_ADDR, bz->kernel_alignment);
	u128 end, loaded = (u128)X86_KERNEL_LOAD_ADDR + bz->kernel_size;

	if (run < bz->pref_address)
		run = bz->pref_address;
	end = run + bz->init_size;
	return end > loaded ? end : loaded;
}

static void fuzz_pure(struct fz *f, const uint8_t *img, size_t len)
{
	struct bzimage bz;
	uint64_t low_end = fz_u64(f), isize = fz_u64(f), addr = 0;
	uint64_t claimed = len + (fz_u16(f) & 0x3fff); /* more than we have */
	static uint8_t zp[BOOT_PARAMS_SIZE];
	struct e820_entry e820[E820_MAX_ENTRIES + 2];
	struct x86_boot_args a = { .cmdline_addr = X86_CMDLINE_ADDR, .e820 = e820 };

	/* One statement per read: initialiser order is unspecified in C. */
	a.cmdline_len = fz_u32(f);
	a.initrd_addr = fz_u64(f);
	a.initrd_size = fz_u64(f);
	a.e820_nr = fz_u8(f) % (E820_MAX_ENTRIES + 3);
	a.rsdp_addr = fz_u64(f);
	memset(e820, 0xab, sizeof(e820));
	/* A header read from the first bytes of a longer file. */
	if (x86_bzimage_parse_header(img, len, claimed, &bz) == 0)
		check_parsed(&bz, claimed);
	if (x86_bzimage_parse(img, len, &bz) < 0)
		return;
	check_parsed(&bz, len);
	FUZZ_CHECK(bz.image == img && bz.len == len);

	u128 need = footprint(&bz);
	uint64_t kend = x86_kernel_end(&bz);
	FUZZ_CHECK(kend >= X86_KERNEL_LOAD_ADDR + (uint64_t)bz.kernel_size);
	/* Never less than the kernel needs (it may saturate). */
	FUZZ_CHECK((u128)kend >= need || kend == UINT64_MAX);

	if (x86_initrd_place(&bz, low_end, isize, &addr) == 0) {
		u128 top = (u128)bz.initrd_addr_max + 1;
		if (top > low_end)
			top = low_end;
		FUZZ_CHECK((addr & 0xfff) == 0);
		FUZZ_CHECK((u128)addr + isize <= top);
		FUZZ_CHECK((u128)addr >= need);
	}

	if (x86_boot_params_build(zp, &bz, &a) == 0) {
		FUZZ_CHECK(a.e820_nr <= E820_MAX_ENTRIES);
		FUZZ_CHECK(!bz.cmdline_size || a.cmdline_len <= bz.cmdline_size);
		FUZZ_CHECK(zp[BP_E820_ENTRIES] == a.e820_nr);
	}
}

/* A vmlinux: what x86_pvh_parse accepts is inside the file and above
 * 1 MiB, and an entry it finds lies in a loaded segment's file bytes. */
static void fuzz_pvh(struct fz *f, const uint8_t *img, size_t len)
{
	struct pvh_image p;
	uint64_t claimed = len + (fz_u16(f) & 0x3fff);
	static uint8_t si[BOOT_PARAMS_SIZE];
	struct e820_entry e820[E820_MAX_ENTRIES + 2];
	struct x86_boot_args a = { .cmdline_addr = X86_CMDLINE_ADDR, .e820 = e820 };
	uint32_t entry;

	a.cmdline_len = fz_u16(f);
	a.initrd_addr = fz_u64(f);
	a.initrd_size = fz_u64(f);
	a.e820_nr = fz_u8(f) % (E820_MAX_ENTRIES + 3);
	memset(e820, 0xab, sizeof(e820));
	if (x86_pvh_start_info_build(si, sizeof(si), X86_BOOT_PARAMS_ADDR, &a) == 0)
		FUZZ_CHECK(get_le32(si + PVH_SI_MEMMAP_ENTRIES) == a.e820_nr &&
			   a.cmdline_len < PVH_CMDLINE_MAX);
	if (x86_pvh_parse(img, len, claimed, &p) < 0)
		return;
	FUZZ_CHECK(p.nseg > 0 && p.nseg <= PVH_MAX_SEGMENTS && p.nnotes <= PVH_MAX_NOTES);
	for (unsigned int i = 0; i < p.nseg; i++) {
		const struct pvh_segment *s = &p.seg[i];
		FUZZ_CHECK(s->paddr >= X86_HIMEM_START && s->filesz <= s->memsz);
		FUZZ_CHECK((u128)s->paddr + s->memsz <= p.end);
		FUZZ_CHECK((u128)s->offset + s->filesz <= claimed);
	}
	for (unsigned int i = 0; i < p.nnotes; i++) {
		const struct pvh_segment *n = &p.notes[i];
		FUZZ_CHECK((u128)n->offset + n->filesz <= claimed);
		/* The notes as the loader reads them, where they are in img. */
		if (n->offset > len)
			continue;
		size_t nlen = len - n->offset < n->filesz ? len - n->offset : (size_t)n->filesz;
		if (x86_pvh_find_entry(img + n->offset, nlen, &p, &entry) == 1) {
			bool inside = false;
			for (unsigned int j = 0; j < p.nseg; j++)
				inside |= entry >= p.seg[j].paddr &&
					  entry - p.seg[j].paddr < p.seg[j].filesz;
			FUZZ_CHECK(inside);
		}
	}
}

/* x86_boot_load on memfds: the whole path from files to guest RAM. */
static void fuzz_load(struct fz *f, const uint8_t *img, size_t len)
{
	static uint8_t *ram;
	static int kfd = -1, ifd = -1;
	struct guest_mem mem = { 0 };
	struct ram_bank bank = { 0, 0 };
	struct x86_boot_entry entry;
	char kpath[64], ipath[64];
	uint64_t isize = fz_u32(f) % (2u << 20);
	static char cmdline[4096];
	size_t clen = fz_u16(f) % sizeof(cmdline);

	if (ram == NULL) {
		ram = mmap(NULL, RAM_MAX, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		kfd = memfd_create("kernel", 0);
		ifd = memfd_create("initrd", 0);
		FUZZ_CHECK(ram != MAP_FAILED && kfd >= 0 && ifd >= 0);
		memset(cmdline, 'x', sizeof(cmdline));
	}
	/* Low RAM from 2 to 64 MiB, in 1 MiB steps. */
	bank.size = (2 + fz_u8(f) % 63) << 20;
	FUZZ_CHECK(guest_mem_add(&mem, 0, bank.size, ram) == 0);
	cmdline[clen] = '\0';

	FUZZ_CHECK(ftruncate(kfd, 0) == 0 && pwrite(kfd, img, len, 0) == (ssize_t)len);
	FUZZ_CHECK(ftruncate(ifd, (off_t)isize) == 0);
	snprintf(kpath, sizeof(kpath), "/proc/self/fd/%d", kfd);
	snprintf(ipath, sizeof(ipath), "/proc/self/fd/%d", ifd);
	if (x86_boot_load(&mem, &bank, 1, kpath, isize ? ipath : NULL, cmdline, 0xe0000, &entry) ==
	    0) {
		FUZZ_CHECK(entry.pvh || entry.rip == X86_KERNEL_LOAD_ADDR + 0x200);
		FUZZ_CHECK(!entry.pvh || (entry.rip >= X86_HIMEM_START && entry.rip < bank.size));
		FUZZ_CHECK(entry.params + BOOT_PARAMS_SIZE <= bank.size);
	}
	cmdline[clen] = 'x';
	/* Give the touched pages back: RSS stays flat across runs. */
	madvise(ram, RAM_MAX, MADV_DONTNEED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t params[64];
	uint8_t mode = fz_u8(&f);

	/* The parameters come first so the image keeps its offsets. */
	fz_bytes(&f, params, sizeof(params));
	struct fz pf = { params, sizeof(params) };
	if (mode & 1)
		fuzz_load(&pf, f.p, f.left);
	else if (mode & 2)
		fuzz_pvh(&pf, f.p, f.left);
	else
		fuzz_pure(&pf, f.p, f.left);
	return 0;
}
