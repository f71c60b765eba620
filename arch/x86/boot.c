/* Kernel loading (bzImage, or vmlinux through pvh.h), initrd placement, e820
 * and the zero page (boot_params). */
#include "arch/x86/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"
#include "core/err.h"
#include "core/file.h"
#include "core/util.h"

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int x86_bzimage_parse(const uint8_t *buf, size_t len, struct bzimage *bz)
{
	return x86_bzimage_parse_header(buf, len, len, bz);
}

int x86_bzimage_parse_header(const uint8_t *buf, size_t buflen, uint64_t len, struct bzimage *bz)
{
	memset(bz, 0, sizeof(*bz));
	if (len < BZ_HEADER_LIMIT || buflen < BZ_HEADER_LIMIT)
		return err_set("not a bzImage: only %llu bytes", (unsigned long long)len);
	if (get_le16(buf + BZ_BOOT_FLAG) != 0xaa55 || memcmp(buf + BZ_HEADER, "HdrS", 4) != 0)
		return err_set("not a Linux bzImage (no boot sector signature or 'HdrS' header)");
	bz->version = get_le16(buf + BZ_VERSION);
	if (bz->version < BZ_MIN_VERSION)
		return err_set("boot protocol %u.%02u is too old: need %u.%02u or later",
			       bz->version >> 8, bz->version & 0xff, BZ_MIN_VERSION >> 8,
			       BZ_MIN_VERSION & 0xff);
	if (!(buf[BZ_LOADFLAGS] & LOADFLAG_LOADED_HIGH))
		return err_set("not a bzImage: a zImage loaded low is not supported");
	if (!(get_le16(buf + BZ_XLOADFLAGS) & XLF_KERNEL_64))
		return err_set("kernel has no 64-bit entry point (not an x86-64 kernel)");

	unsigned int sects = buf[BZ_SETUP_SECTS] ? buf[BZ_SETUP_SECTS] : 4;
	uint64_t setup = (uint64_t)(sects + 1) * 512;
	uint64_t pm = (uint64_t)get_le32(buf + BZ_SYSSIZE) * 16;
	if (setup + pm > len)
		return err_set("truncated bzImage: %llu bytes, the header describes %llu",
			       (unsigned long long)len, (unsigned long long)(setup + pm));
	if (setup > buflen)
		return err_set("invalid bzImage: %u setup sectors", sects);
	if (len - setup > UINT32_MAX)
		return err_set("not a bzImage: %llu bytes is too large", (unsigned long long)len);
	bz->image = buf;
	bz->len = buflen;
	bz->setup_size = (uint32_t)setup;
	bz->kernel_size = (uint32_t)(len - setup);
	bz->initrd_addr_max = get_le32(buf + BZ_INITRD_ADDR_MAX);
	if (bz->initrd_addr_max == 0)
		bz->initrd_addr_max = 0x37ffffff; /* the protocol's default */
	bz->kernel_alignment = get_le32(buf + BZ_KERNEL_ALIGNMENT);
	if (bz->kernel_alignment == 0 || (bz->kernel_alignment & (bz->kernel_alignment - 1)))
		return err_set("invalid bzImage: kernel_alignment 0x%x is not a power of two",
			       bz->kernel_alignment);
	bz->pref_address = get_le64(buf + BZ_PREF_ADDRESS);
	bz->init_size = get_le32(buf + BZ_INIT_SIZE);
	if (bz->init_size == 0)
		return err_set("invalid bzImage: init_size is 0");
	bz->cmdline_size = get_le32(buf + BZ_CMDLINE_SIZE);
	return 0;
}

uint64_t x86_kernel_end(const struct bzimage *bz)
{
	/* The compressed kernel decompresses to max(load aligned, pref_address)
	 * and needs init_size bytes there. */
	uint64_t run = align_up(X86_KERNEL_LOAD_ADDR, bz->kernel_alignment);
	if (run < bz->pref_address)
		run = bz->pref_address;
	/* A corrupt header can describe more than the address space:
	 * saturate, so "does it fit" checks fail instead of wrapping. */
	uint64_t end = run > UINT64_MAX - bz->init_size ? UINT64_MAX : run + bz->init_size;
	uint64_t loaded = X86_KERNEL_LOAD_ADDR + bz->kernel_size;
	return end > loaded ? end : loaded;
}

int x86_initrd_place(const struct bzimage *bz, uint64_t low_ram_end, uint64_t size, uint64_t *addr)
{
	return x86_initrd_place_range(x86_kernel_end(bz), bz->initrd_addr_max, low_ram_end, size,
				      addr);
}

