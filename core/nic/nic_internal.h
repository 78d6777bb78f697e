/*
 * nic_internal.h: the NIC's state, shared by its files and no one else.
 *
 *   nic.c         lifecycle, the poll loop, deadlines
 *   flow_table.c  flow allocation and the 4-tuple hash
 *   fp_rx.c       fast path, receive: one established segment at a time
 *   fp_tx.c       fast path, transmit: segmentation, ACKs, frame output
 *   sp_conn.c     slow path: open, listen/accept, FIN/RST, close states
 *   sp_timers.c   slow path: RTO, persist, delayed ACK, TIME_WAIT
 *   sp_keepalive.c slow path: keepalive probes of an idle connection
 *   sp_opts.c     slow path: per-connection options (SETOPT)
 *   sp_icmp.c     slow path: ICMP errors about our segments
 *   sp_cc.c       slow path: congestion control (DCTCP) and rate
 *   fp_sack.c     fast path, SACK: blocks in and out, RFC 6675 recovery (sack.c: the scoreboard)
 *   arp.c         ARP cache, requests and replies
 *   app_chan.c    per-application channel: commands in, events out
 *   dma.c         staging memory and one-sided operations on host memory
 */
#ifndef BT_NIC_INTERNAL_H
#define BT_NIC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "../../transports/channel.h"
#include "../../transports/clock.h"
#include "../../transports/netif.h"
#include "../ctxq.h"
#include "../proto/ack_tmpl.h"
#include "../proto/proto.h"
#include "../util/hop_trace.h"
#include "../util/timer_heap.h"
#include "nic.h"
#include "sack.h"

#define FLOW_NONE UINT32_MAX
#define SLOT_LISTENING (UINT32_MAX - 1) /* slot_flow: handed to a listener */
#define NIC_TXQ_FRAMES 64
#define NIC_RX_BURST 32
#define NIC_ARP_ENTRIES 256
#define DMA_POLL_BATCH 32  /* completions a poll of an app's completion queue takes at most */
/* Of this many operations in a row at least one is signaled (dma.c): the
 * send-queue slots and staging of the unsignaled ones are freed with it. */
#define DMA_SIGNAL_EVERY 16

/* RFC 793 states; the names are the RFC's. */
enum tcp_state {
	TCP_CLOSED = 0,
	TCP_SYN_SENT,
	TCP_SYN_RCVD,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,
	TCP_CLOSING,
	TCP_LAST_ACK,
	TCP_TIME_WAIT,
};
const char *tcp_state_name(int state);

/* Per-connection options (BT_OPT_* of bluetas.h), set by the host with
 * SETOPT; 0 means "the NIC's default" for the numeric ones. */
struct flow_opts {
	uint32_t rcvbuf_bytes;    /* receive window limit */
	uint32_t user_timeout_ms; /* TCP_USER_TIMEOUT */
	uint16_t maxseg_bytes;    /* TCP_MAXSEG clamp */
	bool nagle;               /* !TCP_NODELAY */
	bool cork;                /* TCP_CORK */
	bool keepalive;           /* SO_KEEPALIVE */
	uint16_t keepidle_s;      /* TCP_KEEPIDLE, 0: BT_KEEPIDLE_DEFAULT_S */
	uint16_t keepintvl_s;     /* TCP_KEEPINTVL, 0: BT_KEEPINTVL_DEFAULT_S */
	uint8_t keepcnt;          /* TCP_KEEPCNT, 0: BT_KEEPCNT_DEFAULT */
	uint8_t tos;              /* IP_TOS: the TOS byte of our segments, ECN bits aside */
};

/* Record ends a flow remembers at once (MSG_EOR); one more is not kept
 * (its bytes may share a segment with the next record's). */
#define FLOW_EOR_MARKS 16

struct flow {
	/* --- identity and ownership --- */
	bool in_use;
	uint8_t state;            /* enum tcp_state */
	bool arp_wait;            /* SYN_SENT waiting for the next hop's MAC */
	bool rings_attached;      /* NIC may still DMA into the host slot */
	uint16_t app;
	uint32_t host_slot;
	uint32_t listener;        /* listener index, FLOW_NONE for active opens */
	uint32_t gen;             /* bumped on reuse: stale completions are dropped */
	uint32_t hash_next;       /* tuple hash chain, FLOW_NONE ends */
	uint32_t local_ip, remote_ip, next_hop_ip;
	uint16_t local_port, remote_port;
	uint8_t remote_mac[6];
	bool ts_ok, ecn_ok, wscale_ok, sack_ok;
	int err;                  /* bt_err that ended the flow */
	struct flow_opts opts;
	bool app_gone;            /* host closed its handle: nobody reads any more */

