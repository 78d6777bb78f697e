/*
 * channel.h: the host <-> NIC link, modelled on RDMA (a DMA engine), the
 * same contract for every backend (shm in process, verbs on rxe, verbs on
 * mlx5).
 *
 * A `struct chan` is ONE END of a reliable, connected, in-order link
 * between two sides (host and NIC). Each end:
 *
 *   - registers local memory as REGIONS (chan_mr_register). A region has
 *     fixed bounds and its own keys. Only regions registered with
 *     CHAN_ACCESS_REMOTE_* can be touched by the peer, and only through the
 *     rkey, on this link. Region descriptors are exchanged by the caller
 *     (in a message) as struct chan_remote_mr.
 *
 *   - posts ONE-SIDED operations on (local region, offset) <-> (remote
 *     region, offset, length): chan_post_read / chan_post_write. They are
 *     asynchronous: posting returns at once; the data moves later, and a
 *     completion is returned by chan_poll_cq. Operations posted on one end
 *     execute in posting order (an earlier WRITE is visible in the peer's
 *     memory before a later one). The local buffer of a WRITE must stay
 *     untouched, and the local buffer of a READ unread, until completion.
 *
 *   - sends small MESSAGES (doorbells, commands, wakeups) of at most
 *     CHAN_MSG_MAX_BYTES: chan_post_msg / chan_poll_msg. Messages are
 *     delivered once, in order. Flow control is the backend's job: post_msg
 *     returns CHAN_EAGAIN when the peer has no free receive slot (credit);
 *     a message is never dropped silently.
 *
 * Errors are values (enum chan_err). An access outside a region, with a
 * wrong key or without the permission fails with a COMPLETION whose status
 * is CHAN_EACCESS, exactly as verbs reports IBV_WC_REM_ACCESS_ERR: the
 * remote memory is never touched. After an error completion the link is
 * broken (as an RC queue pair goes to the error state): every later post
 * returns CHAN_EDISCONNECTED and outstanding operations complete with
 * CHAN_EFLUSHED.
 *
 * Completion rules: an operation posted with CHAN_WR_SIGNALED produces a
 * completion; an unsignaled one produces one only if it fails. The send
 * queue holds at most `sq_depth` operations (chan_info): an unsignaled
 * operation keeps its slot until a LATER signaled completion is polled, so
 * a caller must signal at least every sq_depth-th operation. Post returns
 * CHAN_EAGAIN when the send queue is full. Because the completion queue is
 * at least as deep as the send queue, it cannot overflow.
 *
 * What the contract leaves open is each backend's choice, and the backend
 * states it in chan_info (the channel conformance suite,
 * tests/support/chan_suite.h, holds every backend to what it states):
 *
 *   - Remote addresses (chan_info.addr_mode). A region is described to the
 *     peer with chan_mr_remote(): addr = the base address it was registered
 *     at. CHAN_ADDR_EXACT: that addr (or 0) is the only one accepted, any
 *     other is an access error (shm). CHAN_ADDR_VIRTUAL: addr + off is a
 *     virtual address the device checks against the region's bounds, so an
 *     addr shifted inside the region shifts the window and one reaching
 *     outside it is refused (verbs: what the RDMA device does).
 *   - Credit timing (chan_info.credit_mode). Always: a message in flight or
 *     not yet taken holds a credit; post_msg returns CHAN_EAGAIN with
 *     msg_depth of them held; once the receiver has taken every message
 *     and both ends keep being driven (posts, polls), the whole window
 *     comes back. CHAN_CREDIT_ON_POLL: each poll_msg returns its credit at
 *     once (shm). CHAN_CREDIT_DEFERRED: credits travel back piggybacked on
 *     the receiver's own messages, or in a credit-only message once half
 *     the window is owed and the receiver's queue is empty, so taking one
 *     message need not free a slot yet (verbs).
 *   - Key reuse (chan_info.keys_reused). Always: the keys of the live
 *     regions of one end are nonzero and distinct, and a deregistered
 *     region's keys are refused. 0: no key is ever handed out twice on a
 *     link (shm; its keys come from a seed, so runs reproduce). 1: keys are
 *     the device's and a later region may get a deregistered one's key
 *     back (verbs: MR indices are reused with a new variant byte), so a
 *     peer must drop a descriptor once the region is gone.
 */
