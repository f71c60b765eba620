/*
 * PVH entry (arch/x86/pvh.h): vmlinux ELF validation (valid, and each
 * malformed header or segment with its message), the entry note (found,
 * absent, torn, outside the loaded segments), hvm_start_info's fields, and
 * a whole load through x86_boot_load from files.
 */
#define _GNU_SOURCE
#include <check.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"
#include "boot_fixture.h"
#include "core/err.h"
#include "core/util.h"
#include "core/vm.h"
#include "scratch.h"
#include "unit_main.h"

/* A small vmlinux: ELF header, three program headers (text, bss-only
 * data, notes), the text bytes and a notes segment with a GNU note before
 * the PVH one, as Linux's has. */
#define TEXT_OFF   0x1000
#define TEXT_SIZE  0x2000
#define TEXT_PADDR 0x1000000ULL
#define BSS_PADDR  0x1400000ULL
#define BSS_SIZE   0x3000
#define NOTE_OFF   (TEXT_OFF + TEXT_SIZE)
#define ENTRY	   (TEXT_PADDR + 0x850)
#define ELF_SIZE   (NOTE_OFF + 0x100)

static uint8_t elf[ELF_SIZE];
static size_t note_len;

#define EH(f) offsetof(Elf64_Ehdr, f)
#define PH(f) offsetof(Elf64_Phdr, f)

static uint8_t *phdr(unsigned int i)
{
	return elf + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr);
}

static void set_phdr(unsigned int i, uint32_t type, uint64_t off, uint64_t filesz, uint64_t paddr,
		     uint64_t memsz)
{
	uint8_t *p = phdr(i);
	put_le32(p + PH(p_type), type);
	put_le64(p + PH(p_offset), off);
	put_le64(p + PH(p_filesz), filesz);
	put_le64(p + PH(p_paddr), paddr);
	put_le64(p + PH(p_vaddr), paddr + 0xffffffff80000000ULL);
	put_le64(p + PH(p_memsz), memsz);
}

/* One note at off: name (with its NUL), type, desc of desclen bytes. */
static size_t put_note(uint8_t *at, const char *name, uint32_t type, const void *desc,
		       uint32_t desclen)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	size_t n = 12;
	put_le32(at, namesz);
	put_le32(at + 4, desclen);
	put_le32(at + 8, type);
	memcpy(at + n, name, namesz);
	n += (namesz + 3) & ~3u;
	memcpy(at + n, desc, desclen);
	return n + ((desclen + 3) & ~3u);
}

static void make_elf(void)
{
	uint8_t entry[8];
	static const uint8_t id[20] = { 1, 2, 3 };

	memset(elf, 0, sizeof(elf));
	memcpy(elf, ELFMAG, SELFMAG);
	elf[EI_CLASS] = ELFCLASS64;
	elf[EI_DATA] = ELFDATA2LSB;
	elf[EI_VERSION] = EV_CURRENT;
	put_le16(elf + EH(e_type), ET_EXEC);
	put_le16(elf + EH(e_machine), EM_X86_64);
	put_le64(elf + EH(e_entry), TEXT_PADDR);
	put_le64(elf + EH(e_phoff), sizeof(Elf64_Ehdr));
	put_le16(elf + EH(e_phentsize), sizeof(Elf64_Phdr));
	put_le16(elf + EH(e_phnum), 3);
	set_phdr(0, PT_LOAD, TEXT_OFF, TEXT_SIZE, TEXT_PADDR, TEXT_SIZE + 0x1000);
	set_phdr(1, PT_LOAD, NOTE_OFF, 0, BSS_PADDR, BSS_SIZE);
	for (size_t i = 0; i < TEXT_SIZE; i++)
		elf[TEXT_OFF + i] = (uint8_t)(i * 7);
	/* Linux writes the entry as a 64-bit word. */
	put_le64(entry, ENTRY);
	note_len = put_note(elf + NOTE_OFF, "GNU", 3, id, sizeof(id));
	note_len +=
		put_note(elf + NOTE_OFF + note_len, PVH_NOTE_NAME, PVH_NOTE_PHYS32_ENTRY, entry, 8);
	set_phdr(2, PT_NOTE, NOTE_OFF, note_len, 0, 0);
}

