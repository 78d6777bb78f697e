/*
 * test_shm_chan.c: the shm backend against the channel contract
 * (transports/channel.h), with a fake clock so every due time is exact.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "transports/channel.h"
#include "transports/clock.h"
#include "transports/shm/shm_chan.h"

#define RLEN 256u  /* every test region */
#define GUARD 64u  /* bytes either side of the NIC region that must never change */
#define GUARD_BYTE 0xA5
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
	uint8_t hbuf[RLEN];
	uint8_t nmem[GUARD + RLEN + GUARD]; /* NIC region is the middle */
	struct chan_mr hmr, nmr;            /* both REMOTE_READ | REMOTE_WRITE */
	struct chan_remote_mr nrem, hrem;   /* as the peer would receive them */
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
	memset(f->nmem, GUARD_BYTE, sizeof(f->nmem));
	memset(f->nmem + GUARD, 0, RLEN);
	uint32_t rw = CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE;
	assert_int_equal(chan_mr_register(f->host, f->hbuf, RLEN, rw, &f->hmr), CHAN_OK);
	assert_int_equal(chan_mr_register(f->nic, f->nmem + GUARD, RLEN, rw, &f->nmr), CHAN_OK);
	f->nrem = remote_of(&f->nmr);
	f->hrem = remote_of(&f->hmr);
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
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 4, 99, CHAN_WR_SIGNALED),
			 CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_read(f->nic, L(&f->nmr, 0), R(&f->hrem, 0), 4, 99, CHAN_WR_SIGNALED),
			 CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_msg(f->host, m, sizeof(m)), CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_msg(f->nic, m, sizeof(m)), CHAN_EDISCONNECTED);
	assert_int_equal(chan_poll_msg(f->host, buf, sizeof(buf), &len), CHAN_EDISCONNECTED);
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), CHAN_EDISCONNECTED);
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);
}

/* A refused remote access: one EACCESS completion even though unsignaled,
 * memory untouched, link broken. */
static void expect_refused_write(struct fx *f, const struct chan_remote_mr *rem, uint64_t roff,
				 uint32_t len)
{
	uint8_t before[sizeof(f->nmem)];
	struct shm_link_stats st0, st;
	shm_link_stats(f->link, &st0);
	memset(f->hbuf, 0x11, RLEN);
	memcpy(before, f->nmem, sizeof(before));
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(rem, roff), len, 7, 0), CHAN_OK);
	f->fc.now += OP_LAT;
	expect_cqe(f->host, 7, CHAN_EACCESS, CHAN_OP_WRITE);
	assert_memory_equal(before, f->nmem, sizeof(before));
	shm_link_stats(f->link, &st);
	assert_int_equal(st.access_errors, st0.access_errors + 1);
	assert_int_equal(st.writes, st0.writes);
	expect_broken(f);
}

