/*
 * Reading the files a guest boots from (kernel, initrd): opened read-only,
 * regular files only, read whole with every short read and EINTR handled.
 * Errors name the file and what it is for ("kernel PATH: ...").
 */
#ifndef CORE_FILE_H
#define CORE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Opens a regular, non-empty file for reading (a FIFO, a device or a
 * directory is refused without waiting); *size receives its size.  The
 * fd, or -1 with err_msg() set. */
int file_open_regular(const char *what, const char *path, uint64_t *size);

/* Reads exactly len bytes at offset off of fd into dst; a file that ends
 * early (it shrank since it was opened) is an error.  0 or -1. */
int file_read_at(int fd, const char *what, const char *path, void *dst, size_t len, off_t off);

#endif
