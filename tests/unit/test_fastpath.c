/*
 * test_fastpath: the NIC's fast path against a scripted peer
 * (tests/support/harness.h): receive placement, out-of-order handling,
 * ACK policy, segmentation, windows in both directions, loss recovery,
 * rate, ECN, sequence wrap-around, window scaling and timestamps.
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
#define MSS 1448 /* nic_default_config; the peer offers 1460 */

/* ---------- helpers ---------- */

static struct harness *open_passive(struct harness_opts *o, uint32_t peer_isn, int *conn)
{
	struct harness *h = harness_init(o);
	*conn = harness_passive_open(h, PORT, peer_isn, NULL, NULL);
	return h;
}

static struct harness *open_default(uint32_t peer_isn, int *conn)
{
	struct harness_opts o;
	harness_default_opts(&o);
	return open_passive(&o, peer_isn, conn);
}

/* The peer sends `len` bytes of the pattern stream at stream offset `off`
 * (offset 0 is the byte right after the peer's SYN). Does not touch
 * peer.snd_nxt. */
static void send_at(struct harness *h, uint32_t off, uint16_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	harness_fill(buf, len, off);
	struct tcp_opts o = {0};
	if (h->peer.ts) {
		o.has_ts = true;
		o.ts_val = h->peer.ts_val++;
		o.ts_ecr = h->peer.ts_recent;
	}
	struct harness_seg x = {.opts = &o, .tos = h->peer.tos};
	harness_inject(h, TCP_ACK | TCP_PSH, h->peer.iss + 1 + off, h->peer.rcv_nxt, h->peer.window, buf, len, &x);
	free(buf);
}

/* The peer sends the next `len` bytes of its stream in order. */
static void send_next(struct harness *h, uint16_t len)
{
	send_at(h, h->peer.snd_nxt - (h->peer.iss + 1), len);
	h->peer.snd_nxt += len;
}

/* Pops the next frame: a pure ACK (no payload, no SYN/FIN/RST) with `ack`. */
static void expect_ack(struct harness *h, uint32_t ack, struct harness_frame *f)
{
	harness_expect_tcp(h, f);
	assert_int_equal(f->tcp.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK), TCP_ACK);
	assert_int_equal(f->tcp.payload_len, 0);
	assert_int_equal(f->tcp.ack, ack);
}

/* The application reads exactly `len` bytes and they are the peer's
 * stream from `off` on. */
static void app_read_check(struct harness *h, int conn, uint32_t off, uint32_t len)
{
	uint8_t *got = malloc(len + 1);
	uint8_t *want = malloc(len + 1);
	assert_true(got && want);
	assert_int_equal(harness_app_read(h, conn, got, len + 1, NULL), len);
	harness_fill(want, len, off);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

static uint32_t rcv_base(const struct harness *h)
{
	return h->peer.iss + 1;
}

static uint32_t snd_base(const struct harness *h)
{
	return h->peer.nic_iss + 1;
}

/* The app sends `len` bytes of the pattern from stream offset `off`. */
static void app_send(struct harness *h, int conn, uint32_t off, uint32_t len)
{
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	harness_fill(buf, len, off);
	assert_int_equal(bt_send(h->host, conn, buf, len), (ssize_t)len);
	free(buf);
}

static void check_pattern(const uint8_t *buf, uint32_t len, uint32_t off)
{
	for (uint32_t i = 0; i < len; i++)
		if (buf[i] != harness_pattern(off + i))
			fail_msg("byte %u differs: %u != %u", off + i, buf[i], harness_pattern(off + i));
}

/* ---------- receive ---------- */

static void test_rx_in_order_readable(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(1000, &conn);
	struct harness_frame f;
	send_next(h, 1000);
	send_next(h, 500);
	send_next(h, 1448);
	harness_advance(h, 0);
	/* 2948 bytes >= 2 MSS: ACKed at once, one ACK for the lot. */
	expect_ack(h, rcv_base(h) + 2948, &f);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_true(harness_take_flags(h, conn) & BT_EV_READABLE);
	assert_int_equal(bt_rx_ready(h->host, conn), 2948);
	app_read_check(h, conn, 0, 2948);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.rx_payload_bytes, 2948);
	assert_int_equal(s.rx_ooo_segments, 0);
	assert_int_equal(bt_recv(h->host, conn, &f.raw, 1), BT_EAGAIN);
	harness_destroy(h);
}

/* A checksum the netif hardware verified is not computed again: a frame
 * flagged NETIF_RX_*_CSUM_GOOD is taken as it is (here, one whose TCP
 * checksum is wrong, which proves the sum was skipped); the same bytes
 * unflagged are dropped by the software check, and a frame from the
 * simulated wire never carries a flag. */
static void test_rx_hardware_verified_checksum_is_trusted(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(1000, &conn);
	uint8_t payload[100], frame[256];
	harness_fill(payload, sizeof(payload), 0);
	int n = harness_build_frame(h, frame, sizeof(frame), TCP_ACK, h->peer.snd_nxt, h->peer.rcv_nxt, 65535, payload,
				    sizeof(payload), NULL);
	frame[14 + 20 + 16] ^= 0x5a; /* a wrong TCP checksum */
	fp_rx_frame(h->nic, frame, (uint16_t)n, 0);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.rx_bad_csum, 1);
	assert_int_equal(s.rx_payload_bytes, 0);
	fp_rx_frame(h->nic, frame, (uint16_t)n, NETIF_RX_IP_CSUM_GOOD | NETIF_RX_L4_CSUM_GOOD);
	harness_advance(h, HARNESS_MS);
	s = harness_stats(h);
	assert_int_equal(s.rx_bad_csum, 1);
	assert_int_equal(s.rx_csum_hw_verified, 1);
	assert_int_equal(s.rx_payload_bytes, sizeof(payload));
	app_read_check(h, conn, 0, sizeof(payload));
	/* Flags set on the way out never reach the other end of the wire. */
	struct netif_buf *b = netif_alloc(h->peer_port);
	assert_non_null(b);
	memcpy(b->data, frame, (size_t)n);
	b->len = (uint16_t)n;
	b->flags = NETIF_RX_IP_CSUM_GOOD | NETIF_RX_L4_CSUM_GOOD | NETIF_TX_L4_CSUM;
	struct netif_buf *bufs[1] = {b};
	assert_int_equal(netif_tx_burst(h->peer_port, bufs, 1), 1);
	harness_advance(h, HARNESS_MS);
	s = harness_stats(h);
	assert_int_equal(s.rx_bad_csum, 2);
	assert_int_equal(s.rx_csum_hw_verified, 1);
	harness_destroy(h);
}

/* The fast path verifies the checksum in the pass that copies the segment
 * to staging (fp_rx_stage.c): a full segment with one payload bit wrong
 * is counted, delivers nothing and gives its staging back; the same
 * segment intact is delivered byte for byte from that copy. And a bad sum
 * still ranks before a bad option: rx_bad_csum, and rx_bad_tcp once the
 * sum is right. */
