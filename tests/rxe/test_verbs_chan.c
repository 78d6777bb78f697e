/*
 * test_verbs_chan.c: the verbs backend against the channel contract
 * (transports/channel.h), over a real RDMA device: Soft-RoCE (rdma_rxe) in
 * the CI VM, or any RoCE/IB device (mlx5 on the first hardware run). The
 * conformance suite every backend runs (tests/support/chan_suite.c, the
 * "chan_" tests) on two really connected ends: a listener on the NIC
 * address, a connection from the host address, both ends in this process
 * (the accept runs on a second thread), its links side by side on one
 * listener where a test wants several (the device's protection domains:
 * chan_rkey_from_other_link_refused); then what only verbs has: spec
 * parsing, setup errors, credit batching, threads, chan_wait, a peer that
 * vanishes.
 *
 * Where verbs differs from shm on purpose, it says so in chan_info
 * (addr_mode, credit_mode, keys_reused) and the suite checks that.
 *
 * Environment:
 *   BLUETAS_RXE_NIC_ADDR   listener address (default: the topology's
 *                          RXE_NIC_IP, else 10.10.0.2)
 *   BLUETAS_RXE_HOST_ADDR  address to connect from (RXE_HOST_IP, else
 *                          10.10.0.1; "" lets the route choose)
 *   BLUETAS_RXE_NIC_NS, BLUETAS_RXE_HOST_NS  network namespaces of the two
 *                          sides (default RXE_NIC_NS / RXE_HOST_NS: set in
 *                          the topology's netns mode; tests/rxe/verbs_pair.h)
 *   BLUETAS_RXE_NIC_DEV, BLUETAS_RXE_HOST_DEV  device names to insist on
 *   BLUETAS_RXE_REQUIRED=1 no RDMA device is a FAILURE (inside the VM),
 *                          not a skip
 *   BLUETAS_TEST_FILTER    a glob: only the tests it matches
 *
 * Without an RDMA device (ibv_get_device_list empty) the device tests are
 * skipped ("[  SKIPPED ]") and only the offline ones (spec parsing, error
 * paths) run.
 */
#define _GNU_SOURCE /* setns, in verbs_pair.h */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <infiniband/verbs.h>

#include "transports/channel.h"
#include "transports/clock.h"
#include "transports/verbs/verbs_chan.h"
#include "verbs_pair.h"
#include "tests/support/chan_suite.h"

#define RLEN CT_RLEN
#define GUARD CT_GUARD
#define WAIT_MS PAIR_WAIT_MS

static int g_have_device;

static uint64_t now_ns(void) { return pair_now_ns(); }

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

#define NEED_DEVICE()                                                                                      \
	do {                                                                                               \
		if (!g_have_device)                                                                        \
			skip();                                                                            \
	} while (0)

/* ---- connection setup (tests/rxe/verbs_pair.h) ---- */

static struct verbs_listener *listen_nic(const struct verbs_params *p)
{
	char err[512] = "";
	struct verbs_listener *l = pair_listen(p, err, sizeof(err));
	if (!l)
		fail_msg("%s", err);
	return l;
}

/* Connects a host end to the listener; *nic gets the accepted end. */
static struct chan *connect_pair(struct verbs_listener *l, const struct verbs_params *p, struct chan **nic)
{
	char err[1024] = "";
	struct chan *host = pair_connect(l, p, nic, err, sizeof(err));
	if (!host)
		fail_msg("%s", err);
	return host;
}

/* A connect expected to fail: the host side's error message. */
static void connect_expect_fail(struct verbs_listener *l, uint16_t port, const struct verbs_params *p, char *err,
				size_t err_len)
{
	struct pair_call acc = { .l = l, .p = p, .kind = 1 };
	struct pair_call con = { .ns = pair_host_ns(), .l = l, .port = port, .p = p, .kind = 2 };
	pthread_t t;
	if (l)
		assert_int_equal(pthread_create(&t, NULL, pair_call_main, &acc), 0);
	pair_run(&con);
	if (l)
		pthread_join(t, NULL);
	if (acc.ch)
		chan_destroy(acc.ch);
	if (con.ch) {
		chan_destroy(con.ch);
		fail_msg("the connect succeeded");
	}
	snprintf(err, err_len, "%s", con.err);
}

struct fx {
	struct verbs_listener *l;
	struct chan *host, *nic;
	struct ct_regions r;
};

