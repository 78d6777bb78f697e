/*
 * test_statemachine: the state-machine bugs the conformance corpora found
 * (docs/conformance.md, "Stack bugs found"), each against a scripted peer:
 * LISTEN answering segments it must drop, simultaneous open, RFC 5961 in
 * SYN_RCVD and TIME_WAIT, and ICMP hard errors during connect.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/nic/nic_internal.h"
#include "core/proto/bytes.h"
#include "tests/support/harness.h"

#define PORT 80

static uint8_t ctl(const struct harness_frame *f)
{
	return f->tcp.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK);
}

/* rcv-fin-listen: a FIN without ACK to a listener is dropped (RFC 9293
 * 3.10.7.2); we used to answer it with an RST. An ACK still gets one. */
static void test_listen_drops_segment_without_syn_or_ack(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	assert_true(bt_listen(h->host, PORT, 2) >= 0);
	harness_advance(h, 0);
	struct harness_seg x = {.sport = 40000, .dport = PORT};
	harness_inject(h, TCP_FIN, 17, 34, 32767, "abc", 3, &x);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_stats(h).rx_listen_dropped, 1);
	harness_inject(h, TCP_ACK, 17, 34, 32767, NULL, 0, &x);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(ctl(&f), TCP_RST);
	assert_int_equal(f.tcp.seq, 34);
	/* A closed port still answers a FIN with RST|ACK. */
	struct harness_seg y = {.sport = 40000, .dport = PORT + 1};
	harness_inject(h, TCP_FIN, 17, 0, 32767, NULL, 0, &y);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(ctl(&f), TCP_RST | TCP_ACK);
	assert_int_equal(f.tcp.ack, 18);
	harness_destroy(h);
}

/* Connects, and the peer answers the SYN with a SYN of its own. */
static int simultaneous_open(struct harness *h, struct harness_frame *synack)
{
	struct harness_frame f;
	int conn = bt_connect(h->host, HARNESS_PEER_IP, 7000);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(ctl(&f), TCP_SYN);
	h->peer.port = 7000;
	h->peer.nic_port = f.tcp.sport;
	h->peer.nic_iss = f.tcp.seq;
	struct tcp_opts o = {.has_mss = true, .mss = 1000};
	struct harness_seg x = {.opts = &o, .sport = 7000, .dport = f.tcp.sport};
	harness_inject(h, TCP_SYN, 5000, 0, 32767, NULL, 0, &x);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, synack));
	assert_int_equal(harness_tcp_state(h), TCP_SYN_RCVD);
	h->peer.snd_nxt = 5001;
	h->peer.rcv_nxt = f.tcp.seq + 1;
	return conn;
}

/* RFC 9293 figure 8: we used to ignore a SYN in SYN_SENT. */
static void test_simultaneous_open_completes(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	int conn = simultaneous_open(h, &f);
	assert_int_equal(ctl(&f), TCP_SYN | TCP_ACK);
	assert_int_equal(f.tcp.seq, h->peer.nic_iss); /* our SYN again, now with ACK */
	assert_int_equal(f.tcp.ack, 5001);
	assert_true(f.tcp.opts.has_mss);
	assert_false(f.tcp.opts.has_ts); /* the peer's SYN offered none */
	struct bt_conn_info info;
	assert_int_equal(bt_conn_info(h->host, conn, &info), BT_OK); /* the peer's SYN is known */
	assert_int_equal(info.mss, 1000);
	assert_int_equal(bt_conn_addrs(h->host, conn, NULL, NULL), BT_ENOTCONN); /* not yet open */
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	assert_true(harness_take_flags(h, conn) & BT_EV_CONNECTED);
	assert_int_equal(bt_send(h->host, conn, "hello", 5), 5);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 5);
	assert_int_equal(f.tcp.seq, h->peer.nic_iss + 1);
	harness_destroy(h);
}

/* RFC 9293 3.10.7.4: reset in SYN_RCVD after an active open means refused;
 * the host used to be told nothing (the flow was treated as half-open
 * passive). RFC 5961: only at rcv_nxt; elsewhere in the window, a
 * challenge ACK. */
