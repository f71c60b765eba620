/*
 * virtio 1.x modern PCI transport ("Virtio Over PCI Bus"): a PCI function
 * (vendor 0x1AF4, device 0x1040 + virtio device ID, revision 1) whose one
 * 64-bit memory BAR 0 holds the common, ISR, device-specific and notify
 * structures and the MSI-X table and PBA, each found through a vendor
 * capability; a VIRTIO_PCI_CAP_PCI_CFG capability gives the same BAR
 * through config space.  Owns feature negotiation, the status byte, queue
 * configuration, kick eventfds (KVM ioeventfds on the notify addresses)
 * and interrupts (one MSI-X vector per queue plus one for configuration).
 *
 * MSI-X only: no INTx (interrupt pin 0), so a queue or the configuration
 * without a vector (VIRTIO_MSI_NO_VECTOR) gets no interrupt; ISR is kept
 * (read-to-clear) for drivers that poll it.  Device config is static:
 * config_generation stays 0.
 *
 * BAR 0 layout (each structure on its own 4 KiB page):
 *   0x0000 common config   0x1000 ISR       0x2000 device config
 *   0x3000 notify (queue q at q * 4)        0x4000 MSI-X table  0x5000 PBA
 *
 * With pio_notify, BAR 2 is an I/O BAR holding a second notify structure
 * (queue q at port q * 2), and its capability comes before the MMIO one:
 * Linux's virtio_pci_find_capability takes the first NOTIFY_CFG whose BAR
 * it could map, so a Linux guest kicks with an OUT instruction.  Under AMD
 * SVM without decode assists or without nested paging an MMIO kick is a
 * page fault plus a full instruction emulation in KVM, while an OUT exit
 * is decoded by the hardware.  (QEMU's modern-pio-notify.)
 */
#ifndef DEVICES_VIRTIO_PCI_H
#define DEVICES_VIRTIO_PCI_H

#include <linux/virtio_pci.h>
#include <stdint.h>

#include "core/irq_ops.h"
#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtio/device.h"

#define VIRTIO_PCI_VENDOR	  0x1af4
#define VIRTIO_PCI_DEVICE_ID_BASE 0x1040
#define VIRTIO_PCI_REVISION	  1
#define VIRTIO_PCI_MAX_QUEUES	  255 /* vectors: queues + 1 <= 256, one table page */

/* The spec's layouts come from <linux/virtio_pci.h> (capability types and
 * field offsets, VIRTIO_MSI_NO_VECTOR, VIRTIO_PCI_ISR_CONFIG); these name
 * what it spells differently or leaves out, checked against its structs
 * in pci.c. */
#define VIRTIO_PCI_CAP_SIZE sizeof(struct virtio_pci_cap)
#define VIRTIO_PCI_NOTIFY_MULTIPLIER_OFF \
	sizeof(struct virtio_pci_cap)				 /* notify cap: le32 after it */
#define VIRTIO_PCI_CFG_DATA_OFF	   sizeof(struct virtio_pci_cap) /* pci_cfg cap: 4 data bytes */
#define VIRTIO_PCI_COMMON_CFGGEN   VIRTIO_PCI_COMMON_CFGGENERATION
#define VIRTIO_PCI_COMMON_Q_DESC   VIRTIO_PCI_COMMON_Q_DESCLO
#define VIRTIO_PCI_COMMON_Q_DRIVER VIRTIO_PCI_COMMON_Q_AVAILLO
#define VIRTIO_PCI_COMMON_Q_DEVICE VIRTIO_PCI_COMMON_Q_USEDLO
/* The virtio 1.0 common config: no notify data, no queue reset. */
#define VIRTIO_PCI_COMMON_SIZE sizeof(struct virtio_pci_common_cfg)

/* BAR 0 layout. */
#define VIRTIO_PCI_BAR		   0
#define VIRTIO_PCI_BAR_SIZE	   0x8000
#define VIRTIO_PCI_COMMON_BASE	   0x0000
#define VIRTIO_PCI_ISR_BASE	   0x1000
#define VIRTIO_PCI_DEVCFG_BASE	   0x2000
#define VIRTIO_PCI_NOTIFY_BASE	   0x3000
#define VIRTIO_PCI_MSIX_TABLE_BASE 0x4000
#define VIRTIO_PCI_MSIX_PBA_BASE   0x5000
#define VIRTIO_PCI_REGION_SIZE	   0x1000
/* Each queue its own notify address, so each gets an ioeventfd without
 * datamatch. */
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4

/* BAR 2 (pio_notify): 16-bit notify writes, one port pair per queue. */
#define VIRTIO_PCI_PIO_BAR		 2
#define VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER 2

/* ISR bits. */
#define VIRTIO_PCI_ISR_QUEUE 1

struct virtio_pci_params {
	struct virtio_device *vdev; /* outlives the transport */
	const struct irq_msi_ops *irq_ops;
	void *irq_ctx;
	const struct ioeventfd_ops *ioeventfd_ops;
	void *ioeventfd_ctx;
	/* Also offer a port I/O notify structure in I/O BAR 2, first in the
	 * capability list (the bus must have an I/O window). */
	bool pio_notify;
	/* Told when something the guest caused failed on the host side (a
	 * KVM call, a queue the device refused to start); NULL: stderr. */
	void (*report)(void *opaque, const char *msg);
	void *report_opaque;
};

struct virtio_pci;

/*
 * Creates the transport for params->vdev (sets vdev->transport) with its
 * PCI function ready to plug: pci_bus_plug(bus, virtio_pci_function(vp), -1).
 * NULL with err_msg() set on failure.
 */
struct virtio_pci *virtio_pci_create(const struct virtio_pci_params *params);

struct pci_function *virtio_pci_function(struct virtio_pci *vp);

/* For diagnostics and tests: the MSI-X state, and queue q's kick eventfd
 * (-1 if there is no queue q). */
struct msix *virtio_pci_msix(struct virtio_pci *vp);
int virtio_pci_kick_fd(const struct virtio_pci *vp, unsigned int q);

/* The size of the I/O BAR holding the port notify structure for nr_queues
 * queues (a power of two of at least 4, at most 256 for 128 queues). */
unsigned int virtio_pci_pio_bar_size(unsigned int nr_queues);

/* Unplugs the function, resets the device (its threads stop), releases
 * the ioeventfds, MSI-X and eventfds.  The device itself is the caller's
 * to destroy afterwards.  vCPUs must have stopped. */
void virtio_pci_destroy(struct virtio_pci *vp);

#endif
