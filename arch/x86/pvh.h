/*
 * PVH entry for an uncompressed x86-64 vmlinux (an ELF file): Xen's HVM
 * direct-boot ABI, which Linux (CONFIG_PVH) implements for any hypervisor.
 * The kernel's loadable segments go to their physical addresses and the
 * boot vCPU starts in 32-bit protected mode, paging off, at the address of
 * the kernel's XEN_ELFNOTE_PHYS32_ENTRY note, with ebx pointing at an
 * hvm_start_info: command line, the initrd as module 0, the memory map and
 * the ACPI RSDP.  Nothing is decompressed in the guest, which under
 * emulation is a large part of a boot.
 *
 * The parsers work on bytes read from the file and are unit-tested; the
 * loader itself is x86_boot_load (boot.c), which picks this path for ELF.
 */
#ifndef ARCH_X86_PVH_H
#define ARCH_X86_PVH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot.h"

/* The ELF note naming the 32-bit entry point (Xen's public elfnote.h). */
#define PVH_NOTE_NAME	      "Xen"
#define PVH_NOTE_PHYS32_ENTRY 18

/* hvm_start_info, version 1 (Xen's public arch-x86/hvm/start_info.h):
 * byte offsets, all fields little endian. */
#define PVH_START_MAGIC	      0x336ec578u
#define PVH_START_VERSION     1
#define PVH_SI_MAGIC	      0
#define PVH_SI_VERSION	      4
#define PVH_SI_NR_MODULES     12
#define PVH_SI_MODLIST_PADDR  16
#define PVH_SI_CMDLINE_PADDR  24
#define PVH_SI_RSDP_PADDR     32
#define PVH_SI_MEMMAP_PADDR   40
#define PVH_SI_MEMMAP_ENTRIES 48
#define PVH_SI_SIZE	      56
/* hvm_modlist_entry: paddr, size, cmdline_paddr, reserved. */
#define PVH_MOD_PADDR	   0
#define PVH_MOD_SIZE	   8
#define PVH_MOD_ENTRY_SIZE 32
/* hvm_memmap_table_entry: addr, size, type (the e820 types), reserved. */
#define PVH_MEM_ADDR	   0
#define PVH_MEM_SIZE	   8
#define PVH_MEM_TYPE	   16
#define PVH_MEM_ENTRY_SIZE 24

/* Linux/x86's COMMAND_LINE_SIZE: a PVH kernel has no header to say it. */
#define PVH_CMDLINE_MAX 2048
/* Where a PVH kernel may find its initrd: what 6.1's bzImage header
 * declares (initrd_addr_max); an ELF kernel has no header to say it. */
#define PVH_INITRD_ADDR_MAX 0x7fffffffULL

#define PVH_MAX_SEGMENTS    16
#define PVH_MAX_NOTES	    4
#define PVH_MAX_NOTE_BYTES  (64 * 1024)

struct pvh_segment {
	uint64_t offset; /* in the file */
	uint64_t filesz;
	uint64_t paddr;
	uint64_t memsz; /* filesz, then zeroes */
};

struct pvh_image {
	unsigned int nseg; /* PT_LOAD segments with memory */
	struct pvh_segment seg[PVH_MAX_SEGMENTS];
	unsigned int nnotes; /* PT_NOTE segments (offset, filesz) */
	struct pvh_segment notes[PVH_MAX_NOTES];
	uint64_t end; /* the highest paddr + memsz */
};

/* Whether buf (len bytes) starts like an ELF file. */
bool x86_is_elf(const uint8_t *buf, size_t len);

/*
 * Validates the ELF header and program headers of a file of filelen
 * bytes from its first buflen bytes (the program headers must lie in
 * them): 64-bit little-endian x86-64 executable; every segment inside the
 * file, filesz <= memsz, no address wrapping, nothing below 1 MiB (the
 * VMM's boot structures live there).  -1 with err_msg set.
 */
int x86_pvh_parse(const uint8_t *buf, size_t buflen, uint64_t filelen, struct pvh_image *img);

/*
 * Looks through the notes of one PT_NOTE segment for the PVH entry and
 * checks that it lies in a loaded segment of img.  1 with *entry set, 0
 * when these notes have none, -1 (err_msg) for a bad entry note.
 */
int x86_pvh_find_entry(const uint8_t *notes, size_t len, const struct pvh_image *img,
		       uint32_t *entry);

/*
 * Writes hvm_start_info for args at buf (len bytes, to sit at guest
 * address base), followed by the module list (the initrd, if any) and the
 * memory map.  -1 with err_msg when it does not fit.
 */
int x86_pvh_start_info_build(uint8_t *buf, size_t len, uint64_t base,
			     const struct x86_boot_args *args);

#endif
