/*
 * PCI: one bus (bus 0, 32 slots, function 0 of each) behind a host bridge at
 * 00:00.0, reached through the legacy port pair 0xCF8/0xCFC and through an
 * ECAM window.  Owns type-0 configuration space semantics (read-only
 * fields, writable command bits, RW1C status, BAR sizing, capability list)
 * and memory BARs: their allocation from the windows given at init, and
 * their decoding, i.e. keeping each BAR's range on the MMIO bus in step with
 * the command register and the BAR registers the guest writes.
 *
 * Knows nothing of the devices behind it: a device embeds a struct
 * pci_function, describes its header and BARs, and gets callbacks.
 *
 * Locking: one mutex per bus serialises all configuration accesses.  The
 * function's hooks and BAR callbacks run with it held, so they must not
 * access configuration space through the bus again; a device's own MMIO
 * handlers never take it (lock order: PCI bus, then device locks).
 * Interrupts: MSI-X only (see devices/msix.h); interrupt pin is 0.
 */
#ifndef DEVICES_PCI_H
#define DEVICES_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"

#define PCI_NUM_SLOTS	  32
#define PCI_CFG_SIZE	  256	     /* conventional config space */
#define PCI_ECAM_FN_SIZE  4096	     /* ECAM bytes per function */
#define PCI_ECAM_BUS_SIZE (1u << 20) /* ECAM bytes per bus */
#define PCI_NUM_BARS	  6

/* Every function sits on bus 0 (no bridges); the guest is told so, because
 * Linux on x86 probes all 32 slots of every bus the MCFG covers (its
 * peer-bridge fixup): 8,160 needless config reads, 16k port exits, at boot
 * with buses 0-255. */
#define PCI_NUM_BUSES 1

/* Legacy configuration mechanism #1: CONFIG_ADDRESS at 0xCF8 (dword),
 * CONFIG_DATA at 0xCFC-0xCFF; register PCI_PIO_LEN ports at PCI_PIO_BASE. */
#define PCI_PIO_BASE	  0xcf8
#define PCI_PIO_LEN	  8
#define PCI_CONFIG_ENABLE 0x80000000u
/* The PC chipset's reset control register sits in the same ports (0xCF9):
 * a byte write with RST_CPU set resets the machine (Linux's reboot=pci). */
#define PCI_RESET_CONTROL 1 /* offset from PCI_PIO_BASE */
#define PCI_RESET_RST_CPU 0x04

/* Type-0 header offsets. */
#define PCI_VENDOR_ID		 0x00
#define PCI_DEVICE_ID		 0x02
#define PCI_COMMAND		 0x04
#define PCI_STATUS		 0x06
#define PCI_REVISION_ID		 0x08
#define PCI_CLASS_PROG		 0x09
#define PCI_CACHE_LINE		 0x0c
#define PCI_LATENCY_TIMER	 0x0d
#define PCI_HEADER_TYPE		 0x0e
#define PCI_BAR0		 0x10
#define PCI_SUBSYS_VENDOR	 0x2c
#define PCI_SUBSYS_ID		 0x2e
#define PCI_ROM_ADDRESS		 0x30
#define PCI_CAP_PTR		 0x34
#define PCI_INTERRUPT_LINE	 0x3c
#define PCI_INTERRUPT_PIN	 0x3d
#define PCI_CAP_START		 0x40 /* first byte after the header */

#define PCI_COMMAND_IO		 0x0001
#define PCI_COMMAND_MEMORY	 0x0002
#define PCI_COMMAND_MASTER	 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400

#define PCI_STATUS_CAP_LIST	 0x0010
/* Error bits, write-one-to-clear. */
#define PCI_STATUS_RW1C		0xf900

#define PCI_BAR_IO		0x1 /* an I/O BAR: bit 0 of the register */
#define PCI_BAR_IO_FLAGS	0x3
#define PCI_IO_SPACE_END	0x10000 /* x86 ports: 16-bit I/O decode */
#define PCI_BAR_MEM_64		0x4
#define PCI_BAR_MEM_PREFETCH	0x8
#define PCI_BAR_MEM_FLAGS	0xf

