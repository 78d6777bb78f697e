/*
 * pl_sock.c: the socket calls. Each checks the fd table first: a
 * descriptor that is not a stack socket goes to libc at once.
 */
#define _GNU_SOURCE
#include "pl_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define LOCK() pthread_mutex_lock(&pl.mu)
#define UNLOCK() pthread_mutex_unlock(&pl.mu)

/* A stack socket a child inherited, or one whose context is gone. */
static int forked_fail(const char *call)
{
	pl_log_once("forked", "%s on a TCP socket inherited across fork: EBADF (stack sockets stay with the parent)",
		    call);
	return pl_fail(EBADF);
}

static bool is_stack_socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	return domain == AF_INET && base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP);
}

EXPORT int socket(int domain, int type, int protocol)
{
	if (!is_stack_socket(domain, type, protocol))
		return pl_real.socket(domain, type, protocol);
	LOCK();
	int fd = -1;
	if (pl_ensure_host() == 0) {
		struct pl_sock *s = calloc(1, sizeof(*s));
		if (!s) {
			errno = ENOMEM;
		} else {
			s->id = -1;
			s->nonblock = (type & SOCK_NONBLOCK) != 0;
			fd = pl_new_fd(s, (type & SOCK_CLOEXEC) != 0);
			if (fd < 0)
				free(s);
		}
	}
	UNLOCK();
	return fd;
}

EXPORT int bind(int fd, const struct sockaddr *a, socklen_t len)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s && !(s = pl_adopt_dual(fd, a, len, false)))
		return pl_real.bind(fd, a, len);
	if (s->forked)
		return forked_fail("bind");
	struct bt_addr b;
	if (pl_addr_in(s, a, len, &b) < 0)
		return -1;
	if (s->kind != PL_NEW || s->bound)
		return pl_fail(EINVAL);
	s->local = b;
	s->bound = true;
	return 0;
}

EXPORT int listen(int fd, int backlog)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.listen(fd, backlog);
	if (s->forked)
		return forked_fail("listen");
	if (s->kind == PL_LISTEN)
		return 0;
	if (s->kind != PL_NEW)
		return pl_fail(EINVAL);
	if (!s->bound || s->local.port == 0) {
		pl_log_once("listen0", "listen without a bound port: the stack has no ephemeral listen ports (EADDRNOTAVAIL)");
		return pl_fail(EADDRNOTAVAIL);
	}
	/* Accept slots come out of the connection slots: a backlog of more
	 * than a quarter of them is clamped (Linux clamps to somaxconn). */
	uint32_t cap = bt_host_max_conns(pl.host) / 4 ? bt_host_max_conns(pl.host) / 4 : 1;
	uint32_t bl = backlog < 1 ? 1 : (uint32_t)backlog > cap ? cap : (uint32_t)backlog;
	LOCK();
	int id = bt_listen_opts(pl.host, s->local.port, bl, &s->opts);
	UNLOCK();
	if (id < 0)
		return pl_fail(bt_errno(id));
	s->id = id;
	s->kind = PL_LISTEN;
	return 0;
}

/* Blocks until `want` (POLL* bits) or an error is ready on s, or the
 * timeout (0: none). 0, or -1 with errno EAGAIN on timeout, EINTR when a
 * signal handler installed without SA_RESTART interrupted the sleep.
 * pl.mu not held. */
static int block_for(struct pl_sock *s, uint32_t want, uint64_t timeout_ns)
{
	uint64_t start = pl_now_ns(), now = start, spin_ns = pl_spin_ns();
	bool has_timeout = timeout_ns != 0;
	pl_call_interrupted(false, has_timeout); /* handlers that ran before the call */
	for (bool first = true;; first = false) {
		if (!first)
			now = pl_now_ns(); /* the round's one clock reading (pl_poll.c) */
		LOCK();
		pl_drain();
		uint32_t r = pl_readiness(s);
		UNLOCK();
		if (r & (want | POLLERR | POLLHUP | POLLNVAL)) {
			if (!first)
				pl_spin_learn(now - start);
			return 0;
		}
		uint64_t spent = now - start;
		if (timeout_ns && spent >= timeout_ns)
			return pl_fail(EAGAIN);
		/* A handler that ran while we polled ends the call as one that
		 * ran in the sleep would: the kernel's call would have been
		 * asleep then. */
		if (pl_call_interrupted(false, has_timeout))
			return pl_fail(EINTR);
		if (spent < spin_ns)
			continue;
		bool woke_by_signal = pl_sleep_on_stack(timeout_ns ? timeout_ns - spent : UINT64_MAX, PL_WAKE_FD_CAP_NS) < 0;
		if (pl_call_interrupted(woke_by_signal, has_timeout))
			return pl_fail(EINTR); /* signal(7): no SA_RESTART, or a timeout */
	}
}

