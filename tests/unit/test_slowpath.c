/*
 * test_slowpath: the NIC's slow path against a scripted peer
 * (tests/support/harness.h): passive and active open, the listen
 * backlog, resets (RFC 5961), every close sequence down to the flow being
 * freed, and ARP.
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

/* ---------- helpers ---------- */

/* A SYN from the peer's address and `sport` with default options. */
static void syn_from(struct harness *h, uint16_t sport, uint16_t dport, uint32_t isn)
{
	struct tcp_opts o = {.has_mss = true, .mss = 1460, .has_wscale = true, .wscale = 0};
	struct harness_seg x = {.opts = &o, .sport = sport, .dport = dport};
	harness_inject(h, TCP_SYN, isn, 0, 65535, NULL, 0, &x);
}

static void expect_flags(struct harness *h, uint8_t flags, struct harness_frame *f)
{
	harness_expect_tcp(h, f);
	assert_int_equal(f->tcp.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK), flags);
}

/* The application closes first: the NIC's FIN, the peer's ACK of it,
 * and the connection waits in FIN_WAIT_2 for the peer's FIN. */
static void close_to_fin_wait_2(struct harness *h, int conn, struct harness_frame *f)
{
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	expect_flags(h, TCP_FIN | TCP_ACK, f);
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(harness_tcp_state(h), TCP_FIN_WAIT_2);
}

/* ---------- open ---------- */

static void test_passive_open_synack_options(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_syn_opts so;
	harness_default_syn_opts(&so);
	so.wscale_val = 7;
	h->peer.ts_val = 0x11223344u;
	struct harness_frame f;
	int conn = harness_passive_open(h, PORT, 0xfffff000u, &so, &f);
	assert_int_equal(f.tcp.ack, 0xfffff001u);
	assert_true(f.tcp.opts.has_mss);
	assert_int_equal(f.tcp.opts.mss, 1448);
	assert_true(f.tcp.opts.has_wscale);
	assert_int_equal(f.tcp.opts.wscale, 1); /* 64 KiB ring: 65536 >> 1 fits */
	assert_true(f.tcp.opts.has_ts);
	assert_int_equal(f.tcp.opts.ts_ecr, 0x11223344u);
	assert_int_equal(f.tcp.window, 65535);
	assert_false(f.tcp.flags & (TCP_ECE | TCP_CWR)); /* no ECN asked */
	assert_int_equal(f.ip.tos & IPV4_ECN_MASK, IPV4_ECN_NOT_ECT);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.conns_accepted, 1);
	assert_int_equal(s.flows_active, 1);
	/* The connection works both ways. */
	harness_app_send_expect(h, conn, 0, 100, &f);
	assert_int_equal(f.tcp.payload_len, 100);
	assert_int_equal(f.tcp.seq, h->peer.nic_iss + 1);
	assert_true(f.tcp.opts.has_ts);
	assert_false(f.tcp.opts.has_mss); /* only on SYNs */
	harness_destroy(h);
}

static void test_passive_open_syn_without_options(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_syn_opts so = {.window = 8000}; /* no MSS, WS or TS */
	struct harness_frame f;
	int conn = harness_passive_open(h, PORT, 77, &so, &f);
	/* RFC 7323: a SYN-ACK carries WS and TS only if the SYN did. */
	assert_true(f.tcp.opts.has_mss);
	assert_false(f.tcp.opts.has_wscale);
	assert_false(f.tcp.opts.has_ts);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	/* Unscaled windows, no timestamps, and the RFC 1122 default MSS. */
	harness_app_send_expect(h, conn, 0, 1000, &f);
	assert_int_equal(f.tcp.payload_len, 536);
	assert_false(f.tcp.opts.has_ts);
	assert_int_equal(f.tcp.window, 65535); /* 64 KiB ring, unscaled: clamped */
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.payload_len, 464);
	harness_destroy(h);
}

static void test_syn_to_closed_port_gets_rst(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	syn_from(h, 40000, 81, 0x89abcdefu);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_true(f.is_tcp);
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK), TCP_RST | TCP_ACK);
	assert_int_equal(f.tcp.ack, 0x89abcdf0u);
	assert_int_equal(f.tcp.seq, 0);
	assert_int_equal(f.tcp.sport, 81);
	assert_int_equal(f.tcp.dport, 40000);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.rx_no_flow_rst, 1);
	assert_int_equal(s.flows_active, 0);
	/* A segment with ACK for no flow: RST from its ack number. */
	struct harness_seg x = {.sport = 40000, .dport = 81};
	harness_inject(h, TCP_ACK, 5, 0x12345678u, 100, NULL, 0, &x);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK), TCP_RST);
	assert_int_equal(f.tcp.seq, 0x12345678u);
	/* And an RST for no flow is never answered. */
	harness_inject(h, TCP_RST, 5, 0, 0, NULL, 0, &x);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_destroy(h);
}