#ifndef BT_CHANNEL_H
#define BT_CHANNEL_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

/* 160: a 32-byte command and up to 128 bytes of payload carried with it
 * (core/ctxq.h, CTXQ_INLINE_MAX_BYTES), so a small send needs no READ.
 * Every backend sizes its slots by it; the chan suite sends messages of
 * every length up to it on each. */
#define CHAN_MSG_MAX_BYTES 160

enum chan_err {
	CHAN_OK = 0,
	CHAN_EAGAIN = -1,        /* no send-queue slot or message credit now */
	CHAN_EINVAL = -2,        /* bad local argument: length 0, unknown local region */
	CHAN_EACCESS = -3,       /* remote key, bounds or permission refused */
	CHAN_ELOCAL = -4,        /* local region bounds or key refused */
	CHAN_ENOMEM = -5,        /* registration failed: out of resources */
	CHAN_EDISCONNECTED = -6, /* link broken or peer gone */
	CHAN_EFLUSHED = -7,      /* operation cancelled because the link broke */
	CHAN_ETOOBIG = -8,       /* message longer than CHAN_MSG_MAX_BYTES */
	CHAN_EIO = -9,           /* any other error completion (transport failure) */
	CHAN_EINTR = -10,        /* wait only: a signal handler ended the sleep, with
				  * SA_RESTART or without (not an error: the link is fine) */
};
const char *chan_err_name(int err);

enum chan_access {
	CHAN_ACCESS_LOCAL = 0,
	CHAN_ACCESS_REMOTE_READ = 1u << 0,
	CHAN_ACCESS_REMOTE_WRITE = 1u << 1,
};

/* A region registered on this end. `base`/`len_bytes` are local facts;
 * lkey names it in local posts, rkey is what the peer must present. */
struct chan_mr {
	void *base;
	uint64_t len_bytes;
	uint32_t lkey;
	uint32_t rkey;
	uint32_t access;
};

/* The peer's description of one of its regions, as sent over a message.
 * `addr` is an opaque base token (a virtual address for verbs, 0 for shm);
 * offsets below are relative to the region start. */
struct chan_remote_mr {
	uint64_t addr;
	uint64_t len_bytes;
	uint32_t rkey;
	uint32_t pad;
};

enum chan_opcode { CHAN_OP_READ = 1, CHAN_OP_WRITE = 2, CHAN_OP_MSG = 3 };

enum chan_wr_flags { CHAN_WR_SIGNALED = 1u << 0 };

struct chan_completion {
	uint64_t wr_id;
	int32_t status;    /* CHAN_OK or a negative chan_err */
	uint8_t opcode;    /* enum chan_opcode */
	uint32_t len_bytes;
};

enum chan_addr_mode { CHAN_ADDR_EXACT = 0, CHAN_ADDR_VIRTUAL = 1 };
enum chan_credit_mode { CHAN_CREDIT_ON_POLL = 0, CHAN_CREDIT_DEFERRED = 1 };

struct chan_info {
	const char *backend;  /* "shm", "verbs" */
	uint32_t sq_depth;    /* max outstanding one-sided operations */
	uint32_t msg_depth;   /* receive slots the peer holds for our messages */
	/* the choices the contract leaves open (see the top of this file) */
	enum chan_addr_mode addr_mode;
	enum chan_credit_mode credit_mode;
	uint8_t keys_reused;  /* 1: a deregistered region's key may come back */
};

/* How a region is described to the peer (the one way: what the peer's
 * checks expect whatever the backend's addr_mode). */
static inline struct chan_remote_mr chan_mr_remote(const struct chan_mr *mr)
{
	return (struct chan_remote_mr){.addr = (uint64_t)(uintptr_t)mr->base, .len_bytes = mr->len_bytes, .rkey = mr->rkey};
}

struct chan_sge_remote {
	const struct chan_remote_mr *mr;
	uint64_t off;
};
struct chan_sge_local {
	const struct chan_mr *mr;
	uint64_t off;
};