	/* --- fast path, receive --- */
	uint64_t rx_ring_off;     /* region offset of the host RX ring */
	uint32_t rx_ring_len;
	uint32_t rx_pos;          /* ring offset of rcv_nxt */
	uint32_t rx_avail;        /* ring bytes free from rcv_nxt on: our window */
	uint32_t rx_buf_bytes;    /* what rx_avail may reach: the ring or SO_RCVBUF */
	uint32_t rcv_nxt, irs;
	struct sack_rx rx_ooo;    /* out-of-order intervals (TAS keeps one; sack.h says why 8) */
	bool dsack_owed;           /* the next ACK reports dsack first (RFC 2883) */
	struct sack_interval dsack; /* duplicate range of the last segment */
	uint32_t adv_wnd_edge;    /* rcv_nxt + window in the last segment we sent */
	uint32_t rx_unacked_bytes;
	uint64_t delack_deadline_ns; /* 0: no ACK owed */
	bool ack_now;             /* an ACK must go out in this poll */
	bool ce_seen;             /* CE since the last ACK: echo ECE */
	bool fin_received;
	bool push_held;           /* TCP_NODELAY was set: what cork holds goes once */
	bool fin_held;            /* a FIN arrived beyond a gap: taken when rcv_nxt reaches fin_held_seq */
	uint32_t fin_held_seq;
	uint32_t ts_recent;
	uint8_t rcv_wscale;
	uint8_t quickacks_left;   /* data segments still ACKed at once (nic_config.quickack_segs) */

	/* --- fast path, transmit --- */
	uint64_t tx_ring_off;
	uint32_t tx_ring_len;
	uint32_t tx_una_pos;      /* ring offset of snd_una */
	uint32_t tx_queued;       /* app bytes in the ring from snd_una on */
	uint32_t snd_una, snd_nxt, snd_max, iss;
	uint32_t snd_emitted;     /* end of the highest sequence put on the wire; snd_nxt
				   * runs ahead of it while payload READs are in flight */
	uint32_t snd_wnd;         /* peer's window, bytes */
	uint8_t snd_wscale;
	uint16_t mss;
	uint8_t dupacks;
	struct sack_tx tx_sack;   /* SACK scoreboard and recovery episode */
	bool app_closed;          /* FIN goes after the queued data */
	bool fin_sent;
	uint32_t fin_seq;
	uint64_t next_tx_ns;      /* rate limit: no data before this */
	uint32_t tx_inflight_reads; /* READs posted and not completed */
	bool probe_due;           /* persist timer fired: send one byte past the window */
	struct ack_tmpl ack_tmpl; /* this flow's pure ACK, prebuilt (fp_emit_tcp) */
	uint64_t burst_ns;        /* when the segments counted in burst_segs went */
	uint32_t burst_segs;      /* new segments sent at burst_ns (nic_config.psh_burst_end) */
	bool tlp_armed;           /* rto_deadline_ns is a loss probe's (nic_config.tail_probe) */
	bool tlp_out;             /* a probe went: none again until snd_una reaches tlp_high_seq */
	bool tlp_new_data;        /* the probe is one new segment, whatever cwnd says */
	uint32_t eor_seq[FLOW_EOR_MARKS]; /* record ends (MSG_EOR) above snd_una, ascending */
	uint8_t eor_count;
	bool fin_alone;
	uint64_t more_deadline_ns; /* a held MSG_MORE tail goes then (nic_config.more_probe); 0: none */
	bool more_probe_due;      /* it is due now, with PSH */
	uint32_t tx_last_una;     /* snd_una at the last transmit pass: an ACK came since if it moved */           /* our FIN went in a segment of its own (what a probe resends) */
	uint32_t tlp_high_seq;