static void test_listen_backlog_full_then_freed(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	int l = bt_listen(h->host, PORT, 2);
	assert_true(l >= 0);
	harness_advance(h, 0);
	uint32_t isn[3] = {1000, 2000, 3000};
	for (int i = 0; i < 2; i++) {
		uint16_t sport = (uint16_t)(40001 + i);
		syn_from(h, sport, PORT, isn[i]);
		harness_advance(h, 0);
		assert_true(harness_expect_frame(h, &f));
		assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK | TCP_RST), TCP_SYN | TCP_ACK);
		assert_int_equal(f.tcp.dport, sport);
		struct harness_seg x = {.sport = sport, .dport = PORT};
		harness_inject(h, TCP_ACK, isn[i] + 1, f.tcp.seq + 1, 65535, NULL, 0, &x);
		harness_advance(h, 0);
	}
	assert_int_equal(harness_stats(h).conns_accepted, 2);
	assert_true(harness_take_flags(h, l) & BT_EV_ACCEPTABLE);
	/* Both slots hold connections nobody accepted: the third SYN is dropped. */
	syn_from(h, 40003, PORT, isn[2]);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_stats(h).syn_backlog_drops, 1);
	assert_int_equal(harness_stats(h).flows_active, 2);
	/* bt_accept hands the NIC a fresh slot; the retransmitted SYN gets in. */
	int c1 = bt_accept(h->host, l);
	assert_true(c1 >= 0);
	harness_advance(h, 0);
	syn_from(h, 40003, PORT, isn[2]);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK | TCP_RST), TCP_SYN | TCP_ACK);
	assert_int_equal(f.tcp.dport, 40003);
	assert_int_equal(f.tcp.ack, isn[2] + 1);
	struct harness_seg x = {.sport = 40003, .dport = PORT};
	harness_inject(h, TCP_ACK, isn[2] + 1, f.tcp.seq + 1, 65535, NULL, 0, &x);
	harness_advance(h, 0);
	assert_int_equal(harness_stats(h).conns_accepted, 3);
	assert_int_equal(harness_stats(h).syn_backlog_drops, 1);
	int c2 = bt_accept(h->host, l);
	int c3 = bt_accept(h->host, l);
	assert_true(c2 >= 0 && c3 >= 0);
	assert_true(c1 != c2 && c2 != c3 && c1 != c3);
	assert_int_equal(bt_accept(h->host, l), BT_EAGAIN);
	harness_destroy(h);
}

static void test_active_open_syn_retries_then_timeout(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.syn_retries = 3;
	struct harness *h = harness_init(&o);
	struct harness_frame f;
	int conn = bt_connect(h->host, HARNESS_PEER_IP, 8080);
	assert_true(conn >= 0);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK | TCP_RST), TCP_SYN);
	assert_true(f.tcp.opts.has_mss && f.tcp.opts.has_wscale && f.tcp.opts.has_ts);
	uint32_t iss = f.tcp.seq;
	uint64_t last = f.at_ns, gap = 0;
	for (int i = 0; i < 3; i++) {
		assert_true(harness_advance_to_frame(h, 10000 * HARNESS_MS));
		assert_true(harness_expect_frame(h, &f));
		assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK | TCP_RST), TCP_SYN);
		assert_int_equal(f.tcp.seq, iss);
		uint64_t g = f.at_ns - last;
		if (i == 0)
			assert_int_equal(g, o.nic.rto_initial_ns);
		else
			assert_int_equal(g, 2 * gap);
		gap = g;
		last = f.at_ns;
	}
	assert_int_equal(harness_peek_flags(h, conn) & BT_EV_ERROR, 0);
	/* No fourth retransmission: the next timeout gives up. */
	harness_advance(h, 10000 * HARNESS_MS);
	assert_int_equal(harness_pending_frames(h), 0);
	uint32_t fl = harness_take_flags(h, conn);
	assert_true(fl & BT_EV_ERROR);
	assert_true(fl & BT_EV_CLOSED);
	assert_false(fl & BT_EV_CONNECTED);
	assert_int_equal(harness_conn_err(h, conn), BT_ETIMEDOUT);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.conns_timed_out, 1);
	assert_int_equal(s.flows_active, 0);
	assert_int_equal(bt_send(h->host, conn, "x", 1), BT_ETIMEDOUT);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	assert_int_equal(harness_host_stats(h).conns_in_use, 0);
	harness_destroy(h);
}

static void test_active_open_refused(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	int conn = bt_connect(h->host, HARNESS_PEER_IP, 9);
	assert_true(conn >= 0);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN);
	/* An RST whose ACK is wrong is not believed. */
	struct harness_seg x = {.sport = 9, .dport = f.tcp.sport};
	harness_inject(h, TCP_RST | TCP_ACK, 0, f.tcp.seq + 7, 0, NULL, 0, &x);
	harness_advance(h, 0);
	assert_int_equal(harness_take_flags(h, conn), 0);
	assert_int_equal(harness_stats(h).flows_active, 1);
	harness_inject(h, TCP_RST | TCP_ACK, 0, f.tcp.seq + 1, 0, NULL, 0, &x);
	harness_advance(h, 0);
	uint32_t fl = harness_take_flags(h, conn);
	assert_true(fl & BT_EV_ERROR);
	assert_true(fl & BT_EV_CLOSED);
	assert_int_equal(harness_conn_err(h, conn), BT_ECONNREFUSED);
	assert_int_equal(harness_pending_frames(h), 0); /* never answer an RST */
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.flows_active, 0);
	assert_int_equal(s.conns_opened, 0);
	assert_int_equal(bt_recv(h->host, conn, f.raw, 1), BT_ECONNREFUSED);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	assert_int_equal(harness_host_stats(h).conns_in_use, 0);
	harness_destroy(h);
}

/* ---------- resets ---------- */

