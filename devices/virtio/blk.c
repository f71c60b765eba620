/*
 * virtio-blk device: what it offers (features, config space), what the
 * driver negotiated, and starting/stopping its I/O thread.  The ops are
 * called by the transport from vCPU threads; a mutex keeps feature
 * negotiation, queue start and reset from racing each other.
 */
#include "devices/virtio/blk.h"

#include <endian.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/util.h"
#include "devices/virtio/blk_request.h"
#include "devices/virtio/blk_worker.h"

struct blk_device {
	struct virtio_device vdev;
	struct blk_device_params p;
	uint64_t offered;
	uint64_t negotiated;
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE];		   /* little-endian, read-only */
	struct blk_worker *workers[VIRTIO_BLK_MAX_QUEUES]; /* NULL: not started */
	struct blk_queue_stats stopped;			   /* of the workers already stopped */
	pthread_mutex_t lock;
};

static struct blk_device *to_blk(struct virtio_device *dev)
{
	return (struct blk_device *)((char *)dev - offsetof(struct blk_device, vdev));
}

static uint32_t seg_max(const struct blk_device *blk)
{
	/* A chain also needs the header and the status descriptors. */
	uint32_t by_queue = blk->vdev.queue_max_size - 2u;
	return by_queue < VIRTIO_BLK_MAX_SEG ? by_queue : VIRTIO_BLK_MAX_SEG;
}

static uint64_t offered_features(const struct disk *disk, unsigned int num_queues)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC |
		     1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_BLK_F_SEG_MAX |
		     1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH;

	if (num_queues > 1)
		f |= 1ull << VIRTIO_BLK_F_MQ;

	if (disk->readonly)
		return f | 1ull << VIRTIO_BLK_F_RO;
	if (disk->can_punch_hole)
		f |= 1ull << VIRTIO_BLK_F_DISCARD;
	if (disk->can_punch_hole || disk->can_zero_range)
		f |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

static void build_config(struct blk_device *blk)
{
	const struct disk *disk = blk->p.disk;
	uint8_t *c = blk->config;

	memset(c, 0, sizeof(blk->config));
	put_le64(c + VIRTIO_BLK_CFG_CAPACITY, disk->size / DISK_SECTOR_SIZE);
	put_le32(c + VIRTIO_BLK_CFG_SEG_MAX, seg_max(blk));
	put_le32(c + VIRTIO_BLK_CFG_BLK_SIZE, disk->block_size);
	put_le16(c + VIRTIO_BLK_CFG_NUM_QUEUES, (uint16_t)blk->vdev.num_queues);
	if (blk->offered & (1ull << VIRTIO_BLK_F_DISCARD)) {
		put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_DWZ_SECTORS);
		put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VIRTIO_BLK_MAX_DWZ_SEG);
		/* Host file systems deallocate whole 4 KiB blocks; smaller
		 * discards only zero. */
		put_le32(c + VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT, 4096 / DISK_SECTOR_SIZE);
	}
	if (blk->offered & (1ull << VIRTIO_BLK_F_WRITE_ZEROES)) {
		put_le32(c + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, VIRTIO_BLK_MAX_DWZ_SECTORS);
		put_le32(c + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG, VIRTIO_BLK_MAX_DWZ_SEG);
		c[VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP] = disk->can_punch_hole;
	}
}

static struct blk_limits negotiated_limits(const struct blk_device *blk)
{
	const struct disk *disk = blk->p.disk;

	return (struct blk_limits){
		.capacity = disk->size / DISK_SECTOR_SIZE,
		.block_size = disk->block_size,
		.readonly = disk->readonly,
		.discard = blk->negotiated & (1ull << VIRTIO_BLK_F_DISCARD),
		.write_zeroes = blk->negotiated & (1ull << VIRTIO_BLK_F_WRITE_ZEROES),
		.write_zeroes_unmap = disk->can_punch_hole,
		.max_discard_sectors = VIRTIO_BLK_MAX_DWZ_SECTORS,
		.max_discard_seg = VIRTIO_BLK_MAX_DWZ_SEG,
		.max_write_zeroes_sectors = VIRTIO_BLK_MAX_DWZ_SECTORS,
		.max_write_zeroes_seg = VIRTIO_BLK_MAX_DWZ_SEG,
	};
}

static bool any_worker(const struct blk_device *blk)
{
	for (unsigned int q = 0; q < blk->vdev.num_queues; q++) {
		if (blk->workers[q])
			return true;
	}
	return false;
}

static uint64_t blk_features(struct virtio_device *dev)
{
	return to_blk(dev)->offered;
}

static int blk_set_features(struct virtio_device *dev, uint64_t features)
{
	struct blk_device *blk = to_blk(dev);
	int r = -1;

	pthread_mutex_lock(&blk->lock);
	/* Modern only: a driver without VERSION_1 speaks the legacy layout.
	 * A disk whose O_DIRECT I/O needs blocks larger than 512 bytes
	 * serves only whole blocks (blk_request.c), so the driver must take
	 * blk_size as its logical block size (Linux does): one that does
	 * not accept VIRTIO_BLK_F_BLK_SIZE does not get FEATURES_OK. */
	bool blk_size_ok = blk->p.disk->block_size <= DISK_SECTOR_SIZE ||
			   (features & (1ull << VIRTIO_BLK_F_BLK_SIZE));
	if (!any_worker(blk) && !(features & ~blk->offered) && blk_size_ok &&
	    (features & (1ull << VIRTIO_F_VERSION_1))) {
		blk->negotiated = features;
		r = 0;
	}
	pthread_mutex_unlock(&blk->lock);
	return r;
}

