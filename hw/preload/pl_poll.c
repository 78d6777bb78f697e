/*
 * pl_poll.c: poll, ppoll, select, pselect and epoll over a mix of stack
 * sockets and kernel descriptors.
 *
 * Stack readiness comes from host memory (bt_readiness after draining
 * the channel); kernel readiness from the real call with timeout 0. When
 * nothing is ready the caller spins (pl_spin_ns), then sleeps: on the
 * channel (a futex over ipc) when only stack sockets are waited for, else
 * in ONE kernel call on the kernel descriptors AND the channel's wakeup
 * descriptor (pl_wake_arm: an eventfd the daemon signals over ipc), so a
 * stack event ends the sleep at once. A channel without one (verbs today)
 * sleeps in the kernel call in slices of at most PL_SLICE_NS, so that a
 * stack socket becoming ready is seen within one slice. Every wait is
 * bounded by the caller's timeout.
 *
 * The wakeup descriptor is watched edge-triggered and never read (the
 * channel's contract), through a private epoll instance: one per thread
 * for poll/select (a poll(2) entry of its own), one per epoll set for
 * epoll (holding the set itself and the wakeup descriptor).
 */
#define _GNU_SOURCE
#include "pl_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "transports/chan_signal.h"

#define LOCK() pthread_mutex_lock(&pl.mu)
#define UNLOCK() pthread_mutex_unlock(&pl.mu)

struct pl_epoll_entry {
	int fd;
	struct pl_sock *sock;
	struct epoll_event ev;
	uint32_t last; /* edge-triggered: what was reported last */
	uint32_t rd_gen, wr_gen; /* the socket's drain counts when `last` was taken */
};

/* Per epoll descriptor: its stack entries and how many kernel fds. */
struct pl_epoll {
	struct pl_epoll_entry *e;
	int n, cap;
	int kernel_fds;
	int sleep_ep; /* private epoll: {the set, the wakeup fd EPOLLET}; 0 until made (fd + 1) */
};

/* The eventfd a signal handler writes when it runs on a thread about to
 * sleep in one of the kernel calls below (chan_signal_sleep_begin), so
 * that a handler landing between the last look at chan_signal_pending
 * and the sleep ends the sleep at once instead of at its cap. One per
 * process, watched edge-triggered by every private instance, never read
 * (as the wakeup descriptor); -1 where eventfd failed (then such a
 * handler is seen when the sleep ends, as before). */
static int intr_fd = -1;
static pthread_once_t intr_once = PTHREAD_ONCE_INIT;
static void intr_fd_make(void) { intr_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

/* A private epoll instance watching the wakeup descriptor and intr_fd
 * edge-triggered (and `also`, level-triggered, if >= 0). -1 with errno. */
static int wake_ep_new(int wake_fd, int also)
{
	pthread_once(&intr_once, intr_fd_make);
	int ep = pl_real.epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -1;
	struct epoll_event w = {.events = EPOLLIN | EPOLLET, .data.fd = wake_fd};
	struct epoll_event i = {.events = EPOLLIN | EPOLLET, .data.fd = intr_fd};
	struct epoll_event a = {.events = EPOLLIN, .data.fd = also};
	if (pl_real.epoll_ctl(ep, EPOLL_CTL_ADD, wake_fd, &w) != 0 ||
	    (intr_fd >= 0 && pl_real.epoll_ctl(ep, EPOLL_CTL_ADD, intr_fd, &i) != 0) ||
	    (also >= 0 && pl_real.epoll_ctl(ep, EPOLL_CTL_ADD, also, &a) != 0)) {
		int saved = errno;
		pl_real.close(ep);
		errno = saved;
		return -1;
	}
	return ep;
}

/* poll/select: the calling thread's instance, closed when it exits. */
static pthread_key_t thread_ep_key;
static pthread_once_t thread_ep_once = PTHREAD_ONCE_INIT;
static __thread int thread_ep = -1;
static void thread_ep_close(void *p)
{
	pl_real.close((int)(intptr_t)p - 1);
}
static void thread_ep_key_make(void) { pthread_key_create(&thread_ep_key, thread_ep_close); }
static int thread_wake_ep(int wake_fd)
{
	if (thread_ep < 0) {
		pthread_once(&thread_ep_once, thread_ep_key_make);
		thread_ep = wake_ep_new(wake_fd, -1);
		if (thread_ep >= 0)
			pthread_setspecific(thread_ep_key, (void *)(intptr_t)(thread_ep + 1));
	}
	return thread_ep;
}

/* The wait loops below read the clock once per round (`now`, taken at
 * the top of the round, or just after a sleep) and use that reading for
 * every question of the round: a clock read is ~80 ns on the test VM
 * (kvm-clock through the vDSO), and a wait that sleeps at once made 7 of
 * them per call before (plus the host library's 4 to 5 per request). */
static uint64_t deadline_of(int timeout_ms, uint64_t now)
{
	return timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000000ull;
}

static int remaining_ms(uint64_t deadline, uint64_t cap_ns, uint64_t now)
{
	uint64_t left = deadline == UINT64_MAX ? cap_ns : deadline > now ? deadline - now : 0;
	if (left > cap_ns)
		left = cap_ns;
	return (int)((left + 999999) / 1000000);
}

/* A sleep in the kernel on a private instance (which watches intr_fd):
 * a handler noted since the caller's last look ends it before it starts,
 * one that runs from here on wakes it (chan_signal.h). */
static int guarded_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	chan_signal_sleep_begin(NULL, intr_fd);
	int k = chan_signal_pending() ? (errno = EINTR, -1) : pl_real.poll(fds, n, timeout_ms);
	int saved = errno;
	chan_signal_sleep_end();
	errno = saved;
	return k;
}

