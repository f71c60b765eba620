/* thread_spawn (thread.h): a named thread that starts with every signal
 * blocked, so signals reach only the threads that handle them. */
#define _GNU_SOURCE
#include "core/thread.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "core/err.h"

int thread_spawn(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	char comm[16];

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		errno = e;
		return err_errno("cannot start thread %s", name);
	}
	snprintf(comm, sizeof(comm), "vmm-%s", name);
	/* Only a diagnostic aid: a failure changes nothing. */
	(void)pthread_setname_np(*thread, comm);
	return 0;
}
