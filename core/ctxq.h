/*
 * ctxq.h: what the host library and the NIC say to each other, to the
 * byte. Both sides are compiled from this header; the static asserts pin
 * every offset so a host build and a NIC build (x86 host, ARM BlueField)
 * agree.
 *
 * Byte order and alignment, the assumptions both builds share:
 *   - every multi-byte field is little-endian in memory: x86-64 is, and
 *     aarch64 Linux (the BlueField's) is; a big-endian target stops at the
 *     #error below rather than swapping silently;
 *   - no padding: each struct is its fields back to back, pinned by the
 *     static asserts, so the x86-64 SysV and AAPCS64 ABIs lay them out the
 *     same; natural alignment is 8 for the hello (its 64-bit fields) and 4
 *     for commands, events and WAKEUP;
 *   - no alignment of the region, the rings or the event ring is assumed:
 *     both sides copy messages and events with memcpy, and the one field
 *     read in place, an event's `phase`, is a single byte;
 *   - region offsets are 64-bit on both (ctxq_*_off), never size_t.
 * tests/unit/test_ctxq_layout.c checks golden bytes of each format; `make
 * test` runs it on both builds (x86, and aarch64 under qemu) and compares.
 *
 * Host -> NIC: channel MESSAGES. First HELLO (48 B) describing the host
 * region, then 32-byte commands. A command is its own doorbell: no
 * descriptor fetch is needed, so a command costs one channel one-way.
 * Every command carries the host's running count of consumed events,
 * which is how event-ring credits flow back.
 *
 * DOORBELL carries ABSOLUTE totals (bytes ever written into the TX ring,
 * bytes ever freed from the RX ring, both mod 2^32) and a sequence
 * number, so a lost doorbell is repaired by any later one; the NIC echoes
 * the newest sequence it applied in the flow's next event, and the host
 * re-rings a doorbell that stays unconfirmed for its refresh interval.
 * The confirmation rides on the flow's next event for other news (freed
 * TX space, new bytes, a flag): the NIC writes an event only to confirm
 * a doorbell when no such event came within a quarter of the host's
 * refresh interval (HELLO's doorbell_refresh_us), so a host never re-rings
 * without a fault, and a stream of doorbells and events costs no extra
 * event per doorbell. A HELLO without the interval (0) gets every
 * confirmation at once, as before.
 *
 * Inline payload. A DOORBELL whose new TX bytes (those since the
 * previous DOORBELL the host posted) number 1..CTXQ_INLINE_MAX_BYTES
 * carries them in the same message: flag CTXQ_CMDF_INLINE, the bytes at
 * offset CTXQ_CMD_BYTES, the message CTXQ_CMD_BYTES + n long. They are
 * the TX stream's bytes ending at arg0's total (stream offsets
 * [arg0 - n, arg0)), copies of what the TX ring holds there. The NIC
 * builds a segment wholly inside them without READing the ring, which
 * saves a 64 B RPC a full channel round trip; anything else (a longer
 * send, a retransmission beyond them, a doorbell lost and repaired by a
 * later one) is READ as before. A message longer than CTXQ_CMD_BYTES is
 * invalid for any other command, or without the flag, or with n >
 * CTXQ_INLINE_MAX_BYTES, or with more bytes than the doorbell leaves
 * queued: the NIC counts it in cmds_invalid and ignores the command.
 *
 * DOORBELL also carries the push mark: the TX total at the end of the
 * host's newest complete send. The segment that reaches it carries PSH;
 * bytes beyond it belong to a send the ring cut short (more follows), so
 * the NIC holds a short tail of them back while an ACK is due, rather than
 * sending a runt segment that the next bytes would have filled.
 *
 * Wakeups. ARM (host -> NIC) says "I will sleep; I have consumed
 * ev_consumed events". If the NIC has produced more, it answers with a
 * WAKEUP at once; otherwise it sends one WAKEUP after its next event
 * write. A WAKEUP the NIC cannot post yet (no credit) stays owed and is
 * retried on every NIC poll, never dropped. The host's rule: it sleeps
 * only once every command it owes and then its ARM are posted. ARM and
 * commands share the host's message credits, so a host that used them up
 * (LISTEN plus an ACCEPT_SLOT per backlog entry, doorbells of many
 * connections, closes) does not sleep: it waits for the NIC to take its
 * messages and return the credits, and posts the ARM then. No wakeup is
 * lost without a channel fault; the wait's timeout is only for those.
 * An ARM stands until its WAKEUP: the host does not repeat one the NIC
 * holds (for up to its doorbell refresh interval, after which it assumes
 * the ARM lost and sends it again).
 * Only an event with news for the application (bytes, freed TX space,
 * a flag, a status: ctxq_event_wakes) is worth a WAKEUP. An event that
 * only confirms a doorbell (doorbell_seen) is written but wakes nobody
 * and does not end an ARM: a sleeping host only needs it to stop
 * re-ringing, and its sleep is already bounded by the refresh interval,
 * after which it reads the confirmation instead of re-ringing. Waking it
 * for every doorbell's echo cost each RPC a second WAKEUP, a second
 * sleep and ARM, in the middle of the round trip. The NIC wakes an armed
 * host all the same when it cannot write an event for lack of ring
 * credits while the host holds events it has not consumed (its consuming
 * them returns the credits).
 * ARM carries a sequence number (arg2) that its WAKEUP echoes, so a host
 * whose sleep ended by timeout just before a late WAKEUP landed can tell
 * "late" (its WAKEUP comes) from "lost" (a later one comes first).
 * When the last command a host posts before it sleeps is a DOORBELL, the
 * ARM rides on it (CTXQ_CMDF_ARM) instead of following it in a message
 * of its own: the NIC takes the doorbell, then the ARM, as it would the
 * two messages. A bulk receiver frees ring space and sleeps after every
 * read, so this halves its messages (and their credits). A sender whose
 * TX ring is full arms with its doorbell too (unless the NIC holds its
 * ARM): it can only wait for the space the NIC frees.
 *
 * NIC -> host: one-sided WRITEs into the host region. Payload goes into
 * the connection's RX ring at its sequence offset; then a 32-byte event
 * goes into the event ring. Writes on a channel execute in order, so the
 * host never sees an event before the payload it announces.
 *
 * Host region layout (registered REMOTE_READ | REMOTE_WRITE on the
 * application's own channel, nothing else registered for remote access):
 *
 *   per connection slot i:          RX ring (rx_ring_bytes)
 *                                   TX ring (tx_ring_bytes)
 *   then:                           connection info, one 32 B entry
 *                                   per slot (struct ctxq_conn_info)
 *   then, last:                     event ring (event_entries * 32 B)
 *
 * A slot's connection info (addresses, ports, negotiated MSS and window
 * scales) is written by the NIC before the CONNECTED, ACCEPTED or
 * PEER_SYN event of the connection, so a host that sees the event reads
 * a complete one.
 *
 * The event ring is last on purpose: a producer that ignored its credits
 * and wrote on past the ring (the BlueTAS memory-region overflow) leaves
 * the region at once and is refused by the channel, instead of silently
 * overwriting a connection's payload.
 *
 * Event validity: entry k (k = running event index) lives in slot
 * k % event_entries; its last byte `phase` is 1 on even laps
 * (k / event_entries even) and 2 on odd laps. The host waits for the
 * phase it expects, so a stale entry from the previous lap is never read
 * as new. The NIC writes an entry only when the host has returned the
 * credit for that slot.
 */
