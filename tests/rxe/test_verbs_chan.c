/*
 * test_verbs_chan.c: the verbs backend against the channel contract
 * (transports/channel.h), over a real RDMA device: Soft-RoCE (rdma_rxe) in
 * the CI VM, or any RoCE/IB device. The contract tests of
 * tests/unit/test_shm_chan.c, adapted to two really connected ends: a
 * listener on the NIC address, a connection from the host address, both
 * ends in this process (the accept runs on a second thread, and the
 * two-thread tests run the NIC end on its own thread for real).
 *
 * Where verbs differs from shm on purpose (transports/verbs/verbs_chan.c,
 * "Decisions"), the adapted test says so.
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

#define RLEN 256u  /* every test region */
#define GUARD 64u  /* bytes either side of the NIC region that must never change */
#define GUARD_BYTE 0xA5
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
	uint8_t hbuf[RLEN];
	uint8_t nmem[GUARD + RLEN + GUARD]; /* NIC region is the middle */
	struct chan_mr hmr, nmr;            /* both REMOTE_READ | REMOTE_WRITE */
	struct chan_remote_mr nrem, hrem;   /* as the peer would receive them */
};

static struct chan_remote_mr remote_of(const struct chan_mr *m)
{
	return (struct chan_remote_mr){ .addr = (uint64_t)(uintptr_t)m->base, .len_bytes = m->len_bytes,
					.rkey = m->rkey };
}

static struct verbs_params default_params(void)
{
	struct verbs_params p;
	verbs_default_params(&p);
	p.sq_depth = 8;
	p.msg_depth = 4;
	return p;
}

static struct fx *fx_new_on(struct verbs_listener *l, const struct verbs_params *p)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->l = l;
	f->host = connect_pair(l, p, &f->nic);
	memset(f->nmem, GUARD_BYTE, sizeof(f->nmem));
	memset(f->nmem + GUARD, 0, RLEN);
	uint32_t rw = CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE;
	assert_int_equal(chan_mr_register(f->host, f->hbuf, RLEN, rw, &f->hmr), CHAN_OK);
	assert_int_equal(chan_mr_register(f->nic, f->nmem + GUARD, RLEN, rw, &f->nmr), CHAN_OK);
	f->nrem = remote_of(&f->nmr);
	f->hrem = remote_of(&f->hmr);
	return f;
}

static struct fx *fx_new(const struct verbs_params *p)
{
	struct verbs_listener *l = listen_nic(p);
	struct fx *f = fx_new_on(l, p);
	return f;
}

static struct fx *fx_default(void)
{
	struct verbs_params p = default_params();
	return fx_new(&p);
}

static void fx_free_keep_listener(struct fx *f)
{
	/* Regions first, as a caller must; destroy would also do it. */
	if (f->host) {
		chan_mr_deregister(f->host, &f->hmr);
		chan_destroy(f->host);
	}
	if (f->nic) {
		chan_mr_deregister(f->nic, &f->nmr);
		chan_destroy(f->nic);
	}
	free(f);
}

static void fx_free(struct fx *f)
{
	struct verbs_listener *l = f->l;
	fx_free_keep_listener(f);
	verbs_listener_destroy(l);
}

static uint8_t *nreg(struct fx *f) { return f->nmem + GUARD; }

static void assert_guards(struct fx *f)
{
	for (unsigned i = 0; i < GUARD; i++) {
		assert_int_equal(f->nmem[i], GUARD_BYTE);
		assert_int_equal(f->nmem[GUARD + RLEN + i], GUARD_BYTE);
	}
}

static void assert_all(const uint8_t *p, uint8_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], v);
}

static struct chan_sge_local L(const struct chan_mr *mr, uint64_t off)
{
	return (struct chan_sge_local){ .mr = mr, .off = off };
}
static struct chan_sge_remote R(const struct chan_remote_mr *mr, uint64_t off)
{
	return (struct chan_sge_remote){ .mr = mr, .off = off };
}

/* Polls until one completion arrives (or fails the test). */
static struct chan_completion wait_cqe(struct chan *ch)
{
	struct chan_completion c;
	uint64_t deadline = now_ns() + (uint64_t)WAIT_MS * 1000000ull;
	for (;;) {
		int n = chan_poll_cq(ch, &c, 1);
		assert_true(n >= 0);
		if (n == 1)
			return c;
		if (now_ns() > deadline)
			fail_msg("no completion within %d ms", WAIT_MS);
	}
}

static void expect_cqe(struct chan *ch, uint64_t wr_id, int status, int opcode)
{
	struct chan_completion c = wait_cqe(ch);
	if (c.wr_id != wr_id || c.status != status || c.opcode != opcode)
		fail_msg("completion wr_id=%" PRIu64 " status=%s opcode=%u, expected wr_id=%" PRIu64 " %s opcode=%d",
			 c.wr_id, chan_err_name(c.status), c.opcode, wr_id, chan_err_name(status), opcode);
}

/* Nothing completes for `ms` (what an unsignaled success looks like). */
static void expect_no_cqe_for(struct chan *ch, unsigned ms)
{
	struct chan_completion c;
	uint64_t until = now_ns() + (uint64_t)ms * 1000000ull;
	while (now_ns() < until)
		assert_int_equal(chan_poll_cq(ch, &c, 1), 0);
}