static struct verbs_params default_params(void)
{
	struct verbs_params p;
	verbs_default_params(&p);
	p.sq_depth = 8;
	p.msg_depth = 4;
	return p;
}

static struct fx *fx_new(const struct verbs_params *p)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->l = listen_nic(p);
	f->host = connect_pair(f->l, p, &f->nic);
	ct_regions_register(&f->r, f->host, f->nic);
	return f;
}

static struct fx *fx_default(void)
{
	struct verbs_params p = default_params();
	return fx_new(&p);
}

static void fx_free(struct fx *f)
{
	/* Regions first, as a caller must; destroy would also do it. */
	ct_regions_destroy_ends(&f->r, f->host, f->nic);
	verbs_listener_destroy(f->l);
	free(f);
}

static uint8_t *nreg(struct fx *f) { return ct_nreg(&f->r); }

/* The device, not our code, refused: the error completion's raw status. */
static void expect_device_refused(struct chan *ch)
{
	struct verbs_chan_stats st;
	assert_int_equal(verbs_chan_stats(ch, &st), 0);
	if (st.first_wc_status != IBV_WC_REM_ACCESS_ERR)
		fail_msg("first error completion was %s, expected IBV_WC_REM_ACCESS_ERR",
			 ibv_wc_status_str((enum ibv_wc_status)st.first_wc_status));
}

/* ---- offline tests: no device needed ---- */

static void test_parse_spec(void **state)
{
	(void)state;
	struct verbs_spec s;
	char err[256];
	assert_int_equal(verbs_parse_spec("verbs:10.10.0.2", &s, err, sizeof(err)), 0);
	assert_string_equal(s.addr, "10.10.0.2");
	assert_int_equal(s.port, VERBS_DEFAULT_PORT);
	assert_string_equal(s.dev, "");
	assert_int_equal(s.gid_index, -1);
	assert_int_equal(verbs_parse_spec("verbs:10.10.0.2:9000,dev=rxe0,src=10.10.0.1,gid=1,sq=32,msg=16", &s, err,
					  sizeof(err)),
			 0);
	assert_string_equal(s.addr, "10.10.0.2");
	assert_int_equal(s.port, 9000);
	assert_string_equal(s.dev, "rxe0");
	assert_string_equal(s.src, "10.10.0.1");
	assert_int_equal(s.gid_index, 1);
	assert_int_equal(s.sq_depth, 32);
	assert_int_equal(s.msg_depth, 16);
	struct verbs_params p;
	verbs_spec_params(&s, &p);
	assert_string_equal(p.dev, "rxe0");
	assert_string_equal(p.src_addr, "10.10.0.1");
	assert_int_equal(p.gid_index, 1);
	assert_int_equal(p.sq_depth, 32);
	assert_int_equal(verbs_parse_spec("verbs:[fd00::2]:7000,dev=mlx5_0", &s, err, sizeof(err)), 0);
	assert_string_equal(s.addr, "fd00::2");
	assert_int_equal(s.port, 7000);
	assert_string_equal(s.dev, "mlx5_0");
	assert_int_equal(verbs_parse_spec("verbs:fd00::2", &s, err, sizeof(err)), 0);
	assert_string_equal(s.addr, "fd00::2");
	assert_int_equal(s.port, VERBS_DEFAULT_PORT);

	static const char *const bad[] = {
		"shm:10.0.0.1", "verbs:", "verbs::80", "verbs:1.2.3.4:0", "verbs:1.2.3.4:65536", "verbs:1.2.3.4:x",
		"verbs:1.2.3.4,dev", "verbs:1.2.3.4,dev=", "verbs:1.2.3.4,color=red", "verbs:1.2.3.4,gid=256",
		"verbs:1.2.3.4,sq=0", "verbs:1.2.3.4,msg=99999", "verbs:[fd00::2", "verbs:[fd00::2]x",
		"verbs:1.2.3.4,dev=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (verbs_parse_spec(bad[i], &s, err, sizeof(err)) != -1)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(err[0] != 0);
	}
	assert_int_equal(verbs_parse_spec(NULL, &s, err, sizeof(err)), -1);
}

/* Every setup failure is a value with a message, never a crash: nobody
 * listening (REJECTED), an address no RDMA device has, or no RDMA at all. */
