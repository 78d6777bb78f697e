/*
 * harness.h: a packetdrill-style harness for one NIC. The NIC (10.0.0.1)
 * sits on port 0 of a simulated link whose port 1 is driven by the TEST
 * as a scripted peer (10.0.0.2): the test builds every segment the peer
 * sends (harness_inject, harness_peer_send) and inspects every frame the
 * NIC sends (harness_expect_frame). One application (a bt_host) is
 * attached to the NIC through an in-process shm channel.
 *
 * Time is virtual and only moves in harness_advance: everything due up to
 * now+ns runs (the NIC, the host library, the channel and the link), each
 * instant until nothing more happens, exactly like sim_run. Frames the NIC
 * sends are captured with the virtual time they reached the peer.
 *
 * The helpers use cmocka assertions, so they may only be called from a
 * cmocka test.
 */
#ifndef BT_TEST_HARNESS_H
#define BT_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bluetas.h"
#include "core/nic/nic.h"
#include "core/proto/proto.h"
#include "sim/link.h"
#include "sim/sim.h"
#include "transports/netif.h"
#include "transports/shm/shm_chan.h"

#define HARNESS_NIC_IP 0x0a000001u  /* 10.0.0.1 */
#define HARNESS_PEER_IP 0x0a000002u /* 10.0.0.2 */
#define HARNESS_NIC_MAC ((const uint8_t[6]){0x02, 0, 0, 0, 0, 0x01})
#define HARNESS_PEER_MAC ((const uint8_t[6]){0x02, 0, 0, 0, 0, 0x02})
#define HARNESS_START_NS 1000000ull /* virtual time at init (TSval != 0) */
#define HARNESS_MS 1000000ull
#define HARNESS_US 1000ull
#define HARNESS_OPEN_WAIT_NS (10 * HARNESS_MS) /* bound on each open step */

struct harness_opts {
	/* The NIC's configuration, from nic_default_config (ip 10.0.0.1);
	 * override mss, delayed_ack_ns, ecn, cc, const_rate_bps, syn_retries,
	 * time_wait_ns, ... here. The peer's static ARP entry is added by
	 * harness_init when static_arp is set. */
	struct nic_config nic;
	/* The application: rx_ring_bytes, tx_ring_bytes, max_conns, ... */
	struct bt_host_config host;
	bool static_arp;            /* default true: the NIC knows the peer's MAC */
	uint64_t link_latency_ns;   /* one way; default 0 */
	uint64_t link_bandwidth_bps; /* default 0 = infinite */
	uint64_t chan_latency_ns;   /* host <-> NIC one-way; default 0 */
	uint32_t link_pool_frames;  /* frame buffers per port; 0 = 1024 */
};
void harness_default_opts(struct harness_opts *o);

/* Options the peer puts in its SYN (or SYN-ACK). */
struct harness_syn_opts {
	bool mss;          /* send an MSS option */
	uint16_t mss_val;
	bool wscale;       /* send a window scale option */
	uint8_t wscale_val;
	bool ts;           /* send timestamps */
	bool ecn;          /* ECN setup (SYN: ECE|CWR, SYN-ACK: ECE) */
	bool sack;         /* send SACK-permitted (RFC 2018) */
	uint16_t window;   /* raw window of the SYN */
};
/* MSS 1460, WS 0, TS on, ECN off, SACK off, window 65535. */
void harness_default_syn_opts(struct harness_syn_opts *so);

/* What the scripted peer knows about its one connection with the NIC. */
struct harness_peer {
	uint16_t port;        /* the peer's TCP port */
	uint16_t nic_port;    /* the NIC's TCP port */
	uint32_t iss;         /* the peer's ISN */
	uint32_t snd_nxt;     /* next sequence number the peer sends */
	uint32_t rcv_nxt;     /* next sequence number expected from the NIC */
	uint32_t nic_iss;     /* the NIC's ISN */
	uint16_t window;      /* raw window field the peer advertises */
	uint8_t tos;          /* IPv4 TOS of the peer's segments */
	bool ts;              /* timestamps negotiated */
	uint32_t ts_val;      /* the peer's next TSval */
	uint32_t ts_recent;   /* last TSval seen from the NIC */
	bool ws;              /* window scaling negotiated */
	bool sack;            /* SACK negotiated (both SYNs had SACK-permitted) */
	uint8_t nic_wscale;   /* shift of the NIC's windows (0 without WS) */
	uint16_t nic_mss;     /* MSS option of the NIC's SYN or SYN-ACK */
	uint32_t nic_wnd;     /* last window the NIC advertised, in bytes */
};

