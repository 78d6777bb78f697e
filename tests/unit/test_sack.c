/*
 * test_sack: selective acknowledgment (RFC 2018) and SACK loss recovery
 * (RFC 6675). First the scoreboard alone (core/nic/sack.c: intervals,
 * pipe, NextSeg, the lost-resend check), then the NIC against a scripted
 * peer (tests/support/harness.h): negotiation and its absence, the
 * receiver's blocks after several holes, and a sender that resends only
 * the holes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/nic/nic_internal.h"
#include "tests/support/harness.h"

#define PORT 80
#define MSS 1448

/* ---------- the scoreboard alone ---------- */

static void test_rx_intervals_merge_most_recent_first(void **state)
{
	(void)state;
	const uint32_t b = 0xffffff00u; /* intervals across the sequence wrap */
	struct sack_rx r = {0};
	struct tcp_sack_block out[TCP_SACK_MAX_BLOCKS];
	assert_true(sack_rx_add(&r, b + 100, b + 200));
	assert_true(sack_rx_add(&r, b + 300, b + 400));
	assert_true(sack_rx_add(&r, b + 500, b + 600));
	assert_int_equal(sack_rx_blocks(&r, out, 4), 3);
	assert_int_equal(out[0].start, b + 500); /* the newest first */
	assert_int_equal(out[1].start, b + 300);
	assert_int_equal(out[2].start, b + 100);
	/* A segment bridging two intervals makes one, at the front. */
	assert_true(sack_rx_add(&r, b + 200, b + 300));
	assert_int_equal(sack_rx_blocks(&r, out, 4), 2);
	assert_int_equal(out[0].start, b + 100);
	assert_int_equal(out[0].end, b + 400);
	assert_int_equal(out[1].start, b + 500);
	/* Adjacent grows, overlapping grows, and a duplicate moves to the front. */
	assert_true(sack_rx_add(&r, b + 600, b + 700));
	assert_int_equal(r.iv[0].end, b + 700);
	assert_true(sack_rx_add(&r, b + 150, b + 250));
	assert_int_equal(r.iv[0].start, b + 100);
	assert_int_equal(r.count, 2);
	/* SACK_RX_INTERVALS intervals fill the state; one more apart from
	 * all is refused, and nothing changes. */
	uint32_t top = b + 700;
	while (r.count < SACK_RX_INTERVALS) {
		top += 200;
		assert_true(sack_rx_add(&r, top - 100, top));
	}
	struct sack_rx before = r;
	assert_false(sack_rx_add(&r, top + 100, top + 200));
	assert_memory_equal(&r, &before, sizeof(r));
	/* With timestamps only 3 go out: the 3 most recent. */
	assert_int_equal(sack_rx_blocks(&r, out, 3), 3);
	assert_int_equal(out[0].start, top - 100);
	assert_int_equal(out[1].start, top - 300);
	assert_int_equal(out[2].start, SACK_RX_INTERVALS > 3 ? top - 500 : b + 100);
	/* Taking in order, from a fresh state of four intervals. */
	r = (struct sack_rx){0};
	assert_true(sack_rx_add(&r, b + 1000, b + 1100));
	assert_true(sack_rx_add(&r, b + 800, b + 900));
	assert_true(sack_rx_add(&r, b + 500, b + 700));
	assert_true(sack_rx_add(&r, b + 100, b + 400));
	/* rcv_nxt reaching b + 100 takes [b+100, b+400) in order, and stops
	 * at the hole before b + 500. */
	assert_int_equal(sack_rx_take_in_order(&r, b + 100), b + 400);
	assert_int_equal(r.count, 3);
	assert_int_equal(sack_rx_take_in_order(&r, b + 500), b + 700);
	/* A rcv_nxt past several at once takes them all. */
	assert_int_equal(sack_rx_take_in_order(&r, b + 950), b + 950);
	assert_int_equal(r.count, 1);
	assert_int_equal(sack_rx_take_in_order(&r, b + 1000), b + 1100);
	assert_int_equal(r.count, 0);
}

static struct tcp_opts blocks2(uint32_t s1, uint32_t e1, uint32_t s2, uint32_t e2)
{
	struct tcp_opts o = {.sack_count = 2};
	o.sack[0] = (struct tcp_sack_block){s1, e1};
	o.sack[1] = (struct tcp_sack_block){s2, e2};
	return o;
}

