/*
 * test_linux_sender: what the linux-like profile's sender does that
 * Google's packetdrill scripts pin down (docs/conformance.md, "Profiles"):
 * PSH where a burst the window cut ends, in new data and in resent holes;
 * slow start counting only newly delivered bytes; the tail loss probe of a
 * longer flight (new data, else the last segment); a segment whose tail
 * alone was SACKed resent whole; without SACK, limited transmit and
 * NewReno instead of going back N; a MSG_MORE tail held for the probe
 * timer or the next ACK; recovery paced by PRR with CUBIC's ssthresh.
 * Each is checked against the same script
 * with the flag off, the datacenter default.
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

/* A passive connection with SACK and timestamps, the linux-like profile
 * with `tweak` applied to it (the negative controls turn one flag off). */
static struct harness *open_linux(void (*tweak)(struct nic_config *), int *conn)
{
	struct harness_opts o;
	harness_default_opts(&o);
	nic_profile_linux(&o.nic);
	o.nic.sack = true;
	if (tweak)
		tweak(&o.nic);
	struct harness *h = harness_init(&o);
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	so.sack = true;
	struct harness_frame synack;
	*conn = harness_passive_open(h, PORT, 4000, &so, &synack);
	harness_drop_frames(h);
	return h;
}

static struct flow *the_flow(struct harness *h)
{
	for (uint32_t i = 0; i < h->nic->cfg.max_flows; i++)
		if (h->nic->flows[i].in_use && h->nic->flows[i].state == TCP_ESTABLISHED)
			return &h->nic->flows[i];
	fail_msg("no established flow");
	return NULL;
}

static uint32_t snd_base(const struct harness *h) { return h->peer.nic_iss + 1; }

static void app_send(struct harness *h, int conn, uint32_t len)
{
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	harness_fill(buf, len, 0);
	assert_int_equal(bt_send(h->host, conn, buf, len), (ssize_t)len);
	free(buf);
}

/* The peer ACKs offset `ack` of our stream, with SACK blocks [s, e). */
static void ack_with_blocks(struct harness *h, uint32_t ack, const uint32_t (*blk)[2], uint8_t n)
{
	struct tcp_opts o = {.has_ts = true, .ts_val = h->peer.ts_val++, .ts_ecr = h->peer.ts_recent};
	o.sack_count = n;
	for (uint8_t i = 0; i < n; i++)
		o.sack[i] = (struct tcp_sack_block){snd_base(h) + blk[i][0], snd_base(h) + blk[i][1]};
	struct harness_seg x = {.opts = &o};
	harness_inject(h, TCP_ACK, h->peer.snd_nxt, snd_base(h) + ack, h->peer.window, NULL, 0, &x);
}

static void no_psh_burst_end(struct nic_config *c) { c->psh_burst_end = false; }
static void no_cc_skip_sacked(struct nic_config *c) { c->cc_skip_sacked = false; }
static void no_tail_probe(struct nic_config *c) { c->tail_probe = false; }
static void no_probe_nor_whole_segments(struct nic_config *c)
{
	c->tail_probe = false;
	c->sack_whole_segments = false;
}

/* limited-transmit-*, prr-*: a write larger than cwnd goes as one burst
 * the window cuts; Linux sends it as one TSO packet with PSH, which the
 * scripts see on its last segment. The end of the write has PSH too. */
static void burst_psh(bool on)
{
	int conn;
	struct harness *h = open_linux(on ? NULL : no_psh_burst_end, &conn);
	struct flow *f = the_flow(h);
	uint32_t segs = f->cwnd / f->mss;
	assert_true(segs >= 2);
	app_send(h, conn, (segs + 2) * f->mss);
	harness_advance(h, 0);
	struct harness_frame fr;
	for (uint32_t i = 0; i < segs; i++) {
		harness_expect_tcp(h, &fr);
		bool last = i + 1 == segs;
		assert_int_equal((fr.tcp.flags & TCP_PSH) != 0, on && last);
	}
	assert_int_equal(harness_pending_frames(h), 0);
	harness_destroy(h);
}

