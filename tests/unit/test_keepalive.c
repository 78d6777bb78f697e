/*
 * test_keepalive: keepalive probes (core/nic/sp_keepalive.c) in virtual
 * time against a scripted peer. A silent peer costs the connection at
 * idle + cnt * intvl after its last segment, with an RST and ETIMEDOUT;
 * a peer that answers keeps it up for good (the negative control); off
 * unless SO_KEEPALIVE, with Linux's defaults (7200 s, 75 s, 9) when only
 * SO_KEEPALIVE is given.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/nic/nic_internal.h"
#include "tests/support/harness.h"

#define S (1000ull * HARNESS_MS)

/* A harness with an open connection (*conn_out), the peer's last segment
 * (a pure ACK) at *t0_out. */
static struct harness *open_idle(int *conn_out, uint64_t *t0_out)
{
	struct harness *h = harness_init_default();
	*conn_out = harness_active_open(h, 7000, 0x1000, NULL, NULL);
	harness_drop_frames(h);
	harness_peer_ack(h);
	harness_advance(h, 0);
	*t0_out = harness_now(h);
	assert_int_equal(harness_pending_frames(h), 0);
	return h;
}

static void set_keepalive(struct harness *h, int conn, uint32_t idle_s, uint32_t intvl_s, uint32_t cnt)
{
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPIDLE, idle_s), BT_OK);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPINTVL, intvl_s), BT_OK);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPCNT, cnt), BT_OK);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPALIVE, 1), BT_OK);
	harness_advance(h, 0);
}

/* The next frame, within max_ns; asserts it is a keepalive probe: a bare
 * ACK one below what the peer has acknowledged, no data. */
static uint64_t expect_probe(struct harness *h, uint64_t max_ns)
{
	assert_true(harness_advance_to_frame(h, max_ns));
	struct harness_frame f;
	assert_int_equal(harness_expect_frame(h, &f), 1);
	assert_true(f.is_tcp);
	assert_int_equal(f.tcp.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK), TCP_ACK);
	assert_int_equal(f.tcp.payload_len, 0);
	assert_int_equal(f.tcp.seq, h->peer.rcv_nxt - 1);
	assert_int_equal(f.tcp.ack, h->peer.snd_nxt);
	return f.at_ns;
}

/* The last probe's interval ran out: the next frame is an RST at at_ns
 * and the application sees the connection end with ETIMEDOUT. */
static void expect_timeout_rst(struct harness *h, int conn, uint64_t at_ns)
{
	assert_true(harness_advance_to_frame(h, 20 * S));
	struct harness_frame f;
	assert_int_equal(harness_expect_frame(h, &f), 1);
	assert_true(f.tcp.flags & TCP_RST);
	assert_int_equal(f.at_ns, at_ns);
	harness_advance(h, 0);
	assert_true(harness_take_flags(h, conn) & BT_EV_ERROR);
	assert_int_equal(harness_conn_err(h, conn), BT_ETIMEDOUT);
}

static void test_silent_peer_times_out_after_idle_plus_cnt_intvl(void **state)
{
	(void)state;
	uint64_t t0;
	int conn;
	struct harness *h = open_idle(&conn, &t0);
	set_keepalive(h, conn, 10, 2, 3);
	for (uint64_t k = 0; k < 3; k++)
		assert_int_equal(expect_probe(h, 20 * S), t0 + 10 * S + k * 2 * S);
	assert_int_equal(harness_stats(h).keepalive_probes, 3);
	assert_int_equal(harness_peek_flags(h, conn) & BT_EV_ERROR, 0);
	/* The third probe's interval ends the connection, with an RST. */
	expect_timeout_rst(h, conn, t0 + 16 * S);
	assert_int_equal(harness_stats(h).conns_timed_out, 1);
	assert_int_equal(harness_tcp_state(h), -1);
	harness_destroy(h);
}

/* The negative control: the same settings, every probe answered with an
 * ACK; an hour later the connection is up and probes went on every idle
 * period (the count starts over at each answer). */
static void test_answered_probes_keep_the_connection(void **state)
{
	(void)state;
	uint64_t t0;
	int conn;
	struct harness *h = open_idle(&conn, &t0);
	set_keepalive(h, conn, 10, 2, 3);
	uint64_t last = t0;
	uint32_t probes = 0;
	while (harness_now(h) < t0 + 3600 * S) {
		uint64_t at = expect_probe(h, 20 * S);
		assert_int_equal(at, last + 10 * S); /* a full idle time after the answer */
		probes++;
		harness_peer_ack(h);
		harness_advance(h, 0);
		last = harness_now(h);
	}
	assert_int_equal(probes, 360);
	assert_int_equal(harness_peek_flags(h, conn) & BT_EV_ERROR, 0);
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	assert_int_equal(harness_stats(h).conns_timed_out, 0);
	harness_destroy(h);
}

/* An answer to the second probe starts the count over: after it, three
 * more probes go unanswered before the end. */
static void test_answer_resets_the_count(void **state)
{
	(void)state;
	uint64_t t0;
	int conn;
	struct harness *h = open_idle(&conn, &t0);
	set_keepalive(h, conn, 10, 2, 3);
	expect_probe(h, 20 * S);
	expect_probe(h, 20 * S);
	harness_peer_ack(h);
	harness_advance(h, 0);
	uint64_t t1 = harness_now(h);
	for (uint64_t k = 0; k < 3; k++)
		assert_int_equal(expect_probe(h, 20 * S), t1 + 10 * S + k * 2 * S);
	expect_timeout_rst(h, conn, t1 + 16 * S);
	assert_int_equal(harness_stats(h).keepalive_probes, 5);
	harness_destroy(h);
}