static void test_tx_scoreboard_holes_and_pipe(void **state)
{
	(void)state;
	const uint16_t mss = 100;
	const uint32_t una = 0xfffffe00u, max = una + 1000; /* 10 segments out */
	struct sack_tx t = {0};
	struct sack_tx_events ev;
	/* Segments 2 and 5..6 SACKed, plus three blocks to ignore: below
	 * snd_una (a D-SACK), past snd_max, and inverted. */
	struct tcp_opts o = blocks2(una + 500, una + 700, una + 200, una + 300);
	sack_tx_on_ack(&t, una, max, &o, &ev);
	assert_int_equal(ev.taken, 2);
	struct tcp_opts bad = {.sack_count = 3};
	bad.sack[0] = (struct tcp_sack_block){una - 100, una};
	bad.sack[1] = (struct tcp_sack_block){max, max + 100};
	bad.sack[2] = (struct tcp_sack_block){una + 900, una + 800};
	sack_tx_on_ack(&t, una, max, &bad, &ev);
	assert_int_equal(ev.ignored, 3);
	assert_int_equal(t.count, 2);
	assert_int_equal(t.iv[0].start, una + 200); /* sorted */
	/* 300 bytes SACKed above snd_una: more than 2 MSS, so it is lost. */
	assert_true(sack_tx_is_lost(&t, una, mss));
	assert_false(sack_tx_is_lost(&t, una + 300, mss)); /* 200 above: not yet */
	assert_int_equal(sack_tx_pipe(&t, una, max, mss), 700); /* outside an episode: unSACKed */
	assert_true(sack_tx_should_recover(&t, una, 0, mss));
	sack_tx_enter(&t, una, max);
	assert_false(sack_tx_should_recover(&t, una, 3, mss));
	/* In the episode the lost hole [una, una+200) leaves the pipe;
	 * [una+300, una+500) is not lost yet (2 MSS above it). */
	assert_int_equal(sack_tx_pipe(&t, una, max, mss), 500);
	uint32_t seq, len;
	assert_true(sack_tx_next_hole(&t, una, max, mss, true, &seq, &len));
	assert_int_equal(seq, una);
	assert_int_equal(len, mss);
	sack_tx_hole_sent(&t, seq, len, una, max);
	assert_int_equal(sack_tx_pipe(&t, una, max, mss), 600); /* resent: in flight again */
	assert_true(sack_tx_next_hole(&t, una, max, mss, true, &seq, &len));
	assert_int_equal(seq, una + 100);
	sack_tx_hole_sent(&t, seq, len, una, max);
	/* Rule 1 has nothing more: the next hole is not lost. Rule 3 gives it. */
	assert_false(sack_tx_next_hole(&t, una, max, mss, true, &seq, &len));
	assert_true(sack_tx_next_hole(&t, una, max, mss, false, &seq, &len));
	assert_int_equal(seq, una + 300);
	/* Never past the data (the FIN is never SACKed). */
	assert_false(sack_tx_next_hole(&t, una, una + 250, mss, false, &seq, &len));
	/* cwnd in outstanding terms: cwnd plus what left the network. */
	assert_int_equal(sack_tx_cwnd_outstanding(&t, 200, una, max, mss), 200 + 1000 - 700);
	/* The cumulative ACK reaching RecoveryPoint ends the episode. */
	struct tcp_opts none = {0};
	sack_tx_on_ack(&t, max, max, &none, &ev);
	assert_false(t.in_recovery);
	assert_int_equal(t.count, 0);
}

static void test_tx_lost_head_resend_goes_again(void **state)
{
	(void)state;
	const uint16_t mss = 100;
	const uint32_t una = 5000;
	uint32_t max = una + 600;
	struct sack_tx t = {0};
	struct sack_tx_events ev;
	struct tcp_opts o = blocks2(una + 100, una + 400, una + 100, una + 400);
	sack_tx_on_ack(&t, una, max, &o, &ev);
	sack_tx_enter(&t, una, max);
	uint32_t seq, len;
	assert_true(sack_tx_next_hole(&t, una, max, mss, true, &seq, &len));
	sack_tx_hole_sent(&t, seq, len, una, max); /* resent while snd_max was una + 600 */
	assert_false(sack_tx_next_hole(&t, una, max, mss, true, &seq, &len));
	/* A SACK of data sent before the resend proves nothing. */
	o = blocks2(una + 400, una + 600, una + 100, una + 400);
	sack_tx_on_ack(&t, una, max, &o, &ev);
	assert_false(ev.head_rtx_lost);
	/* New data went out after it and arrived; the head did not. */
	max += 200;
	o = blocks2(una + 700, una + 800, una + 100, una + 600);
	sack_tx_on_ack(&t, una, max, &o, &ev);
	assert_true(ev.head_rtx_lost);
	assert_true(sack_tx_next_hole(&t, una, max, mss, true, &seq, &len));
	assert_int_equal(seq, una);
	assert_int_equal(len, mss);
}

