/*
 * ipc_proto.h: what the two processes of an ipc channel share, to the
 * byte. Internal to transports/ipc (ipc_host.c is the application's end,
 * ipc_nic.c the daemon's); the contract users see is ipc_chan.h.
 *
 * Two kinds of shared state:
 *
 *  1. The Unix socket (SOCK_SEQPACKET) the application connects to. It
 *     carries HELLO (host -> daemon), WELCOME or REFUSE (daemon -> host,
 *     WELCOME with the control area's memfd, then WAKEFD with the
 *     application's wakeup eventfd), and one SEG message per
 *     shared memory segment (host -> daemon, with the segment's memfd).
 *     Its hang-up is how either side learns the other process died.
 *
 *  2. The CONTROL AREA: one memfd the daemon creates (sized from HELLO,
 *     sealed against resizing) and maps in both processes:
 *
 *       struct ipc_ctl                      (counters, flags, futex words)
 *       WR ring   [wr_cap]    ipc_wr        host -> daemon, in posting order
 *       CQ ring   [sq_depth]  ipc_cqe       daemon -> host completions
 *       MSG ring  [msg_depth] ipc_msg       daemon -> host messages
 *
 *     Every ring is single-producer/single-consumer with free-running
 *     64-bit indices: the producer publishes `prod` with a release store
 *     after writing the entry, the consumer publishes `cons` after copying
 *     it out. The daemon never trusts what the application writes here: it
 *     copies an entry before validating it, and an index that claims more
 *     than the ring holds breaks the link ("misbehaving application").
 *
 * Host memory the daemon may touch lives in SEGMENTS: memfds the host
 * creates over page ranges of its own memory (mr_register maps the memfd
 * in place, keeping the bytes), seals against shrinking and sends with
 * SEG. A region is a range of host virtual addresses; the daemon reaches
 * it only through a segment that covers it, so nothing else of the
 * application, and nothing of another application, is reachable.
 *
 * Sleep/wake: each side has a `sleeping` flag and a futex word. A side
 * about to sleep sets its flag, re-checks its rings, then futex-waits with
 * a timeout; a producer that publishes an entry reads the peer's flag
 * (after a full fence) and only then makes the futex_wake syscall. While
 * both sides poll, no syscall is made. A host thread that sleeps in a
 * kernel call on other descriptors too (epoll_wait on a mixed set) counts
 * itself in host_fd_sleepers instead and watches the wakeup eventfd, which
 * the daemon creates and writes (never reads; the host watches it
 * edge-triggered, so nobody resets it and no thread can take another's
 * wakeup).
 */
#ifndef BT_IPC_PROTO_H
#define BT_IPC_PROTO_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "../channel.h"
#include "../clock.h"

#define IPC_MAGIC 0x42544950u /* "BTIP" */
#define IPC_VERSION 3u       /* 2: the wakeup eventfd (IPC_SOCK_WAKEFD, host_fd_sleepers); 3: 160-byte messages */
#define IPC_CTL_RESERVE 16u   /* WR-ring entries kept for control entries */
#define IPC_MAX_DEPTH 4096u

/* Socket messages */
enum ipc_sock_type {
	IPC_SOCK_HELLO = 1,
	IPC_SOCK_WELCOME = 2,
	IPC_SOCK_REFUSE = 3,
	IPC_SOCK_SEG = 4,
	IPC_SOCK_WAKEFD = 5, /* daemon -> host right after WELCOME: the wakeup eventfd */
};

struct ipc_sock_msg {
	uint32_t type;       /* 0: enum ipc_sock_type */
	uint32_t magic;      /* 4: IPC_MAGIC */
	uint32_t version;    /* 8 */
	uint32_t sq_depth;   /* 12: HELLO asks, WELCOME grants */
	uint32_t msg_depth;  /* 16 */
	uint32_t seg_id;     /* 20: SEG */
	uint64_t host_start; /* 24: SEG: host virtual address of the segment */
	uint64_t len_bytes;  /* 32: SEG: segment size; WELCOME: control area size */
	char text[88];       /* 40: REFUSE: why, NUL-terminated */
};
static_assert(sizeof(struct ipc_sock_msg) == 128, "sock msg size");

/* WR-ring opcodes beyond enum chan_opcode */
enum ipc_ctl_op {
	IPC_WR_REG = 16,      /* region: lkey, rkey, access (flags), host base (loff), length (roff) */
	IPC_WR_DEREG = 17,    /* region by lkey */
	IPC_WR_SEG = 18,      /* take the next SEG message (with its memfd) from the socket */
	IPC_WR_SEG_DROP = 19, /* seg id in lkey */
};

