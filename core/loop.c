/* epoll event loop for the main thread. */
#include "core/loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/err.h"

int loop_init(struct loop *l)
{
	l->stop = false;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return err_errno("epoll_create1");
	return 0;
}

void loop_destroy(struct loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int loop_add(struct loop *l, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		return err_errno("epoll_ctl add fd %d", w->fd);
	return 0;
}

int loop_del(struct loop *l, struct loop_watch *w)
{
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL) < 0)
		return err_errno("epoll_ctl del fd %d", w->fd);
	return 0;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[8];
	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_errno("epoll_wait");
		}
		for (int i = 0; i < n && !l->stop; i++) {
			struct loop_watch *w = evs[i].data.ptr;
			w->fn(w->opaque, evs[i].events);
		}
	}
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