static void test_rx_bad_checksum_caught_while_staging(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(1000, &conn);
	enum { SEG = 1448 };
	uint8_t payload[SEG], frame[SEG + 128];
	harness_fill(payload, SEG, 0);
	struct tcp_opts o = {.has_ts = true, .ts_val = 77, .ts_ecr = 0};
	struct harness_seg x = {.opts = &o};
	int n = harness_build_frame(h, frame, sizeof(frame), TCP_ACK, h->peer.snd_nxt, h->peer.rcv_nxt, 65535, payload,
				    SEG, &x);
	const struct nic_app *app = &h->nic->apps[h->nic->flows[0].app];
	frame[n - 700] ^= 0x01;
	fp_rx_frame(h->nic, frame, (uint16_t)n, 0);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.rx_bad_csum, 1);
	assert_int_equal(s.rx_payload_bytes, 0);
	assert_true(app->staging_head < SEG); /* the segment's reservation is given back */
	frame[n - 700] ^= 0x01;
	fp_rx_frame(h->nic, frame, (uint16_t)n, 0);
	harness_advance(h, HARNESS_MS);
	s = harness_stats(h);
	assert_int_equal(s.rx_bad_csum, 1);
	assert_int_equal(s.rx_payload_bytes, SEG);
	app_read_check(h, conn, 0, SEG);

	/* The timestamp option's length byte made impossible (0). */
	size_t opt = ETH_HDR_BYTES + IPV4_HDR_MIN_BYTES + TCP_HDR_MIN_BYTES;
	assert_int_equal(frame[opt + 2], 8);
	frame[opt + 3] = 0;
	fp_rx_frame(h->nic, frame, (uint16_t)n, 0);
	s = harness_stats(h);
	assert_int_equal(s.rx_bad_csum, 2);
	assert_int_equal(s.rx_bad_tcp, 0);
	tcp_fill_checksum(frame + ETH_HDR_BYTES + IPV4_HDR_MIN_BYTES, (uint16_t)(n - ETH_HDR_BYTES - IPV4_HDR_MIN_BYTES),
			  HARNESS_PEER_IP, HARNESS_NIC_IP);
	fp_rx_frame(h->nic, frame, (uint16_t)n, 0);
	s = harness_stats(h);
	assert_int_equal(s.rx_bad_csum, 2);
	assert_int_equal(s.rx_bad_tcp, 1);
	harness_destroy(h);
}

/* With a netif that fills TCP checksums (caps), the NIC leaves the sum to
 * it: the field holds the pseudo-header sum and the frame is flagged. */
static void test_tx_checksum_left_to_hardware_when_offered(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(1000, &conn);
	h->nic_port->caps = NETIF_CAP_TX_L4_CSUM;
	uint8_t data[300];
	harness_fill(data, sizeof(data), 0);
	assert_int_equal(bt_send(h->host, conn, data, sizeof(data)), (ssize_t)sizeof(data));
	harness_advance(h, 0); /* the segment, not yet its tail loss probe */
	/* Raw: the harness's parser would (rightly) refuse the checksum. */
	assert_true(h->cap_count >= 1);
	const struct harness_capture *c = &h->cap[h->cap_head];
	assert_true(c->len >= 14 + 20 + 20 + sizeof(data));
	uint8_t *seg = c->data + 14 + 20;
	uint16_t seg_len = (uint16_t)(((c->data[16] << 8) | c->data[17]) - 20);
	assert_int_equal(seg_len - ((seg[12] >> 4) * 4), sizeof(data));
	uint32_t pseudo = tcp_pseudo_sum(HARNESS_NIC_IP, HARNESS_PEER_IP, seg_len);
	while (pseudo >> 16)
		pseudo = (pseudo & 0xffff) + (pseudo >> 16);
	assert_int_equal((seg[16] << 8) | seg[17], pseudo);
	assert_true(harness_stats(h).tx_csum_offloaded >= 1);
	/* What the hardware does; then the frame verifies. */
	uint16_t hw = inet_checksum(seg, seg_len, 0);
	memcpy(seg + 16, &hw, 2);
	struct harness_frame f;
	assert_int_equal(harness_expect_frame(h, &f), 1);
	assert_int_equal(f.tcp.payload_len, sizeof(data));
	h->nic_port->caps = 0;
	harness_drop_frames(h);
	harness_destroy(h);
}

static void test_rx_segment_spans_ring_wrap(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.rx_ring_bytes = 4096;
	int conn;
	struct harness *h = open_passive(&o, 5000, &conn);
	struct harness_frame f;
	/* 3000 bytes put rcv_nxt at ring offset 3000; the app frees them. */
	send_next(h, 1448);
	send_next(h, 1448);
	send_next(h, 104);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	app_read_check(h, conn, 0, 3000);
	harness_advance(h, 0);
	harness_drop_frames(h); /* the window update */
	/* 1448 bytes at ring offset 3000: 1096 before the end, 352 after. */
	send_next(h, 1448);
	harness_advance(h, HARNESS_MS);
	expect_ack(h, rcv_base(h) + 4448, &f);
	assert_int_equal(f.tcp.window, 4096 - 1448);
	app_read_check(h, conn, 3000, 1448);
	/* And the next one lands at offset 352. */
	send_next(h, 700);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	app_read_check(h, conn, 4448, 700);
	harness_destroy(h);
}

static void test_rx_out_of_order_then_gap_filled(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(777, &conn);
	struct harness_frame f;
	send_at(h, 1000, 1000); /* [1000, 2000) before [0, 1000) */
	harness_advance(h, 0);
	/* An immediate duplicate ACK for the gap, and nothing readable. */
	expect_ack(h, rcv_base(h), &f);
	assert_int_equal(bt_rx_ready(h->host, conn), 0);
	assert_int_equal(harness_stats(h).rx_ooo_segments, 1);
	send_at(h, 0, 1000);
	harness_advance(h, 0);
	/* The ACK jumps past both at once. */
	expect_ack(h, rcv_base(h) + 2000, &f);
	assert_int_equal(harness_pending_frames(h), 0);
	app_read_check(h, conn, 0, 2000);
	assert_int_equal(harness_stats(h).rx_ooo_dropped, 0);
	harness_destroy(h);
}

/* RFC 5681 4.2: a segment that fills part of a gap is ACKed at once (the
 * sender learns what the hole still lacks); we used to delay that ACK
 * when the gap was not closed (FreeBSD's rcv-data-segments/reordering-*). */
static void test_rx_partial_gap_fill_acked_at_once(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(777, &conn);
	struct harness_frame f;
	send_at(h, 2000, 1000); /* [2000, 3000) first: a gap of two segments */
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h), &f);
	send_at(h, 0, 1000); /* fills the first half of the gap */
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 1000, &f);
	send_at(h, 1000, 1000); /* closes it */
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 3000, &f);
	assert_int_equal(harness_pending_frames(h), 0);
	app_read_check(h, conn, 0, 3000);
	harness_destroy(h);
}

/* A FIN beyond a gap is kept and taken when the gap fills (RFC 9293
 * 3.10.7.4, FreeBSD's reordering-5F4321); we dropped it and the peer had
 * to send it again. */
static void test_rx_fin_beyond_gap_taken_when_filled(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(777, &conn);
	struct harness_frame f;
	uint8_t buf[1000];
	harness_fill(buf, sizeof(buf), 1000);
	struct harness_seg x = {.tos = h->peer.tos};
	harness_inject(h, TCP_ACK | TCP_FIN, rcv_base(h) + 1000, h->peer.rcv_nxt, h->peer.window, buf, 1000, &x);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h), &f);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	send_at(h, 0, 1000);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 2001, &f);
	assert_int_equal(harness_tcp_state(h), TCP_CLOSE_WAIT);
	app_read_check(h, conn, 0, 2000);
	bool eof = false;
	harness_app_read(h, conn, buf, sizeof(buf), &eof);
	assert_true(eof);
	harness_destroy(h);
}

static void test_rx_ooo_interval_beyond_the_state_dropped_then_recovered(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(0xfffff000u, &conn);
	struct harness_frame f;
	const uint32_t n = SACK_RX_INTERVALS, end = 2000 * (n + 1);
	for (uint32_t i = 0; i < n; i++) {
		send_at(h, 1000 + i * 2000, 1000); /* kept: n intervals with holes between */
		harness_advance(h, 0);
		expect_ack(h, rcv_base(h), &f);
	}
	send_at(h, 1000 + n * 2000, 1000); /* one interval more: dropped */
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h), &f);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.rx_ooo_segments, SACK_RX_INTERVALS);
	assert_int_equal(s.rx_ooo_dropped, 1);
	send_at(h, 0, 1000);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 2000, &f);
	/* The sender goes back and resends the rest: the held intervals are
	 * taken in order as the holes fill. */
	for (uint32_t off = 2000; off < end; off += 1000)
		send_at(h, off, 1000);
	harness_advance(h, HARNESS_MS);
	assert_true(harness_pending_frames(h) > 0);
	while (harness_pending_frames(h))
		harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.ack, rcv_base(h) + end);
	app_read_check(h, conn, 0, end);
	harness_destroy(h);
}

