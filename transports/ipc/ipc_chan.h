/*
 * ipc_chan.h: the channel (transports/channel.h) between processes on one
 * host, over shared memory. TAS's own deployment, and what a machine
 * without RDMA runs natively: `bluetas nic --channel ipc:PATH` listens on
 * a Unix socket; each application connects (ipc_connect), and from then on
 * everything but setup moves through shared memory (transports/ipc/
 * ipc_proto.h has the byte layout).
 *
 * The daemon (NIC end) is the DMA engine of both ends, as in shm and on a
 * real NIC: it executes the one-sided operations the application posts and
 * its own, into that application's memory only. An application never maps
 * the daemon's memory or another application's: what it shares is its own
 * registered memory (memfds sent over the socket with SCM_RIGHTS) and one
 * control area per connection. Keys are per connection: a key of one
 * connection means nothing on another, and the check is the daemon's.
 *
 * Same contract as shm and verbs, including the error completions
 * (CHAN_EACCESS for a bad key, bound or permission, after which the link is
 * broken and outstanding operations flush).
 *
 * Choices the contract leaves open (shared with shm where it has them):
 *   - remote->addr must be 0 or the peer region's base address.
 *   - mr_register on the HOST end turns the pages holding the region into
 *     shared memory in place (same addresses, same bytes: a memfd mapped
 *     over them; pages of zeros are left holes in the memfd, so a fresh
 *     region costs no memory until used). Other data in the first and last page of the region is
 *     therefore visible to the daemon, never to another application; the
 *     daemon touches only the region's bytes. Memory registered on the
 *     host end must be readable and writable, and must not be written by
 *     another thread during the registration.
 *   - Operations the daemon posts execute at once (their completion waits
 *     in the daemon's CQ for poll_cq); the application's execute when the
 *     daemon next calls any function on its end.
 *   - The daemon processes at most IPC_BUDGET entries of one application
 *     per call, so one busy application cannot starve the others.
 *
 * Liveness: the daemon notices an application that died by the socket's
 * hang-up (checked in ipc_chan_check, which the daemon calls every
 * millisecond or so) or by the host_gone flag; the application notices a
 * dead daemon by the hang-up (checked whenever it is about to sleep, and
 * every IPC_HUP_CHECK_POLLS empty polls). A misbehaving application
 * (indices past its rings, messages without credit, forged segments)
 * breaks its own link with a reason, nothing else.
 *
 * Threads: one struct chan is driven by one thread at a time; different
 * chans and the listener are independent.
 */
#ifndef BT_IPC_CHAN_H
#define BT_IPC_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../channel.h"

#define IPC_DEFAULT_SQ 256u
#define IPC_DEFAULT_MSG 64u
#define IPC_BUDGET 256u
#define IPC_HUP_CHECK_POLLS 4096u
#define IPC_PATH_MAX 108u

struct ipc_params {
	uint32_t sq_depth;  /* one-sided ops outstanding per end; 0 -> 256 */
	uint32_t msg_depth; /* message slots per direction; 0 -> 64 */
};

/* Parses "ipc:PATH[,sq=N][,msg=N]". 0, or -1 with a message. */
struct ipc_spec {
	char path[IPC_PATH_MAX];
	uint32_t sq_depth, msg_depth;
};
int ipc_parse_spec(const char *spec, struct ipc_spec *out, char *err, size_t err_len);

/* ---- the daemon's side ---- */
struct ipc_listener;
/* Creates the socket at `path` (an existing socket file there is replaced;
 * any other file is an error). NULL with a message. */
struct ipc_listener *ipc_listen(const char *path, char *err, size_t err_len);
/* Readable when an application is waiting (for poll(2)). */
int ipc_listener_fd(const struct ipc_listener *l);
/* Accepts one waiting application, or NULL: err "timeout" when nobody is
 * waiting (never blocks longer than timeout_ms), else why the application
 * was refused (it gets a REFUSE with the reason). */
struct chan *ipc_accept(struct ipc_listener *l, int timeout_ms, char *err, size_t err_len);
/* Removes the socket file. Accepted chans live on. */
void ipc_listener_destroy(struct ipc_listener *l);

/* ---- the application's side ---- */
struct chan *ipc_connect(const char *path, const struct ipc_params *p, int timeout_ms, char *err, size_t err_len);

/* ---- both ---- */
bool ipc_chan_is(const struct chan *ch);
/* Looks at the socket for a hang-up (one poll(2) syscall) and breaks the
 * link if the peer process is gone. Returns the link's broken status. */
int ipc_chan_check(struct chan *ch);

struct ipc_chan_stats {
	uint64_t reads, writes, msgs_sent, msgs_received;
	uint64_t bytes_read, bytes_written;
	uint64_t access_errors;
	uint64_t wakeups_sent;   /* futex_wake syscalls made for the peer */
	uint64_t sleeps;         /* futex_wait syscalls made */
	uint64_t fd_sleeps;      /* host: sleeps armed on the wakeup eventfd (wait_fd_arm) */
	uint64_t fd_wakeups_sent; /* daemon: writes to the application's wakeup eventfd */
	uint32_t segments, regions;
	pid_t peer_pid;
	int broken;              /* 0 or the chan_err that broke the link */
	char broken_why[96];
};
int ipc_chan_stats(const struct chan *ch, struct ipc_chan_stats *out);
/* 0 or the chan_err that broke the link: what the stats say, without
 * copying them (the daemon asks every application on every poll). */
int ipc_chan_broken(const struct chan *ch);

/* Test hook: the host end's view of its control area (to play a hostile
 * application in the isolation tests). NULL on a NIC end. */
void *ipc_host_ctl(struct chan *ch);
/* Test hook: the host end's socket (-1 on a NIC end). */
int ipc_host_socket(struct chan *ch);
/* Test hook (negative control of the wakeup eventfd): a NIC end that
 * never writes its application's eventfd, as before it existed. */
void ipc_nic_mute_wake_fd(struct chan *ch);

#endif
