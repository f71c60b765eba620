/*
 * Test helpers for the kernel loaders' unit tests (test_boot.c,
 * test_pvh.c): guest RAM to load into, and the check that x86_boot_load
 * refuses a kernel with one line that says why and names the file.
 * Header-only so that each test_*.c stays one binary.
 */
#ifndef TESTS_UNIT_BOOT_FIXTURE_H
#define TESTS_UNIT_BOOT_FIXTURE_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "core/err.h"
#include "core/guest_mem.h"
#include "core/vm.h"

#define BOOT_RAM_SIZE (64ULL << 20)

/* BOOT_RAM_SIZE of guest RAM at 0 as one bank, every byte fill. */
struct boot_ram {
	uint8_t *ram;
	struct guest_mem mem;
	struct ram_bank bank;
};

static inline void boot_ram_init(struct boot_ram *r, int fill)
{
	memset(r, 0, sizeof(*r));
	r->ram = malloc(BOOT_RAM_SIZE);
	ck_assert_ptr_nonnull(r->ram);
	memset(r->ram, fill, BOOT_RAM_SIZE);
	r->bank = (struct ram_bank){ 0, BOOT_RAM_SIZE };
	ck_assert_int_eq(guest_mem_add(&r->mem, 0, BOOT_RAM_SIZE, r->ram), 0);
}

static inline void boot_ram_free(struct boot_ram *r)
{
	free(r->ram);
	r->ram = NULL;
}

static inline void expect_boot_error(struct guest_mem *mem, const struct ram_bank *bank,
				     const char *kernel, const char *initrd, const char *want)
{
	struct x86_boot_entry entry;

	ck_assert_int_eq(x86_boot_load(mem, bank, 1, kernel, initrd, "", 0, &entry), -1);
	ck_assert_msg(strstr(err_msg(), want) && strstr(err_msg(), kernel) &&
			      !strchr(err_msg(), '\n'),
		      "'%s' lacks '%s' or '%s'", err_msg(), want, kernel);
}

#endif
