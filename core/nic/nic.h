/*
 * nic.h: the NIC side of the stack, fast path and slow path, as one
 * object driven by nic_poll. It reaches the wire only through a netif and
 * each application only through that application's channel; it reads the
 * time only from the clock it is given. No globals: a process (the
 * simulator) can hold any number of NICs.
 */
#ifndef BT_NIC_H
#define BT_NIC_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../transports/channel.h"
#include "../../transports/clock.h"
#include "../../transports/netif.h"

#define NIC_MAX_APPS 64
#define NIC_MAX_STATIC_ARP 32

enum nic_cc_algo { NIC_CC_DCTCP = 0, NIC_CC_NONE = 1, NIC_CC_CONST_RATE = 2 };

struct nic_static_arp {
	uint32_t ip;
	uint8_t mac[6];
};

struct nic_config {
	uint32_t ip;
	uint32_t netmask;
	uint32_t gateway;            /* 0: none, off-subnet is unreachable */
	uint16_t mss;                /* our MSS (advertised and max sent) */
	uint32_t max_flows;
	uint32_t max_listeners;
	uint32_t staging_bytes;      /* per app: NIC-side DMA staging */
	/* TCP timing, nanoseconds */
	uint64_t rto_min_ns;
	uint64_t rto_initial_ns;
	uint64_t rto_max_ns;
	bool tail_probe;             /* the first timeout of a one-segment flight is a loss probe, no backoff;
				      * with SACK, a longer flight's comes at 2 SRTT + 2 ms (Linux's TLP) */
	bool tlp;                    /* a tail loss probe (RFC 8985 7, the default) for a flight of more
				      * than one segment, with SACK: at PTO = 2 SRTT plus the delayed-ACK
				      * bound, at least rto_min / 4, not after an RTO; the profiles use
				      * tail_probe's Linux timing, or none */
	bool early_retransmit;       /* with SACK, fewer than four segments out and nothing unsent: the
				      * first is lost once all the rest is SACKed (RFC 5827), since no
				      * DupThresh duplicates can come */
	bool rto_min_on_var;         /* RTO = SRTT + max(4 RTTVAR, rto_min) (Linux), not max(rto_min, SRTT + 4 RTTVAR) */
	uint32_t max_retries;        /* RTOs in a row before ETIMEDOUT */
	uint32_t syn_retries;
	uint64_t delayed_ack_ns;     /* bound on ACK delay; 0 = ACK every segment */
	uint64_t time_wait_ns;
	uint64_t fin_wait2_ns;       /* give up on a peer that never sends its FIN */
	uint64_t arp_timeout_ns;     /* ARP retry interval (fixed), syn_retries times */
	uint32_t isn_seed;           /* initial sequence numbers derive from it */
	/* congestion control */
	enum nic_cc_algo cc;
	uint32_t initial_cwnd_segs;
	uint64_t const_rate_bps;     /* NIC_CC_CONST_RATE */
	bool ecn;                    /* send ECT(0) and run DCTCP on ECE */
	bool timestamps;             /* offer and accept TCP timestamps (RFC 7323) */
	uint32_t ts_tick_us;         /* our TSval clock's tick (RFC 7323 5.4); 0 or 1: microseconds */
	bool window_scaling;         /* offer and accept window scaling (RFC 7323) */
	int8_t rcv_wscale;           /* our window scale; -1: the smallest that fits the buffer */
	uint8_t opt_layout;          /* enum tcp_opt_layout of our SYNs (proto.h) */
	bool drop_syn_fin;           /* a SYN with FIN for a listener is dropped (FreeBSD's drop_synfin) */
	bool ack_second_segment;     /* a segment arriving while an ACK is delayed is ACKed at once (FreeBSD) */
	bool ack_unsent_silent;      /* an ACK of unsent data is dropped without an ACK (Linux's tcp_ack) */
	bool ack_carries_fin;        /* while our FIN is unacknowledged, ACKs repeat it (FreeBSD) */
	bool cc_skip_sacked;         /* slow start counts only bytes an ACK newly delivered, not those
				      * SACKed before (Linux's acked_sacked) */
	bool newreno;                /* a peer without SACK: limited transmit (RFC 3042), NewReno recovery
				      * (RFC 6582) instead of going back N, and a duplicate ACK counts as
				      * a segment delivered (Linux's tcp_add_reno_sack) */
	bool prr;                    /* SACK recovery sends what proportional rate reduction allows
				      * (RFC 6937 with PRR-SSRB, as Linux's tcp_cwnd_reduction), not
				      * cwnd - pipe with cwnd cut at once to ssthresh (RFC 6675) */
	bool cubic_decrease;         /* recovery's ssthresh is max(cwnd * 717/1024, 2 MSS) in whole
				      * segments (Linux's CUBIC), not half the flight */
	bool sack_whole_segments;    /* going back N resends a segment whose tail alone was SACKed (Linux) */
	bool more_probe;             /* a tail sent with more to follow (MSG_MORE): with nothing in flight
				      * held until a probe at the RTO, which sends it with PSH; with data
				      * in flight sent by the next ACK (Linux's probe0 timer, nonagle) */
	bool psh_burst_end;          /* PSH also on the last segment of a burst of two or more that the
				      * window ends (Linux's TSO packets, as its packetdrill scripts show) */
	bool rcvbuf_round_mss;       /* the receive buffer grows to a multiple of the MSS on open (FreeBSD) */
	uint8_t quickack_segs;       /* the first data segments of a connection are ACKed at once (Linux) */
	bool nagle;                  /* new flows hold small segments while data is in flight
				      * (RFC 896; off: TCP_NODELAY); per flow by BT_OPT_NODELAY */
	bool sack;                   /* offer and accept SACK (RFC 2018); off: go-back-N */
	struct nic_static_arp static_arp[NIC_MAX_STATIC_ARP];
	uint32_t static_arp_count;
	/* Negative controls only: bring back a known BlueTAS bug class
	 * (bits of enum nic_bug). Zero in every real configuration. */
	uint32_t inject_bugs;
};