static void test_tx_after_rto_skips_sacked_and_holds(void **state)
{
	(void)state;
	const uint16_t mss = 100;
	struct sack_tx t = {0};
	struct sack_tx_events ev;
	struct tcp_opts o = blocks2(1200, 1400, 1600, 1700);
	sack_tx_on_ack(&t, 1000, 2000, &o, &ev);
	sack_tx_enter(&t, 1000, 2000);
	sack_tx_on_rto(&t, 2000, false);
	assert_false(t.in_recovery);
	/* Going back N steps over what the peer holds. */
	assert_int_equal(sack_tx_skip_sacked(&t, 1000), 1000);
	assert_int_equal(sack_tx_unsacked_run(&t, 1000, 500), 200);
	assert_int_equal(sack_tx_skip_sacked(&t, 1200), 1400);
	assert_int_equal(sack_tx_skip_sacked(&t, 1650), 1700);
	/* No new episode before the RTO's RecoveryPoint is acknowledged. */
	assert_false(sack_tx_should_recover(&t, 1000, 3, mss));
	struct tcp_opts none = {0};
	sack_tx_on_ack(&t, 2000, 2000, &none, &ev);
	assert_true(sack_tx_should_recover(&t, 2000, 3, mss));
	/* A second RTO in a row forgets the board (the peer may renege). */
	sack_tx_on_ack(&t, 2000, 3000, &o, &ev);
	o = blocks2(2200, 2300, 2200, 2300);
	sack_tx_on_ack(&t, 2000, 3000, &o, &ev);
	assert_int_equal(t.count, 1);
	sack_tx_on_rto(&t, 3000, true);
	assert_int_equal(t.count, 0);
}

/* ---------- the NIC against a scripted peer ---------- */

/* A passive connection with these options, the peer offering SACK or not. */
static struct harness *open_with(const struct harness_opts *o, bool peer_sack, int *conn, struct harness_frame *synack)
{
	struct harness *h = harness_init(o);
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	so.sack = peer_sack;
	*conn = harness_passive_open(h, PORT, 4000, &so, synack);
	return h;
}

static struct harness *open_sack(bool peer_sack, bool nic_sack, int *conn, struct harness_frame *synack)
{
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.sack = nic_sack;
	return open_with(&o, peer_sack, conn, synack);
}

static uint32_t rcv_base(const struct harness *h) { return h->peer.iss + 1; }
static uint32_t snd_base(const struct harness *h) { return h->peer.nic_iss + 1; }

/* The peer sends `len` bytes of its stream at offset `off`. */
static void send_at(struct harness *h, uint32_t off, uint16_t len)
{
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	harness_fill(buf, len, off);
	struct tcp_opts o = {.has_ts = true, .ts_val = h->peer.ts_val++, .ts_ecr = h->peer.ts_recent};
	struct harness_seg x = {.opts = &o};
	harness_inject(h, TCP_ACK, rcv_base(h) + off, h->peer.rcv_nxt, h->peer.window, buf, len, &x);
	free(buf);
}

/* The peer ACKs `ack` (an offset of the NIC's stream) with SACK blocks
 * given as offsets [s, e) of the NIC's stream. */
static void ack_with_blocks(struct harness *h, uint32_t ack, const uint32_t (*blk)[2], uint8_t n)
{
	struct tcp_opts o = {.has_ts = true, .ts_val = h->peer.ts_val++, .ts_ecr = h->peer.ts_recent};
	o.sack_count = n;
	for (uint8_t i = 0; i < n; i++)
		o.sack[i] = (struct tcp_sack_block){snd_base(h) + blk[i][0], snd_base(h) + blk[i][1]};
	struct harness_seg x = {.opts = &o};
	harness_inject(h, TCP_ACK, h->peer.snd_nxt, snd_base(h) + ack, h->peer.window, NULL, 0, &x);
}