static void test_psh_ends_a_burst_the_window_cuts(void **state)
{
	(void)state;
	burst_psh(true);
	burst_psh(false);
}

/* sack-route-refresh-ip-tos: holes resent together end with PSH. */
static void holes_psh(bool on)
{
	int conn;
	struct harness *h = open_linux(on ? NULL : no_psh_burst_end, &conn);
	struct flow *f = the_flow(h);
	uint32_t mss = f->mss;
	app_send(h, conn, 10 * mss);
	harness_advance(h, 0);
	harness_drop_frames(h);
	/* Segment 0 arrives, 1..4 are lost, 5..9 SACKed in one ACK. */
	const uint32_t b[1][2] = {{5 * mss, 10 * mss}};
	ack_with_blocks(h, mss, b, 1);
	harness_advance(h, 0);
	struct harness_frame fr;
	uint32_t n = harness_pending_frames(h);
	assert_true(n >= 2);
	for (uint32_t i = 0; i < n; i++) {
		harness_expect_tcp(h, &fr);
		assert_int_equal(fr.tcp.seq, snd_base(h) + (1 + i) * mss); /* the holes, in order */
		assert_int_equal((fr.tcp.flags & TCP_PSH) != 0, on && i + 1 == n);
	}
	harness_destroy(h);
}

static void test_psh_ends_resent_holes(void **state)
{
	(void)state;
	holes_psh(true);
	holes_psh(false);
}

/* limited-transmit-sack: the ACK of segments SACKed before grows cwnd
 * only by what it newly delivered (Linux's acked_sacked). */
static uint32_t cwnd_after_sacked_ack(bool on)
{
	int conn;
	struct harness *h = open_linux(on ? NULL : no_cc_skip_sacked, &conn);
	struct flow *f = the_flow(h);
	uint32_t mss = f->mss;
	uint32_t cwnd0 = f->cwnd;
	app_send(h, conn, 12 * mss);
	harness_advance(h, 0);
	const uint32_t b[1][2] = {{mss, 3 * mss}};
	ack_with_blocks(h, 0, b, 1);
	harness_advance(h, 0);
	ack_with_blocks(h, 3 * mss, NULL, 0);
	harness_advance(h, 0);
	uint32_t grown = f->cwnd - cwnd0;
	assert_int_equal(grown % mss, 0);
	harness_destroy(h);
	return grown / mss;
}

static void test_slow_start_counts_newly_delivered(void **state)
{
	(void)state;
	assert_int_equal(cwnd_after_sacked_ack(true), 1);
	assert_int_equal(cwnd_after_sacked_ack(false), 3);
}

/* fr-4pkt-fack-last-byte, shutdown-rdwr-*: a flight of several segments
 * with nothing back: after 2 SRTT + 2 ms the last segment goes again (no
 * new data to send), with PSH; the RTO proper follows from then on. */
static void probe_last_segment(bool on)
{
	int conn;
	struct harness *h = open_linux(on ? NULL : no_tail_probe, &conn);
	struct flow *f = the_flow(h);
	uint32_t mss = f->mss;
	app_send(h, conn, 4 * mss);
	harness_advance(h, 0);
	harness_drop_frames(h);
	uint64_t sent_at = harness_now(h);
	uint64_t pto_ns = 2ull * f->srtt_us * 1000ull + 2 * HARNESS_MS;
	uint64_t rto_ns = f->rto_ns;
	assert_true(pto_ns < rto_ns);
	struct harness_frame fr;
	assert_true(harness_advance_to_frame(h, 5000 * HARNESS_MS));
	harness_expect_tcp(h, &fr);
	if (on) {
		assert_int_equal(fr.at_ns - sent_at, pto_ns);
		assert_int_equal(fr.tcp.seq, snd_base(h) + 3 * mss);
		assert_int_equal(fr.tcp.payload_len, mss);
		assert_true(fr.tcp.flags & TCP_PSH);
		uint64_t probe_at = fr.at_ns;
		assert_true(harness_advance_to_frame(h, 5000 * HARNESS_MS));
		harness_expect_tcp(h, &fr);
		assert_int_equal(fr.at_ns - probe_at, rto_ns);
		assert_int_equal(fr.tcp.seq, snd_base(h)); /* the RTO goes back N */
	} else {
		assert_int_equal(fr.at_ns - sent_at, rto_ns);
		assert_int_equal(fr.tcp.seq, snd_base(h));
	}
	harness_destroy(h);
}

