/*
 * host_internal.h: the host library's state, shared by host.c (lifecycle,
 * events, commands) and host_api.c (the socket-like calls).
 */
#ifndef BT_HOST_INTERNAL_H
#define BT_HOST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bluetas.h"
#include "../ctxq.h"
#include "../util/hop_trace.h"

#define HOST_NONE (-1)
/* Listener ids live above every connection id so one bt_event.id space
 * never confuses the two. */
#define HOST_LISTENER_BASE (1 << 24)
#define HOST_MAX_LISTENERS 64

enum host_slot_state {
	SLOT_FREE = 0,
	SLOT_CONNECTING,  /* CONNECT sent or owed, no answer yet */
	SLOT_POSTED,      /* given to a listener as an accept slot */
	SLOT_ACCEPTED,    /* holds an accepted connection, not yet bt_accept'ed */
	SLOT_OPEN,        /* the application's connection */
};

struct host_conn {
	bool allocated;
	bool free_pending;      /* free once no list holds it */
	uint8_t state;
	bool app_closed;        /* bt_close called: the id is gone */
	bool nic_released;      /* NIC will not touch the rings again */
	bool has_flow;
	bool eof;
	int err;
	bool err_reported;      /* BT_OPT_ERROR read it (SO_ERROR clears) */
	bool shut_rd, shut_wr;  /* bt_shutdown */
	bool shut_wr_owed;      /* CLOSE(WR_ONLY) not yet posted */
	bool has_info;
	struct ctxq_conn_info info; /* copied when the connection opened */
	uint32_t sndbuf_bytes;  /* TX ring bytes bt_send may fill */
	uint32_t opt_val[BT_OPT__COUNT];
	uint32_t opts_set;      /* options given (bit per enum bt_opt) */
	uint32_t opts_owed;     /* SETOPTs not yet posted */
	uint32_t flow_id;
	int listener;           /* listener index for accept slots */
	/* RX ring: the NIC writes, we read from rx_head */
	uint32_t rx_head, rx_ready, rx_freed_unreported;
	/* TX ring: we write at tx_tail, the NIC frees from the old end */
	uint32_t tx_tail, tx_used;
	/* doorbell state: absolute totals, the newest sequence sent and the
	 * newest the NIC confirmed (echoed in an event) */
	uint32_t tx_total, rx_freed_total;
	uint32_t push_total;    /* tx_total at the end of the newest complete bt_send */
	bool push_is_eor;       /* that send was a bt_send_eor: the push mark ends a record */
	uint32_t db_tx_total;   /* tx_total of the newest DOORBELL posted (what it could inline) */
	uint32_t db_seq, db_seen;
	uint64_t db_sent_ns;
	bool doorbell_owed;
	/* commands owed to the NIC (sent as soon as there is credit) */
	bool connect_owed, slot_owed, close_owed, abort_owed;
	uint32_t connect_ip;
	uint16_t connect_port;
	uint16_t connect_local_port; /* 0: the NIC picks an ephemeral one */
	/* lists */
	bool in_dirty;
	int dirty_next;
	uint32_t ready_flags;
	bool in_ready;
	int ready_next;
	int accept_next;
};

struct host_listener {
	bool in_use;
	bool listen_owed;
	int err;
	uint16_t port;
	uint32_t backlog;
	uint32_t slots_owed;    /* accept slots to post once a slot frees */
	bool unlisten_owed;     /* closed by the app: UNLISTEN not yet posted */
	struct bt_opts opts;    /* inherited by accepted connections */
	uint32_t opts_owed;
	int accept_head, accept_tail;
	bool in_ready;
};