static int do_accept(int fd, struct sockaddr *a, socklen_t *len, int flags)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (s->forked)
		return forked_fail("accept");
	if (s->kind != PL_LISTEN)
		return pl_fail(EINVAL);
	for (;;) {
		LOCK();
		pl_drain();
		int id = bt_accept(pl.host, s->id);
		if (id >= 0) {
			struct pl_sock *c = calloc(1, sizeof(*c));
			int nfd = -1;
			if (c) {
				c->id = id;
				c->kind = PL_CONN;
				c->nonblock = (flags & SOCK_NONBLOCK) != 0;
				c->v6 = s->v6; /* a dual-stack listener's connections speak sockaddr_in6 too */
				/* What the NIC's flow inherited from the listener, as Linux's accept does. */
				c->so_keepalive = s->so_keepalive;
				c->keepidle = s->keepidle;
				c->keepintvl = s->keepintvl;
				c->keepcnt = s->keepcnt;
				bt_conn_addrs(pl.host, id, &c->local, &c->peer);
				nfd = pl_new_fd(c, (flags & SOCK_CLOEXEC) != 0);
			}
			if (nfd < 0) {
				bt_abort(pl.host, id);
				free(c);
				UNLOCK();
				return pl_fail(c ? errno : ENOMEM);
			}
			pl_addr_out(c, &c->peer, a, len);
			UNLOCK();
			return nfd;
		}
		UNLOCK();
		if (id != BT_EAGAIN)
			return pl_fail(bt_errno(id));
		pl_gen_bump(&s->rd_gen); /* an EPOLLET edge when the next one comes */
		if (s->nonblock)
			return pl_fail(EAGAIN);
		if (block_for(s, POLLIN, s->rcvtimeo_ns) < 0)
			return -1;
	}
}

EXPORT int accept(int fd, struct sockaddr *a, socklen_t *len)
{
	if (!pl_sock_of(fd))
		return pl_real.accept(fd, a, len);
	return do_accept(fd, a, len, 0);
}

EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *len, int flags)
{
	if (!pl_sock_of(fd))
		return pl_real.accept4(fd, a, len, flags);
	return do_accept(fd, a, len, flags);
}

/* A finished connect's outcome: 0, or the errno it failed with. */
static int connect_result(struct pl_sock *s)
{
	uint32_t err = 0;
	bt_getopt(pl.host, s->id, BT_OPT_ERROR, &err);
	if (err)
		return bt_errno(-(int)err);
	uint32_t r = bt_readiness(pl.host, s->id);
	if (r & BT_READY_OUT) {
		s->kind = PL_CONN;
		bt_conn_addrs(pl.host, s->id, &s->local, NULL);
		return 0;
	}
	if (r & BT_READY_HUP)
		return ECONNREFUSED;
	return EINPROGRESS;
}

EXPORT int connect(int fd, const struct sockaddr *a, socklen_t len)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s && !(s = pl_adopt_dual(fd, a, len, true)))
		return pl_real.connect(fd, a, len);
	if (s->forked)
		return forked_fail("connect");
	struct bt_addr to;
	if (pl_addr_in(s, a, len, &to) < 0)
		return -1;
	if (s->kind == PL_CONN)
		return pl_fail(EISCONN);
	if (s->kind == PL_CONNECTING) {
		LOCK();
		pl_drain();
		int e = connect_result(s);
		UNLOCK();
		return e == EINPROGRESS ? pl_fail(EALREADY) : e ? (s->kind = PL_DEAD, pl_fail(e)) : pl_fail(EISCONN);
	}
	if (s->kind != PL_NEW)
		return pl_fail(EINVAL);
	/* bind before connect: the bound port is the connection's (the bound
	 * address is the stack's own, whatever the program named). */
	LOCK();
	int id = s->bound && s->local.port ? bt_connect_from(pl.host, s->local.port, to.ip, to.port, &s->opts)
					   : bt_connect_opts(pl.host, to.ip, to.port, &s->opts);
	UNLOCK();
	if (id == BT_ENOMEM) {
		/* Every connection slot of the region is taken: a limit of
		 * ours, not the kernel's, so say which one. */
		pl_log_once("connslots", "connect: all %u connection slots are in use (BLUETAS_MAX_CONNS): ENOBUFS",
			    bt_host_max_conns(pl.host));
		return pl_fail(ENOBUFS);
	}
	if (id < 0)
		return pl_fail(bt_errno(id));
	s->id = id;
	s->peer = to;
	s->kind = PL_CONNECTING;
	if (s->nonblock)
		return pl_fail(EINPROGRESS);
	for (;;) {
		if (block_for(s, POLLOUT, s->sndtimeo_ns) < 0) /* EINTR: the connect goes on, as Linux's */
			return errno == EINTR ? -1 : pl_fail(ETIMEDOUT);
		LOCK();
		int e = connect_result(s);
		UNLOCK();
		if (e == 0)
			return 0;
		if (e != EINPROGRESS) {
			s->kind = PL_DEAD;
			return pl_fail(e);
		}
	}
}

static void raise_sigpipe(int flags)
{
	if (!(flags & MSG_NOSIGNAL))
		pthread_kill(pthread_self(), SIGPIPE);
}

/* I/O on a socket whose non-blocking connect may still be under way: a
 * blocking one waits for it (for `ev`, within timeout_ns); then the
 * connect's outcome decides: EAGAIN while it goes on, its error if it
 * failed. Returns 0 to go on with the I/O, -1 with errno set. */
static int settle_connect(struct pl_sock *s, short ev, uint64_t timeout_ns)
{
	if (s->kind != PL_CONNECTING)
		return 0;
	if (!s->nonblock && block_for(s, ev, timeout_ns) < 0 && errno == EINTR)
		return -1;
	if (s->kind != PL_CONNECTING)
		return 0;
	LOCK();
	int e = connect_result(s);
	UNLOCK();
	if (e == EINPROGRESS)
		return pl_fail(EAGAIN);
	return e ? pl_fail(e) : 0;
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	return total;
}