static void test_simultaneous_open_reset_refuses(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	int conn = simultaneous_open(h, &f);
	struct harness_seg x = {.sport = 7000, .dport = h->peer.nic_port};
	harness_inject(h, TCP_RST, 5001 + 100, 0, 0, NULL, 0, &x);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(ctl(&f), TCP_ACK);
	assert_int_equal(harness_tcp_state(h), TCP_SYN_RCVD);
	harness_inject(h, TCP_RST, 5001, 0, 0, NULL, 0, &x);
	harness_advance(h, 0);
	assert_int_equal(harness_tcp_state(h), -1);
	assert_true(harness_take_flags(h, conn) & BT_EV_ERROR);
	assert_int_equal(harness_conn_err(h, conn), BT_ECONNREFUSED);
	harness_destroy(h);
}

/* RFC 5961 3.2 in a passive SYN_RCVD: an RST in the window but not at
 * rcv_nxt used to reset the half-open connection. */
static void test_syn_rcvd_rst_in_window_is_challenged(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	assert_true(bt_listen(h->host, PORT, 2) >= 0);
	harness_advance(h, 0);
	struct harness_seg x = {.sport = 40000, .dport = PORT};
	harness_inject(h, TCP_SYN, 100, 0, 32767, NULL, 0, &x);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	harness_inject(h, TCP_RST, 101 + 1000, 0, 0, NULL, 0, &x);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(ctl(&f), TCP_ACK);
	assert_int_equal(f.tcp.ack, 101);
	assert_int_equal(harness_stats(h).flows_active, 1);
	/* Beyond the SYN-ACK's window: dropped without a word. */
	harness_inject(h, TCP_RST, 101 + 70000, 0, 0, NULL, 0, &x);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_inject(h, TCP_RST, 101, 0, 0, NULL, 0, &x);
	harness_advance(h, 0);
	assert_int_equal(harness_stats(h).flows_active, 0);
	harness_destroy(h);
}

/* Into TIME_WAIT by our close and the peer's FIN. */
static void to_time_wait(struct harness *h)
{
	struct harness_frame f;
	int conn = harness_active_open(h, 6000, 0x1000, NULL, NULL);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_true(f.tcp.flags & TCP_FIN);
	harness_peer_send(h, TCP_FIN, NULL, 0);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(harness_tcp_state(h), TCP_TIME_WAIT);
}

/* TIME_WAIT used to act only on RST (any, even a blind one, ended it) and
 * FIN: RFC 9293 3.10.7.4 with RFC 5961. */
static void test_time_wait_answers_and_challenges(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	to_time_wait(h);
	uint32_t seq = h->peer.snd_nxt, ack = h->peer.rcv_nxt;
	/* An exact duplicate ACK: nothing to say. */
	harness_inject(h, TCP_ACK, seq, ack, 65535, NULL, 0, NULL);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	/* Anything else with ACK: answered with an ACK. */
	harness_inject(h, TCP_ACK, seq + 1, ack, 65535, NULL, 0, NULL);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(ctl(&f), TCP_ACK);
	assert_int_equal(f.tcp.ack, seq);
	/* No ACK bit: dropped. */
	harness_inject(h, TCP_FIN, seq + 1, ack, 65535, NULL, 0, NULL);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	/* A SYN, and a reset off rcv_nxt: challenge ACKs; still TIME_WAIT. */
	harness_inject(h, TCP_SYN, seq + 100, 0, 65535, NULL, 0, NULL);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(ctl(&f), TCP_ACK);
	harness_inject(h, TCP_RST, seq + 100, 0, 0, NULL, 0, NULL);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(ctl(&f), TCP_ACK);
	assert_int_equal(harness_tcp_state(h), TCP_TIME_WAIT);
	assert_int_equal(harness_stats(h).tx_challenge_acks, 2);
	/* The reset at rcv_nxt ends it. */
	harness_inject(h, TCP_RST, seq, 0, 0, NULL, 0, NULL);
	harness_advance(h, 0);
	assert_int_equal(harness_tcp_state(h), -1);
	harness_destroy(h);
}

/* An ICMP destination unreachable quoting our SYN. */
static void inject_icmp_unreach(struct harness *h, uint8_t code, uint16_t nic_port, uint16_t peer_port, uint32_t seq)
{
	uint8_t frame[14 + 20 + 8 + 20 + 8] = {0};
	memcpy(frame, HARNESS_NIC_MAC, 6);
	memcpy(frame + 6, HARNESS_PEER_MAC, 6);
	store_be16(frame + 12, ETH_TYPE_IPV4);
	uint8_t *icmp = frame + 14 + 20;
	icmp[0] = 3;
	icmp[1] = code;
	uint8_t *inner = icmp + 8;
	ipv4_build(inner, 20, HARNESS_NIC_IP, HARNESS_PEER_IP, IPV4_PROTO_TCP, 0, 1, 64, 20);
	store_be16(inner + 20, nic_port);
	store_be16(inner + 22, peer_port);
	store_be32(inner + 24, seq);
	uint16_t csum = inet_checksum(icmp, 8 + 28, 0);
	memcpy(icmp + 2, &csum, 2);
	ipv4_build(frame + 14, 20, HARNESS_PEER_IP, HARNESS_NIC_IP, 1, 0, 2, 64, 8 + 28);
	harness_inject_raw(h, frame, sizeof(frame));
}

