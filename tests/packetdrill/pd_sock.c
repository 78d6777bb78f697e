/*
 * pd_sock.c: packetdrill's socket calls on the host API. Each call takes
 * the shim's lock, acts, settles the world at the current instant, and
 * wakes a sleeping call if it changed anything. A blocking call that
 * cannot complete sleeps (pd_sleep) until the world moves on.
 *
 * Socket semantics follow Linux where a script can see them (errno
 * values, an error reported once and then end of stream or EPIPE,
 * EINPROGRESS / EALREADY / EISCONN of a non-blocking connect); where the
 * host API has no equivalent the call fails with a message naming it
 * (docs/conformance.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pd_shim.h"

#define PD_IOV_MAX_BYTES (1u << 20)

static struct pd_shim *lock(void *u)
{
	struct pd_shim *s = u;
	pthread_mutex_lock(&s->mu);
	return s;
}

/* Settles what the call changed, wakes a sleeper, unlocks. */
static void unlock(struct pd_shim *s)
{
	pd_world_settle(s->w);
	pd_kick(s);
	pthread_mutex_unlock(&s->mu);
}

static int fail(struct pd_shim *s, int err)
{
	unlock(s);
	errno = err;
	return -1;
}

static struct bt_host *host(struct pd_shim *s)
{
	return pd_world_host(s->w);
}

/* Linux doubles SO_SNDBUF/SO_RCVBUF values for its bookkeeping and
 * getsockopt shows the doubled value; FreeBSD shows what was set. */
static uint32_t buf_reported(const struct pd_shim *s, uint32_t val)
{
	return s->profile == PD_PROFILE_LINUX ? 2 * val : val;
}

static uint32_t clamp_buf(uint32_t want, uint32_t ring)
{
	if (want < 1)
		want = 1;
	return want > ring ? ring : want;
}

/* FreeBSD rounds both socket buffers up to a multiple of the MSS when it
 * processes the peer's SYN (tcp_mss); scripts read the rounded values. */
static void round_bufs(struct pd_shim *s, struct pd_sock *k)
{
	struct bt_conn_info info;
	if (s->profile != PD_PROFILE_FREEBSD || k->bufs_rounded || k->kind != PD_SOCK_CONN ||
	    bt_conn_info(pd_world_host(s->w), k->id, &info) != BT_OK || info.mss == 0)
		return;
	k->sndbuf_shown = (k->sndbuf_shown + info.mss - 1) / info.mss * info.mss;
	k->rcvbuf_shown = (k->rcvbuf_shown + info.mss - 1) / info.mss * info.mss;
	k->bufs_rounded = true;
}

int pd_socket(void *u, int domain, int type, int protocol)
{
	struct pd_shim *s = lock(u);
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (domain != AF_INET)
		return fail(s, EAFNOSUPPORT);
	if (base != SOCK_STREAM || (protocol != 0 && protocol != IPPROTO_TCP))
		return fail(s, EPROTONOSUPPORT);
	int fd = pd_new_fd(s);
	if (fd < 0)
		return fail(s, errno);
	struct pd_sock *k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		return fail(s, ENOMEM);
	}
	k->nonblock = (type & SOCK_NONBLOCK) != 0;
	k->pmtudisc = IP_PMTUDISC_WANT; /* Linux's default (ip_no_pmtu_disc 0) */
	k->id = -1;
	if (s->default_rcvbuf) {
		k->rcvbuf_shown = s->default_rcvbuf;
		k->sndbuf_shown = s->default_sndbuf;
		bt_opts_set(&k->opts, BT_OPT_RCVBUF, clamp_buf(s->default_rcvbuf, s->host_rx_ring));
		bt_opts_set(&k->opts, BT_OPT_SNDBUF, clamp_buf(s->default_sndbuf, s->host_tx_ring));
	}
	s->socks[fd] = k;
	unlock(s);
	return fd;
}

static int sockaddr_in_of(const struct sockaddr *addr, socklen_t len, uint32_t *ip, uint16_t *port)
{
	if (!addr || len < sizeof(struct sockaddr_in) || addr->sa_family != AF_INET)
		return -1;
	const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
	*ip = ntohl(in->sin_addr.s_addr);
	*port = ntohs(in->sin_port);
	return 0;
}