/* The send side: what write/send/sendto/sendmsg/writev come to. */
static ssize_t do_send(struct pl_sock *s, const struct iovec *iov, int iovcnt, int flags)
{
	if (s->forked)
		return forked_fail("send");
	if (settle_connect(s, POLLOUT, s->sndtimeo_ns) < 0)
		return -1;
	if (s->kind != PL_CONN)
		return pl_fail(s->kind == PL_DEAD ? EPIPE : ENOTCONN);
	if (s->shut_wr) {
		raise_sigpipe(flags);
		return pl_fail(EPIPE);
	}
	size_t total = iov_total(iov, iovcnt);
	if (total == 0)
		return 0;
	bool nb = s->nonblock || (flags & MSG_DONTWAIT);
	for (;;) {
		ssize_t sent = 0;
		int err = 0;
		LOCK();
		pl_drain();
		/* MSG_MORE is TCP_CORK for one call, as Linux has it: the
		 * partial segment waits for the next send, and the first send
		 * without the flag uncorks (pushes) unless TCP_CORK is on. */
		if ((flags & MSG_MORE) && !s->cork && !s->more_corked && bt_setopt(pl.host, s->id, BT_OPT_CORK, 1) == 0)
			s->more_corked = true;
		for (int i = 0; i < iovcnt; i++) {
			if (!iov[i].iov_len)
				continue;
			ssize_t n = bt_send(pl.host, s->id, iov[i].iov_base, iov[i].iov_len);
			if (n < 0) {
				if (n != BT_EAGAIN)
					err = (int)n;
				break;
			}
			sent += n;
			if ((size_t)n < iov[i].iov_len)
				break;
		}
		if (!(flags & MSG_MORE) && s->more_corked && (sent > 0 || err)) {
			bt_setopt(pl.host, s->id, BT_OPT_CORK, (uint32_t)(s->cork != 0));
			s->more_corked = false;
		}
		UNLOCK();
		if ((size_t)sent < total && !err)
			pl_gen_bump(&s->wr_gen); /* the ring is full: space coming back is an EPOLLET edge */
		if (sent > 0)
			return sent;
		if (err) {
			if (err == BT_EPIPE || err == BT_ECONNRESET)
				raise_sigpipe(flags);
			return pl_fail(bt_errno(err));
		}
		if (nb)
			return pl_fail(EAGAIN);
		if (block_for(s, POLLOUT, s->sndtimeo_ns) < 0)
			return -1;
	}
}

/* The receive side. */
static ssize_t do_recv(struct pl_sock *s, const struct iovec *iov, int iovcnt, int flags)
{
	if (s->forked)
		return forked_fail("recv");
	if (settle_connect(s, POLLIN, s->rcvtimeo_ns) < 0)
		return -1;
	if (s->kind != PL_CONN)
		return pl_fail(ENOTCONN);
	size_t total = iov_total(iov, iovcnt);
	if (total == 0)
		return 0;
	bool nb = s->nonblock || (flags & MSG_DONTWAIT);
	bool peek = flags & MSG_PEEK;
	for (;;) {
		ssize_t got = 0;
		int err = 0;
		LOCK();
		pl_drain();
		if (peek) {
			/* bt_peek leaves the bytes in the ring: no ring space
			 * freed, so the receive window does not move (a stash
			 * taken off the stack would open it). Several iovecs
			 * see one peek spread over them. */
			ssize_t n;
			if (iovcnt == 1) {
				n = bt_peek(pl.host, s->id, iov[0].iov_base, iov[0].iov_len);
			} else {
				size_t want = bt_rx_ready(pl.host, s->id);
				want = want < total ? want : total;
				uint8_t *tmp = malloc(want ? want : 1);
				n = tmp ? bt_peek(pl.host, s->id, tmp, want) : BT_ENOMEM;
				for (int i = 0, off = 0; n > 0 && i < iovcnt && off < n; i++) {
					size_t c = (size_t)(n - off) < iov[i].iov_len ? (size_t)(n - off) : iov[i].iov_len;
					memcpy(iov[i].iov_base, tmp + off, c);
					off += (int)c;
				}
				free(tmp);
			}
			if (n >= 0) {
				UNLOCK();
				return n; /* 0: end of stream */
			}
			if (n != BT_EAGAIN)
				err = (int)n;
		}
		for (int i = 0; i < iovcnt && !err && !peek; i++) {
			uint8_t *dst = iov[i].iov_base;
			size_t want = iov[i].iov_len, done = 0;
			ssize_t n = bt_recv(pl.host, s->id, dst, want);
			if (n > 0)
				done = (size_t)n;
			else if (n == 0 && got == 0) {
				UNLOCK();
				return 0; /* end of stream */
			} else if (n < 0 && n != BT_EAGAIN && got == 0)
				err = (int)n;
			got += (ssize_t)done;
			if (done < want)
				break;
		}
		UNLOCK();
		if ((size_t)got < total && !err)
			pl_gen_bump(&s->rd_gen); /* drained: the next bytes are an EPOLLET edge */
		if (got > 0)
			return got;
		if (err)
			return pl_fail(bt_errno(err));
		if (s->shut_rd)
			return 0;
		if (nb)
			return pl_fail(EAGAIN);
		if (block_for(s, POLLIN, s->rcvtimeo_ns) < 0)
			return -1;
	}
}

/* recv with MSG_WAITALL, as Linux's: a blocking call fills the whole
 * buffer, returning less only at end of stream, an error, a signal or
 * SO_RCVTIMEO (then what it has, or -1 when it has nothing). Without
 * blocking (O_NONBLOCK, MSG_DONTWAIT) or with MSG_PEEK the flag changes
 * nothing. Before, it returned whatever was there: a program reading a
 * fixed-size header with it got a short one. */