static int guarded_epoll_wait(int ep, struct epoll_event *evs, int max, int timeout_ms)
{
	chan_signal_sleep_begin(NULL, intr_fd);
	int k = chan_signal_pending() ? (errno = EINTR, -1) : pl_real.epoll_wait(ep, evs, max, timeout_ms);
	int saved = errno;
	chan_signal_sleep_end();
	errno = saved;
	return k;
}

/* The poll core. `ours` marks the entries that are stack sockets. The
 * caller has taken the handlers noted before the call (chan_signal_take):
 * one noted from then on ends the wait with EINTR. */
/* BLUETAS_MIXED_WAIT=stack: a set mixing stack sockets and kernel
 * descriptors sleeps on the channel (a stack event wakes it at once) and
 * looks at the kernel descriptors every PL_SLICE_NS, instead of sleeping
 * in the kernel call (where a stack event waits up to PL_SLICE_NS). For
 * servers whose traffic is on the stack and whose kernel descriptors are
 * side channels: redis-server's epoll set holds a pipe, so every request
 * waited ~2 ms. docs/sockets.md. */
static bool mixed_wait_on_stack(void)
{
	static int mode = -1; /* racing first calls compute the same value */
	int m = __atomic_load_n(&mode, __ATOMIC_RELAXED);
	if (m < 0) {
		const char *v = getenv("BLUETAS_MIXED_WAIT");
		m = v && !strcmp(v, "stack");
		if (v && *v && strcmp(v, "stack") && strcmp(v, "kernel"))
			pl_log_once("BLUETAS_MIXED_WAIT", "BLUETAS_MIXED_WAIT=%s is not stack or kernel: using kernel", v);
		__atomic_store_n(&mode, m, __ATOMIC_RELAXED);
	}
	return m;
}