enum nic_bug {
	NIC_BUG_RX_FIRST_SEGMENT_ONLY = 1u << 0, /* in-order payload lands at the unread head */
	NIC_BUG_WRITE_WITHOUT_CREDITS = 1u << 2, /* events written on, past the ring and its credits */
	NIC_BUG_DROP_WAKEUPS = 1u << 5,          /* an owed WAKEUP is forgotten, never posted */
	NIC_BUG_NO_SIMULTANEOUS_OPEN = 1u << 6,  /* a SYN in SYN_SENT is dropped */
	NIC_BUG_NO_SIMULTANEOUS_CLOSE = 1u << 7, /* a FIN in FIN_WAIT_1 is dropped */
};
void nic_default_config(struct nic_config *cfg);
/* TCP profiles that make the stack look like a general-purpose host to
 * conformance scripts (docs/conformance.md): timers, ECN, MSS, Nagle and
 * the SYN's option layout of Linux or of FreeBSD. They change only these
 * fields of a configuration nic_default_config filled; the datacenter
 * defaults stay the default everywhere else. */
void nic_profile_linux(struct nic_config *cfg);
void nic_profile_freebsd(struct nic_config *cfg);

/* Every counter the NIC keeps; docs/architecture.md says what each means. */
struct nic_stats {
	uint64_t rx_frames, tx_frames;
	uint64_t rx_bad_eth, rx_bad_ip, rx_bad_tcp, rx_bad_csum, rx_not_for_us;
	uint64_t rx_no_flow_rst;         /* segment for no flow: answered RST */
	uint64_t rx_out_of_window;       /* payload outside the receive window */
	uint64_t rx_ooo_segments;        /* placed out of order */
	uint64_t rx_ooo_dropped;         /* out of order, not adjacent to the interval */
	uint64_t rx_duplicate;           /* payload wholly below rcv_nxt */
	uint64_t rx_rst_ignored;         /* RST not at rcv_nxt, out of window, or for no flow */
	uint64_t rx_ack_unsent;          /* ACK of data never sent: dropped, ACKed (linux-like: silently) */
	uint64_t rx_listen_dropped;      /* neither SYN nor ACK for a listening port (RFC 9293 3.10.7.2) */
	uint64_t rx_icmp_errors;         /* ICMP hard errors that failed a connect (sp_icmp.c) */
	uint64_t rx_icmp_ignored;        /* ICMP messages ignored: soft, stale, forged or malformed */
	uint64_t tx_challenge_acks;      /* RFC 5961 challenge ACKs (stray SYN, in-window RST) */
	uint64_t rx_payload_bytes;
	uint64_t tx_payload_bytes;
	uint64_t tx_segments, tx_acks, tx_retransmits;
	uint64_t tx_inline_segments;       /* data segments built from a doorbell's inline payload
					    * (core/ctxq.h), without a READ of the host's ring */
	uint64_t tx_retransmit_bytes;      /* payload bytes sent again */
	uint64_t rx_sack_blocks;           /* SACK blocks taken into the scoreboard */
	uint64_t rx_sack_ignored;          /* SACK blocks outside (snd_una, snd_max]: D-SACK, stale, forged */
	uint64_t tx_sack_blocks;           /* SACK blocks sent */
	uint64_t sack_recoveries;          /* RFC 6675 loss recovery episodes begun */
	uint64_t sack_hole_retransmits;    /* segments resent into a SACK hole */
	uint64_t sack_rtx_lost;            /* a resent head hole found lost again (SACKs above its resend) */
	uint64_t tx_zero_window;         /* segments sent advertising a zero window */
	uint64_t fast_retransmits, rtos, zero_window_probes;
	uint64_t tail_probes;              /* loss probes sent where the RTO would have fired (TLP) */
	uint64_t early_retransmits;        /* recoveries begun by early retransmit (RFC 5827) */
	uint64_t keepalive_probes;       /* probes of an idle connection (SO_KEEPALIVE) */
	uint64_t ecn_ce_received, ecn_ece_acked_bytes;
	uint64_t syn_backlog_drops;      /* SYN with no free accept slot */
	uint64_t conns_opened, conns_accepted, conns_closed, conns_reset, conns_timed_out;
	uint64_t arp_requests_sent, arp_replies_sent, arp_unresolved;
	uint64_t tx_no_buf;              /* netif had no buffer: frame dropped */
	uint64_t tx_ring_full;           /* netif refused a frame */
	uint64_t dma_staging_full;       /* RX segment dropped: no staging space */
	uint64_t dma_sq_full;            /* channel send queue full: work deferred */
	uint64_t dma_errors;             /* error completions */
	uint64_t cmds, cmds_invalid;
	uint64_t sp_stall_drops;         /* segments for a stalled slow path, dropped */
	uint64_t events_written, wakeups_sent;
	uint64_t rx_csum_hw_verified;    /* frames whose TCP checksum the netif hardware verified */
	uint64_t tx_csum_offloaded;      /* frames whose TCP checksum the netif hardware filled */
	uint64_t simultaneous_opens;     /* a SYN in SYN_SENT: both ends opened at once (RFC 9293 3.5) */
	uint64_t simultaneous_closes;    /* a FIN in FIN_WAIT_1: both ends closed at once (CLOSING) */
	uint32_t flows_active, flows_max_seen;
};

