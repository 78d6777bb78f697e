/*
 * pl_fork.c: stack connections across fork, through a relay in the parent.
 *
 * A child of fork shares the parent's host region but not its channel, so
 * it cannot drive the parent's connections itself. Instead, at fork, every
 * connected stack socket of the parent becomes, in the child, one end of a
 * kernel AF_UNIX stream socketpair under the same descriptor number(s)
 * (its O_NONBLOCK and the program's close-on-exec wish kept); the parent
 * keeps the other end, and a relay thread in the parent copies bytes
 * between it and the stack connection. The child's socket is then a real
 * kernel socket: it survives exec (inetd-style dup2 onto 0/1/2, socat
 * fork, sshd, rsync --daemon) and works with every call, intercepted or
 * not (sendfile, splice, poll, ...).
 *
 * Who reads: the parent keeps its own descriptors, and both processes
 * reading one connection would race for its bytes. The relay moves bytes
 * from the stack to the child only once the parent has closed every name
 * of its own for the connection (the fork-and-close server: the child
 * owns it then); until then the parent alone reads, and a child that only
 * closes its copies (a helper, a BGSAVE) takes nothing from it. What the
 * child writes goes out at once, as on Linux.
 *
 * Ends: the child's copies all closed (POLLHUP on the parent's end): the
 * relay drops its reference (the connection closes when the parent's are
 * gone too, as Linux's close does); the child shut its write side only
 * (EOF without POLLHUP): shutdown(SHUT_WR) on the connection, and the
 * relay goes on carrying the other way. End of stream or an error from
 * the stack: the child's end is shut for writing (it reads EOF).
 *
 * Listeners (and connects still under way) are not relayed: a child's
 * copy stays dead (EBADF, one log line), so pre-forked servers that
 * accept in their children do not work. Each fork costs a socketpair per
 * connection the parent holds; one the kernel refuses (descriptor limit)
 * leaves that socket dead in the child.
 */
#define _GNU_SOURCE
#include "pl_internal.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define RELAY_BUF 65536

struct pl_relay {
	struct pl_relay *next;
	struct pl_sock *s;
	int sfd;          /* the relay's own name for the stack socket (holds a reference) */
	int ufd;          /* the parent's end of the socketpair (non-blocking) */
	int child_end;    /* the child's end, between prepare and the fork's return */
	bool child_eof;   /* the child's end read EOF: shut or closed */
	bool child_hup;   /* every copy of the child's end closed */
	bool stack_eof, stack_err, stack_shut, child_shut;
	uint64_t moved_ns; /* when a byte last went either way (pl_now_ns) */
	uint32_t to_child_len, to_child_off, to_stack_len, to_stack_off;
	uint8_t to_child[RELAY_BUF], to_stack[RELAY_BUF];
};

/* With pl.mu: the relays running (in the parent), those the fork under
 * way is making (prepare to the parent and child handlers), which
 * descriptors are relays' own names, and the relay thread's wakeup. */
static struct pl_relay *relays, *pending;
static bool relay_name[PL_MAX_FD];
static int wake_fd = -1;
static bool thread_started;
static bool parent_exiting; /* the parent reads no more: every child owns its connections */
static bool exit_fin;       /* the parent exits now: FIN every relayed connection */

static void kick(void)
{
	uint64_t one = 1;
	if (wake_fd >= 0 && pl_real.write(wake_fd, &one, sizeof(one)) < 0) {
		/* counter full: a wakeup is pending anyway */
	}
}

void pl_relay_sock_released(struct pl_sock *s)
{
	/* The parent closed a name of s: with only relays left holding it,
	 * the child reads from now on. With pl.mu. */
	if (s->relays && s->refs == s->relays)
		kick();
}

/* One round of copying for r once poll said what is ready; true when the
 * relay is done. Without pl.mu: the socket calls take it. */
