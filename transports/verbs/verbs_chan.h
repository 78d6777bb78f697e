/*
 * verbs_chan.h: the channel (transports/channel.h) on an RDMA reliable
 * connection, with libibverbs for the data path and librdmacm for setup.
 * The same contract as the shm backend, with real regions, keys and a
 * real (or Soft-RoCE) NIC doing the remote checks.
 *
 * Setup is TCP-like. The NIC daemon listens on an address that belongs to
 * an RDMA device (rdma_cm finds the device from the address) and accepts
 * one connection per application; each application connects. Every
 * connection gets its own protection domain, CQ and RC queue pair on both
 * sides, so a key registered on one connection means nothing on another:
 * the device itself refuses it (IBV_WC_REM_ACCESS_ERR -> CHAN_EACCESS).
 *
 * Threads: one struct chan is driven by one thread at a time (as a shm end
 * is); different chans, and the listener, are independent.
 *
 * Time: real. chan_next_event_ns is always BT_TIME_NEVER; chan_wait blocks
 * on the completion channel and the rdma_cm event channel.
 */
#ifndef BT_VERBS_CHAN_H
#define BT_VERBS_CHAN_H

#include <stdbool.h>
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "../channel.h"

#define VERBS_DEFAULT_PORT 7471u
#define VERBS_DEFAULT_SQ 256u
#define VERBS_DEFAULT_MSG 64u
#define VERBS_NAME_MAX 64u

struct verbs_params {
	uint32_t sq_depth;   /* one-sided operations outstanding on this end; 0 -> 256 */
	uint32_t msg_depth;  /* receive slots this end holds for the peer's messages; 0 -> 64 */
	/* NULL or "": any device. Otherwise the RDMA device ("rxe0",
	 * "mlx5_0") the address must resolve to; anything else is an error,
	 * never a silent fallback to another device. */
	const char *dev;
	/* Connect only: the local address to connect from (NULL: the route's
	 * choice). Needed when both ends' addresses are on one machine. */
	const char *src_addr;
	/* -1: rdma_cm's choice (the GID of the address, of the port's default
	 * RoCE type: v2 unless configured otherwise). >= 0: the connection
	 * fails unless rdma_cm chose exactly this GID index (rdma_cm cannot be
	 * told which one to use; this makes a wrong RoCE type loud). */
	int gid_index;
};
/* sq/msg 0 (defaults), any device, no source address, gid -1. */
void verbs_default_params(struct verbs_params *p);

/* A parsed "verbs:ADDR[:PORT][,dev=NAME][,src=ADDR][,gid=N][,sq=N][,msg=N]"
 * (an IPv6 ADDR in brackets: verbs:[fd00::2]:7471). */
struct verbs_spec {
	char addr[VERBS_NAME_MAX];
	uint16_t port;                 /* VERBS_DEFAULT_PORT if absent */
	char dev[VERBS_NAME_MAX];      /* "" if absent */
	char src[VERBS_NAME_MAX];      /* "" if absent */
	int gid_index;                 /* -1 if absent */
	uint32_t sq_depth, msg_depth;  /* 0 if absent */
};
/* Returns 0, or -1 with a message naming the bad part in err. */
int verbs_parse_spec(const char *spec, struct verbs_spec *out, char *err, size_t err_len);
/* Params pointing into `s` (which must outlive them). */
void verbs_spec_params(const struct verbs_spec *s, struct verbs_params *out);

/* ---- passive side (the NIC daemon) ---- */
struct verbs_listener;
/* bind_addr NULL or "" listens on every address (then `dev` is checked per
 * connection). NULL with a message on failure. */
struct verbs_listener *verbs_listen(const char *bind_addr, uint16_t port, const struct verbs_params *p, char *err,
				    size_t err_len);