static void test_write_read_roundtrip(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	for (unsigned i = 0; i < RLEN; i++)
		f->hbuf[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), RLEN, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now += OP_LAT;
	struct chan_completion c;
	assert_int_equal(chan_poll_cq(f->host, &c, 1), 1);
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
	f->fc.now += OP_LAT;
	expect_cqe(f->host, 2, CHAN_OK, CHAN_OP_READ);
	assert_memory_equal(f->hbuf, want, RLEN);

	/* The other direction: the NIC writes into host memory at an offset. */
	memset(nreg(f), 0x5c, 16);
	assert_int_equal(chan_post_write(f->nic, L(&f->nmr, 0), R(&f->hrem, 100), 16, 3, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now += OP_LAT;
	expect_cqe(f->nic, 3, CHAN_OK, CHAN_OP_WRITE);
	assert_all(f->hbuf + 100, 0x5c, 16);
	assert_int_equal(f->hbuf[99], want[99]);
	assert_int_equal(f->hbuf[116], want[116]);
	fx_free(f);
}

static void test_not_visible_before_latency(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	f->fc.now = 5000;
	memset(f->hbuf, 0x42, RLEN);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 32, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now = 5000 + OP_LAT - 1;
	expect_no_cqe(f->host);
	expect_no_cqe(f->nic);
	assert_all(nreg(f), 0, 32);
	f->fc.now = 5000 + OP_LAT;
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_all(nreg(f), 0x42, 32);

	/* A read does not land in local memory before its completion time. */
	memset(nreg(f), 0x77, 32);
	memset(f->hbuf, 0, RLEN);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 32, 2, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now += OP_LAT - 1;
	expect_no_cqe(f->host);
	assert_all(f->hbuf, 0, 32);
	f->fc.now += 1;
	expect_cqe(f->host, 2, CHAN_OK, CHAN_OP_READ);
	assert_all(f->hbuf, 0x77, 32);
	fx_free(f);
}

static void test_zero_latency_completes_at_next_call(void **state)
{
	(void)state;
	struct shm_link_params p = default_params();
	p.op_latency_ns = 0;
	struct fx *f = fx_new(&p);
	memset(f->hbuf, 9, 8);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_all(nreg(f), 9, 8);
	fx_free(f);
}

static void test_order_last_write_wins(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	memset(f->hbuf, 'A', 16);
	memset(f->hbuf + 16, 'B', 16);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 40), 16, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now += 10; /* posted later but still behind the first: same due or later */
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 16), R(&f->nrem, 40), 16, 2, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now += 2 * OP_LAT;
	struct chan_completion c[4];
	assert_int_equal(chan_poll_cq(f->host, c, 4), 2);
	assert_int_equal(c[0].wr_id, 1);
	assert_int_equal(c[1].wr_id, 2);
	assert_all(nreg(f) + 40, 'B', 16);
	fx_free(f);
}

static void test_msg_after_write_sees_write(void **state)
{
	(void)state;
	struct shm_link_params p = default_params();
	p.msg_latency_ns = 10; /* much faster than the write it follows */
	struct fx *f = fx_new(&p);
	memset(f->hbuf, 0xEE, 64);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 64, 1, 0), CHAN_OK);
	uint8_t doorbell[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, buf[CHAN_MSG_MAX_BYTES];
	uint32_t len = 0;
	assert_int_equal(chan_post_msg(f->host, doorbell, sizeof(doorbell)), CHAN_OK);
	f->fc.now = 10;
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 0);
	f->fc.now = OP_LAT;
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 1);
	assert_int_equal(len, sizeof(doorbell));
	assert_memory_equal(buf, doorbell, sizeof(doorbell));
	assert_all(nreg(f), 0xEE, 64);
	expect_no_cqe(f->host); /* unsignaled success is silent */
	fx_free(f);
}

static void test_oob_write_breaks_link(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	memset(f->hbuf, 0x11, RLEN);
	/* Remote bounds are the remote NIC's check: the post itself succeeds. */
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 200), 100, 1, 0), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 2, CHAN_WR_SIGNALED),
			 CHAN_OK);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 3, 0), CHAN_OK);
	f->fc.now = 500; /* the NIC's op is due after the failure, so it is flushed too */
	assert_int_equal(chan_post_write(f->nic, L(&f->nmr, 0), R(&f->hrem, 0), 8, 4, 0), CHAN_OK);

	f->fc.now = OP_LAT;
	struct chan_completion c[8];
	assert_int_equal(chan_poll_cq(f->host, c, 8), 3);
	assert_int_equal(c[0].wr_id, 1);
	assert_int_equal(c[0].status, CHAN_EACCESS); /* reported though unsignaled */
	assert_int_equal(c[1].wr_id, 2);
	assert_int_equal(c[1].status, CHAN_EFLUSHED);
	assert_int_equal(c[2].wr_id, 3);
	assert_int_equal(c[2].status, CHAN_EFLUSHED);
	assert_int_equal(c[2].opcode, CHAN_OP_READ);
	expect_cqe(f->nic, 4, CHAN_EFLUSHED, CHAN_OP_WRITE);
	expect_no_cqe(f->host);

	assert_all(nreg(f), 0, RLEN);
	assert_guards(f);
	struct shm_link_stats st;
	shm_link_stats(f->link, &st);
	assert_int_equal(st.access_errors, 1);
	assert_int_equal(st.writes, 0);
	expect_broken(f);
	fx_free(f);
}

