/* The one log sink (log.h): "vmm: <line>\n" written with a single write(2)
 * so concurrent threads never interleave within a line. */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static atomic_int log_fd = 2;

void log_set_fd(int fd)
{
	atomic_store(&log_fd, fd);
}

void log_warn(const char *fmt, ...)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "vmm: ");
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* Nothing useful can be done when the log itself cannot be written. */
	ssize_t w = write(atomic_load(&log_fd), line, (size_t)n);
	(void)w;
}