/* Polls a message, waiting for it. */
static uint32_t wait_msg(struct chan *ch, void *buf, uint32_t cap)
{
	uint32_t len = 0;
	uint64_t deadline = now_ns() + (uint64_t)WAIT_MS * 1000000ull;
	for (;;) {
		int rc = chan_poll_msg(ch, buf, cap, &len);
		if (rc == 1)
			return len;
		if (rc < 0)
			fail_msg("poll_msg: %s", chan_err_name(rc));
		if (now_ns() > deadline)
			fail_msg("no message within %d ms", WAIT_MS);
	}
}

/* Posts, retrying while credits come back (the peer is driven by the
 * caller's `pump` in between). */
static void post_msg_retry(struct chan *ch, const void *m, uint32_t len, struct chan *peer)
{
	uint64_t deadline = now_ns() + (uint64_t)WAIT_MS * 1000000ull;
	for (;;) {
		int rc = chan_post_msg(ch, m, len);
		if (rc == CHAN_OK)
			return;
		if (rc != CHAN_EAGAIN)
			fail_msg("post_msg: %s", chan_err_name(rc));
		if (peer) {
			struct chan_completion c;
			chan_poll_cq(peer, &c, 0);
		}
		if (now_ns() > deadline)
			fail_msg("no credit within %d ms", WAIT_MS);
	}
}

static void wait_disconnected(struct chan *ch)
{
	uint8_t buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	uint64_t deadline = now_ns() + (uint64_t)WAIT_MS * 1000000ull;
	for (;;) {
		int rc = chan_poll_msg(ch, buf, sizeof(buf), &len);
		if (rc == CHAN_EDISCONNECTED)
			return;
		assert_true(rc >= 0);
		if (now_ns() > deadline)
			fail_msg("the break was not seen within %d ms", WAIT_MS);
	}
}

/* The link is in the error state from both ends. */
static void expect_broken(struct fx *f)
{
	uint8_t m[4] = { 0 };
	wait_disconnected(f->host);
	wait_disconnected(f->nic);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 4, 99, CHAN_WR_SIGNALED),
			 CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_read(f->nic, L(&f->nmr, 0), R(&f->hrem, 0), 4, 99, CHAN_WR_SIGNALED),
			 CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_msg(f->host, m, sizeof(m)), CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_msg(f->nic, m, sizeof(m)), CHAN_EDISCONNECTED);
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);
	assert_int_equal(chan_wait(f->host, 1000000), CHAN_EDISCONNECTED);
}

/* The device, not our code, refused: the error completion's raw status. */
static void expect_device_refused(struct chan *ch)
{
	struct verbs_chan_stats st;
	assert_int_equal(verbs_chan_stats(ch, &st), 0);
	if (st.first_wc_status != IBV_WC_REM_ACCESS_ERR)
		fail_msg("first error completion was %s, expected IBV_WC_REM_ACCESS_ERR",
			 ibv_wc_status_str((enum ibv_wc_status)st.first_wc_status));
}

/* A refused remote write: one EACCESS completion though unsignaled,
 * memory untouched, link broken. */
static void expect_refused_write(struct fx *f, const struct chan_remote_mr *rem, uint64_t roff, uint32_t len)
{
	uint8_t before[sizeof(f->nmem)];
	memset(f->hbuf, 0x11, RLEN);
	memcpy(before, f->nmem, sizeof(before));
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(rem, roff), len, 7, 0), CHAN_OK);
	expect_cqe(f->host, 7, CHAN_EACCESS, CHAN_OP_WRITE);
	expect_device_refused(f->host);
	assert_memory_equal(before, f->nmem, sizeof(before));
	expect_broken(f);
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

static void test_write_read_roundtrip(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	for (unsigned i = 0; i < RLEN; i++)
		f->hbuf[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), RLEN, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	struct chan_completion c = wait_cqe(f->host);
	assert_int_equal(c.wr_id, 1);
	assert_int_equal(c.status, CHAN_OK);
	assert_int_equal(c.opcode, CHAN_OP_WRITE);
	assert_int_equal(c.len_bytes, RLEN);
	assert_memory_equal(nreg(f), f->hbuf, RLEN);
	assert_guards(f);

	uint8_t want[RLEN];
	memcpy(want, f->hbuf, RLEN);
	memset(f->hbuf, 0, RLEN);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, 0), R(&f->nrem, 0), RLEN, 2, CHAN_WR_SIGNALED),
			 CHAN_OK);
	expect_cqe(f->host, 2, CHAN_OK, CHAN_OP_READ);
	assert_memory_equal(f->hbuf, want, RLEN);

	/* The other direction: the NIC writes into host memory at an offset. */
	memset(nreg(f), 0x5c, 16);
	assert_int_equal(chan_post_write(f->nic, L(&f->nmr, 0), R(&f->hrem, 100), 16, 3, CHAN_WR_SIGNALED),
			 CHAN_OK);
	expect_cqe(f->nic, 3, CHAN_OK, CHAN_OP_WRITE);
	assert_all(f->hbuf + 100, 0x5c, 16);
	assert_int_equal(f->hbuf[99], want[99]);
	assert_int_equal(f->hbuf[116], want[116]);
	expect_no_cqe_for(f->host, 5);
	fx_free(f);
}

