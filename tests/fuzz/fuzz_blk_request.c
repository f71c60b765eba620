/*
 * Fuzz target for virtio-blk request parsing (devices/virtio/blk_request.c):
 * a popped chain of readable then writable buffers (each its own
 * allocation, of fuzzed sizes, filled with fuzzed bytes) and fuzzed device
 * limits go through blk_parse_request, blk_parse_dwz and blk_used_len.
 *
 * Checked: the status pointer is the chain's last writable byte; an
 * accepted request's data slice lies inside the right buffers, in order,
 * and has the length the type implies; its sectors are inside the disk;
 * DISCARD / WRITE_ZEROES ranges respect the limits; and the used length
 * never claims more than the device wrote as a prefix of the writable
 * buffers (the split-ring rule: "at least len bytes from the first writable
 * buffer were written").
 *
 * Input: limits, capacities and the buffer list (count, direction, length),
 * then bytes that fill the buffers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/block/disk.h"
#include "devices/virtio/blk_request.h"
#include "fuzz.h"

#define MAX_BUFS   300
#define MAX_DATA   300
#define MAX_RANGES 64

/* Is [p, p + len) inside chain buffers first..last (indices into iov)? */
static bool inside(const struct iovec *iov, unsigned int first, unsigned int last,
		   const struct iovec *v, unsigned int *at)
{
	for (unsigned int i = first; i < last; i++) {
		const uint8_t *b = iov[i].iov_base;
		const uint8_t *p = v->iov_base;
		if (p >= b && v->iov_len <= iov[i].iov_len &&
		    p - b <= (ptrdiff_t)(iov[i].iov_len - v->iov_len)) {
			*at = i;
			return true;
		}
	}
	return false;
}

/* Bytes of the writable part, counted from its start, that the device
 * writes for this request and status: the data it fills, then the status
 * byte at the very end.  Returns the length of the prefix written without
 * a gap. */
