/*
 * pl_internal.h: libbluetas_preload.so, the POSIX socket calls of an
 * unmodified program on the stack (docs/sockets.md).
 *
 * Every TCP/IPv4 socket the program creates becomes a STACK SOCKET: a
 * kernel eventfd holds its descriptor number (so numbers never collide
 * with the program's other descriptors, and dup/dup2/close keep the
 * kernel's numbering rules), and the fd table below maps that number to a
 * struct pl_sock on the host library (core/bluetas.h). Every other
 * descriptor goes to libc untouched (dlsym RTLD_NEXT).
 *
 * Locking: one process-wide mutex (pl.mu) around every host-library call;
 * the host library is one context per process. It is never held while a
 * thread sleeps: a blocking call polls under the lock, releases it and
 * sleeps on the channel in slices of at most PL_SLICE_NS. Cost: one
 * uncontended lock/unlock (~20 ns) per socket call; threads of one
 * process serialize on the stack (docs/sockets.md, "Threads").
 */
#ifndef BT_PL_INTERNAL_H
#define BT_PL_INTERNAL_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/bluetas.h"

#define PL_MAX_FD 65536
#define PL_SLICE_NS 2000000ull  /* longest sleep before looking at kernel fds again */
/* Longest sleep on the wakeup descriptor, and of a blocking call on the
 * channel: the daemon wakes the sleepers, so this only bounds the cost of
 * a wakeup lost to a fault (and of a dead daemon noticed by the polls that
 * follow). Long slices also keep a signal from falling between two sleeps,
 * where no syscall is there to return EINTR. */
#define PL_WAKE_FD_CAP_NS 200000000ull
#define PL_KERNEL_LOOK_NS 10000ull /* a spinning epoll_wait asks the kernel set this often */
#define EXPORT __attribute__((visibility("default")))

enum pl_kind { PL_NEW = 0, PL_LISTEN, PL_CONNECTING, PL_CONN, PL_DEAD };

struct pl_sock {
	int refs;          /* descriptors naming it (dup) */
	enum pl_kind kind;
	int id;            /* bt connection or listener id, -1 none */
	bool nonblock;
	bool forked;       /* inherited by a child: unusable there */
	int pending_err;   /* errno for SO_ERROR (connect failures) */
	struct bt_addr local, peer;
	bool bound;
	struct bt_opts opts; /* options set before connect/listen */
	int so_reuseaddr, so_reuseport, so_keepalive, keepidle, keepintvl, keepcnt;
	int ip_tos, oobinline; /* kept and read back only (docs/sockets.md) */
	struct linger linger;
	uint64_t rcvtimeo_ns, sndtimeo_ns; /* 0: none */
	int sndbuf, rcvbuf, nodelay, maxseg, cork, user_timeout_ms;
	bool more_corked; /* MSG_MORE corked the connection (TCP_CORK off) */
	bool v6;          /* an AF_INET6 dual-stack socket the stack serves: v4-mapped addresses (pl_dual.c) */
	bool shut_rd, shut_wr;
	/* Bumped (atomically, any thread) when a read or accept finds the
	 * socket empty or drains it (rd_gen), and when a write finds the TX
	 * ring full or fills it (wr_gen): EPOLLET's edges (pl_poll.c). */
	uint32_t rd_gen, wr_gen;
	int relays;       /* fork relays holding a name of it (pl_fork.c; with pl.mu) */
	struct pl_relay *pending_relay; /* the relay a fork under way makes for it */
};

/* Real libc entry points. */
struct pl_libc {
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	ssize_t (*sendfile64)(int, int, off_t *, size_t);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
	int (*recvmmsg)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
	ssize_t (*splice)(int, loff_t *, int, loff_t *, size_t, unsigned int);
	int (*shutdown)(int, int);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
	int (*epoll_create)(int);
	int (*epoll_create1)(int);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	int (*epoll_pwait2)(int, struct epoll_event *, int, const struct timespec *, const sigset_t *);
};

struct pl_epoll_entry;

struct pl_state {
	pthread_mutex_t mu;
	struct bt_host *host;   /* NULL until the first stack socket */
	struct chan *ch;
	struct bt_clock clock;
	bool init_failed;
	char init_err[512];
	struct pl_sock *fds[PL_MAX_FD];
	void *ep[PL_MAX_FD];    /* per epoll fd: struct pl_epoll (pl_poll.c) */
	/* Per stack-socket name: whether the program wants it closed on exec
	 * (the placeholder always is; a forked child's relayed copy gets the
	 * program's wish, pl_fork.c). */
	bool fd_cloexec[PL_MAX_FD];
	pid_t pid;              /* the process that owns the stack context */
	uint64_t spin_mean_ns;  /* the spin policy's learned mean wait (pl_spin_learn) */
};
extern struct pl_state pl;
/* libc's entry points, resolved at the library's constructor, or at the
 * first intercepted call if that comes first: another library's
 * constructor may call read or close before ours ran (sshd's libcap-ng
 * does, and jumped to a null pointer). Every use goes through pl_libc(). */