#ifndef BT_CTXQ_H
#define BT_CTXQ_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "core/ctxq.h: the host<->NIC formats are little-endian in memory; this target is not"
#endif

#define CTXQ_VERSION 3 /* 3: inline payload in DOORBELL messages */
#define CTXQ_INFO_BYTES 32
#define CTXQ_EVENT_BYTES 32
#define CTXQ_CMD_BYTES 32
#define CTXQ_HELLO_BYTES 48
/* Payload a DOORBELL carries in its own message, at most (see Inline
 * payload above): 128 covers a 64 B RPC's request with room to spare, and
 * 32 + 128 is the channel's message size (CHAN_MSG_MAX_BYTES, asserted
 * in core/host/host.c where both headers meet). */
#define CTXQ_INLINE_MAX_BYTES 128
#define CTXQ_INLINE_OFF CTXQ_CMD_BYTES /* where the bytes start in the message */

enum ctxq_msg_type {
	CTXQ_HELLO = 1,       /* host region description; first message */
	CTXQ_LISTEN = 2,      /* port, backlog, host listener id */
	CTXQ_ACCEPT_SLOT = 3, /* a free connection slot for a listener */
	CTXQ_CONNECT = 4,     /* active open into a slot */
	CTXQ_DOORBELL = 5,    /* absolute TX-written and RX-freed totals */
	CTXQ_CLOSE = 7,       /* no more data: FIN after what is queued */
	CTXQ_ABORT = 8,       /* reset now */
	CTXQ_EV_CREDIT = 9,   /* only returns event credits */
	CTXQ_ARM = 10,        /* host will sleep: send a WAKEUP on next event */
	CTXQ_SETOPT = 11,     /* per-connection option (arg0 option, arg1 value) */
	CTXQ_UNLISTEN = 12,   /* close listener host_conn: SYN_RCVD reset, slots back */
	/* NIC -> host messages */
	CTXQ_WAKEUP = 64,
};

