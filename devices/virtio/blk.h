/*
 * virtio-blk device: feature bits, config space and lifecycle, behind the
 * transport-facing ops table of device.h.  Requests are parsed in
 * blk_request.c and served by one I/O thread per queue (blk_worker.c).
 */
#ifndef DEVICES_VIRTIO_BLK_H
#define DEVICES_VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "devices/block/backend.h"
#include "devices/block/disk.h"
#include "devices/virtio/blk_worker.h"
#include "devices/virtio/device.h"
#include "core/guest_mem.h"

/* Feature bits (virtio 1.x, 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Config space layout (virtio 1.x, 5.2.4), byte offsets. */
#define VIRTIO_BLK_CFG_CAPACITY                 0   /* le64, 512-byte sectors */
#define VIRTIO_BLK_CFG_SIZE_MAX                 8   /* le32 */
#define VIRTIO_BLK_CFG_SEG_MAX                  12  /* le32 */
#define VIRTIO_BLK_CFG_BLK_SIZE                 20  /* le32 */
#define VIRTIO_BLK_CFG_NUM_QUEUES               34  /* le16 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS      36  /* le32 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG          40  /* le32 */
#define VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT 44  /* le32 */
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS 48  /* le32 */
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG     52  /* le32 */
#define VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP   56  /* u8 */
#define VIRTIO_BLK_CONFIG_SIZE                  60

#define VIRTIO_BLK_DEFAULT_QUEUE_SIZE 256u
#define VIRTIO_BLK_MAX_QUEUES 16u          /* request queues, an I/O thread each */
#define VIRTIO_BLK_MAX_SEG 254u            /* data buffers per request */
#define VIRTIO_BLK_MAX_DWZ_SECTORS (1u << 22)  /* 2 GiB per range */
#define VIRTIO_BLK_MAX_DWZ_SEG 32u

struct blk_device_params {
	struct disk *disk;              /* opened by disk_open; outlives the device */
	const struct guest_mem *mem;    /* outlives the device */
	enum blk_backend_kind backend;
	uint16_t queue_size;            /* max queue size offered; 0: 256 */
	unsigned int num_queues;        /* request queues, 1..VIRTIO_BLK_MAX_QUEUES; 0: 1 */
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

#endif