/* Every field of struct nic_stats, in order, for code that prints or
 * looks counters up by name (one list: the static assert below fails
 * the build when a field is added to the struct but not here). */
#define NIC_STATS_FIELDS_U64(X)                                                                                 \
	X(rx_frames) X(tx_frames) X(rx_bad_eth) X(rx_bad_ip) X(rx_bad_tcp) X(rx_bad_csum) X(rx_not_for_us)     \
	X(rx_no_flow_rst) X(rx_out_of_window) X(rx_ooo_segments) X(rx_ooo_dropped) X(rx_duplicate)             \
	X(rx_rst_ignored) X(rx_ack_unsent) X(rx_listen_dropped) X(rx_icmp_errors) X(rx_icmp_ignored) X(tx_challenge_acks) X(rx_payload_bytes) X(tx_payload_bytes)        \
	X(tx_segments) X(tx_acks) X(tx_retransmits) X(tx_inline_segments) X(tx_retransmit_bytes) X(rx_sack_blocks) \
	X(rx_sack_ignored) X(tx_sack_blocks) X(sack_recoveries) X(sack_hole_retransmits) X(tx_zero_window)      \
	X(sack_rtx_lost) X(fast_retransmits) X(rtos) X(tail_probes) X(early_retransmits)                        \
	X(zero_window_probes) X(keepalive_probes) X(ecn_ce_received) X(ecn_ece_acked_bytes) X(syn_backlog_drops) X(conns_opened)   \
	X(conns_accepted) X(conns_closed) X(conns_reset) X(conns_timed_out) X(arp_requests_sent)               \
	X(arp_replies_sent) X(arp_unresolved) X(tx_no_buf) X(tx_ring_full) X(dma_staging_full) X(dma_sq_full)  \
	X(dma_errors) X(cmds) X(cmds_invalid) X(sp_stall_drops) X(events_written) X(wakeups_sent)  \
	X(rx_csum_hw_verified) X(tx_csum_offloaded) X(simultaneous_opens) X(simultaneous_closes)
