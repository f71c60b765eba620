/*
 * Scatter-gather helpers over struct iovec lists that point into guest
 * RAM.  virtio 1.x lets the driver frame a request any way it likes
 * (header, data and status may share or split buffers), so devices read
 * and write requests by byte offset across the whole list.
 */
#ifndef DEVICES_IOV_H
#define DEVICES_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

size_t iov_length(const struct iovec *iov, unsigned int n);

/* Copies up to len bytes starting at byte offset; returns bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t offset, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned int n, size_t offset, const void *buf,
		    size_t len);

/*
 * Describes bytes [offset, offset + len) of src in dst.  Returns the number
 * of dst entries, or -1 if src is too short or dst has fewer than needed.
 */
int iov_slice(const struct iovec *src, unsigned int n, size_t offset, size_t len, struct iovec *dst,
	      unsigned int dst_cap);

/* Pointer to the byte at offset, NULL past the end. */
void *iov_byte_ptr(const struct iovec *iov, unsigned int n, size_t offset);

/* Every base and length a multiple of align (a power of two). */
bool iov_is_aligned(const struct iovec *iov, unsigned int n, size_t align);

/* Drops the first `bytes` bytes in place (after a short transfer). */
void iov_advance(struct iovec **iov, unsigned int *n, size_t bytes);

#endif