/* Many packets per operation (rxe's MTU is at most 4096): byte exact. */
static void test_large_transfers(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	enum { BIG = 1 << 20 };
	uint8_t *a = malloc(BIG), *b = calloc(1, BIG), *back = calloc(1, BIG);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(back);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < BIG; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		a[i] = (uint8_t)x;
	}
	struct chan_mr am, bm, backm;
	assert_int_equal(chan_mr_register(f->host, a, BIG, CHAN_ACCESS_LOCAL, &am), CHAN_OK);
	assert_int_equal(chan_mr_register(f->host, back, BIG, CHAN_ACCESS_LOCAL, &backm), CHAN_OK);
	assert_int_equal(chan_mr_register(f->nic, b, BIG, CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE, &bm),
			 CHAN_OK);
	struct chan_remote_mr brem = remote_of(&bm);
	/* Odd offsets and lengths: no alignment is assumed anywhere. */
	assert_int_equal(chan_post_write(f->host, L(&am, 3), R(&brem, 5), BIG - 8, 1, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_memory_equal(b + 5, a + 3, BIG - 8);
	assert_int_equal(b[4], 0);
	assert_int_equal(b[BIG - 3], 0);
	assert_int_equal(chan_post_read(f->host, L(&backm, 0), R(&brem, 0), BIG, 2, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(f->host, 2, CHAN_OK, CHAN_OP_READ);
	assert_memory_equal(back, b, BIG);
	assert_int_equal(chan_mr_deregister(f->host, &am), CHAN_OK);
	assert_int_equal(chan_mr_deregister(f->host, &backm), CHAN_OK);
	assert_int_equal(chan_mr_deregister(f->nic, &bm), CHAN_OK);
	free(a);
	free(b);
	free(back);
	fx_free(f);
}

static void test_order_last_write_wins(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct verbs_params p = default_params();
	p.sq_depth = 64;
	struct fx *f = fx_new(&p);
	memset(f->hbuf, 'A', 16);
	memset(f->hbuf + 16, 'B', 16);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 40), 16, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 16), R(&f->nrem, 40), 16, 2, CHAN_WR_SIGNALED),
			 CHAN_OK);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	expect_cqe(f->host, 2, CHAN_OK, CHAN_OP_WRITE);
	assert_all(nreg(f) + 40, 'B', 16);

	/* 60 overlapping writes, only the last signaled: its completion
	 * implies all, and the last one's bytes are what stays. */
	for (unsigned i = 0; i < 60; i++)
		f->hbuf[100 + i] = (uint8_t)(i + 1);
	for (unsigned i = 0; i < 60; i++)
		assert_int_equal(chan_post_write(f->host, L(&f->hmr, 100 + i), R(&f->nrem, 200), 1, 10 + i,
						 i == 59 ? CHAN_WR_SIGNALED : 0),
				 CHAN_OK);
	expect_cqe(f->host, 69, CHAN_OK, CHAN_OP_WRITE);
	assert_int_equal(nreg(f)[200], 60);
	expect_no_cqe_for(f->host, 5);
	fx_free(f);
}

/* The ctxq rule: the NIC writes payload, then tells the host; the host
 * must never see the message before the payload. Here 2000 times. */
static void test_msg_after_write_sees_write(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct verbs_params p = default_params();
	p.sq_depth = 64;
	p.msg_depth = 16;
	struct fx *f = fx_new(&p);
	uint8_t buf[CHAN_MSG_MAX_BYTES];
	for (uint32_t round = 1; round <= 2000; round++) {
		uint32_t off = (round * 8) % (RLEN - 8);
		memcpy(f->hbuf + off, &round, 4);
		/* Unsignaled write, then the doorbell; every 32nd signaled so
		 * slots come back. */
		uint32_t flags = round % 32 == 0 ? CHAN_WR_SIGNALED : 0;
		assert_int_equal(chan_post_write(f->host, L(&f->hmr, off), R(&f->nrem, off), 4, round, flags), CHAN_OK);
		uint32_t db[2] = { round, off };
		post_msg_retry(f->host, db, sizeof(db), f->nic);
		assert_int_equal(wait_msg(f->nic, buf, sizeof(buf)), sizeof(db));
		memcpy(db, buf, sizeof(db));
		assert_int_equal(db[0], round);
		uint32_t seen;
		memcpy(&seen, nreg(f) + db[1], 4);
		if (seen != round)
			fail_msg("round %u: message arrived before the write it follows (saw %u)", round, seen);
		if (flags)
			expect_cqe(f->host, round, CHAN_OK, CHAN_OP_WRITE);
	}
	fx_free(f);
}

static void test_oob_write_breaks_link(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	memset(f->hbuf, 0x11, RLEN);
	/* Remote bounds are the remote device's check: the post succeeds. */
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 200), 100, 1, 0), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 2, CHAN_WR_SIGNALED),
			 CHAN_OK);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 3, 0), CHAN_OK);
	struct chan_completion c[3];
	for (int i = 0; i < 3; i++)
		c[i] = wait_cqe(f->host);
	assert_int_equal(c[0].wr_id, 1);
	assert_int_equal(c[0].status, CHAN_EACCESS); /* reported though unsignaled */
	assert_int_equal(c[1].wr_id, 2);
	assert_int_equal(c[1].status, CHAN_EFLUSHED);
	assert_int_equal(c[2].wr_id, 3);
	assert_int_equal(c[2].status, CHAN_EFLUSHED); /* reported though unsignaled */
	assert_int_equal(c[2].opcode, CHAN_OP_READ);
	expect_device_refused(f->host);
	expect_no_cqe_for(f->host, 5);
	assert_all(nreg(f), 0, RLEN);
	assert_guards(f);
	expect_broken(f);
	struct verbs_chan_stats st;
	assert_int_equal(verbs_chan_stats(f->nic, &st), 0);
	print_message("host broke: CHAN err %d; NIC end saw: %s\n", CHAN_EACCESS, st.broken_why);
	fx_free(f);
}