/* rcv-icmp: hard errors used to be ignored, the connect went on to time out. */
static void test_icmp_hard_error_refuses_connect(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	int conn = bt_connect(h->host, HARNESS_PEER_IP, 9);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	uint16_t port = f.tcp.sport;
	uint32_t iss = f.tcp.seq;
	/* A quoted sequence outside what we sent, and a soft error: ignored. */
	inject_icmp_unreach(h, 3, port, 9, iss - 1);
	inject_icmp_unreach(h, 3, port, 9, iss + 1);
	inject_icmp_unreach(h, 1, port, 9, iss); /* host unreachable: soft */
	harness_advance(h, 0);
	assert_int_equal(harness_stats(h).rx_icmp_ignored, 3);
	assert_int_equal(harness_take_flags(h, conn), 0);
	inject_icmp_unreach(h, 3, port, 9, iss);
	harness_advance(h, 0);
	assert_true(harness_take_flags(h, conn) & BT_EV_ERROR);
	assert_int_equal(harness_conn_err(h, conn), BT_ECONNREFUSED);
	assert_int_equal(harness_stats(h).rx_icmp_errors, 1);
	assert_int_equal(harness_stats(h).flows_active, 0);
	harness_destroy(h);
}

/* The linux-like profile ACKs the first 16 data segments at once, as
 * Linux's quick-ACK mode does (Google's scripts expect it); then the
 * delayed ACK is back. */
static void test_linux_profile_quickacks_then_delays(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	nic_profile_linux(&o.nic);
	struct harness *h = harness_init(&o);
	struct harness_frame f;
	harness_active_open(h, 6100, 0x1000, NULL, NULL);
	for (int i = 0; i < 16; i++) {
		harness_peer_send(h, TCP_ACK, "x", 1);
		harness_advance(h, 0);
		harness_expect_tcp(h, &f); /* at once */
		assert_int_equal(f.tcp.ack, h->peer.snd_nxt);
	}
	uint64_t t0 = harness_now(h);
	harness_peer_send(h, TCP_ACK, "x", 1);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_true(harness_advance_to_frame(h, 100 * HARNESS_MS));
	harness_expect_tcp(h, &f);
	assert_int_equal(f.at_ns - t0, o.nic.delayed_ack_ns);
	harness_destroy(h);
}

/* fin_tsval, reset_tsval: Linux's TSval clock ticks in milliseconds and
 * the scripts check the values we send against it; the linux-like
 * profile's does too, the default one counts microseconds. */
static void tsval_ticks(bool linux_profile, uint64_t tick_ns)
{
	struct harness_opts o;
	harness_default_opts(&o);
	if (linux_profile)
		nic_profile_linux(&o.nic);
	struct harness *h = harness_init(&o);
	struct harness_frame syn, f;
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	harness_active_open(h, 6100, 0x1000, &so, &syn);
	assert_true(syn.tcp.opts.has_ts);
	harness_advance(h, 100 * HARNESS_MS);
	harness_peer_send(h, TCP_ACK, "x", 1);
	harness_advance(h, 0);
	assert_true(harness_advance_to_frame(h, 100 * HARNESS_MS));
	harness_expect_tcp(h, &f);
	assert_true(f.tcp.opts.has_ts);
	/* Both ends of the interval are truncated to a tick: one either way. */
	uint64_t ticks = f.tcp.opts.ts_val - syn.tcp.opts.ts_val;
	uint64_t want = (f.at_ns - syn.at_ns) / tick_ns;
	assert_true(want >= 100);
	assert_in_range(ticks, want - 1, want + 1);
	harness_destroy(h);
}

static void test_linux_profile_tsval_in_milliseconds(void **state)
{
	(void)state;
	tsval_ticks(true, HARNESS_MS);
	tsval_ticks(false, 1000);
}