	/* --- slow path: congestion control, timers --- */
	uint32_t cwnd, ssthresh;
	uint64_t rate_bps;        /* 0: unlimited (window only) */
	uint32_t cc_round_end;
	uint32_t cc_acked_bytes, cc_ecn_bytes;
	uint32_t dctcp_alpha_q10; /* 1024 == 1.0 */
	uint32_t cwnd_frac;
	/* Proportional rate reduction (nic_config.prr, fp_prr.c), bytes of
	 * the current SACK recovery episode (RFC 6937 names). */
	uint32_t prr_delivered, prr_out, prior_cwnd;
	uint64_t last_hole_rtx_ns;      /* when a hole last went again (lost resends, fp_sack.c) */
	uint64_t rto_deadline_ns, persist_deadline_ns, tw_deadline_ns;
	uint32_t srtt_us, rttvar_us;
	uint64_t rto_ns, persist_backoff_ns;
	uint64_t syn_sent_ns;     /* our first SYN or SYN-ACK left (UINT64_MAX: resent, Karn) */
	uint32_t retries;
	uint64_t unacked_since_ns; /* data outstanding without progress since (USER_TIMEOUT) */
	uint64_t last_rx_ns;      /* the peer's last segment with an ACK (keepalive idleness) */
	uint64_t ka_deadline_ns;  /* keepalive check due, 0: off (sp_keepalive.c) */
	uint64_t ka_probe_ns;     /* when the last keepalive probe left */
	uint8_t ka_probes;        /* keepalive probes unanswered */

	/* --- the host's doorbells: absolute totals, last applied --- */
	uint32_t host_tx_total, host_rx_freed_total, doorbell_seen;
	uint64_t confirm_deadline_ns; /* doorbell_seen goes in a bare event then, if no
				       * event carried it before (ctxq.h); 0: none owed */
	uint32_t tx_unpushed;     /* queued bytes after the host's push mark (ctxq.h) */
	/* The newest doorbell's inline payload (ctxq.h, Inline payload): the
	 * stream bytes [tx_inline_end - tx_inline_len, tx_inline_end) by
	 * sequence number; a segment wholly inside them is built from here
	 * instead of a READ. 0 bytes: none. */
	uint32_t tx_inline_end;
	uint32_t tx_inline_len;
	uint8_t tx_inline[CTXQ_INLINE_MAX_BYTES];

	/* --- coalesced notification to the host --- */
	uint32_t ev_rx_bytes, ev_tx_freed;
	uint16_t ev_flags;
	int32_t ev_status;
	bool in_notify;
	uint32_t notify_next;
	bool in_tx;
	uint32_t tx_next;
	bool retired;             /* finished: freed once off the notify and TX lists */
};

enum dma_kind { DMA_NONE = 0, DMA_TX_READ, DMA_RX_WRITE, DMA_EV_WRITE };

struct dma_op {
	uint8_t kind;
	bool fin;                 /* TX segment also carries FIN (a burst: its last) */
	bool psh;                 /* TX segment ends a send of the host's: PSH (a burst: its last) */
	uint16_t seg_bytes;       /* TX read of a burst (fp_tx.c): its segments' size, the
				   * last one at most that; 0: one segment of len */
	bool signaled;            /* posted CHAN_WR_SIGNALED (dma.c) */
	uint32_t flow;
	uint32_t gen;
	uint32_t seq;
	uint32_t len;
	uint32_t staging_off;
	uint32_t staging_end;     /* staging tail after this op completes */
	uint64_t wr_id;
};

struct nic_app {
	bool in_use;
	bool hello_done;
	int broken;               /* chan_err once the link failed, else 0 */
	struct chan *ch;
	struct chan_info info;
	struct ctxq_hello hello;
	struct chan_remote_mr host_mr;
	/* NIC-side staging: payload between the wire and host memory lives
	 * here while a one-sided operation is in flight. Registered LOCAL. */
	uint8_t *staging;
	struct chan_mr staging_mr;
	uint32_t staging_len, staging_head, staging_tail, staging_used;
	/* in-flight operations, in posting order (completions come in it) */
	struct dma_op *ops;
	uint32_t ops_cap, ops_head, ops_count;
	uint64_t next_wr_id;
	uint32_t unsignaled_run;  /* operations posted unsignaled since the last signaled one */
	/* Completions polled and not yet acted on (dma_poll_completions: one
	 * may vouch for more unsignaled records than a batch takes). */
	struct chan_completion wc[DMA_POLL_BATCH];
	uint32_t wc_head, wc_count;
	/* event ring producer */
	uint64_t ev_produced, ev_consumed;
	uint64_t ev_wakeful;      /* ev_produced after the newest event worth a WAKEUP */
	uint32_t notify_head, notify_tail;
	bool armed;               /* host asleep: WAKEUP after the next event */
	bool wakeup_owed;         /* a WAKEUP not yet posted (no credit): retried every poll */
	uint32_t arm_seq;         /* sequence of the newest ARM, echoed in its WAKEUP */
	uint64_t confirm_delay_ns; /* longest a doorbell's confirmation waits for an
				    * event with news: a quarter of the host's refresh */
	uint32_t *slot_flow;      /* host slot -> flow, FLOW_NONE if free */
	struct flow_opts *slot_opts; /* options SETOPT gave a free slot, for its CONNECT */
	struct ctxq_cmd deferred; /* a slow-path command waiting out a stall */
	bool has_deferred;
};