static void test_wrong_rkey_refused(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	struct chan_remote_mr bad = f->nrem;
	bad.rkey ^= 0x1u; /* the key's variant byte: same MR index, wrong key */
	expect_refused_write(f, &bad, 0, 8);
	fx_free(f);

	f = fx_default();
	bad = f->nrem;
	bad.rkey ^= 0x100u; /* another index */
	expect_refused_write(f, &bad, 0, 8);
	fx_free(f);

	/* Presenting the host's OWN region key to the NIC end reaches nothing. */
	f = fx_default();
	expect_refused_write(f, &f->hrem, 0, 8);
	assert_all(f->hbuf, 0x11, RLEN);
	fx_free(f);
}

/* The isolation proof. Two applications, two connections on the same
 * devices, each its own PD. The NIC side of connection A presents host B's
 * region descriptor (address and rkey exactly as B's HELLO carries them):
 * the device refuses it with IBV_WC_REM_ACCESS_ERR because that MR lives in
 * B's protection domain, and the same descriptor works on B's own
 * connection. verbs_chan.c never inspects an rkey: the refusal is the RDMA
 * device's (rxe's MR lookup checks mr->pd against the QP's PD). */
static void test_rkey_from_other_connection_refused(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct verbs_params p = default_params();
	struct verbs_listener *l = listen_nic(&p);
	struct fx *a = fx_new_on(l, &p);
	struct fx *b = fx_new_on(l, &p);

	/* Positive control: B's NIC writes B's host region with it. */
	memset(nreg(b), 0x3b, 8);
	assert_int_equal(chan_post_write(b->nic, L(&b->nmr, 0), R(&b->hrem, 0), 8, 1, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(b->nic, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_all(b->hbuf, 0x3b, 8);

	/* A's NIC aims at B's host region: refused by the device. */
	uint8_t hb_before[RLEN];
	memcpy(hb_before, b->hbuf, RLEN);
	memset(nreg(a), 0x66, RLEN);
	assert_int_equal(chan_post_write(a->nic, L(&a->nmr, 0), R(&b->hrem, 0), 8, 2, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(a->nic, 2, CHAN_EACCESS, CHAN_OP_WRITE);
	expect_device_refused(a->nic);
	assert_memory_equal(b->hbuf, hb_before, RLEN);
	print_message("isolation: host B rkey 0x%08x addr 0x%" PRIx64 " valid on connection B, refused on A by the "
		      "device (IBV_WC_REM_ACCESS_ERR)\n",
		      b->hrem.rkey, b->hrem.addr);
	wait_disconnected(a->nic);
	wait_disconnected(a->host);

	/* ... a READ of it too, from another fresh connection C. */
	struct fx *c = fx_new_on(l, &p);
	assert_int_equal(chan_post_read(c->nic, L(&c->nmr, 0), R(&b->hrem, 0), 8, 3, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(c->nic, 3, CHAN_EACCESS, CHAN_OP_READ);
	expect_device_refused(c->nic);
	assert_all(nreg(c), 0, 8); /* nothing of B's leaked in */

	/* And the other direction: another host at NIC B's region. */
	struct fx *d = fx_new_on(l, &p);
	uint8_t nb_before[sizeof(b->nmem)];
	memcpy(nb_before, b->nmem, sizeof(nb_before));
	memset(d->hbuf, 0x44, RLEN);
	assert_int_equal(chan_post_write(d->host, L(&d->hmr, 0), R(&b->nrem, 0), 8, 4, 0), CHAN_OK);
	expect_cqe(d->host, 4, CHAN_EACCESS, CHAN_OP_WRITE);
	expect_device_refused(d->host);
	assert_memory_equal(b->nmem, nb_before, sizeof(nb_before));

	/* Link B noticed nothing and still works both ways. */
	struct verbs_chan_stats st;
	assert_int_equal(verbs_chan_stats(b->host, &st), 0);
	assert_int_equal(st.broken, 0);
	memset(b->hbuf, 3, 8);
	assert_int_equal(chan_post_write(b->host, L(&b->hmr, 0), R(&b->nrem, 0), 8, 5, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(b->host, 5, CHAN_OK, CHAN_OP_WRITE);
	assert_all(nreg(b), 3, 8);
	uint8_t m = 9, buf[CHAN_MSG_MAX_BYTES];
	assert_int_equal(chan_post_msg(b->host, &m, 1), CHAN_OK);
	assert_int_equal(wait_msg(b->nic, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 9);

	/* A local key of another connection is not a local key here. */
	assert_int_equal(chan_post_write(b->host, L(&a->hmr, 0), R(&b->nrem, 0), 8, 6, 0), CHAN_ELOCAL);
	fx_free_keep_listener(a);
	fx_free_keep_listener(b);
	fx_free_keep_listener(c);
	fx_free_keep_listener(d);
	verbs_listener_destroy(l);
}

static void test_write_to_read_only_refused(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	uint8_t ro[32];
	memset(ro, 0x3c, sizeof(ro));
	struct chan_mr mr;
	assert_int_equal(chan_mr_register(f->nic, ro, sizeof(ro), CHAN_ACCESS_REMOTE_READ, &mr), CHAN_OK);
	struct chan_remote_mr rem = remote_of(&mr);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, 0), R(&rem, 0), 32, 1, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_READ);
	assert_all(f->hbuf, 0x3c, 32);

	memset(f->hbuf, 0, RLEN);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&rem, 0), 32, 2, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(f->host, 2, CHAN_EACCESS, CHAN_OP_WRITE);
	expect_device_refused(f->host);
	assert_all(ro, 0x3c, sizeof(ro));
	expect_broken(f);
	assert_int_equal(chan_mr_deregister(f->nic, &mr), CHAN_OK);
	fx_free(f);
}

static void test_read_from_write_only_refused(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	uint8_t wo[32];
	memset(wo, 0x6b, sizeof(wo));
	struct chan_mr mr;
	assert_int_equal(chan_mr_register(f->nic, wo, sizeof(wo), CHAN_ACCESS_REMOTE_WRITE, &mr), CHAN_OK);
	struct chan_remote_mr rem = remote_of(&mr);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, 0), R(&rem, 0), 32, 1, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(f->host, 1, CHAN_EACCESS, CHAN_OP_READ);
	expect_device_refused(f->host);
	assert_all(f->hbuf, 0, RLEN); /* nothing leaked into local memory */
	fx_free(f);
}

static void test_local_only_region_refused(void **state)
{
	(void)state;
	NEED_DEVICE();
	for (int op = CHAN_OP_READ; op <= CHAN_OP_WRITE; op++) {
		struct fx *f = fx_default();
		uint8_t priv[32];
		memset(priv, 0x5a, sizeof(priv));
		struct chan_mr mr;
		/* What the NIC registers for its staging: LOCAL only. */
		assert_int_equal(chan_mr_register(f->nic, priv, sizeof(priv), CHAN_ACCESS_LOCAL, &mr), CHAN_OK);
		struct chan_remote_mr rem = remote_of(&mr);
		int rc = op == CHAN_OP_READ
				 ? chan_post_read(f->host, L(&f->hmr, 0), R(&rem, 0), 8, 1, CHAN_WR_SIGNALED)
				 : chan_post_write(f->host, L(&f->hmr, 0), R(&rem, 0), 8, 1, CHAN_WR_SIGNALED);
		assert_int_equal(rc, CHAN_OK);
		expect_cqe(f->host, 1, CHAN_EACCESS, op);
		expect_device_refused(f->host);
		assert_all(priv, 0x5a, sizeof(priv));
		assert_all(f->hbuf, 0, RLEN);
		assert_int_equal(chan_mr_deregister(f->nic, &mr), CHAN_OK);
		fx_free(f);
	}
}

static void test_local_errors_at_post(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 200), R(&f->nrem, 0), 100, 1, 0), CHAN_ELOCAL);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, RLEN), R(&f->nrem, 0), 1, 1, 0), CHAN_ELOCAL);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, UINT64_MAX - 1), R(&f->nrem, 0), 4, 1, 0),
			 CHAN_ELOCAL);
	/* A region of the other end is not a local region here. */
	assert_int_equal(chan_post_write(f->host, L(&f->nmr, 0), R(&f->nrem, 0), 4, 1, 0), CHAN_ELOCAL);
	struct chan_mr forged = f->hmr;
	forged.len_bytes = 1u << 20; /* the table, not the caller's copy, holds the bounds */
	assert_int_equal(chan_post_write(f->host, L(&forged, 0), R(&f->nrem, 0), RLEN + 1, 1, 0), CHAN_ELOCAL);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 0, 1, 0), CHAN_EINVAL);
	assert_int_equal(chan_post_write(f->host, L(NULL, 0), R(&f->nrem, 0), 4, 1, 0), CHAN_EINVAL);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(NULL, 0), 4, 1, 0), CHAN_EINVAL);

	/* Refused posts consumed nothing and did not break the link. */
	expect_no_cqe_for(f->host, 5);
	memset(f->hbuf, 0x77, RLEN);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, RLEN - 4), R(&f->nrem, RLEN - 4), 4, 2,
					 CHAN_WR_SIGNALED),
			 CHAN_OK);
	expect_cqe(f->host, 2, CHAN_OK, CHAN_OP_WRITE);
	assert_all(nreg(f) + RLEN - 4, 0x77, 4);
	assert_guards(f);
	fx_free(f);
}