static void test_setup_errors_are_values(void **state)
{
	(void)state;
	char err[256] = "";
	struct verbs_params p;
	verbs_default_params(&p);
	assert_null(verbs_connect(NULL, 1, &p, 100, err, sizeof(err)));
	assert_true(err[0] != 0);
	err[0] = 0;
	assert_null(verbs_connect("10.10.0.2", 0, &p, 100, err, sizeof(err)));
	assert_true(err[0] != 0);
	/* 192.0.2.1 (TEST-NET-1) belongs to no device here. */
	err[0] = 0;
	assert_null(verbs_listen("192.0.2.1", 0, &p, err, sizeof(err)));
	print_message("listen on 192.0.2.1: %s\n", err);
	assert_true(err[0] != 0);
	p.sq_depth = 1u << 20;
	err[0] = 0;
	assert_null(verbs_connect("10.10.0.2", 1, &p, 100, err, sizeof(err)));
	assert_true(err[0] != 0);
	assert_int_equal(verbs_listener_fd(NULL), -1);
	verbs_listener_destroy(NULL);
	assert_null(verbs_accept(NULL, 0, err, sizeof(err)));
	assert_false(verbs_chan_is(NULL));

	if (!g_have_device)
		return;
	/* With a device: nobody listens on this port, so the peer's CM
	 * rejects the request. */
	verbs_default_params(&p);
	err[0] = 0;
	uint64_t t0 = now_ns();
	connect_expect_fail(NULL, 1, &p, err, sizeof(err));
	print_message("connect to a port nobody listens on: %s (%.1f ms)\n", err, (double)(now_ns() - t0) / 1e6);
	assert_true(err[0] != 0);
	/* The wrong device name is refused, never silently replaced. */
	p.dev = "no_such_dev0";
	err[0] = 0;
	assert_null(pair_listen(&p, err, sizeof(err)));
	print_message("listen with dev=no_such_dev0: %s\n", err);
	assert_non_null(strstr(err, "no_such_dev0"));
	/* An accept with nobody coming times out as a value. */
	struct verbs_listener *l = listen_nic(NULL);
	err[0] = 0;
	assert_null(verbs_accept(l, 50, err, sizeof(err)));
	assert_string_equal(err, "timeout");
	verbs_listener_destroy(l);
}

/* ---- contract tests on the device ---- */

static void test_describe(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	struct verbs_chan_info hi, ni;
	assert_int_equal(verbs_chan_describe(f->host, &hi), 0);
	assert_int_equal(verbs_chan_describe(f->nic, &ni), 0);
	print_message("host: dev=%s port=%u gid_index=%d (%s) qp=%u %s -> %s inline=%u\n", hi.dev, hi.port_num,
		      hi.gid_index, hi.gid_type, hi.qp_num, hi.local, hi.peer, hi.max_inline);
	print_message("nic:  dev=%s port=%u gid_index=%d (%s) qp=%u %s -> %s inline=%u\n", ni.dev, ni.port_num,
		      ni.gid_index, ni.gid_type, ni.qp_num, ni.local, ni.peer, ni.max_inline);
	assert_true(hi.dev[0] && ni.dev[0]);
	assert_true(hi.gid_index >= 0 && ni.gid_index >= 0);
	struct chan_info info;
	chan_info(f->host, &info);
	assert_string_equal(info.backend, "verbs");
	assert_int_equal(info.sq_depth, 8);
	assert_int_equal(info.msg_depth, 4);
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);
	assert_int_equal(verbs_chan_describe(NULL, &hi), -1);
	/* gid=N is a check: the index rdma_cm chose passes, another fails. */
	struct verbs_params p = default_params();
	p.gid_index = hi.gid_index;
	struct chan *nic2;
	struct chan *host2 = connect_pair(f->l, &p, &nic2);
	chan_destroy(host2);
	chan_destroy(nic2);
	p.gid_index = hi.gid_index + 1;
	char err[256] = "";
	connect_expect_fail(f->l, 0, &p, err, sizeof(err));
	print_message("gid=%d: %s\n", p.gid_index, err);
	assert_non_null(strstr(err, "GID index"));
	fx_free(f);
}

/* Thousands of ops through a 4-deep queue, signaling every 4th, never
 * more than the queue in flight (the suite checks the slot rules). */
