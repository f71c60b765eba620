/* Linux arm64 Image loading: header checks, placement, file reads. */
#include "arch/arm64/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arm64/layout.h"
#include "core/err.h"
#include "core/file.h"

#define PAGE_SIZE 4096ULL

static uint64_t get_le(const uint8_t *p, size_t off, unsigned int n)
{
	uint64_t v = 0;
	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)p[off + i] << (8 * i);
	return v;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}
static uint64_t align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

int arm64_image_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct arm64_image *img)
{
	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
		return err_set(
			"a gzip-compressed kernel: arm64 needs the uncompressed Image (gunzip it)");
	if (len < ARM64_IMAGE_HEADER_SIZE || file_size < ARM64_IMAGE_HEADER_SIZE)
		return err_set("too short for an arm64 Image (%llu bytes)",
			       (unsigned long long)file_size);
	if (get_le(buf, ARM64_IMAGE_MAGIC_OFF, 4) != ARM64_IMAGE_MAGIC)
		return err_set("not an arm64 Image (no ARM\\x64 magic at offset 56)");
	uint64_t flags = get_le(buf, ARM64_IMAGE_FLAGS, 8);
	if (flags & ARM64_IMAGE_FLAG_BE)
		return err_set("a big-endian arm64 kernel: only little-endian is supported");
	img->text_offset = get_le(buf, ARM64_IMAGE_TEXT_OFFSET, 8);
	img->size = get_le(buf, ARM64_IMAGE_SIZE, 8);
	img->file_size = file_size;
	/* booting.rst: an image_size of 0 (kernels before 3.17) means a text
	 * offset of 0x80000 and no size: use the file's. */
	if (img->size == 0)
		img->text_offset = 0x80000;
	if (img->size < file_size)
		img->size = file_size;
	if (img->text_offset >= ARM64_KERNEL_ALIGN || img->text_offset % PAGE_SIZE)
		return err_set("arm64 Image: text offset 0x%llx is not a page offset within 2 MiB",
			       (unsigned long long)img->text_offset);
	if (img->size > (1ULL << 40))
		return err_set("arm64 Image: size 0x%llx is implausible",
			       (unsigned long long)img->size);
	return 0;
}

int arm64_boot_place(const struct arm64_image *img, uint64_t ram_base, uint64_t ram_size,
		     uint64_t initrd_size, struct arm64_boot_layout *l)
{
	uint64_t ram_end = ram_base + ram_size;

	if (ram_end < ram_base || ram_size < ARM64_FDT_MAX_SIZE)
		return err_set("RAM 0x%llx+0x%llx is too small to boot",
			       (unsigned long long)ram_base, (unsigned long long)ram_size);
	*l = (struct arm64_boot_layout){ 0 };
	l->kernel = align_up(ram_base, ARM64_KERNEL_ALIGN) + img->text_offset;
	l->kernel_end = l->kernel + img->size;
	l->fdt = align_down(ram_end - ARM64_FDT_MAX_SIZE, ARM64_KERNEL_ALIGN);
	if (l->kernel_end < l->kernel || l->kernel_end > l->fdt)
		return err_set("the kernel (%llu MiB) does not fit in %llu MiB of RAM",
			       (unsigned long long)(img->size >> 20),
			       (unsigned long long)(ram_size >> 20));
	if (initrd_size) {
		uint64_t room = l->fdt - align_up(l->kernel_end, PAGE_SIZE);
		if (initrd_size > room)
			return err_set(
				"the initrd (%llu MiB) does not fit in RAM beside the kernel",
				(unsigned long long)(initrd_size >> 20));
		l->initrd = align_down(l->fdt - initrd_size, PAGE_SIZE);
		l->initrd_size = initrd_size;
	}
	return 0;
}

static int load_file(struct guest_mem *mem, int fd, const char *what, const char *path,
		     uint64_t gpa, uint64_t size)
{
	uint8_t *dst = guest_mem_ptr(mem, gpa, size);
	if (dst == NULL)
		return err_set("%s %s: no guest RAM at 0x%llx+0x%llx", what, path,
			       (unsigned long long)gpa, (unsigned long long)size);
	return file_read_at(fd, what, path, dst, (size_t)size, 0);
}

int arm64_boot_load(struct guest_mem *mem, uint64_t ram_base, uint64_t ram_size, const char *kernel,
		    const char *initrd, struct arm64_boot_layout *l)
{
	uint8_t hdr[ARM64_IMAGE_HEADER_SIZE] = { 0 };
	struct arm64_image img;
	uint64_t ksize, isize = 0;
	int kfd, ifd = -1, ret = -1;

	kfd = file_open_regular("kernel", kernel, &ksize);
	if (kfd < 0)
		return -1;
	ssize_t n = pread(kfd, hdr, sizeof(hdr), 0);
	if (n < 0) {
		err_errno("kernel %s", kernel);
		goto out;
	}
	if (arm64_image_parse(hdr, (size_t)n, ksize, &img)) {
		err_prefix("kernel %s", kernel);
		goto out;
	}
	if (initrd) {
		ifd = file_open_regular("initrd", initrd, &isize);
		if (ifd < 0)
			goto out;
		if (isize == 0) {
			err_set("initrd %s: empty file", initrd);
			goto out;
		}
	}
	if (arm64_boot_place(&img, ram_base, ram_size, isize, l))
		goto out;
	if (load_file(mem, kfd, "kernel", kernel, l->kernel, ksize))
		goto out;
	if (ifd >= 0 && load_file(mem, ifd, "initrd", initrd, l->initrd, isize))
		goto out;
	ret = 0;
out:
	if (ifd >= 0)
		close(ifd);
	close(kfd);
	return ret;
}