static int poll_mixed(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	struct pollfd *kern = malloc(sizeof(*kern) * (n + 1)); /* + the wakeup instance */
	if (!kern) {
		errno = ENOMEM;
		return -1;
	}
	int n_kernel = 0;
	for (nfds_t i = 0; i < n; i++) {
		kern[i] = fds[i];
		if (pl_sock_of(fds[i].fd))
			kern[i].fd = -1; /* poll(2) skips negative descriptors */
		else if (fds[i].fd >= 0)
			n_kernel++;
	}
	uint64_t start = pl_now_ns(), now = start, deadline = deadline_of(timeout_ms, start), spin_ns = pl_spin_ns();
	/* The kernel descriptors are asked (a syscall) as epoll_mixed asks
	 * its kernel set: at the first round, every PL_KERNEL_LOOK_NS while
	 * spinning, not in a round that sleeps next (the sleep's poll holds
	 * them), and after a sleep only if one of them woke it. */
	bool on_stack = mixed_wait_on_stack(), look_kernel = true, kernel_woke = false;
	bool now_fresh = true; /* `now` was read just now (the start, or the end of a sleep) */
	uint64_t kernel_seen = 0;
	int ready;
	for (bool first = true;; first = false) {
		if (!now_fresh)
			now = pl_now_ns(); /* the round's one clock reading */
		now_fresh = false;
		ready = 0;
		LOCK();
		if (pl.host)
			pl_drain();
		for (nfds_t i = 0; i < n; i++) {
			struct pl_sock *s = pl_sock_of(fds[i].fd);
			if (!s)
				continue;
			uint32_t r = pl.host || s->forked ? pl_readiness(s) : POLLNVAL;
			fds[i].revents = (short)(r & ((uint32_t)fds[i].events | POLLERR | POLLHUP | POLLNVAL));
			if (fds[i].revents)
				ready++;
		}
		UNLOCK();
		bool spin_over = now - start >= spin_ns;
		bool sleep_looks = ready == 0 && spin_over && !on_stack && timeout_ms != 0 && now < deadline;
		int k = 0;
		if (n_kernel && (kernel_woke || (!sleep_looks && (look_kernel || now - kernel_seen >= PL_KERNEL_LOOK_NS)))) {
			look_kernel = kernel_woke = false;
			kernel_seen = now;
			k = pl_real.poll(kern, n, 0);
			if (k < 0) {
				free(kern);
				return -1;
			}
		} else {
			for (nfds_t i = 0; i < n; i++)
				kern[i].revents = 0; /* not asked this round */
		}
		for (nfds_t i = 0; i < n; i++)
			if (kern[i].fd >= 0) {
				fds[i].revents = kern[i].revents;
				if (kern[i].revents)
					ready++;
			}
		if (ready && !first)
			pl_spin_learn(now - start);
		if (ready || timeout_ms == 0 || now >= deadline)
			break;
		/* A handler ran while we polled: the kernel's poll would have
		 * been asleep and returned EINTR. */
		if (chan_signal_pending()) {
			free(kern);
			errno = EINTR;
			return -1;
		}
		if (!spin_over)
			continue;
		if (n_kernel == 0 || on_stack) {
			look_kernel = true;
			if (pl_sleep_on_stack(deadline == UINT64_MAX ? UINT64_MAX : deadline - now, n_kernel == 0 ? PL_WAKE_FD_CAP_NS : PL_SLICE_NS) < 0) {
				free(kern);
				return -1; /* EINTR */
			}
			continue;
		}
		int wake_fd, armed = pl_wake_arm(&wake_fd);
		look_kernel = true;
		if (armed == 0)
			continue; /* something arrived meanwhile */
		int ep = armed > 0 ? thread_wake_ep(wake_fd) : -1;
		if (ep >= 0) {
			kern[n] = (struct pollfd){.fd = ep, .events = POLLIN};
			k = guarded_poll(kern, n + 1, remaining_ms(deadline, PL_WAKE_FD_CAP_NS, now));
			int saved = errno;
			if (k > 0 && kern[n].revents) { /* take the edges, or the instance stays readable */
				struct epoll_event ev[2];
				pl_real.epoll_wait(ep, ev, 2, 0);
			}
			pl_wake_done();
			errno = saved;
		} else {
			if (armed > 0)
				pl_wake_done();
			k = pl_real.poll(kern, n, remaining_ms(deadline, PL_SLICE_NS, now));
		}
		if (k < 0) {
			free(kern);
			return -1;
		}
		/* The sleep watched the kernel descriptors until it returned. */
		kernel_woke = k - (ep >= 0 && kern[n].revents ? 1 : 0) > 0;
		look_kernel = false;
		now = kernel_seen = pl_now_ns(); /* also the next round's reading */
		now_fresh = true;
	}
	free(kern);
	return ready;
}

static bool any_ours(const struct pollfd *fds, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++)
		if (pl_sock_of(fds[i].fd))
			return true;
	return false;
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	if (!any_ours(fds, n))
		return pl_real.poll(fds, n, timeout_ms);
	chan_signal_take(); /* handlers that ran before the call */
	return poll_mixed(fds, n, timeout_ms);
}

EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return poll(fds, n, timeout_ms);
}