#define PCI_CAP_ID_VNDR		0x09
#define PCI_CAP_ID_MSIX		0x11

#define PCI_CLASS_BRIDGE_HOST	0x060000u
#define PCI_CLASS_STORAGE_OTHER 0x018000u

/* The host bridge's identity: the one Firecracker and Cloud Hypervisor
 * present, which Linux binds nothing special to. */
#define PCI_HOST_BRIDGE_VENDOR 0x8086
#define PCI_HOST_BRIDGE_DEVICE 0x0d57

struct pci_function;

struct pci_function_ops {
	/* Called after the generic read of reg..reg+len (never crossing a
	 * dword; len 1, 2 or 4) computed *val: registers whose value is not
	 * plain config bytes may replace it. */
	void (*config_read)(void *opaque, uint32_t reg, unsigned int len, uint32_t *val);
	/* Called after a guest write was merged into config space through
	 * the write masks: the device reacts to its own registers. */
	void (*config_write)(void *opaque, uint32_t reg, unsigned int len, uint32_t val);
	/* BAR decoding changed; the MMIO bus already reflects it.  Any may be
	 * NULL. */
	void (*bar_mapped)(void *opaque, unsigned int bar, uint64_t addr);
	void (*bar_moved)(void *opaque, unsigned int bar, uint64_t old_addr, uint64_t new_addr);
	void (*bar_unmapped)(void *opaque, unsigned int bar, uint64_t old_addr);
};

/* A BAR as the device declared it, and where it decodes now. */
struct pci_bar {
	uint64_t size;		   /* 0: unused (or upper half of a 64-bit BAR) */
	uint32_t flags;		   /* PCI_BAR_IO, or PCI_BAR_MEM_64 | PCI_BAR_MEM_PREFETCH */
	const struct bus_ops *ops; /* the region's handlers on the MMIO or port bus */
	void *opaque;
	bool sizing_lo, sizing_hi; /* the guest wrote all-ones to that dword */
	bool mapped;		   /* registered on its bus at map_addr */
	uint64_t map_addr;
};

/* What a function is: the read-only part of its header. */
struct pci_id {
	uint16_t vendor, device;
	uint8_t revision;
	uint32_t class_code; /* base class << 16 | subclass << 8 | prog-if */
	uint16_t subsys_vendor, subsys_id;
};

struct pci_function {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];   /* bits the guest may write */
	uint8_t w1cmask[PCI_CFG_SIZE]; /* bits a guest 1 clears */
	struct pci_bar bars[PCI_NUM_BARS];
	uint16_t cap_next_free; /* where the next capability may go */
	uint8_t cap_last;	/* offset of the last capability, 0: none */
	const struct pci_function_ops *ops;
	void *opaque;
	struct pci_bus *bus; /* NULL until plugged */
	unsigned int slot;
};

/* An address window BARs are allocated from (bump allocation, natural
 * alignment). */
struct pci_window {
	uint64_t base, size;
	uint64_t next;
};

struct pci_bus {
	pthread_mutex_t lock;
	struct bus *mmio;	 /* where memory BARs decode */
	struct bus *pio;	 /* where I/O BARs decode; NULL: no port I/O */
	uint32_t config_address; /* the 0xCF8 latch */
	struct pci_window mem32, mem64;
	struct pci_window io; /* size 0: I/O BARs get no address */
	struct pci_function host_bridge;
	struct pci_function *slots[PCI_NUM_SLOTS];
	/* Called (any vCPU) on a reset through 0xCF9; NULL: ignored. */
	void (*reset)(void *opaque);
	void *reset_opaque;
};

/* Handlers for the 0xCF8-0xCFF ports and for the ECAM window (any size up
 * to 256 buses; only bus 0 has functions); opaque is the struct pci_bus. */
extern const struct bus_ops pci_pio_ops;
extern const struct bus_ops pci_ecam_ops;