static void test_rx_ooo_burst_one_dupack_each(void **state)
{
	(void)state;
	/* A loss followed by a burst that arrives in one receive batch (as
	 * with a real NIC's rx burst): the sender needs a duplicate ACK per
	 * segment to reach its three-dupack fast retransmit. */
	int conn;
	struct harness *h = open_default(0xfffffa00u, &conn);
	struct harness_frame f;
	for (uint32_t i = 1; i <= 4; i++)
		send_at(h, i * 1000, 1000); /* [0, 1000) lost */
	harness_advance(h, 0);
	for (int i = 0; i < 4; i++)
		expect_ack(h, rcv_base(h), &f);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_stats(h).rx_ooo_segments, 4);
	/* A segment in a second interval is a duplicate ACK too. */
	send_at(h, 7000, 1000);
	send_at(h, 8000, 1000);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h), &f);
	expect_ack(h, rcv_base(h), &f);
	assert_int_equal(harness_stats(h).rx_ooo_dropped, 0);
	send_at(h, 0, 1000);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 5000, &f);
	app_read_check(h, conn, 0, 5000);
	harness_destroy(h);
}

static void test_rx_duplicate_acked_at_once(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(42, &conn);
	struct harness_frame f;
	send_at(h, 0, 1000);
	harness_advance(h, HARNESS_MS);
	expect_ack(h, rcv_base(h) + 1000, &f);
	uint64_t t = harness_now(h);
	send_at(h, 0, 1000); /* the same segment again */
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 1000, &f);
	assert_int_equal(f.at_ns, t);
	assert_int_equal(harness_stats(h).rx_duplicate, 1);
	/* Partly old, partly new: the new part is taken. */
	send_at(h, 500, 1000);
	harness_advance(h, HARNESS_MS);
	expect_ack(h, rcv_base(h) + 1500, &f);
	app_read_check(h, conn, 0, 1500);
	assert_int_equal(harness_stats(h).rx_duplicate, 1);
	harness_destroy(h);
}

static void test_rx_beyond_window_acked_with_window(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.rx_ring_bytes = 4096;
	int conn;
	struct harness *h = open_passive(&o, 9, &conn);
	struct harness_frame f;
	send_at(h, 0, 1000); /* unread: the window is 3096 */
	harness_advance(h, HARNESS_MS);
	expect_ack(h, rcv_base(h) + 1000, &f);
	assert_int_equal(f.tcp.window, 3096);
	send_at(h, 1000 + 3096, 100); /* starts right at the window's edge */
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 1000, &f);
	assert_int_equal(f.tcp.window, 3096);
	assert_int_equal(harness_stats(h).rx_out_of_window, 1);
	assert_int_equal(bt_rx_ready(h->host, conn), 1000);
	app_read_check(h, conn, 0, 1000);
	harness_destroy(h);
}

/* The receive path's in-order fast branch (fp_rx.c, in_order_common)
 * must leave to the general path every segment it would not handle the
 * same way: the three below each fail when its test is left out. */

/* In order, but longer than the window left: only what fits is taken. */
static void test_rx_in_order_segment_trimmed_to_the_window(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.rx_ring_bytes = 4096;
	int conn;
	struct harness *h = open_passive(&o, 21, &conn);
	struct harness_frame f;
	send_next(h, 1000);
	send_next(h, 1448);
	send_next(h, 1448); /* unread: 200 bytes of window left */
	send_at(h, 3896, 1448);
	harness_advance(h, HARNESS_MS);
	uint32_t last_ack = 0, last_window = 1;
	while (harness_expect_frame(h, &f)) {
		last_ack = f.tcp.ack;
		last_window = f.tcp.window;
	}
	assert_int_equal(last_ack, rcv_base(h) + 4096);
	assert_int_equal(last_window, 0);
	assert_int_equal(bt_rx_ready(h->host, conn), 4096);
	app_read_check(h, conn, 0, 4096);
	harness_destroy(h);
}

/* A bare FIN held beyond a gap (no interval held: no payload) is taken
 * once in-order data fills the gap. */
static void test_rx_bare_fin_beyond_gap_taken_when_filled(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(778, &conn);
	struct harness_frame f;
	struct harness_seg x = {.tos = h->peer.tos};
	harness_inject(h, TCP_ACK | TCP_FIN, rcv_base(h) + 1000, h->peer.rcv_nxt, h->peer.window, NULL, 0, &x);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h), &f);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	send_at(h, 0, 1000);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 1001, &f);
	assert_int_equal(harness_tcp_state(h), TCP_CLOSE_WAIT);
	app_read_check(h, conn, 0, 1000);
	uint8_t buf[16];
	bool eof = false;
	harness_app_read(h, conn, buf, sizeof(buf), &eof);
	assert_true(eof);
	harness_destroy(h);
}

/* In order, its ACK at snd_una, a wider window: the window opens and the
 * data it held back goes. */
static void test_rx_data_segment_opens_the_window(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	struct harness *h = harness_init(&o);
	h->peer.window = 2000; /* in the handshake's ACK */
	int conn = harness_passive_open(h, PORT, 5, NULL, NULL);
	struct harness_frame f;
	app_send(h, conn, 0, 10000);
	harness_advance(h, 0);
	uint32_t sent = 0;
	while (harness_expect_frame(h, &f))
		sent += f.tcp.payload_len; /* not absorbed: the peer's ACK stays at snd_una */
	assert_true(sent > 0 && sent <= 2000);
	h->peer.window = 65535;
	send_next(h, 100);
	harness_advance(h, 0);
	uint32_t beyond = 0;
	while (harness_expect_frame(h, &f))
		if (f.tcp.seq - snd_base(h) >= sent)
			beyond += f.tcp.payload_len;
	assert_true(beyond > 0);
	app_read_check(h, conn, 0, 100);
	harness_destroy(h);
}

static void test_rx_old_zero_length_probe_answered(void **state)
{
	(void)state;
	/* Linux probes a zero window, and keeps a connection alive, with a
	 * zero-length segment at snd_una - 1: unacceptable, so it must be
	 * answered with an ACK carrying the current window (RFC 9293
	 * 3.10.7.4), or a lost window update would stall the peer. */
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.rx_ring_bytes = 4096;
	int conn;
	struct harness *h = open_passive(&o, 0xfffffff0u, &conn);
	struct harness_frame f;
	send_next(h, 1448);
	send_next(h, 1448);
	send_next(h, 1200);
	harness_advance(h, HARNESS_MS);
	while (harness_pending_frames(h))
		harness_expect_tcp(h, &f);
	assert_int_equal(h->peer.nic_wnd, 0);
	harness_inject(h, TCP_ACK, h->peer.snd_nxt - 1, h->peer.rcv_nxt, h->peer.window, NULL, 0, NULL);
	harness_advance(h, 0);
	expect_ack(h, h->peer.snd_nxt, &f);
	assert_int_equal(f.tcp.window, 0);
	/* The app reads; say the window update is lost on the way. */
	app_read_check(h, conn, 0, 4096);
	harness_advance(h, 0);
	harness_drop_frames(h);
	harness_inject(h, TCP_ACK, h->peer.snd_nxt - 1, h->peer.rcv_nxt, h->peer.window, NULL, 0, NULL);
	harness_advance(h, 0);
	expect_ack(h, h->peer.snd_nxt, &f);
	assert_int_equal(f.tcp.window, 4096);
	/* An in-window pure ACK is not answered. */
	harness_peer_ack(h);
	harness_advance(h, HARNESS_MS);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_destroy(h);
}