/* ts_recent/invalid_ack: a segment acknowledging data we never sent is
 * dropped, and its timestamp must not become the one we echo: a blind
 * segment with a huge TSval would have us echo it from then on (we did).
 * The default profile answers it with an ACK (RFC 5961 5.2), the
 * linux-like one silently, as Linux's tcp_ack. */
static void ack_of_unsent_data(bool linux_profile)
{
	struct harness_opts o;
	harness_default_opts(&o);
	if (linux_profile)
		nic_profile_linux(&o.nic);
	struct harness *h = harness_init(&o);
	struct harness_frame f;
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	harness_active_open(h, 6100, 0x1000, &so, NULL);
	harness_drop_frames(h);
	uint32_t before = h->peer.ts_val;
	struct tcp_opts wild = {.has_ts = true, .ts_val = before + 1000000, .ts_ecr = h->peer.ts_recent};
	struct harness_seg x = {.opts = &wild};
	harness_inject(h, TCP_ACK | TCP_FIN, h->peer.snd_nxt, h->peer.rcv_nxt + 9999, h->peer.window, NULL, 0, &x);
	harness_advance(h, 0);
	assert_int_equal(harness_stats(h).rx_ack_unsent, 1);
	if (linux_profile) {
		assert_int_equal(harness_pending_frames(h), 0);
	} else {
		harness_expect_tcp(h, &f);
		assert_int_equal(f.tcp.ack, h->peer.snd_nxt); /* the FIN was dropped */
		assert_int_equal(f.tcp.opts.ts_ecr, before - 1);
	}
	harness_peer_send(h, TCP_ACK | TCP_PSH, "x", 1);
	harness_advance(h, 0);
	assert_true(harness_advance_to_frame(h, 100 * HARNESS_MS));
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.ack, h->peer.snd_nxt);
	assert_int_equal(f.tcp.opts.ts_ecr, before);
	harness_destroy(h);
}

static void test_ack_of_unsent_data_keeps_ts_recent(void **state)
{
	(void)state;
	ack_of_unsent_data(false);
	ack_of_unsent_data(true);
}

/* ioctl-siocinq-fin: a peer without window scaling knows at most 64 KiB
 * of a larger ring; a read that frees ring space beyond that moves no
 * edge the peer can learn of, so no window update goes (we sent one,
 * saying nothing new). With window scaling the same read is announced. */
static uint32_t window_updates_after_read(bool wscale)
{
	struct harness_opts o;
	harness_default_opts(&o);
	o.host.rx_ring_bytes = 512u << 10;
	struct harness *h = harness_init(&o);
	struct harness_frame f;
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	so.wscale = wscale;
	harness_active_open(h, 6100, 0x1000, &so, NULL);
	harness_drop_frames(h);
	/* The peer sends more than half the ring (what it knows of the
	 * window, unscaled), then the app reads it all. */
	static uint8_t buf[65535];
	const uint32_t known = wscale ? 300000 : 65535;
	for (uint32_t sent = 0; sent < known;) {
		uint16_t n = known - sent > 1000 ? 1000 : (uint16_t)(known - sent);
		harness_peer_send(h, TCP_ACK, buf, n);
		sent += n;
	}
	harness_advance(h, 100 * HARNESS_MS);
	harness_drop_frames(h);
	uint32_t got = 0;
	while (got < known) {
		uint32_t n = harness_app_read(h, h->conn, buf, sizeof(buf), NULL);
		assert_true(n > 0);
		got += n;
	}
	harness_advance(h, 100 * HARNESS_MS);
	uint32_t acks = 0;
	while (harness_expect_frame(h, &f))
		acks++;
	harness_destroy(h);
	return acks;
}

static void test_no_window_update_beyond_the_unscaled_window(void **state)
{
	(void)state;
	assert_int_equal(window_updates_after_read(false), 0);
	assert_int_equal(window_updates_after_read(true), 1);
}

/* rcv-data-segments: FreeBSD ACKs the second segment while an ACK is
 * delayed, however small; RFC 1122 (the other profiles) counts full
 * segments, so two 1-byte segments wait for the delayed-ACK bound. */