int pd_bind(void *u, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	uint32_t ip;
	uint16_t port;
	if (!k)
		return fail(s, EBADF);
	if (sockaddr_in_of(addr, addrlen, &ip, &port) < 0)
		return fail(s, EINVAL);
	if (k->kind != PD_SOCK_FRESH || k->bound_port)
		return fail(s, EINVAL);
	if (ip != INADDR_ANY && ip != s->local_ip)
		return fail(s, EADDRNOTAVAIL);
	k->bound_port = port;
	unlock(s);
	return 0;
}

int pd_listen(void *u, int fd, int backlog)
{
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	if (!k)
		return fail(s, EBADF);
	if (k->kind == PD_SOCK_LISTEN) {
		unlock(s); /* Linux: a second listen() only changes the backlog */
		return 0;
	}
	if (k->kind != PD_SOCK_FRESH)
		return fail(s, EINVAL);
	if (!k->bound_port) {
		fprintf(stderr, "bluetas shim: listen() without bind() (no ephemeral listener ports)\n");
		return fail(s, EINVAL);
	}
	/* Linux queues backlog + 1 established connections. */
	uint32_t slots = backlog < 0 ? 1 : (uint32_t)backlog + 1;
	uint32_t max = bt_host_max_conns(host(s)) / 2;
	if (slots > max)
		slots = max;
	int id = bt_listen_opts(host(s), k->bound_port, slots, &k->opts);
	if (id < 0)
		return fail(s, bt_errno(id));
	k->kind = PD_SOCK_LISTEN;
	k->id = id;
	unlock(s);
	return 0;
}

static void fill_sockaddr(struct sockaddr *addr, socklen_t *addrlen, const struct bt_addr *a)
{
	if (!addr || !addrlen)
		return;
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(a->port), .sin_addr.s_addr = htonl(a->ip)};
	socklen_t n = *addrlen < sizeof(in) ? *addrlen : (socklen_t)sizeof(in);
	memcpy(addr, &in, n);
	*addrlen = sizeof(in);
}

int pd_accept(void *u, int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	if (!k)
		return fail(s, EBADF);
	if (k->kind != PD_SOCK_LISTEN)
		return fail(s, EINVAL);
	int id;
	while ((id = bt_accept(host(s), k->id)) == BT_EAGAIN) {
		if (k->nonblock) {
			pd_sleep_done(s);
			return fail(s, EAGAIN);
		}
		pd_sleep(s, 0);
		k = pd_sock_of(s, fd);
		if (!k || k->kind != PD_SOCK_LISTEN) {
			pd_sleep_done(s);
			return fail(s, EBADF);
		}
	}
	pd_sleep_done(s);
	if (id < 0)
		return fail(s, bt_errno(id));
	int nfd = pd_new_fd(s);
	struct pd_sock *c = nfd >= 0 ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		if (nfd >= 0)
			close(nfd);
		bt_abort(host(s), id);
		return fail(s, ENOMEM);
	}
	*c = (struct pd_sock){.kind = PD_SOCK_CONN, .id = id, .bound_port = k->bound_port,
			      .sndbuf_shown = k->sndbuf_shown, .rcvbuf_shown = k->rcvbuf_shown, .keepalive = k->keepalive, .inq = k->inq,
			      .pmtudisc = k->pmtudisc};
	s->socks[nfd] = c;
	struct bt_addr peer = {0};
	bt_conn_addrs(host(s), id, NULL, &peer);
	fill_sockaddr(addr, addrlen, &peer);
	unlock(s);
	return nfd;
}

static bool conn_open(struct pd_shim *s, int id)
{
	return bt_conn_addrs(host(s), id, NULL, NULL) == BT_OK;
}

/* The pending error, once: SO_ERROR semantics (reading it clears it). */
static int take_error(struct pd_shim *s, int id)
{
	uint32_t e = 0;
	bt_getopt(host(s), id, BT_OPT_ERROR, &e);
	return -(int)e;
}