static void test_rx_delayed_ack_bound(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.delayed_ack_ns = 300 * HARNESS_US;
	int conn;
	struct harness *h = open_passive(&o, 100, &conn);
	struct harness_frame f;
	uint64_t t0 = harness_now(h);
	send_next(h, 100);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0); /* no immediate ACK */
	assert_int_equal(bt_rx_ready(h->host, conn), 100); /* but the data is there */
	harness_advance(h, 300 * HARNESS_US - 1);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_true(harness_advance_to_frame(h, 10 * HARNESS_MS));
	expect_ack(h, rcv_base(h) + 100, &f);
	assert_true(f.at_ns - t0 <= o.nic.delayed_ack_ns);
	assert_int_equal(f.at_ns - t0, o.nic.delayed_ack_ns);
	/* A second small segment inside the delay rides on the same ACK. */
	t0 = harness_now(h);
	send_next(h, 10);
	harness_advance(h, 100 * HARNESS_US);
	send_next(h, 10);
	assert_true(harness_advance_to_frame(h, 10 * HARNESS_MS));
	expect_ack(h, rcv_base(h) + 120, &f);
	assert_int_equal(f.at_ns - t0, o.nic.delayed_ack_ns);
	harness_advance(h, HARNESS_MS);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_destroy(h);
}

static void test_rx_two_full_segments_acked_at_once(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(0xffffffffu, &conn);
	struct harness_frame f;
	send_next(h, MSS);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	uint64_t t = harness_now(h);
	send_next(h, MSS);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 2 * MSS, &f);
	assert_int_equal(f.at_ns, t);
	harness_advance(h, HARNESS_MS);
	assert_int_equal(harness_pending_frames(h), 0); /* no second ACK */
	assert_int_equal(harness_stats(h).tx_acks, 1);
	app_read_check(h, conn, 0, 2 * MSS);
	harness_destroy(h);
}

/* ACK economy for one bulk flow whose reader drains every segment at
 * once: every second full segment is ACKed, and freeing ring space while
 * the peer still has plenty of window sends no window update (RFC 1122
 * 4.2.3.3 and Linux's rule: only when the window the peer knows is at
 * most half the ring). Pure ACKs per data segment: at most 0.55. */
static void test_rx_bulk_pure_acks_per_segment(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(7, &conn);
	const int segs = 40;
	for (int i = 0; i < segs; i++) {
		send_next(h, MSS);
		harness_advance(h, 5 * HARNESS_US);
		app_read_check(h, conn, (uint32_t)i * MSS, MSS);
		harness_advance(h, 5 * HARNESS_US);
	}
	harness_advance(h, HARNESS_MS);
	uint32_t acks = 0;
	struct harness_frame f;
	while (harness_expect_frame(h, &f)) {
		assert_true(f.is_tcp);
		assert_int_equal(f.tcp.payload_len, 0);
		acks++;
	}
	assert_int_equal(harness_stats(h).tx_acks, acks);
	if (acks * 100 > (uint32_t)segs * 55)
		fail_msg("%u pure ACKs for %d data segments", acks, segs);
	harness_destroy(h);
}

/* A window the peer knows to be small is reopened by a window update as
 * soon as the reader frees a segment's worth: the economy above never
 * leaves a sender stalled. */
static void test_rx_window_update_when_peer_window_small(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.rx_ring_bytes = 8 * MSS;
	int conn;
	struct harness *h = open_passive(&o, 9, &conn);
	struct harness_frame f;
	for (int i = 0; i < 8; i++)
		send_next(h, MSS); /* fills the ring: window 0 */
	harness_advance(h, HARNESS_MS);
	while (harness_expect_frame(h, &f))
		harness_peer_absorb(h, &f);
	assert_int_equal(h->peer.nic_wnd, 0);
	app_read_check(h, conn, 0, 8 * MSS);
	harness_advance(h, 10 * HARNESS_US);
	assert_int_equal(harness_expect_frame(h, &f), 1);
	assert_true(f.is_tcp && f.tcp.payload_len == 0);
	harness_peer_absorb(h, &f);
	assert_true(h->peer.nic_wnd >= 8 * MSS);
	harness_destroy(h);
}

/* ---------- transmit ---------- */

static void test_tx_segmentation(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(1, &conn);
	struct harness_frame f;
	app_send(h, conn, 0, 3 * MSS + 100);
	harness_advance(h, 0);
	const uint32_t lens[4] = {MSS, MSS, MSS, 100};
	uint32_t off = 0;
	for (int i = 0; i < 4; i++) {
		harness_expect_tcp(h, &f);
		assert_int_equal(f.tcp.payload_len, lens[i]);
		assert_int_equal(f.tcp.seq, snd_base(h) + off);
		assert_int_equal(f.tcp.ack, rcv_base(h));
		assert_true(f.tcp.flags & TCP_ACK);
		assert_false(f.tcp.flags & (TCP_SYN | TCP_FIN | TCP_RST));
		check_pattern(f.tcp.payload, f.tcp.payload_len, off);
		off += f.tcp.payload_len;
	}
	assert_int_equal(harness_pending_frames(h), 0);
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_true(harness_take_flags(h, conn) & BT_EV_WRITABLE);
	assert_int_equal(bt_tx_space(h->host, conn), 64u << 10); /* all freed */
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.tx_segments, 4);
	assert_int_equal(s.tx_payload_bytes, 3 * MSS + 100);
	assert_int_equal(s.tx_retransmits, 0);
	harness_destroy(h);
}

/* PSH only on the last segment of a send: one bt_send of 5 segments and
 * a bit goes out as 6 segments, PSH on the sixth only. */
static void test_tx_psh_only_on_last_segment_of_a_send(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(1, &conn);
	struct harness_frame f;
	app_send(h, conn, 0, 5 * MSS + 100);
	harness_advance(h, 0);
	for (int i = 0; i < 6; i++) {
		harness_expect_tcp(h, &f);
		assert_int_equal(f.tcp.payload_len, i < 5 ? MSS : 100);
		if (i < 5)
			assert_false(f.tcp.flags & TCP_PSH);
		else
			assert_true(f.tcp.flags & TCP_PSH);
	}
	harness_destroy(h);
}

/* A sender that fills its TX ring each time (sends sized to bt_tx_space)
 * gets full segments, also across the ring's wrap: the tail that did not
 * make a whole segment waits for the next bytes while an ACK is due
 * (two DMA pieces, one segment), instead of going out as a runt at every
 * ring lap. Only the very last segment of the stream is short. */
static void test_tx_full_segments_across_the_ring_wrap(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.tx_ring_bytes = 4 * MSS + 500; /* a lap is not a whole number of segments */
	int conn;
	struct harness *h = open_passive(&o, 5, &conn);
	const uint32_t total = 40 * MSS + 300;
	uint32_t queued = 0, received = 0, runts = 0, segs = 0;
	uint8_t *buf = malloc(total);
	assert_non_null(buf);
	harness_fill(buf, total, 0);
	for (int round = 0; round < 400 && received < total; round++) {
		uint32_t space = bt_tx_space(h->host, conn);
		uint32_t n = total - queued < space ? total - queued : space;
		if (n)
			assert_int_equal(bt_send(h->host, conn, buf + queued, n), (ssize_t)n);
		queued += n;
		harness_advance(h, 10 * HARNESS_US);
		struct harness_frame f;
		while (harness_expect_frame(h, &f)) {
			if (!f.is_tcp || f.tcp.payload_len == 0)
				continue;
			assert_int_equal(f.tcp.seq, snd_base(h) + received);
			check_pattern(f.tcp.payload, f.tcp.payload_len, received);
			received += f.tcp.payload_len;
			segs++;
			if (f.tcp.payload_len < MSS && received < total)
				runts++;
			harness_peer_absorb(h, &f);
		}
		/* A receiver ACKing as data flows leaves the newest segment
		 * unacknowledged for a while: the sender has data in flight
		 * (with nothing in flight a tail goes at once, runt or not). */
		uint32_t hold = received < total && received >= MSS ? MSS : 0;
		h->peer.rcv_nxt -= hold;
		harness_peer_ack(h);
		h->peer.rcv_nxt += hold;
		harness_advance(h, 10 * HARNESS_US);
	}
	assert_int_equal(received, total);
	assert_int_equal(runts, 0);
	assert_int_equal(segs, 41);
	free(buf);
	harness_destroy(h);
}