static void test_remote_offset_overflow_refused(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	expect_refused_write(f, &f->nrem, UINT64_MAX - 1, 4); /* wraps to below the region */
	assert_guards(f);
	fx_free(f);

	f = fx_default();
	expect_refused_write(f, &f->nrem, RLEN, 1); /* one past the end */
	assert_guards(f);
	fx_free(f);

	f = fx_default();
	expect_refused_write(f, &f->nrem, RLEN - 3, 4); /* straddles the end */
	assert_guards(f);
	fx_free(f);

	/* Exactly up to the end is fine. */
	f = fx_default();
	memset(f->hbuf, 1, 4);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, RLEN - 4), 4, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_all(nreg(f) + RLEN - 4, 1, 4);
	assert_guards(f);
	fx_free(f);
}

/* verbs differs from shm here on purpose: remote->addr is a virtual
 * address, not a token compared with the base. A forged addr INSIDE the
 * region only shifts the window; one that reaches outside is refused. */
static void test_remote_addr_is_an_address(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	struct chan_remote_mr shifted = f->nrem;
	shifted.addr += 1;
	memset(f->hbuf, 4, 4);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&shifted, 0), 4, 1, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_int_equal(nreg(f)[0], 0);
	assert_all(nreg(f) + 1, 4, 4);

	struct chan_remote_mr below = f->nrem;
	below.addr -= 1; /* one byte before the region: a guard byte */
	expect_refused_write(f, &below, 0, 4);
	assert_guards(f);
	fx_free(f);
}