struct listener {
	bool in_use;
	uint16_t port;
	uint16_t app;
	uint32_t host_id;
	uint32_t backlog;
	uint32_t *free_slots;     /* host slots handed in by ACCEPT_SLOT */
	uint32_t free_count;
	struct flow_opts opts;    /* inherited by every flow it accepts */
};

struct arp_entry {
	uint32_t ip;
	uint8_t mac[6];
	uint8_t state;            /* 0 free, 1 pending, 2 resolved, 3 static */
	uint8_t tries;
	uint64_t deadline_ns;
};

struct nic {
	struct nic_config cfg;
	struct netif *wire;
	const struct bt_clock *clock;
	uint8_t mac[6];
	uint64_t now_ns;

	struct flow *flows;
	uint32_t flow_free_head;
	/* Slots from flows_hi on were never used: still zero, on no list.
	 * Creating a NIC touches none of them (a short run pays for the flows
	 * it opens, not for max_flows), and loops over flows stop here. */
	uint32_t flows_hi;
	uint32_t *hash_buckets;
	uint32_t hash_mask;
	struct timer_heap timers;

	struct nic_app apps[NIC_MAX_APPS];
	int apps_hi;                        /* apps[apps_hi..] were never attached: polls stop there */
	struct listener *listeners;
	struct arp_entry arp[NIC_ARP_ENTRIES];

	uint32_t tx_head, tx_tail;          /* flows with transmit work */
	struct netif_buf *txq[NIC_TXQ_FRAMES];
	int txq_count;

	uint16_t next_ephemeral_port;
	uint16_t ip_id;
	uint32_t isn_counter;
	uint64_t sp_stall_from_ns, sp_stall_until_ns; /* fault injection */
	struct nic_stats stats;
	struct hop_trace *hops;             /* RPC hop trace, NULL: off (nic_hops.c) */
};

/* flow_table.c */
uint32_t flow_alloc(struct nic *nic);
void flow_free(struct nic *nic, uint32_t idx);
/* Ends a flow: cancels its timers and frees it as soon as no list holds it. */
void flow_retire(struct nic *nic, uint32_t idx);
void flow_free_if_retired(struct nic *nic, uint32_t idx);
void flow_hash_insert(struct nic *nic, uint32_t idx);
uint32_t flow_lookup(struct nic *nic, uint32_t local_ip, uint16_t local_port, uint32_t remote_ip,
		     uint16_t remote_port);
bool flow_port_in_use(struct nic *nic, uint16_t local_port, uint32_t remote_ip, uint16_t remote_port);

/* fp_rx.c */
/* `hw_flags`: what the netif's hardware verified (netif.h, NETIF_RX_*):
 * those checksums are not computed again. */
void fp_rx_frame(struct nic *nic, const uint8_t *frame, uint16_t len, uint16_t hw_flags);
/* A segment for an established flow whose checksum is already verified
 * (the slow path hands over the handshake's last ACK with its data). */
void fp_rx_established(struct nic *nic, uint32_t fi, const struct ipv4_view *ip, const struct tcp_view *tcp);
void fp_host_rx_freed(struct nic *nic, uint32_t fi, uint32_t bytes);

/* fp_rx_stage.c: a payload copied into staging as its checksum is verified */
struct rx_stage {
	bool staged;     /* the segment, header and payload, is at staging + off */
	bool posted;     /* place_payload posted it: the reservation is the operation's */
	uint8_t hdr;     /* TCP header bytes: the payload is at staging + off + hdr */
	uint16_t app;
	uint32_t off, len; /* the reservation */
};
/* False: the sum is bad, nothing staged. True: verified, and staged where
 * the fast path will likely place the payload (else st->staged is false). */