static void test_tx_respects_peer_window(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	struct harness *h = harness_init(&o);
	h->peer.window = 2000; /* in the handshake's ACK */
	int conn = harness_passive_open(h, PORT, 3, NULL, NULL);
	struct harness_frame f;
	const uint32_t total = 10000;
	app_send(h, conn, 0, total);
	harness_advance(h, 0);
	uint32_t received = 0;
	for (int round = 0; round < 4; round++) {
		/* Everything outstanding fits in the window. */
		uint32_t outstanding = 0;
		while (harness_expect_frame(h, &f)) {
			assert_true(f.is_tcp);
			assert_int_equal(f.tcp.seq, snd_base(h) + received + outstanding);
			outstanding += f.tcp.payload_len;
			check_pattern(f.tcp.payload, f.tcp.payload_len, received + outstanding - f.tcp.payload_len);
			harness_peer_absorb(h, &f);
		}
		assert_true(outstanding > 0);
		assert_true(outstanding <= 2000);
		received += outstanding;
		harness_advance(h, 50 * HARNESS_MS); /* no ACK: nothing new may go */
		while (harness_expect_frame(h, &f)) /* only retransmissions */
			assert_true(f.tcp.seq - snd_base(h) < received);
		harness_peer_ack(h);
		harness_advance(h, 0);
	}
	/* The window opens: the rest flows. */
	h->peer.window = 65535;
	harness_peer_ack(h);
	uint8_t *buf = malloc(total);
	uint32_t rest = harness_peer_recv(h, buf, total - received, HARNESS_MS);
	assert_int_equal(rest, total - received);
	check_pattern(buf, rest, received);
	free(buf);
	harness_destroy(h);
}

static void test_tx_zero_window_persist_probe(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(1234, &conn);
	struct harness_frame f;
	h->peer.window = 0;
	harness_peer_ack(h);
	harness_advance(h, 0);
	app_send(h, conn, 0, 3000);
	uint64_t t0 = harness_now(h);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0); /* the window is shut */
	/* The persist timer sends a one-byte probe. */
	assert_true(harness_advance_to_frame(h, 100 * HARNESS_MS));
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 1);
	assert_int_equal(f.tcp.seq, snd_base(h));
	assert_true(f.at_ns > t0);
	uint64_t first_gap = f.at_ns - t0;
	assert_int_equal(harness_stats(h).zero_window_probes, 1);
	/* Still shut: the peer drops the byte and says so. */
	h->peer.rcv_nxt = snd_base(h);
	uint64_t t1 = harness_now(h);
	harness_peer_ack(h);
	assert_true(harness_advance_to_frame(h, 1000 * HARNESS_MS));
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 1);
	assert_int_equal(f.tcp.seq, snd_base(h));
	assert_true(f.at_ns - t1 >= first_gap); /* probes back off */
	assert_int_equal(harness_stats(h).zero_window_probes, 2);
	/* The probe's ACK opens the window (the byte still dropped): the
	 * data goes, from the first unacknowledged byte. */
	h->peer.rcv_nxt = snd_base(h);
	h->peer.window = 65535;
	harness_peer_ack(h);
	harness_advance(h, 0);
	/* In one flight: a probe timing out is no congestion, cwnd is intact. */
	uint32_t off = 0;
	const uint16_t lens[3] = {MSS, MSS, 3000 - 2 * MSS};
	for (int i = 0; i < 3; i++) {
		harness_expect_tcp(h, &f);
		assert_int_equal(f.tcp.seq, snd_base(h) + off);
		assert_int_equal(f.tcp.payload_len, lens[i]);
		check_pattern(f.tcp.payload, lens[i], off);
		off += lens[i];
	}
	assert_int_equal(harness_pending_frames(h), 0);
	harness_peer_ack(h);
	harness_advance(h, 100 * HARNESS_MS);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_stats(h).conns_reset + harness_stats(h).conns_timed_out, 0);
	harness_destroy(h);
}

static void test_tx_zero_window_answered_for_long(void **state)
{
	(void)state;
	/* A peer that answers every probe but keeps its window shut for a
	 * long time is alive: the connection must not time out. */
	int conn;
	struct harness *h = open_default(55, &conn);
	struct harness_frame f;
	h->peer.window = 0;
	harness_peer_ack(h);
	app_send(h, conn, 0, 100);
	uint64_t end = harness_now(h) + 60ull * 1000 * HARNESS_MS;
	int probes = 0;
	uint64_t last = harness_now(h), gap = 0;
	while (harness_now(h) < end) {
		assert_true(harness_advance_to_frame(h, 5000 * HARNESS_MS));
		harness_expect_tcp(h, &f);
		assert_int_equal(f.tcp.seq, snd_base(h));
		assert_int_equal(f.tcp.payload_len, 1);
		/* Backing off, up to rto_max (2 s). */
		assert_true(f.at_ns - last >= gap);
		assert_true(f.at_ns - last <= 2000 * HARNESS_MS);
		gap = f.at_ns - last;
		last = f.at_ns;
		probes++;
		h->peer.rcv_nxt = snd_base(h);
		harness_peer_ack(h);
	}
	assert_int_equal(gap, 2000 * HARNESS_MS);
	assert_true(probes >= 30 && probes <= 45);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.zero_window_probes, probes);
	assert_int_equal(s.fast_retransmits, 0); /* probe ACKs are not dupacks */
	assert_int_equal(s.conns_timed_out, 0);
	assert_int_equal(harness_peek_flags(h, conn) & BT_EV_ERROR, 0);
	h->peer.window = 65535;
	harness_peer_ack(h);
	uint8_t buf[100];
	assert_int_equal(harness_peer_recv(h, buf, 100, HARNESS_MS), 100);
	check_pattern(buf, 100, 0);
	harness_destroy(h);
}

static void test_rx_window_closes_and_reopens(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.rx_ring_bytes = 4096;
	int conn;
	struct harness *h = open_passive(&o, 0x7ffffff0u, &conn);
	struct harness_frame f;
	send_next(h, 1448);
	send_next(h, 1448);
	send_next(h, 1200);
	harness_advance(h, HARNESS_MS);
	while (harness_pending_frames(h) > 1)
		harness_expect_tcp(h, &f);
	expect_ack(h, rcv_base(h) + 4096, &f);
	assert_int_equal(f.tcp.window, 0);
	/* A probe into the shut window: ACKed, window still 0. */
	send_at(h, 4096, 1);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 4096, &f);
	assert_int_equal(f.tcp.window, 0);
	assert_int_equal(harness_stats(h).rx_out_of_window, 1);
	/* The application reads: a window update, unasked. */
	app_read_check(h, conn, 0, 4096);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 4096, &f);
	assert_int_equal(f.tcp.window, 4096);
	send_next(h, 1000);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	app_read_check(h, conn, 4096, 1000);
	harness_destroy(h);
}

static void test_both_windows_zero_make_progress(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.rx_ring_bytes = 4096;
	int conn;
	struct harness *h = open_passive(&o, 0xfffffe00u, &conn);
	struct harness_frame f;
	/* The peer fills our window; our app does not read. */
	send_next(h, 1448);
	send_next(h, 1448);
	send_next(h, 1200);
	harness_advance(h, HARNESS_MS);
	while (harness_pending_frames(h))
		harness_expect_tcp(h, &f);
	assert_int_equal(h->peer.nic_wnd, 0);
	/* The peer's window is shut too, and our app has data for it. */
	h->peer.window = 0;
	harness_peer_ack(h);
	app_send(h, conn, 0, 2000);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	/* Both sides probe; the NIC answers the peer's probe and probes. */
	send_at(h, 4096, 1);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 4096, &f);
	assert_int_equal(f.tcp.window, 0);
	assert_true(harness_advance_to_frame(h, 100 * HARNESS_MS));
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 1);
	assert_int_equal(f.tcp.seq, snd_base(h));
	h->peer.rcv_nxt = snd_base(h); /* dropped: still shut */
	harness_peer_ack(h);
	harness_advance(h, 0);
	/* Our application reads: the peer's data moves again. */
	app_read_check(h, conn, 0, 4096);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 0);
	assert_int_equal(h->peer.nic_wnd, 4096);
	send_next(h, 1000);
	harness_advance(h, HARNESS_MS);
	while (harness_expect_frame(h, &f))
		assert_int_equal(f.tcp.payload_len, 0); /* ACKs only: peer still shut */
	app_read_check(h, conn, 4096, 1000);
	/* The peer's application reads: the next probe's ACK opens it. */
	assert_true(harness_advance_to_frame(h, 1000 * HARNESS_MS));
	harness_expect_tcp(h, &f);
	while (f.tcp.payload_len == 0) {
		assert_true(harness_advance_to_frame(h, 1000 * HARNESS_MS));
		harness_expect_tcp(h, &f);
	}
	assert_int_equal(f.tcp.payload_len, 1);
	assert_int_equal(f.tcp.seq, snd_base(h));
	h->peer.window = 65535;
	harness_peer_ack(h); /* acknowledges the probe byte this time */
	uint8_t buf[2000];
	buf[0] = harness_pattern(0);
	assert_int_equal(harness_peer_recv(h, buf + 1, 1999, HARNESS_MS), 1999);
	check_pattern(buf, 2000, 0);
	harness_destroy(h);
}