static void test_rst_at_rcv_nxt_resets(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 5001, 0xfffffffeu, NULL, NULL);
	harness_peer_send(h, TCP_RST, NULL, 0);
	harness_advance(h, 0);
	uint32_t fl = harness_take_flags(h, conn);
	assert_true(fl & BT_EV_ERROR);
	assert_true(fl & BT_EV_CLOSED);
	assert_int_equal(harness_conn_err(h, conn), BT_ECONNRESET);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_tcp_state(h), -1);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.conns_reset, 1);
	assert_int_equal(s.flows_active, 0);
	assert_int_equal(bt_send(h->host, conn, "x", 1), BT_ECONNRESET);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	assert_int_equal(harness_host_stats(h).conns_in_use, 0);
	harness_destroy(h);
}

static void test_rst_in_window_wrong_seq_challenge_ack(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_passive_open(h, PORT, 0xffffff80u, NULL, NULL);
	struct harness_frame f;
	uint32_t rcv_nxt = h->peer.snd_nxt;
	/* In the window, not at rcv_nxt: a challenge ACK, no reset. */
	harness_inject(h, TCP_RST, rcv_nxt + 1000, 0, 0, NULL, 0, NULL);
	harness_advance(h, 0);
	expect_flags(h, TCP_ACK, &f);
	assert_int_equal(f.tcp.ack, rcv_nxt);
	assert_int_equal(f.tcp.seq, h->peer.nic_iss + 1);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	/* Outside the window: silently dropped. */
	harness_inject(h, TCP_RST, rcv_nxt + 0x40000000u, 0, 0, NULL, 0, NULL);
	harness_inject(h, TCP_RST, rcv_nxt - 1, 0, 0, NULL, 0, NULL);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	assert_int_equal(harness_take_flags(h, conn) & BT_EV_ERROR, 0);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.conns_reset, 0);
	/* The connection still carries data. */
	harness_app_send_expect(h, conn, 0, 10, &f);
	assert_int_equal(f.tcp.payload_len, 10);
	harness_destroy(h);
}

static void test_syn_on_established_challenge_ack(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_passive_open(h, PORT, 5555, NULL, NULL);
	struct harness_frame f;
	/* A new SYN on the same tuple (say the peer restarted). */
	syn_from(h, h->peer.port, PORT, 0x77777777u);
	harness_advance(h, 0);
	expect_flags(h, TCP_ACK, &f);
	assert_int_equal(f.tcp.ack, h->peer.snd_nxt);
	assert_int_equal(f.tcp.seq, h->peer.nic_iss + 1);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	assert_int_equal(harness_take_flags(h, conn) & BT_EV_ERROR, 0);
	/* Even a SYN exactly at rcv_nxt does not reset. */
	syn_from(h, h->peer.port, PORT, h->peer.snd_nxt);
	harness_advance(h, 0);
	expect_flags(h, TCP_ACK, &f);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	assert_int_equal(harness_stats(h).conns_reset, 0);
	harness_destroy(h);
}

/* ---------- close ---------- */

static void test_app_close_fin_wait_to_time_wait(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.time_wait_ns = 30 * HARNESS_MS;
	struct harness *h = harness_init(&o);
	int conn = harness_active_open(h, 6000, 0xfffffff0u, NULL, NULL);
	struct harness_frame f;
	harness_app_send(h, conn, 0, 1000);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	/* The data, then the FIN right after it (maybe on the same segment). */
	uint32_t got = 0;
	bool fin = false;
	while (!fin) {
		harness_expect_tcp(h, &f);
		got += f.tcp.payload_len;
		if (f.tcp.flags & TCP_FIN) {
			fin = true;
			assert_int_equal(f.tcp.seq + f.tcp.payload_len, h->peer.nic_iss + 1 + 1000);
		}
	}
	assert_int_equal(got, 1000);
	assert_int_equal(h->peer.rcv_nxt, h->peer.nic_iss + 1 + 1001);
	assert_int_equal(harness_tcp_state(h), TCP_FIN_WAIT_1);
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(harness_tcp_state(h), TCP_FIN_WAIT_2);
	assert_int_equal(harness_pending_frames(h), 0);
	/* The NIC released the rings: the host slot is free already. */
	assert_int_equal(harness_host_stats(h).conns_in_use, 0);
	harness_peer_send(h, TCP_FIN, NULL, 0);
	harness_advance(h, 0);
	expect_flags(h, TCP_ACK, &f);
	assert_int_equal(f.tcp.ack, h->peer.snd_nxt);
	assert_int_equal(harness_tcp_state(h), TCP_TIME_WAIT);
	assert_int_equal(harness_stats(h).flows_active, 1);
	/* A retransmitted FIN in TIME_WAIT is ACKed again. */
	harness_advance(h, 10 * HARNESS_MS);
	harness_inject(h, TCP_FIN | TCP_ACK, h->peer.snd_nxt - 1, h->peer.rcv_nxt, 65535, NULL, 0, NULL);
	harness_advance(h, 0);
	expect_flags(h, TCP_ACK, &f);
	assert_int_equal(f.tcp.ack, h->peer.snd_nxt);
	uint64_t t_fin = harness_now(h);
	harness_advance(h, o.nic.time_wait_ns - 1);
	assert_int_equal(harness_tcp_state(h), TCP_TIME_WAIT);
	harness_advance(h, 1);
	assert_int_equal(harness_now(h) - t_fin, o.nic.time_wait_ns);
	assert_int_equal(harness_tcp_state(h), -1);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.flows_active, 0);
	assert_int_equal(s.conns_closed, 1);
	assert_int_equal(s.conns_reset, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_destroy(h);
}