static void test_sq_4000_writes_through_depth_4(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct verbs_params p = default_params();
	p.sq_depth = 4;
	struct fx *f = fx_new(&p);
	uint64_t done = 0, eagain = 0;
	for (uint64_t i = 0; i < 4000;) {
		uint32_t flags = i % 4 == 3 ? CHAN_WR_SIGNALED : 0;
		f->r.hbuf[i % RLEN] = (uint8_t)i;
		int rc = chan_post_write(f->host, L(&f->r.hmr, i % RLEN), R(&f->r.nrem, i % RLEN), 1, i, flags);
		if (rc == CHAN_EAGAIN) {
			eagain++;
			struct chan_completion c;
			int n = chan_poll_cq(f->host, &c, 1);
			assert_true(n >= 0);
			if (n) {
				assert_int_equal(c.status, CHAN_OK);
				assert_int_equal(c.wr_id % 4, 3);
				done++;
			}
			continue;
		}
		assert_int_equal(rc, CHAN_OK);
		i++;
	}
	while (done < 1000) {
		struct chan_completion c = ct_wait_cqe(NULL, f->host);
		assert_int_equal(c.status, CHAN_OK);
		done++;
	}
	print_message("4000 writes through sq_depth 4: %" PRIu64 " EAGAIN on the way\n", eagain);
	assert_true(eagain > 0);
	for (unsigned i = 0; i < RLEN; i++)
		assert_int_equal(nreg(f)[i], f->r.hbuf[i]);
	fx_free(f);
}

/* How the deferred credits travel (the suite checks the rule every
 * backend keeps): batched, piggybacked, or credit-only messages. */