static void test_fast_retransmit_on_three_dupacks(void **state)
{
	(void)state;
	int conn;
	struct harness *h = open_default(8, &conn);
	struct harness_frame f;
	app_send(h, conn, 0, 5 * MSS);
	harness_advance(h, 0);
	for (int i = 0; i < 5; i++)
		harness_expect_tcp(h, &f);
	assert_int_equal(harness_pending_frames(h), 0);
	/* Segment 2 was lost: the peer ACKs segment 1, then three duplicates. */
	h->peer.rcv_nxt = snd_base(h) + MSS;
	harness_peer_ack(h);
	harness_advance(h, 0);
	for (int i = 0; i < 2; i++) {
		harness_peer_ack(h);
		harness_advance(h, 0);
		assert_int_equal(harness_pending_frames(h), 0);
	}
	assert_int_equal(harness_stats(h).fast_retransmits, 0);
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(harness_stats(h).fast_retransmits, 1);
	/* Go-back-N from snd_una, within the halved window: 4 segments were
	 * out, so cwnd is 2 segments. */
	for (uint32_t i = 1; i < 3; i++) {
		harness_expect_tcp(h, &f);
		assert_int_equal(f.tcp.seq, snd_base(h) + i * MSS);
		assert_int_equal(f.tcp.payload_len, MSS);
		check_pattern(f.tcp.payload, MSS, i * MSS);
	}
	assert_int_equal(harness_pending_frames(h), 0);
	/* Their ACK lets the rest of the tail go again. */
	h->peer.rcv_nxt = snd_base(h) + 3 * MSS;
	harness_peer_ack(h);
	harness_advance(h, 0);
	for (uint32_t i = 3; i < 5; i++) {
		harness_expect_tcp(h, &f);
		assert_int_equal(f.tcp.seq, snd_base(h) + i * MSS);
		check_pattern(f.tcp.payload, MSS, i * MSS);
	}
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_stats(h).tx_retransmits, 4);
	assert_int_equal(harness_stats(h).rtos, 0);
	harness_peer_ack(h);
	harness_advance(h, 100 * HARNESS_MS);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_stats(h).fast_retransmits, 1);
	harness_destroy(h);
}

/* The RTO alone: without the tail loss probe that comes first by default
 * (test_tail_loss_probe_before_the_rto). */
static void test_rto_exponential_backoff(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.tlp = false;
	int conn;
	struct harness *h = open_passive(&o, 2000, &conn);
	struct harness_frame f;
	app_send(h, conn, 0, 500);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	uint64_t t0 = f.at_ns;
	uint64_t at[3];
	for (int i = 0; i < 3; i++) {
		assert_true(harness_advance_to_frame(h, 10000 * HARNESS_MS));
		harness_expect_tcp(h, &f);
		assert_int_equal(f.tcp.seq, snd_base(h));
		assert_int_equal(f.tcp.payload_len, 500);
		check_pattern(f.tcp.payload, 500, 0);
		at[i] = f.at_ns;
	}
	uint64_t g1 = at[0] - t0, g2 = at[1] - at[0], g3 = at[2] - at[1];
	assert_true(g1 >= 5 * HARNESS_MS); /* rto_min */
	assert_true(g2 >= 2 * g1 - g1 / 10 && g2 <= 2 * g1 + g1 / 10);
	assert_true(g3 >= 2 * g2 - g2 / 10 && g3 <= 2 * g2 + g2 / 10);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.rtos, 3);
	assert_int_equal(s.tx_retransmits, 3);
	/* The ACK ends it. */
	harness_peer_ack(h);
	harness_advance(h, 10000 * HARNESS_MS);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_destroy(h);
}

static void test_const_rate_enforced(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.cc = NIC_CC_CONST_RATE;
	o.nic.const_rate_bps = 100ull * 1000 * 1000; /* 100 Mbit/s */
	o.host.tx_ring_bytes = 256u << 10;
	int conn;
	struct harness *h = open_passive(&o, 31337, &conn);
	struct harness_frame f;
	const uint32_t total = 200 * 1000;
	uint8_t *buf = malloc(total);
	harness_fill(buf, total, 0);
	assert_int_equal(bt_send(h->host, conn, buf, total), total);
	harness_advance(h, 0);
	uint64_t first = 0, last = 0;
	uint32_t bytes = 0, last_len = 0;
	while (bytes < total && harness_advance_to_frame(h, 100 * HARNESS_MS)) {
		while (harness_expect_frame(h, &f)) {
			assert_true(f.is_tcp);
			if (!f.tcp.payload_len)
				continue;
			if (!first)
				first = f.at_ns;
			last = f.at_ns;
			last_len = f.tcp.payload_len;
			assert_int_equal(f.tcp.seq, snd_base(h) + bytes);
			check_pattern(f.tcp.payload, f.tcp.payload_len, bytes);
			bytes += f.tcp.payload_len;
			harness_peer_absorb(h, &f);
		}
		harness_peer_ack(h);
	}
	assert_int_equal(bytes, total);
	/* The bytes before the last frame took (last - first) to go. */
	double rate = (double)(bytes - last_len) * 8.0 * 1e9 / (double)(last - first);
	assert_true(rate > 0.9 * 100e6 && rate < 1.1 * 100e6);
	free(buf);
	harness_destroy(h);
}

static void test_tx_ring_wrap_and_partial_ack_retransmit(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.tx_ring_bytes = 4096;
	int conn;
	struct harness *h = open_passive(&o, 0xfffffff8u, &conn);
	struct harness_frame f;
	uint8_t got[8192];
	app_send(h, conn, 0, 3000);
	assert_int_equal(harness_peer_recv(h, got, 3000, HARNESS_MS), 3000);
	check_pattern(got, 3000, 0);
	harness_advance(h, 0);
	assert_int_equal(bt_tx_space(h->host, conn), 4096);
	/* The next 3000 bytes sit at ring offsets 3000..6000: they wrap. */
	app_send(h, conn, 3000, 3000);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.seq, snd_base(h) + 3000);
	assert_int_equal(f.tcp.payload_len, MSS);
	check_pattern(f.tcp.payload, MSS, 3000);
	harness_drop_frames(h);
	/* Only 500 bytes of it are ACKed; then silence until the RTO. */
	h->peer.rcv_nxt = snd_base(h) + 3500;
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_true(harness_advance_to_frame(h, 1000 * HARNESS_MS));
	harness_expect_tcp(h, &f);
	/* Go back to snd_una, mid-segment, reading the ring across its end. */
	assert_int_equal(f.tcp.seq, snd_base(h) + 3500);
	assert_int_equal(f.tcp.payload_len, MSS);
	check_pattern(f.tcp.payload, MSS, 3500);
	assert_int_equal(harness_stats(h).rtos, 1);
	harness_drop_frames(h);
	h->peer.rcv_nxt = snd_base(h) + 3500;
	assert_int_equal(harness_peer_recv(h, got, 2500, 1000 * HARNESS_MS), 2500);
	check_pattern(got, 2500, 3500);
	harness_advance(h, 0);
	assert_int_equal(bt_tx_space(h->host, conn), 4096);
	harness_destroy(h);
}

