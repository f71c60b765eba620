/*
 * virtio-pci common configuration: feature windows, the device status state
 * machine (FEATURES_OK negotiation, DRIVER_OK starting the queues, reset),
 * per-queue configuration, and the queues' notify ioeventfds.  Every value
 * written is the guest's and checked here.
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "devices/virtio/pci_priv.h"

static struct virtio_pci_queue *selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->nr_queues ? &vp->queues[vp->queue_select] : NULL;
}

static uint16_t checked_vector(const struct virtio_pci *vp, uint16_t v)
{
	/* A vector the function does not have reads back as NO_VECTOR:
	 * that is how the driver learns the mapping failed. */
	return v < vp->nr_vectors ? v : VIRTIO_MSI_NO_VECTOR;
}

void virtio_pci_state_init(struct virtio_pci *vp)
{
	vp->device_feature_select = 0;
	vp->driver_feature_select = 0;
	vp->driver_features = 0;
	vp->status = 0;
	vp->dma_stopped = false;
	atomic_store(&vp->needs_reset, false);
	atomic_store(&vp->isr, 0);
	atomic_store(&vp->msix_config, VIRTIO_MSI_NO_VECTOR);
	vp->queue_select = 0;
	for (unsigned int i = 0; i < vp->nr_queues; i++) {
		struct virtio_pci_queue *q = &vp->queues[i];
		q->size = vp->vdev->queue_max_size;
		atomic_store(&q->vector, VIRTIO_MSI_NO_VECTOR);
		q->enabled = false;
		q->desc = q->driver = q->device = 0;
	}
}

/* ---- status ---- */

static bool features_ok(struct virtio_pci *vp)
{
	uint64_t offered = vp->vdev->ops->features(vp->vdev);
	uint64_t wanted = vp->driver_features;

	if (!(wanted & (1ull << VIRTIO_F_VERSION_1)) || (wanted & ~offered))
		return false;
	return vp->vdev->ops->set_features(vp->vdev, wanted) == 0;
}