static uint32_t acks_after_two_small_segments(bool freebsd)
{
	struct harness_opts o;
	harness_default_opts(&o);
	if (freebsd)
		nic_profile_freebsd(&o.nic);
	struct harness *h = harness_init(&o);
	struct harness_frame f;
	harness_active_open(h, 6100, 0x1000, NULL, NULL);
	harness_drop_frames(h);
	harness_peer_send(h, TCP_ACK, "x", 1);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_peer_send(h, TCP_ACK, "y", 1);
	harness_advance(h, 0);
	uint32_t acks = 0;
	while (harness_expect_frame(h, &f)) {
		assert_int_equal(f.tcp.ack, h->peer.snd_nxt);
		acks++;
	}
	harness_destroy(h);
	return acks;
}

static void test_freebsd_profile_acks_second_segment(void **state)
{
	(void)state;
	assert_int_equal(acks_after_two_small_segments(true), 1);
	assert_int_equal(acks_after_two_small_segments(false), 0);
}

/* user_timeout: the linux-like profile takes the handshake's RTT without
 * timestamps (Karn: the SYN-ACK went once), computes the RTO as Linux
 * (SRTT + at least 200 ms: 210 ms here, RFC 6298 would say 200) and
 * resends a lone FIN first as a tail loss probe, without backing off:
 * 210, 210, then 420 ms. Data
 * arriving after close gets an RST at its ACK, without ACK, as Linux and
 * FreeBSD send it. We resent at 1 s, 2 s, 4 s and sent RST|ACK. */
static void test_linux_profile_rto_tail_probe_and_reset_after_close(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	nic_profile_linux(&o.nic);
	struct harness *h = harness_init(&o);
	/* A handshake whose ACK comes 10 ms after our SYN-ACK, no timestamps. */
	int lid = bt_listen(h->host, PORT, 2);
	assert_true(lid >= 0);
	harness_advance(h, HARNESS_MS);
	struct tcp_opts syn = {.has_mss = true, .mss = 1460};
	struct harness_seg sx = {.opts = &syn, .dport = PORT};
	harness_inject(h, TCP_SYN, 0x1000, 0, 65535, NULL, 0, &sx);
	harness_advance(h, 0);
	struct harness_frame f;
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN | TCP_ACK);
	h->peer.nic_port = PORT;
	h->peer.snd_nxt = 0x1001;
	h->peer.rcv_nxt = f.tcp.seq + 1;
	h->peer.window = 65535;
	harness_advance(h, 10 * HARNESS_MS);
	harness_peer_ack(h);
	harness_advance(h, HARNESS_MS);
	int conn = bt_accept(h->host, lid);
	assert_true(conn >= 0);
	harness_drop_frames(h);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	uint64_t at[4];
	for (int i = 0; i < 4; i++) {
		assert_true(harness_advance_to_frame(h, 5000 * HARNESS_MS));
		assert_true(harness_expect_frame(h, &f));
		assert_true(f.tcp.flags & TCP_FIN);
		at[i] = f.at_ns;
	}
	assert_int_equal((at[1] - at[0]) / HARNESS_MS, 210);
	assert_int_equal((at[2] - at[1]) / HARNESS_MS, 210);
	assert_int_equal((at[3] - at[2]) / HARNESS_MS, 420);
	uint32_t fin_seq = f.tcp.seq;
	struct harness_seg x = {0};
	harness_inject(h, TCP_ACK, h->peer.snd_nxt, fin_seq, 32767, "x", 1, &x);
	assert_true(harness_advance_to_frame(h, 200 * HARNESS_MS));
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_RST | TCP_ACK), TCP_RST);
	assert_int_equal(f.tcp.seq, fin_seq); /* the segment's ACK */
	assert_int_equal(harness_stats(h).flows_active, 0);
	harness_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_drops_segment_without_syn_or_ack),
		cmocka_unit_test(test_simultaneous_open_completes),
		cmocka_unit_test(test_simultaneous_open_reset_refuses),
		cmocka_unit_test(test_syn_rcvd_rst_in_window_is_challenged),
		cmocka_unit_test(test_time_wait_answers_and_challenges),
		cmocka_unit_test(test_icmp_hard_error_refuses_connect),
		cmocka_unit_test(test_linux_profile_quickacks_then_delays),
		cmocka_unit_test(test_linux_profile_tsval_in_milliseconds),
		cmocka_unit_test(test_ack_of_unsent_data_keeps_ts_recent),
		cmocka_unit_test(test_no_window_update_beyond_the_unscaled_window),
		cmocka_unit_test(test_freebsd_profile_acks_second_segment),
		cmocka_unit_test(test_linux_profile_rto_tail_probe_and_reset_after_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