static void test_peer_close_eof_then_last_ack(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6001, 123456, NULL, NULL);
	struct harness_frame f;
	uint8_t data[300];
	harness_fill(data, sizeof(data), 0);
	harness_peer_send(h, TCP_PSH, data, 300);
	harness_peer_send(h, TCP_FIN, NULL, 0);
	harness_advance(h, 0);
	expect_flags(h, TCP_ACK, &f);
	assert_int_equal(f.tcp.ack, h->peer.snd_nxt); /* data and FIN */
	assert_int_equal(harness_tcp_state(h), TCP_CLOSE_WAIT);
	uint32_t fl = harness_take_flags(h, conn);
	assert_true(fl & BT_EV_READABLE);
	assert_true(fl & BT_EV_EOF);
	uint8_t buf[400];
	bool eof = false;
	assert_int_equal(harness_app_read(h, conn, buf, sizeof(buf), &eof), 300);
	assert_memory_equal(buf, data, 300);
	assert_true(eof);
	assert_int_equal(bt_recv(h->host, conn, buf, sizeof(buf)), 0);
	/* Half-closed: the application can still send. */
	harness_app_send_expect(h, conn, 0, 50, &f);
	assert_int_equal(f.tcp.payload_len, 50);
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	expect_flags(h, TCP_FIN | TCP_ACK, &f);
	assert_int_equal(f.tcp.seq, h->peer.nic_iss + 1 + 50);
	assert_int_equal(harness_tcp_state(h), TCP_LAST_ACK);
	assert_int_equal(harness_host_stats(h).conns_in_use, 1);
	/* The FIN is retransmitted until ACKed. */
	assert_true(harness_advance_to_frame(h, 1000 * HARNESS_MS));
	expect_flags(h, TCP_FIN | TCP_ACK, &f);
	assert_int_equal(f.tcp.seq, h->peer.nic_iss + 1 + 50);
	h->peer.rcv_nxt = f.tcp.seq + 1;
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(harness_tcp_state(h), -1);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.flows_active, 0);
	assert_int_equal(s.conns_closed, 1);
	assert_int_equal(harness_host_stats(h).conns_in_use, 0);
	harness_advance(h, 1000 * HARNESS_MS);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_destroy(h);
}

static void test_simultaneous_close(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6002, 0x80000000u, NULL, NULL);
	struct harness_frame f;
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	expect_flags(h, TCP_FIN | TCP_ACK, &f);
	assert_int_equal(harness_tcp_state(h), TCP_FIN_WAIT_1);
	/* The peer's FIN crosses ours: it does not acknowledge our FIN. */
	uint32_t our_fin = f.tcp.seq;
	h->peer.rcv_nxt = our_fin;
	harness_peer_send(h, TCP_FIN, NULL, 0);
	harness_advance(h, 0);
	expect_flags(h, TCP_ACK, &f);
	assert_int_equal(f.tcp.ack, h->peer.snd_nxt);
	assert_int_equal(harness_tcp_state(h), TCP_CLOSING);
	h->peer.rcv_nxt = our_fin + 1;
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(harness_tcp_state(h), TCP_TIME_WAIT);
	assert_int_equal(harness_host_stats(h).conns_in_use, 0);
	harness_advance(h, 10 * HARNESS_MS); /* time_wait_ns */
	assert_int_equal(harness_tcp_state(h), -1);
	assert_int_equal(harness_stats(h).flows_active, 0);
	assert_int_equal(harness_stats(h).conns_closed, 1);
	harness_destroy(h);
}

static void test_data_after_app_close_gets_rst(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_active_open(h, 6003, 42, NULL, NULL);
	struct harness_frame f;
	close_to_fin_wait_2(h, conn, &f);
	/* Nobody will read this. */
	harness_peer_send(h, TCP_PSH, "late data", 9);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_true(f.tcp.flags & TCP_RST);
	assert_int_equal(f.tcp.seq, h->peer.rcv_nxt);
	assert_int_equal(harness_tcp_state(h), -1);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.conns_reset, 1);
	assert_int_equal(s.flows_active, 0);
	assert_int_equal(harness_host_stats(h).conns_in_use, 0);
	harness_destroy(h);
}

/* A reset while payload READs are still in flight: the RST must carry the
 * highest sequence actually on the wire, not snd_nxt (which already counts
 * the payload being read). A peer enforcing RFC 5961, as Linux does,
 * accepts an RST only at exactly its rcv_nxt. */
static void test_reset_with_reads_in_flight_uses_the_wire_sequence(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.chan_latency_ns = 50 * 1000; /* the READ completes well after the abort */
	struct harness *h = harness_init(&o);
	int conn = harness_passive_open(h, PORT, 1, NULL, NULL);
	struct harness_frame f;
	/* The doorbell lands at +50 us and the NIC posts the READ of the
	 * payload, which completes at +100 us; at +70 us the application
	 * vanishes and the NIC resets its connection. */
	harness_app_send(h, conn, 0, 1000);
	harness_advance(h, 70 * 1000);
	assert_int_equal(harness_pending_frames(h), 0);
	nic_detach_app(h->nic, h->app);
	harness_advance(h, HARNESS_MS);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.flags & (TCP_RST | TCP_FIN | TCP_SYN), TCP_RST);
	assert_int_equal(f.tcp.payload_len, 0);
	assert_int_equal(f.tcp.seq, h->peer.nic_iss + 1); /* nothing of the 1000 bytes left */
	/* and the READ that completes later sends nothing for a dead flow */
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_stats(h).flows_active, 0);
	harness_destroy(h);
}