static void test_tx_ring_full_then_writable(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.tx_ring_bytes = 4096;
	struct harness *h = harness_init(&o);
	h->peer.window = 0;
	int conn = harness_passive_open(h, PORT, 12, NULL, NULL);
	uint8_t buf[5000];
	harness_fill(buf, sizeof(buf), 0);
	assert_int_equal(bt_send(h->host, conn, buf, 5000), 4096);
	assert_int_equal(bt_send(h->host, conn, buf + 4096, 904), BT_EAGAIN);
	assert_int_equal(bt_tx_space(h->host, conn), 0);
	harness_take_flags(h, conn);
	h->peer.window = 65535;
	harness_peer_ack(h);
	uint8_t got[5000];
	assert_int_equal(harness_peer_recv(h, got, 4096, HARNESS_MS), 4096);
	harness_advance(h, 0);
	assert_true(harness_take_flags(h, conn) & BT_EV_WRITABLE);
	assert_int_equal(bt_tx_space(h->host, conn), 4096);
	assert_int_equal(bt_send(h->host, conn, buf + 4096, 904), 904);
	assert_int_equal(harness_peer_recv(h, got + 4096, 904, HARNESS_MS), 904);
	check_pattern(got, 5000, 0);
	harness_destroy(h);
}

static void test_small_event_ring_many_events(void **state)
{
	(void)state;
	/* Four event slots: the ring laps every few segments, and credits
	 * must flow back even while the application issues no command. */
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.event_entries = 4;
	int conn;
	struct harness *h = open_passive(&o, 0xffffff00u, &conn);
	for (int i = 0; i < 50; i++) {
		send_next(h, 100);
		harness_advance(h, 10 * HARNESS_US);
	}
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	assert_int_equal(bt_rx_ready(h->host, conn), 5000);
	app_read_check(h, conn, 0, 5000);
	/* And the other way, acknowledged segment by segment. */
	app_send(h, conn, 0, 20 * MSS);
	uint8_t *buf = malloc(20 * MSS);
	assert_int_equal(harness_peer_recv(h, buf, 20 * MSS, HARNESS_MS), 20 * MSS);
	check_pattern(buf, 20 * MSS, 0);
	harness_advance(h, 0);
	assert_int_equal(bt_tx_space(h->host, conn), 64u << 10);
	assert_true(harness_host_stats(h).events_consumed >= 50);
	free(buf);
	harness_destroy(h);
}

static void test_transfer_with_latency(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.link_latency_ns = 20 * HARNESS_US;
	o.chan_latency_ns = 1 * HARNESS_US;
	int conn;
	struct harness *h = open_passive(&o, 0x7fffffffu, &conn);
	struct harness_frame f;
	/* The SYN-ACK's echo gave a 40 us RTT: the RTO is at its floor. */
	app_send(h, conn, 0, 500);
	uint64_t t0 = harness_now(h);
	assert_true(harness_advance_to_frame(h, HARNESS_MS));
	harness_expect_tcp(h, &f);
	/* Doorbell over the channel, READ of the payload, then the wire. */
	assert_int_equal(f.at_ns - t0, 2 * HARNESS_US + 20 * HARNESS_US);
	/* Unacknowledged: the RTO (armed when the READ was posted) fires
	 * after its 5 ms floor, and the payload is READ again. A flight of
	 * one segment gets no tail loss probe (sp_timers.c). */
	assert_true(harness_advance_to_frame(h, 100 * HARNESS_MS));
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.seq, snd_base(h));
	assert_int_equal(f.at_ns - t0, HARNESS_US + 5 * HARNESS_MS + HARNESS_US + 20 * HARNESS_US);
	assert_int_equal(harness_stats(h).tail_probes, 0);
	harness_peer_ack(h);
	harness_advance(h, HARNESS_MS);
	const uint32_t total = 256u << 10;
	uint8_t *buf = malloc(total);
	app_send(h, conn, 500, 60000);
	assert_int_equal(harness_peer_recv(h, buf, 60000, 10 * HARNESS_MS), 60000);
	check_pattern(buf, 60000, 500);
	uint32_t sent = 0, read = 0;
	while (sent < total) {
		uint16_t n = (uint16_t)(total - sent < MSS ? total - sent : MSS);
		send_next(h, n);
		sent += n;
		harness_advance(h, 2 * HARNESS_US);
		read += harness_app_read(h, conn, buf + read, total - read, NULL);
	}
	harness_advance(h, HARNESS_MS);
	read += harness_app_read(h, conn, buf + read, total - read, NULL);
	assert_int_equal(read, total);
	check_pattern(buf, total, 0);
	assert_int_equal(harness_stats(h).rtos, 1);
	free(buf);
	harness_destroy(h);
}

/* ---------- ECN ---------- */

static void test_ecn_ce_echoed_as_ece(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	struct harness *h = harness_init(&o);
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	so.ecn = true;
	struct harness_frame f;
	int conn = harness_passive_open(h, PORT, 4321, &so, &f);
	assert_true(f.tcp.flags & TCP_ECE); /* ECN-setup SYN-ACK */
	assert_false(f.tcp.flags & TCP_CWR);
	h->peer.tos = IPV4_ECN_CE;
	send_next(h, 100);
	harness_advance(h, 0);
	/* CE: ACKed at once, with ECE. */
	expect_ack(h, rcv_base(h) + 100, &f);
	assert_true(f.tcp.flags & TCP_ECE);
	assert_int_equal(harness_stats(h).ecn_ce_received, 1);
	/* Not CE: ordinary delayed ACK without ECE. */
	h->peer.tos = IPV4_ECN_ECT0;
	send_next(h, 100);
	assert_true(harness_advance_to_frame(h, 10 * HARNESS_MS));
	expect_ack(h, rcv_base(h) + 200, &f);
	assert_false(f.tcp.flags & TCP_ECE);
	assert_int_equal(harness_stats(h).ecn_ce_received, 1);
	app_read_check(h, conn, 0, 200);
	/* Our data goes out ECT(0). */
	app_send(h, conn, 0, 10);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.ip.tos & IPV4_ECN_MASK, IPV4_ECN_ECT0);
	harness_destroy(h);
}

static void test_ecn_ece_acked_bytes_counted(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	struct harness *h = harness_init(&o);
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	so.ecn = true;
	int conn = harness_passive_open(h, PORT, 99, &so, NULL);
	struct harness_frame f;
	app_send(h, conn, 0, 1000);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 1000);
	harness_peer_send(h, TCP_ECE, NULL, 0);
	harness_advance(h, 0);
	assert_int_equal(harness_stats(h).ecn_ece_acked_bytes, 1000);
	app_send(h, conn, 1000, 500);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	harness_peer_ack(h); /* no ECE */
	harness_advance(h, 0);
	assert_int_equal(harness_stats(h).ecn_ece_acked_bytes, 1000);
	harness_destroy(h);
}

/* ---------- sequence space, options ---------- */