/* A peer that offers SACK gets it, and every ACK after several holes
 * carries the held intervals, the newest first, 3 next to timestamps. */
static void test_receiver_reports_blocks_after_several_holes(void **state)
{
	(void)state;
	int conn;
	struct harness_frame f;
	struct harness *h = open_sack(true, true, &conn, &f);
	assert_true(f.tcp.opts.sack_permitted);
	/* Held: [1000,2000), then [3000,4000), then [5000,6000), then [7000,8000). */
	const uint32_t at[4] = {1000, 3000, 5000, 7000};
	for (uint32_t i = 0; i < 4; i++) {
		send_at(h, at[i], 1000);
		harness_advance(h, 0);
		harness_expect_tcp(h, &f);
		assert_int_equal(f.tcp.ack, rcv_base(h));
		uint32_t want = i + 1 < 3 ? i + 1 : 3;
		assert_int_equal(f.tcp.opts.sack_count, want);
		for (uint32_t k = 0; k < want; k++) {
			assert_int_equal(f.tcp.opts.sack[k].start, rcv_base(h) + at[i - k]);
			assert_int_equal(f.tcp.opts.sack[k].end, rcv_base(h) + at[i - k] + 1000);
		}
	}
	/* A segment that grows an older interval puts it first. */
	send_at(h, 2000, 500);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.opts.sack_count, 3);
	assert_int_equal(f.tcp.opts.sack[0].start, rcv_base(h) + 1000);
	assert_int_equal(f.tcp.opts.sack[0].end, rcv_base(h) + 2500);
	assert_int_equal(f.tcp.opts.sack[1].start, rcv_base(h) + 7000);
	/* The first hole fills: the ACK jumps over [1000, 2500) and reports the rest. */
	send_at(h, 0, 1000);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.ack, rcv_base(h) + 2500);
	assert_int_equal(f.tcp.opts.sack_count, 3);
	assert_int_equal(f.tcp.opts.sack[0].start, rcv_base(h) + 7000);
	assert_int_equal(f.tcp.opts.sack[1].start, rcv_base(h) + 5000);
	assert_int_equal(f.tcp.opts.sack[2].start, rcv_base(h) + 3000);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.tx_sack_blocks, 1 + 2 + 3 + 3 + 3 + 3);
	assert_int_equal(s.rx_ooo_dropped, 0);
	harness_destroy(h);
}

/* A peer without SACK-permitted gets no SACK-permitted back, no blocks,
 * and the blocks it sends anyway are not believed: three duplicate ACKs
 * go back N as before. */
static void test_peer_without_sack_gets_go_back_n(void **state)
{
	(void)state;
	int conn;
	struct harness_frame f;
	struct harness *h = open_sack(false, true, &conn, &f);
	assert_false(f.tcp.opts.sack_permitted);
	send_at(h, 1000, 1000);
	send_at(h, 3000, 1000);
	harness_advance(h, 0);
	for (int i = 0; i < 2; i++) {
		harness_expect_tcp(h, &f);
		assert_int_equal(f.tcp.opts.sack_count, 0);
	}
	assert_int_equal(harness_stats(h).tx_sack_blocks, 0);

	harness_app_send(h, conn, 0, 5 * MSS);
	harness_advance(h, 0);
	for (int i = 0; i < 5; i++)
		harness_expect_tcp(h, &f);
	/* Segment 1 lost; the peer "SACKs" 2..4 on three duplicate ACKs. */
	const uint32_t blk[1][2] = {{2 * MSS, 5 * MSS}};
	ack_with_blocks(h, MSS, blk, 0);
	harness_advance(h, 0);
	for (int i = 0; i < 3; i++) {
		ack_with_blocks(h, MSS, blk, 1);
		harness_advance(h, 0);
	}
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.rx_sack_blocks, 0);
	assert_int_equal(s.sack_recoveries, 0);
	assert_int_equal(s.fast_retransmits, 1);
	/* Go-back-N: segment 1 and then 2, whatever the blocks said. */
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.seq, snd_base(h) + MSS);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.seq, snd_base(h) + 2 * MSS);
	harness_destroy(h);
}

/* Both sides must agree: a NIC configured without SACK neither offers it
 * in its SYN nor accepts a peer's offer. */
