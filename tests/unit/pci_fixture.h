/*
 * Test helper: a real PIO and MMIO bus with a PCI bus behind 0xCF8/0xCFC and
 * an ECAM window, and config accessors that go through them the way a guest
 * does.  Header-only so that each test_*.c stays one binary.
 */
#ifndef TESTS_UNIT_PCI_FIXTURE_H
#define TESTS_UNIT_PCI_FIXTURE_H

#include <check.h>
#include <stdint.h>

#include "core/bus.h"
#include "devices/pci.h"

#define PF_MEM32_BASE 0xc0000000ull
#define PF_MEM32_SIZE 0x20000000ull
#define PF_ECAM_BASE  0xe0000000ull
#define PF_ECAM_SIZE  0x10000000ull
#define PF_MEM64_BASE 0x4000000000ull
#define PF_MEM64_SIZE 0x1000000000ull

struct pci_fixture {
	struct bus pio, mmio;
	struct pci_bus pb;
};

static inline void pf_init(struct pci_fixture *pf)
{
	bus_init(&pf->pio, "pio");
	bus_init(&pf->mmio, "mmio");
	ck_assert_int_eq(pci_bus_init(&pf->pb, &pf->mmio, PF_MEM32_BASE, PF_MEM32_SIZE,
				      PF_MEM64_BASE, PF_MEM64_SIZE),
			 0);
	ck_assert_int_eq(pci_bus_register_pio(&pf->pb, &pf->pio), 0);
	ck_assert_int_eq(pci_bus_register_ecam(&pf->pb, &pf->mmio, PF_ECAM_BASE, PF_ECAM_SIZE), 0);
}

static inline void pf_destroy(struct pci_fixture *pf)
{
	pci_bus_destroy(&pf->pb);
	bus_destroy(&pf->mmio);
	bus_destroy(&pf->pio);
}

static inline uint64_t pf_ecam_addr(unsigned int bus, unsigned int dev, unsigned int fn,
				    uint32_t reg)
{
	return PF_ECAM_BASE + ((uint64_t)bus << 20 | dev << 15 | fn << 12 | reg);
}

static inline uint32_t pf_ecam_read(struct pci_fixture *pf, unsigned int dev, uint32_t reg,
				    unsigned int len)
{
	uint32_t v = 0;
	bus_read(&pf->mmio, pf_ecam_addr(0, dev, 0, reg), &v, len);
	return v;
}

static inline void pf_ecam_write(struct pci_fixture *pf, unsigned int dev, uint32_t reg,
				 unsigned int len, uint32_t v)
{
	bus_write(&pf->mmio, pf_ecam_addr(0, dev, 0, reg), &v, len);
}

static inline uint32_t pf_cf8_addr(unsigned int bus, unsigned int dev, unsigned int fn,
				   uint32_t reg)
{
	return PCI_CONFIG_ENABLE | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

static inline uint32_t pf_cf8_read_bdf(struct pci_fixture *pf, unsigned int bus, unsigned int dev,
				       unsigned int fn, uint32_t reg, unsigned int len)
{
	uint32_t a = pf_cf8_addr(bus, dev, fn, reg), v = 0;
	bus_write(&pf->pio, PCI_PIO_BASE, &a, 4);
	bus_read(&pf->pio, PCI_PIO_BASE + 4 + (reg & 3), &v, len);
	return v;
}

static inline uint32_t pf_cf8_read(struct pci_fixture *pf, unsigned int dev, uint32_t reg,
				   unsigned int len)
{
	return pf_cf8_read_bdf(pf, 0, dev, 0, reg, len);
}

static inline void pf_cf8_write(struct pci_fixture *pf, unsigned int dev, uint32_t reg,
				unsigned int len, uint32_t v)
{
	uint32_t a = pf_cf8_addr(0, dev, 0, reg);
	bus_write(&pf->pio, PCI_PIO_BASE, &a, 4);
	bus_write(&pf->pio, PCI_PIO_BASE + 4 + (reg & 3), &v, len);
}

/* Walks the capability list as a driver would; offset of the nth (0-based)
 * capability with that ID, 0 if there is none. */
static inline uint32_t pf_find_cap(struct pci_fixture *pf, unsigned int dev, uint8_t id,
				   unsigned int nth)
{
	if (!(pf_ecam_read(pf, dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	uint32_t off = pf_ecam_read(pf, dev, PCI_CAP_PTR, 1);
	for (unsigned int guard = 0; off && guard < 64; guard++) {
		ck_assert_uint_eq(off & 3, 0);
		ck_assert_uint_ge(off, PCI_CAP_START);
		if (pf_ecam_read(pf, dev, off, 1) == id && nth-- == 0)
			return off;
		off = pf_ecam_read(pf, dev, off + 1, 1);
	}
	return 0;
}

/* Turns memory decoding on or off through the command register. */
static inline void pf_set_memory(struct pci_fixture *pf, unsigned int dev, int on)
{
	uint32_t cmd = pf_ecam_read(pf, dev, PCI_COMMAND, 2);
	cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~(uint32_t)PCI_COMMAND_MEMORY;
	pf_ecam_write(pf, dev, PCI_COMMAND, 2, cmd);
}

/* A 64-bit BAR's address as the guest reads it. */
static inline uint64_t pf_bar64(struct pci_fixture *pf, unsigned int dev, unsigned int bar)
{
	uint32_t reg = PCI_BAR0 + 4 * bar;
	return ((uint64_t)pf_ecam_read(pf, dev, reg + 4, 4) << 32) |
	       (pf_ecam_read(pf, dev, reg, 4) & ~0xfu);
}

#endif