struct ctxq_hello {
	uint8_t type;           /* 0: CTXQ_HELLO */
	uint8_t version;        /* 1: CTXQ_VERSION */
	uint16_t reserved;      /* 2 */
	uint32_t event_entries; /* 4 */
	uint32_t rx_ring_bytes; /* 8 */
	uint32_t tx_ring_bytes; /* 12 */
	uint32_t max_conns;     /* 16: slots after the event ring */
	uint32_t doorbell_refresh_us; /* 20: the host re-rings a doorbell unconfirmed
				 * this long; 0: unknown (the NIC confirms at once) */
	uint64_t region_addr;   /* 24: chan_remote_mr.addr */
	uint64_t region_len;    /* 32 */
	uint32_t region_rkey;   /* 40 */
	uint32_t reserved3;     /* 44 */
};
static_assert(sizeof(struct ctxq_hello) == CTXQ_HELLO_BYTES, "hello size");
static_assert(offsetof(struct ctxq_hello, region_addr) == 24, "hello layout");
static_assert(offsetof(struct ctxq_hello, region_rkey) == 40, "hello layout");

struct ctxq_cmd {
	uint8_t type;          /* 0: enum ctxq_msg_type */
	uint8_t flags;         /* 1: enum ctxq_cmd_flags, else 0 */
	uint16_t port;         /* 2: LISTEN local port, CONNECT remote port,
				* DOORBELL with CTXQ_CMDF_ARM: ARM sequence, low 16 bits */
	uint32_t flow_id;      /* 4: NIC flow (DOORBELL, CLOSE, ABORT); CLOSE and ABORT
				* before CONNECTED: UINT32_MAX, the flow the slot connected */
	uint32_t host_conn;    /* 8: host slot or listener id */
	uint32_t ev_consumed;  /* 12: running count of events consumed */
	uint32_t arg0;         /* 16: TX total (DOORBELL), remote ip (CONNECT),
				* backlog (LISTEN), listener (ACCEPT_SLOT) */
	uint32_t arg1;         /* 20: RX-freed total (DOORBELL), local port or 0
				* for an ephemeral one (CONNECT) */
	uint32_t arg2;         /* 24: doorbell sequence (DOORBELL), ARM sequence (ARM) */
	uint32_t arg3;         /* 28: push mark (DOORBELL): the TX total at the end
				* of the newest send the ring took whole (a record
				* end with CTXQ_CMDF_EOR) */
};
static_assert(sizeof(struct ctxq_cmd) == CTXQ_CMD_BYTES, "cmd size");
static_assert(offsetof(struct ctxq_cmd, flags) == 1, "cmd layout");
static_assert(offsetof(struct ctxq_cmd, port) == 2, "cmd layout");
static_assert(offsetof(struct ctxq_cmd, flow_id) == 4, "cmd layout");
static_assert(offsetof(struct ctxq_cmd, host_conn) == 8, "cmd layout");
static_assert(offsetof(struct ctxq_cmd, arg1) == 20, "cmd layout");
static_assert(offsetof(struct ctxq_cmd, arg2) == 24, "cmd layout");
static_assert(offsetof(struct ctxq_cmd, arg3) == 28, "cmd layout");

