/*
 * Error messages: library code records one human-readable line describing
 * what failed and why, and returns -1; the CLI prints it as "vmm: <line>".
 * The message is per thread, so vCPU threads cannot clobber the main one's.
 */
#ifndef CORE_ERR_H
#define CORE_ERR_H

/* Records the message and returns -1, so callers can `return err_set(...)`. */
int err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like err_set, with ": strerror(errno)" appended (errno read on entry). */
int err_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prepends "<formatted>: " to the current message; returns -1. */
int err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last message recorded by this thread ("unknown error" if none). */
const char *err_msg(void);

#endif