static void test_app_close_with_unread_data_resets(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_passive_open(h, PORT, 1, NULL, NULL);
	struct harness_frame f;
	harness_peer_send(h, TCP_PSH, "unread", 6);
	harness_advance(h, HARNESS_MS);
	harness_drop_frames(h);
	assert_int_equal(bt_rx_ready(h->host, conn), 6);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	harness_expect_tcp(h, &f);
	assert_int_equal(f.tcp.flags & (TCP_RST | TCP_FIN | TCP_SYN), TCP_RST);
	assert_int_equal(f.tcp.seq, h->peer.nic_iss + 1);
	assert_int_equal(harness_tcp_state(h), -1);
	assert_int_equal(harness_stats(h).flows_active, 0);
	harness_destroy(h);
}

static void test_handshake_ack_carries_data_and_fin(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	int l = bt_listen(h->host, PORT, 4);
	assert_true(l >= 0);
	harness_advance(h, 0);
	syn_from(h, 40000, PORT, 0xfffffffeu);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN | TCP_ACK);
	h->peer.nic_port = PORT;
	h->peer.nic_iss = f.tcp.seq;
	h->peer.rcv_nxt = f.tcp.seq + 1;
	h->peer.snd_nxt = 0xffffffffu;
	/* The third packet of the handshake brings data and the FIN. */
	harness_peer_send(h, TCP_PSH | TCP_FIN, "hello", 5);
	harness_advance(h, HARNESS_MS);
	expect_flags(h, TCP_ACK, &f);
	assert_int_equal(f.tcp.ack, h->peer.snd_nxt);
	assert_int_equal(h->peer.snd_nxt, 5); /* across the wrap */
	assert_int_equal(harness_tcp_state(h), TCP_CLOSE_WAIT);
	/* Nothing reaches the application before it accepts... */
	assert_true(harness_take_flags(h, l) & BT_EV_ACCEPTABLE);
	int conn = bt_accept(h->host, l);
	assert_true(conn >= 0);
	harness_advance(h, 0);
	/* ...then everything that happened while it waited. */
	uint32_t fl = harness_take_flags(h, conn);
	assert_true(fl & BT_EV_READABLE);
	assert_true(fl & BT_EV_EOF);
	char buf[16];
	bool eof;
	assert_int_equal(harness_app_read(h, conn, buf, sizeof(buf), &eof), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_true(eof);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	expect_flags(h, TCP_FIN | TCP_ACK, &f);
	assert_int_equal(harness_tcp_state(h), TCP_LAST_ACK);
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(harness_stats(h).flows_active, 0);
	harness_destroy(h);
}

static void test_syn_rcvd_reset_returns_accept_slot(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	int l = bt_listen(h->host, PORT, 1);
	assert_true(l >= 0);
	harness_advance(h, 0);
	syn_from(h, 40000, PORT, 100);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN | TCP_ACK);
	/* The one slot is taken by the half-open connection. */
	syn_from(h, 40001, PORT, 200);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_stats(h).syn_backlog_drops, 1);
	/* The peer resets it: the slot goes back, the host never hears. */
	struct harness_seg x = {.sport = 40000, .dport = PORT};
	harness_inject(h, TCP_RST, 101, 0, 0, NULL, 0, &x);
	harness_advance(h, 0);
	assert_int_equal(harness_stats(h).flows_active, 0);
	assert_int_equal(harness_take_flags(h, l), 0);
	syn_from(h, 40001, PORT, 200);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN | TCP_ACK);
	assert_int_equal(f.tcp.dport, 40001);
	struct harness_seg y = {.sport = 40001, .dport = PORT};
	harness_inject(h, TCP_ACK, 201, f.tcp.seq + 1, 65535, NULL, 0, &y);
	harness_advance(h, 0);
	assert_true(harness_take_flags(h, l) & BT_EV_ACCEPTABLE);
	assert_true(bt_accept(h->host, l) >= 0);
	assert_int_equal(bt_accept(h->host, l), BT_EAGAIN);
	harness_destroy(h);
}

static void test_synack_retransmitted_then_given_up(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.syn_retries = 2;
	struct harness *h = harness_init(&o);
	struct harness_frame f;
	int l = bt_listen(h->host, PORT, 1);
	assert_true(l >= 0);
	harness_advance(h, 0);
	syn_from(h, 40000, PORT, 7);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	uint32_t iss = f.tcp.seq;
	/* The same SYN again (our SYN-ACK was lost): the same SYN-ACK. */
	syn_from(h, 40000, PORT, 7);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN | TCP_ACK);
	assert_int_equal(f.tcp.seq, iss);
	assert_int_equal(f.tcp.ack, 8);
	/* Unanswered: retransmitted on the timer, then given up. */
	int resent = 0;
	while (harness_advance_to_frame(h, 10000 * HARNESS_MS)) {
		assert_true(harness_expect_frame(h, &f));
		assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN | TCP_ACK);
		assert_int_equal(f.tcp.seq, iss);
		resent++;
	}
	assert_int_equal(resent, 2);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.flows_active, 0);
	assert_int_equal(s.conns_timed_out, 1);
	assert_int_equal(harness_take_flags(h, l), 0);
	/* The slot is back: a new client gets in. */
	syn_from(h, 40002, PORT, 70);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN | TCP_ACK);
	harness_destroy(h);
}