/* One frame the NIC sent, parsed. Views point into raw. */
struct harness_frame {
	uint64_t at_ns;       /* virtual time it reached the peer */
	uint16_t len;
	uint8_t raw[NETIF_FRAME_MAX_BYTES];
	struct eth_hdr_view eth;
	bool is_arp, is_tcp;
	struct arp_view arp;
	struct ipv4_view ip;
	struct tcp_view tcp;
};

struct harness_capture {
	uint64_t at_ns;
	uint16_t len;
	uint8_t *data;
};

struct harness {
	struct sim sim;         /* its clock drives everything; never copied */
	struct harness_opts opts;
	struct sim_link *link;
	struct netif *nic_port, *peer_port;
	struct shm_link *chan;
	struct nic *nic;
	int app;
	struct bt_host *host;   /* a test may destroy it and set NULL */
	/* frames the NIC sent, not yet popped */
	struct harness_capture *cap;
	uint32_t cap_head, cap_count, cap_size;
	/* bt_poll results, OR-ed per connection / listener until taken */
	uint32_t *conn_flags;
	int *conn_err;
	uint32_t listener_flags[64]; /* HOST_MAX_LISTENERS */
	uint64_t events_seen;
	/* the peer's one connection */
	struct harness_peer peer;
	int conn;               /* the application's id for it */
	int listener;           /* listener id, or -1 */
	uint16_t ip_id;
	bool trace;             /* HARNESS_TRACE set: frames to stderr */
};

/* Creates everything; asserts on failure. */
struct harness *harness_init(const struct harness_opts *o);
/* harness_init with harness_default_opts. */
struct harness *harness_init_default(void);
void harness_destroy(struct harness *h);
static inline uint64_t harness_now(const struct harness *h) { return h->sim.now_ns; }

/* Runs everything due up to now + ns (inclusive), then leaves the clock at
 * now + ns. harness_advance(h, 0) settles the current instant. */
void harness_advance(struct harness *h, uint64_t ns);
/* Advances event by event until pred(h, ctx) holds (checked after every
 * instant) or `max_ns` passed; returns whether it holds. The clock stops
 * at the instant it became true, else at now + max_ns. */
typedef bool (*harness_pred)(struct harness *h, void *ctx);
bool harness_advance_until(struct harness *h, uint64_t max_ns, harness_pred pred, void *ctx);
/* harness_advance_until "the NIC has sent a frame not yet popped": the
 * clock is then at that frame's arrival. */
bool harness_advance_to_frame(struct harness *h, uint64_t max_ns);

/* Extra fields of a scripted segment. NULL means: no options, TOS 0, the
 * tracked connection's ports. */
struct harness_seg {
	const struct tcp_opts *opts;
	uint8_t tos;
	uint16_t sport, dport; /* 0: the tracked connection's */
};
/* Sends one TCP segment from the peer to the NIC, exactly as given. The
 * NIC sees it at the next harness_advance. */
void harness_inject(struct harness *h, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t window,
		    const void *payload, uint16_t len, const struct harness_seg *x);
/* The frame harness_inject would send, built into frame[0..cap) and not
 * sent (for a test that alters its bytes or hands it to the fast path
 * itself); returns its length. */
int harness_build_frame(struct harness *h, uint8_t *frame, size_t cap, uint8_t flags, uint32_t seq, uint32_t ack,
			uint16_t window, const void *payload, uint16_t len, const struct harness_seg *x);
/* Sends a raw Ethernet frame from the peer. */
void harness_inject_raw(struct harness *h, const uint8_t *frame, uint16_t len);
/* Sends from the tracked peer state: seq = snd_nxt, ack = rcv_nxt (ACK is
 * always set), window = peer.window, TS when negotiated, TOS = peer.tos;
 * then advances snd_nxt by the payload and FIN. */