START_TEST(parse_valid)
{
	struct pvh_image img;
	uint32_t entry = 0;

	make_elf();
	ck_assert(x86_is_elf(elf, sizeof(elf)));
	ck_assert_int_eq(x86_pvh_parse(elf, sizeof(elf), sizeof(elf), &img), 0);
	ck_assert_uint_eq(img.nseg, 2);
	ck_assert_uint_eq(img.seg[0].paddr, TEXT_PADDR);
	ck_assert_uint_eq(img.seg[0].filesz, TEXT_SIZE);
	ck_assert_uint_eq(img.seg[1].filesz, 0);
	ck_assert_uint_eq(img.end, BSS_PADDR + BSS_SIZE);
	ck_assert_uint_eq(img.nnotes, 1);
	ck_assert_uint_eq(img.notes[0].offset, NOTE_OFF);
	ck_assert_int_eq(x86_pvh_find_entry(elf + NOTE_OFF, note_len, &img, &entry), 1);
	ck_assert_uint_eq(entry, ENTRY);

	/* A 4-byte entry, as the ABI states it. */
	uint8_t notes[64], e4[4];
	put_le32(e4, (uint32_t)ENTRY + 4);
	size_t n = put_note(notes, PVH_NOTE_NAME, PVH_NOTE_PHYS32_ENTRY, e4, 4);
	ck_assert_int_eq(x86_pvh_find_entry(notes, n, &img, &entry), 1);
	ck_assert_uint_eq(entry, ENTRY + 4);
	/* Headers only in the buffer (the loader reads 64 KiB of a large
	 * file): the file's length decides what lies inside it. */
	ck_assert_int_eq(x86_pvh_parse(elf, 0x200, sizeof(elf), &img), 0);
}
END_TEST

static void parse_fails(size_t buflen, uint64_t filelen, const char *part)
{
	struct pvh_image img;
	ck_assert_int_eq(x86_pvh_parse(elf, buflen, filelen, &img), -1);
	ck_assert_msg(strstr(err_msg(), part), "'%s' lacks '%s'", err_msg(), part);
	ck_assert_ptr_null(strchr(err_msg(), '\n'));
}

START_TEST(parse_bad)
{
	make_elf();
	parse_fails(32, 32, "not an ELF");
	elf[0] = 0x7e;
	parse_fails(sizeof(elf), sizeof(elf), "not an ELF");
	make_elf();
	elf[EI_CLASS] = ELFCLASS32;
	parse_fails(sizeof(elf), sizeof(elf), "not an x86-64 kernel");
	make_elf();
	elf[EI_DATA] = ELFDATA2MSB;
	parse_fails(sizeof(elf), sizeof(elf), "not an x86-64 kernel");
	make_elf();
	put_le16(elf + EH(e_machine), EM_AARCH64);
	parse_fails(sizeof(elf), sizeof(elf), "machine 183");
	make_elf();
	put_le16(elf + EH(e_type), ET_DYN);
	parse_fails(sizeof(elf), sizeof(elf), "not an executable");
	make_elf();
	put_le16(elf + EH(e_phentsize), 32);
	parse_fails(sizeof(elf), sizeof(elf), "program headers of 32 bytes");
	make_elf();
	put_le16(elf + EH(e_phnum), 0);
	parse_fails(sizeof(elf), sizeof(elf), "0 program headers");
	make_elf();
	put_le64(elf + EH(e_phoff), UINT64_MAX - 8);
	parse_fails(sizeof(elf), sizeof(elf), "not in the first");
	make_elf();
	put_le16(elf + EH(e_phnum), 0xffff);
	parse_fails(sizeof(elf), sizeof(elf), "not in the first");
	/* Segments. */
	make_elf();
	parse_fails(sizeof(elf), TEXT_OFF + 16, "outside the file");
	set_phdr(0, PT_LOAD, UINT64_MAX - 4, 8, TEXT_PADDR, 8);
	parse_fails(sizeof(elf), sizeof(elf), "outside the file");
	make_elf();
	set_phdr(2, PT_NOTE, NOTE_OFF, sizeof(elf), 0, 0);
	parse_fails(sizeof(elf), sizeof(elf), "outside the file");
	make_elf();
	set_phdr(0, PT_LOAD, TEXT_OFF, TEXT_SIZE, TEXT_PADDR, TEXT_SIZE - 1);
	parse_fails(sizeof(elf), sizeof(elf), "in the file but");
	make_elf();
	set_phdr(1, PT_LOAD, NOTE_OFF, 0, UINT64_MAX - 0x100, BSS_SIZE);
	parse_fails(sizeof(elf), sizeof(elf), "wraps around");
	make_elf();
	set_phdr(0, PT_LOAD, TEXT_OFF, TEXT_SIZE, 0x9000, TEXT_SIZE);
	parse_fails(sizeof(elf), sizeof(elf), "below 1 MiB");
	make_elf();
	put_le32(phdr(0) + PH(p_type), PT_DYNAMIC);
	put_le64(phdr(1) + PH(p_memsz), 0);
	parse_fails(sizeof(elf), sizeof(elf), "nothing to load");
}
END_TEST