static void test_credit_batching(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default(); /* msg_depth 4 */
	uint8_t m, buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	for (m = 0; m < 4; m++)
		assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_OK);
	/* In flight counts against the credit, not only delivered. */
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	sleep_ms(20);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	/* The reverse direction has its own credits. */
	m = 0x80;
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);

	/* Taking ONE message does not return a credit yet (verbs differs from
	 * shm: credits go back piggybacked on a message, or alone once half
	 * the window is owed and the receiver has taken what was queued). */
	assert_int_equal(ct_wait_msg(NULL, f->nic, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 0);
	sleep_ms(20);
	m = 4;
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	/* Half the window, but two more are queued: still nothing. */
	assert_int_equal(ct_wait_msg(NULL, f->nic, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 1);
	sleep_ms(20);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	/* The queue drained: one credit-only message returns all four. */
	for (uint8_t want = 2; want <= 3; want++) {
		assert_int_equal(ct_wait_msg(NULL, f->nic, buf, sizeof(buf)), 1);
		assert_int_equal(buf[0], want);
	}
	for (m = 4; m < 8; m++)
		ct_post_msg_retry(NULL, f->host, &m, 1, NULL);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	for (uint8_t want = 4; want < 8; want++) {
		assert_int_equal(ct_wait_msg(NULL, f->nic, buf, sizeof(buf)), 1);
		assert_int_equal(buf[0], want);
	}
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 0);
	/* The NIC's own message reaches the host; credit-only ones never do. */
	assert_int_equal(ct_wait_msg(NULL, f->host, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 0x80);
	sleep_ms(20);
	assert_int_equal(chan_poll_msg(f->host, buf, sizeof(buf), &len), 0);
	/* Everything taken: the whole window comes back. */
	for (m = 10; m < 14; m++)
		ct_post_msg_retry(NULL, f->host, &m, 1, f->nic);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	struct verbs_chan_stats hs, ns;
	assert_int_equal(verbs_chan_stats(f->host, &hs), 0);
	assert_int_equal(verbs_chan_stats(f->nic, &ns), 0);
	print_message("credit-only messages: nic sent %" PRIu64 ", host received %" PRIu64 "; host EAGAIN %" PRIu64 "\n",
		      ns.credit_msgs_sent, hs.credit_msgs_received, hs.eagain_credit);
	assert_true(ns.credit_msgs_sent >= 2);
	assert_int_equal(hs.msgs_received, 1);
	fx_free(f);
}

/* 10,000 messages each way, every length 1..64, in order, none lost or
 * doubled, through a 4-deep window: credits cycle thousands of times. */
static void test_10000_messages_in_order(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	enum { N = 10000 };
	uint32_t sent[2] = { 0, 0 }, got[2] = { 0, 0 };
	struct chan *ends[2] = { f->host, f->nic };
	uint64_t deadline = now_ns() + 60ull * 1000000000ull;
	uint64_t eagain = 0;
	while (got[0] < N || got[1] < N) {
		for (int e = 0; e < 2; e++) {
			while (sent[e] < N) {
				uint8_t m[CHAN_MSG_MAX_BYTES];
				uint32_t len = 1 + sent[e] % CHAN_MSG_MAX_BYTES;
				for (uint32_t i = 0; i < len; i++)
					m[i] = (uint8_t)(sent[e] * 31 + i + e);
				if (len >= 4)
					memcpy(m, &sent[e], 4);
				int rc = chan_post_msg(ends[e], m, len);
				if (rc == CHAN_EAGAIN) {
					eagain++;
					break;
				}
				assert_int_equal(rc, CHAN_OK);
				sent[e]++;
			}
			uint8_t buf[CHAN_MSG_MAX_BYTES];
			uint32_t len;
			int rc;
			while ((rc = chan_poll_msg(ends[e ^ 1], buf, sizeof(buf), &len)) == 1) {
				uint32_t k = got[e];
				assert_int_equal(len, 1 + k % CHAN_MSG_MAX_BYTES);
				for (uint32_t i = 0; i < len; i++) {
					uint8_t want = (uint8_t)(k * 31 + i + e);
					if (len >= 4 && i < 4)
						want = (uint8_t)(k >> (8 * i));
					if (buf[i] != want)
						fail_msg("direction %d message %u byte %u: %u, expected %u", e, k, i, buf[i],
							 want);
				}
				got[e]++;
			}
			assert_int_equal(rc, 0);
		}
		if (now_ns() > deadline)
			fail_msg("stuck: sent %u/%u, got %u/%u", sent[0], sent[1], got[0], got[1]);
	}
	struct verbs_chan_stats hs, ns;
	verbs_chan_stats(f->host, &hs);
	verbs_chan_stats(f->nic, &ns);
	print_message("10000 msgs each way: EAGAIN %" PRIu64 ", credit-only msgs %" PRIu64 "+%" PRIu64
		      ", deferred %" PRIu64 "+%" PRIu64 "\n",
		      eagain, hs.credit_msgs_sent, ns.credit_msgs_sent, hs.credits_deferred, ns.credits_deferred);
	assert_int_equal(hs.msgs_received, N);
	assert_int_equal(ns.msgs_received, N);
	fx_free(f);
}

/* The same over two threads, the NIC end on its own one, blocking in
 * chan_wait when idle: an echo server, as the daemon will be. */
struct echo_thread {
	struct chan *ch;
	uint32_t n;
	int failed;
	uint64_t waits;
};

static void *echo_main(void *arg)
{
	struct echo_thread *t = arg;
	uint32_t done = 0;
	uint8_t buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	uint64_t deadline = now_ns() + 60ull * 1000000000ull;
	while (done < t->n && now_ns() < deadline) {
		int rc = chan_poll_msg(t->ch, buf, sizeof(buf), &len);
		if (rc < 0) {
			t->failed = rc;
			return NULL;
		}
		if (rc == 0) {
			t->waits++;
			if (chan_wait(t->ch, 100000000ull) < 0) {
				t->failed = -100;
				return NULL;
			}
			continue;
		}
		while ((rc = chan_post_msg(t->ch, buf, len)) == CHAN_EAGAIN)
			;
		if (rc != CHAN_OK) {
			t->failed = rc;
			return NULL;
		}
		done++;
	}
	if (done < t->n)
		t->failed = -101;
	return NULL;
}

static void test_two_threads_echo(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct verbs_params p = default_params();
	p.msg_depth = 8;
	struct fx *f = fx_new(&p);
	enum { N = 10000, WINDOW = 6 };
	struct echo_thread et = { .ch = f->nic, .n = N };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, echo_main, &et), 0);
	uint32_t sent = 0, got = 0;
	uint64_t deadline = now_ns() + 60ull * 1000000000ull;
	while (got < N && now_ns() < deadline) {
		while (sent < N && sent - got < WINDOW) {
			uint32_t m[2] = { sent, ~sent };
			int rc = chan_post_msg(f->host, m, sizeof(m));
			if (rc == CHAN_EAGAIN)
				break;
			assert_int_equal(rc, CHAN_OK);
			sent++;
		}
		uint32_t buf[CHAN_MSG_MAX_BYTES / 4], len;
		int rc = chan_poll_msg(f->host, buf, sizeof(buf), &len);
		assert_true(rc >= 0);
		if (rc == 1) {
			assert_int_equal(len, 8);
			if (buf[0] != got || buf[1] != ~got)
				fail_msg("echo %u came back as %u", got, buf[0]);
			got++;
		} else if (sent - got >= WINDOW || sent == N) {
			assert_true(chan_wait(f->host, 100000000ull) >= 0);
		}
	}
	pthread_join(t, NULL);
	assert_int_equal(et.failed, 0);
	assert_int_equal(got, N);
	print_message("10000 echoes over two threads; the echo thread slept in chan_wait %" PRIu64 " times\n", et.waits);
	fx_free(f);
}