static void test_wrong_rkey_refused(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	struct chan_remote_mr bad = f->nrem;
	bad.rkey ^= 0x1000u;
	expect_refused_write(f, &bad, 0, 8);
	fx_free(f);

	/* The lkey of the same region is not a remote key. */
	f = fx_default();
	bad = f->nrem;
	bad.rkey = f->nmr.lkey;
	expect_refused_write(f, &bad, 0, 8);
	fx_free(f);

	/* Presenting the host's OWN region key to the NIC end reaches nothing. */
	f = fx_default();
	expect_refused_write(f, &f->hrem, 0, 8);
	assert_all(f->hbuf, 0x11, RLEN);
	fx_free(f);
}

static void test_rkey_from_other_link_refused(void **state)
{
	(void)state;
	struct fx *a = fx_default();
	struct shm_link_params p = default_params();
	p.key_seed = 43;
	struct fx *b = fx_new(&p);
	assert_int_not_equal(a->nmr.rkey, b->nmr.rkey);
	assert_int_not_equal(a->nmr.lkey, b->nmr.lkey);

	/* Link A's host aims at link B's NIC region: it must not reach it, and
	 * link B must not notice anything. */
	expect_refused_write(a, &b->nrem, 0, 8);
	assert_all(nreg(b), 0, RLEN);
	assert_guards(b);
	struct shm_link_stats st;
	shm_link_stats(b->link, &st);
	assert_int_equal(st.access_errors, 0);
	memset(b->hbuf, 3, 8);
	assert_int_equal(chan_post_write(b->host, L(&b->hmr, 0), R(&b->nrem, 0), 8, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	b->fc.now += OP_LAT;
	expect_cqe(b->host, 1, CHAN_OK, CHAN_OP_WRITE);

	/* And a local key from another link is not a local key here. */
	assert_int_equal(chan_post_write(b->host, L(&a->hmr, 0), R(&b->nrem, 0), 8, 2, 0), CHAN_ELOCAL);
	fx_free(a);
	fx_free(b);
}

static void test_write_to_read_only_refused(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	uint8_t ro[32];
	memset(ro, 0x3c, sizeof(ro));
	struct chan_mr mr;
	assert_int_equal(chan_mr_register(f->nic, ro, sizeof(ro), CHAN_ACCESS_REMOTE_READ, &mr), CHAN_OK);
	struct chan_remote_mr rem = remote_of(&mr);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, 0), R(&rem, 0), 32, 1, CHAN_WR_SIGNALED), CHAN_OK);
	f->fc.now += OP_LAT;
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_READ);
	assert_all(f->hbuf, 0x3c, 32);

	memset(f->hbuf, 0, RLEN);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&rem, 0), 32, 2, CHAN_WR_SIGNALED), CHAN_OK);
	f->fc.now += OP_LAT;
	expect_cqe(f->host, 2, CHAN_EACCESS, CHAN_OP_WRITE);
	assert_all(ro, 0x3c, sizeof(ro));
	expect_broken(f);
	fx_free(f);
}

static void test_read_from_write_only_refused(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	uint8_t wo[32];
	memset(wo, 0x6b, sizeof(wo));
	struct chan_mr mr;
	assert_int_equal(chan_mr_register(f->nic, wo, sizeof(wo), CHAN_ACCESS_REMOTE_WRITE, &mr), CHAN_OK);
	struct chan_remote_mr rem = remote_of(&mr);
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, 0), R(&rem, 0), 32, 1, CHAN_WR_SIGNALED), CHAN_OK);
	f->fc.now += OP_LAT;
	expect_cqe(f->host, 1, CHAN_EACCESS, CHAN_OP_READ);
	assert_all(f->hbuf, 0, RLEN); /* nothing leaked into local memory */
	fx_free(f);
}