static ssize_t do_recv_flags(struct pl_sock *s, const struct iovec *iov, int iovcnt, int flags)
{
	if (!(flags & MSG_WAITALL) || (flags & MSG_PEEK) || (flags & MSG_DONTWAIT) || s->nonblock || iovcnt < 1)
		return do_recv(s, iov, iovcnt, flags);
	flags &= ~MSG_WAITALL;
	size_t total = iov_total(iov, iovcnt), got = 0;
	struct iovec *rest = malloc((size_t)iovcnt * sizeof(*rest));
	if (!rest)
		return pl_fail(ENOMEM);
	memcpy(rest, iov, (size_t)iovcnt * sizeof(*rest));
	int first = 0; /* rest[first..] is what is still to fill */
	while (got < total) {
		ssize_t n = do_recv(s, rest + first, iovcnt - first, flags);
		if (n <= 0) {
			if (n < 0 && got == 0) {
				free(rest);
				return -1;
			}
			break;
		}
		got += (size_t)n;
		for (size_t left = (size_t)n; left > 0 && first < iovcnt;) {
			size_t c = left < rest[first].iov_len ? left : rest[first].iov_len;
			rest[first].iov_base = (uint8_t *)rest[first].iov_base + c;
			rest[first].iov_len -= c;
			left -= c;
			if (rest[first].iov_len == 0)
				first++;
		}
		while (first < iovcnt && rest[first].iov_len == 0)
			first++;
	}
	free(rest);
	return (ssize_t)got;
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.read(fd, buf, n);
	struct iovec v = {buf, n};
	return do_recv(s, &v, 1, 0);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		abort();
	return read(fd, buf, n);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.write(fd, buf, n);
	struct iovec v = {(void *)buf, n};
	return do_send(s, &v, 1, 0);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct pl_sock *s = pl_sock_of(fd);
	return s ? do_recv(s, iov, cnt, 0) : pl_real.readv(fd, iov, cnt);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct pl_sock *s = pl_sock_of(fd);
	return s ? do_send(s, iov, cnt, 0) : pl_real.writev(fd, iov, cnt);
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.recv(fd, buf, n, flags);
	struct iovec v = {buf, n};
	return do_recv_flags(s, &v, 1, flags);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen)
		abort();
	return recv(fd, buf, n, flags);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *len)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.recvfrom(fd, buf, n, flags, a, len);
	struct iovec v = {buf, n};
	ssize_t r = do_recv_flags(s, &v, 1, flags);
	if (r >= 0 && a && len)
		pl_addr_out(s, &s->peer, a, len);
	return r;
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *a,
			      socklen_t *len)
{
	if (n > buflen)
		abort();
	return recvfrom(fd, buf, n, flags, a, len);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.recvmsg(fd, m, flags);
	ssize_t r = do_recv_flags(s, m->msg_iov, (int)m->msg_iovlen, flags);
	if (r >= 0) {
		if (m->msg_name)
			pl_addr_out(s, &s->peer, m->msg_name, &m->msg_namelen);
		m->msg_controllen = 0;
		m->msg_flags = 0;
	}
	return r;
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.send(fd, buf, n, flags);
	struct iovec v = {(void *)buf, n};
	return do_send(s, &v, 1, flags);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t len)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.sendto(fd, buf, n, flags, a, len);
	struct iovec v = {(void *)buf, n};
	return do_send(s, &v, 1, flags); /* the address of a connected TCP socket is ignored, as by Linux */
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.sendmsg(fd, m, flags);
	if (m->msg_controllen)
		pl_log_once("cmsg", "sendmsg with control data on a TCP socket: the control data is ignored");
	return do_send(s, m->msg_iov, (int)m->msg_iovlen, flags);
}

EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	struct pl_sock *s = pl_sock_of(out);
	if (!s)
		return pl_real.sendfile(out, in, off, count);
	/* Through a buffer: the stack's TX ring is host memory, not a
	 * kernel socket the page cache could be spliced into. */
	char buf[65536];
	size_t want = count < sizeof(buf) ? count : sizeof(buf);
	ssize_t n = off ? pread(in, buf, want, *off) : pl_real.read(in, buf, want);
	if (n <= 0)
		return n;
	struct iovec v = {buf, (size_t)n};
	ssize_t sent = do_send(s, &v, 1, 0);
	if (sent > 0) {
		if (off)
			*off += sent;
		else if (sent < n)
			lseek(in, sent - n, SEEK_CUR);
	} else if (!off) {
		lseek(in, -n, SEEK_CUR);
	}
	return sent;
}

EXPORT int shutdown(int fd, int how)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.shutdown(fd, how);
	if (s->forked)
		return forked_fail("shutdown");
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return pl_fail(EINVAL);
	if (s->kind == PL_LISTEN)
		return 0;
	if (s->kind != PL_CONN)
		return pl_fail(ENOTCONN);
	LOCK();
	int rc = bt_shutdown(pl.host, s->id, how == SHUT_RD ? BT_SHUT_RD : how == SHUT_WR ? BT_SHUT_WR : BT_SHUT_RDWR);
	UNLOCK();
	if (rc < 0)
		return pl_fail(bt_errno(rc));
	if (how != SHUT_WR)
		s->shut_rd = true;
	if (how != SHUT_RD)
		s->shut_wr = true;
	return 0;
}