#define NIC_STATS_FIELDS_U32(X) X(flows_active) X(flows_max_seen)
#define NIC_STATS_COUNT_(f) +1
static_assert(sizeof(struct nic_stats) == 8 * (0 NIC_STATS_FIELDS_U64(NIC_STATS_COUNT_)) +
						  4 * (0 NIC_STATS_FIELDS_U32(NIC_STATS_COUNT_)),
	      "NIC_STATS_FIELDS_* must list every field of struct nic_stats");

struct nic;

/* NULL on bad config or allocation failure (message in err). The netif
 * and clock must outlive the NIC. */
struct nic *nic_create(const struct nic_config *cfg, struct netif *wire, const struct bt_clock *clock,
		       char *err, size_t err_len);
void nic_destroy(struct nic *nic);

/* Starts serving an application over `ch` (the NIC's end). Returns the
 * app index >= 0 or a negative bt_err. The NIC never registers anything
 * of its own for remote access on the channel. */
int nic_attach_app(struct nic *nic, struct chan *ch);
/* Stops serving app `idx`: resets its flows, frees its state. */
void nic_detach_app(struct nic *nic, int idx);

/* Does all work that is ready at `now_ns`; returns how much (0: none). */
int nic_poll(struct nic *nic, uint64_t now_ns);
/* The earliest time the NIC needs to run on its own (its timers and its
 * channels' in-flight operations), BT_TIME_NEVER if none. */
uint64_t nic_next_event_ns(struct nic *nic);
/* True when nic_poll can find work only at nic_next_event_ns() or once a
 * host or the wire hands it some (an event loop may skip it until then);
 * false while it owes work no event announces: a broken application's
 * connections still to reset, a slow-path stall not yet seen to end, flows
 * blocked on DMA resources (retried, and counted, on every poll). */
bool nic_waits(const struct nic *nic);

void nic_get_stats(const struct nic *nic, struct nic_stats *out);
/* Appends a description of every flow and application (state, windows,
 * rings, timers, credits, and what each is waiting for) to buf. */
void nic_describe(const struct nic *nic, char *buf, size_t cap);

/* One connection's state for timelines and plots (sim/timeline.c): what a
 * time series of the flow shows. Sampling is read-only and costs a pass
 * over the flow table, so callers sample at an interval, never per packet. */
struct nic_flow_sample {
	uint32_t index, gen;            /* the flow's slot and its reuse count */
	uint32_t remote_ip;
	uint16_t local_port, remote_port;
	const char *state;              /* RFC 793 name, static storage */
	uint32_t cwnd_bytes, ssthresh_bytes;
	uint32_t in_flight_bytes;       /* snd_max - snd_una */
	uint32_t snd_wnd_bytes;         /* the peer's receive window */
	uint32_t rcv_wnd_bytes;         /* ours: RX ring space from rcv_nxt */
	uint32_t tx_queued_bytes;       /* application bytes not yet acknowledged */
	uint32_t srtt_us;
	uint32_t retries;               /* consecutive timeouts of the current segment */
	uint32_t snd_una;               /* for throughput: acknowledged bytes advance it */
};
/* Fills out[] with up to max flows in use (not retired), in slot order;
 * returns how many. */
uint32_t nic_flow_samples(const struct nic *nic, struct nic_flow_sample *out, uint32_t max);
/* Records the hops of RPCs (core/util/hop_trace.h) into `t` from now on;
 * NULL (the default) turns it off. The recorder must outlive the NIC. */
struct hop_trace;
void nic_set_hop_trace(struct nic *nic, struct hop_trace *t);
/* Fault injection: the slow path does nothing in [from, until): segments
 * it would handle are dropped, its commands wait, its timers wait. */
void nic_stall_slowpath(struct nic *nic, uint64_t from_ns, uint64_t until_ns);
/* True while any flow still has data unacknowledged or unsent. */
bool nic_busy(const struct nic *nic);

#endif