int x86_initrd_place_range(uint64_t kend, uint64_t addr_max, uint64_t low_ram_end, uint64_t size,
			   uint64_t *addr)
{
	uint64_t top = addr_max + 1;
	if (top > low_ram_end)
		top = low_ram_end;
	/* kend <= top (< 2^32 + 1) also keeps the rounding from wrapping. */
	if (kend <= top)
		kend = align_up(kend, 4096);
	if (kend > top || size > top || ((top - size) & ~0xfffULL) < kend)
		return err_set(
			"initrd of %llu KiB does not fit in guest memory between the kernel (ends at %llu MiB) and %llu MiB",
			(unsigned long long)(size >> 10), (unsigned long long)(kend >> 20),
			(unsigned long long)(top >> 20));
	*addr = (top - size) & ~0xfffULL;
	return 0;
}

static int add(struct e820_entry *e, unsigned int *n, unsigned int max, uint64_t addr,
	       uint64_t size, uint32_t type)
{
	if (size == 0)
		return 0;
	if (*n >= max)
		return err_set("e820 map full");
	e[(*n)++] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
	return 0;
}

int x86_e820_build(const struct ram_bank *banks, unsigned int nbanks, struct e820_entry *e,
		   unsigned int max)
{
	unsigned int n = 0;
	bool ecam_done = false;

	for (unsigned int i = 0; i < nbanks; i++) {
		uint64_t start = banks[i].gpa, end = banks[i].gpa + banks[i].size;
		if (!ecam_done && start >= X86_MMIO_HOLE_END) {
			if (add(e, &n, max, X86_PCI_ECAM_START, X86_PCI_ECAM_SIZE, E820_RESERVED))
				return -1;
			ecam_done = true;
		}
		if (start < X86_HIMEM_START) {
			/* The first bank starts at 0: split off the legacy area. */
			if (end <= X86_HIMEM_START)
				return err_set("RAM bank 0x%llx+0x%llx is too small",
					       (unsigned long long)start,
					       (unsigned long long)banks[i].size);
			if (add(e, &n, max, start, X86_EBDA_START - start, E820_RAM) ||
			    add(e, &n, max, X86_EBDA_START, X86_HIMEM_START - X86_EBDA_START,
				E820_RESERVED))
				return -1;
			start = X86_HIMEM_START;
		}
		if (add(e, &n, max, start, end - start, E820_RAM))
			return -1;
	}
	if (!ecam_done && add(e, &n, max, X86_PCI_ECAM_START, X86_PCI_ECAM_SIZE, E820_RESERVED))
		return -1;
	return (int)n;
}

int x86_boot_params_build(uint8_t *zp, const struct bzimage *bz, const struct x86_boot_args *a)
{
	memset(zp, 0, BOOT_PARAMS_SIZE);
	/* The setup header runs from 0x1f1 to the end given by the offset
	 * byte of the jump at 0x200; copy it as the kernel defines it. */
	size_t end = BZ_JUMP + 2 + bz->image[BZ_JUMP + 1];
	if (end > BZ_HEADER_LIMIT)
		end = BZ_HEADER_LIMIT;
	memcpy(zp + BZ_SETUP_SECTS, bz->image + BZ_SETUP_SECTS, end - BZ_SETUP_SECTS);

	if (bz->cmdline_size && a->cmdline_len > bz->cmdline_size)
		return err_set("kernel command line is %zu bytes; this kernel takes at most %u",
			       a->cmdline_len, bz->cmdline_size);
	if (a->e820_nr > E820_MAX_ENTRIES)
		return err_set("too many e820 entries (%u)", a->e820_nr);

	put_le16(zp + BZ_VID_MODE, 0xffff); /* "normal" text mode */
	zp[BZ_TYPE_OF_LOADER] = 0xff;	    /* undefined loader */
	zp[BZ_LOADFLAGS] |= LOADFLAG_CAN_USE_HEAP;
	put_le16(zp + BZ_HEAP_END_PTR, 0xfe00);
	put_le32(zp + BZ_CODE32_START, (uint32_t)X86_KERNEL_LOAD_ADDR);
	put_le32(zp + BZ_CMD_LINE_PTR, (uint32_t)a->cmdline_addr);
	put_le32(zp + BZ_RAMDISK_IMAGE, (uint32_t)a->initrd_addr);
	put_le32(zp + BZ_RAMDISK_SIZE, (uint32_t)a->initrd_size);
	if (bz->version >= 0x020e) /* acpi_rsdp_addr: protocol 2.14 */
		put_le64(zp + BP_ACPI_RSDP_ADDR, a->rsdp_addr);
	zp[BP_E820_ENTRIES] = (uint8_t)a->e820_nr;
	for (unsigned int i = 0; i < a->e820_nr; i++) {
		size_t off = BP_E820_TABLE + i * 20;
		put_le64(zp + off, a->e820[i].addr);
		put_le64(zp + (off + 8), a->e820[i].size);
		put_le32(zp + (off + 16), a->e820[i].type);
	}
	return 0;
}