bool fp_rx_verify_stage(struct nic *nic, uint32_t fi, const struct ipv4_view *ip, const struct tcp_view *tcp,
			struct rx_stage *st);

/* fp_tx.c */
void fp_tx_schedule(struct nic *nic, uint32_t fi);
int fp_tx_run(struct nic *nic);
void fp_tx_read_done(struct nic *nic, const struct dma_op *op);
void fp_send_ack(struct nic *nic, uint32_t fi);
/* An RFC 5961 challenge ACK, now: a bare ACK at the highest sequence sent. */
void fp_send_challenge_ack(struct nic *nic, uint32_t fi);
void fp_send_ctrl(struct nic *nic, uint32_t fi, uint8_t flags, uint32_t seq);
void fp_send_rst_reply(struct nic *nic, const uint8_t *dst_mac, const struct ipv4_view *ip,
		       const struct tcp_view *tcp);
int fp_emit_frame(struct nic *nic, const uint8_t *frame, uint16_t len);
int fp_emit_tcp(struct nic *nic, struct flow *f, uint8_t flags, uint32_t seq, const uint8_t *payload,
		uint16_t payload_len, bool with_syn_opts);
int fp_flush_txq(struct nic *nic);
uint32_t fp_window_to_advertise(const struct flow *f);

/* fp_sack.c */
void fp_sack_opts(struct nic *nic, const struct flow *f, struct tcp_opts *opts, bool syn, bool offer);
void fp_sack_on_ack(struct nic *nic, uint32_t fi, const struct tcp_view *tcp);
/* Whether fp_sack_on_ack has anything to do: a SACK scoreboard, or NewReno's
 * episode without one. Inline: every ACK asks, and most flows of a plain
 * profile have neither (the call's register saves cost more than its work). */
static inline bool fp_sack_tracks(const struct nic *nic, const struct flow *f)
{
	return f->sack_ok || nic->cfg.newreno;
}
void fp_sack_recover(struct nic *nic, uint32_t fi);
int fp_sack_send_holes(struct nic *nic, uint32_t fi, bool lost_only);
/* Without SACK under nic_config.newreno: the bytes duplicate ACKs say
 * arrived (a segment each, Linux's reno sacked_out); 0 otherwise. */
uint32_t fp_reno_sacked(const struct nic *nic, const struct flow *f);
/* A record ends at `seq` (MSG_EOR, ctxq.h): kept once, in order. */
void fp_note_record_end(struct flow *f, uint32_t seq);
/* Resends [seq, seq + len) as one segment, SACKed or not (a loss probe). */
int fp_resend_range(struct nic *nic, uint32_t fi, uint32_t seq, uint32_t len, bool psh);

/* sp_conn.c */
void sp_segment(struct nic *nic, uint32_t fi, const uint8_t *src_mac, const struct ipv4_view *ip,
		const struct tcp_view *tcp);
void sp_fin_received(struct nic *nic, uint32_t fi);
void sp_fin_acked(struct nic *nic, uint32_t fi);
void sp_cmd_listen(struct nic *nic, int app, const struct ctxq_cmd *cmd);
void sp_cmd_accept_slot(struct nic *nic, int app, const struct ctxq_cmd *cmd);
void sp_cmd_connect(struct nic *nic, int app, const struct ctxq_cmd *cmd);
void sp_cmd_close(struct nic *nic, int app, const struct ctxq_cmd *cmd, bool abort);
void sp_flow_abort(struct nic *nic, uint32_t fi, int err, bool send_rst);
void sp_flow_release(struct nic *nic, uint32_t fi);
void sp_arp_resolved(struct nic *nic, uint32_t ip);
/* arp_lookup, sending the request it asks for. */
int sp_arp_lookup(struct nic *nic, uint32_t ip, uint8_t mac_out[6]);
void sp_app_gone(struct nic *nic, int app);
void sp_send_syn(struct nic *nic, uint32_t fi);
void sp_cmd_unlisten(struct nic *nic, int app, const struct ctxq_cmd *cmd);

/* sp_icmp.c: true when the packet was ICMP (and is dealt with). */
bool sp_icmp_rx(struct nic *nic, const struct ipv4_view *ip);

