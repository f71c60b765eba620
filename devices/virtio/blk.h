/*
 * virtio-blk device: feature bits, config space and lifecycle, behind the
 * transport-facing ops table of device.h.  Requests are parsed in
 * blk_request.c and served by one I/O thread per queue (blk_worker.c).
 */
#ifndef DEVICES_VIRTIO_BLK_H
#define DEVICES_VIRTIO_BLK_H

#include <linux/virtio_blk.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "devices/block/backend.h"
#include "devices/block/disk.h"
#include "devices/virtio/blk_worker.h"
#include "devices/virtio/device.h"

/* Feature bits, request types and statuses are <linux/virtio_blk.h>'s.
 * Config space: the offsets of struct virtio_blk_config (virtio 1.x, 5.2.4);
 * what is offered ends after write_zeroes_may_unmap (no secure erase). */
#define VIRTIO_BLK_CFG(field)			offsetof(struct virtio_blk_config, field)
#define VIRTIO_BLK_CFG_CAPACITY			VIRTIO_BLK_CFG(capacity)
#define VIRTIO_BLK_CFG_SIZE_MAX			VIRTIO_BLK_CFG(size_max)
#define VIRTIO_BLK_CFG_SEG_MAX			VIRTIO_BLK_CFG(seg_max)
#define VIRTIO_BLK_CFG_BLK_SIZE			VIRTIO_BLK_CFG(blk_size)
#define VIRTIO_BLK_CFG_NUM_QUEUES		VIRTIO_BLK_CFG(num_queues)
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS	VIRTIO_BLK_CFG(max_discard_sectors)
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG		VIRTIO_BLK_CFG(max_discard_seg)
#define VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT VIRTIO_BLK_CFG(discard_sector_alignment)
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS VIRTIO_BLK_CFG(max_write_zeroes_sectors)
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG	VIRTIO_BLK_CFG(max_write_zeroes_seg)
#define VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP	VIRTIO_BLK_CFG(write_zeroes_may_unmap)
#define VIRTIO_BLK_CONFIG_SIZE			VIRTIO_BLK_CFG(max_secure_erase_sectors)

#define VIRTIO_BLK_DEFAULT_QUEUE_SIZE		256u
#define VIRTIO_BLK_MAX_QUEUES			16u  /* request queues, an I/O thread each */
#define VIRTIO_BLK_MAX_SEG			254u /* data buffers per request */

struct blk_device_params {
	struct disk *disk;	     /* opened by disk_open; outlives the device */
	const struct guest_mem *mem; /* outlives the device */
	enum block_backend_kind backend;
	uint16_t queue_size;	 /* max queue size offered; 0: 256 */
	unsigned int num_queues; /* request queues, 1..VIRTIO_BLK_MAX_QUEUES; 0: 1 */
};

/*
 * Creates a virtio-blk device with params->num_queues request queues
 * (VIRTIO_BLK_F_MQ when more than one).  The transport must set
 * dev->transport before the driver runs; dev->ops->destroy frees it.
 * NULL with a message in err on failure.
 */
struct virtio_device *blk_device_create(const struct blk_device_params *params);

/* Totals over all queues since creation (the stopped ones' included).
 * dev must be a blk device.  Any thread. */
void blk_device_stats(struct virtio_device *dev, struct blk_queue_stats *out);

/* Queue q's I/O thread as it last went to sleep (blk_worker_wait_state);
 * false when q has no running thread.  Any thread. */
bool blk_device_wait_state(struct virtio_device *dev, unsigned int q, struct blk_wait_state *out);

#endif