int pd_connect(void *u, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	uint32_t ip;
	uint16_t port;
	if (!k)
		return fail(s, EBADF);
	if (k->kind == PD_SOCK_LISTEN)
		return fail(s, EISCONN);
	if (k->kind == PD_SOCK_CONN) {
		/* A second connect() on a non-blocking socket. */
		int err = bt_conn_error(host(s), k->id);
		if (err && !k->connect_reported) {
			k->connect_reported = true;
			take_error(s, k->id);
			return fail(s, bt_errno(err));
		}
		if (err)
			return fail(s, ECONNABORTED);
		return fail(s, conn_open(s, k->id) ? EISCONN : EALREADY);
	}
	if (sockaddr_in_of(addr, addrlen, &ip, &port) < 0)
		return fail(s, EINVAL);
	if (k->bound_port)
		fprintf(stderr, "bluetas shim: connect() ignores the bound port %u (the NIC picks one)\n",
			k->bound_port);
	int id = bt_connect_opts(host(s), ip, port, &k->opts);
	if (id < 0)
		return fail(s, bt_errno(id));
	k->kind = PD_SOCK_CONN;
	k->id = id;
	if (k->nonblock)
		return fail(s, EINPROGRESS);
	int err;
	while (!conn_open(s, id) && !(err = bt_conn_error(host(s), id))) {
		pd_sleep(s, 0);
		if (pd_sock_of(s, fd) != k) {
			pd_sleep_done(s);
			return fail(s, EBADF);
		}
	}
	pd_sleep_done(s);
	err = bt_conn_error(host(s), id);
	if (err) {
		k->connect_reported = true;
		take_error(s, id);
		return fail(s, bt_errno(err));
	}
	unlock(s);
	return 0;
}

/* ---- data ---- */

static ssize_t do_recv(void *u, int fd, void *buf, size_t len, int flags)
{
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	if (!k)
		return fail(s, EBADF);
	if (!buf && len)
		return fail(s, EFAULT);
	if (k->kind != PD_SOCK_CONN)
		return fail(s, ENOTCONN);
	if (flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_PEEK)) {
		fprintf(stderr, "bluetas shim: recv flags 0x%x not supported (MSG_WAITALL, MSG_OOB...)\n", flags);
		return fail(s, EOPNOTSUPP);
	}
	bool nonblock = k->nonblock || (flags & MSG_DONTWAIT);
	ssize_t (*take)(struct bt_host *, int, void *, size_t) = (flags & MSG_PEEK) ? bt_peek : bt_recv;
	ssize_t n;
	while ((n = take(host(s), k->id, buf, len)) == BT_EAGAIN) {
		if (nonblock) {
			pd_sleep_done(s);
			return fail(s, EAGAIN);
		}
		pd_sleep(s, 0);
		if (pd_sock_of(s, fd) != k) {
			pd_sleep_done(s);
			return fail(s, EBADF);
		}
	}
	pd_sleep_done(s);
	if (n > 0 && take == bt_recv)
		k->rx_taken_bytes += (uint64_t)n;
	if (n < 0) {
		/* Linux reports a connection's error once; then end of stream. */
		if (k->err_consumed)
			n = 0;
		else {
			k->err_consumed = true;
			take_error(s, k->id);
			return fail(s, bt_errno((int)n));
		}
	}
	unlock(s);
	return n;
}

static ssize_t do_send(void *u, int fd, const void *buf, size_t len, int flags)
{
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	if (!k)
		return fail(s, EBADF);
	if (!buf && len)
		return fail(s, EFAULT);
	if (k->kind != PD_SOCK_CONN)
		return fail(s, k->kind == PD_SOCK_FRESH ? ENOTCONN : EPIPE);
	if (flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE | MSG_EOR)) {
		fprintf(stderr, "bluetas shim: send flags 0x%x not supported (MSG_OOB, MSG_ZEROCOPY...)\n", flags);
		return fail(s, EOPNOTSUPP);
	}
	bool nonblock = k->nonblock || (flags & MSG_DONTWAIT);
	size_t sent = 0;
	/* A blocking send returns once everything is queued (Linux). */
	while (sent < len || len == 0) {
		const uint8_t *at = (const uint8_t *)buf + sent;
		/* MSG_EOR ends a record, MSG_MORE or not (Linux's tcp_sendmsg). */
		ssize_t n = (flags & MSG_EOR)	 ? bt_send_eor(host(s), k->id, at, len - sent)
			    : (flags & MSG_MORE) ? bt_send_more(host(s), k->id, at, len - sent)
						 : bt_send(host(s), k->id, at, len - sent);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (n == BT_EAGAIN) {
			if (nonblock)
				break;
			pd_sleep(s, 0);
			if (pd_sock_of(s, fd) != k) {
				pd_sleep_done(s);
				return fail(s, EBADF);
			}
			continue;
		}
		pd_sleep_done(s);
		if (sent)
			break;
		if (n == BT_ENOTCONN && !conn_open(s, k->id) && !bt_conn_error(host(s), k->id))
			return fail(s, nonblock ? EAGAIN : ENOTCONN);
		if (k->err_consumed || n == BT_EPIPE)
			return fail(s, EPIPE);
		k->err_consumed = true;
		take_error(s, k->id);
		return fail(s, bt_errno((int)n));
	}
	pd_sleep_done(s);
	if (sent == 0 && len > 0)
		return fail(s, EAGAIN);
	unlock(s);
	return (ssize_t)sent;
}

