/*
 * test_shm_chan.c: the shm backend against the channel contract
 * (transports/channel.h): the conformance suite every backend runs
 * (tests/support/chan_suite.c, in virtual time here: its `advance` moves
 * a fake clock to the next due event), then what only shm has: exact due
 * times, bandwidth, link breaks on demand, seeded keys, statistics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transports/chan_fault.h"
#include "transports/channel.h"
#include "transports/clock.h"
#include "transports/shm/shm_chan.h"
#include "tests/support/chan_suite.h"

#define RLEN CT_RLEN
#define GUARD CT_GUARD
#define OP_LAT 1000u
#define MSG_LAT 500u

struct fake_clock {
	uint64_t now;
};
static uint64_t fake_now(void *ctx) { return ((struct fake_clock *)ctx)->now; }

struct fx {
	struct fake_clock fc;
	struct bt_clock clk;
	struct shm_link *link;
	struct chan *host, *nic;
	struct ct_regions r;
};

static struct chan_remote_mr remote_of(const struct chan_mr *m)
{
	return (struct chan_remote_mr){ .addr = 0, .len_bytes = m->len_bytes, .rkey = m->rkey };
}

static struct shm_link_params default_params(void)
{
	return (struct shm_link_params){ .sq_depth = 8, .msg_depth = 4, .op_latency_ns = OP_LAT,
					 .msg_latency_ns = MSG_LAT, .key_seed = 42 };
}

static struct fx *fx_new(const struct shm_link_params *p)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->clk = (struct bt_clock){ .now_ns = fake_now, .ctx = &f->fc };
	f->link = shm_link_create(p, &f->clk);
	assert_non_null(f->link);
	f->host = shm_link_end(f->link, SHM_END_HOST);
	f->nic = shm_link_end(f->link, SHM_END_NIC);
	assert_non_null(f->host);
	assert_non_null(f->nic);
	ct_regions_register(&f->r, f->host, f->nic);
	/* Descriptors as addr 0, which CHAN_ADDR_EXACT also accepts. */
	f->r.nrem = remote_of(&f->r.nmr);
	f->r.hrem = remote_of(&f->r.hmr);
	return f;
}

static struct fx *fx_default(void)
{
	struct shm_link_params p = default_params();
	return fx_new(&p);
}

static void fx_free(struct fx *f)
{
	shm_link_destroy(f->link);
	free(f);
}

static uint8_t *nreg(struct fx *f) { return ct_nreg(&f->r); }

/* Polls exactly one completion and checks it. */
static void expect_cqe(struct chan *ch, uint64_t wr_id, int status, int opcode)
{
	struct chan_completion c;
	assert_int_equal(chan_poll_cq(ch, &c, 1), 1);
	assert_int_equal(c.wr_id, wr_id);
	assert_int_equal(c.status, status);
	assert_int_equal(c.opcode, opcode);
}

static void expect_no_cqe(struct chan *ch)
{
	struct chan_completion c;
	assert_int_equal(chan_poll_cq(ch, &c, 1), 0);
}

/* Checks that the link is in the error state from both ends. */
static void expect_broken(struct fx *f)
{
	uint8_t m[4] = { 0 }, buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 4, 99, CHAN_WR_SIGNALED),
			 CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_read(f->nic, L(&f->r.nmr, 0), R(&f->r.hrem, 0), 4, 99, CHAN_WR_SIGNALED),
			 CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_msg(f->host, m, sizeof(m)), CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_msg(f->nic, m, sizeof(m)), CHAN_EDISCONNECTED);
	assert_int_equal(chan_poll_msg(f->host, buf, sizeof(buf), &len), CHAN_EDISCONNECTED);
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), CHAN_EDISCONNECTED);
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);
}

