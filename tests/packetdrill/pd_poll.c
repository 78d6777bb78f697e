/*
 * pd_poll.c: poll(2) and epoll over bt_readiness (docs/host-api.md). A
 * call with a timeout sleeps until the world changed or the timeout
 * passed in virtual time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pd_shim.h"

uint32_t pd_fd_events(struct pd_shim *s, int fd)
{
	struct pd_sock *k = pd_sock_of(s, fd);
	if (!k)
		return POLLNVAL;
	if (k->kind == PD_SOCK_FRESH)
		return POLLOUT | POLLWRNORM | POLLHUP; /* Linux: an unconnected socket */
	uint32_t r = bt_readiness(pd_world_host(s->w), k->id);
	uint32_t ev = 0;
	if (r & BT_READY_IN)
		ev |= POLLIN | POLLRDNORM;
	if (r & BT_READY_OUT)
		ev |= POLLOUT | POLLWRNORM;
	if (r & BT_READY_RDHUP)
		ev |= POLLRDHUP;
	if (r & BT_READY_HUP)
		ev |= POLLHUP;
	if (r & BT_READY_ERR)
		ev |= POLLERR;
	return ev;
}

static uint64_t deadline_of(struct pd_shim *s, int timeout_ms)
{
	return timeout_ms > 0 ? pd_world_now_ns(s->w) + (uint64_t)timeout_ms * 1000000ull : 0;
}

static int scan_pollfds(struct pd_shim *s, struct pollfd *fds, nfds_t nfds)
{
	int ready = 0;
	for (nfds_t i = 0; i < nfds; i++) {
		if (fds[i].fd < 0) {
			fds[i].revents = 0;
			continue;
		}
		uint32_t ev = pd_fd_events(s, fds[i].fd);
		fds[i].revents = (short)(ev & ((uint32_t)(uint16_t)fds[i].events | POLLHUP | POLLERR | POLLNVAL));
		if (fds[i].revents)
			ready++;
	}
	return ready;
}

int pd_poll(void *u, struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	struct pd_shim *s = u;
	pthread_mutex_lock(&s->mu);
	uint64_t deadline = deadline_of(s, timeout_ms);
	int ready;
	while ((ready = scan_pollfds(s, fds, nfds)) == 0 && timeout_ms != 0) {
		if (!pd_sleep(s, deadline))
			break;
	}
	pd_sleep_done(s);
	pd_kick(s);
	pthread_mutex_unlock(&s->mu);
	return ready;
}

int pd_epoll_create(void *u, int size)
{
	struct pd_shim *s = u;
	if (size <= 0) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	int fd = pd_new_fd(s);
	struct pd_epoll *ep = fd >= 0 ? calloc(1, sizeof(*ep)) : NULL;
	if (!ep) {
		int e = fd >= 0 ? ENOMEM : errno;
		if (fd >= 0)
			close(fd);
		pthread_mutex_unlock(&s->mu);
		errno = e;
		return -1;
	}
	s->eps[fd] = ep;
	pthread_mutex_unlock(&s->mu);
	return fd;
}

static struct pd_epoll_item *find_item(struct pd_epoll *ep, int fd)
{
	for (int i = 0; i < ep->n; i++)
		if (ep->items[i].fd == fd)
			return &ep->items[i];
	return NULL;
}

int pd_epoll_ctl(void *u, int epfd, int op, int fd, struct epoll_event *event)
{
	struct pd_shim *s = u;
	pthread_mutex_lock(&s->mu);
	struct pd_epoll *ep = epfd >= 0 && epfd < PD_MAX_FDS ? s->eps[epfd] : NULL;
	int err = 0;
	struct pd_epoll_item *it = ep ? find_item(ep, fd) : NULL;
	if (!ep || !pd_sock_of(s, fd))
		err = EBADF;
	else if (op == EPOLL_CTL_ADD) {
		if (it)
			err = EEXIST;
		else if (!event)
			err = EFAULT;
		else if (ep->n == PD_EPOLL_MAX_ITEMS)
			err = ENOSPC;
		else
			ep->items[ep->n++] = (struct pd_epoll_item){.fd = fd, .events = event->events, .data = event->data.u64};
	} else if (op == EPOLL_CTL_MOD) {
		if (!it)
			err = ENOENT;
		else if (!event)
			err = EFAULT;
		else
			*it = (struct pd_epoll_item){.fd = fd, .events = event->events, .data = event->data.u64};
	} else if (op == EPOLL_CTL_DEL) {
		if (!it)
			err = ENOENT;
		else
			*it = ep->items[--ep->n];
	} else {
		err = EINVAL;
	}
	pthread_mutex_unlock(&s->mu);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static int scan_epoll(struct pd_shim *s, struct pd_epoll *ep, struct epoll_event *out, int max)
{
	int n = 0;
	for (int i = 0; i < ep->n && n < max; i++) {
		struct pd_epoll_item *it = &ep->items[i];
		if (it->disabled)
			continue;
		uint32_t mask = pd_fd_events(s, it->fd) & (it->events | EPOLLHUP | EPOLLERR);
		mask &= ~(uint32_t)POLLNVAL;
		if (it->events & EPOLLET) {
			/* Edge-triggered: what became true since the last report,
			 * and, as Linux wakes the socket on every arrival, new
			 * data even while old data is unread (epoll_in_edge).
			 * The report carries the whole mask. */
			uint32_t fresh = mask & ~it->reported;
			it->reported = mask;
			struct pd_sock *k = pd_sock_of(s, it->fd);
			if (k && k->kind == PD_SOCK_CONN) {
				uint64_t arrived = k->rx_taken_bytes + bt_rx_ready(pd_world_host(s->w), k->id);
				if (arrived > it->rx_arrived_seen && (mask & EPOLLIN))
					fresh |= EPOLLIN;
				it->rx_arrived_seen = arrived;
			}
			if (!fresh)
				continue;
		}
		if (!mask)
			continue;
		if (it->events & EPOLLONESHOT)
			it->disabled = true;
		out[n].events = mask;
		out[n].data.u64 = it->data;
		n++;
	}
	return n;
}

int pd_epoll_wait(void *u, int epfd, struct epoll_event *events, int maxevents, int timeout_ms)
{
	struct pd_shim *s = u;
	pthread_mutex_lock(&s->mu);
	struct pd_epoll *ep = epfd >= 0 && epfd < PD_MAX_FDS ? s->eps[epfd] : NULL;
	if (!ep || maxevents <= 0) {
		pthread_mutex_unlock(&s->mu);
		errno = ep ? EINVAL : EBADF;
		return -1;
	}
	uint64_t deadline = deadline_of(s, timeout_ms);
	int n;
	while ((n = scan_epoll(s, ep, events, maxevents)) == 0 && timeout_ms != 0) {
		if (!pd_sleep(s, deadline))
			break;
	}
	pd_sleep_done(s);
	pd_kick(s);
	pthread_mutex_unlock(&s->mu);
	return n;
}
