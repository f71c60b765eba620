/* PVH entry: vmlinux ELF parsing, the entry note and hvm_start_info (see pvh.h). */
#include "arch/x86/pvh.h"

#include <elf.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/err.h"
#include "core/util.h"

/* Field offsets from <elf.h>'s structures: the layout is stated there. */
#define EH(f) offsetof(Elf64_Ehdr, f)
#define PH(f) offsetof(Elf64_Phdr, f)

bool x86_is_elf(const uint8_t *buf, size_t len)
{
	return len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0;
}

static int add_segment(struct pvh_segment *list, unsigned int *n, unsigned int max,
		       const struct pvh_segment *s, const char *what)
{
	if (*n >= max)
		return err_set("invalid vmlinux: more than %u %s segments", max, what);
	list[(*n)++] = *s;
	return 0;
}

/* One program header: a PT_LOAD or PT_NOTE is checked and recorded. */
static int parse_phdr(const uint8_t *ph, uint64_t filelen, struct pvh_image *img)
{
	uint32_t type = get_le32(ph + PH(p_type));
	struct pvh_segment s = {
		.offset = get_le64(ph + PH(p_offset)),
		.filesz = get_le64(ph + PH(p_filesz)),
		.paddr = get_le64(ph + PH(p_paddr)),
		.memsz = get_le64(ph + PH(p_memsz)),
	};

	if (type != PT_LOAD && type != PT_NOTE)
		return 0;
	if (s.offset > filelen || s.filesz > filelen - s.offset)
		return err_set(
			"invalid vmlinux: a segment at file offset 0x%llx+0x%llx lies outside the file (%llu bytes)",
			(unsigned long long)s.offset, (unsigned long long)s.filesz,
			(unsigned long long)filelen);
	if (type == PT_NOTE)
		return add_segment(img->notes, &img->nnotes, PVH_MAX_NOTES, &s, "note");
	if (s.memsz == 0)
		return 0;
	if (s.filesz > s.memsz)
		return err_set(
			"invalid vmlinux: a segment has 0x%llx bytes in the file but 0x%llx in memory",
			(unsigned long long)s.filesz, (unsigned long long)s.memsz);
	if (s.paddr > UINT64_MAX - s.memsz)
		return err_set("invalid vmlinux: segment 0x%llx+0x%llx wraps around",
			       (unsigned long long)s.paddr, (unsigned long long)s.memsz);
	if (s.paddr < X86_HIMEM_START)
		return err_set(
			"vmlinux loads a segment at 0x%llx, below 1 MiB, where the boot structures live",
			(unsigned long long)s.paddr);
	if (s.paddr + s.memsz > img->end)
		img->end = s.paddr + s.memsz;
	return add_segment(img->seg, &img->nseg, PVH_MAX_SEGMENTS, &s, "loadable");
}

int x86_pvh_parse(const uint8_t *buf, size_t buflen, uint64_t filelen, struct pvh_image *img)
{
	memset(img, 0, sizeof(*img));
	if (buflen > filelen)
		buflen = (size_t)filelen;
	if (buflen < sizeof(Elf64_Ehdr) || !x86_is_elf(buf, buflen))
		return err_set("not an ELF file");
	if (buf[EI_CLASS] != ELFCLASS64 || buf[EI_DATA] != ELFDATA2LSB ||
	    get_le16(buf + EH(e_machine)) != EM_X86_64)
		return err_set("not an x86-64 kernel (ELF class %u, data %u, machine %u)",
			       buf[EI_CLASS], buf[EI_DATA], get_le16(buf + EH(e_machine)));
	if (get_le16(buf + EH(e_type)) != ET_EXEC)
		return err_set("not a vmlinux: ELF type %u is not an executable",
			       get_le16(buf + EH(e_type)));

	uint64_t phoff = get_le64(buf + EH(e_phoff));
	unsigned int phnum = get_le16(buf + EH(e_phnum));
	unsigned int phentsize = get_le16(buf + EH(e_phentsize));
	if (phnum == 0 || phentsize != sizeof(Elf64_Phdr))
		return err_set("invalid vmlinux: %u program headers of %u bytes", phnum, phentsize);
	/* phnum < 2^16 and phentsize is 56: no overflow. */
	if (phoff > buflen || (uint64_t)phnum * phentsize > buflen - phoff)
		return err_set(
			"invalid vmlinux: program headers at 0x%llx are not in the first %zu bytes",
			(unsigned long long)phoff, buflen);
	for (unsigned int i = 0; i < phnum; i++)
		if (parse_phdr(buf + phoff + (size_t)i * phentsize, filelen, img))
			return -1;
	if (img->nseg == 0)
		return err_set("invalid vmlinux: nothing to load");
	return 0;
}