/* sp_opts.c */
void sp_opts_default(const struct nic *nic, struct flow_opts *o);
/* Applies a flow's options before its first SYN or SYN-ACK: window
 * limit, scale and MSS clamp. */
void sp_opts_apply_open(struct nic *nic, uint32_t fi);
void sp_cmd_setopt(struct nic *nic, int app, const struct ctxq_cmd *cmd);
/* What options do once the peer's SYN is processed (the MSS known). */
void sp_opts_on_peer_syn(struct nic *nic, uint32_t fi);
/* The MSS we advertise: the configured one, clamped by TCP_MAXSEG. */
uint16_t sp_adv_mss(const struct nic *nic, const struct flow *f);
void sp_fin_sent_state(struct nic *nic, uint32_t fi);

/* sp_timers.c */
void sp_timer_update(struct nic *nic, uint32_t fi);
int sp_timers_run(struct nic *nic);
void sp_rto_restart(struct nic *nic, uint32_t fi);
void sp_rtt_sample(struct nic *nic, uint32_t fi, uint32_t rtt_us);

/* sp_keepalive.c */
/* (Re)starts the keepalive clock of an open flow: at establishment (the
 * peer was just heard) and when an option changes; off without keepalive. */
void sp_keepalive_arm(struct nic *nic, uint32_t fi, bool heard_now);
/* The keepalive deadline passed: probe, wait again, or end the flow. */
void sp_keepalive_fired(struct nic *nic, uint32_t fi);

/* sp_cc.c */
void sp_cc_init(struct nic *nic, struct flow *f);
void sp_cc_on_ack(struct nic *nic, struct flow *f, uint32_t acked_bytes, bool ece);
void sp_cc_on_fast_retransmit(struct nic *nic, struct flow *f);
void sp_cc_on_rto(struct nic *nic, struct flow *f);

/* fp_prr.c: proportional rate reduction in SACK recovery (nic_config.prr) */
void fp_prr_enter(struct nic *nic, struct flow *f);
void fp_prr_on_ack(struct nic *nic, struct flow *f, uint32_t delivered_bytes, bool una_advanced);
void fp_prr_sent(struct flow *f, uint32_t bytes);

/* arp.c: the cache and the frames; it sends nothing and calls nothing
 * above it. A frame for the caller to send (len 0: none). */
struct arp_frame {
	uint16_t len;
	uint8_t bytes[ETH_MIN_FRAME_BYTES];
};
/* What a received ARP frame asks of the NIC. */
struct arp_rx_result {
	uint32_t resolved_ip;   /* a pending entry it resolved: wake its flows (sp_arp_resolved); 0: none */
	struct arp_frame reply; /* our reply to a request for our address */
};
void arp_init(struct nic *nic);
void arp_rx(struct nic *nic, const uint8_t *pkt, size_t len, struct arp_rx_result *out);
/* 1 and fills mac when known; else 0, and `request` holds a request to
 * send when none is in flight for ip (one per destination per
 * arp_timeout). sp_arp_lookup sends it. */
int arp_lookup(struct nic *nic, uint32_t ip, uint8_t mac_out[6], struct arp_frame *request);
/* Learns ip's address; true when that resolved a pending entry. */
bool arp_learn(struct nic *nic, uint32_t ip, const uint8_t mac[6]);
uint32_t nic_next_hop(const struct nic *nic, uint32_t dst_ip);

/* app_chan.c */
int app_chan_poll(struct nic *nic, int app);
void app_notify(struct nic *nic, uint32_t fi, uint16_t flags, int32_t status);
int app_events_flush(struct nic *nic, int app);
void app_refuse(struct nic *nic, int app, uint32_t host_conn, uint16_t flags, int status);
/* Hands an unused accept slot back to the host (listener closed). */
void app_return_slot(struct nic *nic, int app, uint32_t slot);

/* nic_hops.c: the hop trace's points; call only when nic->hops is set. */
void nic_hop_doorbell(struct nic *nic, uint32_t fi);
void nic_hop_dma_done(struct nic *nic, const struct dma_op *op);
void nic_hop_read_done(struct nic *nic, const struct flow *f, uint32_t seq_end);
void nic_hop_frame_out(struct nic *nic, const struct flow *f, uint32_t seq, uint16_t payload_len);
void nic_hop_frame_in(struct nic *nic, uint32_t fi);
void nic_hop_event(struct nic *nic, uint32_t fi, uint64_t t_ns);