/*
 * A bus with the host bridge in slot 0.  32-bit BARs are allocated from
 * [mem32_base, +mem32_size), 64-bit BARs from [mem64_base, +mem64_size) (or
 * from the 32-bit window when mem64_size is 0).  Windows must not wrap and
 * the 32-bit one must lie below 4 GiB.
 */
int pci_bus_init(struct pci_bus *pb, struct bus *mmio, uint64_t mem32_base, uint64_t mem32_size,
		 uint64_t mem64_base, uint64_t mem64_size);

/* Gives the bus an I/O port window for I/O BARs on pio ([base, +size)
 * inside 16-bit port space).  Before plugging. */
int pci_bus_set_io_window(struct pci_bus *pb, struct bus *pio, uint64_t base, uint64_t size);

/* Whether I/O BARs can be given addresses (the bus has an I/O window). */
bool pci_bus_has_io(const struct pci_bus *pb);

/* Unplugs every function (their BARs leave the MMIO bus). */
void pci_bus_destroy(struct pci_bus *pb);

/* Registers pci_pio_ops at 0xCF8 on pio, pci_ecam_ops at [base, +size) on
 * mmio (size a multiple of 1 MiB, at most 256 MiB). */
int pci_bus_register_pio(struct pci_bus *pb, struct bus *pio);
int pci_bus_register_ecam(struct pci_bus *pb, struct bus *mmio, uint64_t base, uint64_t size);

/* Sets up a function's header: ids, writable command bits, no BARs, no
 * capabilities, interrupt pin 0. */
void pci_function_init(struct pci_function *f, const struct pci_id *id,
		       const struct pci_function_ops *ops, void *opaque);

/*
 * Declares BAR `bar`.  A memory BAR (a 64-bit one also takes bar + 1): size
 * a power of two >= 16, flags PCI_BAR_MEM_64 and/or PCI_BAR_MEM_PREFETCH;
 * it decodes on the MMIO bus while memory space is enabled.  An I/O BAR:
 * flags PCI_BAR_IO, size a power of two from 4 to 256; it decodes on the
 * port bus while I/O space is enabled (the function's I/O enable bit
 * becomes writable).  While it decodes, [addr, addr + size) is registered
 * with ops/opaque (offsets relative to the BAR).  Before plugging only.
 */
int pci_function_add_bar(struct pci_function *f, unsigned int bar, uint64_t size, uint32_t flags,
			 const struct bus_ops *ops, void *opaque);

/*
 * Appends a capability of len bytes (>= 2, including the ID and next
 * bytes, which are filled in here) copied from data; wmask (len bytes, or
 * NULL for read-only) says which bits of each byte the guest may write.
 * Returns its offset in config space, or -1 when it does not fit.
 */
int pci_add_capability(struct pci_function *f, uint8_t cap_id, const void *data, unsigned int len,
		       const uint8_t *wmask);

/*
 * Plugs f into slot (1..31, or -1 for the first free one) and assigns its
 * BARs addresses from the windows, as firmware would; decoding stays off
 * until the guest sets memory space in the command register.
 */
int pci_bus_plug(struct pci_bus *pb, struct pci_function *f, int slot);

/* Removes f from its bus; a BAR that decodes leaves the MMIO bus. */
void pci_bus_unplug(struct pci_function *f);

/* Where BAR bar currently decodes: true and *addr set if it does. */
bool pci_bar_decoding(struct pci_function *f, unsigned int bar, uint64_t *addr);

/* Raw config-space accessors, without masks or hooks: for devices building
 * their header and for their hooks (which already run under the bus lock).
 * Offsets outside config space read 0 and are not written. */
uint8_t pci_cfg_get8(const struct pci_function *f, uint32_t off);
uint16_t pci_cfg_get16(const struct pci_function *f, uint32_t off);
uint32_t pci_cfg_get32(const struct pci_function *f, uint32_t off);
void pci_cfg_set8(struct pci_function *f, uint32_t off, uint8_t v);
void pci_cfg_set16(struct pci_function *f, uint32_t off, uint16_t v);
void pci_cfg_set32(struct pci_function *f, uint32_t off, uint32_t v);

#endif
