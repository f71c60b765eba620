/* Byte-offset access to iovec lists (see iov.h). */
#include "devices/iov.h"

#include <stdint.h>
#include <string.h>

size_t iov_length(const struct iovec *iov, unsigned int n)
{
	size_t total = 0;
	for (unsigned int i = 0; i < n; i++)
		total += iov[i].iov_len;
	return total;
}

size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t offset, void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned int i = 0; i < n && done < len; i++) {
		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		size_t chunk = iov[i].iov_len - offset;
		if (chunk > len - done)
			chunk = len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + offset, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned int n, size_t offset, const void *buf,
		    size_t len)
{
	size_t done = 0;
	for (unsigned int i = 0; i < n && done < len; i++) {
		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		size_t chunk = iov[i].iov_len - offset;
		if (chunk > len - done)
			chunk = len - done;
		memcpy((uint8_t *)iov[i].iov_base + offset, (const uint8_t *)buf + done, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

int iov_slice(const struct iovec *src, unsigned int n, size_t offset, size_t len, struct iovec *dst,
	      unsigned int dst_cap)
{
	unsigned int out = 0;
	for (unsigned int i = 0; i < n && len > 0; i++) {
		if (offset >= src[i].iov_len) {
			offset -= src[i].iov_len;
			continue;
		}
		size_t chunk = src[i].iov_len - offset;
		if (chunk > len)
			chunk = len;
		if (out >= dst_cap)
			return -1;
		dst[out].iov_base = (uint8_t *)src[i].iov_base + offset;
		dst[out].iov_len = chunk;
		out++;
		len -= chunk;
		offset = 0;
	}
	return len == 0 ? (int)out : -1;
}

void *iov_byte_ptr(const struct iovec *iov, unsigned int n, size_t offset)
{
	for (unsigned int i = 0; i < n; i++) {
		if (offset < iov[i].iov_len)
			return (uint8_t *)iov[i].iov_base + offset;
		offset -= iov[i].iov_len;
	}
	return NULL;
}

bool iov_is_aligned(const struct iovec *iov, unsigned int n, size_t align)
{
	for (unsigned int i = 0; i < n; i++) {
		if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & (align - 1))
			return false;
	}
	return true;
}

void iov_advance(struct iovec **iov, unsigned int *n, size_t bytes)
{
	while (*n > 0 && bytes >= (*iov)[0].iov_len) {
		bytes -= (*iov)[0].iov_len;
		(*iov)++;
		(*n)--;
	}
	if (*n > 0 && bytes > 0) {
		(*iov)[0].iov_base = (uint8_t *)(*iov)[0].iov_base + bytes;
		(*iov)[0].iov_len -= bytes;
	}
}