struct chan;
struct chan_ops {
	void (*info)(struct chan *ch, struct chan_info *out);
	/* Registers [base, base+len). Caller owns the memory and must
	 * deregister before freeing it. */
	int (*mr_register)(struct chan *ch, void *base, uint64_t len_bytes, uint32_t access,
			   struct chan_mr *out);
	int (*mr_deregister)(struct chan *ch, struct chan_mr *mr);
	/* remote -> local, `len` bytes. */
	int (*post_read)(struct chan *ch, struct chan_sge_local local, struct chan_sge_remote remote,
			 uint32_t len_bytes, uint64_t wr_id, uint32_t flags);
	/* local -> remote, `len` bytes. */
	int (*post_write)(struct chan *ch, struct chan_sge_local local, struct chan_sge_remote remote,
			  uint32_t len_bytes, uint64_t wr_id, uint32_t flags);
	/* Copies `msg` out before returning: the caller keeps its buffer. */
	int (*post_msg)(struct chan *ch, const void *msg, uint32_t len_bytes);
	/* Returns 1 and copies one message into buf (*len_out set), 0 if none,
	 * or a negative chan_err (CHAN_EDISCONNECTED when the link is gone).
	 * Frees a receive slot (returns a credit to the peer). */
	int (*poll_msg)(struct chan *ch, void *buf, uint32_t cap, uint32_t *len_out);
	/* Returns the number of completions written to out[0..max), or a
	 * negative chan_err. Never blocks. */
	int (*poll_cq)(struct chan *ch, struct chan_completion *out, int max);
	/* Earliest time at which something will arrive on this end without
	 * anyone posting anything (BT_TIME_NEVER if nothing is in flight):
	 * a message from the peer, the completion of one of this end's own
	 * signaled operations, or one of the peer's WRITEs landing in this
	 * end's memory (which its owner may be polling). An unsignaled
	 * operation's completion is no event for its poster, and the peer's
	 * READs none for this end, unless an operation may break the link,
	 * which both ends must see when it happens. The two ends together
	 * cover everything in flight that anyone can observe. The simulator
	 * uses it to advance virtual time. */
	uint64_t (*next_event_ns)(struct chan *ch);
	/* Blocks until a message or completion may be ready, or the timeout.
	 * A message credit coming back counts as something ready (verbs: the
	 * peer's credit message completes a receive), so a sender waiting for
	 * a credit is woken when the peer frees one (bt_wait relies on it).
	 * Real-time backends only; returns 0 at once where it makes no sense
	 * (the simulator never blocks). CHAN_EINTR when a signal handler
	 * ended the sleep, whatever its SA_RESTART (ipc and verbs: Linux
	 * never restarts their timed sleeps); whether the caller's blocking
	 * call goes on is decided in one place for every backend,
	 * transports/chan_signal.h. A backend that sleeps also returns
	 * CHAN_EINTR without sleeping when a handler was noted on the thread
	 * and not yet taken (chan_signal_pending), and wraps its sleep in
	 * chan_signal_sleep_begin/_end so that a handler landing just before
	 * it ends it at once. */
	int (*wait)(struct chan *ch, uint64_t timeout_ns);
	/* Optional (NULL where a backend has none): sleeping in a kernel call
	 * of the caller's (epoll_wait, poll) on a set that holds other
	 * descriptors too. wait_fd_arm declares the caller asleep and returns
	 * a descriptor that gets a new POLLIN edge at every arrival from then
	 * on (watch it with EPOLLET; the caller never reads it), or
	 * CHAN_EAGAIN when something may be ready already (do not sleep: poll
	 * the channel), or CHAN_EDISCONNECTED. Every arm that returned a
	 * descriptor is paired with one wait_fd_done once the kernel call
	 * returned, whatever woke it. Several threads may be armed at once;
	 * each arrival signals all of them. */
	int (*wait_fd_arm)(struct chan *ch);
	void (*wait_fd_done)(struct chan *ch);
	void (*destroy)(struct chan *ch);
	/* Optional (NULL: chan_ready says "maybe both"). What poll_msg and
	 * poll_cq would find now: CHAN_READY_MSG, CHAN_READY_CQ, or 0 when
	 * both would return 0, so a poll loop skips an idle end for the price
	 * of one call. Does the same due work as any other call (the shm
	 * backend executes what is due); a broken link reports both, so the
	 * polls see the error. */
	int (*ready)(struct chan *ch);
	/* next_event_ns for an end whose owner waits for messages only (a host
	 * asleep until a WAKEUP: what lands in its memory meanwhile it reads
	 * when it wakes, and the message's arrival executes what was due
	 * before it): the peer's first message, or the link's break. NULL:
	 * next_event_ns. Optional, simulator backends (last: positional
	 * initializers of the fields above stay valid). */
	uint64_t (*next_msg_ns)(struct chan *ch);
};