/* Without SO_KEEPALIVE nothing is sent, however long the silence; with it
 * alone, Linux's defaults: 7200 s, then 9 probes 75 s apart. */
static void test_off_by_default_then_linux_defaults(void **state)
{
	(void)state;
	uint64_t t0;
	int conn;
	struct harness *h = open_idle(&conn, &t0);
	uint32_t v;
	assert_int_equal(bt_getopt(h->host, conn, BT_OPT_KEEPALIVE, &v), BT_OK);
	assert_int_equal(v, 0);
	assert_int_equal(bt_getopt(h->host, conn, BT_OPT_KEEPIDLE, &v), BT_OK);
	assert_int_equal(v, 7200);
	assert_int_equal(bt_getopt(h->host, conn, BT_OPT_KEEPINTVL, &v), BT_OK);
	assert_int_equal(v, 75);
	assert_int_equal(bt_getopt(h->host, conn, BT_OPT_KEEPCNT, &v), BT_OK);
	assert_int_equal(v, 9);
	assert_false(harness_advance_to_frame(h, 3 * 7200 * S));
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);

	/* On now, with the defaults, from the peer's last segment. */
	harness_peer_ack(h);
	harness_advance(h, 0);
	uint64_t t1 = harness_now(h);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPALIVE, 1), BT_OK);
	for (uint64_t k = 0; k < 9; k++)
		assert_int_equal(expect_probe(h, 8000 * S), t1 + 7200 * S + k * 75 * S);
	assert_true(harness_advance_to_frame(h, 100 * S));
	harness_drop_frames(h);
	harness_advance(h, 0);
	assert_int_equal(harness_conn_err(h, conn), BT_ETIMEDOUT);
	assert_int_equal(harness_now(h), t1 + (7200 + 9 * 75) * S);
	harness_destroy(h);
}

/* Data the peer sends is an answer too; data we have in flight defers
 * probing to the retransmission timer. Turning SO_KEEPALIVE off stops it. */
static void test_traffic_defers_probes_and_off_stops_them(void **state)
{
	(void)state;
	uint64_t t0;
	int conn;
	struct harness *h = open_idle(&conn, &t0);
	set_keepalive(h, conn, 10, 2, 3);
	harness_advance(h, 9 * S);
	harness_peer_send(h, TCP_ACK | TCP_PSH, "hello", 5);
	harness_advance(h, 0);
	uint64_t t1 = harness_now(h);
	char buf[8];
	assert_int_equal(harness_app_read(h, conn, buf, sizeof(buf), NULL), 5);
	harness_drop_frames(h); /* the ACK of the data, whenever it went */
	/* The ACK was delayed; drain it, then the first probe is due at t1 + 10 s. */
	while (harness_advance_to_frame(h, 1 * S))
		harness_drop_frames(h);
	assert_int_equal(expect_probe(h, 20 * S), t1 + 10 * S);
	harness_peer_ack(h);
	harness_advance(h, 0);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPALIVE, 0), BT_OK);
	assert_false(harness_advance_to_frame(h, 3600 * S));
	assert_int_equal(harness_tcp_state(h), TCP_ESTABLISHED);
	harness_destroy(h);
}

/* A listener's keepalive options are inherited by what it accepts
 * (SO_KEEPALIVE set before listen(), as servers do). */
static void test_accepted_connection_inherits_the_listener(void **state)
{
	(void)state;
	struct harness *h = harness_init_default();
	struct bt_opts lo = {0};
	bt_opts_set(&lo, BT_OPT_KEEPALIVE, 1);
	bt_opts_set(&lo, BT_OPT_KEEPIDLE, 5);
	bt_opts_set(&lo, BT_OPT_KEEPINTVL, 1);
	bt_opts_set(&lo, BT_OPT_KEEPCNT, 2);
	h->listener = bt_listen_opts(h->host, 80, 8, &lo);
	assert_true(h->listener >= 0);
	harness_advance(h, HARNESS_MS);
	int conn = harness_passive_open(h, 80, 0x2000, NULL, NULL);
	harness_drop_frames(h);
	harness_peer_ack(h);
	harness_advance(h, 0);
	uint64_t t0 = harness_now(h);
	assert_int_equal(expect_probe(h, 10 * S), t0 + 5 * S);
	assert_int_equal(expect_probe(h, 10 * S), t0 + 6 * S);
	assert_true(harness_advance_to_frame(h, 10 * S));
	harness_drop_frames(h);
	harness_advance(h, 0);
	assert_int_equal(harness_now(h), t0 + 7 * S);
	assert_int_equal(harness_conn_err(h, conn), BT_ETIMEDOUT);
	harness_destroy(h);
}

static void test_bad_values_are_einval(void **state)
{
	(void)state;
	uint64_t t0;
	int conn;
	struct harness *h = open_idle(&conn, &t0);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPIDLE, 0), BT_EINVAL);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPIDLE, 32768), BT_EINVAL);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPINTVL, 0), BT_EINVAL);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPCNT, 128), BT_EINVAL);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPALIVE, 2), BT_EINVAL);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPIDLE, 32767), BT_OK);
	assert_int_equal(bt_setopt(h->host, conn, BT_OPT_KEEPCNT, 127), BT_OK);
	harness_advance(h, 0);
	assert_int_equal(harness_stats(h).cmds_invalid, 0);
	harness_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_silent_peer_times_out_after_idle_plus_cnt_intvl),
		cmocka_unit_test(test_answered_probes_keep_the_connection),
		cmocka_unit_test(test_answer_resets_the_count),
		cmocka_unit_test(test_off_by_default_then_linux_defaults),
		cmocka_unit_test(test_traffic_defers_probes_and_off_stops_them),
		cmocka_unit_test(test_accepted_connection_inherits_the_listener),
		cmocka_unit_test(test_bad_values_are_einval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
