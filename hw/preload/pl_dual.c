/*
 * pl_dual.c: socket addresses in and out, and AF_INET6 dual-stack sockets.
 *
 * The stack speaks IPv4. A program that listens on the IPv6 wildcard
 * without IPV6_V6ONLY (node's listen(port), `python3 -m http.server`,
 * `iperf3 -s`, `nc -l`, openssl s_server) asks Linux to serve IPv4 on that
 * socket too, as v4-mapped addresses (::ffff:a.b.c.d). Such a socket is
 * created by the kernel (socket() cannot know yet what it will be); when
 * the program binds it to the wildcard or a v4-mapped address, or
 * connects it to a v4-mapped one, it becomes a stack socket under the
 * same descriptor number, with the options the program set on it so far,
 * and speaks sockaddr_in6 from then on: every address it reports is
 * v4-mapped (the wildcard as ::). Its IPv6 side is not served (the stack
 * has none). A socket with IPV6_V6ONLY, one bound or connected to a real
 * IPv6 address, or any when the stack cannot be had (no channel), stays
 * the kernel's, untouched. docs/sockets.md.
 */
#define _GNU_SOURCE
#include "pl_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The IPv4 address behind a v6 address the stack can serve: the wildcard
 * (0) or a v4-mapped one. -1 for any other. */
static int64_t v4_of(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_UNSPECIFIED(a))
		return 0;
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		uint32_t ip;
		memcpy(&ip, &a->s6_addr[12], 4);
		return ntohl(ip);
	}
	return -1;
}

int pl_addr_in(const struct pl_sock *s, const struct sockaddr *a, socklen_t len, struct bt_addr *out)
{
	if (!a)
		return pl_fail(EINVAL);
	if (s->v6) {
		if (len < sizeof(struct sockaddr_in6))
			return pl_fail(EINVAL);
		if (a->sa_family != AF_INET6)
			return pl_fail(EAFNOSUPPORT);
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
		int64_t ip = v4_of(&in6->sin6_addr);
		if (ip < 0) {
			pl_log_once("v6addr", "an IPv6 address on a dual-stack socket the stack serves (IPv4 only): ENETUNREACH");
			return pl_fail(ENETUNREACH);
		}
		out->ip = (uint32_t)ip;
		out->port = ntohs(in6->sin6_port);
		return 0;
	}
	if (len < sizeof(struct sockaddr_in))
		return pl_fail(EINVAL);
	if (a->sa_family != AF_INET)
		return pl_fail(EAFNOSUPPORT);
	const struct sockaddr_in *in = (const struct sockaddr_in *)a;
	out->ip = ntohl(in->sin_addr.s_addr);
	out->port = ntohs(in->sin_port);
	return 0;
}

void pl_addr_out(const struct pl_sock *s, const struct bt_addr *a, struct sockaddr *out, socklen_t *len)
{
	if (!out || !len)
		return;
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} u;
	memset(&u, 0, sizeof(u));
	socklen_t full;
	if (s->v6) {
		u.in6.sin6_family = AF_INET6;
		u.in6.sin6_port = htons(a->port);
		if (a->ip) { /* ::ffff:a.b.c.d; the wildcard stays :: */
			u.in6.sin6_addr.s6_addr[10] = 0xff;
			u.in6.sin6_addr.s6_addr[11] = 0xff;
			uint32_t ip = htonl(a->ip);
			memcpy(&u.in6.sin6_addr.s6_addr[12], &ip, 4);
		}
		full = sizeof(u.in6);
	} else {
		u.in.sin_family = AF_INET;
		u.in.sin_port = htons(a->port);
		u.in.sin_addr.s_addr = htonl(a->ip);
		full = sizeof(u.in);
	}
	memcpy(out, &u, *len < full ? *len : full); /* truncated, as the kernel does */
	*len = full;
}

static int kernel_int_opt(int fd, int level, int name, int *out)
{
	socklen_t n = sizeof(*out);
	return pl_real.getsockopt(fd, level, name, out, &n);
}

/* Whether fd is a kernel AF_INET6 TCP socket, dual-stack, not yet bound. */
static bool dual_candidate(int fd)
{
	int domain = 0, type = 0, proto = 0, v6only = 1;
	if (kernel_int_opt(fd, SOL_SOCKET, SO_DOMAIN, &domain) != 0 || domain != AF_INET6 ||
	    kernel_int_opt(fd, SOL_SOCKET, SO_TYPE, &type) != 0 || type != SOCK_STREAM ||
	    kernel_int_opt(fd, SOL_SOCKET, SO_PROTOCOL, &proto) != 0 || proto != IPPROTO_TCP ||
	    kernel_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only) != 0 || v6only)
		return false;
	struct sockaddr_in6 me;
	socklen_t n = sizeof(me);
	return pl_real.getsockname(fd, (struct sockaddr *)&me, &n) == 0 && me.sin6_port == 0;
}