static void test_not_visible_before_latency(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	f->fc.now = 5000;
	memset(f->r.hbuf, 0x42, RLEN);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 32, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now = 5000 + OP_LAT - 1;
	expect_no_cqe(f->host);
	expect_no_cqe(f->nic);
	ct_assert_all(nreg(f), 0, 32);
	f->fc.now = 5000 + OP_LAT;
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(nreg(f), 0x42, 32);

	/* A read does not land in local memory before its completion time. */
	memset(nreg(f), 0x77, 32);
	memset(f->r.hbuf, 0, RLEN);
	assert_int_equal(chan_post_read(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 32, 2, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now += OP_LAT - 1;
	expect_no_cqe(f->host);
	ct_assert_all(f->r.hbuf, 0, 32);
	f->fc.now += 1;
	expect_cqe(f->host, 2, CHAN_OK, CHAN_OP_READ);
	ct_assert_all(f->r.hbuf, 0x77, 32);
	fx_free(f);
}

static void test_zero_latency_completes_at_next_call(void **state)
{
	(void)state;
	struct shm_link_params p = default_params();
	p.op_latency_ns = 0;
	struct fx *f = fx_new(&p);
	memset(f->r.hbuf, 9, 8);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(nreg(f), 9, 8);
	fx_free(f);
}

/* shm only (the suite has the rest of the key rules): a region
 * deregistered while an op on it is queued fails the op locally instead
 * of touching freed memory. */
static void test_deregistered_while_queued(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	assert_int_equal(chan_post_read(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 1, 0), CHAN_OK);
	assert_int_equal(chan_mr_deregister(f->host, &f->r.hmr), CHAN_OK);
	f->fc.now += OP_LAT;
	expect_cqe(f->host, 1, CHAN_ELOCAL, CHAN_OP_READ);
	expect_broken(f);
	fx_free(f);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static void test_keys_distinct_nonzero(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	enum { N = 300 };
	static const unsigned per = 2 * 2; /* two ends, lkey + rkey */
	uint32_t *keys = calloc(N * per + 4, sizeof(*keys));
	assert_non_null(keys);
	size_t nk = 0;
	keys[nk++] = f->r.hmr.lkey;
	keys[nk++] = f->r.hmr.rkey;
	keys[nk++] = f->r.nmr.lkey;
	keys[nk++] = f->r.nmr.rkey;
	uint8_t buf[8];
	for (int i = 0; i < N; i++) {
		struct chan_mr a, b;
		assert_int_equal(chan_mr_register(f->host, buf, sizeof(buf), 0, &a), CHAN_OK);
		assert_int_equal(chan_mr_register(f->nic, buf, sizeof(buf), 0, &b), CHAN_OK);
		keys[nk++] = a.lkey;
		keys[nk++] = a.rkey;
		keys[nk++] = b.lkey;
		keys[nk++] = b.rkey;
		/* Re-registration after deregistration never hands out an old key. */
		if (i % 2)
			assert_int_equal(chan_mr_deregister(f->host, &a), CHAN_OK);
	}
	qsort(keys, nk, sizeof(*keys), cmp_u32);
	assert_int_not_equal(keys[0], 0);
	for (size_t i = 1; i < nk; i++)
		assert_int_not_equal(keys[i], keys[i - 1]);
	free(keys);

	/* Same seed, same keys: runs are reproducible. */
	struct fx *g = fx_default();
	assert_int_equal(g->r.hmr.lkey, f->r.hmr.lkey);
	assert_int_equal(g->r.nmr.rkey, f->r.nmr.rkey);
	fx_free(g);
	fx_free(f);
}

static void test_bandwidth_serialization(void **state)
{
	(void)state;
	struct shm_link_params p = default_params();
	p.bandwidth_bps = 1000000000ull; /* 1 Gbit/s: 1000 bytes take 8000 ns */
	p.op_latency_ns = 100;
	struct fx *f = fx_new(&p);
	uint8_t big[1000];
	memset(big, 0x21, sizeof(big));
	uint8_t dst[2000] = { 0 };
	struct chan_mr lmr, rmr;
	assert_int_equal(chan_mr_register(f->host, big, sizeof(big), 0, &lmr), CHAN_OK);
	assert_int_equal(chan_mr_register(f->nic, dst, sizeof(dst), CHAN_ACCESS_REMOTE_WRITE, &rmr), CHAN_OK);
	struct chan_remote_mr rem = remote_of(&rmr);
	assert_int_equal(chan_post_write(f->host, L(&lmr, 0), R(&rem, 0), 1000, 1, CHAN_WR_SIGNALED), CHAN_OK);
	/* Back to back: the second waits for the wire, not only the latency. */
	assert_int_equal(chan_post_write(f->host, L(&lmr, 0), R(&rem, 1000), 1000, 2, CHAN_WR_SIGNALED), CHAN_OK);
	uint8_t m = 1, buf[4];
	uint32_t len;
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_OK);
	assert_int_equal(chan_next_event_ns(f->host), 8100);
	f->fc.now = 8099;
	expect_no_cqe(f->host);
	assert_int_equal(dst[0], 0);
	f->fc.now = 8100;
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_int_equal(dst[999], 0x21);
	assert_int_equal(dst[1000], 0);
	assert_int_equal(chan_next_event_ns(f->nic), 16100);
	f->fc.now = 16099;
	expect_no_cqe(f->host);
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 0); /* behind write 2 */
	f->fc.now = 16100;
	expect_cqe(f->host, 2, CHAN_OK, CHAN_OP_WRITE);
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 1);
	assert_int_equal(dst[1999], 0x21);
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);

	/* An idle wire does not delay a later op beyond its own time. */
	f->fc.now = 100000;
	assert_int_equal(chan_post_read(f->host, L(&lmr, 0), R(&f->r.nrem, 0), 100, 3, CHAN_WR_SIGNALED),
			 CHAN_OK);
	assert_int_equal(chan_next_event_ns(f->host), 100000 + 800 + 100);
	f->fc.now = 200000;
	expect_cqe(f->host, 3, CHAN_OK, CHAN_OP_READ);

	/* A READ's data comes back over the peer's direction: it queues behind
	 * the NIC's own big write, while a host WRITE does not. */
	f->fc.now = 300000;
	uint8_t nbig[1000] = { 0 };
	struct chan_mr nmr;
	assert_int_equal(chan_mr_register(f->nic, nbig, sizeof(nbig), CHAN_ACCESS_REMOTE_READ, &nmr), CHAN_OK);
	struct chan_remote_mr nrem = remote_of(&nmr);
	assert_int_equal(chan_post_write(f->nic, L(&nmr, 0), R(&f->r.hrem, 0), 200, 4, CHAN_WR_SIGNALED), CHAN_OK);
	assert_int_equal(chan_post_read(f->host, L(&lmr, 0), R(&nrem, 0), 1000, 5, CHAN_WR_SIGNALED), CHAN_OK);
	f->fc.now = 300000 + 1600 + 8000 + 100 - 1;
	expect_cqe(f->nic, 4, CHAN_OK, CHAN_OP_WRITE);
	expect_no_cqe(f->host);
	f->fc.now += 1;
	expect_cqe(f->host, 5, CHAN_OK, CHAN_OP_READ);
	fx_free(f);
}

