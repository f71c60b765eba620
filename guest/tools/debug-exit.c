/*
 * debug-exit: runs inside the guest and ends the VM with a status the host
 * sees as vmm's exit status, by writing it to the VMM's debug-exit device:
 * on x86 port 0xf4 (the port QEMU's isa-debug-exit uses; vmm exits with the
 * value written, unshifted), on arm64 a byte at ARM64_DEBUG_EXIT_BASE
 * through /dev/mem.  Under a VMM without the device the write is ignored
 * and the caller powers off as usual.
 *   usage: debug-exit STATUS      (0..255)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <sys/io.h>

#include "arch/x86/layout.h"

static int debug_exit(unsigned char status)
{
	if (ioperm(X86_DEBUG_EXIT_PORT, 1, 1) < 0) {
		fprintf(stderr, "debug-exit: ioperm: %s\n", strerror(errno));
		return 1;
	}
	outb(status, X86_DEBUG_EXIT_PORT);
	return 0;
}
#elif defined(__aarch64__)
#include <fcntl.h>
#include <sys/mman.h>

#include "arch/arm64/layout.h"

static int debug_exit(unsigned char status)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = open("/dev/mem", O_RDWR | O_SYNC);
	if (fd < 0) {
		fprintf(stderr, "debug-exit: /dev/mem: %s\n", strerror(errno));
		return 1;
	}
	/* O_SYNC: a device mapping, so the store reaches the VMM as is. */
	volatile unsigned char *p =
		mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		     (off_t)(ARM64_DEBUG_EXIT_BASE & ~(unsigned long long)(page - 1)));
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "debug-exit: mmap of /dev/mem: %s\n", strerror(errno));
		return 1;
	}
	p[ARM64_DEBUG_EXIT_BASE & (unsigned long long)(page - 1)] = status;
	return 0;
}
#else
#error "debug-exit: no debug-exit device on this architecture"
#endif

int main(int argc, char **argv)
{
	char *end;
	long status;

	if (argc != 2) {
		fprintf(stderr, "usage: debug-exit STATUS\n");
		return 2;
	}
	errno = 0;
	status = strtol(argv[1], &end, 10);
	if (errno || *end || end == argv[1] || status < 0 || status > 255) {
		fprintf(stderr, "debug-exit: bad status '%s' (expected 0..255)\n", argv[1]);
		return 2;
	}
	/* What the script printed may still sit in the serial driver's
	 * buffer: let the UART send it before the VM ends.  Not a terminal
	 * (output redirected): nothing to wait for. */
	fflush(NULL);
	tcdrain(STDOUT_FILENO);
	tcdrain(STDERR_FILENO);
	if (debug_exit((unsigned char)status))
		return 1;
	/* Still running: no debug-exit device here. */
	return 0;
}