static void test_deregistered_keys_refused(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	uint8_t extra[32] = { 0 };
	struct chan_mr mr;
	assert_int_equal(chan_mr_register(f->nic, extra, sizeof(extra),
					  CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE, &mr),
			 CHAN_OK);
	struct chan_remote_mr rem = remote_of(&mr);
	assert_int_equal(chan_mr_deregister(f->nic, &mr), CHAN_OK);
	assert_int_equal(chan_mr_deregister(f->nic, &mr), CHAN_EINVAL);
	expect_refused_write(f, &rem, 0, 8);
	assert_all(extra, 0, sizeof(extra));
	fx_free(f);

	/* A deregistered local region is refused at post. */
	f = fx_default();
	struct chan_mr old = f->hmr;
	assert_int_equal(chan_mr_deregister(f->host, &f->hmr), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&old, 0), R(&f->nrem, 0), 8, 1, 0), CHAN_ELOCAL);
	assert_int_equal(chan_mr_register(f->host, f->hbuf, RLEN, CHAN_ACCESS_LOCAL, &f->hmr), CHAN_OK);
	fx_free(f);
}

static void test_mr_register_errors(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	uint8_t buf[16];
	struct chan_mr mr;
	assert_int_equal(chan_mr_register(f->host, NULL, 16, 0, &mr), CHAN_EINVAL);
	assert_int_equal(chan_mr_register(f->host, buf, 0, 0, &mr), CHAN_EINVAL);
	assert_int_equal(chan_mr_register(f->host, buf, 16, 0x80, &mr), CHAN_EINVAL);
	assert_int_equal(chan_mr_register(f->host, buf, 16, 0, NULL), CHAN_EINVAL);
	assert_int_equal(chan_mr_register(f->host, buf, UINT64_MAX, 0, &mr), CHAN_EINVAL);
	assert_int_equal(chan_mr_deregister(f->host, NULL), CHAN_EINVAL);
	struct chan_mr bogus = f->hmr;
	bogus.rkey ^= 1;
	assert_int_equal(chan_mr_deregister(f->host, &bogus), CHAN_EINVAL);

	/* The table is finite: exhaustion is an error, not a crash. Left
	 * registered on purpose: destroy must clean them up. */
	int rc, n = 0;
	while ((rc = chan_mr_register(f->host, buf, sizeof(buf), 0, &mr)) == CHAN_OK)
		n++;
	assert_int_equal(rc, CHAN_ENOMEM);
	assert_true(n > 0);
	print_message("%d extra regions registered before CHAN_ENOMEM\n", n);
	fx_free(f);
}

static void test_sq_full_and_unsignaled_slots(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct verbs_params p = default_params();
	p.sq_depth = 4;
	struct fx *f = fx_new(&p);
	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, i, 0), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 3, CHAN_WR_SIGNALED),
			 CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 4, CHAN_WR_SIGNALED),
			 CHAN_EAGAIN);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 4, CHAN_WR_SIGNALED),
			 CHAN_EAGAIN);
	/* Executed but not yet polled: slots are still held. */
	sleep_ms(20);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 4, CHAN_WR_SIGNALED),
			 CHAN_EAGAIN);
	/* Messages do not use these slots. */
	uint8_t m = 1, buf[CHAN_MSG_MAX_BYTES];
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_OK);
	assert_int_equal(wait_msg(f->nic, buf, sizeof(buf)), 1);
	/* The NIC end has its own send queue. */
	assert_int_equal(chan_post_write(f->nic, L(&f->nmr, 0), R(&f->hrem, 0), 8, 9, 0), CHAN_OK);
	/* Polling the signaled completion frees it and the three before it. */
	expect_cqe(f->host, 3, CHAN_OK, CHAN_OP_WRITE);
	for (uint64_t i = 10; i < 14; i++)
		assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, i, 0), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 14, 0), CHAN_EAGAIN);
	/* Without a signaled one the slots never come back (caller's duty). */
	expect_no_cqe_for(f->host, 20);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 14, 0), CHAN_EAGAIN);
	struct verbs_chan_stats st;
	assert_int_equal(verbs_chan_stats(f->host, &st), 0);
	assert_true(st.eagain_sq >= 5);
	assert_int_equal(st.broken, 0);

	/* Recovery on a fresh link: thousands of ops through a 4-deep queue,
	 * signaling every 4th, never more than the queue in flight. */
	fx_free(f);
	f = fx_new(&p);
	uint64_t done = 0, eagain = 0;
	for (uint64_t i = 0; i < 4000;) {
		uint32_t flags = i % 4 == 3 ? CHAN_WR_SIGNALED : 0;
		f->hbuf[i % RLEN] = (uint8_t)i;
		int rc = chan_post_write(f->host, L(&f->hmr, i % RLEN), R(&f->nrem, i % RLEN), 1, i, flags);
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
		struct chan_completion c = wait_cqe(f->host);
		assert_int_equal(c.status, CHAN_OK);
		done++;
	}
	print_message("4000 writes through sq_depth 4: %" PRIu64 " EAGAIN on the way\n", eagain);
	assert_true(eagain > 0);
	for (unsigned i = 0; i < RLEN; i++)
		assert_int_equal(nreg(f)[i], f->hbuf[i]);
	fx_free(f);
}