/* An operation its target will refuse breaks the link when it executes,
 * which both ends must see then: from its post on, each end's next event
 * is the link's. */
static void test_next_event_ns_of_a_refused_op(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	f->fc.now = 100;
	struct chan_remote_mr forged = f->r.nrem;
	forged.rkey ^= 0x5a5a5a5au;
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&forged, 0), 8, 1, CHAN_WR_SIGNALED), CHAN_OK);
	assert_int_equal(chan_next_event_ns(f->nic), 100 + OP_LAT);
	f->fc.now = 100 + OP_LAT;
	uint8_t buf[4];
	uint32_t len;
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), CHAN_EDISCONNECTED);
	fx_free(f);
}

static void test_next_event_ns(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);
	assert_int_equal(chan_next_event_ns(f->nic), BT_TIME_NEVER);
	f->fc.now = 100;
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	assert_int_equal(chan_next_event_ns(f->host), 100 + OP_LAT);
	/* The host's WRITE: its completion is the host's event, its landing
	 * in NIC memory (which the NIC may poll) the NIC end's. */
	assert_int_equal(chan_next_event_ns(f->nic), 100 + OP_LAT);
	assert_int_equal(chan_next_msg_ns(f->nic), BT_TIME_NEVER); /* no message for the NIC */
	uint8_t m = 5;
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);
	assert_int_equal(chan_next_event_ns(f->host), 100 + MSG_LAT);
	assert_int_equal(chan_next_msg_ns(f->host), 100 + MSG_LAT);
	assert_int_equal(chan_next_event_ns(f->nic), 100 + OP_LAT); /* its own message is the host's */
	f->fc.now = 100 + MSG_LAT;
	assert_int_equal(chan_next_event_ns(f->host), 100 + OP_LAT); /* message delivered */
	f->fc.now = 100 + OP_LAT;
	/* Completions waiting to be polled are not future events. */
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	fx_free(f);
}

