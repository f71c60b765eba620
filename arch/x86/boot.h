/*
 * The Linux/x86 boot protocol (Documentation/arch/x86/boot.rst) for a
 * bzImage entered at its 64-bit entry point (a vmlinux takes the PVH entry
 * instead, pvh.h): setup-header parsing and
 * validation, kernel and initrd placement, the e820 map and the zero page
 * (struct boot_params).  The pure functions here are unit-tested; only
 * x86_boot_load() touches files and guest memory.
 */
#ifndef ARCH_X86_BOOT_H
#define ARCH_X86_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "core/vm.h"

#define BOOT_PARAMS_SIZE 4096
#define E820_MAX_ENTRIES 128 /* boot_params.e820_table */

#define E820_RAM	 1
#define E820_RESERVED	 2
#define E820_ACPI	 3

/* Setup header offsets within the image and within boot_params. */
#define BZ_SETUP_SECTS	    0x1f1
#define BZ_SYSSIZE	    0x1f4
#define BZ_VID_MODE	    0x1fa
#define BZ_BOOT_FLAG	    0x1fe
#define BZ_JUMP		    0x200
#define BZ_HEADER	    0x202
#define BZ_VERSION	    0x206
#define BZ_TYPE_OF_LOADER   0x210
#define BZ_LOADFLAGS	    0x211
#define BZ_CODE32_START	    0x214
#define BZ_RAMDISK_IMAGE    0x218
#define BZ_RAMDISK_SIZE	    0x21c
#define BZ_HEAP_END_PTR	    0x224
#define BZ_CMD_LINE_PTR	    0x228
#define BZ_INITRD_ADDR_MAX  0x22c
#define BZ_KERNEL_ALIGNMENT 0x230
#define BZ_RELOCATABLE	    0x234
#define BZ_XLOADFLAGS	    0x236
#define BZ_CMDLINE_SIZE	    0x238
#define BZ_PREF_ADDRESS	    0x258
#define BZ_INIT_SIZE	    0x260
#define BZ_HEADER_LIMIT	    0x290 /* the setup header ends before this */

/* boot_params fields outside the setup header. */
#define BP_ACPI_RSDP_ADDR     0x070
#define BP_E820_ENTRIES	      0x1e8
#define BP_E820_TABLE	      0x2d0

#define BZ_MIN_VERSION	      0x020c /* 2.12: xloadflags, 64-bit entry */
#define LOADFLAG_LOADED_HIGH  0x01
#define LOADFLAG_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64	      0x01

struct bzimage {
	const uint8_t *image; /* at least the header and setup code */
	size_t len;
	uint16_t version;
	uint32_t setup_size;  /* real-mode part, bytes */
	uint32_t kernel_size; /* protected-mode part, bytes */
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t cmdline_size; /* longest command line, without NUL */
};

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Validates the setup header of a bzImage in buf; -1 with err_msg on a
 * wrong magic, a truncated file, too old a protocol or no 64-bit entry. */
int x86_bzimage_parse(const uint8_t *buf, size_t len, struct bzimage *bz);
/* The same from the first buflen bytes of an image of len bytes (at least
 * the setup code); bz->image then points at buf and bz->len is buflen. */
int x86_bzimage_parse_header(const uint8_t *buf, size_t buflen, uint64_t len, struct bzimage *bz);

/* The end of the memory the kernel occupies while it decompresses and
 * runs when loaded at X86_KERNEL_LOAD_ADDR. */
uint64_t x86_kernel_end(const struct bzimage *bz);

/* Where the initrd goes: as high as possible below both initrd_addr_max and
 * low_ram_end, page aligned, and above the kernel; -1 if it does not fit. */
int x86_initrd_place(const struct bzimage *bz, uint64_t low_ram_end, uint64_t size, uint64_t *addr);
/* The same for a kernel ending at kernel_end that takes its initrd at
 * most up to addr_max (the last byte). */
int x86_initrd_place_range(uint64_t kernel_end, uint64_t addr_max, uint64_t low_ram_end,
			   uint64_t size, uint64_t *addr);

/* The e820 map for the RAM banks from arch_ram_banks(): RAM, the legacy
 * BIOS area and the PCI ECAM marked reserved, sorted.  Returns the count. */
int x86_e820_build(const struct ram_bank *banks, unsigned int nbanks, struct e820_entry *e,
		   unsigned int max);

struct x86_boot_args {
	uint64_t cmdline_addr;
	size_t cmdline_len; /* without the NUL */
	uint64_t initrd_addr, initrd_size;
	const struct e820_entry *e820;
	unsigned int e820_nr;
	uint64_t rsdp_addr;
};

/* Fills the zero page zp from the image's setup header and args. */
int x86_boot_params_build(uint8_t *zp, const struct bzimage *bz, const struct x86_boot_args *args);

/* What the vCPU needs to enter the kernel. */
struct x86_boot_entry {
	bool pvh;	 /* 32-bit PVH entry (a vmlinux), else 64-bit (bzImage) */
	uint64_t rip;	 /* the entry point */
	uint64_t params; /* the zero page (rsi) or the PVH start info (ebx) */
};

/* Reads the kernel (a bzImage, or a vmlinux with a PVH entry: pvh.h) and
 * initrd files, loads them into guest memory and writes the command line,
 * e820 map and zero page (or PVH start info).  (The GDT and page
 * tables for the 64-bit entry come from x86_write_boot_tables, cpu.h.) */
int x86_boot_load(struct guest_mem *mem, const struct ram_bank *banks, unsigned int nbanks,
		  const char *kernel, const char *initrd, const char *cmdline, uint64_t rsdp_addr,
		  struct x86_boot_entry *entry);

/* Real-mode code at the reset vector (X86_RESET_VECTOR) that writes
 * reset_value to the ACPI reset register at port reset_port, for guests
 * that reboot by jumping to F000:FFF0 (Linux's "BIOS" reboot). */
int x86_write_reset_stub(struct guest_mem *mem, uint16_t reset_port, uint8_t reset_value);

#endif