/* Readable when a connection request is waiting (for poll(2)). */
int verbs_listener_fd(const struct verbs_listener *l);
/* The port actually bound (useful with port 0). */
uint16_t verbs_listener_port(const struct verbs_listener *l);
/* Waits up to timeout_ms (0: only what is already queued, < 0: forever)
 * for one application to connect and returns its channel, fully connected
 * (messages can be posted at once). NULL with err "timeout" when nobody
 * came, or the rdma_cm / verbs error (the request is then rejected and the
 * listener stays usable). */
struct chan *verbs_accept(struct verbs_listener *l, int timeout_ms, char *err, size_t err_len);
void verbs_listener_destroy(struct verbs_listener *l);

/* ---- active side (the application) ---- */
/* Resolves, connects and returns the channel, or NULL with a message
 * ("timeout", "rejected", the rdma_cm or verbs error). */
struct chan *verbs_connect(const char *addr, uint16_t port, const struct verbs_params *p, int timeout_ms, char *err,
			   size_t err_len);

/* ---- introspection ---- */
bool verbs_chan_is(const struct chan *ch);

struct verbs_chan_info {
	char dev[VERBS_NAME_MAX];
	uint8_t port_num;
	int gid_index;          /* the source GID index the QP uses */
	char gid_type[16];      /* "RoCE v2", "RoCE v1", "IB", "?" */
	char local[VERBS_NAME_MAX], peer[VERBS_NAME_MAX]; /* addr:port */
	uint32_t qp_num;
	uint32_t sq_depth;      /* ours */
	uint32_t msg_depth;     /* the peer's receive slots for us (our credits) */
	uint32_t peer_sq_depth;
	uint32_t max_inline;    /* messages go inline when this is large enough */
};
/* Returns 0, or -1 if `ch` is not a verbs channel. */
int verbs_chan_describe(const struct chan *ch, struct verbs_chan_info *out);

struct verbs_chan_stats {
	uint64_t reads, writes, msgs_sent, msgs_received;
	uint64_t credit_msgs_sent, credit_msgs_received; /* credit-only, never surfaced */
	uint64_t credits_deferred;  /* credit-only message held for a ctl slot */
	uint64_t eagain_sq, eagain_credit;
	uint64_t cq_events;         /* completion-channel wakeups taken */
	uint64_t fd_sleeps;         /* sleeps armed on the wakeup descriptor (wait_fd_arm) */
	uint64_t sleeps;            /* chan_wait's sleeps in ppoll */
	uint64_t sleeps_timed_out;  /* of those, ended by their timeout */
	uint64_t sleeps_slept_through; /* of those, with a message or completion found
				     * right after and no completion event for it yet:
				     * an arrival that did not end the sleep, or one
				     * that landed since the timeout, its event late */
	int first_wc_status;        /* enum ibv_wc_status of the first error completion, 0 if none */
	uint32_t first_wc_vendor_err;
	int broken;                 /* 0, or the chan_err that broke the link */
	char broken_why[96];        /* what broke it, for logs */
};
/* Every counter above, in order: what the daemon and `bluetas app` print
 * as stat.verbs.<name> (RT_PRINT_STATS) and the rxe scripts read. */
#define VERBS_CHAN_STATS_FIELDS_U64(X)                                                                  \
	X(reads) X(writes) X(msgs_sent) X(msgs_received) X(credit_msgs_sent) X(credit_msgs_received)    \
	X(credits_deferred) X(eagain_sq) X(eagain_credit) X(cq_events) X(fd_sleeps) X(sleeps)          \
	X(sleeps_timed_out) X(sleeps_slept_through)
#define VERBS_CHAN_STATS_COUNT_(f) +1
static_assert(offsetof(struct verbs_chan_stats, first_wc_status) ==
		      8 * (0 VERBS_CHAN_STATS_FIELDS_U64(VERBS_CHAN_STATS_COUNT_)),
	      "VERBS_CHAN_STATS_FIELDS_U64 must list every counter of struct verbs_chan_stats");
int verbs_chan_stats(const struct chan *ch, struct verbs_chan_stats *out);

/* Number of RDMA devices present (ibv_get_device_list), 0 if none or no
 * verbs support at all: tests skip on 0. */
int verbs_device_count(void);

#endif