/* An unsignaled operation's completion is no event for its poster; an
 * unsignaled WRITE still lands in the peer's memory, the peer's event
 * (but no message: next_msg_ns); a READ is nobody's but its poster's,
 * and only signaled. */
static void test_next_event_ns_of_unsignaled_ops(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	f->fc.now = 100;
	assert_int_equal(chan_post_write(f->nic, L(&f->r.nmr, 0), R(&f->r.hrem, 0), 8, 1, 0), CHAN_OK);
	assert_int_equal(chan_next_event_ns(f->nic), BT_TIME_NEVER);
	assert_int_equal(chan_next_event_ns(f->host), 100 + OP_LAT);
	assert_int_equal(chan_next_msg_ns(f->host), BT_TIME_NEVER);
	f->fc.now = 200;
	assert_int_equal(chan_post_read(f->nic, L(&f->r.nmr, 0), R(&f->r.hrem, 0), 8, 2, 0), CHAN_OK);
	assert_int_equal(chan_next_event_ns(f->nic), BT_TIME_NEVER);
	assert_int_equal(chan_next_event_ns(f->host), 100 + OP_LAT);
	f->fc.now = 300;
	assert_int_equal(chan_post_read(f->nic, L(&f->r.nmr, 0), R(&f->r.hrem, 0), 8, 3, CHAN_WR_SIGNALED), CHAN_OK);
	assert_int_equal(chan_next_event_ns(f->nic), 300 + OP_LAT);
	f->fc.now = 100 + OP_LAT; /* the WRITE landed: nothing more for the host */
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);
	assert_int_equal(chan_next_event_ns(f->nic), 300 + OP_LAT);
	f->fc.now = 300 + OP_LAT;
	/* The signaled READ's completion retires all three: one completion. */
	expect_cqe(f->nic, 3, CHAN_OK, CHAN_OP_READ);
	expect_no_cqe(f->nic);
	assert_int_equal(chan_next_event_ns(f->nic), BT_TIME_NEVER);
	fx_free(f);
}

/* chan_ready answers what the polls would find, without taking it; the
 * fault wrapper passes it through (without that, chan_ready says "maybe
 * both" and the NIC polls every idle channel in full). */
static void test_ready(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	struct bt_clock clk = f->clk;
	struct chan *wrapped = chan_fault_wrap(f->host, false, NULL, NULL, &clk);
	assert_non_null(wrapped);
	assert_int_equal(chan_ready(f->host), 0);
	assert_int_equal(chan_ready(wrapped), 0);
	assert_int_equal(chan_ready(f->nic), 0);
	f->fc.now = 100;
	uint8_t m = 7, buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now = 100 + MSG_LAT - 1;
	assert_int_equal(chan_ready(f->host), 0); /* nothing due yet */
	f->fc.now = 100 + MSG_LAT;
	assert_int_equal(chan_ready(f->host), CHAN_READY_MSG);
	assert_int_equal(chan_ready(wrapped), CHAN_READY_MSG);
	assert_int_equal(chan_ready(f->nic), 0); /* the message is not the NIC's */
	f->fc.now = 100 + OP_LAT;
	assert_int_equal(chan_ready(f->host), CHAN_READY_MSG | CHAN_READY_CQ);
	assert_int_equal(chan_ready(f->host), CHAN_READY_MSG | CHAN_READY_CQ); /* asking takes nothing */
	assert_int_equal(chan_poll_msg(f->host, buf, sizeof(buf), &len), 1);
	assert_int_equal(chan_ready(f->host), CHAN_READY_CQ);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_int_equal(chan_ready(f->host), 0);
	/* A broken link is news for both polls: they report the error. */
	shm_link_break(f->link);
	assert_int_equal(chan_ready(f->host), CHAN_READY_MSG | CHAN_READY_CQ);
	assert_int_equal(chan_ready(wrapped), CHAN_READY_MSG | CHAN_READY_CQ);
	chan_fault_free(wrapped);
	fx_free(f);
}

