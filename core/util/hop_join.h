/*
 * hop_join.h: from hop records (hop_trace.h) to the per-hop breakdown of
 * an RPC.
 *
 * The chain is the path of one RPC, point by point: on the client side
 * (side 0) send, db_post, db_seen, read_done, frame_out; then, when the
 * peer is our stack too and recorded (side 1, the simulator and the shm
 * benchmark), the peer's frame_in ... recv of the request and send ...
 * frame_out of the echo; then the client's frame_in, ev_posted, woke,
 * ev_seen, recv. Without peer records (a Linux peer) the client's
 * frame_out -> frame_in is the wire and the peer together.
 *
 * An RPC is one client bt_send (its HOP_SEND record, ending at offset E);
 * every later point is the first record in time of that side and point,
 * on that connection (ports swapped for the peer), that covers E. `woke`
 * is the end of the client's last bt_wait before it saw the event; one
 * that ended before the event was even posted did not deliver it (the
 * host was polling), and counts as the moment the event was seen.
 *
 * An RPC whose chain lacks a point (in flight at the end, records dropped)
 * is incomplete; one whose chain goes back in time (clocks of two
 * machines, a bug) is disordered. Neither enters the figures; both are
 * counted. The payload WRITE's completion (rx_written) is off the chain:
 * the host may see the event before the NIC sees that completion, so it
 * is shown as its own span after frame_in.
 */
#ifndef BT_HOP_JOIN_H
#define BT_HOP_JOIN_H

#include <stdint.h>
#include <stdio.h>

#include "hop_trace.h"

#define HOP_CHAIN_MAX 24

struct hop_step {
	uint8_t side;
	uint8_t point;
};

struct hop_rpc {
	uint64_t t_ns[HOP_CHAIN_MAX]; /* per chain step */
	uint64_t rx_written_ns;       /* 0: not recorded */
	uint32_t conn, off_end;
	uint8_t woke_flags;           /* the client's HOP_WOKE flags */
};

struct hop_report {
	struct hop_step chain[HOP_CHAIN_MAX];
	uint32_t steps;
	struct hop_rpc *rpcs;   /* the complete, ordered ones */
	uint32_t count;
	uint32_t incomplete, disordered;
	uint64_t dropped;       /* records the recorders could not keep */
};

/* Joins `n` records (any order, any number of files merged). 0, or -1
 * when out of memory. */
int hop_join(const struct hop_rec *recs, uint32_t n, uint64_t dropped, struct hop_report *out);
void hop_report_free(struct hop_report *r);

/* Per hop (consecutive chain steps) p50 and p99, the sum of the p50s, the
 * end-to-end (recv - send) p50 and p99, the off-chain WRITE completion
 * and how the client's waits ended. Lines "hop FROM->TO p50_us=... " and
 * one "hops rpcs=... " summary; `label` names the run. 0, or -1 when
 * `out` failed. */
int hop_report_print(const struct hop_report *r, const char *label, FILE *out);
/* The application's own round-trip samples of the same run (the echo
 * client's), printed next to the breakdown's sum: "measured rtts=N
 * p50_us=... p99_us=..." (nothing when n is 0). 0, or -1 when `out`
 * failed. */
int hop_print_measured(const uint64_t *rtt_ns, uint32_t n, FILE *out);

/* hop_join and hop_report_print over the records of `n` recorders. 0, or
 * -1 when out of memory or `out` failed. */
int hop_print_traces(const struct hop_trace *const *traces, int n, const char *label, FILE *out);

#endif