static void test_local_only_region_refused(void **state)
{
	(void)state;
	for (int op = CHAN_OP_READ; op <= CHAN_OP_WRITE; op++) {
		struct fx *f = fx_default();
		uint8_t priv[32];
		memset(priv, 0x5a, sizeof(priv));
		struct chan_mr mr;
		assert_int_equal(chan_mr_register(f->nic, priv, sizeof(priv), CHAN_ACCESS_LOCAL, &mr), CHAN_OK);
		struct chan_remote_mr rem = remote_of(&mr);
		int rc = op == CHAN_OP_READ
				 ? chan_post_read(f->host, L(&f->hmr, 0), R(&rem, 0), 8, 1, CHAN_WR_SIGNALED)
				 : chan_post_write(f->host, L(&f->hmr, 0), R(&rem, 0), 8, 1, CHAN_WR_SIGNALED);
		assert_int_equal(rc, CHAN_OK);
		f->fc.now += OP_LAT;
		expect_cqe(f->host, 1, CHAN_EACCESS, op);
		assert_all(priv, 0x5a, sizeof(priv));
		assert_all(f->hbuf, 0, RLEN);
		fx_free(f);
	}
}

static void test_local_errors_at_post(void **state)
{
	(void)state;
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
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, RLEN - 4), R(&f->nrem, RLEN - 4), 4, 2,
					 CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now += OP_LAT;
	expect_cqe(f->host, 2, CHAN_OK, CHAN_OP_WRITE);
	fx_free(f);
}

static void test_remote_offset_overflow_refused(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	expect_refused_write(f, &f->nrem, UINT64_MAX - 1, 4);
	assert_guards(f);
	fx_free(f);

	f = fx_default();
	expect_refused_write(f, &f->nrem, RLEN, 1); /* one past the end */
	fx_free(f);

	/* Exactly up to the end is fine. */
	f = fx_default();
	memset(f->hbuf, 1, 4);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, RLEN - 4), 4, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now += OP_LAT;
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_all(nreg(f) + RLEN - 4, 1, 4);
	assert_guards(f);
	fx_free(f);
}

static void test_remote_addr_checked(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	struct chan_remote_mr by_addr = f->nrem;
	by_addr.addr = (uint64_t)(uintptr_t)f->nmr.base;
	memset(f->hbuf, 4, 4);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&by_addr, 0), 4, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now += OP_LAT;
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_all(nreg(f), 4, 4);

	struct chan_remote_mr forged = by_addr;
	forged.addr += 1;
	expect_refused_write(f, &forged, 0, 4);
	fx_free(f);
}

static void test_deregistered_keys_refused(void **state)
{
	(void)state;
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
	fx_free(f);

	/* ... and if deregistered while the op is queued, the op fails locally
	 * rather than touching freed memory. */
	f = fx_default();
	assert_int_equal(chan_post_read(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 1, 0), CHAN_OK);
	assert_int_equal(chan_mr_deregister(f->host, &f->hmr), CHAN_OK);
	f->fc.now += OP_LAT;
	expect_cqe(f->host, 1, CHAN_ELOCAL, CHAN_OP_READ);
	expect_broken(f);
	fx_free(f);
}

static void test_mr_register_errors(void **state)
{
	(void)state;
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

	/* The table is finite: exhaustion is an error, not a crash. */
	int rc, n = 0;
	while ((rc = chan_mr_register(f->host, buf, sizeof(buf), 0, &mr)) == CHAN_OK)
		n++;
	assert_int_equal(rc, CHAN_ENOMEM);
	assert_true(n > 0);
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
	keys[nk++] = f->hmr.lkey;
	keys[nk++] = f->hmr.rkey;
	keys[nk++] = f->nmr.lkey;
	keys[nk++] = f->nmr.rkey;
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
	assert_int_equal(g->hmr.lkey, f->hmr.lkey);
	assert_int_equal(g->nmr.rkey, f->nmr.rkey);
	fx_free(g);
	fx_free(f);
}