START_TEST(entry_note)
{
	struct pvh_image img;
	uint8_t notes[128], desc[8];
	uint32_t entry = 0x1234;
	size_t n;

	make_elf();
	ck_assert_int_eq(x86_pvh_parse(elf, sizeof(elf), sizeof(elf), &img), 0);
	/* None: only other notes, an empty list, a note of another owner
	 * with the PVH type. */
	ck_assert_int_eq(x86_pvh_find_entry(elf + NOTE_OFF, 32, &img, &entry), 0);
	ck_assert_int_eq(x86_pvh_find_entry(notes, 0, &img, &entry), 0);
	put_le32(desc, (uint32_t)ENTRY);
	n = put_note(notes, "Xe", PVH_NOTE_PHYS32_ENTRY, desc, 4);
	ck_assert_int_eq(x86_pvh_find_entry(notes, n, &img, &entry), 0);
	ck_assert_uint_eq(entry, 0x1234);
	/* Torn: the list ends inside a note's name or desc. */
	n = put_note(notes, PVH_NOTE_NAME, PVH_NOTE_PHYS32_ENTRY, desc, 4);
	ck_assert_int_eq(x86_pvh_find_entry(notes, n - 1, &img, &entry), 0);
	ck_assert_int_eq(x86_pvh_find_entry(notes, 14, &img, &entry), 0);
	put_le32(notes, 0xfffffffcu); /* namesz */
	ck_assert_int_eq(x86_pvh_find_entry(notes, n, &img, &entry), 0);
	n = put_note(notes, "GNU", 3, desc, 4);
	put_le32(notes + 4, 0xfffffffdu); /* descsz */
	ck_assert_int_eq(x86_pvh_find_entry(notes, n, &img, &entry), 0);
	ck_assert_uint_eq(entry, 0x1234);
	/* Bad entries: in the bss (not in the file's bytes), past 4 GiB, an
	 * odd size. */
	put_le32(desc, (uint32_t)BSS_PADDR);
	n = put_note(notes, PVH_NOTE_NAME, PVH_NOTE_PHYS32_ENTRY, desc, 4);
	ck_assert_int_eq(x86_pvh_find_entry(notes, n, &img, &entry), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "not in a loaded segment"));
	put_le64(desc, ENTRY | (1ULL << 32));
	n = put_note(notes, PVH_NOTE_NAME, PVH_NOTE_PHYS32_ENTRY, desc, 8);
	ck_assert_int_eq(x86_pvh_find_entry(notes, n, &img, &entry), -1);
	n = put_note(notes, PVH_NOTE_NAME, PVH_NOTE_PHYS32_ENTRY, desc, 2);
	ck_assert_int_eq(x86_pvh_find_entry(notes, n, &img, &entry), -1);
	ck_assert_uint_eq(entry, 0x1234);
}
END_TEST

