/* Boot files (file.h): open a regular file, read it whole. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"

int file_open_regular(const char *what, const char *path, uint64_t *size)
{
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer;
	 * this way it opens and fails the regular-file check.  (Reads of a
	 * regular file ignore the flag.) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_errno("%s %s", what, path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		err_errno("%s %s", what, path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set("%s %s: not a regular file", what, path);
	}
	if (st.st_size == 0) {
		close(fd);
		return err_set("%s %s: empty file", what, path);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

int file_read_at(int fd, const char *what, const char *path, void *dst, size_t len, off_t off)
{
	uint8_t *d = dst;
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, d + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno("%s %s", what, path);
		if (n == 0)
			return err_set("%s %s: file shrank while reading", what, path);
		got += (size_t)n;
	}
	return 0;
}