static void test_link_break(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	uint8_t m = 0x31, buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	memset(f->r.hbuf, 0x44, RLEN);
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now = 600;
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 8), 8, 2, 0), CHAN_OK);
	assert_int_equal(chan_post_read(f->nic, L(&f->r.nmr, 100), R(&f->r.hrem, 0), 8, 3, CHAN_WR_SIGNALED),
			 CHAN_OK);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_OK); /* will be lost */
	/* Time passes without a call: what was due before the break happened. */
	f->fc.now = OP_LAT;
	shm_link_break(f->link);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	expect_cqe(f->host, 2, CHAN_EFLUSHED, CHAN_OP_WRITE); /* reported though unsignaled */
	expect_no_cqe(f->host);
	expect_cqe(f->nic, 3, CHAN_EFLUSHED, CHAN_OP_READ);
	ct_assert_all(nreg(f), 0x44, 8);
	ct_assert_all(nreg(f) + 8, 0, 8);
	ct_assert_all(nreg(f) + 100, 0, 8);
	/* The message that had arrived is still delivered, then the error. */
	assert_int_equal(chan_poll_msg(f->host, buf, sizeof(buf), &len), 1);
	assert_int_equal(buf[0], 0x31);
	expect_broken(f);
	shm_link_break(f->link); /* idempotent */
	expect_no_cqe(f->host);
	struct shm_link_stats st;
	shm_link_stats(f->link, &st);
	assert_int_equal(st.access_errors, 0);
	fx_free(f);
}

static void test_stats(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	uint8_t m = 1;
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 10, 1, 0), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 20, 2, 0), CHAN_OK);
	assert_int_equal(chan_post_read(f->nic, L(&f->r.nmr, 0), R(&f->r.hrem, 0), 30, 3, CHAN_WR_SIGNALED), CHAN_OK);
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);
	f->fc.now += OP_LAT;
	expect_cqe(f->nic, 3, CHAN_OK, CHAN_OP_READ);
	struct shm_link_stats st;
	shm_link_stats(f->link, &st);
	assert_int_equal(st.writes, 2);
	assert_int_equal(st.bytes_written, 30);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.bytes_read, 30);
	assert_int_equal(st.msgs, 1);
	assert_int_equal(st.access_errors, 0);
	fx_free(f);
}

static void test_info_wait_destroy_defaults(void **state)
{
	(void)state;
	struct shm_link_params p = { 0 };
	struct fx *f = fx_new(&p);
	struct chan_info info;
	chan_info(f->host, &info);
	assert_string_equal(info.backend, "shm");
	assert_int_equal(info.sq_depth, 256);
	assert_int_equal(info.msg_depth, 64);
	assert_int_equal(chan_wait(f->nic, 1000000), 0);
	chan_destroy(f->host); /* a no-op: the link owns its ends */
	chan_destroy(f->nic);
	memset(f->r.hbuf, 8, 4);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 4, 1, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(nreg(f), 8, 4);
	assert_null(shm_link_end(f->link, (enum shm_end)2));
	assert_null(shm_link_create(NULL, &f->clk));
	assert_null(shm_link_create(&p, NULL));
	shm_link_destroy(NULL);
	fx_free(f);
}