static void test_sequence_wraparound_64k(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	/* Chosen so that the NIC's ISS (pick_iss of this tuple and time) is
	 * within 64 KiB of 2^32: both directions wrap. */
	o.nic.isn_seed = 146209;
	int conn;
	struct harness *h = open_passive(&o, 0xffffff00u, &conn);
	assert_true(h->peer.nic_iss >= 0xffff0000u);
	struct harness_frame f;
	const uint32_t total = 64u << 10;
	uint8_t *got = malloc(total);
	uint32_t sent = 0, read = 0;
	while (sent < total) {
		uint16_t n = (uint16_t)(total - sent < MSS ? total - sent : MSS);
		send_next(h, n);
		sent += n;
		harness_advance(h, 0);
		while (harness_expect_frame(h, &f)) {
			assert_true(f.is_tcp);
			harness_peer_absorb(h, &f);
			/* ACKs never go backwards across the wrap. */
			assert_true(seq_leq(f.tcp.ack, h->peer.snd_nxt));
			assert_true(seq_geq(f.tcp.ack, rcv_base(h)));
		}
		read += harness_app_read(h, conn, got + read, total - read, NULL);
	}
	harness_advance(h, HARNESS_MS);
	while (harness_expect_frame(h, &f))
		assert_int_equal(f.tcp.ack, rcv_base(h) + total);
	read += harness_app_read(h, conn, got + read, total - read, NULL);
	assert_int_equal(read, total);
	check_pattern(got, total, 0);
	assert_true(h->peer.snd_nxt < 0x10000u); /* it did wrap */
	/* And back the other way, with a loss right at the wrap: the first
	 * segment past 2^32 is dropped, and go-back-N repairs it. */
	app_send(h, conn, 0, total);
	harness_advance(h, 0);
	uint32_t wrap_off = 0u - snd_base(h); /* stream offset of seq 0 */
	uint32_t rx = 0;
	bool dropped = false;
	while (rx < total && harness_advance_to_frame(h, 1000 * HARNESS_MS)) {
		while (harness_expect_frame(h, &f)) {
			assert_true(f.is_tcp);
			uint32_t off = f.tcp.seq - snd_base(h);
			if (!dropped && off <= wrap_off && wrap_off < off + f.tcp.payload_len) {
				dropped = true; /* lost on the way */
				continue;
			}
			uint32_t adv = harness_peer_absorb(h, &f);
			if (adv) {
				check_pattern(f.tcp.payload, adv, rx);
				rx += adv;
			}
		}
		harness_peer_ack(h);
	}
	assert_true(dropped);
	assert_int_equal(rx, total);
	assert_true(h->peer.rcv_nxt < 0x10000u);
	assert_true(harness_stats(h).tx_retransmits > 0);
	free(got);
	harness_destroy(h);
}

static void test_window_scaling_large_ring(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.rx_ring_bytes = 1u << 20;
	o.host.max_conns = 4;
	struct harness *h = harness_init(&o);
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	so.wscale_val = 7;
	struct harness_frame f;
	int conn = harness_passive_open(h, PORT, 0xfffffff0u, &so, &f);
	assert_true(f.tcp.opts.has_wscale);
	assert_int_equal(f.tcp.opts.wscale, 5); /* 1 MiB >> 5 fits 16 bits */
	assert_int_equal(f.tcp.window, 65535);  /* SYN windows are not scaled */
	send_next(h, 1000);
	assert_true(harness_advance_to_frame(h, 10 * HARNESS_MS));
	expect_ack(h, rcv_base(h) + 1000, &f);
	assert_int_equal(f.tcp.window, ((1u << 20) - 1000) >> 5);
	app_read_check(h, conn, 0, 1000);
	/* The peer's scale applies to its windows: 100 << 7 = 12800 bytes. */
	h->peer.window = 100;
	harness_peer_ack(h);
	harness_advance(h, 0);
	harness_drop_frames(h);
	app_send(h, conn, 0, 20000);
	harness_advance(h, 0);
	uint32_t out = 0;
	while (harness_expect_frame(h, &f))
		out += f.tcp.payload_len;
	assert_true(out <= 12800);
	assert_true(out >= 12800 - MSS);
	harness_destroy(h);
}

static void test_timestamps_echoed(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	struct harness *h = harness_init(&o);
	h->peer.ts_val = 0xfffffff0u; /* the peer's clock wraps during the test */
	struct harness_frame f;
	harness_passive_open(h, PORT, 0x10000, NULL, &f);
	assert_true(f.tcp.opts.has_ts);
	assert_int_equal(f.tcp.opts.ts_ecr, 0xfffffff0u); /* the SYN's TSval */
	assert_int_equal(h->peer.ts_val, 0xfffffff2u);
	send_next(h, 2000);
	send_next(h, 1000);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 3000, &f);
	assert_true(f.tcp.opts.has_ts);
	/* TSecr is one of the two TSvals (RFC 7323 prefers the earlier, the
	 * stack echoes the latest in-order one; both are the peer's). */
	assert_true(f.tcp.opts.ts_ecr == 0xfffffff2u || f.tcp.opts.ts_ecr == 0xfffffff3u);
	uint32_t ecr = f.tcp.opts.ts_ecr;
	uint32_t our_ts = f.tcp.opts.ts_val;
	assert_int_equal(our_ts, (uint32_t)(harness_now(h) / 1000));
	/* An older timestamp on an old segment does not move TS.Recent back. */
	h->peer.ts_val = 0xffffff00u;
	send_at(h, 0, 100);
	harness_advance(h, 0);
	expect_ack(h, rcv_base(h) + 3000, &f);
	assert_int_equal(f.tcp.opts.ts_ecr, ecr);
	/* A newer one across the wrap does; our TSval follows the clock (us). */
	harness_advance(h, 7 * HARNESS_MS);
	h->peer.ts_val = 0x10;
	send_next(h, 100);
	assert_true(harness_advance_to_frame(h, HARNESS_MS));
	expect_ack(h, rcv_base(h) + 3100, &f);
	assert_int_equal(f.tcp.opts.ts_ecr, 0x10);
	assert_true(f.tcp.opts.ts_val >= our_ts + 7000);
	harness_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rx_in_order_readable),
		cmocka_unit_test(test_rx_hardware_verified_checksum_is_trusted),
		cmocka_unit_test(test_rx_bad_checksum_caught_while_staging),
		cmocka_unit_test(test_tx_checksum_left_to_hardware_when_offered),
		cmocka_unit_test(test_rx_segment_spans_ring_wrap),
		cmocka_unit_test(test_rx_out_of_order_then_gap_filled),
		cmocka_unit_test(test_rx_partial_gap_fill_acked_at_once),
		cmocka_unit_test(test_rx_fin_beyond_gap_taken_when_filled),
		cmocka_unit_test(test_rx_ooo_interval_beyond_the_state_dropped_then_recovered),
		cmocka_unit_test(test_rx_ooo_burst_one_dupack_each),
		cmocka_unit_test(test_rx_duplicate_acked_at_once),
		cmocka_unit_test(test_rx_beyond_window_acked_with_window),
		cmocka_unit_test(test_rx_in_order_segment_trimmed_to_the_window),
		cmocka_unit_test(test_rx_bare_fin_beyond_gap_taken_when_filled),
		cmocka_unit_test(test_rx_data_segment_opens_the_window),
		cmocka_unit_test(test_rx_old_zero_length_probe_answered),
		cmocka_unit_test(test_rx_delayed_ack_bound),
		cmocka_unit_test(test_rx_two_full_segments_acked_at_once),
		cmocka_unit_test(test_rx_bulk_pure_acks_per_segment),
		cmocka_unit_test(test_rx_window_update_when_peer_window_small),
		cmocka_unit_test(test_tx_psh_only_on_last_segment_of_a_send),
		cmocka_unit_test(test_tx_full_segments_across_the_ring_wrap),
		cmocka_unit_test(test_tx_segmentation),
		cmocka_unit_test(test_tx_respects_peer_window),
		cmocka_unit_test(test_tx_zero_window_persist_probe),
		cmocka_unit_test(test_tx_zero_window_answered_for_long),
		cmocka_unit_test(test_rx_window_closes_and_reopens),
		cmocka_unit_test(test_both_windows_zero_make_progress),
		cmocka_unit_test(test_fast_retransmit_on_three_dupacks),
		cmocka_unit_test(test_rto_exponential_backoff),
		cmocka_unit_test(test_const_rate_enforced),
		cmocka_unit_test(test_tx_ring_wrap_and_partial_ack_retransmit),
		cmocka_unit_test(test_tx_ring_full_then_writable),
		cmocka_unit_test(test_small_event_ring_many_events),
		cmocka_unit_test(test_transfer_with_latency),
		cmocka_unit_test(test_ecn_ce_echoed_as_ece),
		cmocka_unit_test(test_ecn_ece_acked_bytes_counted),
		cmocka_unit_test(test_sequence_wraparound_64k),
		cmocka_unit_test(test_window_scaling_large_ring),
		cmocka_unit_test(test_timestamps_echoed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