enum ctxq_cmd_flags {
	/* CLOSE: shut the sending side only (FIN after queued data); the
	 * host keeps reading, the rings stay attached. */
	CTXQ_CMDF_WR_ONLY = 1u << 0,
	/* SETOPT: host_conn is a listener id; accepted flows inherit it.
	 * Without it, host_conn is a slot: a flow in it (flow_id) takes the
	 * option at once; a free slot keeps it for its next CONNECT. */
	CTXQ_CMDF_LISTENER = 1u << 1,
	/* DOORBELL: the push mark ends a record (MSG_EOR): no segment
	 * carries bytes from both sides of it. A record end that a later
	 * send's doorbell overtook before posting is lost (the bytes may
	 * then share segments); the data is the same either way. */
	CTXQ_CMDF_EOR = 1u << 2,
	/* DOORBELL: the message goes on after the command with the TX bytes
	 * ending at arg0's total (Inline payload above). */
	CTXQ_CMDF_INLINE = 1u << 3,
	/* DOORBELL: an ARM rides on it (Wakeups above): the host's last
	 * command before it sleeps carries the ARM instead of a message of
	 * its own. `port` holds the low 16 bits of the ARM's sequence; the
	 * NIC takes the full sequence as the one after its last ARM's that
	 * ends in them (ARMs go in sequence; fewer than 65536 in a row are
	 * never lost). */
	CTXQ_CMDF_ARM = 1u << 4,
};

/* SETOPT options (arg0) and their values (arg1); the numbers are those
 * of enum bt_opt (bluetas.h), asserted in host_sock.c. */
enum ctxq_opt {
	CTXQ_OPT_RCVBUF = 2,       /* receive window limit, bytes (<= RX ring) */
	CTXQ_OPT_NODELAY = 3,      /* 1: no Nagle; 0: Nagle (RFC 896) */
	CTXQ_OPT_MAXSEG = 4,       /* MSS clamp, bytes (advertised and sent) */
	CTXQ_OPT_USER_TIMEOUT = 5, /* ms unacknowledged data may wait, 0: off */
	CTXQ_OPT_CORK = 6,         /* 1: only full segments until uncorked */
	CTXQ_OPT_KEEPALIVE = 7,    /* 1: keepalive probes when idle (RFC 1122 4.2.3.6) */
	CTXQ_OPT_KEEPIDLE = 8,     /* s idle before the first probe, 0: 7200 */
	CTXQ_OPT_KEEPINTVL = 9,    /* s between probes, 0: 75 */
	CTXQ_OPT_KEEPCNT = 10,     /* unanswered probes that end the flow, 0: 9 */
	CTXQ_OPT_TOS = 11,          /* IPv4 TOS byte (DSCP; the ECN bits are the NIC's) */
};
static_assert(offsetof(struct ctxq_cmd, ev_consumed) == 12, "cmd layout");
static_assert(offsetof(struct ctxq_cmd, arg0) == 16, "cmd layout");

/* Flags of an event: several may be set in one event, because the NIC
 * coalesces everything that happened to a flow since its last event. */
enum ctxq_ev_flags {
	CTXQ_EVF_CONNECTED = 1u << 0,  /* active open finished */
	CTXQ_EVF_ACCEPTED = 1u << 1,   /* slot now holds an accepted connection */
	CTXQ_EVF_FIN = 1u << 2,        /* peer's FIN: no bytes after these */
	CTXQ_EVF_ERROR = 1u << 3,      /* status holds the bt_err */
	CTXQ_EVF_RELEASED = 1u << 4,   /* NIC is done with the slot's rings */
	CTXQ_EVF_LISTEN_ERR = 1u << 5, /* host_conn is a listener id */
	CTXQ_EVF_REFUSED = 1u << 6,    /* a command was rejected (status says) */
	CTXQ_EVF_PEER_SYN = 1u << 7,   /* active open in SYN_RCVD: the info is written */
};