EXPORT int close(int fd)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.close(fd);
	LOCK();
	__atomic_store_n(&pl.fds[fd], NULL, __ATOMIC_RELEASE);
	pl_sock_unref(s);
	UNLOCK();
	return pl_real.close(fd);
}

/* A kernel dup of the placeholder, then the table entry. */
static int dup_to(struct pl_sock *s, int newfd)
{
	if (newfd < 0)
		return -1;
	if (newfd >= PL_MAX_FD) {
		pl_real.close(newfd);
		return pl_fail(EMFILE);
	}
	int fdfl = pl_real.fcntl(newfd, F_GETFD); /* dup: off; F_DUPFD_CLOEXEC, dup3 O_CLOEXEC: on */
	LOCK();
	s->refs++;
	pl.fd_cloexec[newfd] = fdfl >= 0 && (fdfl & FD_CLOEXEC);
	__atomic_store_n(&pl.fds[newfd], s, __ATOMIC_RELEASE);
	UNLOCK();
	return newfd;
}

/* newfd is about to be replaced: a stack socket there loses a name. */
static void release(int newfd)
{
	struct pl_sock *o = pl_sock_of(newfd);
	if (!o)
		return;
	LOCK();
	__atomic_store_n(&pl.fds[newfd], NULL, __ATOMIC_RELEASE);
	pl_sock_unref(o);
	UNLOCK();
}

EXPORT int dup(int fd)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.dup(fd);
	return dup_to(s, pl_real.dup(fd));
}

EXPORT int dup2(int fd, int newfd)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (fd == newfd)
		return pl_real.dup2(fd, newfd);
	release(newfd);
	int r = pl_real.dup2(fd, newfd);
	return s && r >= 0 ? dup_to(s, r) : r;
}

EXPORT int dup3(int fd, int newfd, int flags)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (fd != newfd)
		release(newfd);
	int r = pl_real.dup3(fd, newfd, flags);
	return s && r >= 0 ? dup_to(s, r) : r;
}

static int do_fcntl(int (*real)(int, int, ...), int fd, int cmd, long arg)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return real(fd, cmd, arg);
	switch (cmd) {
	case F_GETFL:
		return O_RDWR | (s->nonblock ? O_NONBLOCK : 0);
	case F_SETFL:
		s->nonblock = (arg & O_NONBLOCK) != 0;
		return 0;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		return dup_to(s, real(fd, cmd, arg));
	case F_GETFD:
		/* The program's wish, not the placeholder's (always close-on-exec). */
		return pl.fd_cloexec[fd] ? FD_CLOEXEC : 0;
	case F_SETFD:
		pl.fd_cloexec[fd] = (arg & FD_CLOEXEC) != 0;
		return 0;
	default:
		/* F_GETFD/F_SETFD and the rest act on the placeholder. */
		return real(fd, cmd, arg);
	}
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return do_fcntl(pl_real.fcntl, fd, cmd, arg);
}

/* What programs built against glibc 2.28 or later call for fcntl (redis,
 * its tools): without it their O_NONBLOCK never reached us and a
 * non-blocking accept loop blocked for good. */
EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return do_fcntl(pl_real.fcntl64 ? pl_real.fcntl64 : pl_real.fcntl, fd, cmd, arg);
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.ioctl(fd, req, arg);
	if (req == FIOCLEX || req == FIONCLEX) {
		/* Python's set_inheritable asks these first: the wish is kept
		 * per name, the placeholder stays close-on-exec. */
		pl.fd_cloexec[fd] = req == FIOCLEX;
		return 0;
	}
	if (req == FIONBIO) {
		s->nonblock = *(int *)arg != 0;
		return 0;
	}
	/* FIONREAD is SIOCINQ: bytes to read. SIOCOUTQ (TIOCOUTQ): bytes
	 * written and not yet acked, what the TX ring still holds. */
	if (req == FIONREAD || req == SIOCOUTQ) {
		if (s->forked)
			return forked_fail("ioctl");
		if (s->kind == PL_LISTEN)
			return pl_fail(EINVAL); /* as Linux's for a listener */
		if (s->kind != PL_CONN) {
			*(int *)arg = 0;
			return 0;
		}
		LOCK();
		pl_drain();
		*(int *)arg = (int)(req == FIONREAD ? bt_rx_ready(pl.host, s->id) : bt_tx_queued(pl.host, s->id));
		UNLOCK();
		return 0;
	}
	pl_log_once("ioctl", "ioctl %#lx on a TCP socket is not supported: ENOTTY", req);
	return pl_fail(ENOTTY);
}

EXPORT int getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.getsockname(fd, a, len);
	if (!a || !len)
		return pl_fail(EFAULT);
	if (s->kind == PL_CONN || s->kind == PL_CONNECTING) {
		LOCK();
		bt_conn_addrs(pl.host, s->id, &s->local, NULL);
		UNLOCK();
	}
	pl_addr_out(s, &s->local, a, len);
	return 0;
}

EXPORT int getpeername(int fd, struct sockaddr *a, socklen_t *len)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.getpeername(fd, a, len);
	if (!a || !len)
		return pl_fail(EFAULT);
	if (s->kind != PL_CONN)
		return pl_fail(ENOTCONN);
	pl_addr_out(s, &s->peer, a, len);
	return 0;
}

static int opt_int(const void *v, socklen_t len, int *out)
{
	if (!v || len < sizeof(int))
		return pl_fail(EINVAL);
	memcpy(out, v, sizeof(int));
	return 0;
}