void harness_peer_send(struct harness *h, uint8_t flags, const void *payload, uint16_t len);
/* A pure ACK of everything received so far. */
static inline void harness_peer_ack(struct harness *h) { harness_peer_send(h, TCP_ACK, NULL, 0); }

/* Pops the next frame the NIC sent: 1 and fills *out, or 0 if none. */
int harness_expect_frame(struct harness *h, struct harness_frame *out);
/* Like harness_expect_frame, but asserts there is one and that it is TCP
 * of the tracked connection; updates the peer's view (ts_recent, nic_wnd,
 * and rcv_nxt when the segment is the next in order). */
void harness_expect_tcp(struct harness *h, struct harness_frame *out);
/* Frames captured and not yet popped. */
uint32_t harness_pending_frames(const struct harness *h);
/* Drops every captured frame. */
void harness_drop_frames(struct harness *h);
/* Updates the peer's view from a frame the NIC sent (see expect_tcp).
 * Returns the number of in-order payload bytes it advanced rcv_nxt by. */
uint32_t harness_peer_absorb(struct harness *h, const struct harness_frame *f);

/* The peer receives from the NIC until it holds `want` in-order bytes or
 * no frame comes for idle_ns: in-order payload is copied to buf (if not
 * NULL) at its stream offset from the call, and every batch of frames
 * carrying data is ACKed at once. Returns the in-order bytes received. */
uint32_t harness_peer_recv(struct harness *h, uint8_t *buf, uint32_t want, uint64_t idle_ns);

/* Passive open: the application listens on `port` (backlog 8, or max_conns if smaller) unless it
 * already does; the peer (port 40000) sends SYN with `so` (NULL: defaults)
 * from `peer_isn`, checks the SYN-ACK, ACKs it; the application accepts.
 * Returns the connection id; the SYN-ACK goes to synack_out if not NULL. */
int harness_passive_open(struct harness *h, uint16_t port, uint32_t peer_isn, const struct harness_syn_opts *so,
			 struct harness_frame *synack_out);
/* Active open: the application connects to the peer's `port`; the peer
 * answers the SYN with a SYN-ACK from `peer_isn` (options `so`), and the
 * NIC's ACK is checked. Returns the connection id; the NIC's SYN goes to
 * syn_out if not NULL. */
int harness_active_open(struct harness *h, uint16_t port, uint32_t peer_isn, const struct harness_syn_opts *so,
			struct harness_frame *syn_out);

/* bt_poll flags seen for a connection or listener id since last taken;
 * taking clears them. */
uint32_t harness_take_flags(struct harness *h, int id);
uint32_t harness_peek_flags(const struct harness *h, int id);
int harness_conn_err(const struct harness *h, int id);

/* Reads everything readable on `conn` (bt_recv until EAGAIN/EOF/error)
 * into buf; returns the byte count. *eof_out (if not NULL) says whether
 * bt_recv returned 0. */
uint32_t harness_app_read(struct harness *h, int conn, void *buf, uint32_t cap, bool *eof_out);

/* The NIC's state for the tracked connection (enum tcp_state of
 * nic_internal.h), or -1 when the NIC holds no flow for it. */
int harness_tcp_state(struct harness *h);
struct nic_stats harness_stats(const struct harness *h);
struct bt_host_stats harness_host_stats(const struct harness *h);

/* Deterministic test payload: byte i of a stream is pattern(i). */
static inline uint8_t harness_pattern(uint32_t i) { return (uint8_t)(i * 31u + (i >> 8) * 7u + 1u); }
void harness_fill(uint8_t *buf, uint32_t len, uint32_t stream_off);
/* The application sends `len` bytes of the pattern from stream offset
 * stream_off on `conn`; asserts bt_send took them all. */
void harness_app_send(struct harness *h, int conn, uint32_t stream_off, uint32_t len);
/* harness_app_send, then time moves on (harness_advance(h, 0)) and the
 * NIC's next frame, a TCP one, is popped into *out. */
void harness_app_send_expect(struct harness *h, int conn, uint32_t stream_off, uint32_t len, struct harness_frame *out);

#endif