static void test_tail_probe_resends_the_last_segment(void **state)
{
	(void)state;
	probe_last_segment(true);
	probe_last_segment(false);
}

/* shutdown-rdwr-send-queue-ack-close: with data cwnd holds back, the
 * probe is one new segment. */
static void test_tail_probe_sends_new_data_first(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_linux(NULL, &conn);
	struct flow *f = the_flow(h);
	uint32_t mss = f->mss;
	uint32_t segs = f->cwnd / mss;
	app_send(h, conn, (segs + 3) * mss);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), segs);
	harness_drop_frames(h);
	struct harness_frame fr;
	assert_true(harness_advance_to_frame(h, 5000 * HARNESS_MS));
	harness_expect_tcp(h, &fr);
	assert_int_equal(fr.tcp.seq, snd_base(h) + segs * mss);
	assert_int_equal(fr.tcp.payload_len, mss);
	assert_int_equal(harness_pending_frames(h), 0); /* one segment only */
	assert_int_equal(harness_stats(h).rtos, 0);
	harness_destroy(h);
}

/* fr-4pkt-fack-last-byte: only the last byte of segment 3 was SACKed;
 * going back N after the RTO resends segment 3 whole, as Linux, whose
 * scoreboard splits segments only at MSS multiples. */
static uint32_t last_resend_len(bool on)
{
	int conn;
	struct harness *h = open_linux(on ? no_tail_probe : no_probe_nor_whole_segments, &conn);
	struct flow *f = the_flow(h);
	uint32_t mss = f->mss;
	app_send(h, conn, 4 * mss);
	harness_advance(h, 0);
	harness_drop_frames(h);
	const uint32_t b[1][2] = {{4 * mss - 1, 4 * mss}};
	ack_with_blocks(h, 0, b, 1);
	harness_advance(h, 0);
	/* The RTO resends segment 0; its ACK lets 1 and 2 go; theirs, 3. */
	struct harness_frame fr;
	assert_true(harness_advance_to_frame(h, 5000 * HARNESS_MS));
	harness_expect_tcp(h, &fr);
	assert_int_equal(fr.tcp.seq, snd_base(h));
	ack_with_blocks(h, mss, b, 1);
	harness_advance(h, 0);
	harness_drop_frames(h);
	ack_with_blocks(h, 3 * mss, b, 1);
	harness_advance(h, 0);
	harness_expect_tcp(h, &fr);
	assert_int_equal(fr.tcp.seq, snd_base(h) + 3 * mss);
	harness_destroy(h);
	return fr.tcp.payload_len;
}

static void test_segment_with_sacked_tail_resent_whole(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_linux(NULL, &conn);
	uint32_t mss = the_flow(h)->mss;
	harness_destroy(h);
	assert_int_equal(last_resend_len(true), mss);
	assert_int_equal(last_resend_len(false), mss - 1);
}

/* A peer without SACK (fr-4pkt, limited-transmit-no-sack). */
static struct harness *open_linux_nosack(bool newreno, int *conn)
{
	struct harness_opts o;
	harness_default_opts(&o);
	nic_profile_linux(&o.nic);
	o.nic.newreno = newreno;
	o.nic.tail_probe = false;
	struct harness *h = harness_init(&o);
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	struct harness_frame synack;
	*conn = harness_passive_open(h, PORT, 4000, &so, &synack);
	harness_drop_frames(h);
	return h;
}

/* Without SACK, the first two duplicate ACKs each let one new segment
 * go (RFC 3042), the third resends the first segment alone (NewReno,
 * RFC 6582); going back N resent the whole flight. */