static int ts_ms(const struct timespec *ts)
{
	if (!ts)
		return -1;
	uint64_t ms = (uint64_t)ts->tv_sec * 1000u + (uint64_t)(ts->tv_nsec + 999999) / 1000000u;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* ppoll, pselect, epoll_pwait(2): the caller's mask is set around the
 * whole wait. The handlers noted before the call are forgotten first,
 * then the mask is set: a signal it unblocks is delivered at once and
 * noted, and ends the wait with EINTR (the pending check of the wait
 * loops), which is what the kernel's atomic swap of the mask gives. */
static void mask_enter(const sigset_t *mask, sigset_t *old)
{
	chan_signal_take();
	if (mask)
		pthread_sigmask(SIG_SETMASK, mask, old);
}

static int mask_leave(const sigset_t *mask, const sigset_t *old, int r)
{
	int saved = errno;
	if (mask)
		pthread_sigmask(SIG_SETMASK, old, NULL);
	errno = saved;
	return r;
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	if (!any_ours(fds, n))
		return pl_real.ppoll(fds, n, ts, mask);
	sigset_t old;
	mask_enter(mask, &old);
	return mask_leave(mask, &old, poll_mixed(fds, n, ts_ms(ts)));
}

static int select_mixed(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, int timeout_ms)
{
	struct pollfd p[FD_SETSIZE];
	int n = 0;
	for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
		short ev = 0;
		if (rd && FD_ISSET(fd, rd))
			ev |= POLLIN;
		if (wr && FD_ISSET(fd, wr))
			ev |= POLLOUT;
		if (ex && FD_ISSET(fd, ex))
			ev |= POLLPRI;
		if (ev)
			p[n++] = (struct pollfd){.fd = fd, .events = ev};
	}
	int r = poll_mixed(p, (nfds_t)n, timeout_ms);
	if (r < 0)
		return r;
	if (rd)
		FD_ZERO(rd);
	if (wr)
		FD_ZERO(wr);
	if (ex)
		FD_ZERO(ex);
	int count = 0;
	for (int i = 0; i < n; i++) {
		short re = p[i].revents;
		if (re & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
		if (rd && (re & (POLLIN | POLLHUP | POLLERR)) && (p[i].events & POLLIN)) {
			FD_SET(p[i].fd, rd);
			count++;
		}
		if (wr && (re & (POLLOUT | POLLERR)) && (p[i].events & POLLOUT)) {
			FD_SET(p[i].fd, wr);
			count++;
		}
		if (ex && (re & POLLPRI)) {
			FD_SET(p[i].fd, ex);
			count++;
		}
	}
	return count;
}

static bool set_has_ours(int nfds, fd_set *rd, fd_set *wr, fd_set *ex)
{
	for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++)
		if (pl_sock_of(fd) && ((rd && FD_ISSET(fd, rd)) || (wr && FD_ISSET(fd, wr)) || (ex && FD_ISSET(fd, ex))))
			return true;
	return false;
}

EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
	if (!set_has_ours(nfds, rd, wr, ex))
		return pl_real.select(nfds, rd, wr, ex, tv);
	int ms = -1;
	if (tv)
		ms = (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000);
	uint64_t start = pl_now_ns();
	chan_signal_take(); /* handlers that ran before the call */
	int r = select_mixed(nfds, rd, wr, ex, ms);
	if (tv) { /* Linux updates the timeout with what is left */
		uint64_t used_us = (pl_now_ns() - start) / 1000;
		uint64_t had_us = (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
		uint64_t left = had_us > used_us ? had_us - used_us : 0;
		tv->tv_sec = (time_t)(left / 1000000u);
		tv->tv_usec = (suseconds_t)(left % 1000000u);
	}
	return r;
}

EXPORT int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts, const sigset_t *mask)
{
	if (!set_has_ours(nfds, rd, wr, ex))
		return pl_real.pselect(nfds, rd, wr, ex, ts, mask);
	sigset_t old;
	mask_enter(mask, &old);
	return mask_leave(mask, &old, select_mixed(nfds, rd, wr, ex, ts_ms(ts)));
}

/* ---- epoll ---- */