static void test_negotiation_both_directions(void **state)
{
	(void)state;
	for (int nic_sack = 0; nic_sack < 2; nic_sack++) {
		struct harness_opts o;
		harness_default_opts(&o);
		o.nic.sack = nic_sack;
		struct harness *h = harness_init(&o);
		struct harness_syn_opts so;
		harness_default_syn_opts(&so);
		so.sack = true;
		struct harness_frame syn;
		harness_active_open(h, 9, 77, &so, &syn);
		assert_int_equal(syn.tcp.opts.sack_permitted, nic_sack);
		harness_destroy(h);

		int conn;
		struct harness_frame synack;
		h = open_sack(true, nic_sack, &conn, &synack);
		assert_int_equal(synack.tcp.opts.sack_permitted, nic_sack);
		send_at(h, 1000, 1000);
		harness_advance(h, 0);
		harness_expect_tcp(h, &synack);
		assert_int_equal(synack.tcp.opts.sack_count, nic_sack ? 1 : 0);
		harness_destroy(h);
	}
}

/* Ten segments out; 1 and 5 lost. The SACKing peer's duplicate ACKs
 * start one recovery that resends exactly segments 1 and 5. */
static void test_sender_resends_only_holes(void **state)
{
	(void)state;
	int conn;
	struct harness_frame f;
	struct harness *h = open_sack(true, true, &conn, &f);
	harness_app_send(h, conn, 0, 10 * MSS);
	harness_advance(h, 0);
	for (int i = 0; i < 10; i++)
		harness_expect_tcp(h, &f);
	assert_int_equal(harness_pending_frames(h), 0);
	/* As a receiver would: an ACK for segment 0, then one duplicate per
	 * segment that arrives, each with its blocks. */
	ack_with_blocks(h, MSS, NULL, 0);
	harness_advance(h, 0);
	const uint32_t b1[1][2] = {{2 * MSS, 3 * MSS}};
	const uint32_t b2[1][2] = {{2 * MSS, 4 * MSS}};
	const uint32_t b3[1][2] = {{2 * MSS, 5 * MSS}};
	const uint32_t b4[2][2] = {{6 * MSS, 7 * MSS}, {2 * MSS, 5 * MSS}};
	const uint32_t (*acks[4])[2] = {b1, b2, b3, b4};
	const uint8_t counts[4] = {1, 1, 1, 2};
	for (int i = 0; i < 4; i++) {
		ack_with_blocks(h, MSS, acks[i], counts[i]);
		harness_advance(h, 0);
	}
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.sack_recoveries, 1);
	/* Segment 1 goes at the entry (3 MSS SACKed above it); segment 5 is
	 * lost only once more than 2 MSS are SACKed above it (after 8). */
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.seq, snd_base(h) + MSS);
	assert_int_equal(f.tcp.payload_len, MSS);
	assert_int_equal(harness_pending_frames(h), 0);
	const uint32_t b5[2][2] = {{6 * MSS, 8 * MSS}, {2 * MSS, 5 * MSS}};
	const uint32_t b6[2][2] = {{6 * MSS, 9 * MSS}, {2 * MSS, 5 * MSS}};
	ack_with_blocks(h, MSS, b5, 2);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	ack_with_blocks(h, MSS, b6, 2);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.seq, snd_base(h) + 5 * MSS);
	assert_int_equal(f.tcp.payload_len, MSS);
	assert_int_equal(harness_pending_frames(h), 0);
	/* Segment 1 arrives: the ACK moves to 5 and nothing more goes. */
	const uint32_t b7[1][2] = {{6 * MSS, 9 * MSS}};
	ack_with_blocks(h, 5 * MSS, b7, 1);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	/* Segment 9 was never SACKed: not a hole (nothing above it); it is
	 * the last one out and goes again only by the RTO, if at all. */
	ack_with_blocks(h, 10 * MSS, NULL, 0);
	harness_advance(h, 100 * HARNESS_MS);
	assert_int_equal(harness_pending_frames(h), 0);
	s = harness_stats(h);
	assert_int_equal(s.tx_retransmits, 2);
	assert_int_equal(s.sack_hole_retransmits, 2);
	assert_int_equal(s.tx_retransmit_bytes, 2 * MSS);
	assert_int_equal(s.rtos, 0);
	assert_int_equal(s.rx_sack_blocks, 1 + 1 + 1 + 2 + 2 + 2 + 1);
	harness_destroy(h);
}