static void test_close_waits_for_data_blocked_by_window(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	h->peer.window = 1000;
	int conn = harness_active_open(h, 6004, 0x12345678u, NULL, NULL);
	struct harness_frame f;
	/* The SYN-ACK's window is 65535; the first ACK shrinks it to 1000. */
	harness_peer_ack(h);
	harness_advance(h, 0);
	harness_app_send(h, conn, 0, 3000);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	uint8_t buf[3000];
	uint32_t got = 0;
	bool fin = false;
	for (int round = 0; round < 10 && !fin; round++) {
		harness_advance(h, 0);
		while (harness_expect_frame(h, &f)) {
			assert_true(f.is_tcp);
			assert_true(f.tcp.payload_len <= 1000);
			uint32_t adv = harness_peer_absorb(h, &f);
			memcpy(buf + got, f.tcp.payload, adv);
			got += adv;
			if (f.tcp.flags & TCP_FIN) {
				assert_int_equal(got, 3000); /* the FIN never overtakes */
				fin = true;
			}
		}
		harness_peer_ack(h);
	}
	assert_true(fin);
	uint8_t want[3000];
	harness_fill(want, 3000, 0);
	assert_memory_equal(buf, want, 3000);
	harness_advance(h, 0);
	assert_int_equal(harness_tcp_state(h), TCP_FIN_WAIT_2);
	harness_destroy(h);
}

static void test_ack_of_unsent_data_dropped(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_passive_open(h, PORT, 3, NULL, NULL);
	struct harness_frame f;
	/* It acknowledges 1000 bytes we never sent, and carries data. */
	h->peer.rcv_nxt += 1000;
	harness_peer_send(h, TCP_PSH, "bogus", 5);
	harness_advance(h, 0);
	expect_flags(h, TCP_ACK, &f);
	assert_int_equal(f.tcp.ack, h->peer.iss + 1); /* the data was not taken */
	assert_int_equal(bt_rx_ready(h->host, conn), 0);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	harness_destroy(h);
}

static void test_fin_wait_2_times_out(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.fin_wait2_ns = 50 * HARNESS_MS;
	struct harness *h = harness_init(&o);
	int conn = harness_active_open(h, 6005, 9, NULL, NULL);
	struct harness_frame f;
	close_to_fin_wait_2(h, conn, &f);
	/* The peer never sends its FIN. */
	harness_advance(h, 50 * HARNESS_MS - 1);
	assert_int_equal(harness_tcp_state(h), TCP_FIN_WAIT_2);
	harness_advance(h, 1);
	assert_int_equal(harness_tcp_state(h), -1);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.flows_active, 0);
	assert_int_equal(s.conns_closed, 1);
	assert_int_equal(harness_pending_frames(h), 0);
	harness_destroy(h);
}

static void test_last_ack_gives_up_with_rst(void **state)
{
	(void)state;
	struct harness_opts o;
	harness_default_opts(&o);
	o.nic.max_retries = 3;
	struct harness *h = harness_init(&o);
	int conn = harness_active_open(h, 6006, 10, NULL, NULL);
	struct harness_frame f;
	harness_peer_send(h, TCP_FIN, NULL, 0);
	harness_advance(h, 0);
	expect_flags(h, TCP_ACK, &f);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	expect_flags(h, TCP_FIN | TCP_ACK, &f);
	uint32_t fin_seq = f.tcp.seq;
	assert_int_equal(harness_tcp_state(h), TCP_LAST_ACK);
	int fins = 0;
	bool rst = false;
	while (!rst && harness_advance_to_frame(h, 100000 * HARNESS_MS)) {
		harness_expect_tcp(h, &f);
		if (f.tcp.flags & TCP_RST) {
			rst = true;
			assert_int_equal(f.tcp.seq, fin_seq + 1);
		} else {
			assert_int_equal(f.tcp.flags & (TCP_FIN | TCP_ACK), TCP_FIN | TCP_ACK);
			assert_int_equal(f.tcp.seq, fin_seq);
			fins++;
		}
	}
	assert_true(rst);
	assert_int_equal(fins, 3); /* max_retries retransmissions */
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.conns_timed_out, 1);
	assert_int_equal(s.flows_active, 0);
	assert_int_equal(harness_host_stats(h).conns_in_use, 0);
	harness_destroy(h);
}

static void test_application_vanishes(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	int conn = harness_passive_open(h, PORT, 0xfffffff0u, NULL, NULL);
	struct harness_frame f;
	(void)conn;
	/* The application dies without closing: its memory is gone. */
	bt_host_destroy(h->host);
	h->host = NULL;
	/* The NIC learns it on its next access to that memory and resets
	 * the application's connections; the others are untouched. */
	harness_peer_send(h, TCP_PSH, "anyone?", 7);
	harness_advance(h, HARNESS_MS);
	bool rst = false;
	while (harness_expect_frame(h, &f))
		if (f.is_tcp && (f.tcp.flags & TCP_RST))
			rst = true;
	assert_true(rst);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.flows_active, 0);
	assert_true(s.conns_reset >= 1);
	/* The port is free again for no one: a new SYN gets RST/ACK. */
	syn_from(h, 40009, PORT, 5);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_int_equal(f.tcp.flags & (TCP_RST | TCP_ACK | TCP_SYN), TCP_RST | TCP_ACK);
	harness_destroy(h);
}