static struct pl_epoll *ep_of(int epfd, bool create)
{
	if (epfd < 0 || epfd >= PL_MAX_FD)
		return NULL;
	struct pl_epoll *e = (struct pl_epoll *)pl.ep[epfd];
	if (!e && create) {
		e = calloc(1, sizeof(*e));
		pl.ep[epfd] = e;
	}
	return e;
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s) {
		int r = pl_real.epoll_ctl(epfd, op, fd, ev);
		if (r == 0 && (op == EPOLL_CTL_ADD || op == EPOLL_CTL_DEL)) {
			LOCK();
			struct pl_epoll *e = ep_of(epfd, true);
			if (e)
				e->kernel_fds += op == EPOLL_CTL_ADD ? 1 : -1;
			UNLOCK();
		}
		return r;
	}
	LOCK();
	struct pl_epoll *e = ep_of(epfd, true);
	int idx = -1;
	for (int i = 0; e && i < e->n; i++)
		if (e->e[i].fd == fd && e->e[i].sock == s)
			idx = i;
	int rc = 0;
	if (!e) {
		errno = ENOMEM;
		rc = -1;
	} else if (op == EPOLL_CTL_ADD) {
		if (idx >= 0) {
			errno = EEXIST;
			rc = -1;
		} else if (!ev) {
			errno = EFAULT;
			rc = -1;
		} else {
			if (e->n == e->cap) {
				int cap = e->cap ? e->cap * 2 : 16;
				struct pl_epoll_entry *ne = realloc(e->e, sizeof(*ne) * (size_t)cap);
				if (!ne) {
					UNLOCK();
					errno = ENOMEM;
					return -1;
				}
				e->e = ne;
				e->cap = cap;
			}
			e->e[e->n++] = (struct pl_epoll_entry){.fd = fd, .sock = s, .ev = *ev,
							       .rd_gen = pl_gen(&s->rd_gen), .wr_gen = pl_gen(&s->wr_gen)};
		}
	} else if (op == EPOLL_CTL_MOD) {
		if (idx < 0 || !ev) {
			errno = idx < 0 ? ENOENT : EFAULT;
			rc = -1;
		} else if ((ev->events | e->e[idx].ev.events) & EPOLLEXCLUSIVE) {
			errno = EINVAL; /* Linux's rule: an exclusive entry is never modified */
			rc = -1;
		} else {
			e->e[idx].ev = *ev;
			e->e[idx].last = 0; /* re-arms edge and one-shot */
		}
	} else if (op == EPOLL_CTL_DEL) {
		if (idx < 0) {
			errno = ENOENT;
			rc = -1;
		} else {
			e->e[idx] = e->e[--e->n];
		}
	} else {
		errno = EINVAL;
		rc = -1;
	}
	UNLOCK();
	return rc;
}

/* Stack events of one epoll set, up to max. With pl.mu. */
static int ep_collect(struct pl_epoll *e, struct epoll_event *out, int max)
{
	int n = 0;
	for (int i = 0; i < e->n && n < max;) {
		struct pl_epoll_entry *x = &e->e[i];
		if (pl_sock_of(x->fd) != x->sock) {
			/* Closed (the kernel drops a closed fd from its sets). */
			*x = e->e[--e->n];
			continue;
		}
		uint32_t want = x->ev.events | EPOLLERR | EPOLLHUP;
		uint32_t r = pl_readiness(x->sock) & want & ~(uint32_t)POLLNVAL;
		uint32_t fire = r;
		if ((x->ev.events & EPOLLET) && x->last != UINT32_MAX) {
			/* A read or accept that found nothing (or drained the
			 * ring), a write that filled it: that direction went away
			 * though no look here saw it, and its return is a new
			 * edge (Linux fires on every arrival). Without this, nginx
			 * writing until EAGAIN never heard of the space the ACKs
			 * freed before its next epoll_wait, and stalled. */
			uint32_t rg = pl_gen(&x->sock->rd_gen), wg = pl_gen(&x->sock->wr_gen);
			if (rg != x->rd_gen)
				x->last &= ~(uint32_t)(EPOLLIN | EPOLLRDNORM);
			if (wg != x->wr_gen)
				x->last &= ~(uint32_t)(EPOLLOUT | EPOLLWRNORM);
			x->rd_gen = rg;
			x->wr_gen = wg;
			fire = r & ~x->last;
			x->last = r;
		}
		if ((x->ev.events & EPOLLONESHOT) && x->last == UINT32_MAX)
			fire = 0;
		if (fire) {
			out[n].events = fire;
			out[n].data = x->ev.data;
			n++;
			if (x->ev.events & EPOLLONESHOT)
				x->last = UINT32_MAX; /* disabled until EPOLL_CTL_MOD */
		}
		i++;
	}
	return n;
}