ssize_t pd_read(void *u, int fd, void *buf, size_t count)
{
	return do_recv(u, fd, buf, count, 0);
}

ssize_t pd_recv(void *u, int fd, void *buf, size_t len, int flags)
{
	return do_recv(u, fd, buf, len, flags);
}

ssize_t pd_recvfrom(void *u, int fd, void *buf, size_t len, int flags, struct sockaddr *src, socklen_t *srclen)
{
	(void)src;
	if (srclen)
		*srclen = 0;
	return do_recv(u, fd, buf, len, flags);
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	return total;
}

/* One buffer as long as the vector (the stack's calls take one), or NULL
 * with errno set: EINVAL for a negative count or a vector longer than
 * PD_IOV_MAX_BYTES, ENOMEM. */
static uint8_t *iov_bounce(const struct iovec *iov, int iovcnt, size_t *total)
{
	*total = iov_total(iov, iovcnt);
	if (iovcnt < 0 || *total > PD_IOV_MAX_BYTES) {
		errno = EINVAL;
		return NULL;
	}
	uint8_t *tmp = malloc(*total ? *total : 1);
	if (!tmp)
		errno = ENOMEM;
	return tmp;
}

static ssize_t recv_iov(void *u, int fd, const struct iovec *iov, int iovcnt, int flags)
{
	size_t total;
	uint8_t *tmp = iov_bounce(iov, iovcnt, &total);
	if (!tmp)
		return -1;
	ssize_t n = do_recv(u, fd, tmp, total, flags);
	for (int i = 0, off = 0; n > 0 && i < iovcnt && off < n; i++) {
		size_t take = iov[i].iov_len < (size_t)(n - off) ? iov[i].iov_len : (size_t)(n - off);
		memcpy(iov[i].iov_base, tmp + off, take);
		off += (int)take;
	}
	free(tmp);
	return n;
}

static ssize_t send_iov(void *u, int fd, const struct iovec *iov, int iovcnt, int flags)
{
	size_t total;
	uint8_t *tmp = iov_bounce(iov, iovcnt, &total);
	if (!tmp)
		return -1;
	size_t off = 0;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len)
			memcpy(tmp + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	ssize_t n = do_send(u, fd, tmp, total, flags);
	free(tmp);
	return n;
}

ssize_t pd_readv(void *u, int fd, const struct iovec *iov, int iovcnt)
{
	return recv_iov(u, fd, iov, iovcnt, 0);
}

/* TCP_INQ (Linux's tcp_recvmsg): a TCP_CM_INQ message with the bytes
 * left to read after this call; 1 when none are left and the peer's FIN
 * is in, so a reader can tell the end of the stream apart. */
static bool put_inq(void *u, int fd, struct msghdr *msg)
{
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	bool want = k && k->inq && k->kind == PD_SOCK_CONN;
	int inq = 0;
	if (want) {
		inq = (int)bt_rx_ready(host(s), k->id);
		if (inq == 0 && (bt_readiness(host(s), k->id) & BT_READY_RDHUP))
			inq = 1;
	}
	unlock(s);
	if (!want || !msg->msg_control || msg->msg_controllen < CMSG_SPACE(sizeof(int)))
		return false;
	struct cmsghdr *c = (struct cmsghdr *)msg->msg_control;
	c->cmsg_level = SOL_TCP;
	c->cmsg_type = TCP_CM_INQ;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &inq, sizeof(inq));
	msg->msg_controllen = CMSG_SPACE(sizeof(int));
	return true;
}