static void test_err_names(void **state)
{
	(void)state;
	static const int errs[] = { CHAN_OK,     CHAN_EAGAIN,        CHAN_EINVAL,   CHAN_EACCESS, CHAN_ELOCAL,
				    CHAN_ENOMEM, CHAN_EDISCONNECTED, CHAN_EFLUSHED, CHAN_ETOOBIG };
	size_t n = sizeof(errs) / sizeof(errs[0]);
	for (size_t i = 0; i < n; i++) {
		const char *s = chan_err_name(errs[i]);
		assert_non_null(strstr(s, "CHAN_"));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(s, chan_err_name(errs[j]));
	}
	assert_non_null(strstr(chan_err_name(CHAN_EACCESS), "CHAN_EACCESS"));
	assert_string_equal(chan_err_name(42), "unknown");
	assert_string_equal(chan_err_name(-100), "unknown");
}

/* ---- the shm backend for the conformance suite ---- */

struct suite_ctx {
	uint64_t next_seed; /* each pair its own key seed: links never share keys */
};

struct suite_pair {
	struct fake_clock fc;
	struct bt_clock clk;
	struct shm_link *link;
};

static int suite_pair_new(void *ctx, uint32_t sq, uint32_t msg, struct chan_suite_pair *out, char *err, size_t len)
{
	struct suite_ctx *c = ctx;
	struct suite_pair *sp = calloc(1, sizeof(*sp));
	if (!sp) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	sp->clk = (struct bt_clock){ .now_ns = fake_now, .ctx = &sp->fc };
	struct shm_link_params p = default_params();
	p.sq_depth = sq;
	p.msg_depth = msg;
	p.key_seed = ++c->next_seed;
	sp->link = shm_link_create(&p, &sp->clk);
	if (!sp->link) {
		free(sp);
		snprintf(err, len, "shm_link_create failed");
		return -1;
	}
	*out = (struct chan_suite_pair){ .host = shm_link_end(sp->link, SHM_END_HOST),
					 .nic = shm_link_end(sp->link, SHM_END_NIC),
					 .priv = sp };
	return 0;
}

static void suite_pair_free(void *ctx, struct chan_suite_pair *p)
{
	(void)ctx;
	struct suite_pair *sp = p->priv;
	shm_link_destroy(sp->link);
	free(sp);
}

/* The fake clock jumps to whatever is due next on either end. */
static void suite_advance(void *ctx, struct chan_suite_pair *p)
{
	(void)ctx;
	struct suite_pair *sp = p->priv;
	uint64_t a = chan_next_event_ns(p->host), b = chan_next_event_ns(p->nic);
	uint64_t next = a < b ? a : b;
	if (next != BT_TIME_NEVER && next > sp->fc.now)
		sp->fc.now = next;
}

/* The refusal was the link's access check (counted), not a local one. */
static void suite_check_refused(void *ctx, struct chan_suite_pair *p, struct chan *ch)
{
	(void)ctx;
	(void)ch;
	struct shm_link_stats st;
	shm_link_stats(((struct suite_pair *)p->priv)->link, &st);
	assert_true(st.access_errors >= 1);
}

int main(void)
{
	static struct suite_ctx ctx;
	static const struct chan_suite_backend shm = { .name = "shm",
							.ctx = &ctx,
							.pair_new = suite_pair_new,
							.pair_free = suite_pair_free,
							.advance = suite_advance,
							.check_refused = suite_check_refused };
	struct CMUnitTest tests[64] = {
		cmocka_unit_test(test_not_visible_before_latency),
		cmocka_unit_test(test_zero_latency_completes_at_next_call),
		cmocka_unit_test(test_deregistered_while_queued),
		cmocka_unit_test(test_keys_distinct_nonzero),
		cmocka_unit_test(test_bandwidth_serialization),
		cmocka_unit_test(test_next_event_ns),
		cmocka_unit_test(test_next_event_ns_of_unsignaled_ops),
		cmocka_unit_test(test_next_event_ns_of_a_refused_op),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_link_break),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_info_wait_destroy_defaults),
		cmocka_unit_test(test_err_names),
	};
	size_t n = 0;
	while (tests[n].test_func)
		n++;
	n += chan_suite_tests(&shm, tests + n, sizeof(tests) / sizeof(tests[0]) - n);
	return _cmocka_run_group_tests("shm", tests, n, NULL, NULL);
}
