/*
 * MSI-X for a PCI function: the capability in config space, the vector table
 * and the pending bit array (PBA) in a BAR, and their translation into KVM
 * terms.  Each vector owns an eventfd for its whole life; while the vector
 * can fire (MSI-X enabled, function and vector unmasked) that eventfd is an
 * irqfd bound to a GSI whose MSI route carries the vector's address/data.
 * While it cannot, the irqfd is detached so signals pile up in the eventfd
 * counter: they show as pending bits and are delivered on unmask.
 *
 * Devices raise vector v from any thread with msix_notify() (one eventfd
 * write, no lock).  Table, PBA and config accesses come from vCPU threads
 * and are serialised by a mutex; knows nothing of the device using it.
 */
#ifndef DEVICES_MSIX_H
#define DEVICES_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/irq_ops.h"
#include "devices/pci.h"

#define MSIX_MAX_VECTORS 2048
#define MSIX_ENTRY_SIZE	 16
#define MSIX_CAP_SIZE	 12

/* Capability layout (offsets from the capability). */
#define MSIX_CAP_CONTROL     2	    /* le16 */
#define MSIX_CAP_TABLE	     4	    /* le32: offset | BIR */
#define MSIX_CAP_PBA	     8	    /* le32: offset | BIR */
#define MSIX_CONTROL_SIZE    0x07ff /* table size - 1 */
#define MSIX_CONTROL_MASKALL 0x4000
#define MSIX_CONTROL_ENABLE  0x8000

/* Table entry layout. */
#define MSIX_ENTRY_ADDR_LO   0
#define MSIX_ENTRY_ADDR_HI   4
#define MSIX_ENTRY_DATA	     8
#define MSIX_ENTRY_CTRL	     12
#define MSIX_ENTRY_CTRL_MASK 1u

struct msix_vector {
	uint32_t addr_lo, addr_hi, data, ctrl; /* the guest's table entry */
	int fd;				       /* eventfd, from msix_init to msix_destroy */
	bool routed;			       /* gsi has an MSI route */
	bool route_stale;		       /* the entry changed since the route was set */
	uint32_t gsi;
	bool attached; /* fd is an irqfd on gsi */
	bool pending;  /* a signal taken from fd while not attached */
};

struct msix_params {
	struct pci_function *pci; /* receives the capability */
	unsigned int nr_vectors;  /* 1..MSIX_MAX_VECTORS */
	unsigned int table_bar;
	uint32_t table_offset; /* 8-byte aligned */
	unsigned int pba_bar;
	uint32_t pba_offset; /* 8-byte aligned */
	const struct irq_msi_ops *irq_ops;
	void *irq_ctx;
	/* Told when a KVM call made on the guest's behalf failed (the
	 * guest cannot be); NULL: the message goes to stderr. */
	void (*report)(void *opaque, const char *msg);
	void *report_opaque;
};

struct msix {
	pthread_mutex_t lock;
	struct msix_params p;
	unsigned int cap;     /* capability offset in config space */
	bool enabled, masked; /* message control, as last written */
	bool bus_master;      /* PCI_COMMAND_MASTER, as last written */
	struct msix_vector *vec;
};

/* Bytes the table and the PBA take for n vectors. */
#define MSIX_TABLE_BYTES(n) ((uint32_t)(n)*MSIX_ENTRY_SIZE)
#define MSIX_PBA_BYTES(n)   ((((uint32_t)(n) + 63) / 64) * 8)

/* Adds the capability and creates the vectors' eventfds, all masked. */
int msix_init(struct msix *m, const struct msix_params *params);

/* Detaches the irqfds, removes the routes and closes the eventfds.  No
 * thread may notify any more. */
void msix_destroy(struct msix *m);

/* For the owning function's config_write hook: reacts when the write
 * touched message control (enable, function mask) or the command register
 * (Bus Master Enable). */
void msix_config_write(struct msix *m, uint32_t reg, unsigned int len);

/* The table and PBA regions, offsets relative to their start, for the
 * device's BAR dispatch.  opaque is the struct msix.  Table accesses are
 * dword or qword, naturally aligned; the PBA is read-only. */
void msix_table_read(void *opaque, uint64_t offset, void *data, unsigned int len);
void msix_table_write(void *opaque, uint64_t offset, const void *data, unsigned int len);
void msix_pba_read(void *opaque, uint64_t offset, void *data, unsigned int len);
void msix_pba_write(void *opaque, uint64_t offset, const void *data, unsigned int len);

/* Raises vector v (any thread): 0, or -1 when v is out of range. */
int msix_notify(struct msix *m, unsigned int v);

/* The eventfd behind vector v (any thread), -1 when out of range. */
int msix_vector_fd(const struct msix *m, unsigned int v);

#endif