/* The set's private sleeping instance, made at its first sleep. */
static int set_wake_ep(int epfd, int wake_fd)
{
	LOCK();
	struct pl_epoll *e = ep_of(epfd, false);
	int ep = -1;
	if (e && e->sleep_ep > 0) {
		ep = e->sleep_ep - 1;
	} else if (e) {
		ep = wake_ep_new(wake_fd, epfd);
		if (ep >= 0)
			e->sleep_ep = ep + 1;
	}
	UNLOCK();
	return ep;
}

static int epoll_mixed(int epfd, struct epoll_event *evs, int max, int timeout_ms)
{
	uint64_t start = pl_now_ns(), now = start, deadline = deadline_of(timeout_ms, start), spin_ns = pl_spin_ns();
	/* The kernel set is asked (a syscall) at the first round, then every
	 * PL_KERNEL_LOOK_NS while spinning, and after a sleep only if the set
	 * woke it: a spin is stack polls from host memory, not syscalls. A
	 * round with no stack event that goes to sleep next does not ask: the
	 * sleep watches the set (level-triggered), so it is the look. A server
	 * one request at a time (the spin policy sleeps at once) makes one
	 * kernel call per wait, the sleep, not three (make bench-apps, redis
	 * at 1 client: 3 epoll_wait per request before). */
	bool look_kernel = true, first = true, on_stack = mixed_wait_on_stack();
	bool set_readable = false; /* the sleep saw the set readable: ask it, whatever comes next */
	bool now_fresh = true;     /* `now` was read just now (the start, or the end of a sleep) */
	uint64_t kernel_seen = 0;
	for (;;) {
		if (!now_fresh)
			now = pl_now_ns(); /* the round's one clock reading */
		now_fresh = false;
		LOCK();
		struct pl_epoll *e = ep_of(epfd, false);
		int got = pl.host ? pl_drain() : 0;
		/* While spinning, a round whose drain took no event skips the walk
		 * over the set (pl_readiness of every entry: 22% of redis-server's
		 * samples at 50 clients): bt_poll reports a connection's changes
		 * as events. The first round, the last before a sleep and every
		 * one after a sleep walk it, so readiness another thread's drain
		 * took, or a change without an event, waits at most the spin,
		 * never past a sleep. */
		bool spin_over = now - start >= spin_ns;
		bool skip = !first && got == 0 && !spin_over, was_first = first;
		first = false;
		int n = e && pl.host && !skip ? ep_collect(e, evs, max) : 0;
		int kfds = e ? e->kernel_fds : 1;
		bool ours = e && e->n > 0;
		UNLOCK();
		/* The sleep on the set and the wakeup descriptor comes next (a
		 * sleep on the channel alone, or a call past its deadline, asks). */
		bool sleep_looks = n == 0 && spin_over && ours && !on_stack && timeout_ms != 0 && now < deadline;
		if (n < max && kfds > 0 &&
		    (set_readable || (!sleep_looks && (look_kernel || now - kernel_seen >= PL_KERNEL_LOOK_NS)))) {
			look_kernel = set_readable = false;
			kernel_seen = now;
			int k = pl_real.epoll_wait(epfd, evs + n, max - n, 0);
			if (k > 0)
				n += k;
			else if (k < 0 && n == 0)
				return -1;
		}
		if (n && !was_first)
			pl_spin_learn(now - start);
		/* The deadline by this round's reading: a wait that passes it
		 * during the round ends at the next one (one spin round or one
		 * sleep bounded by what was left later). */
		if (n || timeout_ms == 0 || now >= deadline)
			return n;
		if (chan_signal_pending()) { /* as in poll_mixed */
			errno = EINTR;
			return -1;
		}
		if (!ours)
			return pl_real.epoll_wait(epfd, evs, max, remaining_ms(deadline, UINT64_MAX / 2, now));
		if (!spin_over)
			continue;
		if (kfds <= 0 || on_stack) {
			if (pl_sleep_on_stack(deadline == UINT64_MAX ? UINT64_MAX : deadline - now, kfds <= 0 ? PL_WAKE_FD_CAP_NS : PL_SLICE_NS) < 0)
				return -1; /* EINTR */
			set_readable = true;
			continue;
		}
		int wake_fd, armed = pl_wake_arm(&wake_fd);
		look_kernel = true;
		if (armed == 0)
			continue; /* something arrived meanwhile */
		int sep = armed > 0 ? set_wake_ep(epfd, wake_fd) : -1;
		if (sep >= 0) {
			/* One sleep on everything: the set's kernel descriptors (the
			 * set is readable) and the stack (the wakeup edge). What
			 * woke it is collected by the next round. */
			struct epoll_event ev[3]; /* the set, the wakeup edge, intr_fd's edge */
			int k = guarded_epoll_wait(sep, ev, 3, remaining_ms(deadline, PL_WAKE_FD_CAP_NS, now));
			int saved = errno;
			pl_wake_done();
			if (k < 0) {
				errno = saved;
				return -1;
			}
			/* The sleep watched the set until it returned: ask it again
			 * only if it was readable, or PL_KERNEL_LOOK_NS from now. */
			set_readable = false;
			for (int i = 0; i < k; i++)
				set_readable = set_readable || ev[i].data.fd == epfd;
			look_kernel = false;
			now = kernel_seen = pl_now_ns(); /* also the next round's reading */
			now_fresh = true;
			continue;
		}
		if (armed > 0)
			pl_wake_done();
		int k = pl_real.epoll_wait(epfd, evs, max, remaining_ms(deadline, PL_SLICE_NS, now));
		if (k != 0)
			return k; /* kernel events (or an error): ours get their turn next call */
	}
}

