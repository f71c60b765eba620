/*
 * The main thread's event loop (epoll): stdin, signals, the VM's stop
 * eventfd.  Each watched fd has a caller-owned struct loop_watch.
 */
#ifndef CORE_LOOP_H
#define CORE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop {
	int epfd;
	bool stop;
};

struct loop_watch {
	int fd;
	void (*fn)(void *opaque, uint32_t events);
	void *opaque;
};

int loop_init(struct loop *l);
void loop_destroy(struct loop *l);
/* Watches w->fd for events (EPOLLIN, ...); w must outlive the watch. */
int loop_add(struct loop *l, struct loop_watch *w, uint32_t events);
int loop_del(struct loop *l, struct loop_watch *w);
/* Dispatches events until loop_stop() is called by a handler. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
