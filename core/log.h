/*
 * The program's one log sink: warnings and notices from any thread (an I/O
 * thread that saw a host error, a device the guest misprogrammed) go to
 * stderr as one "vmm: <line>" each, written whole so lines of different
 * threads never interleave.  Fatal errors are not logged here: library code
 * returns -1 with err_set() and main prints the message once.
 */
#ifndef CORE_LOG_H
#define CORE_LOG_H

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Where log lines go (default: stderr); tests point it at a pipe or file. */
void log_set_fd(int fd);

#endif