/* An option of the host library: on the connection, or kept for the SYN. */
static int set_bt_opt(struct pl_sock *s, enum bt_opt opt, uint32_t val)
{
	if (s->kind == PL_NEW) {
		bt_opts_set(&s->opts, opt, val);
		return 0;
	}
	if (s->kind != PL_CONN && s->kind != PL_CONNECTING && s->kind != PL_LISTEN)
		return 0;
	/* On a listener: inherited by the connections it accepts from now on. */
	LOCK();
	int rc = bt_setopt(pl.host, s->id, opt, val);
	UNLOCK();
	return rc < 0 ? pl_fail(rc == BT_EINVAL ? EINVAL : bt_errno(rc)) : 0;
}

EXPORT int setsockopt(int fd, int level, int name, const void *v, socklen_t len)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.setsockopt(fd, level, name, v, len);
	if (s->forked)
		return forked_fail("setsockopt");
	int x = 0;
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_REUSEADDR: return opt_int(v, len, &s->so_reuseaddr);
		case SO_REUSEPORT: return opt_int(v, len, &s->so_reuseport);
		case SO_OOBINLINE:
			/* The stack keeps no urgent data apart: it is inline
			 * whatever this says (telnet sets it and complained). */
			if (opt_int(v, len, &s->oobinline) < 0)
				return -1;
			if (!s->oobinline)
				pl_log_once("oobinline", "setsockopt SO_OOBINLINE 0: the stack delivers urgent data inline anyway");
			return 0;
		case SO_KEEPALIVE:
			if (opt_int(v, len, &x) < 0)
				return -1;
			s->so_keepalive = x != 0;
			return set_bt_opt(s, BT_OPT_KEEPALIVE, (uint32_t)s->so_keepalive);
		case SO_LINGER:
			if (!v || len < sizeof(struct linger))
				return pl_fail(EINVAL);
			memcpy(&s->linger, v, sizeof(s->linger));
			return 0;
		case SO_SNDBUF:
		case SO_RCVBUF:
			if (opt_int(v, len, &x) < 0)
				return -1;
			if (x < 1)
				x = 1;
			*(name == SO_SNDBUF ? &s->sndbuf : &s->rcvbuf) = x;
			/* A size beyond the per-connection ring is clamped to it,
			 * as Linux clamps to wmem_max/rmem_max: no error. */
			if (set_bt_opt(s, name == SO_SNDBUF ? BT_OPT_SNDBUF : BT_OPT_RCVBUF, (uint32_t)x) < 0) {
				uint32_t ring = (uint32_t)(getenv("BLUETAS_RING_BYTES") ? strtoul(getenv("BLUETAS_RING_BYTES"), NULL, 0)
											 : 128 * 1024);
				set_bt_opt(s, name == SO_SNDBUF ? BT_OPT_SNDBUF : BT_OPT_RCVBUF, ring);
			}
			return 0;
		case SO_RCVTIMEO:
		case SO_SNDTIMEO: {
			if (!v || len < sizeof(struct timeval))
				return pl_fail(EINVAL);
			struct timeval tv;
			memcpy(&tv, v, sizeof(tv));
			uint64_t ns = (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
			*(name == SO_RCVTIMEO ? &s->rcvtimeo_ns : &s->sndtimeo_ns) = ns;
			return 0;
		}
		}
	} else if (level == IPPROTO_TCP) {
		switch (name) {
		case TCP_NODELAY:
			if (opt_int(v, len, &s->nodelay) < 0)
				return -1;
			return set_bt_opt(s, BT_OPT_NODELAY, s->nodelay != 0);
		case TCP_MAXSEG:
			if (opt_int(v, len, &s->maxseg) < 0)
				return -1;
			return set_bt_opt(s, BT_OPT_MAXSEG, (uint32_t)s->maxseg);
		case TCP_CORK:
			if (opt_int(v, len, &s->cork) < 0)
				return -1;
			s->more_corked = false; /* TCP_CORK decides from now on */
			return set_bt_opt(s, BT_OPT_CORK, s->cork != 0);
		case TCP_KEEPIDLE:
		case TCP_KEEPINTVL:
		case TCP_KEEPCNT: {
			/* Linux's limits: seconds 1..32767, probes 1..127. */
			if (opt_int(v, len, &x) < 0)
				return -1;
			int max = name == TCP_KEEPCNT ? (int)BT_KEEPCNT_MAX : (int)BT_KEEPIDLE_MAX_S;
			if (x < 1 || x > max)
				return pl_fail(EINVAL);
			enum bt_opt o = name == TCP_KEEPIDLE ? BT_OPT_KEEPIDLE : name == TCP_KEEPINTVL ? BT_OPT_KEEPINTVL : BT_OPT_KEEPCNT;
			*(name == TCP_KEEPIDLE ? &s->keepidle : name == TCP_KEEPINTVL ? &s->keepintvl : &s->keepcnt) = x;
			return set_bt_opt(s, o, (uint32_t)x);
		}
		case TCP_CONGESTION:
			/* The NIC runs one algorithm for every flow. */
			if (v && len >= 5 && !strncmp(v, "dctcp", len < 16 ? len : 16))
				return 0;
			pl_log_once("setcc", "setsockopt TCP_CONGESTION: the stack runs dctcp only: ENOENT");
			return pl_fail(ENOENT);
		case TCP_USER_TIMEOUT: {
			int ms = 0;
			if (opt_int(v, len, &ms) < 0)
				return -1;
			if (ms < 0)
				return pl_fail(EINVAL);
			s->user_timeout_ms = ms;
			return set_bt_opt(s, BT_OPT_USER_TIMEOUT, (uint32_t)ms);
		}
		}
	}
	if ((level == IPPROTO_IP && name == IP_TOS && !s->v6) || (level == IPPROTO_IPV6 && name == IPV6_TCLASS && s->v6)) {
		/* ssh, curl and others mark their traffic and print an error
		 * when they cannot; the NIC sends every flow with TOS 0, so the
		 * value is kept and read back but not applied: said once. */
		if (opt_int(v, len, &x) < 0)
			return -1;
		s->ip_tos = x & 0xff;
		pl_log_once("iptos", "setsockopt IP_TOS/IPV6_TCLASS %#x: kept, but the stack sends every segment with TOS 0", x);
		return 0;
	}
	if (s->v6 && level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
		/* Dual-stack is what made it ours: off stays off; on, once
		 * bound, is refused as Linux refuses it. */
		if (opt_int(v, len, &x) < 0)
			return -1;
		return x ? pl_fail(EINVAL) : 0;
	}
	char key[48];
	snprintf(key, sizeof(key), "setopt %d/%d", level, name);
	pl_log_once(key, "setsockopt level %d option %d on a TCP socket is not supported: ENOPROTOOPT", level, name);
	return pl_fail(ENOPROTOOPT);
}