/* The peer goes away: every later post and poll says so, operations in
 * flight complete as flushed (or as a transport error), and a message
 * that had already arrived is still delivered first. */
static void test_peer_destroyed(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	uint8_t m = 0x31, buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);
	sleep_ms(50); /* delivered into the host's receive queue */
	chan_mr_deregister(f->nic, &f->r.nmr);
	chan_destroy(f->nic);
	f->nic = NULL;
	/* Posted before the host noticed: cannot succeed. */
	int rc = chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 1, CHAN_WR_SIGNALED);
	if (rc == CHAN_OK) {
		struct chan_completion c = ct_wait_cqe(NULL, f->host);
		assert_int_equal(c.wr_id, 1);
		print_message("write posted as the peer vanished: %s\n", chan_err_name(c.status));
		assert_true(c.status == CHAN_EFLUSHED || c.status == CHAN_EIO);
	} else {
		assert_int_equal(rc, CHAN_EDISCONNECTED);
	}
	assert_int_equal(ct_wait_msg(NULL, f->host, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 0x31);
	ct_wait_disconnected(NULL, f->host);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_read(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 2, 0), CHAN_EDISCONNECTED);
	assert_int_equal(chan_poll_msg(f->host, buf, sizeof(buf), &len), CHAN_EDISCONNECTED);
	assert_int_equal(chan_wait(f->host, 1000000), CHAN_EDISCONNECTED);
	struct verbs_chan_stats st;
	verbs_chan_stats(f->host, &st);
	print_message("host saw: %s\n", st.broken_why);
	fx_free(f);
}

/* Operations outstanding when the link breaks complete as flushed, every
 * one of them, signaled or not. */
static void test_outstanding_flushed(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct verbs_params p = default_params();
	p.sq_depth = 64;
	struct fx *f = fx_new(&p);
	uint8_t *big = calloc(1, 1 << 20);
	assert_non_null(big);
	struct chan_mr bm, lm;
	uint8_t *lbuf = calloc(1, 1 << 20);
	assert_non_null(lbuf);
	assert_int_equal(chan_mr_register(f->nic, big, 1 << 20, CHAN_ACCESS_REMOTE_READ, &bm), CHAN_OK);
	assert_int_equal(chan_mr_register(f->host, lbuf, 1 << 20, CHAN_ACCESS_LOCAL, &lm), CHAN_OK);
	struct chan_remote_mr brem = chan_mr_remote(&bm);
	/* A refused op first, then a long queue behind it. */
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&brem, 0), 8, 100, 0), CHAN_OK);
	for (uint64_t i = 0; i < 40; i++)
		assert_int_equal(chan_post_read(f->host, L(&lm, 0), R(&brem, 0), 1 << 20, i, i % 2 ? CHAN_WR_SIGNALED : 0),
				 CHAN_OK);
	ct_expect_cqe(NULL, f->host, 100, CHAN_EACCESS, CHAN_OP_WRITE);
	for (uint64_t i = 0; i < 40; i++)
		ct_expect_cqe(NULL, f->host, i, CHAN_EFLUSHED, CHAN_OP_READ);
	ct_expect_no_cqe(NULL, f->host);
	/* Slots all came back with the completions; the link stays broken. */
	assert_int_equal(chan_post_read(f->host, L(&lm, 0), R(&brem, 0), 8, 1, 0), CHAN_EDISCONNECTED);
	chan_mr_deregister(f->nic, &bm);
	chan_mr_deregister(f->host, &lm);
	free(big);
	free(lbuf);
	fx_free(f);
}

/* ---- the verbs backend for the conformance suite ---- */