/* One option onto the stack socket; one that is refused is said, not
 * dropped in silence (the program set it and will not hear of it). */
static void carry(int fd, int level, int name, const void *v, socklen_t len)
{
	if (setsockopt(fd, level, name, v, len) != 0) {
		char key[48];
		snprintf(key, sizeof(key), "dual carry %d/%d", level, name);
		pl_log_once(key, "dual-stack socket: option level %d name %d set on the kernel socket could not be carried to the stack's (%s)",
			    level, name, strerror(errno));
	}
}

/* The options a program may have set on the kernel socket before it
 * became ours, set again on ours (through the preload's setsockopt).
 * Only those whose kernel default can be told from a value the program
 * set; buffer sizes cannot (the kernel reports its own), and stay ours. */
static void carry_options(int kfd, int fd)
{
	static const struct {
		int level, name, dflt;
	} opts[] = {
		{SOL_SOCKET, SO_REUSEADDR, 0}, {SOL_SOCKET, SO_REUSEPORT, 0}, {SOL_SOCKET, SO_KEEPALIVE, 0},
		{IPPROTO_TCP, TCP_NODELAY, 0}, {IPPROTO_TCP, TCP_CORK, 0},     {IPPROTO_TCP, TCP_KEEPIDLE, 7200},
		{IPPROTO_TCP, TCP_KEEPINTVL, 75}, {IPPROTO_TCP, TCP_KEEPCNT, 9}, {IPPROTO_TCP, TCP_USER_TIMEOUT, 0},
	};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		int v = 0;
		if (kernel_int_opt(kfd, opts[i].level, opts[i].name, &v) == 0 && v != opts[i].dflt)
			carry(fd, opts[i].level, opts[i].name, &v, sizeof(v));
	}
	struct linger l;
	socklen_t n = sizeof(l);
	if (pl_real.getsockopt(kfd, SOL_SOCKET, SO_LINGER, &l, &n) == 0 && l.l_onoff)
		carry(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	static const int timeouts[] = {SO_RCVTIMEO, SO_SNDTIMEO};
	for (size_t i = 0; i < 2; i++) {
		struct timeval tv;
		n = sizeof(tv);
		if (pl_real.getsockopt(kfd, SOL_SOCKET, timeouts[i], &tv, &n) == 0 && (tv.tv_sec || tv.tv_usec))
			carry(fd, SOL_SOCKET, timeouts[i], &tv, sizeof(tv));
	}
}

struct pl_sock *pl_adopt_dual(int fd, const struct sockaddr *a, socklen_t len, bool for_connect)
{
	if (!a || len < sizeof(struct sockaddr_in6) || a->sa_family != AF_INET6 || fd < 0 || fd >= PL_MAX_FD)
		return NULL;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
	int64_t ip = v4_of(&in6->sin6_addr);
	/* bind: the wildcard or a v4-mapped address; connect: v4-mapped only
	 * (connecting to :: means the local host over IPv6). */
	if (ip < 0 || (for_connect && !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) || !dual_candidate(fd))
		return NULL;
	pthread_mutex_lock(&pl.mu);
	struct pl_sock *s = NULL;
	int tmp = -1;
	if (pl_ensure_host() == 0 && (s = calloc(1, sizeof(*s)))) {
		s->id = -1;
		s->v6 = true;
		int fl = pl_real.fcntl(fd, F_GETFL);
		s->nonblock = fl >= 0 && (fl & O_NONBLOCK);
		tmp = pl_new_fd(s, true);
	}
	/* The kernel socket's options, read while it is still there: a
	 * copy of it (dup) outlives the swap below. */
	int kfd = tmp >= 0 ? pl_real.dup(fd) : -1;
	int fdfl = pl_real.fcntl(fd, F_GETFD); /* the program's close-on-exec wish for its number */
	/* The placeholder takes the program's number (dup3 closes the kernel
	 * socket there); the temporary number goes. */
	if (kfd < 0 || pl_real.dup3(tmp, fd, O_CLOEXEC) != fd) {
		if (tmp >= 0) {
			__atomic_store_n(&pl.fds[tmp], NULL, __ATOMIC_RELEASE);
			pl_real.close(tmp);
		}
		if (kfd >= 0)
			pl_real.close(kfd);
		free(s);
		pthread_mutex_unlock(&pl.mu);
		return NULL;
	}
	pl.fd_cloexec[fd] = fdfl >= 0 && (fdfl & FD_CLOEXEC);
	__atomic_store_n(&pl.fds[fd], s, __ATOMIC_RELEASE);
	__atomic_store_n(&pl.fds[tmp], NULL, __ATOMIC_RELEASE);
	pl_real.close(tmp);
	pthread_mutex_unlock(&pl.mu);
	carry_options(kfd, fd);
	pl_real.close(kfd);
	return s;
}
