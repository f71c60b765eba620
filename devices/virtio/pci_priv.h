/*
 * The virtio-pci transport's state, shared by pci.c (PCI function, BAR
 * dispatch, capabilities, interrupts) and pci_common.c (common config
 * registers, status machine, queues and their ioeventfds).
 *
 * Locking: vp->lock guards everything the common config registers touch
 * and the BAR's decoding address.  It is taken by vCPU threads (BAR
 * accesses) and under the PCI bus lock (BAR callbacks), never the other
 * way round.  Device threads only reach notify_queue/needs_reset, which
 * use atomics and never take it: a reset holds it while the device waits
 * for those threads.
 */
#ifndef DEVICES_VIRTIO_PCI_PRIV_H
#define DEVICES_VIRTIO_PCI_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtio/device.h"
#include "devices/virtio/pci.h"

struct virtio_pci_queue {
	uint16_t size;
	_Atomic uint16_t vector; /* read by device threads */
	bool enabled;
	uint64_t desc, driver, device;
	int kick_fd; /* eventfd, for the transport's life */
	/* One ioeventfd per notify structure (enum virtio_pci_notify), each
	 * registered at ioeventfd_addr while its BAR decodes. */
	bool ioeventfd[2];
	uint64_t ioeventfd_addr[2];
};

/* The notify structures: BAR 0's page, and BAR 2's ports (pio_notify). */
enum virtio_pci_notify {
	VIRTIO_PCI_NOTIFY_MMIO,
	VIRTIO_PCI_NOTIFY_PIO
};

struct virtio_pci {
	struct pci_function pci;
	struct msix msix;
	struct virtio_pci_params p;
	struct virtio_device *vdev;
	unsigned int nr_queues;
	unsigned int nr_vectors;
	unsigned int pci_cfg_cap; /* offset of the PCI_CFG capability */
	pthread_mutex_t lock;

	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint64_t driver_features;
	uint8_t status;
	atomic_bool needs_reset; /* DEVICE_NEEDS_RESET, set by device threads */
	atomic_uint isr;
	_Atomic uint16_t msix_config;
	uint16_t queue_select;
	struct virtio_pci_queue *queues;

	bool dma_stopped; /* Bus Master Enable was cleared while
					 * the queues ran: stopped until reset */
	bool bar_mapped;  /* BAR 0 decodes at bar_addr */
	uint64_t bar_addr;
	bool pio_mapped; /* BAR 2 (pio_notify) decodes at pio_addr */
	uint64_t pio_addr;
};

/* What a common config write asks of the transport: pci_common.c keeps the
 * register state, pci.c acts on the device, ioeventfds and interrupts. */
enum virtio_pci_action {
	VIRTIO_PCI_ACT_NONE,
	VIRTIO_PCI_ACT_RESET,	      /* status 0 written */
	VIRTIO_PCI_ACT_START_QUEUES,  /* DRIVER_OK accepted */
	VIRTIO_PCI_ACT_QUEUE_ENABLED, /* queue_select's queue was enabled */
};

/* Common config structure accesses (offset inside it).  Reads take the
 * lock; writes expect it held and return what the transport must do. */
void virtio_pci_common_read(struct virtio_pci *vp, uint64_t offset, void *data, unsigned int len);
enum virtio_pci_action virtio_pci_common_write(struct virtio_pci *vp, uint64_t offset,
					       const void *data, unsigned int len);

/* The transport's initial state (also what reset returns to).  Lock held
 * or not yet shared. */
void virtio_pci_state_init(struct virtio_pci *vp);

#endif