/* sack-route-refresh-ip-tos: an ACK that moves snd_una and SACKs new
 * data above a new hole counts as a duplicate "regardless of its status
 * as a cumulative acknowledgment" (RFC 6675 section 5, step 2): with
 * more than 2 MSS SACKed above the hole, it is lost and goes at once. We
 * used to enter recovery only on ACKs at snd_una, and waited for the RTO. */
static void test_cumulative_ack_with_new_blocks_starts_recovery(void **state)
{
	(void)state;
	int conn;
	struct harness_frame f;
	struct harness *h = open_sack(true, true, &conn, &f);
	harness_app_send(h, conn, 0, 10 * MSS);
	harness_advance(h, 0);
	for (int i = 0; i < 10; i++)
		harness_expect_tcp(h, &f);
	const uint32_t b[2][2] = {{3 * MSS, 4 * MSS}, {6 * MSS, 10 * MSS}};
	ack_with_blocks(h, MSS, b, 2);
	harness_advance(h, 0);
	assert_int_equal(harness_stats(h).sack_recoveries, 1);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.seq, snd_base(h) + MSS);
	assert_int_equal(f.tcp.payload_len, MSS);
	harness_destroy(h);
}

/* The default configuration with its two tail-recovery flags as given. */
static struct harness *open_tail(bool tlp, bool early_retransmit, int *conn)
{
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.tlp = tlp;
	o.nic.early_retransmit = early_retransmit;
	struct harness_frame synack;
	return open_with(&o, true, conn, &synack);
}

static const struct flow *established_flow(const struct harness *h)
{
	for (uint32_t i = 0; i < h->nic->cfg.max_flows; i++)
		if (h->nic->flows[i].in_use && h->nic->flows[i].state == TCP_ESTABLISHED)
			return &h->nic->flows[i];
	fail_msg("no established flow");
	return NULL;
}

/* RFC 5827: three segments out, nothing more to send, the first lost and
 * the other two SACKed. No third duplicate ACK can come, so the first goes
 * at once; without early retransmit it waited for the RTO (a 4 KiB
 * response's first segment lost cost 5 ms). */
static void small_flight_first_lost(bool early_retransmit)
{
	int conn;
	struct harness *h = open_tail(false, early_retransmit, &conn);
	harness_app_send(h, conn, 0, 3 * MSS);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 3);
	harness_drop_frames(h);
	uint64_t sent_at = harness_now(h);
	const uint32_t b1[1][2] = {{MSS, 2 * MSS}};
	const uint32_t b2[1][2] = {{MSS, 3 * MSS}};
	ack_with_blocks(h, 0, b1, 1);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0); /* the second may just be early */
	ack_with_blocks(h, 0, b2, 1);
	harness_advance(h, 0);
	struct harness_frame f;
	if (early_retransmit) {
		harness_expect_tcp(h, &f);
		assert_int_equal(f.at_ns, sent_at);
		assert_int_equal(harness_stats(h).early_retransmits, 1);
		assert_int_equal(harness_stats(h).sack_recoveries, 1);
	} else {
		assert_int_equal(harness_pending_frames(h), 0);
		assert_true(harness_advance_to_frame(h, 5000 * HARNESS_MS));
		harness_expect_tcp(h, &f);
		assert_true(f.at_ns - sent_at >= h->nic->cfg.rto_min_ns);
		assert_int_equal(harness_stats(h).rtos, 1);
	}
	assert_int_equal(f.tcp.seq, snd_base(h));
	assert_int_equal(f.tcp.payload_len, MSS);
	harness_destroy(h);
}

static void test_early_retransmit_of_a_small_flight(void **state)
{
	(void)state;
	small_flight_first_lost(true);
	small_flight_first_lost(false);
}

/* RFC 8985 7: three segments out and nothing back. The last one goes
 * again at PTO = 2 SRTT plus the delayed-ACK bound (at least rto_min / 4),
 * and its ACK ends the episode without an RTO; without the probe the
 * first resend is the RTO's, from the first segment. */
