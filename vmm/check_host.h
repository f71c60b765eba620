/*
 * vmm --check-host: whether this host can run vmm and boot a stock Linux
 * guest, said in a few lines, with an exit status scripts can use.
 */
#ifndef VMM_CHECK_HOST_H
#define VMM_CHECK_HOST_H

#include <stdio.h>

/* Where the facts live; tests point these at scratch files. */
struct check_host_paths {
	const char *kvm_dev;	/* "/dev/kvm" */
	const char *sys_module; /* "/sys/module": which KVM module is loaded */
};

extern const struct check_host_paths check_host_default_paths;

/*
 * Prints one line per check ("ok", "FAIL" or "note", then what was found)
 * and a verdict to out.  Returns 0 when every check passed, else 1.
 */
int check_host(FILE *out, const struct check_host_paths *paths);

#endif