static void test_msg_credits(void **state)
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
	assert_int_equal(wait_msg(f->nic, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 0);
	sleep_ms(20);
	m = 4;
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	/* Half the window, but two more are queued: still nothing. */
	assert_int_equal(wait_msg(f->nic, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 1);
	sleep_ms(20);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	/* The queue drained: one credit-only message returns all four. */
	for (uint8_t want = 2; want <= 3; want++) {
		assert_int_equal(wait_msg(f->nic, buf, sizeof(buf)), 1);
		assert_int_equal(buf[0], want);
	}
	for (m = 4; m < 8; m++)
		post_msg_retry(f->host, &m, 1, NULL);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	for (uint8_t want = 4; want < 8; want++) {
		assert_int_equal(wait_msg(f->nic, buf, sizeof(buf)), 1);
		assert_int_equal(buf[0], want);
	}
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 0);
	/* The NIC's own message reaches the host; credit-only ones never do. */
	assert_int_equal(wait_msg(f->host, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 0x80);
	sleep_ms(20);
	assert_int_equal(chan_poll_msg(f->host, buf, sizeof(buf), &len), 0);
	/* Everything taken: the whole window comes back. */
	for (m = 10; m < 14; m++)
		post_msg_retry(f->host, &m, 1, f->nic);
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

static void test_msg_sizes(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	uint8_t big[CHAN_MSG_MAX_BYTES + 1], buf[CHAN_MSG_MAX_BYTES];
	uint32_t len = 0;
	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	assert_int_equal(chan_post_msg(f->host, big, 0), CHAN_EINVAL);
	assert_int_equal(chan_post_msg(f->host, NULL, 4), CHAN_EINVAL);
	assert_int_equal(chan_post_msg(f->host, big, CHAN_MSG_MAX_BYTES + 1), CHAN_ETOOBIG);
	assert_int_equal(chan_post_msg(f->host, big, UINT32_MAX), CHAN_ETOOBIG);
	assert_int_equal(chan_post_msg(f->host, big, CHAN_MSG_MAX_BYTES), CHAN_OK);
	memset(big, 0, sizeof(big)); /* copied at post: the caller keeps its buffer */
	/* Too small a buffer leaves the message in place. */
	uint64_t deadline = now_ns() + (uint64_t)WAIT_MS * 1000000ull;
	int rc;
	while ((rc = chan_poll_msg(f->nic, buf, CHAN_MSG_MAX_BYTES - 1, &len)) == 0)
		assert_true(now_ns() < deadline);
	assert_int_equal(rc, CHAN_EINVAL);
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 1);
	assert_int_equal(len, CHAN_MSG_MAX_BYTES);
	for (unsigned i = 0; i < CHAN_MSG_MAX_BYTES; i++)
		assert_int_equal(buf[i], i);
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

struct poster {
	struct chan *ch;
	unsigned delay_ms;
};

static void *post_later(void *arg)
{
	struct poster *p = arg;
	sleep_ms(p->delay_ms);
	uint8_t m = 0x42;
	chan_post_msg(p->ch, &m, 1);
	return NULL;
}

static void test_wait(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	/* Nothing coming: the timeout. */
	uint64_t t0 = now_ns();
	assert_int_equal(chan_wait(f->host, 30000000ull), 0);
	uint64_t slept = now_ns() - t0;
	assert_true(slept >= 25000000ull);
	assert_int_equal(chan_wait(f->host, 0), 0);
	/* A message wakes it long before the timeout. */
	struct poster pp = { .ch = f->nic, .delay_ms = 50 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, post_later, &pp), 0);
	t0 = now_ns();
	uint8_t buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	int rc = 0;
	while (rc == 0 && now_ns() - t0 < 5000000000ull) {
		assert_int_equal(chan_wait(f->host, 5000000000ull), 0);
		rc = chan_poll_msg(f->host, buf, sizeof(buf), &len);
	}
	uint64_t woke = now_ns() - t0;
	pthread_join(t, NULL);
	assert_int_equal(rc, 1);
	assert_int_equal(buf[0], 0x42);
	print_message("chan_wait: 30 ms timeout took %.1f ms; woken by a message after %.1f ms (sent at 50 ms)\n",
		      (double)slept / 1e6, (double)woke / 1e6);
	assert_true(woke < 2000000000ull);
	/* A completion ready: returns at once. */
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 1, CHAN_WR_SIGNALED), CHAN_OK);
	t0 = now_ns();
	struct chan_completion c;
	int n = 0;
	while (n == 0 && now_ns() - t0 < 5000000000ull) {
		assert_int_equal(chan_wait(f->host, 5000000000ull), 0);
		n = chan_poll_cq(f->host, &c, 1);
	}
	assert_int_equal(n, 1);
	assert_true(now_ns() - t0 < 2000000000ull);
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
	chan_mr_deregister(f->nic, &f->nmr);
	chan_destroy(f->nic);
	f->nic = NULL;
	/* Posted before the host noticed: cannot succeed. */
	int rc = chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 1, CHAN_WR_SIGNALED);
	if (rc == CHAN_OK) {
		struct chan_completion c = wait_cqe(f->host);
		assert_int_equal(c.wr_id, 1);
		print_message("write posted as the peer vanished: %s\n", chan_err_name(c.status));
		assert_true(c.status == CHAN_EFLUSHED || c.status == CHAN_EIO);
	} else {
		assert_int_equal(rc, CHAN_EDISCONNECTED);
	}
	assert_int_equal(wait_msg(f->host, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 0x31);
	wait_disconnected(f->host);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 2, 0), CHAN_EDISCONNECTED);
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
	struct chan_remote_mr brem = remote_of(&bm);
	/* A refused op first, then a long queue behind it. */
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&brem, 0), 8, 100, 0), CHAN_OK);
	for (uint64_t i = 0; i < 40; i++)
		assert_int_equal(chan_post_read(f->host, L(&lm, 0), R(&brem, 0), 1 << 20, i, i % 2 ? CHAN_WR_SIGNALED : 0),
				 CHAN_OK);
	expect_cqe(f->host, 100, CHAN_EACCESS, CHAN_OP_WRITE);
	for (uint64_t i = 0; i < 40; i++)
		expect_cqe(f->host, i, CHAN_EFLUSHED, CHAN_OP_READ);
	expect_no_cqe_for(f->host, 5);
	/* Slots all came back with the completions; the link stays broken. */
	assert_int_equal(chan_post_read(f->host, L(&lm, 0), R(&brem, 0), 8, 1, 0), CHAN_EDISCONNECTED);
	chan_mr_deregister(f->nic, &bm);
	chan_mr_deregister(f->host, &lm);
	free(big);
	free(lbuf);
	fx_free(f);
}