struct bt_host {
	struct bt_host_config cfg;
	struct chan *ch;
	const struct bt_clock *clock;
	int broken;             /* bt_err once the channel failed */
	uint8_t *region;        /* mmap'd: pages of its own */
	uint64_t region_bytes;
	struct chan_mr region_mr;
	struct ctxq_hello hello;
	struct host_conn *conns;
	struct host_listener listeners[HOST_MAX_LISTENERS];
	int listeners_hi;        /* listeners[listeners_hi..] were never used: bt_poll stops there */
	int free_head;          /* free slot list through dirty_next */
	int dirty_head, dirty_tail;
	int ready_head, ready_tail;
	bool listeners_dirty;
	uint32_t ev_consumed, ev_reported;
	bool credit_unconfirmed;   /* an EV_CREDIT went out; no event since */
	uint64_t credit_sent_ns;
	uint64_t refresh_due_ns;   /* next look for unconfirmed doorbells */
	bool arm_owed;             /* the last bt_wait_arm could not post (no credit) */
	uint32_t arm_seq;          /* sequence of the newest ARM posted */
	bool arm_pending;          /* the NIC holds that ARM: its WAKEUP has not come */
	uint64_t arm_sent_ns;
	/* bt_wait_arm's flush: an ARM may ride on the last DOORBELL
	 * (CTXQ_CMDF_ARM); set when one did. */
	bool arm_ride, arm_rode;
	/* A sleep that ended by timeout with events waiting: lost, unless
	 * the WAKEUP of that ARM lands after all (it was in flight). */
	bool lost_suspect;
	uint32_t lost_suspect_seq;
	struct bt_host_stats stats;
	/* RPC hop trace (host_hops.c), NULL: off; the end of the last wait */
	struct hop_trace *hops;
	uint64_t hop_woke_ns;
	uint8_t hop_woke_flags;
};

/* Options the NIC applies (SNDBUF is the host's alone, ERROR read-only). */
#define HOST_NIC_OPTS ((1u << BT_OPT_RCVBUF) | (1u << BT_OPT_NODELAY) | (1u << BT_OPT_MAXSEG) | \
		       (1u << BT_OPT_USER_TIMEOUT) | (1u << BT_OPT_CORK) | (1u << BT_OPT_KEEPALIVE) |      \
		       (1u << BT_OPT_KEEPIDLE) | (1u << BT_OPT_KEEPINTVL) | (1u << BT_OPT_KEEPCNT) |      \
		       (1u << BT_OPT_TOS))

/* host_sock.c */
int host_opt_check(const struct bt_host *h, int opt, uint32_t val);
int host_opts_check(const struct bt_host *h, const struct bt_opts *opts);
/* Records options on a connection; owed: the NIC still has to hear them. */
void host_conn_take_opts(struct host_conn *c, const struct bt_opts *opts, bool owed);
uint32_t host_tx_space(const struct bt_host *h, const struct host_conn *c);

/* The connection behind an id the application holds (open or
 * connecting), or NULL: every call that takes a connection id checks it
 * here. */
static inline struct host_conn *host_user_conn(struct bt_host *h, int id)
{
	if (id < 0 || (uint32_t)id >= h->cfg.max_conns)
		return NULL;
	struct host_conn *c = &h->conns[id];
	if (!c->allocated || c->app_closed || c->free_pending)
		return NULL;
	if (c->state != SLOT_OPEN && c->state != SLOT_CONNECTING)
		return NULL;
	return c;
}

/* The listener behind an id the application holds, or NULL. */
static inline struct host_listener *host_user_listener(struct bt_host *h, int id)
{
	int li = id - HOST_LISTENER_BASE;
	if (li < 0 || li >= HOST_MAX_LISTENERS || !h->listeners[li].in_use)
		return NULL;
	return &h->listeners[li];
}

/* The host's index FIFOs (the dirty and ready lists, a listener's accept
 * queue): slot numbers linked through a next field of struct host_conn,
 * one field per list (next_off: offsetof(struct host_conn, dirty_next)
 * ...), HOST_NONE at the end. HOST_FIFO_PUSH(h, owner, dirty, slot) names
 * owner->dirty_head, owner->dirty_tail and the dirty_next field. */