/* dma.c */
int dma_app_init(struct nic *nic, struct nic_app *a);
void dma_app_fini(struct nic_app *a);
int dma_reserve(struct nic_app *a, uint32_t len, uint32_t *off_out);
void dma_unreserve(struct nic_app *a, uint32_t off, uint32_t len);
/* Grows the newest reservation, which ends at `end`, by `len` bytes right
 * after it: 0, or -1 if they do not fit there (nothing changes). */
int dma_reserve_more(struct nic_app *a, uint32_t end, uint32_t len);
int dma_post(struct nic *nic, int app, uint8_t kind, bool is_read, uint32_t staging_off, uint64_t remote_off,
	     uint32_t len, const struct dma_op *meta);
int dma_ring_post(struct nic *nic, int app, uint8_t kind, bool is_read, uint32_t staging_off,
		  uint64_t ring_off, uint32_t ring_len, uint32_t ring_pos, uint32_t len, const struct dma_op *meta);
int dma_rx_write(struct nic *nic, uint32_t fi, uint32_t staging_off, uint32_t len);
/* Gives back a reservation fp_rx_verify_stage made and place_payload did
 * not post. Inline: every staged segment asks, and almost all were posted. */
static inline void fp_rx_unstage(struct nic *nic, const struct rx_stage *st)
{
	if (st->staged && !st->posted)
		dma_unreserve(&nic->apps[st->app], st->off, st->len);
}
/* The operations of `app` that completed, in posting order, at most
 * DMA_POLL_BATCH (one poll of its completion queue); `more`: the queue
 * may hold further ones. dma.c does not act on them: the caller does (a
 * TX read's segment goes out, fp_tx_read_done), then frees each one's
 * staging with dma_release, in order. A completion in error breaks the
 * app and is not returned. */
int dma_poll_completions(struct nic *nic, int app, struct dma_op done[DMA_POLL_BATCH], bool *more);
static inline void dma_release(struct nic *nic, int app, const struct dma_op *op)
{
	nic->apps[app].staging_tail = op->staging_end;
}
/* Free send-queue slots. Inline: the receive path asks twice a segment. */
static inline uint32_t dma_sq_free(const struct nic_app *a) { return a->ops_cap - a->ops_count; }

static inline uint64_t nic_now(const struct nic *nic) { return nic->now_ns; }

/* New payload can go to the application: its rings are attached, it is
 * still there, and no FIN has ended the stream (the checksum pass stages
 * only then, and the in-order fast branch is taken only then). */
static inline bool flow_takes_data(const struct flow *f)
{
	return f->rings_attached && !f->app_gone && !f->fin_received;
}

/* Synchronized with a peer that still speaks: ESTABLISHED up to LAST_ACK,
 * not the handshake and not TIME_WAIT. The fast path takes segments only in
 * these states, and only these are kept alive by probes. */
static inline bool flow_state_synced(uint8_t state)
{
	switch (state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT_1:
	case TCP_FIN_WAIT_2:
	case TCP_CLOSE_WAIT:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		return true;
	default:
		return false;
	}
}
/* Our TSval clock now, in cfg.ts_tick_us ticks (microseconds by default;
 * Linux's is milliseconds, and scripts written against it check that). */
static inline uint32_t nic_tsval(const struct nic *nic)
{
	uint32_t tick_us = nic->cfg.ts_tick_us > 1 ? nic->cfg.ts_tick_us : 1;
	return (uint32_t)(nic_now(nic) / 1000 / tick_us);
}
/* The RTT, in microseconds, that a TSecr echoing our clock measures. */
static inline uint32_t nic_ts_rtt_us(const struct nic *nic, uint32_t ts_ecr)
{
	uint32_t tick_us = nic->cfg.ts_tick_us > 1 ? nic->cfg.ts_tick_us : 1;
	uint64_t rtt_us = (uint64_t)(uint32_t)(nic_tsval(nic) - ts_ecr) * tick_us;
	return rtt_us > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt_us;
}
static inline bool nic_slowpath_stalled(const struct nic *nic)
{
	return nic->now_ns >= nic->sp_stall_from_ns && nic->now_ns < nic->sp_stall_until_ns;
}
static inline uint32_t flow_index(const struct nic *nic, const struct flow *f)
{
	return (uint32_t)(f - nic->flows);
}

#endif