static void nosack_dupacks(bool newreno)
{
	int conn;
	struct harness *h = open_linux_nosack(newreno, &conn);
	struct flow *f = the_flow(h);
	uint32_t mss = f->mss;
	uint32_t segs = f->cwnd / mss;
	app_send(h, conn, (segs + 4) * mss);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), segs);
	harness_drop_frames(h);
	struct harness_frame fr;
	for (uint32_t d = 1; d <= 2; d++) {
		ack_with_blocks(h, 0, NULL, 0);
		harness_advance(h, 0);
		if (newreno) {
			harness_expect_tcp(h, &fr);
			assert_int_equal(fr.tcp.seq, snd_base(h) + (segs + d - 1) * mss);
		}
		assert_int_equal(harness_pending_frames(h), 0);
	}
	ack_with_blocks(h, 0, NULL, 0);
	harness_advance(h, 0);
	harness_expect_tcp(h, &fr);
	assert_int_equal(fr.tcp.seq, snd_base(h));
	if (newreno) {
		assert_int_equal(harness_pending_frames(h), 0);
		/* A partial ACK: the next hole goes at once. */
		ack_with_blocks(h, 2 * mss, NULL, 0);
		harness_advance(h, 0);
		harness_expect_tcp(h, &fr);
		assert_int_equal(fr.tcp.seq, snd_base(h) + 2 * mss);
	} else {
		assert_true(harness_pending_frames(h) > 0); /* the rest of the window again */
	}
	harness_destroy(h);
}

static void test_no_sack_limited_transmit_and_newreno(void **state)
{
	(void)state;
	nosack_dupacks(true);
	nosack_dupacks(false);
}

static void no_more_probe(struct nic_config *c) { c->more_probe = false; }

/* sendmsg_msg_more: a MSG_MORE tail with nothing in flight waits for the
 * probe timer (the RTO) and then goes with PSH; with data in flight the
 * next ACK sends it, without PSH. Off: it goes at once, and an ACK that
 * leaves data in flight does not send it. */
static void more_tail(bool on)
{
	int conn;
	struct harness *h = open_linux(on ? NULL : no_more_probe, &conn);
	struct flow *f = the_flow(h);
	uint32_t mss = f->mss;
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_NODELAY, 1), BT_OK);
	harness_advance(h, 0);
	uint8_t buf[4 * 1460] = {0};
	uint64_t rto_ns = f->rto_ns;
	uint64_t t0 = harness_now(h);
	assert_int_equal(bt_send_more(h->host, conn, buf, 40), 40);
	harness_advance(h, 0);
	struct harness_frame fr;
	if (on) {
		assert_int_equal(harness_pending_frames(h), 0);
		assert_true(harness_advance_to_frame(h, 5000 * HARNESS_MS));
		harness_expect_tcp(h, &fr);
		assert_int_equal(fr.at_ns - t0, rto_ns);
		assert_true(fr.tcp.flags & TCP_PSH);
	} else {
		harness_expect_tcp(h, &fr);
		assert_false(fr.tcp.flags & TCP_PSH);
	}
	assert_int_equal(fr.tcp.payload_len, 40);
	ack_with_blocks(h, 40, NULL, 0);
	harness_advance(h, 0);
	/* Three full segments and a tail; the ACK of the first sends it. */
	assert_int_equal(bt_send_more(h->host, conn, buf, 3 * mss + 100), (ssize_t)(3 * mss + 100));
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 3);
	harness_drop_frames(h);
	ack_with_blocks(h, 40 + mss, NULL, 0);
	harness_advance(h, 0);
	if (on) {
		harness_expect_tcp(h, &fr);
		assert_int_equal(fr.tcp.payload_len, 100);
		assert_false(fr.tcp.flags & TCP_PSH);
	} else {
		assert_int_equal(harness_pending_frames(h), 0);
	}
	harness_destroy(h);
}

static void test_more_tail_waits_for_probe_or_ack(void **state)
{
	(void)state;
	more_tail(true);
	more_tail(false);
}