struct ctxq_event {
	uint32_t flow_id;    /* 0 */
	uint32_t host_conn;  /* 4: slot, or listener id with LISTEN_ERR */
	uint32_t rx_bytes;   /* 8: new in-order bytes in the RX ring */
	uint32_t tx_freed;   /* 12: TX ring bytes acknowledged by the peer */
	int32_t status;      /* 16: bt_err with ERROR/REFUSED */
	uint16_t listener;   /* 20: with ACCEPTED */
	uint16_t flags;      /* 22: enum ctxq_ev_flags */
	uint32_t doorbell_seen; /* 24: newest DOORBELL sequence applied */
	uint8_t reserved[3]; /* 28 */
	uint8_t phase;       /* 31: written last; see the lap rule above */
};
static_assert(sizeof(struct ctxq_event) == CTXQ_EVENT_BYTES, "event size");

/* Whether an event is news for the application, and so worth a WAKEUP
 * (the wakeup rule above): anything but a bare doorbell confirmation. */
static inline bool ctxq_event_wakes(const struct ctxq_event *ev)
{
	return ev->rx_bytes || ev->tx_freed || ev->flags || ev->status;
}
static_assert(offsetof(struct ctxq_event, doorbell_seen) == 24, "event layout");
static_assert(offsetof(struct ctxq_event, phase) == 31, "event layout");

/* Connection info of one slot, written by the NIC (see the layout). */
struct ctxq_conn_info {
	uint32_t local_ip;     /* 0: host order, as everywhere in the API */
	uint32_t remote_ip;    /* 4 */
	uint16_t local_port;   /* 8 */
	uint16_t remote_port;  /* 10 */
	uint16_t mss;          /* 12: the MSS we send with */
	uint8_t snd_wscale;    /* 14: peer's shift (0 without WS) */
	uint8_t rcv_wscale;    /* 15: our shift */
	uint32_t flow_id;      /* 16: the flow this describes */
	uint8_t options;       /* 20: enum ctxq_info_options */
	uint8_t reserved[11];  /* 21 */
};
static_assert(sizeof(struct ctxq_conn_info) == CTXQ_INFO_BYTES, "info size");
static_assert(offsetof(struct ctxq_conn_info, local_port) == 8, "info layout");
static_assert(offsetof(struct ctxq_conn_info, mss) == 12, "info layout");
static_assert(offsetof(struct ctxq_conn_info, flow_id) == 16, "info layout");
static_assert(offsetof(struct ctxq_conn_info, options) == 20, "info layout");

enum ctxq_info_options {
	CTXQ_INFO_TS = 1u << 0,     /* timestamps negotiated */
	CTXQ_INFO_WSCALE = 1u << 1, /* window scaling negotiated */
	CTXQ_INFO_ECN = 1u << 2,    /* ECN negotiated */
	CTXQ_INFO_SACK = 1u << 3,   /* SACK negotiated */
};

struct ctxq_wakeup {
	uint8_t type;        /* 0: CTXQ_WAKEUP */
	uint8_t reserved[3]; /* 1 */
	uint32_t ev_produced; /* 4 */
	uint32_t arm_seq;    /* 8: the sequence of the ARM this answers */
};
static_assert(sizeof(struct ctxq_wakeup) == 12, "wakeup size");
static_assert(offsetof(struct ctxq_wakeup, arm_seq) == 8, "wakeup layout");

static inline uint8_t ctxq_phase_for(uint64_t event_index, uint32_t entries)
{
	return ((event_index / entries) & 1) ? 2 : 1;
}

/* Region offsets of slot `i`'s rings, of the event ring, and the size. */
static inline uint64_t ctxq_rx_ring_off(const struct ctxq_hello *h, uint32_t slot)
{
	return (uint64_t)slot * ((uint64_t)h->rx_ring_bytes + h->tx_ring_bytes);
}
static inline uint64_t ctxq_tx_ring_off(const struct ctxq_hello *h, uint32_t slot)
{
	return ctxq_rx_ring_off(h, slot) + h->rx_ring_bytes;
}
static inline uint64_t ctxq_info_off(const struct ctxq_hello *h, uint32_t slot)
{
	return ctxq_rx_ring_off(h, h->max_conns) + (uint64_t)slot * CTXQ_INFO_BYTES;
}
static inline uint64_t ctxq_event_ring_off(const struct ctxq_hello *h)
{
	return ctxq_info_off(h, h->max_conns);
}
static inline uint64_t ctxq_region_bytes(const struct ctxq_hello *h)
{
	return ctxq_event_ring_off(h) + (uint64_t)h->event_entries * CTXQ_EVENT_BYTES;
}

#endif