/* A listener on the NIC address, and the depths its pairs are made
 * with. */
struct suite_listener {
	struct verbs_listener *l;
	struct verbs_params p;
};

static void *suite_listener_new(void *ctx, uint32_t sq, uint32_t msg, char *err, size_t len)
{
	(void)ctx;
	struct suite_listener *sl = calloc(1, sizeof(*sl));
	assert_non_null(sl);
	verbs_default_params(&sl->p);
	if (sq)
		sl->p.sq_depth = sq;
	if (msg)
		sl->p.msg_depth = msg;
	sl->l = pair_listen(&sl->p, err, len);
	if (!sl->l) {
		free(sl);
		return NULL;
	}
	return sl;
}

static void suite_listener_free(void *ctx, void *listener)
{
	(void)ctx;
	struct suite_listener *sl = listener;
	verbs_listener_destroy(sl->l);
	free(sl);
}

/* A pair on `listener`, each connection its own PD/CQ/QP (the listener is
 * not the pair's). */
static int suite_pair_on(void *ctx, void *listener, struct chan_suite_pair *out, char *err, size_t len)
{
	(void)ctx;
	struct suite_listener *sl = listener;
	struct chan *nic = NULL;
	struct chan *host = pair_connect(sl->l, &sl->p, &nic, err, len);
	if (!host)
		return -1;
	*out = (struct chan_suite_pair){ .host = host, .nic = nic };
	return 0;
}

static void suite_pair_free(void *ctx, struct chan_suite_pair *p)
{
	(void)ctx;
	chan_destroy(p->host);
	chan_destroy(p->nic);
}

static void suite_check_refused(void *ctx, struct chan_suite_pair *p, struct chan *ch)
{
	(void)ctx;
	(void)p;
	expect_device_refused(ch);
}

static const char *suite_unavailable(void *ctx)
{
	(void)ctx;
	return g_have_device ? NULL : "no RDMA device (ibv_get_device_list is empty)";
}

int main(void)
{
	int n = verbs_device_count();
	g_have_device = n > 0;
	const char *req = getenv("BLUETAS_RXE_REQUIRED");
	if (!g_have_device) {
		if (req && !strcmp(req, "1")) {
			fprintf(stderr, "[  FAILED  ] no RDMA device (ibv_get_device_list is empty) but "
					"BLUETAS_RXE_REQUIRED=1: is rdma_rxe loaded and `rdma link add` done?\n");
			return 1;
		}
		printf("[  SKIPPED ] no RDMA device (ibv_get_device_list is empty): the device tests are skipped; "
		       "run them in the Soft-RoCE VM (ci/rxe-vm.sh)\n");
	} else {
		printf("[ INFO     ] %d RDMA device(s); NIC %s%s%s, host %s%s%s\n", n, pair_nic_addr(),
		       *pair_nic_ns() ? " netns " : "", pair_nic_ns(), pair_host_addr(), *pair_host_ns() ? " netns " : "",
		       pair_host_ns());
	}
	fflush(stdout);
	static const struct chan_suite_backend verbs = { .name = "verbs",
							 .pair_free = suite_pair_free,
							 .listener_new = suite_listener_new,
							 .pair_on = suite_pair_on,
							 .listener_free = suite_listener_free,
							 .check_refused = suite_check_refused,
							 .unavailable = suite_unavailable };
	struct CMUnitTest tests[64] = {
		cmocka_unit_test(test_parse_spec),
		cmocka_unit_test(test_setup_errors_are_values),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_sq_4000_writes_through_depth_4),
		cmocka_unit_test(test_credit_batching),
		cmocka_unit_test(test_10000_messages_in_order),
		cmocka_unit_test(test_two_threads_echo),
		cmocka_unit_test(test_peer_destroyed),
		cmocka_unit_test(test_outstanding_flushed),
	};
	/* BLUETAS_TEST_FILTER=test_wait (a glob) runs only the matching tests. */
	const char *filter = getenv("BLUETAS_TEST_FILTER");
	if (filter && *filter)
		cmocka_set_test_filter(filter);
	size_t count = 0;
	while (tests[count].test_func)
		count++;
	count += chan_suite_tests(&verbs, tests + count, sizeof(tests) / sizeof(tests[0]) - count);
	return _cmocka_run_group_tests("verbs", tests, count, NULL, NULL);
}