ssize_t pd_recvmsg(void *u, int fd, struct msghdr *msg, int flags)
{
	msg->msg_flags = 0;
	size_t control_cap = msg->msg_controllen;
	msg->msg_controllen = 0;
	ssize_t n = recv_iov(u, fd, msg->msg_iov, (int)msg->msg_iovlen, flags);
	if (n >= 0) {
		int saved = errno;
		msg->msg_controllen = control_cap;
		if (!put_inq(u, fd, msg))
			msg->msg_controllen = 0; /* nothing to say */
		errno = saved;
	}
	return n;
}

ssize_t pd_write(void *u, int fd, const void *buf, size_t count)
{
	return do_send(u, fd, buf, count, 0);
}

ssize_t pd_send(void *u, int fd, const void *buf, size_t len, int flags)
{
	return do_send(u, fd, buf, len, flags);
}

ssize_t pd_sendto(void *u, int fd, const void *buf, size_t len, int flags, const struct sockaddr *dst,
		  socklen_t dstlen)
{
	(void)dst;
	(void)dstlen;
	return do_send(u, fd, buf, len, flags);
}

ssize_t pd_writev(void *u, int fd, const struct iovec *iov, int iovcnt)
{
	return send_iov(u, fd, iov, iovcnt, 0);
}

ssize_t pd_sendmsg(void *u, int fd, const struct msghdr *msg, int flags)
{
	if (msg->msg_controllen) {
		fprintf(stderr, "bluetas shim: sendmsg with control messages not supported\n");
		errno = EOPNOTSUPP;
		return -1;
	}
	return send_iov(u, fd, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

/* ---- descriptor calls ---- */

int pd_fcntl(void *u, int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	int arg = (cmd == F_SETFL) ? va_arg(ap, int) : 0;
	va_end(ap);
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	if (!k)
		return fail(s, EBADF);
	int rc = 0;
	if (cmd == F_GETFL)
		rc = O_RDWR | (k->nonblock ? O_NONBLOCK : 0);
	else if (cmd == F_SETFL)
		k->nonblock = (arg & O_NONBLOCK) != 0;
	else
		return fail(s, EINVAL);
	unlock(s);
	return rc;
}

int pd_ioctl(void *u, int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	int *argp = va_arg(ap, int *);
	va_end(ap);
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	if (!k)
		return fail(s, EBADF);
	if (request == FIONBIO && argp) {
		k->nonblock = *argp != 0;
	} else if (request == FIONREAD && argp) {
		if (k->kind == PD_SOCK_LISTEN)
			return fail(s, EINVAL);
		*argp = k->kind == PD_SOCK_CONN ? (int)bt_rx_ready(host(s), k->id) : 0;
	} else {
		return fail(s, ENOTTY);
	}
	unlock(s);
	return 0;
}

int pd_close(void *u, int fd)
{
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	if (!k) {
		if (fd >= 0 && fd < PD_MAX_FDS && s->eps[fd]) {
			free(s->eps[fd]);
			s->eps[fd] = NULL;
			close(fd);
			unlock(s);
			return 0;
		}
		return fail(s, EBADF);
	}
	if (k->kind == PD_SOCK_LISTEN)
		bt_listen_close(host(s), k->id);
	else if (k->kind == PD_SOCK_CONN)
		k->linger_abort ? bt_abort(host(s), k->id) : bt_close(host(s), k->id);
	s->socks[fd] = NULL;
	free(k);
	close(fd);
	unlock(s);
	return 0;
}

int pd_shutdown(void *u, int fd, int how)
{
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	if (!k)
		return fail(s, EBADF);
	if (how < SHUT_RD || how > SHUT_RDWR)
		return fail(s, EINVAL);
	if (k->kind != PD_SOCK_CONN)
		return fail(s, ENOTCONN);
	int rc = bt_shutdown(host(s), k->id, how + 1); /* SHUT_RD 0 -> BT_SHUT_RD 1 ... */
	if (rc < 0)
		return fail(s, bt_errno(rc));
	unlock(s);
	return 0;
}

/* ---- options ---- */

static int get_int(const void *optval, socklen_t optlen, int *out)
{
	if (!optval || optlen < sizeof(int))
		return -1;
	memcpy(out, optval, sizeof(int));
	return 0;
}

/* IPPROTO_IP options take an int or, as Linux's ip_setsockopt allows, a
 * single byte. */
static int get_ip_int(const void *optval, socklen_t optlen, int *out)
{
	if (optval && optlen >= 1 && optlen < sizeof(int)) {
		*out = *(const unsigned char *)optval;
		return 0;
	}
	return get_int(optval, optlen, out);
}

static int put_int(void *optval, socklen_t *optlen, int val)
{
	if (!optval || !optlen || *optlen < sizeof(int))
		return -1;
	memcpy(optval, &val, sizeof(int));
	*optlen = sizeof(int);
	return 0;
}

/* An option for the host API: stored until the socket opens, then set. */
static int set_bt_opt(struct pd_shim *s, struct pd_sock *k, enum bt_opt opt, uint32_t val)
{
	if (k->kind == PD_SOCK_FRESH) {
		bt_opts_set(&k->opts, opt, val);
		return 0;
	}
	int rc = bt_setopt(host(s), k->id, opt, val);
	return rc < 0 ? bt_errno(rc) : 0;
}

int pd_setsockopt(void *u, int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	int v = 0;
	if (!k)
		return fail(s, EBADF);
	int err = 0;
	if (level == SOL_SOCKET && optname == SO_LINGER) {
		struct linger lg;
		if (!optval || optlen < sizeof(lg))
			return fail(s, EINVAL);
		memcpy(&lg, optval, sizeof(lg));
		k->linger_abort = lg.l_onoff && lg.l_linger == 0;
		unlock(s);
		return 0;
	}
	if ((level == IPPROTO_IP ? get_ip_int(optval, optlen, &v) : get_int(optval, optlen, &v)) < 0)
		return fail(s, EINVAL);
	uint32_t uv = v < 0 ? 0 : (uint32_t)v;
	if (level == SOL_SOCKET) {
		switch (optname) {
		case SO_REUSEADDR:
		case SO_REUSEPORT:
			k->reuseaddr = v != 0; /* ports are free at once anyway */
			break;
		case SO_KEEPALIVE:
			k->keepalive = v != 0;
			if (v)
				fprintf(stderr, "bluetas shim: SO_KEEPALIVE accepted, but the stack sends no keepalives\n");
			break;
		case SO_SNDBUF:
			k->sndbuf_shown = buf_reported(s, uv);
			err = set_bt_opt(s, k, BT_OPT_SNDBUF, clamp_buf(buf_reported(s, uv), s->host_tx_ring));
			break;
		case SO_RCVBUF:
			k->rcvbuf_shown = buf_reported(s, uv);
			err = set_bt_opt(s, k, BT_OPT_RCVBUF, clamp_buf(buf_reported(s, uv), s->host_rx_ring));
			break;
		default:
			fprintf(stderr, "bluetas shim: setsockopt SOL_SOCKET %d not supported\n", optname);
			err = ENOPROTOOPT;
		}
	} else if (level == IPPROTO_TCP) {
		switch (optname) {
		case TCP_NODELAY:
			err = set_bt_opt(s, k, BT_OPT_NODELAY, v != 0);
			break;
		case TCP_MAXSEG:
			if (v < 64 || v > 0xffff)
				err = EINVAL;
			else
				err = set_bt_opt(s, k, BT_OPT_MAXSEG, uv);
			break;
		case TCP_CORK:
			err = set_bt_opt(s, k, BT_OPT_CORK, v != 0);
			break;
		case TCP_USER_TIMEOUT:
			if (v < 0)
				err = EINVAL;
			else
				err = set_bt_opt(s, k, BT_OPT_USER_TIMEOUT, uv);
			break;
		case TCP_INQ:
			k->inq = v != 0; /* the shim's own: the host knows what is buffered */
			break;
		default:
			fprintf(stderr, "bluetas shim: setsockopt IPPROTO_TCP %d not supported\n", optname);
			err = ENOPROTOOPT;
		}
	} else if (level == IPPROTO_IP) {
		switch (optname) {
		case IP_TOS:
			/* Linux keeps the ECN bits of a stream socket's TOS its own. */
			err = set_bt_opt(s, k, BT_OPT_TOS, uv & 0xfc);
			break;
		case IP_MTU_DISCOVER:
			/* Every segment carries DF and the NIC never fragments
			 * (core/proto/ipv4.c): each mode is accepted and shown back. */
			if (v < IP_PMTUDISC_DONT || v > IP_PMTUDISC_PROBE)
				err = EINVAL;
			else
				k->pmtudisc = v;
			break;
		default:
			fprintf(stderr, "bluetas shim: setsockopt IPPROTO_IP %d not supported\n", optname);
			err = ENOPROTOOPT;
		}
	} else {
		fprintf(stderr, "bluetas shim: setsockopt level %d option %d not supported\n", level, optname);
		err = ENOPROTOOPT;
	}
	if (err)
		return fail(s, err);
	unlock(s);
	return 0;
}

static uint32_t opt_value(struct pd_shim *s, struct pd_sock *k, enum bt_opt opt, uint32_t dflt)
{
	if (k->kind == PD_SOCK_FRESH)
		return k->opts.set & (1u << opt) ? k->opts.val[opt] : dflt;
	uint32_t v = dflt;
	bt_getopt(host(s), k->id, opt, &v);
	return v;
}

int pd_getsockopt(void *u, int fd, int level, int optname, void *optval, socklen_t *optlen)
{
	struct pd_shim *s = lock(u);
	struct pd_sock *k = pd_sock_of(s, fd);
	if (!k)
		return fail(s, EBADF);
	int v = 0;
	if (level == SOL_SOCKET) {
		switch (optname) {
		case SO_ERROR:
			if (k->kind != PD_SOCK_FRESH) {
				int e = take_error(s, k->id);
				v = e ? bt_errno(e) : 0;
				if (e)
					k->connect_reported = true;
			}
			break;
		case SO_TYPE:
			v = SOCK_STREAM;
			break;
		case SO_REUSEADDR:
		case SO_REUSEPORT:
			v = k->reuseaddr;
			break;
		case SO_KEEPALIVE:
			v = k->keepalive;
			break;
		case SO_ACCEPTCONN:
			v = k->kind == PD_SOCK_LISTEN;
			break;
		case SO_SNDBUF:
			round_bufs(s, k);
			v = (int)(k->sndbuf_shown ? k->sndbuf_shown : opt_value(s, k, BT_OPT_SNDBUF, s->host_tx_ring));
			break;
		case SO_RCVBUF:
			round_bufs(s, k);
			v = (int)(k->rcvbuf_shown ? k->rcvbuf_shown : opt_value(s, k, BT_OPT_RCVBUF, s->host_rx_ring));
			break;
		default:
			fprintf(stderr, "bluetas shim: getsockopt SOL_SOCKET %d not supported\n", optname);
			return fail(s, ENOPROTOOPT);
		}
	} else if (level == IPPROTO_TCP) {
		switch (optname) {
		case TCP_NODELAY:
			v = (int)opt_value(s, k, BT_OPT_NODELAY, s->profile == PD_PROFILE_DC);
			break;
		case TCP_MAXSEG:
			v = (int)opt_value(s, k, BT_OPT_MAXSEG, 0);
			if (v == 0)
				v = s->default_mss;
			break;
		case TCP_CORK:
			v = (int)opt_value(s, k, BT_OPT_CORK, 0);
			break;
		case TCP_USER_TIMEOUT:
			v = (int)opt_value(s, k, BT_OPT_USER_TIMEOUT, 0);
			break;
		case TCP_INQ:
			v = k->inq;
			break;
		default:
			fprintf(stderr, "bluetas shim: getsockopt IPPROTO_TCP %d not supported (TCP_INFO...)\n",
				optname);
			return fail(s, ENOPROTOOPT);
		}
	} else if (level == IPPROTO_IP && optname == IP_TOS) {
		v = (int)opt_value(s, k, BT_OPT_TOS, 0);
	} else if (level == IPPROTO_IP && optname == IP_MTU_DISCOVER) {
		v = k->pmtudisc;
	} else {
		fprintf(stderr, "bluetas shim: getsockopt level %d option %d not supported\n", level, optname);
		return fail(s, ENOPROTOOPT);
	}
	if (put_int(optval, optlen, v) < 0)
		return fail(s, EINVAL);
	unlock(s);
	return 0;
}