extern struct pl_libc pl_real_fns;
extern bool pl_real_loaded;
void pl_load_libc(void);
static inline struct pl_libc *pl_libc(void)
{
	if (__builtin_expect(!__atomic_load_n(&pl_real_loaded, __ATOMIC_ACQUIRE), 0))
		pl_load_libc();
	return &pl_real_fns;
}
#define pl_real (*pl_libc())

/* pl_core.c */
void pl_log_once(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pl_ensure_host(void);
/* -1 with errno e: what a failing intercepted call returns. */
static inline int pl_fail(int e)
{
	errno = e;
	return -1;
}
/* pl_dual.c: a socket address in (0, or -1 with errno) and out (the
 * family of s: sockaddr_in6 with v4-mapped addresses for a v6 one). */
int pl_addr_in(const struct pl_sock *s, const struct sockaddr *a, socklen_t len, struct bt_addr *out);
void pl_addr_out(const struct pl_sock *s, const struct bt_addr *a, struct sockaddr *out, socklen_t *len);
/* A kernel AF_INET6 TCP socket without IPV6_V6ONLY that the program binds
 * to :: or a v4-mapped address (connects to a v4-mapped one, for_connect)
 * becomes a stack socket under the same number: the new pl_sock, or NULL
 * (not such a socket, or no stack: the kernel keeps it). */
struct pl_sock *pl_adopt_dual(int fd, const struct sockaddr *a, socklen_t len, bool for_connect);                 /* 0, or -1 with errno */
static inline struct pl_sock *pl_sock_of(int fd)
{
	return fd >= 0 && fd < PL_MAX_FD ? __atomic_load_n(&pl.fds[fd], __ATOMIC_ACQUIRE) : NULL;
}
int pl_drain(void);                       /* bt_poll until empty; events taken; with pl.mu */
uint64_t pl_now_ns(void);
/* How long a wait polls before it sleeps: BLUETAS_SPIN_US (default
 * SPIN_POLICY_PRELOAD_BUDGET_NS, 15 us) to twice that while waits have been ending within twice
 * it, 0 (sleep at once) while they have not (core/util/spin_policy.h;
 * BLUETAS_SPIN_ADAPT=0 always spins the whole budget). Spinning is CPU the
 * application pays for latency. Read it once per wait. */
uint64_t pl_spin_ns(void);
/* A wait whose first look found nothing ended, with something ready,
 * waited_ns after it began: teaches the spin policy. */
void pl_spin_learn(uint64_t waited_ns);
/* Sleeps up to `ns` (at most cap_ns; PL_SLICE_NS when the ARM could not
 * be posted) on the channel (pl.mu NOT held). 0, or -1 with errno EINTR
 * when a signal handler ended the sleep, whatever its SA_RESTART (the
 * backends sleep in calls Linux never restarts): poll and epoll_wait
 * return that EINTR as Linux's do; a blocking socket call asks
 * pl_call_interrupted. */
int pl_sleep_on_stack(uint64_t ns, uint64_t cap_ns);
/* In a blocking socket call, after a sleep (`wait_interrupted`: it
 * returned EINTR) or a turn of polling: whether a signal handler that ran
 * on this thread since the last ask ends the call with EINTR, by the
 * kernel's rule (transports/chan_signal.h: not when every handler that
 * ran has SA_RESTART and the call has no timeout of its own,
 * `has_timeout`: SO_RCVTIMEO/SO_SNDTIMEO). Forgets the handlers it saw;
 * call it once at the call's start to forget older ones. */
bool pl_call_interrupted(bool wait_interrupted, bool has_timeout);
/* Sleeping in a kernel call together with kernel descriptors (pl.mu NOT
 * held): arms the host (ARM posted, core/bluetas.h) and the channel's
 * wakeup descriptor. 1 with *fd_out (watch it EPOLLET; call pl_wake_done
 * after the kernel call, whatever woke it), 0 when something is ready
 * (do not sleep), -1 when the channel has none or the ARM could not be
 * posted (sleep in PL_SLICE_NS slices instead). */
int pl_wake_arm(int *fd_out);
void pl_wake_done(void);
uint32_t pl_readiness(struct pl_sock *s); /* POLL* bits; with pl.mu */
int pl_new_fd(struct pl_sock *s, bool cloexec); /* a placeholder descriptor for s */
static inline uint32_t pl_gen(uint32_t *g)
{
	return __atomic_load_n(g, __ATOMIC_RELAXED);
}
static inline void pl_gen_bump(uint32_t *g)
{
	__atomic_fetch_add(g, 1, __ATOMIC_RELAXED);
}
/* pl_fork.c: fork's handlers (pthread_atfork), and the hook pl_sock_unref
 * calls when a name of a socket with relays goes (with pl.mu). */
void pl_fork_prepare(void);
void pl_fork_parent(void);
void pl_fork_child(void);
void pl_relay_sock_released(struct pl_sock *s);
void pl_sock_unref(struct pl_sock *s);    /* with pl.mu */

#endif
