/*
 * bluetas.h: the host library, the application's view of the stack.
 *
 * A `struct bt_host` is one application's context: its memory region
 * (event ring + per-connection RX/TX payload rings) registered on its own
 * channel to the NIC, and the connection table. Nothing here blocks except
 * bt_wait. Every call returns a value >= 0 or a negative enum bt_err.
 *
 * Data path: bt_send copies into the connection's TX ring in host memory
 * and rings a doorbell (a channel message); the NIC reads the payload with
 * one-sided READs when the window allows. The NIC writes received payload
 * into the RX ring and an event into the event ring; bt_poll turns events
 * into readiness (edge-triggered: drain with bt_recv/bt_send until
 * BT_EAGAIN). No doorbell is ever lost: if the channel has no credit, the
 * host remembers what it owes and retries on the next bt_poll.
 */
#ifndef BT_BLUETAS_H
#define BT_BLUETAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../transports/channel.h"
#include "../transports/clock.h"

enum bt_err {
	BT_OK = 0,
	BT_EAGAIN = -1,        /* would block: ring full or empty, nothing yet */
	BT_EINVAL = -2,        /* bad argument or handle */
	BT_ENOMEM = -3,        /* no free connection slot or memory */
	BT_ECONNREFUSED = -4,  /* peer answered the SYN with RST */
	BT_ECONNRESET = -5,    /* peer reset an open connection */
	BT_ETIMEDOUT = -6,     /* retransmissions exhausted */
	BT_EPIPE = -7,         /* send after close or after the connection ended */
	BT_ENOTCONN = -8,      /* not (yet) connected */
	BT_ECHANNEL = -9,      /* the host<->NIC channel failed */
	BT_EADDRINUSE = -10,   /* port already listened on */
	BT_EHOSTUNREACH = -11, /* ARP resolution failed */
	BT_ENICREFUSED = -12,  /* the NIC rejected a command as invalid */
	BT_ENOBUFS = -13,      /* NIC out of flows */
	BT_ECONNABORTED = -14, /* listener closed before the connection was accepted */
};
const char *bt_strerror(int err);
/* The errno a POSIX socket call sets for the same failure (BT_ECHANNEL:
 * ENETDOWN; one with no counterpart: EIO), for the layers that present
 * this API as sockets (hw/preload, the packetdrill shim). */
int bt_errno(int err);

struct bt_host_config {
	uint32_t max_conns;       /* connection slots (each owns RX+TX rings) */
	uint32_t rx_ring_bytes;   /* per connection */
	uint32_t tx_ring_bytes;   /* per connection */
	uint32_t event_entries;   /* NIC -> host event ring, 32 B each */
	uint64_t doorbell_refresh_ns; /* re-ring a doorbell unconfirmed this long (0: 1 ms) */
	bool doorbell_no_inline;  /* never carry payload in a DOORBELL (core/ctxq.h, Inline
				   * payload): every send is READ by the NIC (an A/B, a test) */
};
void bt_host_default_config(struct bt_host_config *cfg);

/* Readiness reported by bt_poll. */
enum bt_ev_flags {
	BT_EV_CONNECTED = 1u << 0,  /* bt_connect finished (err == 0) */
	BT_EV_READABLE = 1u << 1,   /* new bytes (or EOF) to bt_recv */
	BT_EV_WRITABLE = 1u << 2,   /* TX ring space freed */
	BT_EV_ACCEPTABLE = 1u << 3, /* id is a listener with a connection to accept */
	BT_EV_EOF = 1u << 4,        /* peer closed its side; bt_recv returns 0 after the data */
	BT_EV_ERROR = 1u << 5,      /* connection failed; err says why */
	BT_EV_CLOSED = 1u << 6,     /* NIC released the connection */
};

struct bt_event {
	int id;          /* connection id, or listener id for BT_EV_ACCEPTABLE */
	uint32_t flags;  /* enum bt_ev_flags */
	int err;         /* with BT_EV_ERROR */
};

struct bt_host_stats {
	uint64_t events_consumed;
	uint64_t doorbells_sent;
	uint64_t doorbells_deferred; /* channel had no credit; retried later */
	uint64_t doorbells_inline;   /* of doorbells_sent, those carrying their new TX bytes */
	uint64_t doorbells_refreshed; /* re-rung because the NIC never confirmed (a doorbell or
				       * its echo was lost: never in a run without channel faults) */
	uint64_t arms_deferred;      /* bt_wait_arm found no credit for a command or the ARM:
				      * the caller stayed awake (not an error) */
	uint64_t waits_timed_out;    /* sleeps ended by the caller's timeout (idle is fine) */
	uint64_t lost_wakeups;       /* of those, ended with events waiting in the ring or
				      * commands owed: a WAKEUP that should have come did not.
				      * Never in a run without channel faults. */
	uint64_t tx_bytes, rx_bytes;
	uint32_t conns_in_use;
};
/* Every field of struct bt_host_stats, in order, for code that prints
 * counters or looks them up by name (`bluetas app/nic --stats`, the
 * scenario engine): the assert fails the build when one is missing. */
