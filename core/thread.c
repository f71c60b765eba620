/* thread_spawn (thread.h): a named thread that starts with every signal
 * blocked, so signals reach only the threads that handle them, and that
 * enters its kind's seccomp filter before it runs its function. */
#define _GNU_SOURCE
#include "core/thread.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "core/err.h"

/* What the new thread needs, on the creator's stack until `ready`. */
struct thread_start {
	void *(*fn)(void *);
	void *arg;
	enum seccomp_kind kind;
	char comm[16];
	sem_t ready;
	int result;
	char msg[256]; /* err_msg() is per thread: the failure, for the creator */
};

static void *thread_main(void *opaque)
{
	struct thread_start *st = opaque;
	void *(*fn)(void *) = st->fn;
	void *arg = st->arg;

	/* Only a diagnostic aid: a failure changes nothing. */
	(void)prctl(PR_SET_NAME, st->comm, 0, 0, 0);
	st->result = seccomp_enter(st->kind);
	if (st->result)
		snprintf(st->msg, sizeof(st->msg), "%s", err_msg());
	int failed = st->result;
	sem_post(&st->ready); /* st is gone after this */
	return failed ? NULL : fn(arg);
}

int thread_spawn(pthread_t *thread, const char *name, enum seccomp_kind kind, void *(*fn)(void *),
		 void *arg)
{
	struct thread_start st = { .fn = fn, .arg = arg, .kind = kind };
	sigset_t all, old;

	snprintf(st.comm, sizeof(st.comm), "vmm-%s", name);
	if (sem_init(&st.ready, 0, 0) < 0)
		return err_errno("cannot start thread %s", name);
	sigfillset(&all);
	/* Except SIGSYS: a forbidden call as the thread starts is reported. */
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(thread, NULL, thread_main, &st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		sem_destroy(&st.ready);
		errno = e;
		return err_errno("cannot start thread %s", name);
	}
	/* The thread runs fn only once its filter is in place. */
	while (sem_wait(&st.ready) < 0 && errno == EINTR)
		;
	sem_destroy(&st.ready);
	if (st.result) {
		pthread_join(*thread, NULL);
		return err_set("%s", st.msg);
	}
	return 0;
}