static void no_prr(struct nic_config *c) { c->prr = false; }
static void neither_prr_nor_cubic(struct nic_config *c)
{
	c->prr = false;
	c->cubic_decrease = false;
}

/* A flight of whole-cwnd segments 0..n-1 of which 0..3 are lost; the
 * peer SACKs 4, then 4-5, then 4-6: the third ACK begins recovery. The
 * frames each of those ACKs sent are counted into sent[0..2]. */
static struct harness *lose_first_four(void (*tweak)(struct nic_config *), uint32_t sent[3], uint32_t *n)
{
	int conn;
	struct harness *h = open_linux(tweak, &conn);
	struct flow *f = the_flow(h);
	uint32_t mss = f->mss;
	*n = f->cwnd / mss;
	assert_true(*n >= 10); /* pipe after the losses stays below ssthresh */
	app_send(h, conn, *n * mss);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), *n);
	harness_drop_frames(h);
	for (uint32_t i = 0; i < 3; i++) {
		const uint32_t b[1][2] = {{4 * mss, (5 + i) * mss}};
		ack_with_blocks(h, 0, b, 1);
		harness_advance(h, 0);
		sent[i] = harness_pending_frames(h);
		harness_drop_frames(h);
	}
	return h;
}

/* prr-ss-*: Linux's PRR lets one segment go per segment delivered while
 * pipe is below ssthresh (PRR-SSRB); RFC 6675 cuts cwnd to ssthresh at
 * once and fills it, resending the first lost holes in one burst. */
static void test_prr_paces_recovery(void **state)
{
	(void)state;
	uint32_t on[3], off[3], n;
	struct harness *h = lose_first_four(NULL, on, &n);
	assert_int_equal(on[0], 0);
	assert_int_equal(on[1], 0);
	assert_int_equal(on[2], 1); /* the first hole only */
	struct flow *f = the_flow(h);
	uint32_t mss = f->mss;
	/* Each further SACKed segment sends the next hole, one by one. */
	for (uint32_t i = 0; i < 3; i++) {
		const uint32_t b[1][2] = {{4 * mss, (8 + i) * mss}};
		ack_with_blocks(h, 0, b, 1);
		harness_advance(h, 0);
		struct harness_frame fr;
		harness_expect_tcp(h, &fr);
		assert_int_equal(fr.tcp.seq, snd_base(h) + (1 + i) * mss);
		assert_int_equal(harness_pending_frames(h), 0);
	}
	harness_destroy(h);
	h = lose_first_four(no_prr, off, &n);
	assert_int_equal(off[2], 4); /* cwnd 0.7 n, pipe n - 7: all four holes */
	harness_destroy(h);
}

/* prr-ss-30pkt-lost1_4: Linux's CUBIC sets ssthresh to 717/1024 of cwnd
 * in whole segments; the datacenter default halves the flight. */
static void test_cubic_decrease_on_recovery(void **state)
{
	(void)state;
	uint32_t sent[3], n;
	struct harness *h = lose_first_four(no_prr, sent, &n);
	struct flow *f = the_flow(h);
	assert_int_equal(f->ssthresh, (n * 717 / 1024) * f->mss);
	harness_destroy(h);
	h = lose_first_four(neither_prr_nor_cubic, sent, &n);
	f = the_flow(h);
	assert_int_equal(f->ssthresh, n * f->mss / 2);
	harness_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psh_ends_a_burst_the_window_cuts),
		cmocka_unit_test(test_psh_ends_resent_holes),
		cmocka_unit_test(test_slow_start_counts_newly_delivered),
		cmocka_unit_test(test_tail_probe_resends_the_last_segment),
		cmocka_unit_test(test_tail_probe_sends_new_data_first),
		cmocka_unit_test(test_segment_with_sacked_tail_resent_whole),
		cmocka_unit_test(test_no_sack_limited_transmit_and_newreno),
		cmocka_unit_test(test_more_tail_waits_for_probe_or_ack),
		cmocka_unit_test(test_prr_paces_recovery),
		cmocka_unit_test(test_cubic_decrease_on_recovery),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