struct ipc_wr {
	uint8_t opcode;    /* 0: enum chan_opcode or enum ipc_ctl_op */
	uint8_t pad0[3];
	uint32_t flags;    /* 4: CHAN_WR_* (REG: access) */
	uint32_t len;      /* 8: bytes (MSG: message length) */
	uint32_t lkey;     /* 12 */
	uint32_t rkey;     /* 16 */
	uint32_t pad1;     /* 20 */
	uint64_t wr_id;    /* 24 */
	uint64_t seq;      /* 32: host send-queue sequence (ops only) */
	uint64_t loff;     /* 40 */
	uint64_t roff;     /* 48 */
	uint64_t raddr;    /* 56 */
	uint8_t msg[CHAN_MSG_MAX_BYTES]; /* 64: MSG payload */
};
static_assert(sizeof(struct ipc_wr) == 64 + CHAN_MSG_MAX_BYTES, "wr size");

struct ipc_cqe {
	uint64_t wr_id;   /* 0 */
	uint64_t seq;     /* 8: polling it retires every op up to here */
	int32_t status;   /* 16 */
	uint32_t len;     /* 20 */
	uint8_t opcode;   /* 24 */
	uint8_t pad[7];
};
static_assert(sizeof(struct ipc_cqe) == 32, "cqe size");

struct ipc_msg {
	uint32_t len;
	uint8_t data[CHAN_MSG_MAX_BYTES];
	uint8_t pad[12];
};
static_assert(sizeof(struct ipc_msg) == 16 + CHAN_MSG_MAX_BYTES, "msg size");

/* One cache line per producer/consumer index so the two processes do not
 * bounce a line on every entry. */
struct ipc_line {
	uint64_t v;
	uint8_t pad[56];
};

struct ipc_ctl {
	uint32_t magic, version, sq_depth, msg_depth, wr_cap;
	uint8_t pad0[44];
	struct ipc_line wr_prod;       /* host */
	struct ipc_line wr_cons;       /* daemon */
	struct ipc_line cq_prod;       /* daemon (host after a break) */
	struct ipc_line cq_cons;       /* host */
	struct ipc_line msg_prod;      /* daemon */
	struct ipc_line msg_cons;      /* host: returns the daemon's credits */
	struct ipc_line h2n_msgs_used; /* daemon: host messages polled (the host's credits) */
	/* sleep/wake and liveness */
	uint32_t host_sleeping, host_futex; /* host_sleeping: threads in host_wait (a count) */
	uint32_t nic_sleeping, nic_futex;
	int32_t broken;       /* daemon: 0 or the chan_err that broke the link */
	uint32_t host_gone;   /* host: its end was destroyed */
	uint64_t wr_cons_at_break; /* daemon: WRs past this were never seen */
	char broken_why[96];
	/* host: threads sleeping in a kernel call on the wakeup eventfd
	 * (chan wait_fd_arm); while non-zero, the daemon writes the eventfd
	 * after publishing an entry, as it futex-wakes for host_sleeping */
	uint32_t host_fd_sleepers;
	uint8_t pad1[60];
};
static_assert(sizeof(struct ipc_ctl) % 64 == 0, "ctl size");
static_assert(offsetof(struct ipc_ctl, wr_prod) == 64, "ctl layout");

static inline uint64_t ipc_wr_ring_off(void) { return sizeof(struct ipc_ctl); }
static inline uint64_t ipc_cq_ring_off(uint32_t wr_cap) { return ipc_wr_ring_off() + (uint64_t)wr_cap * sizeof(struct ipc_wr); }
static inline uint64_t ipc_msg_ring_off(uint32_t wr_cap, uint32_t sq)
{
	return ipc_cq_ring_off(wr_cap) + (uint64_t)sq * sizeof(struct ipc_cqe);
}
static inline uint64_t ipc_ctl_bytes(uint32_t wr_cap, uint32_t sq, uint32_t msg)
{
	uint64_t b = ipc_msg_ring_off(wr_cap, sq) + (uint64_t)msg * sizeof(struct ipc_msg);
	return (b + 4095) & ~4095ull;
}
static inline uint32_t ipc_wr_cap(uint32_t sq, uint32_t msg) { return sq + msg + IPC_CTL_RESERVE; }

/* Index loads and stores across the processes: acquire and release. */
static inline uint64_t ipc_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void ipc_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

/* Futex helpers (ipc_futex.c): shared (not private) futexes, since the
 * word lives in memory mapped by two processes. */
int ipc_futex_wait(uint32_t *word, uint32_t expect, uint64_t timeout_ns);
void ipc_futex_wake(uint32_t *word);
/* Publishes after writing an entry: wakes the peer if it sleeps. */
int ipc_kick(uint32_t *sleeping, uint32_t *futex_word); /* 1 if it woke */

#endif