static void test_poll_cq_args(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct fx *f = fx_default();
	struct chan_completion c[2];
	assert_int_equal(chan_poll_cq(f->host, c, 0), 0);
	assert_int_equal(chan_poll_cq(f->host, c, -1), CHAN_EINVAL);
	assert_int_equal(chan_poll_cq(f->host, NULL, 1), CHAN_EINVAL);
	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 4, i, CHAN_WR_SIGNALED),
				 CHAN_OK);
	uint64_t deadline = now_ns() + (uint64_t)WAIT_MS * 1000000ull;
	struct verbs_chan_stats st;
	do {
		assert_true(now_ns() < deadline);
		verbs_chan_stats(f->host, &st);
		chan_poll_cq(f->host, c, 0); /* drains the device CQ, returns none */
	} while (st.writes < 3);
	assert_int_equal(chan_poll_cq(f->host, c, 2), 2);
	assert_int_equal(c[0].wr_id, 0);
	assert_int_equal(c[1].wr_id, 1);
	assert_int_equal(chan_poll_cq(f->host, c, 2), 1);
	assert_int_equal(c[0].wr_id, 2);
	fx_free(f);
}

/* Many connections on one listener, each its own PD/CQ/QP, torn down in
 * any order: nothing leaks into the others. */
static void test_many_connections(void **state)
{
	(void)state;
	NEED_DEVICE();
	struct verbs_params p = default_params();
	struct verbs_listener *l = listen_nic(&p);
	enum { K = 8 };
	struct fx *fs[K];
	for (int i = 0; i < K; i++)
		fs[i] = fx_new_on(l, &p);
	for (int i = 0; i < K; i++) {
		memset(fs[i]->hbuf, i + 1, RLEN);
		assert_int_equal(chan_post_write(fs[i]->host, L(&fs[i]->hmr, 0), R(&fs[i]->nrem, 0), RLEN, (uint64_t)i,
						 CHAN_WR_SIGNALED),
				 CHAN_OK);
	}
	for (int i = 0; i < K; i++) {
		expect_cqe(fs[i]->host, (uint64_t)i, CHAN_OK, CHAN_OP_WRITE);
		assert_all(nreg(fs[i]), (uint8_t)(i + 1), RLEN);
	}
	for (int i = K - 1; i >= 0; i -= 2)
		fx_free_keep_listener(fs[i]);
	for (int i = 0; i < K; i += 2) {
		uint8_t m = (uint8_t)i, buf[CHAN_MSG_MAX_BYTES];
		assert_int_equal(chan_post_msg(fs[i]->host, &m, 1), CHAN_OK);
		assert_int_equal(wait_msg(fs[i]->nic, buf, sizeof(buf)), 1);
		assert_int_equal(buf[0], i);
		fx_free_keep_listener(fs[i]);
	}
	verbs_listener_destroy(l);
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
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_spec),
		cmocka_unit_test(test_setup_errors_are_values),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_write_read_roundtrip),
		cmocka_unit_test(test_large_transfers),
		cmocka_unit_test(test_order_last_write_wins),
		cmocka_unit_test(test_msg_after_write_sees_write),
		cmocka_unit_test(test_oob_write_breaks_link),
		cmocka_unit_test(test_wrong_rkey_refused),
		cmocka_unit_test(test_rkey_from_other_connection_refused),
		cmocka_unit_test(test_write_to_read_only_refused),
		cmocka_unit_test(test_read_from_write_only_refused),
		cmocka_unit_test(test_local_only_region_refused),
		cmocka_unit_test(test_local_errors_at_post),
		cmocka_unit_test(test_remote_offset_overflow_refused),
		cmocka_unit_test(test_remote_addr_is_an_address),
		cmocka_unit_test(test_deregistered_keys_refused),
		cmocka_unit_test(test_mr_register_errors),
		cmocka_unit_test(test_sq_full_and_unsignaled_slots),
		cmocka_unit_test(test_msg_credits),
		cmocka_unit_test(test_msg_sizes),
		cmocka_unit_test(test_10000_messages_in_order),
		cmocka_unit_test(test_two_threads_echo),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_peer_destroyed),
		cmocka_unit_test(test_outstanding_flushed),
		cmocka_unit_test(test_poll_cq_args),
		cmocka_unit_test(test_many_connections),
	};
	/* BLUETAS_TEST_FILTER=test_wait (a glob) runs only the matching tests. */
	const char *filter = getenv("BLUETAS_TEST_FILTER");
	if (filter && *filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
