/* Per-thread last-error message for the "vmm: what failed and why" line. */
#include "core/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __thread char msg[512];

int err_set(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return -1;
}

int err_errno(const char *fmt, ...)
{
	int saved = errno;
	char head[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	if (snprintf(msg, sizeof(msg), "%s: %s", head, strerror(saved)) >= (int)sizeof(msg))
		msg[sizeof(msg) - 1] = '\0';
	errno = saved;
	return -1;
}

int err_prefix(const char *fmt, ...)
{
	char head[256], old[sizeof(msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, msg, sizeof(old));
	/* A message too long for the buffer is cut short, which is fine. */
	if (snprintf(msg, sizeof(msg), "%s: %s", head, old) >= (int)sizeof(msg))
		msg[sizeof(msg) - 1] = '\0';
	return -1;
}

const char *err_msg(void)
{
	return msg[0] ? msg : "unknown error";
}