struct chan {
	const struct chan_ops *ops;
};

static inline void chan_info(struct chan *ch, struct chan_info *out) { ch->ops->info(ch, out); }
static inline int chan_mr_register(struct chan *ch, void *base, uint64_t len, uint32_t access,
				   struct chan_mr *out)
{
	return ch->ops->mr_register(ch, base, len, access, out);
}
static inline int chan_mr_deregister(struct chan *ch, struct chan_mr *mr)
{
	return ch->ops->mr_deregister(ch, mr);
}
static inline int chan_post_read(struct chan *ch, struct chan_sge_local l, struct chan_sge_remote r,
				 uint32_t len, uint64_t wr_id, uint32_t flags)
{
	return ch->ops->post_read(ch, l, r, len, wr_id, flags);
}
static inline int chan_post_write(struct chan *ch, struct chan_sge_local l, struct chan_sge_remote r,
				  uint32_t len, uint64_t wr_id, uint32_t flags)
{
	return ch->ops->post_write(ch, l, r, len, wr_id, flags);
}
/* The contract's rule for a message, checked by every backend's post_msg
 * once the link is known to be up: CHAN_EINVAL for none or an empty one,
 * CHAN_ETOOBIG past CHAN_MSG_MAX_BYTES, else 0. */
static inline int chan_msg_check(const void *msg, uint32_t len)
{
	if (!msg || len == 0)
		return CHAN_EINVAL;
	return len > CHAN_MSG_MAX_BYTES ? CHAN_ETOOBIG : 0;
}
static inline int chan_post_msg(struct chan *ch, const void *msg, uint32_t len)
{
	return ch->ops->post_msg(ch, msg, len);
}
static inline int chan_poll_msg(struct chan *ch, void *buf, uint32_t cap, uint32_t *len_out)
{
	return ch->ops->poll_msg(ch, buf, cap, len_out);
}
static inline int chan_poll_cq(struct chan *ch, struct chan_completion *out, int max)
{
	return ch->ops->poll_cq(ch, out, max);
}
static inline uint64_t chan_next_event_ns(struct chan *ch) { return ch->ops->next_event_ns(ch); }
static inline uint64_t chan_next_msg_ns(struct chan *ch)
{
	return ch->ops->next_msg_ns ? ch->ops->next_msg_ns(ch) : ch->ops->next_event_ns(ch);
}
enum chan_ready_bits { CHAN_READY_MSG = 1u << 0, CHAN_READY_CQ = 1u << 1 };
static inline int chan_ready(struct chan *ch)
{
	return ch->ops->ready ? ch->ops->ready(ch) : (int)(CHAN_READY_MSG | CHAN_READY_CQ);
}
static inline int chan_wait(struct chan *ch, uint64_t timeout_ns) { return ch->ops->wait(ch, timeout_ns); }
static inline bool chan_has_wait_fd(const struct chan *ch) { return ch->ops->wait_fd_arm != NULL; }
static inline int chan_wait_fd_arm(struct chan *ch) { return ch->ops->wait_fd_arm(ch); }
static inline void chan_wait_fd_done(struct chan *ch) { ch->ops->wait_fd_done(ch); }
static inline void chan_destroy(struct chan *ch) { ch->ops->destroy(ch); }

#endif