static enum virtio_pci_action write_status(struct virtio_pci *vp, uint8_t val)
{
	if (val == 0)
		return VIRTIO_PCI_ACT_RESET;
	/* Only a reset clears bits; DEVICE_NEEDS_RESET is the device's. */
	uint8_t next = (uint8_t)((val | vp->status) & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	uint8_t added = (uint8_t)(next & ~vp->status);

	if ((added & VIRTIO_STATUS_FEATURES_OK) && !features_ok(vp)) {
		next &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		added &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((added & VIRTIO_STATUS_DRIVER_OK) && !(next & VIRTIO_STATUS_FEATURES_OK)) {
		next &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
		added &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	}
	vp->status = next;
	return (added & VIRTIO_STATUS_DRIVER_OK) ? VIRTIO_PCI_ACT_START_QUEUES
						 : VIRTIO_PCI_ACT_NONE;
}

/* ---- registers ---- */

static void put(uint8_t *img, unsigned int off, uint64_t val, unsigned int width)
{
	for (unsigned int i = 0; i < width; i++)
		img[off + i] = (uint8_t)(val >> (8 * i));
}

void virtio_pci_common_read(struct virtio_pci *vp, uint64_t offset, void *data, unsigned int len)
{
	uint8_t img[VIRTIO_PCI_COMMON_SIZE] = { 0 };

	memset(data, 0, len);
	if (offset >= sizeof(img) || len > sizeof(img) - offset)
		return;

	pthread_mutex_lock(&vp->lock);
	uint64_t offered = vp->vdev->ops->features(vp->vdev);
	uint32_t dsel = vp->device_feature_select, gsel = vp->driver_feature_select;
	const struct virtio_pci_queue *q = selected(vp);
	uint8_t status = vp->status;

	if (atomic_load(&vp->needs_reset))
		status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	put(img, VIRTIO_PCI_COMMON_DFSELECT, dsel, 4);
	put(img, VIRTIO_PCI_COMMON_DF, dsel < 2 ? (uint32_t)(offered >> (32 * dsel)) : 0, 4);
	put(img, VIRTIO_PCI_COMMON_GFSELECT, gsel, 4);
	put(img, VIRTIO_PCI_COMMON_GF,
	    gsel < 2 ? (uint32_t)(vp->driver_features >> (32 * gsel)) : 0, 4);
	put(img, VIRTIO_PCI_COMMON_MSIX, atomic_load(&vp->msix_config), 2);
	put(img, VIRTIO_PCI_COMMON_NUMQ, vp->nr_queues, 2);
	put(img, VIRTIO_PCI_COMMON_STATUS, status, 1);
	put(img, VIRTIO_PCI_COMMON_CFGGEN, 0, 1);
	put(img, VIRTIO_PCI_COMMON_Q_SELECT, vp->queue_select, 2);
	/* An absent queue reads size 0 and no vector. */
	put(img, VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR, 2);
	if (q) {
		put(img, VIRTIO_PCI_COMMON_Q_SIZE, q->size, 2);
		put(img, VIRTIO_PCI_COMMON_Q_MSIX, atomic_load(&q->vector), 2);
		put(img, VIRTIO_PCI_COMMON_Q_ENABLE, q->enabled, 2);
		put(img, VIRTIO_PCI_COMMON_Q_NOFF, vp->queue_select, 2);
		put(img, VIRTIO_PCI_COMMON_Q_DESC, q->desc, 8);
		put(img, VIRTIO_PCI_COMMON_Q_DRIVER, q->driver, 8);
		put(img, VIRTIO_PCI_COMMON_Q_DEVICE, q->device, 8);
	}
	pthread_mutex_unlock(&vp->lock);
	memcpy(data, img + offset, len);
}

/* A 64-bit queue address written whole or as two dword halves. */
static void write_addr(uint64_t *addr, unsigned int at, unsigned int len, uint64_t val)
{
	if (len == 8 && at == 0)
		*addr = val;
	else if (len == 4 && at == 0)
		*addr = (*addr & ~0xffffffffull) | (uint32_t)val;
	else if (len == 4 && at == 4)
		*addr = (*addr & 0xffffffffull) | val << 32;
}

static enum virtio_pci_action write_queue(struct virtio_pci *vp, unsigned int field,
					  unsigned int len, uint64_t val)
{
	struct virtio_pci_queue *q = selected(vp);

	if (q == NULL)
		return VIRTIO_PCI_ACT_NONE;
	/* The vector may be changed at any time (only the routing of the
	 * interrupt changes); the ring is fixed once the queue is enabled,
	 * and no queue may be enabled after DRIVER_OK. */
	if (field == VIRTIO_PCI_COMMON_Q_MSIX) {
		if (len == 2)
			atomic_store(&q->vector, checked_vector(vp, (uint16_t)val));
		return VIRTIO_PCI_ACT_NONE;
	}
	if (q->enabled || (vp->status & VIRTIO_STATUS_DRIVER_OK))
		return VIRTIO_PCI_ACT_NONE;
	switch (field) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (len == 2 && val && val <= vp->vdev->queue_max_size && !(val & (val - 1)))
			q->size = (uint16_t)val;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (len == 2 && val == 1) {
			q->enabled = true;
			return VIRTIO_PCI_ACT_QUEUE_ENABLED;
		}
		break;
	case VIRTIO_PCI_COMMON_Q_DESC:
	case VIRTIO_PCI_COMMON_Q_DESC + 4:
		write_addr(&q->desc, field - VIRTIO_PCI_COMMON_Q_DESC, len, val);
		break;
	case VIRTIO_PCI_COMMON_Q_DRIVER:
	case VIRTIO_PCI_COMMON_Q_DRIVER + 4:
		write_addr(&q->driver, field - VIRTIO_PCI_COMMON_Q_DRIVER, len, val);
		break;
	case VIRTIO_PCI_COMMON_Q_DEVICE:
	case VIRTIO_PCI_COMMON_Q_DEVICE + 4:
		write_addr(&q->device, field - VIRTIO_PCI_COMMON_Q_DEVICE, len, val);
		break;
	}
	return VIRTIO_PCI_ACT_NONE;
}

enum virtio_pci_action virtio_pci_common_write(struct virtio_pci *vp, uint64_t offset,
					       const void *data, unsigned int len)
{
	enum virtio_pci_action act = VIRTIO_PCI_ACT_NONE;
	uint64_t val = 0;

	/* Fields are written with their own width at their own offset
	 * (64-bit ones also as two dwords); anything else is ignored. */
	if (offset >= VIRTIO_PCI_COMMON_SIZE || (len != 1 && len != 2 && len != 4 && len != 8) ||
	    (offset & (len - 1)))
		return act;
	memcpy(&val, data, len);
	val = le64toh(val);
	unsigned int off = (unsigned int)offset;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		if (len == 4)
			vp->device_feature_select = (uint32_t)val;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		if (len == 4)
			vp->driver_feature_select = (uint32_t)val;
		break;
	case VIRTIO_PCI_COMMON_GF:
		/* Features are fixed once FEATURES_OK was accepted. */
		if (len == 4 && vp->driver_feature_select < 2 &&
		    !(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned int shift = 32 * vp->driver_feature_select;
			vp->driver_features = (vp->driver_features & ~(0xffffffffull << shift)) |
					      (val & 0xffffffffull) << shift;
		}
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		if (len == 2)
			atomic_store(&vp->msix_config, checked_vector(vp, (uint16_t)val));
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		if (len == 1)
			act = write_status(vp, (uint8_t)val);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		if (len == 2)
			vp->queue_select = (uint16_t)val;
		break;
	default:
		if (off >= VIRTIO_PCI_COMMON_Q_SIZE)
			act = write_queue(vp, off, len, val);
		break;
	}
	return act;
}