START_TEST(start_info)
{
	static uint8_t buf[4096];
	const struct e820_entry map[3] = {
		{ 0, 0x9fc00, E820_RAM },
		{ 0x9fc00, 0x60400, E820_RESERVED },
		{ 0x100000, 0x3ff00000, E820_RAM },
	};
	struct x86_boot_args a = {
		.cmdline_addr = X86_CMDLINE_ADDR,
		.cmdline_len = 13,
		.initrd_addr = 0x3f000000,
		.initrd_size = 300000,
		.e820 = map,
		.e820_nr = 3,
		.rsdp_addr = 0xe0000,
	};
	const uint64_t base = X86_BOOT_PARAMS_ADDR;

	memset(buf, 0xee, sizeof(buf));
	ck_assert_int_eq(x86_pvh_start_info_build(buf, sizeof(buf), base, &a), 0);
	ck_assert_uint_eq(get_le32(buf + PVH_SI_MAGIC), PVH_START_MAGIC);
	ck_assert_uint_eq(get_le32(buf + PVH_SI_VERSION), 1);
	ck_assert_uint_eq(get_le32(buf + 8), 0); /* flags */
	ck_assert_uint_eq(get_le32(buf + PVH_SI_NR_MODULES), 1);
	ck_assert_uint_eq(get_le64(buf + PVH_SI_CMDLINE_PADDR), X86_CMDLINE_ADDR);
	ck_assert_uint_eq(get_le64(buf + PVH_SI_RSDP_PADDR), 0xe0000);
	ck_assert_uint_eq(get_le32(buf + PVH_SI_MEMMAP_ENTRIES), 3);
	uint64_t mods = get_le64(buf + PVH_SI_MODLIST_PADDR) - base;
	uint64_t mmap = get_le64(buf + PVH_SI_MEMMAP_PADDR) - base;
	ck_assert_uint_ge(mods, PVH_SI_SIZE);
	ck_assert_uint_eq(mods % 8, 0);
	ck_assert_uint_eq(get_le64(buf + mods + PVH_MOD_PADDR), 0x3f000000);
	ck_assert_uint_eq(get_le64(buf + mods + PVH_MOD_SIZE), 300000);
	ck_assert_uint_eq(get_le64(buf + mods + 16), 0); /* no module command line */
	ck_assert_uint_ge(mmap, mods + PVH_MOD_ENTRY_SIZE);
	for (unsigned int i = 0; i < 3; i++) {
		const uint8_t *e = buf + mmap + i * PVH_MEM_ENTRY_SIZE;
		ck_assert_uint_eq(get_le64(e + PVH_MEM_ADDR), map[i].addr);
		ck_assert_uint_eq(get_le64(e + PVH_MEM_SIZE), map[i].size);
		ck_assert_uint_eq(get_le32(e + PVH_MEM_TYPE), map[i].type);
		ck_assert_uint_eq(get_le32(e + 20), 0);
	}

	/* No initrd: no modules, and no list. */
	a.initrd_size = 0;
	ck_assert_int_eq(x86_pvh_start_info_build(buf, sizeof(buf), base, &a), 0);
	ck_assert_uint_eq(get_le32(buf + PVH_SI_NR_MODULES), 0);
	ck_assert_uint_eq(get_le64(buf + PVH_SI_MODLIST_PADDR), 0);
	/* What does not fit, and Linux's command line limit. */
	ck_assert_int_eq(
		x86_pvh_start_info_build(buf, PVH_SI_SIZE + 2 * PVH_MEM_ENTRY_SIZE, base, &a), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "no room"));
	ck_assert_int_eq(x86_pvh_start_info_build(buf, 16, base, &a), -1);
	a.cmdline_len = PVH_CMDLINE_MAX;
	ck_assert_int_eq(x86_pvh_start_info_build(buf, sizeof(buf), base, &a), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "at most 2047"));
}
END_TEST