#define BT_HOST_STATS_FIELDS_U64(X)                                                                         \
	X(events_consumed) X(doorbells_sent) X(doorbells_deferred) X(doorbells_inline) X(doorbells_refreshed) \
	X(arms_deferred)                                                                                       \
	X(waits_timed_out) X(lost_wakeups) X(tx_bytes) X(rx_bytes)
#define BT_HOST_STATS_FIELDS_U32(X) X(conns_in_use)
#define BT_HOST_STATS_COUNT_(f) +1
_Static_assert(sizeof(struct bt_host_stats) ==
		       (8 * (0 BT_HOST_STATS_FIELDS_U64(BT_HOST_STATS_COUNT_)) +
			4 * (0 BT_HOST_STATS_FIELDS_U32(BT_HOST_STATS_COUNT_)) + 7) / 8 * 8,
	       "BT_HOST_STATS_FIELDS_* must list every field of struct bt_host_stats");

struct bt_host;

/* Registers the host region on `ch` and sends HELLO to the NIC. On failure
 * returns NULL and stores a bt_err in *err_out. */
struct bt_host *bt_host_create(const struct bt_host_config *cfg, struct chan *ch,
			       const struct bt_clock *clock, int *err_out);
/* Deregisters and frees everything. Open connections are abandoned (the
 * NIC resets them when it sees the channel go). */
void bt_host_destroy(struct bt_host *h);

int bt_listen(struct bt_host *h, uint16_t port, uint32_t backlog);
int bt_accept(struct bt_host *h, int listener);
int bt_connect(struct bt_host *h, uint32_t remote_ip, uint16_t remote_port);
ssize_t bt_send(struct bt_host *h, int conn, const void *buf, size_t len);
/* bt_send for a send that more will follow (MSG_MORE): no push mark, so
 * its last partial segment carries no PSH and, while data is in flight,
 * waits for the bytes that follow (as the tail of a send the ring cut
 * short does). Unlike Linux, with nothing in flight and no TCP_CORK it
 * goes at once; the linux-like profile holds it as Linux does
 * (nic_config.more_probe). */
ssize_t bt_send_more(struct bt_host *h, int conn, const void *buf, size_t len);
/* As bt_send, and the send ends a record (MSG_EOR): no segment carries
 * bytes of it together with bytes sent after it. Taken whole only; a send
 * the ring cut short ends no record (the rest follows as a plain send). */
ssize_t bt_send_eor(struct bt_host *h, int conn, const void *buf, size_t len);
ssize_t bt_recv(struct bt_host *h, int conn, void *buf, size_t len);
/* bt_recv without consuming (MSG_PEEK): the bytes stay buffered, the
 * receive window does not move, and the next bt_recv returns them again. */
ssize_t bt_peek(struct bt_host *h, int conn, void *buf, size_t len);
/* Shuts the connection down (FIN after queued data) and frees the handle:
 * the id must not be used again. The rings are reclaimed when the NIC
 * reports the flow released. */
int bt_close(struct bt_host *h, int conn);
/* Drains the channel, retries deferred doorbells, and returns up to `max`
 * readiness events. Never blocks. */
int bt_poll(struct bt_host *h, struct bt_event *out, int max);
/* Arms a wakeup with the NIC and blocks on the channel until woken or
 * timeout_ns elapses (the timeout is the fallback for a lost wakeup, which
 * only a channel fault can cause). When the ARM cannot be posted yet (see
 * bt_wait_arm) it does not sleep past the channel's next arrival (a
 * returned credit included), so the caller polls and waits again. */
int bt_wait(struct bt_host *h, uint64_t timeout_ns);
/* bt_wait in two halves, for an event loop that sleeps by other means (the
 * simulator).
 *
 * The wakeup rule: a host sleeps only after every command it owes AND its
 * ARM are on the channel. bt_wait_arm first posts what is owed (accept
 * slots, doorbells, closes of any number of connections), then the ARM,
 * and returns true only when all of it went out: the caller may sleep
 * until bt_wait_woken says so. It returns false when the channel had no
 * message credit for them (a listener's LISTEN plus one ACCEPT_SLOT per
 * backlog entry can use up every credit): the caller must NOT sleep, but
 * poll again once the NIC has had time to take its messages (the credits
 * come back then; in the simulator, at the next instant anything
 * happens). A broken channel returns true: nothing will ever come.
 *
 * bt_wait_woken consumes WAKEUP messages and says whether one came. A
 * caller whose sleep ended by its own timeout instead calls
 * bt_wait_timed_out, which counts it (waits_timed_out) and, if events were
 * waiting or commands owed, counts a lost wakeup (lost_wakeups). */