static __attribute__((unused)) uint64_t written_prefix(const struct blk_request *req,
						       uint8_t status, uint64_t wlen)
{
	uint64_t data = 0;

	if (req->status == NULL)
		return 0;
	if (status == VIRTIO_BLK_S_OK && req->type == VIRTIO_BLK_T_IN)
		data = req->data_len;
	if (status == VIRTIO_BLK_S_OK && req->type == VIRTIO_BLK_T_GET_ID)
		data = req->data_len < VIRTIO_BLK_ID_BYTES ? req->data_len : VIRTIO_BLK_ID_BYTES;
	/* The status byte is at wlen - 1: it extends the prefix only when
	 * the data reached it. */
	return data + 1 == wlen ? wlen : data;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
	struct fz f = { input, size };
	struct blk_limits lim;
	struct iovec iov[MAX_BUFS], data[MAX_DATA];
	struct virtq_req vreq = { .iov = iov };
	struct blk_request req;
	struct blk_dwz_range ranges[MAX_RANGES];
	uint64_t rlen = 0, wlen = 0;
	unsigned int nbufs, data_cap, n;
	uint8_t flags, st;

	/* One statement per read: initialiser order is unspecified in C. */
	flags = fz_u8(&f);
	memset(&lim, 0, sizeof(lim));
	lim.capacity = (flags & 1) ? fz_u64(&f) : fz_u16(&f);
	lim.readonly = flags & 2;
	lim.discard = flags & 4;
	lim.write_zeroes = flags & 8;
	lim.write_zeroes_unmap = flags & 16;
	lim.max_discard_sectors = fz_u32(&f);
	lim.max_discard_seg = fz_u8(&f) % (MAX_RANGES + 8);
	lim.max_write_zeroes_sectors = fz_u32(&f);
	lim.max_write_zeroes_seg = fz_u8(&f) % (MAX_RANGES + 8);
	data_cap = 1 + fz_u16(&f) % MAX_DATA;
	nbufs = fz_u16(&f) % (MAX_BUFS + 1);
	for (unsigned int i = 0; i < nbufs; i++) {
		uint16_t d = fz_u16(&f);
		bool writable = d & 0x8000;
		size_t len = d & 0x7fff; /* up to 32 KiB */

		if (len == 0)
			len = 1; /* the queue drops empty buffers */
		if (!writable && vreq.nr_writable)
			writable = true; /* the queue enforces readable first */
		iov[i].iov_base = malloc(len);
		iov[i].iov_len = len;
		FUZZ_CHECK(iov[i].iov_base != NULL);
		fz_bytes(&f, iov[i].iov_base, len < 64 ? len : 64);
		if (writable) {
			vreq.nr_writable++;
			wlen += len;
		} else {
			vreq.nr_readable++;
			rlen += len;
		}
	}
	/* The first readable buffers carry the header: fill from the input. */
	for (unsigned int i = 0; i < vreq.nr_readable && fz_more(&f); i++)
		fz_bytes(&f, iov[i].iov_base, iov[i].iov_len);
	vreq.iov_cap = nbufs;
	vreq.readable_len = (uint32_t)rlen;
	vreq.writable_len = (uint32_t)wlen;

	st = blk_parse_request(&lim, &vreq, &req, data, data_cap);
	FUZZ_CHECK(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_IOERR || st == VIRTIO_BLK_S_UNSUPP);
	if (wlen == 0) {
		FUZZ_CHECK(req.status == NULL);
	} else {
		const struct iovec *last = &iov[nbufs - 1];
		FUZZ_CHECK(req.status == (uint8_t *)last->iov_base + last->iov_len - 1);
	}
	if (st == VIRTIO_BLK_S_OK && req.type != VIRTIO_BLK_T_FLUSH) {
		bool from_writable = req.type == VIRTIO_BLK_T_IN || req.type == VIRTIO_BLK_T_GET_ID;
		unsigned int first = from_writable ? vreq.nr_readable : 0;
		unsigned int last = from_writable ? nbufs : vreq.nr_readable;
		unsigned int at = first;
		uint64_t sum = 0;

		FUZZ_CHECK(req.data_cnt <= data_cap);
		for (unsigned int i = 0; i < req.data_cnt; i++) {
			unsigned int prev = at;
			FUZZ_CHECK(inside(iov, first, last, &req.data[i], &at));
			FUZZ_CHECK(at >= prev);
			/* The status byte is never data. */
			FUZZ_CHECK(req.status < (uint8_t *)req.data[i].iov_base ||
				   req.status >=
					   (uint8_t *)req.data[i].iov_base + req.data[i].iov_len);
			sum += req.data[i].iov_len;
		}
		FUZZ_CHECK(sum == req.data_len);
		if (req.type == VIRTIO_BLK_T_IN || req.type == VIRTIO_BLK_T_OUT) {
			FUZZ_CHECK(req.data_len % DISK_SECTOR_SIZE == 0);
			FUZZ_CHECK(req.sector <= lim.capacity &&
				   req.data_len / DISK_SECTOR_SIZE <= lim.capacity - req.sector);
			FUZZ_CHECK(req.type == VIRTIO_BLK_T_IN
					   ? req.data_len == wlen - 1
					   : req.data_len == rlen - VIRTIO_BLK_HDR_SIZE);
		}
		if (req.type == VIRTIO_BLK_T_OUT || req.type == VIRTIO_BLK_T_DISCARD ||
		    req.type == VIRTIO_BLK_T_WRITE_ZEROES)
			FUZZ_CHECK(!lim.readonly && wlen == 1);
	}
	if (st == VIRTIO_BLK_S_OK &&
	    (req.type == VIRTIO_BLK_T_DISCARD || req.type == VIRTIO_BLK_T_WRITE_ZEROES)) {
		bool discard = req.type == VIRTIO_BLK_T_DISCARD;
		unsigned int cap = fz_u8(&f) % (MAX_RANGES + 1);
		uint8_t dst = blk_parse_dwz(&lim, &req, ranges, cap, &n);

		FUZZ_CHECK(discard ? lim.discard : lim.write_zeroes);
		FUZZ_CHECK(n <= cap);
		if (dst == VIRTIO_BLK_S_OK) {
			for (unsigned int i = 0; i < n; i++) {
				FUZZ_CHECK(ranges[i].num_sectors > 0);
				FUZZ_CHECK(ranges[i].num_sectors <=
					   (discard ? lim.max_discard_sectors
						    : lim.max_write_zeroes_sectors));
				FUZZ_CHECK(ranges[i].sector <= lim.capacity &&
					   ranges[i].num_sectors <=
						   lim.capacity - ranges[i].sector);
				FUZZ_CHECK(
					!(ranges[i].flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP));
				FUZZ_CHECK(!discard || ranges[i].flags == 0);
			}
			FUZZ_CHECK(req.data_len / VIRTIO_BLK_DWZ_SEG_SIZE <=
				   (discard ? lim.max_discard_seg : lim.max_write_zeroes_seg));
		}
	}
	/* Used lengths, for the status just computed and for an I/O error
	 * the backend could still report. */
	for (unsigned int k = 0; k < 2; k++) {
		uint8_t s = k ? VIRTIO_BLK_S_IOERR : st;
		uint32_t used = blk_used_len(&req, s);
		FUZZ_CHECK(used <= wlen);
		FUZZ_CHECK(used <= written_prefix(&req, s, wlen));
	}
	for (unsigned int i = 0; i < nbufs; i++)
		free(iov[i].iov_base);
	return 0;
}