static void test_sq_full_and_unsignaled_slots(void **state)
{
	(void)state;
	struct shm_link_params p = default_params();
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
	f->fc.now += OP_LAT;
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 4, CHAN_WR_SIGNALED),
			 CHAN_EAGAIN);
	/* The NIC end has its own send queue. */
	assert_int_equal(chan_post_write(f->nic, L(&f->nmr, 0), R(&f->hrem, 0), 8, 9, 0), CHAN_OK);
	/* Polling the signaled completion frees it and the three before it. */
	expect_cqe(f->host, 3, CHAN_OK, CHAN_OP_WRITE);
	for (uint64_t i = 10; i < 14; i++)
		assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, i, 0), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 14, 0), CHAN_EAGAIN);
	/* Without a signaled one the slots never come back (caller's duty). */
	f->fc.now += OP_LAT;
	expect_no_cqe(f->host);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 14, 0), CHAN_EAGAIN);
	fx_free(f);
}

static void test_msg_credits(void **state)
{
	(void)state;
	struct fx *f = fx_default(); /* msg_depth 4 */
	uint8_t m, buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	for (m = 0; m < 4; m++)
		assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_OK);
	/* In flight counts against the credit, not only delivered. */
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	f->fc.now += MSG_LAT;
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	/* The reverse direction has its own credits. */
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);

	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 1);
	assert_int_equal(buf[0], 0);
	m = 4;
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_OK);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	f->fc.now += MSG_LAT;
	for (uint8_t want = 1; want <= 4; want++) {
		assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 1);
		assert_int_equal(len, 1);
		assert_int_equal(buf[0], want);
	}
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 0);
	assert_int_equal(chan_poll_msg(f->host, buf, sizeof(buf), &len), 1);
	struct shm_link_stats st;
	shm_link_stats(f->link, &st);
	assert_int_equal(st.msgs, 6);
	fx_free(f);
}

static void test_msg_sizes(void **state)
{
	(void)state;
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
	f->fc.now += MSG_LAT;
	/* Too small a buffer leaves the message in place. */
	assert_int_equal(chan_poll_msg(f->nic, buf, CHAN_MSG_MAX_BYTES - 1, &len), CHAN_EINVAL);
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 1);
	assert_int_equal(len, CHAN_MSG_MAX_BYTES);
	for (unsigned i = 0; i < CHAN_MSG_MAX_BYTES; i++)
		assert_int_equal(buf[i], i);
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
	assert_int_equal(chan_post_read(f->host, L(&lmr, 0), R(&f->nrem, 0), 100, 3, CHAN_WR_SIGNALED),
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
	assert_int_equal(chan_post_write(f->nic, L(&nmr, 0), R(&f->hrem, 0), 200, 4, CHAN_WR_SIGNALED), CHAN_OK);
	assert_int_equal(chan_post_read(f->host, L(&lmr, 0), R(&nrem, 0), 1000, 5, CHAN_WR_SIGNALED), CHAN_OK);
	f->fc.now = 300000 + 1600 + 8000 + 100 - 1;
	expect_cqe(f->nic, 4, CHAN_OK, CHAN_OP_WRITE);
	expect_no_cqe(f->host);
	f->fc.now += 1;
	expect_cqe(f->host, 5, CHAN_OK, CHAN_OP_READ);
	fx_free(f);
}

static void test_next_event_ns(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);
	assert_int_equal(chan_next_event_ns(f->nic), BT_TIME_NEVER);
	f->fc.now = 100;
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	assert_int_equal(chan_next_event_ns(f->host), 100 + OP_LAT);
	assert_int_equal(chan_next_event_ns(f->nic), 100 + OP_LAT);
	uint8_t m = 5;
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);
	assert_int_equal(chan_next_event_ns(f->host), 100 + MSG_LAT);
	f->fc.now = 100 + MSG_LAT;
	assert_int_equal(chan_next_event_ns(f->nic), 100 + OP_LAT); /* message delivered */
	f->fc.now = 100 + OP_LAT;
	/* Completions waiting to be polled are not future events. */
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	fx_free(f);
}

