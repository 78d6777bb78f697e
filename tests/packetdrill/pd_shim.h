/*
 * pd_shim.h: the state behind packetdrill's `struct packetdrill_interface`
 * (pd_shim.c fills it): the world (pd_world.h), the socket table and the
 * one lock every call takes. Split so the socket calls (pd_sock.c), the
 * readiness calls (pd_poll.c) and the profile parser (pd_profile.c) can
 * live in files of their own.
 *
 * Threads: packetdrill runs blocking calls on a second thread. Every call
 * holds `mu`. A call that must block sleeps on `changed` (a real sleep, as
 * packetdrill reads the thread's state in /proc to see it is blocked);
 * whoever moves the world on (inject, time, another call) wakes it and
 * waits until it has looked again (`acked`), so the order in which
 * things happen does not depend on the scheduler.
 */
#ifndef BT_PD_SHIM_H
#define BT_PD_SHIM_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/bluetas.h"
#include "pd_world.h"

#define PD_MAX_FDS 1024
#define PD_EPOLL_MAX_ITEMS 64

enum pd_sock_kind { PD_SOCK_FRESH = 0, PD_SOCK_LISTEN, PD_SOCK_CONN };

struct pd_sock {
	enum pd_sock_kind kind;
	bool nonblock;
	bool linger_abort;     /* SO_LINGER {1, 0}: close resets */
	bool err_consumed;     /* read/write reported the error once (then EOF/EPIPE) */
	bool connect_reported; /* a non-blocking connect's outcome was returned */
	uint16_t bound_port;
	int id;                /* listener or connection id */
	uint32_t sndbuf_shown, rcvbuf_shown; /* what getsockopt SO_SNDBUF/SO_RCVBUF returns */
	bool bufs_rounded;     /* freebsd-like: rounded up to the MSS once open */
	bool keepalive, reuseaddr;
	bool inq;              /* TCP_INQ: recvmsg reports what stays to read */
	int pmtudisc;          /* IP_MTU_DISCOVER as set: shown back, nothing else (every segment has DF) */
	struct bt_opts opts;   /* kept until listen/connect */
	uint64_t rx_taken_bytes; /* read by the application: with what is ready, all that arrived */
};

struct pd_epoll_item {
	int fd;
	uint32_t events;
	uint64_t data;
	uint32_t reported;     /* edge-triggered: what was reported last */
	uint64_t rx_arrived_seen; /* edge-triggered: bytes arrived when last reported */
	bool disabled;         /* EPOLLONESHOT fired */
};

struct pd_epoll {
	int n;
	struct pd_epoll_item items[PD_EPOLL_MAX_ITEMS];
};

enum pd_profile { PD_PROFILE_DC = 0, PD_PROFILE_LINUX, PD_PROFILE_FREEBSD };

struct pd_shim {
	pthread_mutex_t mu;
	pthread_cond_t changed, acked;
	uint64_t gen;          /* bumped on every change a sleeper must see */
	bool waiting;          /* a call sleeps on `changed` */
	uint64_t waiter_seen;  /* the gen it last looked at */
	bool returned_pending; /* a sleeping call returned; its thread has not read the clock since */
	pthread_t returned_tid;
	struct pd_world *w;
	enum pd_profile profile;
	uint32_t local_ip;
	uint32_t host_tx_ring, host_rx_ring; /* the host's ring sizes: buffer limits */
	int default_mss;       /* TCP_MAXSEG before the connection opens */
	uint32_t default_sndbuf, default_rcvbuf; /* the profile's socket buffers */
	bool verbose;
	int devnull;
	struct pd_sock *socks[PD_MAX_FDS];
	struct pd_epoll *eps[PD_MAX_FDS];
};

/* pd_shim.c */
/* Wakes a sleeping call and waits (bounded) until it looked again. */
void pd_kick(struct pd_shim *s);
/* Sleeps until the world changed; with a deadline (virtual ns, 0: none)
 * returns false once it has passed. */
bool pd_sleep(struct pd_shim *s, uint64_t deadline_ns);
/* The call is done blocking: the main thread need not wait for it. */
void pd_sleep_done(struct pd_shim *s);
struct pd_sock *pd_sock_of(struct pd_shim *s, int fd);
int pd_new_fd(struct pd_shim *s);

/* pd_sock.c: packetdrill_interface's socket calls (userdata is the shim) */
int pd_socket(void *u, int domain, int type, int protocol);
int pd_bind(void *u, int fd, const struct sockaddr *addr, socklen_t addrlen);
int pd_listen(void *u, int fd, int backlog);
int pd_accept(void *u, int fd, struct sockaddr *addr, socklen_t *addrlen);
int pd_connect(void *u, int fd, const struct sockaddr *addr, socklen_t addrlen);
ssize_t pd_read(void *u, int fd, void *buf, size_t count);
ssize_t pd_readv(void *u, int fd, const struct iovec *iov, int iovcnt);
ssize_t pd_recv(void *u, int fd, void *buf, size_t len, int flags);
ssize_t pd_recvfrom(void *u, int fd, void *buf, size_t len, int flags, struct sockaddr *src, socklen_t *srclen);
ssize_t pd_recvmsg(void *u, int fd, struct msghdr *msg, int flags);
ssize_t pd_write(void *u, int fd, const void *buf, size_t count);
ssize_t pd_writev(void *u, int fd, const struct iovec *iov, int iovcnt);
ssize_t pd_send(void *u, int fd, const void *buf, size_t len, int flags);
ssize_t pd_sendto(void *u, int fd, const void *buf, size_t len, int flags, const struct sockaddr *dst,
		  socklen_t dstlen);
ssize_t pd_sendmsg(void *u, int fd, const struct msghdr *msg, int flags);
int pd_fcntl(void *u, int fd, int cmd, ...);
int pd_ioctl(void *u, int fd, unsigned long request, ...);
int pd_close(void *u, int fd);
int pd_shutdown(void *u, int fd, int how);
int pd_getsockopt(void *u, int fd, int level, int optname, void *optval, socklen_t *optlen);
int pd_setsockopt(void *u, int fd, int level, int optname, const void *optval, socklen_t optlen);

/* pd_poll.c */
int pd_poll(void *u, struct pollfd *fds, nfds_t nfds, int timeout_ms);
int pd_epoll_create(void *u, int size);
int pd_epoll_ctl(void *u, int epfd, int op, int fd, struct epoll_event *event);
int pd_epoll_wait(void *u, int epfd, struct epoll_event *events, int maxevents, int timeout_ms);
/* poll(2) bits of one fd right now (POLLIN, POLLOUT, POLLRDHUP, POLLHUP, POLLERR). */
uint32_t pd_fd_events(struct pd_shim *s, int fd);

/* pd_profile.c */
/* Parses --so_flags ("profile=linux local_ip=192.168.0.2 verbose");
 * fills the configurations; -1 with a message on a bad flag. */
int pd_profile_parse(const char *flags, struct pd_shim *s, struct nic_config *nic, struct bt_host_config *host,
		     char *err, size_t err_len);

#endif