/* ---------- ARP ---------- */

/* A harness whose NIC has no static ARP entry: it must resolve the peer.
 * *o gets the options it was made with. */
static struct harness *open_resolving_arp(struct harness_opts *o)
{
	harness_default_opts(o);
	o->static_arp = false;
	return harness_init(o);
}

/* The peer answers the NIC's ARP request. */
static void peer_arp_reply(struct harness *h)
{
	uint8_t reply[ETH_MIN_FRAME_BYTES];
	int n = arp_build_frame(reply, sizeof(reply), ARP_OP_REPLY, HARNESS_PEER_MAC, HARNESS_PEER_IP, HARNESS_NIC_MAC,
				HARNESS_NIC_IP);
	assert_true(n > 0);
	harness_inject_raw(h, reply, (uint16_t)n);
}

static void test_arp_resolves_before_syn(void **state)
{
	(void)state;
	struct harness_opts o;
	struct harness *h = open_resolving_arp(&o);
	struct harness_frame f;
	int conn = bt_connect(h->host, HARNESS_PEER_IP, 7000);
	assert_true(conn >= 0);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_true(f.is_arp);
	assert_int_equal(f.arp.op, ARP_OP_REQUEST);
	assert_int_equal(f.arp.target_ip, HARNESS_PEER_IP);
	assert_int_equal(f.arp.sender_ip, HARNESS_NIC_IP);
	assert_memory_equal(f.arp.sender_mac, HARNESS_NIC_MAC, 6);
	assert_true(eth_is_broadcast(f.eth.dst));
	assert_int_equal(harness_pending_frames(h), 0); /* no SYN yet */
	harness_advance(h, 50 * HARNESS_MS);
	assert_int_equal(harness_pending_frames(h), 0);
	peer_arp_reply(h);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_true(f.is_tcp);
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN);
	assert_memory_equal(f.eth.dst, HARNESS_PEER_MAC, 6);
	assert_int_equal(f.tcp.dport, 7000);
	/* And the handshake completes. */
	h->peer.port = 7000;
	h->peer.nic_port = f.tcp.sport;
	h->peer.rcv_nxt = f.tcp.seq + 1;
	h->peer.nic_iss = f.tcp.seq;
	harness_inject(h, TCP_SYN | TCP_ACK, 999, f.tcp.seq + 1, 65535, NULL, 0, NULL);
	h->peer.snd_nxt = 1000;
	harness_advance(h, 0);
	expect_flags(h, TCP_ACK, &f);
	assert_true(harness_take_flags(h, conn) & BT_EV_CONNECTED);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	assert_int_equal(harness_stats(h).arp_requests_sent, 1);
	harness_destroy(h);
}

static void test_arp_request_answered(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct harness_frame f;
	uint8_t req[ETH_MIN_FRAME_BYTES];
	const uint8_t other_mac[6] = {0x02, 0, 0, 0, 0, 0x33};
	int n = arp_build_frame(req, sizeof(req), ARP_OP_REQUEST, other_mac, 0x0a000033u, NULL, HARNESS_NIC_IP);
	assert_true(n > 0);
	harness_inject_raw(h, req, (uint16_t)n);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_true(f.is_arp);
	assert_int_equal(f.arp.op, ARP_OP_REPLY);
	assert_int_equal(f.arp.sender_ip, HARNESS_NIC_IP);
	assert_memory_equal(f.arp.sender_mac, HARNESS_NIC_MAC, 6);
	assert_int_equal(f.arp.target_ip, 0x0a000033u);
	assert_memory_equal(f.arp.target_mac, other_mac, 6);
	assert_memory_equal(f.eth.dst, other_mac, 6);
	assert_int_equal(harness_stats(h).arp_replies_sent, 1);
	/* A request for someone else's address is not ours to answer. */
	n = arp_build_frame(req, sizeof(req), ARP_OP_REQUEST, other_mac, 0x0a000033u, NULL, 0x0a000044u);
	harness_inject_raw(h, req, (uint16_t)n);
	harness_advance(h, 0);
	assert_int_equal(harness_pending_frames(h), 0);
	assert_int_equal(harness_stats(h).arp_replies_sent, 1);
	/* The requester was learned: connecting to it needs no request. */
	int conn = bt_connect(h->host, 0x0a000033u, 22);
	assert_true(conn >= 0);
	harness_advance(h, 0);
	assert_true(harness_expect_frame(h, &f));
	assert_true(f.is_tcp);
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_ACK), TCP_SYN);
	assert_memory_equal(f.eth.dst, other_mac, 6);
	assert_int_equal(harness_stats(h).arp_requests_sent, 0);
	harness_destroy(h);
}

/* When the request number `i` (from 0) of an unanswered resolution goes
 * out, counted from the first: every arp_timeout, without backoff (one
 * coalesced request holds up every connection to that next hop). */
static uint64_t arp_request_at(const struct nic_config *c, int i)
{
	return (uint64_t)i * c->arp_timeout_ns;
}