/* Reads the initrd straight into guest memory once its size is known:
 * above the kernel (ending at kend), below addr_max and low_end. */
static int load_initrd(struct guest_mem *mem, uint64_t kend, uint64_t addr_max, uint64_t low_end,
		       const char *path, uint64_t *addr, uint64_t *size)
{
	int fd = file_open_regular("initrd", path, size);
	if (fd < 0)
		return -1;
	int ret = -1;
	if (x86_initrd_place_range(kend, addr_max, low_end, *size, addr)) {
		err_prefix("initrd %s", path);
		goto out;
	}
	uint8_t *dst = guest_mem_ptr(mem, *addr, *size);
	if (dst == NULL) {
		err_set("initrd %s: no guest RAM at 0x%llx", path, (unsigned long long)*addr);
		goto out;
	}
	ret = file_read_at(fd, "initrd", path, dst, (size_t)*size, 0);
out:
	close(fd);
	return ret;
}

/* What the two kernel formats tell the rest of the loader. */
struct kernel_loaded {
	uint64_t end;	     /* of the memory the kernel needs */
	uint64_t initrd_max; /* the highest byte the initrd may occupy */
	struct bzimage bz;   /* bzImage only */
	uint32_t pvh_entry;  /* vmlinux only */
};

static int kernel_too_big(const char *kernel, uint64_t end, uint64_t low_end)
{
	return err_set(
		"kernel %s needs %llu MiB of RAM below the MMIO hole to boot; the guest has %llu MiB there",
		kernel, (unsigned long long)((end + (1 << 20) - 1) >> 20),
		(unsigned long long)(low_end >> 20));
}

/* The protected-mode part of a bzImage goes to X86_KERNEL_LOAD_ADDR, as
 * it is: the kernel decompresses itself. */
static int load_bzimage(struct guest_mem *mem, int fd, const char *kernel, const uint8_t *hdr,
			size_t hlen, uint64_t len, uint64_t low_end, struct kernel_loaded *k)
{
	if (x86_bzimage_parse_header(hdr, hlen, len, &k->bz)) {
		err_prefix("kernel %s", kernel);
		return -1;
	}
	k->end = x86_kernel_end(&k->bz);
	k->initrd_max = k->bz.initrd_addr_max;
	if (k->end > low_end)
		return kernel_too_big(kernel, k->end, low_end);
	uint8_t *dst = guest_mem_ptr(mem, X86_KERNEL_LOAD_ADDR, k->bz.kernel_size);
	if (dst == NULL)
		return err_set("kernel %s does not fit in guest RAM", kernel);
	return file_read_at(fd, "kernel", kernel, dst, k->bz.kernel_size, k->bz.setup_size);
}

/* A vmlinux: every loadable segment at its physical address, and the
 * PVH entry from its notes (pvh.h). */
static int load_vmlinux(struct guest_mem *mem, int fd, const char *kernel, const uint8_t *hdr,
			size_t hlen, uint64_t len, uint64_t low_end, struct kernel_loaded *k)
{
	static __thread uint8_t notes[PVH_MAX_NOTE_BYTES];
	struct pvh_image img;
	int found = 0;

	if (x86_pvh_parse(hdr, hlen, len, &img)) {
		err_prefix("kernel %s", kernel);
		return -1;
	}
	for (unsigned int i = 0; i < img.nnotes && found == 0; i++) {
		size_t n = img.notes[i].filesz < sizeof(notes) ? (size_t)img.notes[i].filesz
							       : sizeof(notes);
		if (file_read_at(fd, "kernel", kernel, notes, n, (off_t)img.notes[i].offset))
			return -1;
		found = x86_pvh_find_entry(notes, n, &img, &k->pvh_entry);
	}
	if (found < 0) {
		err_prefix("kernel %s", kernel);
		return -1;
	}
	if (found == 0)
		return err_set(
			"kernel %s: an ELF kernel without a PVH entry note (built without CONFIG_PVH?); boot its bzImage instead",
			kernel);
	k->end = img.end;
	k->initrd_max = PVH_INITRD_ADDR_MAX;
	if (k->end > low_end)
		return kernel_too_big(kernel, k->end, low_end);
	for (unsigned int i = 0; i < img.nseg; i++) {
		const struct pvh_segment *s = &img.seg[i];
		uint8_t *dst = guest_mem_ptr(mem, s->paddr, s->memsz);
		if (dst == NULL)
			return err_set("kernel %s: no guest RAM for its segment at 0x%llx+0x%llx",
				       kernel, (unsigned long long)s->paddr,
				       (unsigned long long)s->memsz);
		if (file_read_at(fd, "kernel", kernel, dst, (size_t)s->filesz, (off_t)s->offset))
			return -1;
		memset(dst + s->filesz, 0, (size_t)(s->memsz - s->filesz));
	}
	return 0;
}