static void tail_lost(bool tlp)
{
	int conn;
	struct harness *h = open_tail(tlp, true, &conn);
	const struct flow *fl = established_flow(h);
	harness_app_send(h, conn, 0, 3 * MSS);
	harness_advance(h, 0);
	harness_drop_frames(h);
	uint64_t sent_at = harness_now(h);
	uint64_t pto_ns = 2ull * fl->srtt_us * HARNESS_US + h->nic->cfg.delayed_ack_ns;
	if (pto_ns < h->nic->cfg.rto_min_ns / 4)
		pto_ns = h->nic->cfg.rto_min_ns / 4;
	assert_true(pto_ns < fl->rto_ns);
	uint64_t rto_ns = fl->rto_ns;
	struct harness_frame f;
	assert_true(harness_advance_to_frame(h, 5000 * HARNESS_MS));
	harness_expect_tcp(h, &f);
	if (tlp) {
		assert_int_equal(f.at_ns - sent_at, pto_ns);
		assert_int_equal(f.tcp.seq, snd_base(h) + 2 * MSS);
		assert_int_equal(f.tcp.payload_len, MSS);
		assert_int_equal(harness_stats(h).tail_probes, 1);
		ack_with_blocks(h, 3 * MSS, NULL, 0);
		harness_advance(h, 100 * HARNESS_MS);
		assert_int_equal(harness_pending_frames(h), 0);
		assert_int_equal(harness_stats(h).rtos, 0);
	} else {
		assert_int_equal(f.at_ns - sent_at, rto_ns);
		assert_int_equal(f.tcp.seq, snd_base(h));
		assert_int_equal(harness_stats(h).tail_probes, 0);
	}
	harness_destroy(h);
}

static void test_tail_loss_probe_before_the_rto(void **state)
{
	(void)state;
	tail_lost(true);
	tail_lost(false);
}

/* RFC 2883 D-SACK: the duplicate part of a segment goes first in the
 * ACK it gets, at once, and only in that ACK (FreeBSD's
 * rcv-data-segments/overlapping-*; we did not report duplicates). */
static void expect_blocks(struct harness *h, uint32_t ack, const uint32_t (*b)[2], uint8_t n)
{
	struct harness_frame f;
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.ack, rcv_base(h) + ack);
	assert_int_equal(f.tcp.opts.sack_count, n);
	for (uint8_t k = 0; k < n; k++) {
		assert_int_equal(f.tcp.opts.sack[k].start, rcv_base(h) + b[k][0]);
		assert_int_equal(f.tcp.opts.sack[k].end, rcv_base(h) + b[k][1]);
	}
}

static void test_receiver_reports_duplicates_first(void **state)
{
	(void)state;
	int conn;
	struct harness_frame f;
	struct harness *h = open_sack(true, true, &conn, &f);
	send_at(h, 0, 1000);
	harness_advance(h, 10 * HARNESS_MS);
	harness_drop_frames(h);
	send_at(h, 3000, 1000);
	harness_advance(h, 0);
	const uint32_t held[1][2] = {{3000, 4000}};
	expect_blocks(h, 1000, held, 1);
	send_at(h, 3000, 1000); /* a duplicate of what is held */
	harness_advance(h, 0);
	const uint32_t d1[2][2] = {{3000, 4000}, {3000, 4000}};
	expect_blocks(h, 1000, d1, 2);
	send_at(h, 500, 1000); /* half below rcv_nxt, half new */
	harness_advance(h, 0);
	const uint32_t d2[2][2] = {{500, 1000}, {3000, 4000}};
	expect_blocks(h, 1500, d2, 2);
	send_at(h, 1500, 500); /* no duplicate: no D-SACK block */
	harness_advance(h, 0);
	expect_blocks(h, 2000, held, 1);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rx_intervals_merge_most_recent_first),
		cmocka_unit_test(test_tx_scoreboard_holes_and_pipe),
		cmocka_unit_test(test_tx_lost_head_resend_goes_again),
		cmocka_unit_test(test_tx_after_rto_skips_sacked_and_holds),
		cmocka_unit_test(test_receiver_reports_blocks_after_several_holes),
		cmocka_unit_test(test_peer_without_sack_gets_go_back_n),
		cmocka_unit_test(test_negotiation_both_directions),
		cmocka_unit_test(test_sender_resends_only_holes),
		cmocka_unit_test(test_cumulative_ack_with_new_blocks_starts_recovery),
		cmocka_unit_test(test_early_retransmit_of_a_small_flight),
		cmocka_unit_test(test_tail_loss_probe_before_the_rto),
		cmocka_unit_test(test_receiver_reports_duplicates_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
