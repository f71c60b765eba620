/*
 * virtio-blk request parsing.  virtio 1.x fixes no framing: the header is
 * the first 16 readable bytes, the status the last writable byte, and data
 * whatever lies between, however the driver split it into buffers.  All of
 * it is guest-written: fields are copied out once, then checked.
 */
#include "devices/virtio/blk_request.h"

#include <endian.h>
#include <string.h>

#include "devices/block/disk.h"
#include "devices/iov.h"

static bool sector_range_ok(const struct blk_limits *lim, uint64_t sector, uint64_t bytes)
{
	if (bytes % DISK_SECTOR_SIZE)
		return false;
	/* Compare in sectors: sector * 512 could overflow 64 bits. */
	return sector <= lim->capacity && bytes / DISK_SECTOR_SIZE <= lim->capacity - sector;
}

/*
 * Reads and writes must be whole logical blocks: on a direct=on disk whose
 * file system needs 4 KiB aligned O_DIRECT offsets, blk_size says 4096 and
 * the driver had to accept VIRTIO_BLK_F_BLK_SIZE (blk.c), so a request that
 * is only 512-aligned breaks that contract and fails here, before it
 * reaches the host as an EINVAL.
 */
static bool rw_range_ok(const struct blk_limits *lim, uint64_t sector, uint64_t bytes)
{
	uint32_t bs = lim->block_size > DISK_SECTOR_SIZE ? lim->block_size : DISK_SECTOR_SIZE;

	if (bytes % bs || sector % (bs / DISK_SECTOR_SIZE))
		return false;
	return sector_range_ok(lim, sector, bytes);
}

static bool slice(const struct iovec *src, unsigned int n, size_t offset, uint32_t len,
		  struct blk_request *req, struct iovec *data, unsigned int data_cap)
{
	int cnt = iov_slice(src, n, offset, len, data, data_cap);
	if (cnt < 0)
		return false;
	req->data = data;
	req->data_cnt = (unsigned int)cnt;
	req->data_len = len;
	return true;
}

uint8_t blk_parse_request(const struct blk_limits *lim, const struct virtq_req *vreq,
			  struct blk_request *req, struct iovec *data, unsigned int data_cap)
{
	const struct iovec *rd = vreq->iov;
	const struct iovec *wr = vreq->iov + vreq->nr_readable;
	uint8_t hdr[VIRTIO_BLK_HDR_SIZE];
	uint32_t type;
	uint64_t sector;

	memset(req, 0, sizeof(*req));
	if (vreq->writable_len == 0)
		return VIRTIO_BLK_S_IOERR; /* nowhere to put a status */
	req->status = iov_byte_ptr(wr, vreq->nr_writable, vreq->writable_len - 1);
	req->writable_len = vreq->writable_len;
	if (vreq->readable_len < VIRTIO_BLK_HDR_SIZE)
		return VIRTIO_BLK_S_IOERR;
	iov_to_buf(rd, vreq->nr_readable, 0, hdr, sizeof(hdr));
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	req->type = type = le32toh(type);
	req->sector = sector = le64toh(sector);

	switch (type) {
	case VIRTIO_BLK_T_IN:
		/* Data the device would write must not sit in readable buffers. */
		if (vreq->readable_len != VIRTIO_BLK_HDR_SIZE)
			return VIRTIO_BLK_S_IOERR;
		if (!slice(wr, vreq->nr_writable, 0, vreq->writable_len - 1, req, data, data_cap))
			return VIRTIO_BLK_S_IOERR;
		return rw_range_ok(lim, sector, req->data_len) ? VIRTIO_BLK_S_OK
							       : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_OUT:
		if (lim->readonly || vreq->writable_len != 1)
			return VIRTIO_BLK_S_IOERR;
		if (!slice(rd, vreq->nr_readable, VIRTIO_BLK_HDR_SIZE,
			   vreq->readable_len - VIRTIO_BLK_HDR_SIZE, req, data, data_cap))
			return VIRTIO_BLK_S_IOERR;
		return rw_range_ok(lim, sector, req->data_len) ? VIRTIO_BLK_S_OK
							       : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		if (!slice(wr, vreq->nr_writable, 0, vreq->writable_len - 1, req, data, data_cap))
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (type == VIRTIO_BLK_T_DISCARD ? !lim->discard : !lim->write_zeroes)
			return VIRTIO_BLK_S_UNSUPP;
		if (lim->readonly || vreq->writable_len != 1)
			return VIRTIO_BLK_S_IOERR;
		if (!slice(rd, vreq->nr_readable, VIRTIO_BLK_HDR_SIZE,
			   vreq->readable_len - VIRTIO_BLK_HDR_SIZE, req, data, data_cap))
			return VIRTIO_BLK_S_IOERR;
		if (req->data_len == 0 || req->data_len % VIRTIO_BLK_DWZ_SEG_SIZE)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

uint8_t blk_parse_dwz(const struct blk_limits *lim, const struct blk_request *req,
		      struct blk_dwz_range *ranges, unsigned int cap, unsigned int *n)
{
	bool discard = req->type == VIRTIO_BLK_T_DISCARD;
	uint32_t max_seg = discard ? lim->max_discard_seg : lim->max_write_zeroes_seg;
	uint32_t max_sectors = discard ? lim->max_discard_sectors : lim->max_write_zeroes_sectors;
	unsigned int segs = req->data_len / VIRTIO_BLK_DWZ_SEG_SIZE;

	*n = 0;
	if (segs == 0 || segs > max_seg || segs > cap)
		return VIRTIO_BLK_S_IOERR;
	for (unsigned int i = 0; i < segs; i++) {
		uint8_t raw[VIRTIO_BLK_DWZ_SEG_SIZE];
		uint64_t sector;
		uint32_t num, flags;

		iov_to_buf(req->data, req->data_cnt, (size_t)i * sizeof(raw), raw, sizeof(raw));
		memcpy(&sector, raw, 8);
		memcpy(&num, raw + 8, 4);
		memcpy(&flags, raw + 12, 4);
		sector = le64toh(sector);
		num = le32toh(num);
		flags = le32toh(flags);
		/* The spec: unknown flags, or unmap on a discard, are UNSUPP. */
		if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
			return VIRTIO_BLK_S_UNSUPP;
		if (discard && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
		if (num > max_sectors)
			return VIRTIO_BLK_S_IOERR;
		if (!sector_range_ok(lim, sector, (uint64_t)num * DISK_SECTOR_SIZE))
			return VIRTIO_BLK_S_IOERR;
		if (num == 0)
			continue; /* nothing to do, and fallocate refuses length 0 */
		ranges[*n] = (struct blk_dwz_range){ .sector = sector,
						     .num_sectors = num,
						     .flags = flags };
		(*n)++;
	}
	return VIRTIO_BLK_S_OK;
}

uint32_t blk_used_len(const struct blk_request *req, uint8_t status)
{
	uint32_t prefix = 0; /* data bytes written from the first writable byte */

	if (req->status == NULL)
		return 0;
	if (status == VIRTIO_BLK_S_OK && req->type == VIRTIO_BLK_T_IN)
		prefix = req->data_len;
	else if (status == VIRTIO_BLK_S_OK && req->type == VIRTIO_BLK_T_GET_ID)
		prefix = req->data_len < VIRTIO_BLK_ID_BYTES ? req->data_len : VIRTIO_BLK_ID_BYTES;
	/* The status byte is the last writable byte: it extends the prefix
	 * only when the prefix reaches it. */
	return prefix == req->writable_len - 1 ? req->writable_len : prefix;
}
