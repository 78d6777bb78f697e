/*
 * ipc_common.c: what both ends of the ipc channel use: futexes, the
 * socket messages with their file descriptors, the spec parser.
 */
#define _GNU_SOURCE
#include "ipc_internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int ipc_futex_wait(uint32_t *word, uint32_t expect, uint64_t timeout_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000ull),
			      .tv_nsec = (long)(timeout_ns % 1000000000ull)};
	/* FUTEX_WAIT, not FUTEX_WAIT_PRIVATE: the word is in memory two
	 * processes map. The timeout is relative. */
	return (int)syscall(SYS_futex, word, FUTEX_WAIT, expect, &ts, NULL, 0);
}

void ipc_futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int ipc_kick(uint32_t *sleeping, uint32_t *futex_word)
{
	/* Pairs with the fence in the sleeper between setting its flag and
	 * re-checking the rings: either it sees our entry or we see its flag. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!__atomic_load_n(sleeping, __ATOMIC_RELAXED))
		return 0;
	__atomic_fetch_add(futex_word, 1, __ATOMIC_SEQ_CST);
	ipc_futex_wake(futex_word);
	return 1;
}

int ipc_sock_send(int fd, const struct ipc_sock_msg *m, int pass_fd)
{
	struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (pass_fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	ssize_t n;
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*m) ? 0 : -1;
}

int ipc_sock_recv(int fd, struct ipc_sock_msg *m, int *fd_out, int timeout_ms)
{
	*fd_out = -1;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int pr;
	do
		pr = poll(&p, 1, timeout_ms);
	while (pr < 0 && errno == EINTR);
	if (pr == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	ssize_t n;
	do
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	/* Take every passed descriptor before judging the message, so that a
	 * malformed one never leaks them. */
	int got = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int x;
			memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < 0)
				got = x;
			else
				close(x);
		}
	}
	if (n == 0) {
		errno = ECONNRESET;
		goto bad;
	}
	if (n != (ssize_t)sizeof(*m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (n >= 0)
			errno = EPROTO;
		goto bad;
	}
	m->text[sizeof(m->text) - 1] = 0;
	*fd_out = got;
	return 0;
bad:
	if (got >= 0)
		close(got);
	return -1;
}

int ipc_sock_hung_up(int fd)
{
	struct pollfd p = {.fd = fd, .events = 0};
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

int ipc_parse_spec(const char *spec, struct ipc_spec *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	if (!spec || strncmp(spec, "ipc:", 4) != 0) {
		snprintf(err, err_len, "'%s' is not an ipc channel (ipc:PATH[,sq=N][,msg=N])", spec ? spec : "");
		return -1;
	}
	const char *p = spec + 4;
	size_t plen = strcspn(p, ",");
	if (plen == 0 || plen >= sizeof(out->path)) {
		snprintf(err, err_len, "ipc: the socket path must be 1 to %zu bytes", sizeof(out->path) - 1);
		return -1;
	}
	memcpy(out->path, p, plen);
	p += plen;
	while (*p == ',') {
		p++;
		size_t n = strcspn(p, ",");
		uint32_t *dst = !strncmp(p, "sq=", 3) ? &out->sq_depth : !strncmp(p, "msg=", 4) ? &out->msg_depth : NULL;
		if (!dst) {
			snprintf(err, err_len, "ipc: unknown option '%.*s' (sq=N, msg=N)", (int)n, p);
			return -1;
		}
		const char *v = strchr(p, '=') + 1;
		char *end;
		errno = 0;
		unsigned long x = strtoul(v, &end, 10);
		if (end != p + n || end == v || errno || x < 1 || x > IPC_MAX_DEPTH) {
			snprintf(err, err_len, "ipc: '%.*s' needs a number from 1 to %u", (int)n, p, IPC_MAX_DEPTH);
			return -1;
		}
		*dst = (uint32_t)x;
		p += n;
	}
	return 0;
}

uint32_t ipc_random_key(void)
{
	uint32_t k = 0;
	while (k == 0) {
		if (getrandom(&k, sizeof(k), 0) != (ssize_t)sizeof(k)) {
			/* No entropy source: keys only need to differ within a
			 * connection, which the callers check. */
			static _Atomic uint32_t ctr = 0x9e3779b9u;
			k = atomic_fetch_add(&ctr, 0x61c88647u);
		}
	}
	return k;
}

bool ipc_chan_is(const struct chan *ch) { return ch && (ch->ops == &ipc_host_ops || ch->ops == &ipc_nic_ops); }

int ipc_chan_check(struct chan *ch)
{
	if (!ipc_chan_is(ch))
		return CHAN_EINVAL;
	return ch->ops == &ipc_host_ops ? ipc_host_check(ch) : ipc_nic_check(ch);
}

int ipc_chan_broken(const struct chan *ch)
{
	if (!ipc_chan_is(ch))
		return CHAN_EINVAL;
	return ch->ops == &ipc_host_ops ? ipc_host_broken(ch) : ipc_nic_broken(ch);
}

int ipc_chan_stats(const struct chan *ch, struct ipc_chan_stats *out)
{
	if (!ipc_chan_is(ch) || !out)
		return -1;
	return ch->ops == &ipc_host_ops ? ipc_host_stats(ch, out) : ipc_nic_stats(ch, out);
}