static int put_int(void *v, socklen_t *len, int x)
{
	if (!v || !len || *len < sizeof(int))
		return pl_fail(EINVAL);
	memcpy(v, &x, sizeof(int));
	*len = sizeof(int);
	return 0;
}

/* TCP_INFO as far as the host library knows it (iperf3 and others read it
 * after every test): state, MSS and the negotiated options; counters the
 * NIC keeps (RTT, retransmits, cwnd) read 0. */
static int get_tcp_info(struct pl_sock *s, void *v, socklen_t *len)
{
	if (!v || !len)
		return pl_fail(EFAULT);
	pl_log_once("tcpinfo", "getsockopt TCP_INFO: state, MSS and options are filled; RTT, cwnd and "
			       "retransmit counters read 0 (the NIC keeps them)");
	struct tcp_info ti;
	memset(&ti, 0, sizeof(ti));
	ti.tcpi_state = s->kind == PL_CONN ? TCP_ESTABLISHED : s->kind == PL_LISTEN ? TCP_LISTEN
		      : s->kind == PL_CONNECTING ? TCP_SYN_SENT : TCP_CLOSE;
	if (s->kind == PL_CONN) {
		struct bt_conn_info ci;
		LOCK();
		int rc = bt_conn_info(pl.host, s->id, &ci);
		UNLOCK();
		if (rc == BT_OK) {
			ti.tcpi_snd_mss = ti.tcpi_rcv_mss = ti.tcpi_advmss = ci.mss;
			ti.tcpi_options = (uint8_t)((ci.timestamps ? TCPI_OPT_TIMESTAMPS : 0) | (ci.sack ? TCPI_OPT_SACK : 0) |
						    (ci.window_scaling ? TCPI_OPT_WSCALE : 0) | (ci.ecn ? TCPI_OPT_ECN : 0));
			ti.tcpi_snd_wscale = ci.snd_wscale & 0xf;
			ti.tcpi_rcv_wscale = ci.rcv_wscale & 0xf;
		}
	}
	socklen_t n = *len < sizeof(ti) ? *len : (socklen_t)sizeof(ti);
	memcpy(v, &ti, n);
	*len = n;
	return 0;
}

