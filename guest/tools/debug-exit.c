/*
 * debug-exit: runs inside the guest and ends the VM with a status the host
 * sees as vmm's exit status, by writing it to the VMM's debug-exit port
 * (0xf4, the port QEMU's isa-debug-exit uses; vmm exits with the value
 * written, unshifted).  Under a VMM without the port the write is ignored
 * and the caller powers off as usual.
 *   usage: debug-exit STATUS      (0..255)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <termios.h>
#include <unistd.h>

#define DEBUG_EXIT_PORT 0xf4

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
	if (ioperm(DEBUG_EXIT_PORT, 1, 1) < 0) {
		fprintf(stderr, "debug-exit: ioperm: %s\n", strerror(errno));
		return 1;
	}
	outb((unsigned char)status, DEBUG_EXIT_PORT);
	/* Still running: no debug-exit device here. */
	return 0;
}