static size_t align4(size_t v)
{
	return (v + 3) & ~(size_t)3;
}

int x86_pvh_find_entry(const uint8_t *notes, size_t len, const struct pvh_image *img,
		       uint32_t *entry)
{
	size_t off = 0;

	/* Elf64_Nhdr: namesz, descsz, type; name and desc padded to 4. */
	while (len - off >= sizeof(Elf64_Nhdr)) {
		uint32_t namesz = get_le32(notes + off);
		uint32_t descsz = get_le32(notes + off + 4);
		uint32_t type = get_le32(notes + off + 8);
		size_t name = off + sizeof(Elf64_Nhdr);

		if (namesz > len - name || align4(namesz) > len - name ||
		    descsz > len - name - align4(namesz))
			return 0; /* a torn note ends the list */
		size_t desc = name + align4(namesz);
		if (namesz == sizeof(PVH_NOTE_NAME) &&
		    memcmp(notes + name, PVH_NOTE_NAME, sizeof(PVH_NOTE_NAME)) == 0 &&
		    type == PVH_NOTE_PHYS32_ENTRY) {
			/* 32 bits; Linux writes a 64-bit word whose top half is 0. */
			uint64_t e = descsz == 4   ? get_le32(notes + desc)
				     : descsz == 8 ? get_le64(notes + desc)
						   : UINT64_MAX;
			for (unsigned int i = 0; e <= UINT32_MAX && i < img->nseg; i++)
				if (e >= img->seg[i].paddr &&
				    e - img->seg[i].paddr < img->seg[i].filesz) {
					*entry = (uint32_t)e;
					return 1;
				}
			return err_set(
				"invalid vmlinux: the PVH entry point (%u-byte note, 0x%llx) is not in a loaded segment",
				descsz, (unsigned long long)e);
		}
		if (align4(descsz) > len - desc)
			return 0;
		off = desc + align4(descsz);
	}
	return 0;
}

int x86_pvh_start_info_build(uint8_t *buf, size_t len, uint64_t base, const struct x86_boot_args *a)
{
	size_t mods = a->initrd_size ? 1 : 0;
	size_t mod_off = PVH_SI_SIZE;
	size_t map_off = mod_off + mods * PVH_MOD_ENTRY_SIZE;

	if (len < map_off || a->e820_nr > (len - map_off) / PVH_MEM_ENTRY_SIZE)
		return err_set("no room for the PVH start info and %u memory map entries",
			       a->e820_nr);
	if (a->cmdline_len >= PVH_CMDLINE_MAX)
		return err_set("kernel command line is %zu bytes; a PVH kernel takes at most %u",
			       a->cmdline_len, PVH_CMDLINE_MAX - 1);
	memset(buf, 0, map_off + (size_t)a->e820_nr * PVH_MEM_ENTRY_SIZE);
	put_le32(buf + PVH_SI_MAGIC, PVH_START_MAGIC);
	put_le32(buf + PVH_SI_VERSION, PVH_START_VERSION);
	put_le32(buf + PVH_SI_NR_MODULES, (uint32_t)mods);
	if (mods) {
		put_le64(buf + PVH_SI_MODLIST_PADDR, base + mod_off);
		put_le64(buf + mod_off + PVH_MOD_PADDR, a->initrd_addr);
		put_le64(buf + mod_off + PVH_MOD_SIZE, a->initrd_size);
	}
	put_le64(buf + PVH_SI_CMDLINE_PADDR, a->cmdline_addr);
	put_le64(buf + PVH_SI_RSDP_PADDR, a->rsdp_addr);
	put_le64(buf + PVH_SI_MEMMAP_PADDR, base + map_off);
	put_le32(buf + PVH_SI_MEMMAP_ENTRIES, a->e820_nr);
	for (unsigned int i = 0; i < a->e820_nr; i++) {
		uint8_t *e = buf + map_off + (size_t)i * PVH_MEM_ENTRY_SIZE;
		put_le64(e + PVH_MEM_ADDR, a->e820[i].addr);
		put_le64(e + PVH_MEM_SIZE, a->e820[i].size);
		put_le32(e + PVH_MEM_TYPE, a->e820[i].type);
	}
	return 0;
}
