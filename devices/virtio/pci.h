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
 */
#ifndef DEVICES_VIRTIO_PCI_H
#define DEVICES_VIRTIO_PCI_H

#include <stdint.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtio/device.h"
#include "core/irq_ops.h"

#define VIRTIO_PCI_VENDOR            0x1af4
#define VIRTIO_PCI_DEVICE_ID_BASE    0x1040
#define VIRTIO_PCI_REVISION          1
#define VIRTIO_MSI_NO_VECTOR         0xffff
#define VIRTIO_PCI_MAX_QUEUES        255    /* vectors: queues + 1 <= 256, one table page */

/* Vendor capability types. */
#define VIRTIO_PCI_CAP_COMMON_CFG    1
#define VIRTIO_PCI_CAP_NOTIFY_CFG    2
#define VIRTIO_PCI_CAP_ISR_CFG       3
#define VIRTIO_PCI_CAP_DEVICE_CFG    4
#define VIRTIO_PCI_CAP_PCI_CFG       5

/* struct virtio_pci_cap, offsets from the capability. */
#define VIRTIO_PCI_CAP_LEN           2
#define VIRTIO_PCI_CAP_CFG_TYPE      3
#define VIRTIO_PCI_CAP_BAR           4
#define VIRTIO_PCI_CAP_OFFSET        8
#define VIRTIO_PCI_CAP_LENGTH        12
#define VIRTIO_PCI_CAP_SIZE          16
#define VIRTIO_PCI_NOTIFY_MULTIPLIER_OFF 16 /* notify cap: le32 after the cap */
#define VIRTIO_PCI_CFG_DATA_OFF      16     /* pci_cfg cap: 4 data bytes */

/* struct virtio_pci_common_cfg, byte offsets. */
#define VIRTIO_PCI_COMMON_DFSELECT   0x00
#define VIRTIO_PCI_COMMON_DF         0x04
#define VIRTIO_PCI_COMMON_GFSELECT   0x08
#define VIRTIO_PCI_COMMON_GF         0x0c
#define VIRTIO_PCI_COMMON_MSIX       0x10
#define VIRTIO_PCI_COMMON_NUMQ       0x12
#define VIRTIO_PCI_COMMON_STATUS     0x14
#define VIRTIO_PCI_COMMON_CFGGEN     0x15
#define VIRTIO_PCI_COMMON_Q_SELECT   0x16
#define VIRTIO_PCI_COMMON_Q_SIZE     0x18
#define VIRTIO_PCI_COMMON_Q_MSIX     0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE   0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF     0x1e
#define VIRTIO_PCI_COMMON_Q_DESC     0x20
#define VIRTIO_PCI_COMMON_Q_DRIVER   0x28
#define VIRTIO_PCI_COMMON_Q_DEVICE   0x30
#define VIRTIO_PCI_COMMON_SIZE       0x38

/* BAR 0 layout. */
#define VIRTIO_PCI_BAR               0
#define VIRTIO_PCI_BAR_SIZE          0x8000
#define VIRTIO_PCI_COMMON_BASE       0x0000
#define VIRTIO_PCI_ISR_BASE          0x1000
#define VIRTIO_PCI_DEVCFG_BASE       0x2000
#define VIRTIO_PCI_NOTIFY_BASE       0x3000
#define VIRTIO_PCI_MSIX_TABLE_BASE   0x4000
#define VIRTIO_PCI_MSIX_PBA_BASE     0x5000
#define VIRTIO_PCI_REGION_SIZE       0x1000
/* Each queue its own notify address, so each gets an ioeventfd without
 * datamatch. */
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4

/* ISR bits. */
#define VIRTIO_PCI_ISR_QUEUE         1
#define VIRTIO_PCI_ISR_CONFIG        2

struct virtio_pci_params {
	struct virtio_device *vdev;     /* outlives the transport */
	const struct irq_msi_ops *irq_ops;
	void *irq_ctx;
	const struct ioeventfd_ops *ioeventfd_ops;
	void *ioeventfd_ctx;
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

/* Unplugs the function, resets the device (its threads stop), releases
 * the ioeventfds, MSI-X and eventfds.  The device itself is the caller's
 * to destroy afterwards.  vCPUs must have stopped. */
void virtio_pci_destroy(struct virtio_pci *vp);

#endif
