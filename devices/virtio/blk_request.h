/*
 * virtio-blk request parsing and validation: turns a popped chain into a
 * typed request (header, data slice, status byte) or the status it must be
 * completed with.  No I/O, no threads: pure functions over guest buffers.
 */
#ifndef DEVICES_VIRTIO_BLK_REQUEST_H
#define DEVICES_VIRTIO_BLK_REQUEST_H

#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/queue.h"

/* Request types. */

/* Status byte values. */

#define VIRTIO_BLK_HDR_SIZE	sizeof(struct virtio_blk_outhdr) /* type, ioprio, sector */
#define VIRTIO_BLK_DWZ_SEG_SIZE sizeof(struct virtio_blk_discard_write_zeroes)

/* What one DISCARD or WRITE_ZEROES request may carry (offered in the
 * config space, enforced by the parser, sized for by the worker). */
#define VIRTIO_BLK_MAX_DWZ_SECTORS (1u << 22) /* 2 GiB per range */
#define VIRTIO_BLK_MAX_DWZ_SEG	   32u

/* What the device accepts; derived from the disk and negotiated features. */
struct blk_limits {
	uint64_t capacity;   /* sectors */
	uint32_t block_size; /* IN/OUT offset and length unit, bytes (blk_size);
				     * 0 means DISK_SECTOR_SIZE */
	bool readonly;
	bool discard;		 /* DISCARD negotiated */
	bool write_zeroes;	 /* WRITE_ZEROES negotiated */
	bool write_zeroes_unmap; /* write_zeroes_may_unmap offered */
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
};

struct blk_request {
	uint32_t type;
	uint64_t sector;
	uint8_t *status;    /* the chain's last writable byte; NULL if none */
	struct iovec *data; /* IN: writable bytes before status; OUT, DISCARD,
			      * WRITE_ZEROES: readable bytes after the header;
			      * GET_ID: writable bytes before status */
	unsigned int data_cnt;
	uint32_t data_len;
	uint32_t writable_len; /* the chain's writable bytes; status is the last */
};

/* One DISCARD / WRITE_ZEROES segment, copied out of guest memory. */
struct blk_dwz_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/*
 * Parses and validates vreq into req, using data (data_cap entries) for the
 * data slice.  Returns VIRTIO_BLK_S_OK if the request should be executed,
 * else the status to complete it with.  req->status is NULL when the chain
 * has no writable byte: then no status can be reported (push length 0).
 */
uint8_t blk_parse_request(const struct blk_limits *lim, const struct virtq_req *vreq,
			  struct blk_request *req, struct iovec *data, unsigned int data_cap);

/*
 * Copies and validates the segments of a DISCARD or WRITE_ZEROES request
 * into ranges (room for `cap`).  Returns VIRTIO_BLK_S_OK with *n set, else
 * the status to complete with.
 */
uint8_t blk_parse_dwz(const struct blk_limits *lim, const struct blk_request *req,
		      struct blk_dwz_range *ranges, unsigned int cap, unsigned int *n);

/*
 * The used length for a request completed with status.  The split-ring rule
 * is "at least len bytes from the first writable buffer were written": the
 * length of the written prefix of the writable bytes, so the status byte at
 * the end counts only when everything before it was written too (a failed
 * IN with data reports 0, GET_ID with a long buffer reports the 20 ID bytes).
 */
uint32_t blk_used_len(const struct blk_request *req, uint8_t status);

#endif