EXPORT int getsockopt(int fd, int level, int name, void *v, socklen_t *len)
{
	struct pl_sock *s = pl_sock_of(fd);
	if (!s)
		return pl_real.getsockopt(fd, level, name, v, len);
	if (s->forked)
		return forked_fail("getsockopt");
	uint32_t u = 0;
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_TYPE: return put_int(v, len, SOCK_STREAM);
		case SO_DOMAIN: return put_int(v, len, s->v6 ? AF_INET6 : AF_INET);
		case SO_PROTOCOL: return put_int(v, len, IPPROTO_TCP);
		case SO_ACCEPTCONN: return put_int(v, len, s->kind == PL_LISTEN);
		case SO_REUSEADDR: return put_int(v, len, s->so_reuseaddr);
		case SO_REUSEPORT: return put_int(v, len, s->so_reuseport);
		case SO_KEEPALIVE: return put_int(v, len, s->so_keepalive);
		case SO_OOBINLINE: return put_int(v, len, s->oobinline);
		case SO_ERROR: {
			int e = s->pending_err;
			s->pending_err = 0;
			if (!e && s->kind == PL_CONNECTING) {
				LOCK();
				pl_drain();
				e = connect_result(s);
				UNLOCK();
				if (e == EINPROGRESS)
					e = 0;
				else if (e)
					s->kind = PL_DEAD;
			} else if (!e && (s->kind == PL_CONN)) {
				LOCK();
				bt_getopt(pl.host, s->id, BT_OPT_ERROR, &u);
				UNLOCK();
				e = u ? bt_errno(-(int)u) : 0;
			}
			return put_int(v, len, e);
		}
		case SO_LINGER:
			if (!v || !len || *len < sizeof(struct linger))
				return pl_fail(EINVAL);
			memcpy(v, &s->linger, sizeof(s->linger));
			*len = sizeof(s->linger);
			return 0;
		case SO_SNDBUF:
		case SO_RCVBUF:
			if (s->kind == PL_CONN) {
				LOCK();
				bt_getopt(pl.host, s->id, name == SO_SNDBUF ? BT_OPT_SNDBUF : BT_OPT_RCVBUF, &u);
				UNLOCK();
				return put_int(v, len, (int)u);
			}
			return put_int(v, len, name == SO_SNDBUF ? (s->sndbuf ? s->sndbuf : 131072)
								: (s->rcvbuf ? s->rcvbuf : 131072));
		case SO_RCVTIMEO:
		case SO_SNDTIMEO: {
			if (!v || !len || *len < sizeof(struct timeval))
				return pl_fail(EINVAL);
			uint64_t ns = name == SO_RCVTIMEO ? s->rcvtimeo_ns : s->sndtimeo_ns;
			struct timeval tv = {.tv_sec = (time_t)(ns / 1000000000ull),
					     .tv_usec = (suseconds_t)(ns % 1000000000ull / 1000)};
			memcpy(v, &tv, sizeof(tv));
			*len = sizeof(tv);
			return 0;
		}
		}
	} else if (level == IPPROTO_TCP) {
		switch (name) {
		case TCP_NODELAY:
		case TCP_MAXSEG:
		case TCP_CORK: {
			enum bt_opt o = name == TCP_NODELAY ? BT_OPT_NODELAY : name == TCP_MAXSEG ? BT_OPT_MAXSEG : BT_OPT_CORK;
			if (s->kind == PL_CONN && name != TCP_CORK) { /* TCP_CORK: not what MSG_MORE set */
				LOCK();
				bt_getopt(pl.host, s->id, o, &u);
				UNLOCK();
				return put_int(v, len, (int)u);
			}
			return put_int(v, len, name == TCP_NODELAY ? s->nodelay : name == TCP_MAXSEG ? s->maxseg : s->cork);
		}
		case TCP_KEEPIDLE: return put_int(v, len, s->keepidle ? s->keepidle : 7200);
		case TCP_KEEPINTVL: return put_int(v, len, s->keepintvl ? s->keepintvl : 75);
		case TCP_KEEPCNT: return put_int(v, len, s->keepcnt ? s->keepcnt : 9);
		case TCP_USER_TIMEOUT: return put_int(v, len, s->user_timeout_ms);
		case TCP_INFO: return get_tcp_info(s, v, len);
		case TCP_CONGESTION: {
			/* DCTCP with Reno's halving on loss (core/nic/sp_cc.c). */
			static const char name[16] = "dctcp";
			if (!v || !len)
				return pl_fail(EFAULT);
			socklen_t n = *len < sizeof(name) ? *len : (socklen_t)sizeof(name);
			memcpy(v, name, n);
			*len = n;
			return 0;
		}
		}
	}
	if (s->v6 && level == IPPROTO_IPV6 && name == IPV6_V6ONLY)
		return put_int(v, len, 0);
	if ((level == IPPROTO_IP && name == IP_TOS && !s->v6) || (level == IPPROTO_IPV6 && name == IPV6_TCLASS && s->v6))
		return put_int(v, len, s->ip_tos);
	char key[48];
	snprintf(key, sizeof(key), "getopt %d/%d", level, name);
	pl_log_once(key, "getsockopt level %d option %d on a TCP socket is not supported: ENOPROTOOPT", level, name);
	return pl_fail(ENOPROTOOPT);
}

/* Programs built with _FILE_OFFSET_BITS=64 call sendfile64. */
EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count)
{
	if (!pl_sock_of(out))
		return pl_real.sendfile64(out, in, off, count);
	return sendfile(out, in, off, count);
}

/* sendmmsg/recvmmsg on a TCP socket: one sendmsg/recvmsg per message, as
 * many as go without blocking after the first (Linux's rule for both). */
EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	if (!pl_sock_of(fd))
		return pl_real.sendmmsg(fd, v, n, flags);
	unsigned int i;
	for (i = 0; i < n; i++) {
		ssize_t r = sendmsg(fd, &v[i].msg_hdr, i ? flags | MSG_DONTWAIT : flags);
		if (r < 0)
			return i ? (int)i : -1;
		v[i].msg_len = (unsigned int)r;
	}
	return (int)i;
}

EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *timeout)
{
	if (!pl_sock_of(fd))
		return pl_real.recvmmsg(fd, v, n, flags, timeout);
	if (timeout)
		pl_log_once("recvmmsg", "recvmmsg timeout on a TCP socket is ignored (SO_RCVTIMEO bounds the first message)");
	unsigned int i;
	for (i = 0; i < n; i++) {
		ssize_t r = recvmsg(fd, &v[i].msg_hdr, i ? flags | MSG_DONTWAIT : flags);
		if (r <= 0) {
			if (r == 0 && i == 0)
				v[i].msg_len = 0, i = 1; /* end of stream: one empty message */
			return i ? (int)i : (int)r;
		}
		v[i].msg_len = (unsigned int)r;
		if (flags & MSG_WAITFORONE)
			flags |= MSG_DONTWAIT;
	}
	return (int)i;
}

/* splice moves pages between kernel pipes and sockets; a stack socket's
 * bytes are in host memory the kernel does not see. */
EXPORT ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t len, unsigned int flags)
{
	if (!pl_sock_of(in) && !pl_sock_of(out))
		return pl_real.splice(in, off_in, out, off_out, len, flags);
	pl_log_once("splice", "splice on a TCP socket of the stack is not supported: EINVAL (use read/write)");
	return pl_fail(EINVAL);
}