bool bt_wait_arm(struct bt_host *h);
bool bt_wait_woken(struct bt_host *h);
void bt_wait_timed_out(struct bt_host *h);
/* True while a sleep that ended by timeout with events waiting is not yet
 * judged: its ARM's WAKEUP (late: no loss) or a later one (lost) has not
 * arrived. bt_host_stats counts it in lost_wakeups meanwhile. A caller
 * about to stop for good (a test run whose work is done) gives such a
 * WAKEUP, which may be on the channel now, time to land before judging. */
bool bt_host_wakeup_unjudged(const struct bt_host *h);
/* The description of this application's region as the NIC sees it (for
 * tests of isolation: what a leaked key would let an attacker try). */
void bt_host_region(const struct bt_host *h, struct chan_remote_mr *out);
/* Bytes that can be sent / received right now. */
uint32_t bt_tx_space(struct bt_host *h, int conn);
uint32_t bt_rx_ready(struct bt_host *h, int conn);
/* Bytes the program wrote that the TX ring still holds: not yet acked by
 * the peer (Linux's SIOCOUTQ). 0 for an unknown or closed connection. */
uint32_t bt_tx_queued(struct bt_host *h, int conn);
/* Earliest time this host has work of its own (deferred doorbells). */
uint64_t bt_host_next_event_ns(struct bt_host *h);
/* True while a sleeping application on this host can be woken only by a
 * channel message or its own deadline (an event loop may skip polling it);
 * false once the channel is broken: every wait then ends at once. */
bool bt_host_waits(const struct bt_host *h);
void bt_host_stats(const struct bt_host *h, struct bt_host_stats *out);
/* Records the hops of RPCs (core/util/hop_trace.h) into `t` from now on;
 * NULL (the default) turns it off. The recorder must outlive the host. */
struct hop_trace;
void bt_host_set_hop_trace(struct bt_host *h, struct hop_trace *t);
/* Connection ids are always below this. */
uint32_t bt_host_max_conns(const struct bt_host *h);
/* Appends the state of every connection (rings, owed commands, credits)
 * to buf, for deadlock reports. */
void bt_host_describe(const struct bt_host *h, char *buf, size_t cap);
/* A connection's last error (0 if none). */
int bt_conn_error(struct bt_host *h, int conn);

/* ---- socket semantics (docs/host-api.md) ---- */

/* Addresses in host byte order (10.0.0.1 == 0x0a000001). */
struct bt_addr {
	uint32_t ip;
	uint16_t port;
};
/* The local and the peer's address of an accepted or connected connection
 * (either pointer may be NULL). BT_ENOTCONN while a connect is still
 * pending. For a listener id: local = {0, port}, peer is BT_ENOTCONN. */
int bt_conn_addrs(struct bt_host *h, int id, struct bt_addr *local, struct bt_addr *peer);

/* What the handshake negotiated. Known once the NIC processed the peer's
 * SYN (BT_ENOTCONN before): at CONNECTED or ACCEPTED, or earlier in a
 * simultaneous open. */
struct bt_conn_info {
	uint16_t mss;            /* the MSS we send with */
	uint8_t snd_wscale;      /* the peer's window scale */
	uint8_t rcv_wscale;      /* ours */
	bool timestamps, window_scaling, ecn, sack;
};
int bt_conn_info(struct bt_host *h, int id, struct bt_conn_info *out);

enum bt_shut_how { BT_SHUT_RD = 1, BT_SHUT_WR = 2, BT_SHUT_RDWR = 3 };
/* shutdown(2) without giving up the id. SHUT_WR: FIN after the queued
 * data, bt_send returns BT_EPIPE from now on, bt_recv keeps working.
 * SHUT_RD: bt_recv returns 0 (end of stream) whenever nothing is buffered
 * instead of BT_EAGAIN; bytes that arrive are still delivered, as Linux
 * does. bt_close still has to be called. BT_ENOTCONN before the
 * connection is open. */
int bt_shutdown(struct bt_host *h, int conn, int how);
/* Aborts a connection (close with SO_LINGER 0): the NIC sends an RST at
 * once, unsent and unread data is discarded, and the id is freed like
 * bt_close frees it. */