int x86_boot_load(struct guest_mem *mem, const struct ram_bank *banks, unsigned int nbanks,
		  const char *kernel, const char *initrd, const char *cmdline, uint64_t rsdp_addr,
		  struct x86_boot_entry *entry)
{
	/* The header and setup code fit in 64 KiB (setup_sects < 128), and
	 * so do a vmlinux's ELF and program headers; the rest is read
	 * straight into guest memory, once. */
	static __thread uint8_t hdr[64 * 1024];
	struct kernel_loaded k;
	uint64_t len;
	int ret = -1;

	int fd = file_open_regular("kernel", kernel, &len);
	if (fd < 0)
		return -1;
	size_t hlen = len < sizeof(hdr) ? (size_t)len : sizeof(hdr);
	if (file_read_at(fd, "kernel", kernel, hdr, hlen, 0))
		goto out;
	uint64_t low_end = banks[0].gpa + banks[0].size;
	bool pvh = x86_is_elf(hdr, hlen);
	if ((pvh ? load_vmlinux : load_bzimage)(mem, fd, kernel, hdr, hlen, len, low_end, &k))
		goto out;

	struct x86_boot_args args = { .rsdp_addr = rsdp_addr };
	size_t clen = strlen(cmdline);
	if (clen >= X86_CMDLINE_MAX) {
		err_set("kernel command line is too long (%zu bytes)", clen);
		goto out;
	}
	if (guest_mem_write(mem, X86_CMDLINE_ADDR, cmdline, clen + 1)) {
		err_set("no guest RAM for the command line");
		goto out;
	}
	args.cmdline_addr = X86_CMDLINE_ADDR;
	args.cmdline_len = clen;
	if (initrd && load_initrd(mem, k.end, k.initrd_max, low_end, initrd, &args.initrd_addr,
				  &args.initrd_size))
		goto out;

	struct e820_entry e820[E820_MAX_ENTRIES];
	int n = x86_e820_build(banks, nbanks, e820, E820_MAX_ENTRIES);
	if (n < 0)
		goto out;
	args.e820 = e820;
	args.e820_nr = (unsigned int)n;

	/* The zero page, or in its place the PVH start info. */
	uint8_t *zp = guest_mem_ptr(mem, X86_BOOT_PARAMS_ADDR, BOOT_PARAMS_SIZE);
	if (zp == NULL) {
		err_set("no guest RAM for the zero page");
		goto out;
	}
	if (pvh ? x86_pvh_start_info_build(zp, BOOT_PARAMS_SIZE, X86_BOOT_PARAMS_ADDR, &args)
		: x86_boot_params_build(zp, &k.bz, &args)) {
		err_prefix("kernel %s", kernel);
		goto out;
	}
	/* bzImage: the 64-bit entry point is 0x200 past the protected-mode
	 * start. */
	entry->pvh = pvh;
	entry->rip = pvh ? k.pvh_entry : X86_KERNEL_LOAD_ADDR + 0x200;
	entry->params = X86_BOOT_PARAMS_ADDR;
	ret = 0;
out:
	close(fd);
	return ret;
}

int x86_write_reset_stub(struct guest_mem *mem, uint16_t reset_port, uint8_t reset_value)
{
	const uint8_t stub[] = {
		0xba,
		(uint8_t)reset_port,
		(uint8_t)(reset_port >> 8), /* mov dx, port */
		0xb0,
		reset_value, /* mov al, value */
		0xee,	     /* out dx, al */
		0xfa,	     /* cli */
		0xf4,	     /* hlt */
		0xeb,
		0xfd, /* jmp back to hlt */
	};
	if (guest_mem_write(mem, X86_RESET_VECTOR, stub, sizeof(stub)))
		return err_set("no guest RAM at the reset vector");
	return 0;
}