START_TEST(load_from_files)
{
	struct boot_ram r;
	struct x86_boot_entry entry;
	struct scratch sc;
	static uint8_t initrd[300000];

	/* Not zeroed: the loader must clear what is not in the file. */
	boot_ram_init(&r, 0xa5);
	uint8_t *ram = r.ram;
	const uint64_t mem_size = BOOT_RAM_SIZE;
	scratch_make(&sc, "vmm-test-pvh", (const char *[]){ "vmlinux", "initrd", NULL });
	const char *kpath = sc.path[0], *ipath = sc.path[1];
	make_elf();
	write_file(kpath, elf, sizeof(elf));
	memset(initrd, 0x5a, sizeof(initrd));
	write_file(ipath, initrd, sizeof(initrd));

	ck_assert_int_eq(
		x86_boot_load(&r.mem, &r.bank, 1, kpath, ipath, "console=ttyS0", 0xe0000, &entry),
		0);
	ck_assert(entry.pvh);
	ck_assert_uint_eq(entry.rip, ENTRY);
	ck_assert_uint_eq(entry.params, X86_BOOT_PARAMS_ADDR);
	ck_assert_mem_eq(ram + TEXT_PADDR, elf + TEXT_OFF, TEXT_SIZE);
	for (size_t i = 0; i < 0x1000; i++)
		ck_assert_uint_eq(ram[TEXT_PADDR + TEXT_SIZE + i], 0);
	for (size_t i = 0; i < BSS_SIZE; i++)
		ck_assert_uint_eq(ram[BSS_PADDR + i], 0);
	ck_assert_uint_eq(ram[BSS_PADDR + BSS_SIZE], 0xa5);
	ck_assert_str_eq((char *)ram + X86_CMDLINE_ADDR, "console=ttyS0");
	const uint8_t *si = ram + X86_BOOT_PARAMS_ADDR;
	ck_assert_uint_eq(get_le32(si + PVH_SI_MAGIC), PVH_START_MAGIC);
	ck_assert_uint_eq(get_le64(si + PVH_SI_RSDP_PADDR), 0xe0000);
	ck_assert_uint_eq(get_le32(si + PVH_SI_MEMMAP_ENTRIES), 4);
	const uint8_t *mod = ram + get_le64(si + PVH_SI_MODLIST_PADDR);
	uint64_t ird = get_le64(mod + PVH_MOD_PADDR);
	ck_assert_uint_eq(get_le64(mod + PVH_MOD_SIZE), sizeof(initrd));
	ck_assert_uint_eq(ird % 4096, 0);
	ck_assert_uint_ge(ird, BSS_PADDR + BSS_SIZE);
	ck_assert_uint_gt(ird + sizeof(initrd), mem_size - 4096);
	ck_assert_mem_eq(ram + ird, initrd, sizeof(initrd));

	/* Too little RAM for the segments; an ELF without the note; a
	 * corrupt one: one clear message each, naming the file. */
	struct ram_bank tiny = { 0, 20ULL << 20 };
	expect_boot_error(&r.mem, &tiny, kpath, NULL, "needs 21 MiB");
	set_phdr(2, PT_NOTE, NOTE_OFF, 32, 0, 0);
	write_file(kpath, elf, sizeof(elf));
	expect_boot_error(&r.mem, &r.bank, kpath, NULL, "without a PVH entry note");
	write_file(kpath, elf, TEXT_OFF + 8);
	expect_boot_error(&r.mem, &r.bank, kpath, NULL, "outside the file");

	scratch_remove(&sc);
	boot_ram_free(&r);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = { .name = "pvh", .tcase = "pvh", .timeout = 30 };
	const TTest *tests[] = { parse_valid, parse_bad,       entry_note,
				 start_info,  load_from_files, NULL };

	return unit_main(&u, tests);
}