int bt_abort(struct bt_host *h, int conn);
/* Closes a listener: connections the NIC holds half-open (SYN_RCVD) and
 * accepted ones the application has not taken with bt_accept are reset;
 * the port can be listened on again at once. The id is gone. */
int bt_listen_close(struct bt_host *h, int listener);

/* Per-connection options. Set on an open connection with bt_setopt, or
 * before the SYN through the bt_opts given to bt_connect_opts /
 * bt_listen_opts (a listener's options are inherited by every connection
 * it accepts). Defaults come from the NIC's configuration and profile. */
enum bt_opt {
	BT_OPT_ERROR = 0,        /* get only: pending error, cleared by reading (SO_ERROR) */
	BT_OPT_SNDBUF = 1,       /* bytes the TX ring may hold, 1..tx_ring_bytes */
	BT_OPT_RCVBUF = 2,       /* bytes the receive window may cover, 1..rx_ring_bytes */
	BT_OPT_NODELAY = 3,      /* 1: send at once; 0: Nagle (TCP_NODELAY) */
	BT_OPT_MAXSEG = 4,       /* MSS clamp in bytes, 64..65535 (TCP_MAXSEG); get: the MSS in use */
	BT_OPT_USER_TIMEOUT = 5, /* ms data may stay unacknowledged before ETIMEDOUT, 0 off */
	BT_OPT_CORK = 6,         /* 1: hold partial segments until uncorked (TCP_CORK) */
	BT_OPT_KEEPALIVE = 7,    /* 1: probe an idle connection (SO_KEEPALIVE); 0, the default: never */
	BT_OPT_KEEPIDLE = 8,     /* s without a received segment before the first probe, 1..32767 */
	BT_OPT_KEEPINTVL = 9,    /* s between unanswered probes, 1..32767 */
	BT_OPT_KEEPCNT = 10,     /* unanswered probes that end the connection (BT_ETIMEDOUT), 1..127 */
	BT_OPT_TOS = 11,          /* IPv4 TOS byte of our segments, 0..255 (IP_TOS); the ECN bits stay the stack's */
	BT_OPT__COUNT
};
/* Keepalive defaults when an option is not given: Linux's sysctls
 * (tcp_keepalive_time, _intvl, _probes); the limits are Linux's too. */
#define BT_KEEPIDLE_DEFAULT_S 7200u
#define BT_KEEPINTVL_DEFAULT_S 75u
#define BT_KEEPCNT_DEFAULT 9u
#define BT_KEEPIDLE_MAX_S 32767u
#define BT_KEEPINTVL_MAX_S 32767u
#define BT_KEEPCNT_MAX 127u
struct bt_opts {
	uint32_t set;                /* bit (1u << enum bt_opt) per value given */
	uint32_t val[BT_OPT__COUNT];
};
static inline void bt_opts_set(struct bt_opts *o, enum bt_opt opt, uint32_t val)
{
	o->set |= 1u << opt;
	o->val[opt] = val;
}
int bt_connect_opts(struct bt_host *h, uint32_t remote_ip, uint16_t remote_port, const struct bt_opts *opts);
int bt_listen_opts(struct bt_host *h, uint16_t port, uint32_t backlog, const struct bt_opts *opts);
/* BT_EINVAL for an unknown option, a value out of range, or BT_OPT_ERROR. */
int bt_setopt(struct bt_host *h, int id, enum bt_opt opt, uint32_t val);
int bt_getopt(struct bt_host *h, int id, enum bt_opt opt, uint32_t *val_out);

/* Readiness of one id for poll/epoll, from host memory only (no channel
 * traffic, no syscall): it reflects every event consumed by the last
 * bt_poll. Level-triggered, with Linux's poll semantics (docs/host-api.md). */
enum bt_ready_flags {
	BT_READY_IN = 1u << 0,    /* bt_recv/bt_accept would not return BT_EAGAIN */
	BT_READY_OUT = 1u << 1,   /* bt_send would not return BT_EAGAIN */
	BT_READY_RDHUP = 1u << 2, /* the peer sent its FIN (or SHUT_RD) */
	BT_READY_HUP = 1u << 3,   /* both directions are finished, or reset */
	BT_READY_ERR = 1u << 4,   /* an error is pending (BT_OPT_ERROR) */
};
uint32_t bt_readiness(struct bt_host *h, int id);

/* bt_connect_opts from a given local port (bind before connect): what
 * a simultaneous open needs, both ends connecting to each other's port.
 * local_port 0 is BT_EINVAL; the connection fails with BT_EADDRINUSE
 * when the NIC already has a flow with this 4-tuple. */
int bt_connect_from(struct bt_host *h, uint16_t local_port, uint32_t remote_ip, uint16_t remote_port,
		    const struct bt_opts *opts);

#endif
