/*
 * The Linux arm64 boot protocol (Documentation/arch/arm64/booting.rst): the
 * Image header, where kernel, initrd and device tree go in RAM.  The
 * vCPU side (x0 = device tree, PC = kernel) is in cpu.c.  Plain C, no KVM:
 * the unit tests run it on any host.
 */
#ifndef ARCH_ARM64_BOOT_H
#define ARCH_ARM64_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"

#define ARM64_IMAGE_HEADER_SIZE 64
#define ARM64_IMAGE_MAGIC	0x644d5241u /* "ARM\x64" at offset 56 */
#define ARM64_IMAGE_TEXT_OFFSET 8	    /* le64 */
#define ARM64_IMAGE_SIZE	16	    /* le64: bytes the kernel uses from its load address */
#define ARM64_IMAGE_FLAGS	24	    /* le64 */
#define ARM64_IMAGE_MAGIC_OFF	56	    /* le32 */
#define ARM64_IMAGE_FLAG_BE	1u	    /* bit 0: big-endian kernel */

struct arm64_image {
	uint64_t text_offset; /* from a 2 MiB aligned base */
	uint64_t size;	      /* the kernel's footprint (>= the file) */
	uint64_t file_size;
};

/* Validates the header of an Image of file_size bytes (buf holds at least
 * its first len bytes); -1 with err_msg() on anything but a little-endian
 * arm64 Image (a compressed vmlinuz is named as such). */
int arm64_image_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct arm64_image *img);

/* Where things go in the RAM bank [ram_base, +ram_size): the kernel at its
 * text offset from the 2 MiB aligned start, the device tree in the last
 * 2 MiB aligned ARM64_FDT_MAX_SIZE, the initrd page aligned just below it
 * and above the kernel. */
struct arm64_boot_layout {
	uint64_t kernel, kernel_end;
	uint64_t fdt;
	uint64_t initrd, initrd_size; /* size 0: none */
};
int arm64_boot_place(const struct arm64_image *img, uint64_t ram_base, uint64_t ram_size,
		     uint64_t initrd_size, struct arm64_boot_layout *l);

/* Reads the kernel (and the initrd unless NULL) into guest memory; the
 * device tree is written later at l->fdt. */
int arm64_boot_load(struct guest_mem *mem, uint64_t ram_base, uint64_t ram_size, const char *kernel,
		    const char *initrd, struct arm64_boot_layout *l);

#endif