static inline int *host_fifo_next(struct bt_host *h, int slot, size_t next_off)
{
	return (int *)(void *)((char *)&h->conns[slot] + next_off);
}
static inline void host_fifo_push(struct bt_host *h, int *head, int *tail, size_t next_off, int slot)
{
	*host_fifo_next(h, slot, next_off) = HOST_NONE;
	if (*tail == HOST_NONE)
		*head = slot;
	else
		*host_fifo_next(h, *tail, next_off) = slot;
	*tail = slot;
}
/* Unlinks the head (the list is not empty). */
static inline void host_fifo_drop_head(struct bt_host *h, int *head, int *tail, size_t next_off)
{
	*head = *host_fifo_next(h, *head, next_off);
	if (*head == HOST_NONE)
		*tail = HOST_NONE;
}
#define HOST_FIFO_PUSH(h, owner, list, slot)                                                                         \
	host_fifo_push(h, &(owner)->list##_head, &(owner)->list##_tail, offsetof(struct host_conn, list##_next), slot)
#define HOST_FIFO_DROP_HEAD(h, owner, list)                                                                          \
	host_fifo_drop_head(h, &(owner)->list##_head, &(owner)->list##_tail, offsetof(struct host_conn, list##_next))

/* host.c */
void host_mark_dirty(struct bt_host *h, int slot);
void host_mark_ready(struct bt_host *h, int slot, uint32_t flags);
int host_flush_commands(struct bt_host *h);
/* An ARM with sequence arm_seq + 1 is on the channel (host_wait.c). */
void host_arm_posted(struct bt_host *h, uint64_t now_ns);
/* The NIC holds our last ARM (its WAKEUP has not come) and the refresh
 * interval has not passed since it went: no new one is needed. */
static inline bool host_arm_held(const struct bt_host *h, uint64_t now_ns)
{
	return h->arm_pending && now_ns - h->arm_sent_ns < h->cfg.doorbell_refresh_ns;
}
int host_process_events(struct bt_host *h);
int host_alloc_slot(struct bt_host *h);
void host_free_slot(struct bt_host *h, int slot);
/* The application is done with connection `id` (close or abort): marks it
 * so, and when the NIC holds nothing for it (released already, or a
 * connect not yet sent) frees the slot and returns true; false means the
 * NIC must still be told. */
bool host_close_local(struct bt_host *h, int id, struct host_conn *c);
void host_post_accept_slots(struct bt_host *h, int listener);
void host_channel_failed(struct bt_host *h);
/* host_wait.c: the next event-ring entry is valid (not yet consumed). */
bool host_wakeful_events_waiting(const struct bt_host *h);
/* Takes one message from the NIC; true if it was a WAKEUP. */
bool host_take_msg(struct bt_host *h, const uint8_t *msg, uint32_t len);
/* Commands that could not be posted yet (no message credit). */
bool host_owes_commands(const struct bt_host *h);
/* Re-rings doorbells and credits the NIC has not confirmed in time. */
void host_refresh_doorbells(struct bt_host *h);
uint8_t *host_rx_ring(struct bt_host *h, int slot);
/* host_hops.c: the hop trace's points; call only when h->hops is set.
 * host_hop_now reads the clock (so a point can be stamped before a post). */
uint64_t host_hop_now(const struct bt_host *h);
void host_hop(struct bt_host *h, const struct host_conn *c, enum hop_point p, uint32_t off_end, uint64_t t_ns);
/* The event that brought bytes up to RX offset off_end was consumed. */
void host_hop_event_seen(struct bt_host *h, const struct host_conn *c, uint32_t off_end);
/* bt_wait ended: flags enum hop_flags. */
void host_hop_woke(struct bt_host *h, uint8_t flags);
uint8_t *host_tx_ring(struct bt_host *h, int slot);

#endif