static void test_arp_unresolved_host_unreachable(void **state)
{
	(void)state;
	struct harness_opts o;
	struct harness *h = open_resolving_arp(&o);
	struct harness_frame f;
	int conn = bt_connect(h->host, HARNESS_PEER_IP, 7001);
	assert_true(conn >= 0);
	harness_advance(h, 0);
	uint64_t t0 = harness_now(h);
	int requests = 0;
	uint64_t bound = o.nic.rto_max_ns + o.nic.arp_timeout_ns;
	while (harness_advance_to_frame(h, bound)) {
		assert_true(harness_expect_frame(h, &f));
		assert_true(f.is_arp);
		assert_int_equal(f.arp.op, ARP_OP_REQUEST);
		assert_int_equal(f.arp.target_ip, HARNESS_PEER_IP);
		assert_int_equal(f.at_ns - t0, arp_request_at(&o.nic, requests));
		requests++;
	}
	/* as many tries as a SYN gets: ARP does not end it sooner */
	assert_int_equal(requests, (int)o.nic.syn_retries + 1);
	uint32_t fl = harness_take_flags(h, conn);
	assert_true(fl & BT_EV_ERROR);
	assert_true(fl & BT_EV_CLOSED);
	assert_int_equal(harness_conn_err(h, conn), BT_EHOSTUNREACH);
	struct nic_stats s = harness_stats(h);
	assert_int_equal(s.arp_unresolved, 1);
	assert_int_equal(s.arp_requests_sent, o.nic.syn_retries + 1);
	assert_int_equal(s.flows_active, 0);
	assert_int_equal(bt_close(h->host, conn), BT_OK);
	harness_advance(h, 0);
	assert_int_equal(harness_host_stats(h).conns_in_use, 0);
	/* A second attempt asks again at once, and gets every try. */
	conn = bt_connect(h->host, HARNESS_PEER_IP, 7001);
	assert_true(conn >= 0);
	harness_advance(h, 0);
	t0 = harness_now(h);
	requests = 0;
	while (harness_advance_to_frame(h, bound)) {
		assert_true(harness_expect_frame(h, &f));
		assert_true(f.is_arp);
		assert_int_equal(f.at_ns - t0, arp_request_at(&o.nic, requests));
		requests++;
	}
	assert_int_equal(requests, (int)o.nic.syn_retries + 1);
	assert_int_equal(harness_conn_err(h, conn), BT_EHOSTUNREACH);
	assert_int_equal(harness_stats(h).arp_unresolved, 2);
	harness_destroy(h);
}

/* Eight connections wait for one next hop: each retry round sends one
 * request for all of them, not eight at the same instant; and once the
 * peer answers, all eight go on with their SYNs. */
static void test_arp_requests_coalesced_per_destination(void **state)
{
	(void)state;
	struct harness_opts o;
	struct harness *h = open_resolving_arp(&o);
	struct harness_frame f;
	int conns[8];
	for (int i = 0; i < 8; i++) {
		conns[i] = bt_connect(h->host, HARNESS_PEER_IP, (uint16_t)(7001 + i));
		assert_true(conns[i] >= 0);
	}
	harness_advance(h, 0);
	/* three rounds unanswered: 1 + 1 + 1 requests */
	harness_advance(h, arp_request_at(&o.nic, 2));
	int arps = 0, other = 0;
	while (harness_expect_frame(h, &f)) {
		if (f.is_arp && f.arp.op == ARP_OP_REQUEST)
			arps++;
		else
			other++;
	}
	assert_int_equal(arps, 3);
	assert_int_equal(other, 0);
	assert_int_equal(harness_stats(h).arp_requests_sent, 3);
	/* the peer answers: every waiting connection sends its SYN */
	peer_arp_reply(h);
	harness_advance(h, 0);
	int syns = 0;
	while (harness_expect_frame(h, &f))
		syns += f.is_tcp && (f.tcp.flags & TCP_SYN);
	assert_int_equal(syns, 8);
	harness_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passive_open_synack_options),
		cmocka_unit_test(test_passive_open_syn_without_options),
		cmocka_unit_test(test_syn_to_closed_port_gets_rst),
		cmocka_unit_test(test_listen_backlog_full_then_freed),
		cmocka_unit_test(test_active_open_syn_retries_then_timeout),
		cmocka_unit_test(test_active_open_refused),
		cmocka_unit_test(test_rst_at_rcv_nxt_resets),
		cmocka_unit_test(test_rst_in_window_wrong_seq_challenge_ack),
		cmocka_unit_test(test_syn_on_established_challenge_ack),
		cmocka_unit_test(test_app_close_fin_wait_to_time_wait),
		cmocka_unit_test(test_peer_close_eof_then_last_ack),
		cmocka_unit_test(test_simultaneous_close),
		cmocka_unit_test(test_data_after_app_close_gets_rst),
		cmocka_unit_test(test_app_close_with_unread_data_resets),
		cmocka_unit_test(test_reset_with_reads_in_flight_uses_the_wire_sequence),
		cmocka_unit_test(test_handshake_ack_carries_data_and_fin),
		cmocka_unit_test(test_syn_rcvd_reset_returns_accept_slot),
		cmocka_unit_test(test_synack_retransmitted_then_given_up),
		cmocka_unit_test(test_close_waits_for_data_blocked_by_window),
		cmocka_unit_test(test_ack_of_unsent_data_dropped),
		cmocka_unit_test(test_fin_wait_2_times_out),
		cmocka_unit_test(test_last_ack_gives_up_with_rst),
		cmocka_unit_test(test_application_vanishes),
		cmocka_unit_test(test_arp_resolves_before_syn),
		cmocka_unit_test(test_arp_request_answered),
		cmocka_unit_test(test_arp_unresolved_host_unreachable),
		cmocka_unit_test(test_arp_requests_coalesced_per_destination),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