static bool relay_step(struct pl_relay *r, short srev, short urev, bool owns)
{
	if (urev & POLLHUP)
		r->child_hup = true;
	/* child -> stack: always, as a child's write goes out on Linux */
	if (!r->child_eof && r->to_stack_len < RELAY_BUF && (urev & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = pl_real.recv(r->ufd, r->to_stack + r->to_stack_len, RELAY_BUF - r->to_stack_len, MSG_DONTWAIT);
		if (n > 0) {
			r->to_stack_len += (uint32_t)n;
			__atomic_store_n(&r->moved_ns, pl_now_ns(), __ATOMIC_RELAXED);
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			r->child_eof = true;
		}
	}
	if (r->to_stack_len > r->to_stack_off && !r->stack_err) {
		ssize_t n = send(r->sfd, r->to_stack + r->to_stack_off, r->to_stack_len - r->to_stack_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			r->to_stack_off += (uint32_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			r->stack_err = true;
	}
	if (r->to_stack_off == r->to_stack_len || r->stack_err)
		r->to_stack_off = r->to_stack_len = 0;
	/* stack -> child: only while the child owns the connection */
	if (owns && !r->stack_eof && !r->stack_err && r->to_child_len < RELAY_BUF && (srev & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = recv(r->sfd, r->to_child + r->to_child_len, RELAY_BUF - r->to_child_len, MSG_DONTWAIT);
		if (n > 0) {
			r->to_child_len += (uint32_t)n;
			__atomic_store_n(&r->moved_ns, pl_now_ns(), __ATOMIC_RELAXED);
		} else if (n == 0) {
			r->stack_eof = true;
		}
		else if (errno != EAGAIN && errno != EINTR)
			r->stack_err = true;
	}
	if (r->to_child_len > r->to_child_off && !r->child_hup) {
		ssize_t n = pl_real.send(r->ufd, r->to_child + r->to_child_off, r->to_child_len - r->to_child_off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			r->to_child_off += (uint32_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			r->child_hup = true; /* EPIPE: the child's end is gone */
	}
	if (r->to_child_off == r->to_child_len || r->child_hup)
		r->to_child_off = r->to_child_len = 0;
	/* ends */
	if (__atomic_load_n(&exit_fin, __ATOMIC_ACQUIRE) && !r->stack_shut && !r->stack_err) {
		shutdown(r->sfd, SHUT_WR); /* a FIN before the exit's detach resets it */
		r->stack_shut = true;
	}
	if (r->child_eof && r->to_stack_len == 0) {
		if (r->child_hup)
			return true; /* every copy in the child closed: drop our reference */
		if (!r->stack_shut && !r->stack_err) {
			shutdown(r->sfd, SHUT_WR); /* the child shut its write side */
			r->stack_shut = true;
		}
	}
	if ((r->stack_eof || r->stack_err) && r->to_child_len == 0 && !r->child_shut) {
		pl_real.shutdown(r->ufd, SHUT_WR); /* the child reads end of stream */
		r->child_shut = true;
	}
	return false;
}

static void *relay_main(void *arg)
{
	(void)arg;
	struct pollfd *pf = NULL;
	struct pl_relay **rs = NULL;
	bool *owns = NULL;
	size_t cap = 0;
	for (;;) {
		pthread_mutex_lock(&pl.mu);
		size_t n = 0;
		for (struct pl_relay *r = relays; r; r = r->next)
			n++;
		if (n + 1 > cap) {
			cap = 2 * (n + 1);
			pf = realloc(pf, (2 * cap + 1) * sizeof(*pf));
			rs = realloc(rs, cap * sizeof(*rs));
			owns = realloc(owns, cap * sizeof(*owns));
			if (!pf || !rs || !owns)
				abort(); /* no memory for a few pointers: the relay cannot go on */
		}
		pf[0] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
		size_t i = 0;
		for (struct pl_relay *r = relays; r; r = r->next, i++) {
			rs[i] = r;
			owns[i] = parent_exiting || r->s->refs == r->s->relays;
			short se = 0, ue = 0;
			if (r->to_stack_len)
				se |= POLLOUT;
			if (owns[i] && !r->stack_eof && !r->stack_err && r->to_child_len < RELAY_BUF)
				se |= POLLIN;
			if (!r->child_eof && r->to_stack_len < RELAY_BUF)
				ue |= POLLIN;
			if (r->to_child_len)
				ue |= POLLOUT;
			/* Not asked, a stack socket's HUP would still be reported
			 * and spin us: leave it out then. */
			pf[1 + 2 * i] = (struct pollfd){.fd = se ? r->sfd : -1, .events = se};
			pf[2 + 2 * i] = (struct pollfd){.fd = r->ufd, .events = ue};
		}
		pthread_mutex_unlock(&pl.mu);
		if (poll(pf, (nfds_t)(2 * n + 1), 1000) < 0) /* ours: stack and kernel descriptors together */
			continue;
		if (pf[0].revents) {
			uint64_t v;
			if (pl_real.read(wake_fd, &v, sizeof(v)) < 0) {
				/* nothing to take: the next round looks anyway */
			}
		}
		for (i = 0; i < n; i++) {
			struct pl_relay *r = rs[i];
			if (!relay_step(r, pf[1 + 2 * i].revents, pf[2 + 2 * i].revents, owns[i]))
				continue;
			pthread_mutex_lock(&pl.mu);
			for (struct pl_relay **p = &relays; *p; p = &(*p)->next)
				if (*p == r) {
					*p = r->next;
					break;
				}
			r->s->relays--;
			relay_name[r->sfd] = false;
			bool fin = parent_exiting && !r->stack_shut && !r->stack_err;
			pthread_mutex_unlock(&pl.mu);
			if (fin) /* the parent's own names never close now: end the stream here */
				shutdown(r->sfd, SHUT_WR);
			pl_real.close(r->ufd);
			close(r->sfd); /* ours: the reference goes, with the last one the connection closes */
			free(r);
		}
	}
	return NULL;
}

/* Before fork, in the forking thread: takes pl.mu (the parent and child
 * handlers release it) and makes a socketpair for every connected stack
 * socket the parent names. */
void pl_fork_prepare(void)
{
	pthread_mutex_lock(&pl.mu);
	pending = NULL;
	if (!pl.host)
		return;
	for (int fd = 0; fd < PL_MAX_FD; fd++) {
		struct pl_sock *s = pl.fds[fd];
		if (!s || s->forked || s->kind != PL_CONN || s->pending_relay || relay_name[fd])
			continue;
		int sv[2];
		struct pl_relay *r = malloc(sizeof(*r));
		if (!r)
			break;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			free(r);
			pl_log_once("relay", "fork: no socketpair for a TCP socket (%s): the child's copy is dead (EBADF)",
				    strerror(errno));
			break;
		}
		memset(r, 0, offsetof(struct pl_relay, to_child));
		r->s = s;
		r->ufd = sv[0];
		r->child_end = sv[1];
		r->sfd = -1;
		s->pending_relay = r;
		r->next = pending;
		pending = r;
	}
}

/* In the parent after fork: the relays start. */
void pl_fork_parent(void)
{
	bool any = false;
	while (pending) {
		struct pl_relay *r = pending;
		pending = r->next;
		r->s->pending_relay = NULL;
		pl_real.close(r->child_end);
		int fl = pl_real.fcntl(r->ufd, F_GETFL);
		pl_real.fcntl(r->ufd, F_SETFL, fl | O_NONBLOCK);
		r->sfd = pl_new_fd(r->s, true);
		if (r->sfd < 0) { /* the child reads EOF on its copy */
			pl_real.close(r->ufd);
			free(r);
			continue;
		}
		relay_name[r->sfd] = true;
		r->s->relays++;
		r->next = relays;
		relays = r;
		any = true;
	}
	if (any && !thread_started) {
		wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		/* The relay takes no signal of the program's: block all in it. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		thread_started = pthread_create(&t, &at, relay_main, NULL) == 0;
		pthread_attr_destroy(&at);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!thread_started)
			pl_log_once("relaythr", "fork: no relay thread: the child's TCP sockets get no bytes");
	}
	pthread_mutex_unlock(&pl.mu);
	if (any)
		kick();
}

/* In the child after fork (pl.mu re-made by the caller): the parent's
 * relays are not ours; each connected socket becomes the child's end of
 * its socketpair under the same numbers.
 */
void pl_fork_child(void)
{
	for (struct pl_relay *r = relays, *nx; r; r = nx) {
		nx = r->next;
		pl_real.close(r->ufd);
		pl_real.close(r->sfd);
		pl.fds[r->sfd] = NULL;
		relay_name[r->sfd] = false;
		free(r);
	}
	relays = NULL;
	if (wake_fd >= 0)
		pl_real.close(wake_fd);
	wake_fd = -1;
	thread_started = false;
	for (struct pl_relay *r = pending; r; r = r->next)
		if (r->s->nonblock) {
			int fl = pl_real.fcntl(r->child_end, F_GETFL);
			pl_real.fcntl(r->child_end, F_SETFL, fl | O_NONBLOCK);
		}
	for (int fd = 0; fd < PL_MAX_FD; fd++) {
		struct pl_sock *s = pl.fds[fd];
		if (!s || !s->pending_relay)
			continue;
		pl_real.dup2(s->pending_relay->child_end, fd);
		pl_real.fcntl(fd, F_SETFD, pl.fd_cloexec[fd] ? FD_CLOEXEC : 0);
		pl.fds[fd] = NULL;
	}
	while (pending) {
		struct pl_relay *r = pending;
		pending = r->next;
		pl_real.close(r->child_end);
		pl_real.close(r->ufd);
		free(r->s); /* no name of the child's holds it any more */
		free(r);
	}
}

/* The relays live in the parent: if it exits while a child still uses a
 * connection, the daemon detaches it and resets the connection. So a
 * parent leaving through exit() first carries its children's relayed
 * connections both ways (its own names no longer read) for as long as
 * bytes move on one of them (a quiet spell of PL_RELAY_QUIET_NS ends the
 * wait, or of PL_RELAY_STUCK_NS while bytes are held: a peer that never
 * reads must not keep the program from exiting); then each connection still relayed gets a FIN before the exit
 * resets it. Waiting on for a quiet one would deadlock a child that holds
 * an inherited copy it never uses and waits for the parent's death
 * itself: ncat -l --exec's cat (the parent relays through pipes, cat holds
 * the socket's copy and waits for the pipe to close) hung so. _exit and a
 * fatal signal cannot wait: those connections are reset at once. */
#define PL_RELAY_QUIET_NS 300000000ull
#define PL_RELAY_STUCK_NS 5000000000ull
__attribute__((destructor)) static void pl_fork_exit_wait(void)
{
	pthread_mutex_lock(&pl.mu);
	bool any = relays != NULL && thread_started;
	if (any)
		parent_exiting = true;
	pthread_mutex_unlock(&pl.mu);
	if (!any)
		return;
	kick();
	uint64_t start = pl_now_ns();
	bool stuck = false;
	for (;;) {
		bool busy = false;
		pthread_mutex_lock(&pl.mu);
		uint64_t now = pl_now_ns();
		for (struct pl_relay *r = relays; r; r = r->next) {
			uint64_t moved = __atomic_load_n(&r->moved_ns, __ATOMIC_RELAXED);
			if (moved < start)
				moved = start;
			/* Bytes held with nowhere to go (a peer that stopped
			 * reading) keep the exit waiting PL_RELAY_STUCK_NS at most. */
			bool held = r->to_stack_len || r->to_child_len;
			if (now - moved < (held ? PL_RELAY_STUCK_NS : PL_RELAY_QUIET_NS))
				busy = true;
			else if (held)
				stuck = true;
		}
		pthread_mutex_unlock(&pl.mu);
		if (!busy)
			break;
		stuck = false;
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	if (stuck)
		pl_log_once("relaystuck", "fork: the parent exits with relayed bytes its peer never took: "
					  "those connections are reset, not finished");
	/* The relay thread sends the FINs (their descriptors are its own). */
	__atomic_store_n(&exit_fin, true, __ATOMIC_RELEASE);
	kick();
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
}