static void test_link_break(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	uint8_t m = 0x31, buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	memset(f->hbuf, 0x44, RLEN);
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 8, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	f->fc.now = 600;
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 8), 8, 2, 0), CHAN_OK);
	assert_int_equal(chan_post_read(f->nic, L(&f->nmr, 100), R(&f->hrem, 0), 8, 3, CHAN_WR_SIGNALED),
			 CHAN_OK);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_OK); /* will be lost */
	/* Time passes without a call: what was due before the break happened. */
	f->fc.now = OP_LAT;
	shm_link_break(f->link);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	expect_cqe(f->host, 2, CHAN_EFLUSHED, CHAN_OP_WRITE); /* reported though unsignaled */
	expect_no_cqe(f->host);
	expect_cqe(f->nic, 3, CHAN_EFLUSHED, CHAN_OP_READ);
	assert_all(nreg(f), 0x44, 8);
	assert_all(nreg(f) + 8, 0, 8);
	assert_all(nreg(f) + 100, 0, 8);
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
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 10, 1, 0), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 20, 2, 0), CHAN_OK);
	assert_int_equal(chan_post_read(f->nic, L(&f->nmr, 0), R(&f->hrem, 0), 30, 3, CHAN_WR_SIGNALED), CHAN_OK);
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
	memset(f->hbuf, 8, 4);
	assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 4, 1, CHAN_WR_SIGNALED), CHAN_OK);
	expect_cqe(f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_all(nreg(f), 8, 4);
	assert_null(shm_link_end(f->link, (enum shm_end)2));
	assert_null(shm_link_create(NULL, &f->clk));
	assert_null(shm_link_create(&p, NULL));
	shm_link_destroy(NULL);
	fx_free(f);
}

static void test_poll_cq_args(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	struct chan_completion c[2];
	assert_int_equal(chan_poll_cq(f->host, c, 0), 0);
	assert_int_equal(chan_poll_cq(f->host, c, -1), CHAN_EINVAL);
	assert_int_equal(chan_poll_cq(f->host, NULL, 1), CHAN_EINVAL);
	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(chan_post_write(f->host, L(&f->hmr, 0), R(&f->nrem, 0), 4, i, CHAN_WR_SIGNALED),
				 CHAN_OK);
	f->fc.now += OP_LAT;
	assert_int_equal(chan_poll_cq(f->host, c, 2), 2);
	assert_int_equal(c[0].wr_id, 0);
	assert_int_equal(c[1].wr_id, 1);
	assert_int_equal(chan_poll_cq(f->host, c, 2), 1);
	assert_int_equal(c[0].wr_id, 2);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_roundtrip),
		cmocka_unit_test(test_not_visible_before_latency),
		cmocka_unit_test(test_zero_latency_completes_at_next_call),
		cmocka_unit_test(test_order_last_write_wins),
		cmocka_unit_test(test_msg_after_write_sees_write),
		cmocka_unit_test(test_oob_write_breaks_link),
		cmocka_unit_test(test_wrong_rkey_refused),
		cmocka_unit_test(test_rkey_from_other_link_refused),
		cmocka_unit_test(test_write_to_read_only_refused),
		cmocka_unit_test(test_read_from_write_only_refused),
		cmocka_unit_test(test_local_only_region_refused),
		cmocka_unit_test(test_local_errors_at_post),
		cmocka_unit_test(test_remote_offset_overflow_refused),
		cmocka_unit_test(test_remote_addr_checked),
		cmocka_unit_test(test_deregistered_keys_refused),
		cmocka_unit_test(test_mr_register_errors),
		cmocka_unit_test(test_keys_distinct_nonzero),
		cmocka_unit_test(test_sq_full_and_unsignaled_slots),
		cmocka_unit_test(test_msg_credits),
		cmocka_unit_test(test_msg_sizes),
		cmocka_unit_test(test_bandwidth_serialization),
		cmocka_unit_test(test_next_event_ns),
		cmocka_unit_test(test_link_break),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_info_wait_destroy_defaults),
		cmocka_unit_test(test_poll_cq_args),
		cmocka_unit_test(test_err_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