EXPORT int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout_ms)
{
	struct pl_epoll *e = epfd >= 0 && epfd < PL_MAX_FD ? (struct pl_epoll *)pl.ep[epfd] : NULL;
	if (!e || e->n == 0 || max <= 0)
		return pl_real.epoll_wait(epfd, evs, max, timeout_ms);
	chan_signal_take(); /* handlers that ran before the call */
	return epoll_mixed(epfd, evs, max, timeout_ms);
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout_ms, const sigset_t *mask)
{
	struct pl_epoll *e = epfd >= 0 && epfd < PL_MAX_FD ? (struct pl_epoll *)pl.ep[epfd] : NULL;
	if (!e || e->n == 0 || max <= 0)
		return pl_real.epoll_pwait(epfd, evs, max, timeout_ms, mask);
	sigset_t old;
	mask_enter(mask, &old);
	return mask_leave(mask, &old, epoll_mixed(epfd, evs, max, timeout_ms));
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *evs, int max, const struct timespec *ts, const sigset_t *mask)
{
	struct pl_epoll *e = epfd >= 0 && epfd < PL_MAX_FD ? (struct pl_epoll *)pl.ep[epfd] : NULL;
	if (!e || e->n == 0 || max <= 0) {
		if (!pl_real.epoll_pwait2) {
			errno = ENOSYS;
			return -1;
		}
		return pl_real.epoll_pwait2(epfd, evs, max, ts, mask);
	}
	sigset_t old;
	mask_enter(mask, &old);
	return mask_leave(mask, &old, epoll_mixed(epfd, evs, max, ts_ms(ts))); /* to the millisecond, rounded up */
}

/* epoll_create/epoll_create1 go to libc: the set is a kernel epoll fd
 * (for the kernel descriptors in it); our entries hang off its number.
 * A stale table from a closed epoll fd of the same number is cleared. */
static int ep_fresh(int fd)
{
	if (fd >= 0 && fd < PL_MAX_FD) {
		LOCK();
		struct pl_epoll *e = (struct pl_epoll *)pl.ep[fd];
		if (e) {
			if (e->sleep_ep > 0)
				pl_real.close(e->sleep_ep - 1);
			free(e->e);
			free(e);
			pl.ep[fd] = NULL;
		}
		UNLOCK();
	}
	return fd;
}

EXPORT int epoll_create(int size) { return ep_fresh(pl_real.epoll_create(size)); }
EXPORT int epoll_create1(int flags) { return ep_fresh(pl_real.epoll_create1(flags)); }