static void blk_config_read(struct virtio_device *dev, uint32_t offset, void *buf, uint32_t len)
{
	struct blk_device *blk = to_blk(dev);

	memset(buf, 0, len);
	if (offset >= sizeof(blk->config))
		return;
	if (len > sizeof(blk->config) - offset)
		len = sizeof(blk->config) - offset;
	memcpy(buf, blk->config + offset, len);
}

static void blk_config_write(struct virtio_device *dev, uint32_t offset, const void *buf,
			     uint32_t len)
{
	/* Only `writeback` is writable, and only with CONFIG_WCE, which is
	 * not offered: the cache mode is fixed (FLUSH makes data durable). */
	(void)dev;
	(void)offset;
	(void)buf;
	(void)len;
}

static int blk_queue_start(struct virtio_device *dev, unsigned int q,
			   const struct virtq_config *cfg, int kick_fd)
{
	struct blk_device *blk = to_blk(dev);
	struct blk_worker_params wp;
	int r = -1;

	pthread_mutex_lock(&blk->lock);
	/* Without MQ a driver uses queue 0 only; serving the others anyway
	 * is harmless, each has its own thread and rings. */
	if (q >= dev->num_queues) {
		err_set("virtio-blk: no queue %u", q);
	} else if (blk->workers[q]) {
		err_set("virtio-blk: queue %u already started", q);
	} else if (cfg->size > dev->queue_max_size) {
		err_set("virtio-blk: queue size %u above maximum %u", cfg->size,
			dev->queue_max_size);
	} else {
		wp = (struct blk_worker_params){
			.mem = blk->p.mem,
			.vq = *cfg,
			.disk = blk->p.disk,
			.limits = negotiated_limits(blk),
			.seg_max = seg_max(blk),
			.backend = blk->p.backend,
			.kick_fd = kick_fd,
			.queue_index = q,
			.transport = dev->transport,
		};
		/* The rings only know what the driver really negotiated. */
		wp.vq.features = blk->negotiated;
		r = blk_worker_start(&wp, &blk->workers[q]);
	}
	pthread_mutex_unlock(&blk->lock);
	return r;
}

static void blk_reset(struct virtio_device *dev)
{
	struct blk_device *blk = to_blk(dev);

	pthread_mutex_lock(&blk->lock);
	for (unsigned int q = 0; q < dev->num_queues; q++) {
		if (blk->workers[q]) {
			blk_worker_add_stats(blk->workers[q], &blk->stopped);
			blk_worker_stop(blk->workers[q]);
			blk->workers[q] = NULL;
		}
	}
	blk->negotiated = 0;
	pthread_mutex_unlock(&blk->lock);
}

void blk_device_stats(struct virtio_device *dev, struct blk_queue_stats *out)
{
	struct blk_device *blk = to_blk(dev);

	pthread_mutex_lock(&blk->lock);
	*out = blk->stopped;
	for (unsigned int q = 0; q < dev->num_queues; q++) {
		if (blk->workers[q])
			blk_worker_add_stats(blk->workers[q], out);
	}
	pthread_mutex_unlock(&blk->lock);
}

bool blk_device_wait_state(struct virtio_device *dev, unsigned int q, struct blk_wait_state *out)
{
	struct blk_device *blk = to_blk(dev);
	bool ok = false;

	pthread_mutex_lock(&blk->lock);
	if (q < dev->num_queues && blk->workers[q])
		ok = blk_worker_wait_state(blk->workers[q], out);
	pthread_mutex_unlock(&blk->lock);
	return ok;
}

static void blk_destroy(struct virtio_device *dev)
{
	struct blk_device *blk = to_blk(dev);

	blk_reset(dev);
	pthread_mutex_destroy(&blk->lock);
	free(blk);
}

static const struct virtio_device_ops blk_ops = {
	.features = blk_features,
	.set_features = blk_set_features,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.queue_start = blk_queue_start,
	.reset = blk_reset,
	.destroy = blk_destroy,
};

struct virtio_device *blk_device_create(const struct blk_device_params *params)
{
	uint16_t qsize = params->queue_size ? params->queue_size : VIRTIO_BLK_DEFAULT_QUEUE_SIZE;
	unsigned int nq = params->num_queues ? params->num_queues : 1;
	struct blk_device *blk;

	/* At least 4: a request needs 3 descriptors without indirect. */
	if (qsize < 4 || qsize > VIRTQ_MAX_SIZE || (qsize & (qsize - 1))) {
		err_set("virtio-blk: queue size %u is not a power of two in 4..%u", qsize,
			VIRTQ_MAX_SIZE);
		return NULL;
	}
	if (nq > VIRTIO_BLK_MAX_QUEUES) {
		err_set("virtio-blk: %u queues (at most %u)", nq, VIRTIO_BLK_MAX_QUEUES);
		return NULL;
	}
	blk = calloc(1, sizeof(*blk));
	if (blk == NULL) {
		err_set("virtio-blk: out of memory");
		return NULL;
	}
	blk->p = *params;
	blk->vdev = (struct virtio_device){
		.ops = &blk_ops,
		.device_id = VIRTIO_ID_BLOCK,
		.num_queues = nq,
		.queue_max_size = qsize,
		.config_size = VIRTIO_BLK_CONFIG_SIZE,
	};
	blk->offered = offered_features(params->disk, nq);
	build_config(blk);
	pthread_mutex_init(&blk->lock, NULL);
	return &blk->vdev;
}
