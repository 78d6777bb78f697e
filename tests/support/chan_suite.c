/*
 * chan_suite.c: the channel contract tests, once for every backend (see
 * chan_suite.h). Each test gets the backend as its cmocka state, builds
 * pairs through it, and waits by polling: a virtual-time backend's
 * `advance` moves its clock, a real-time one is given wall time, bounded.
 */
#include "chan_suite.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/time.h>

#include "transports/chan_signal.h"
#include "transports/clock.h"

#define RLEN CT_RLEN
#define GUARD CT_GUARD
#define QUIET_MS 5 /* a real-time backend: how long "nothing happens" is watched */

struct fx {
	const struct chan_suite_backend *b;
	struct chan_suite_pair pair;
	void *own_listener; /* the pair's own, where the backend makes pairs only on one */
	struct ct_waiter w; /* {b, &pair}: waits move a virtual-time backend's clock */
	struct chan *host, *nic;
	struct ct_regions r;
	/* Host memory for extra registrations, never the test's stack: ipc
	 * registers host pages in place (a memfd mapped over them), and the
	 * registering thread's own stack frames change while it does so. */
	uint8_t scratch[16];
};

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const struct chan_suite_backend *backend_of(void **state)
{
	const struct chan_suite_backend *b = *state;
	const char *why = b->unavailable ? b->unavailable(b->ctx) : NULL;
	if (why) {
		print_message("%s: %s\n", b->name, why);
		skip();
	}
	return b;
}

/* A listener for the pairs of one test to share, where the backend has
 * one (NULL where it has none: its pairs then come from pair_new). */
static void *listener_new(const struct chan_suite_backend *b, uint32_t sq, uint32_t msg)
{
	if (!b->listener_new)
		return NULL;
	char err[512] = "";
	void *l = b->listener_new(b->ctx, sq, msg, err, sizeof(err));
	if (!l)
		fail_msg("%s: cannot listen: %s", b->name, err);
	return l;
}

static void listener_free(const struct chan_suite_backend *b, void *l)
{
	if (l)
		b->listener_free(b->ctx, l);
}

/* A pair on listener `l` (made with these depths), or, with l NULL, a
 * pair of its own. */
static struct fx *fx_new_on(const struct chan_suite_backend *b, void *l, uint32_t sq, uint32_t msg)
{
	/* Pages of its own: a backend may share the pages of a host region
	 * with its NIC end (ipc maps a memfd over them in place), so nothing
	 * else may live on them while another thread runs. */
	size_t sz = (sizeof(struct fx) + 4095) & ~(size_t)4095;
	struct fx *f = aligned_alloc(4096, sz);
	assert_non_null(f);
	memset(f, 0, sz);
	f->b = b;
	char err[512] = "";
	if (!l && !b->pair_new) /* a listener of its own, freed with it */
		l = f->own_listener = listener_new(b, sq, msg);
	int rc = l ? b->pair_on(b->ctx, l, &f->pair, err, sizeof(err))
		   : b->pair_new(b->ctx, sq, msg, &f->pair, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: cannot make a pair: %s", b->name, err);
	f->w = (struct ct_waiter){.b = b, .pair = &f->pair};
	f->host = f->pair.host;
	f->nic = f->pair.nic;
	ct_regions_register(&f->r, f->host, f->nic);
	return f;
}

static struct fx *fx_new(const struct chan_suite_backend *b, uint32_t sq, uint32_t msg)
{
	return fx_new_on(b, NULL, sq, msg);
}

#define DEFAULT_SQ 8
#define DEFAULT_MSG 4
static struct fx *fx_default(const struct chan_suite_backend *b) { return fx_new(b, DEFAULT_SQ, DEFAULT_MSG); }

static void fx_free(struct fx *f)
{
	f->b->pair_free(f->b->ctx, &f->pair);
	listener_free(f->b, f->own_listener);
	free(f);
}

static uint8_t *nreg(struct fx *f) { return ct_nreg(&f->r); }

static void assert_guards(struct fx *f) { ct_assert_guards(&f->r); }

/* The link is in the error state from both ends. */
static void expect_broken(struct fx *f)
{
	uint8_t m[4] = {0};
	ct_wait_disconnected(&f->w, f->host);
	ct_wait_disconnected(&f->w, f->nic);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 4, 99, CHAN_WR_SIGNALED),
			 CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_read(f->nic, L(&f->r.nmr, 0), R(&f->r.hrem, 0), 4, 99, CHAN_WR_SIGNALED),
			 CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_msg(f->host, m, sizeof(m)), CHAN_EDISCONNECTED);
	assert_int_equal(chan_post_msg(f->nic, m, sizeof(m)), CHAN_EDISCONNECTED);
	assert_int_equal(chan_next_event_ns(f->host), BT_TIME_NEVER);
}

static void check_refused(struct fx *f, struct chan *ch)
{
	if (f->b->check_refused)
		f->b->check_refused(f->b->ctx, &f->pair, ch);
}

/* A refused remote write: one EACCESS completion though unsignaled,
 * memory untouched, link broken. */
static void expect_refused_write(struct fx *f, const struct chan_remote_mr *rem, uint64_t roff, uint32_t len)
{
	uint8_t before[sizeof(f->r.nmem)];
	memset(f->r.hbuf, 0x11, RLEN);
	memcpy(before, f->r.nmem, sizeof(before));
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(rem, roff), len, 7, 0), CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 7, CHAN_EACCESS, CHAN_OP_WRITE);
	check_refused(f, f->host);
	assert_memory_equal(before, f->r.nmem, sizeof(before));
	expect_broken(f);
}

/* ---- the contract ---- */

static void chan_write_read_roundtrip(void **state)
{
	struct fx *f = fx_default(backend_of(state));
	for (unsigned i = 0; i < RLEN; i++)
		f->r.hbuf[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), RLEN, 1, CHAN_WR_SIGNALED), CHAN_OK);
	struct chan_completion c = ct_wait_cqe(&f->w, f->host);
	assert_int_equal(c.wr_id, 1);
	assert_int_equal(c.status, CHAN_OK);
	assert_int_equal(c.opcode, CHAN_OP_WRITE);
	assert_int_equal(c.len_bytes, RLEN);
	assert_memory_equal(nreg(f), f->r.hbuf, RLEN);
	assert_guards(f);

	uint8_t want[RLEN];
	memcpy(want, f->r.hbuf, RLEN);
	memset(f->r.hbuf, 0, RLEN);
	assert_int_equal(chan_post_read(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), RLEN, 2, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 2, CHAN_OK, CHAN_OP_READ);
	assert_memory_equal(f->r.hbuf, want, RLEN);

	/* The other direction: the NIC writes into host memory at an offset. */
	memset(nreg(f), 0x5c, 16);
	assert_int_equal(chan_post_write(f->nic, L(&f->r.nmr, 0), R(&f->r.hrem, 100), 16, 3, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&f->w, f->nic, 3, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(f->r.hbuf + 100, 0x5c, 16);
	assert_int_equal(f->r.hbuf[99], want[99]);
	assert_int_equal(f->r.hbuf[116], want[116]);
	ct_expect_no_cqe(&f->w, f->host);
	fx_free(f);
}

/* Many packets per operation, odd offsets and lengths: byte exact. */
static void chan_large_transfers(void **state)
{
	struct fx *f = fx_default(backend_of(state));
	enum { BIG = 1 << 20 };
	/* Host-end buffers on pages of their own: a backend may share the
	 * whole pages of a host region with its NIC end (ipc does). */
	uint8_t *a = aligned_alloc(4096, BIG), *b = calloc(1, BIG), *back = aligned_alloc(4096, BIG);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(back);
	memset(back, 0, BIG);
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
	struct chan_remote_mr brem = chan_mr_remote(&bm);
	assert_int_equal(chan_post_write(f->host, L(&am, 3), R(&brem, 5), BIG - 8, 1, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	assert_memory_equal(b + 5, a + 3, BIG - 8);
	assert_int_equal(b[4], 0);
	assert_int_equal(b[BIG - 3], 0);
	assert_int_equal(chan_post_read(f->host, L(&backm, 0), R(&brem, 0), BIG, 2, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 2, CHAN_OK, CHAN_OP_READ);
	assert_memory_equal(back, b, BIG);
	assert_int_equal(chan_mr_deregister(f->host, &am), CHAN_OK);
	assert_int_equal(chan_mr_deregister(f->host, &backm), CHAN_OK);
	assert_int_equal(chan_mr_deregister(f->nic, &bm), CHAN_OK);
	free(a);
	free(b);
	free(back);
	fx_free(f);
}

static void chan_order_last_write_wins(void **state)
{
	struct fx *f = fx_new(backend_of(state), 64, 4);
	memset(f->r.hbuf, 'A', 16);
	memset(f->r.hbuf + 16, 'B', 16);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 40), 16, 1, CHAN_WR_SIGNALED), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 16), R(&f->r.nrem, 40), 16, 2, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	ct_expect_cqe(&f->w, f->host, 2, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(nreg(f) + 40, 'B', 16);

	/* 60 overlapping writes, only the last signaled: its completion
	 * implies all, and the last one's bytes are what stays. */
	for (unsigned i = 0; i < 60; i++)
		f->r.hbuf[100 + i] = (uint8_t)(i + 1);
	for (unsigned i = 0; i < 60; i++)
		assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 100 + i), R(&f->r.nrem, 200), 1, 10 + i,
						 i == 59 ? CHAN_WR_SIGNALED : 0),
				 CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 69, CHAN_OK, CHAN_OP_WRITE);
	assert_int_equal(nreg(f)[200], 60);
	ct_expect_no_cqe(&f->w, f->host);
	fx_free(f);
}

/* The ctxq rule: payload written, then the message; the receiver never
 * sees the message before the payload. 2000 times. */
static void chan_msg_after_write_sees_write(void **state)
{
	struct fx *f = fx_new(backend_of(state), 64, 16);
	uint8_t buf[CHAN_MSG_MAX_BYTES];
	for (uint32_t round = 1; round <= 2000; round++) {
		uint32_t off = (round * 8) % (RLEN - 8);
		memcpy(f->r.hbuf + off, &round, 4);
		uint32_t flags = round % 32 == 0 ? CHAN_WR_SIGNALED : 0;
		assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, off), R(&f->r.nrem, off), 4, round, flags), CHAN_OK);
		uint32_t db[2] = {round, off};
		ct_post_msg_retry(&f->w, f->host, db, sizeof(db), f->nic);
		assert_int_equal(ct_wait_msg(&f->w, f->nic, buf, sizeof(buf)), sizeof(db));
		memcpy(db, buf, sizeof(db));
		assert_int_equal(db[0], round);
		uint32_t seen;
		memcpy(&seen, nreg(f) + db[1], 4);
		if (seen != round)
			fail_msg("round %u: message arrived before the write it follows (saw %u)", round, seen);
		if (flags)
			ct_expect_cqe(&f->w, f->host, round, CHAN_OK, CHAN_OP_WRITE);
	}
	fx_free(f);
}

static void chan_oob_write_breaks_link(void **state)
{
	struct fx *f = fx_default(backend_of(state));
	memset(f->r.hbuf, 0x11, RLEN);
	/* Remote bounds are the remote side's check: the post succeeds. */
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 200), 100, 1, 0), CHAN_OK);
	/* A real-time backend may execute (and fail) WR 1 before the next
	 * posts (a slow emulation, a loaded machine: seen with ipc under
	 * qemu-aarch64): a post after the break is refused with
	 * CHAN_EDISCONNECTED, one before it is flushed. */
	int posted = 1;
	int rc = chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 2, CHAN_WR_SIGNALED);
	if (rc == CHAN_OK) {
		posted++;
		rc = chan_post_read(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 3, 0);
		if (rc == CHAN_OK)
			posted++;
	}
	if (rc != CHAN_OK) {
		assert_null(f->b->advance); /* in virtual time nothing runs between posts */
		assert_int_equal(rc, CHAN_EDISCONNECTED);
	}
	struct chan_completion c[3];
	for (int i = 0; i < posted; i++)
		c[i] = ct_wait_cqe(&f->w, f->host);
	assert_int_equal(c[0].wr_id, 1);
	assert_int_equal(c[0].status, CHAN_EACCESS); /* reported though unsignaled */
	for (int i = 1; i < posted; i++) {
		assert_int_equal(c[i].wr_id, (uint64_t)i + 1);
		assert_int_equal(c[i].status, CHAN_EFLUSHED); /* the read: reported though unsignaled */
	}
	if (posted == 3)
		assert_int_equal(c[2].opcode, CHAN_OP_READ);
	check_refused(f, f->host);
	ct_expect_no_cqe(&f->w, f->host);
	ct_assert_all(nreg(f), 0, RLEN);
	assert_guards(f);
	expect_broken(f);
	fx_free(f);
}

/* The same bound checked the other way: the NIC end's write past the
 * host region is refused, the host's memory untouched. */
static void chan_nic_oob_write_refused(void **state)
{
	struct fx *f = fx_default(backend_of(state));
	memset(f->r.hbuf, 0x22, RLEN);
	assert_int_equal(chan_post_write(f->nic, L(&f->r.nmr, 0), R(&f->r.hrem, RLEN - 4), 8, 1, 0), CHAN_OK);
	ct_expect_cqe(&f->w, f->nic, 1, CHAN_EACCESS, CHAN_OP_WRITE);
	check_refused(f, f->nic);
	ct_assert_all(f->r.hbuf, 0x22, RLEN);
	expect_broken(f);
	fx_free(f);
}

static void chan_wrong_rkey_refused(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	struct fx *f = fx_default(b);
	struct chan_remote_mr bad = f->r.nrem;
	bad.rkey ^= 0x1u;
	expect_refused_write(f, &bad, 0, 8);
	fx_free(f);

	f = fx_default(b);
	bad = f->r.nrem;
	bad.rkey ^= 0x100u;
	expect_refused_write(f, &bad, 0, 8);
	fx_free(f);

	/* Presenting the host's OWN region key to the NIC end reaches nothing. */
	f = fx_default(b);
	expect_refused_write(f, &f->r.hrem, 0, 8);
	ct_assert_all(f->r.hbuf, 0x11, RLEN);
	fx_free(f);
}

/* Isolation: a descriptor of another link's region, exactly as that
 * link's peer holds it, reaches nothing here, whichever end presents it
 * and whether it writes or reads; that link notices nothing and keeps
 * working. The links share a listener where the backend has one (two
 * applications of one daemon; verbs: one device, each link its own
 * protection domain, so the refusal is the device's). */
static void chan_rkey_from_other_link_refused(void **state)
{
	const struct chan_suite_backend *be = backend_of(state);
	void *l = listener_new(be, DEFAULT_SQ, DEFAULT_MSG);
	struct fx *a = fx_new_on(be, l, DEFAULT_SQ, DEFAULT_MSG), *b = fx_new_on(be, l, DEFAULT_SQ, DEFAULT_MSG);
	/* Positive control: B's descriptor works on B. */
	memset(nreg(b), 0x3b, 8);
	assert_int_equal(chan_post_write(b->nic, L(&b->r.nmr, 0), R(&b->r.hrem, 0), 8, 1, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&b->w, b->nic, 1, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(b->r.hbuf, 0x3b, 8);

	/* A's NIC aims at B's host region: refused, B's host memory as it was. */
	uint8_t hb_before[RLEN];
	memcpy(hb_before, b->r.hbuf, RLEN);
	memset(nreg(a), 0x66, RLEN);
	assert_int_equal(chan_post_write(a->nic, L(&a->r.nmr, 0), R(&b->r.hrem, 0), 8, 2, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&a->w, a->nic, 2, CHAN_EACCESS, CHAN_OP_WRITE);
	check_refused(a, a->nic);
	assert_memory_equal(b->r.hbuf, hb_before, RLEN);
	ct_wait_disconnected(&a->w, a->nic);
	ct_wait_disconnected(&a->w, a->host);

	/* A read of it too, from a fresh link C: nothing of B's comes back. */
	struct fx *c = fx_new_on(be, l, DEFAULT_SQ, DEFAULT_MSG);
	assert_int_equal(chan_post_read(c->nic, L(&c->r.nmr, 0), R(&b->r.hrem, 0), 8, 3, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&c->w, c->nic, 3, CHAN_EACCESS, CHAN_OP_READ);
	check_refused(c, c->nic);
	ct_assert_all(nreg(c), 0, RLEN);

	/* The other direction: D's host aims at B's NIC region. */
	struct fx *d = fx_new_on(be, l, DEFAULT_SQ, DEFAULT_MSG);
	uint8_t nb_before[sizeof(b->r.nmem)];
	memcpy(nb_before, b->r.nmem, sizeof(nb_before));
	expect_refused_write(d, &b->r.nrem, 0, 8);
	assert_memory_equal(b->r.nmem, nb_before, sizeof(nb_before));

	/* Link B still works both ways. */
	memset(b->r.hbuf, 3, 8);
	assert_int_equal(chan_post_write(b->host, L(&b->r.hmr, 0), R(&b->r.nrem, 0), 8, 5, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&b->w, b->host, 5, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(nreg(b), 3, 8);
	uint8_t m = 9, buf[CHAN_MSG_MAX_BYTES];
	assert_int_equal(chan_post_msg(b->host, &m, 1), CHAN_OK);
	assert_int_equal(ct_wait_msg(&b->w, b->nic, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 9);

	/* A local key of another link is not a local key here. */
	assert_int_equal(chan_post_write(b->host, L(&a->r.hmr, 0), R(&b->r.nrem, 0), 8, 6, 0), CHAN_ELOCAL);
	fx_free(a);
	fx_free(b);
	fx_free(c);
	fx_free(d);
	listener_free(be, l);
}

/* Many links at once (on one listener, where the backend has one), torn
 * down in any order: each link's writes land in its own region and
 * nothing of one link's teardown reaches the links that remain. */
static void chan_many_links_torn_down_in_any_order(void **state)
{
	const struct chan_suite_backend *be = backend_of(state);
	void *l = listener_new(be, DEFAULT_SQ, DEFAULT_MSG);
	enum { K = 8 };
	struct fx *fs[K];
	for (int i = 0; i < K; i++)
		fs[i] = fx_new_on(be, l, DEFAULT_SQ, DEFAULT_MSG);
	for (int i = 0; i < K; i++) {
		memset(fs[i]->r.hbuf, i + 1, RLEN);
		assert_int_equal(chan_post_write(fs[i]->host, L(&fs[i]->r.hmr, 0), R(&fs[i]->r.nrem, 0), RLEN, (uint64_t)i,
						 CHAN_WR_SIGNALED),
				 CHAN_OK);
	}
	for (int i = 0; i < K; i++) {
		ct_expect_cqe(&fs[i]->w, fs[i]->host, (uint64_t)i, CHAN_OK, CHAN_OP_WRITE);
		ct_assert_all(nreg(fs[i]), (uint8_t)(i + 1), RLEN);
		assert_guards(fs[i]);
	}
	for (int i = K - 1; i >= 0; i -= 2)
		fx_free(fs[i]);
	for (int i = 0; i < K; i += 2) {
		uint8_t m = (uint8_t)i, buf[CHAN_MSG_MAX_BYTES];
		assert_int_equal(chan_post_msg(fs[i]->host, &m, 1), CHAN_OK);
		assert_int_equal(ct_wait_msg(&fs[i]->w, fs[i]->nic, buf, sizeof(buf)), 1);
		assert_int_equal(buf[0], i);
		fx_free(fs[i]);
	}
	listener_free(be, l);
}

static void chan_write_to_read_only_refused(void **state)
{
	struct fx *f = fx_default(backend_of(state));
	uint8_t ro[32];
	memset(ro, 0x3c, sizeof(ro));
	struct chan_mr mr;
	assert_int_equal(chan_mr_register(f->nic, ro, sizeof(ro), CHAN_ACCESS_REMOTE_READ, &mr), CHAN_OK);
	struct chan_remote_mr rem = chan_mr_remote(&mr);
	assert_int_equal(chan_post_read(f->host, L(&f->r.hmr, 0), R(&rem, 0), 32, 1, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 1, CHAN_OK, CHAN_OP_READ);
	ct_assert_all(f->r.hbuf, 0x3c, 32);

	memset(f->r.hbuf, 0, RLEN);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&rem, 0), 32, 2, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 2, CHAN_EACCESS, CHAN_OP_WRITE);
	check_refused(f, f->host);
	ct_assert_all(ro, 0x3c, sizeof(ro));
	expect_broken(f);
	assert_int_equal(chan_mr_deregister(f->nic, &mr), CHAN_OK);
	fx_free(f);
}

static void chan_read_from_write_only_refused(void **state)
{
	struct fx *f = fx_default(backend_of(state));
	uint8_t wo[32];
	memset(wo, 0x6b, sizeof(wo));
	struct chan_mr mr;
	assert_int_equal(chan_mr_register(f->nic, wo, sizeof(wo), CHAN_ACCESS_REMOTE_WRITE, &mr), CHAN_OK);
	struct chan_remote_mr rem = chan_mr_remote(&mr);
	assert_int_equal(chan_post_read(f->host, L(&f->r.hmr, 0), R(&rem, 0), 32, 1, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 1, CHAN_EACCESS, CHAN_OP_READ);
	check_refused(f, f->host);
	ct_assert_all(f->r.hbuf, 0, RLEN); /* nothing leaked into local memory */
	fx_free(f);
}

static void chan_local_only_region_refused(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	for (int op = CHAN_OP_READ; op <= CHAN_OP_WRITE; op++) {
		struct fx *f = fx_default(b);
		uint8_t priv[32];
		memset(priv, 0x5a, sizeof(priv));
		struct chan_mr mr;
		/* What the NIC registers for its staging: LOCAL only. */
		assert_int_equal(chan_mr_register(f->nic, priv, sizeof(priv), CHAN_ACCESS_LOCAL, &mr), CHAN_OK);
		struct chan_remote_mr rem = chan_mr_remote(&mr);
		int rc = op == CHAN_OP_READ ? chan_post_read(f->host, L(&f->r.hmr, 0), R(&rem, 0), 8, 1, CHAN_WR_SIGNALED)
					    : chan_post_write(f->host, L(&f->r.hmr, 0), R(&rem, 0), 8, 1, CHAN_WR_SIGNALED);
		assert_int_equal(rc, CHAN_OK);
		ct_expect_cqe(&f->w, f->host, 1, CHAN_EACCESS, op);
		check_refused(f, f->host);
		ct_assert_all(priv, 0x5a, sizeof(priv));
		ct_assert_all(f->r.hbuf, 0, RLEN);
		assert_int_equal(chan_mr_deregister(f->nic, &mr), CHAN_OK);
		fx_free(f);
	}
}

static void chan_local_errors_at_post(void **state)
{
	struct fx *f = fx_default(backend_of(state));
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 200), R(&f->r.nrem, 0), 100, 1, 0), CHAN_ELOCAL);
	assert_int_equal(chan_post_read(f->host, L(&f->r.hmr, RLEN), R(&f->r.nrem, 0), 1, 1, 0), CHAN_ELOCAL);
	assert_int_equal(chan_post_read(f->host, L(&f->r.hmr, UINT64_MAX - 1), R(&f->r.nrem, 0), 4, 1, 0), CHAN_ELOCAL);
	/* A region of the other end is not a local region here. */
	assert_int_equal(chan_post_write(f->host, L(&f->r.nmr, 0), R(&f->r.nrem, 0), 4, 1, 0), CHAN_ELOCAL);
	struct chan_mr forged = f->r.hmr;
	forged.len_bytes = 1u << 20; /* the table, not the caller's copy, holds the bounds */
	assert_int_equal(chan_post_write(f->host, L(&forged, 0), R(&f->r.nrem, 0), RLEN + 1, 1, 0), CHAN_ELOCAL);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 0, 1, 0), CHAN_EINVAL);
	assert_int_equal(chan_post_write(f->host, L(NULL, 0), R(&f->r.nrem, 0), 4, 1, 0), CHAN_EINVAL);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(NULL, 0), 4, 1, 0), CHAN_EINVAL);

	/* Refused posts consumed nothing and did not break the link. */
	ct_expect_no_cqe(&f->w, f->host);
	memset(f->r.hbuf, 0x77, RLEN);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, RLEN - 4), R(&f->r.nrem, RLEN - 4), 4, 2, CHAN_WR_SIGNALED),
			 CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 2, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(nreg(f) + RLEN - 4, 0x77, 4);
	assert_guards(f);
	fx_free(f);
}

static void chan_remote_offset_overflow_refused(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	struct fx *f = fx_default(b);
	expect_refused_write(f, &f->r.nrem, UINT64_MAX - 1, 4); /* wraps to below the region */
	assert_guards(f);
	fx_free(f);

	f = fx_default(b);
	expect_refused_write(f, &f->r.nrem, RLEN, 1); /* one past the end */
	assert_guards(f);
	fx_free(f);

	f = fx_default(b);
	expect_refused_write(f, &f->r.nrem, RLEN - 3, 4); /* straddles the end */
	assert_guards(f);
	fx_free(f);

	/* Exactly up to the end is fine. */
	f = fx_default(b);
	memset(f->r.hbuf, 1, 4);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, RLEN - 4), 4, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(nreg(f) + RLEN - 4, 1, 4);
	assert_guards(f);
	fx_free(f);
}

/* The remote-address choice (channel.h), as the backend states it. */
static void chan_remote_addr_as_stated(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	struct fx *f = fx_default(b);
	struct chan_info info;
	chan_info(f->host, &info);
	print_message("%s: addr_mode %s\n", b->name, info.addr_mode == CHAN_ADDR_VIRTUAL ? "virtual" : "exact");
	/* The base address as chan_mr_remote gives it always works. */
	memset(f->r.hbuf, 4, 4);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 4, 1, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(&f->w, f->host, 1, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(nreg(f), 4, 4);
	struct chan_remote_mr shifted = f->r.nrem;
	shifted.addr += 1;
	if (info.addr_mode == CHAN_ADDR_VIRTUAL) {
		/* Inside the region: only shifts the window. */
		memset(f->r.hbuf, 5, 4);
		assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&shifted, 0), 4, 2, CHAN_WR_SIGNALED), CHAN_OK);
		ct_expect_cqe(&f->w, f->host, 2, CHAN_OK, CHAN_OP_WRITE);
		assert_int_equal(nreg(f)[0], 4);
		ct_assert_all(nreg(f) + 1, 5, 4);
		struct chan_remote_mr below = f->r.nrem;
		below.addr -= 1; /* one byte before the region: a guard byte */
		expect_refused_write(f, &below, 0, 4);
	} else {
		assert_int_equal(info.addr_mode, CHAN_ADDR_EXACT);
		expect_refused_write(f, &shifted, 0, 4);
	}
	assert_guards(f);
	fx_free(f);
}

static void chan_deregistered_keys_refused(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	struct fx *f = fx_default(b);
	uint8_t extra[32] = {0};
	struct chan_mr mr;
	assert_int_equal(
		chan_mr_register(f->nic, extra, sizeof(extra), CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE, &mr),
		CHAN_OK);
	struct chan_remote_mr rem = chan_mr_remote(&mr);
	assert_int_equal(chan_mr_deregister(f->nic, &mr), CHAN_OK);
	assert_int_equal(chan_mr_deregister(f->nic, &mr), CHAN_EINVAL);
	expect_refused_write(f, &rem, 0, 8);
	ct_assert_all(extra, 0, sizeof(extra));
	fx_free(f);

	/* A deregistered local region is refused at post. */
	f = fx_default(b);
	struct chan_mr old = f->r.hmr;
	assert_int_equal(chan_mr_deregister(f->host, &f->r.hmr), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&old, 0), R(&f->r.nrem, 0), 8, 1, 0), CHAN_ELOCAL);
	assert_int_equal(chan_mr_register(f->host, f->r.hbuf, RLEN, CHAN_ACCESS_LOCAL, &f->r.hmr), CHAN_OK);
	fx_free(f);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* The key choice (channel.h): live keys distinct and nonzero always;
 * never handed out twice unless the backend says keys_reused. */
static void check_distinct(const char *what, uint32_t *k, size_t n)
{
	qsort(k, n, sizeof(*k), cmp_u32);
	if (k[0] == 0)
		fail_msg("a %s is 0", what);
	for (size_t i = 1; i < n; i++)
		if (k[i] == k[i - 1])
			fail_msg("two %ss are 0x%08x", what, k[i]);
}

static void chan_keys_as_stated(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	struct fx *f = fx_default(b);
	struct chan_info info;
	chan_info(f->host, &info);
	enum { N = 40 };
	struct chan_mr live[2 * N];
	uint32_t lk[2 * N + 1], rk[2 * N + 1], ever[2 * N];
	uint8_t *buf = f->scratch;
	for (int i = 0; i < N; i++)
		assert_int_equal(chan_mr_register(f->host, buf, sizeof(f->scratch), CHAN_ACCESS_REMOTE_READ, &live[i]), CHAN_OK);
	/* Registered and dropped in between: their keys are gone. */
	for (int i = 0; i < N; i++) {
		struct chan_mr tmp;
		assert_int_equal(chan_mr_register(f->host, buf, sizeof(f->scratch), CHAN_ACCESS_REMOTE_READ, &tmp), CHAN_OK);
		ever[i] = tmp.rkey;
		assert_int_equal(chan_mr_deregister(f->host, &tmp), CHAN_OK);
	}
	for (int i = N; i < 2 * N; i++) {
		assert_int_equal(chan_mr_register(f->host, buf, sizeof(f->scratch), CHAN_ACCESS_REMOTE_READ, &live[i]), CHAN_OK);
		ever[i] = live[i].rkey;
	}
	for (int i = 0; i < 2 * N; i++) {
		lk[i] = live[i].lkey;
		rk[i] = live[i].rkey;
	}
	lk[2 * N] = f->r.hmr.lkey;
	rk[2 * N] = f->r.hmr.rkey;
	/* Live regions: nonzero, distinct keys (lkey and rkey of one region may be equal). */
	check_distinct("live lkey", lk, 2 * N + 1);
	check_distinct("live rkey", rk, 2 * N + 1);
	if (!info.keys_reused)
		check_distinct("rkey ever handed out", ever, 2 * N);
	print_message("%s: keys_reused=%u\n", b->name, info.keys_reused);
	fx_free(f);
}

static void chan_mr_register_errors(void **state)
{
	struct fx *f = fx_default(backend_of(state));
	uint8_t *buf = f->scratch;
	struct chan_mr mr;
	assert_int_equal(chan_mr_register(f->host, NULL, 16, 0, &mr), CHAN_EINVAL);
	assert_int_equal(chan_mr_register(f->host, buf, 0, 0, &mr), CHAN_EINVAL);
	assert_int_equal(chan_mr_register(f->host, buf, 16, 0x80, &mr), CHAN_EINVAL);
	assert_int_equal(chan_mr_register(f->host, buf, 16, 0, NULL), CHAN_EINVAL);
	assert_int_equal(chan_mr_register(f->host, buf, UINT64_MAX, 0, &mr), CHAN_EINVAL);
	assert_int_equal(chan_mr_deregister(f->host, NULL), CHAN_EINVAL);
	struct chan_mr bogus = f->r.hmr;
	bogus.rkey ^= 1;
	assert_int_equal(chan_mr_deregister(f->host, &bogus), CHAN_EINVAL);
	/* The table is finite: exhaustion is an error, not a crash. Left
	 * registered on purpose: tearing the pair down must clean them up. */
	int rc, n = 0;
	while ((rc = chan_mr_register(f->host, buf, sizeof(f->scratch), 0, &mr)) == CHAN_OK && n < 1000000)
		n++;
	assert_int_equal(rc, CHAN_ENOMEM);
	assert_true(n > 0);
	fx_free(f);
}

static void chan_sq_full_and_unsignaled_slots(void **state)
{
	struct fx *f = fx_new(backend_of(state), 4, 4);
	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, i, 0), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 3, CHAN_WR_SIGNALED), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 4, CHAN_WR_SIGNALED), CHAN_EAGAIN);
	assert_int_equal(chan_post_read(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 4, CHAN_WR_SIGNALED), CHAN_EAGAIN);
	/* Executed but not yet polled: slots are still held. */
	if (f->b->advance)
		f->b->advance(f->b->ctx, &f->pair);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 4, CHAN_WR_SIGNALED), CHAN_EAGAIN);
	/* Messages do not use these slots. */
	uint8_t m = 1, buf[CHAN_MSG_MAX_BYTES];
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_OK);
	assert_int_equal(ct_wait_msg(&f->w, f->nic, buf, sizeof(buf)), 1);
	/* The NIC end has its own send queue. */
	assert_int_equal(chan_post_write(f->nic, L(&f->r.nmr, 0), R(&f->r.hrem, 0), 8, 9, 0), CHAN_OK);
	/* Polling the signaled completion frees it and the three before it. */
	ct_expect_cqe(&f->w, f->host, 3, CHAN_OK, CHAN_OP_WRITE);
	for (uint64_t i = 10; i < 14; i++)
		assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, i, 0), CHAN_OK);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 14, 0), CHAN_EAGAIN);
	/* Without a signaled one the slots never come back (caller's duty). */
	ct_expect_no_cqe(&f->w, f->host);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 14, 0), CHAN_EAGAIN);
	fx_free(f);
}

/* Credits (channel.h): the common rule on every backend, and the timing
 * the backend states. */
static void chan_msg_credits(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	struct fx *f = fx_default(b); /* msg_depth 4 */
	struct chan_info info;
	chan_info(f->host, &info);
	assert_int_equal(info.msg_depth, 4);
	uint8_t m, buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	for (m = 0; m < 4; m++)
		assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_OK);
	/* In flight counts against the credit, not only delivered. */
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	/* The reverse direction has its own credits. */
	m = 0x80;
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);
	assert_int_equal(ct_wait_msg(&f->w, f->nic, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 0);
	m = 4;
	if (info.credit_mode == CHAN_CREDIT_ON_POLL) {
		/* Taking one message returned its credit at once. */
		assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_OK);
		assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	} else {
		assert_int_equal(info.credit_mode, CHAN_CREDIT_DEFERRED);
		/* Taking one of four need not return a credit yet. */
		assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	}
	/* Everything taken, both ends driven: the whole window comes back. */
	uint8_t next = info.credit_mode == CHAN_CREDIT_ON_POLL ? 5 : 4;
	for (uint8_t want = 1; want < next; want++) {
		assert_int_equal(ct_wait_msg(&f->w, f->nic, buf, sizeof(buf)), 1);
		assert_int_equal(buf[0], want);
	}
	for (m = next; m < next + 4; m++)
		ct_post_msg_retry(&f->w, f->host, &m, 1, f->nic);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EAGAIN);
	for (uint8_t want = next; want < next + 4; want++) {
		assert_int_equal(ct_wait_msg(&f->w, f->nic, buf, sizeof(buf)), 1);
		assert_int_equal(buf[0], want);
	}
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 0);
	/* The NIC's own message reaches the host, once. */
	assert_int_equal(ct_wait_msg(&f->w, f->host, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 0x80);
	ct_expect_no_cqe(&f->w, f->host);
	assert_int_equal(chan_poll_msg(f->host, buf, sizeof(buf), &len), 0);
	print_message("%s: credit_mode %s\n", b->name, info.credit_mode == CHAN_CREDIT_ON_POLL ? "on-poll" : "deferred");
	fx_free(f);
}

static void chan_msg_sizes(void **state)
{
	struct fx *f = fx_default(backend_of(state));
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
	uint64_t deadline = ct_deadline_ms(CHAN_SUITE_WAIT_MS);
	int rc;
	while ((rc = chan_poll_msg(f->nic, buf, CHAN_MSG_MAX_BYTES - 1, &len)) == 0)
		ct_step(&f->w, deadline, "no message");
	assert_int_equal(rc, CHAN_EINVAL);
	assert_int_equal(chan_poll_msg(f->nic, buf, sizeof(buf), &len), 1);
	assert_int_equal(len, CHAN_MSG_MAX_BYTES);
	for (unsigned i = 0; i < CHAN_MSG_MAX_BYTES; i++)
		assert_int_equal(buf[i], i);
	fx_free(f);
}

/* 2000 messages each way, every length 1..64, in order, none lost or
 * doubled, through a 4-deep window. */
static void chan_messages_in_order(void **state)
{
	struct fx *f = fx_default(backend_of(state));
	enum { N = 2000 };
	uint32_t sent[2] = {0, 0}, got[2] = {0, 0};
	struct chan *end[2] = {f->host, f->nic};
	uint64_t deadline = ct_deadline_ms(CHAN_SUITE_WAIT_MS * 3);
	while (got[0] < N || got[1] < N) {
		for (int s = 0; s < 2; s++) {
			if (sent[s] < N) {
				uint8_t m[CHAN_MSG_MAX_BYTES];
				uint32_t len = 1 + sent[s] % CHAN_MSG_MAX_BYTES;
				for (uint32_t i = 0; i < len; i++)
					m[i] = (uint8_t)(sent[s] * 31 + i + s);
				int rc = chan_post_msg(end[s], m, len);
				if (rc == CHAN_OK)
					sent[s]++;
				else if (rc != CHAN_EAGAIN)
					fail_msg("post_msg: %s", chan_err_name(rc));
			}
			uint8_t buf[CHAN_MSG_MAX_BYTES];
			uint32_t len;
			int r = 1 - s;
			int rc = chan_poll_msg(end[r], buf, sizeof(buf), &len);
			assert_true(rc >= 0);
			if (rc == 1) {
				uint32_t k = got[s]++;
				if (len != 1 + k % CHAN_MSG_MAX_BYTES)
					fail_msg("message %u from %s: %u bytes, expected %u", k, s ? "nic" : "host", len,
						 1 + k % CHAN_MSG_MAX_BYTES);
				for (uint32_t i = 0; i < len; i++)
					if (buf[i] != (uint8_t)(k * 31 + i + s))
						fail_msg("message %u from %s: byte %u differs", k, s ? "nic" : "host", i);
			}
		}
		ct_step(&f->w, deadline, "messages not all through");
	}
	fx_free(f);
}

static void chan_poll_cq_args(void **state)
{
	struct fx *f = fx_default(backend_of(state));
	struct chan_completion c[2];
	assert_int_equal(chan_poll_cq(f->host, c, 0), 0);
	assert_int_equal(chan_poll_cq(f->host, c, -1), CHAN_EINVAL);
	assert_int_equal(chan_poll_cq(f->host, NULL, 1), CHAN_EINVAL);
	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 4, i, CHAN_WR_SIGNALED), CHAN_OK);
	/* All three done before polling two at a time. */
	struct chan_completion all[3];
	int n = 0;
	uint64_t deadline = ct_deadline_ms(CHAN_SUITE_WAIT_MS);
	while (n < 3) {
		int k = chan_poll_cq(f->host, all + n, 3 - n);
		assert_true(k >= 0);
		n += k;
		if (n < 3)
			ct_step(&f->w, deadline, "no completion");
	}
	assert_int_equal(all[0].wr_id, 0);
	assert_int_equal(all[1].wr_id, 1);
	assert_int_equal(all[2].wr_id, 2);
	for (uint64_t i = 3; i < 6; i++)
		assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 4, i, CHAN_WR_SIGNALED), CHAN_OK);
	struct chan_completion first = ct_wait_cqe(&f->w, f->host);
	assert_int_equal(first.wr_id, 3);
	n = 0;
	while (n == 0) {
		n = chan_poll_cq(f->host, c, 2);
		assert_true(n >= 0);
		if (!n)
			ct_step(&f->w, deadline, "no completion");
	}
	assert_true(n <= 2);
	assert_int_equal(c[0].wr_id, 4);
	if (n == 1)
		ct_expect_cqe(&f->w, f->host, 5, CHAN_OK, CHAN_OP_WRITE);
	else
		assert_int_equal(c[1].wr_id, 5);
	fx_free(f);
}

static void chan_info_states_choices(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	struct fx *f = fx_new(b, 16, 8);
	struct chan_info hi, ni;
	chan_info(f->host, &hi);
	chan_info(f->nic, &ni);
	assert_non_null(hi.backend);
	assert_int_equal(hi.sq_depth, 16);
	assert_int_equal(hi.msg_depth, 8);
	/* Both ends of one link make the same choices. */
	assert_string_equal(hi.backend, ni.backend);
	assert_int_equal(hi.addr_mode, ni.addr_mode);
	assert_int_equal(hi.credit_mode, ni.credit_mode);
	assert_int_equal(hi.keys_reused, ni.keys_reused);
	assert_true(hi.addr_mode == CHAN_ADDR_EXACT || hi.addr_mode == CHAN_ADDR_VIRTUAL);
	assert_true(hi.credit_mode == CHAN_CREDIT_ON_POLL || hi.credit_mode == CHAN_CREDIT_DEFERRED);
	assert_true(hi.keys_reused <= 1);
	fx_free(f);
}

void *ct_post_later(void *arg)
{
	struct ct_poster *pp = arg;
	struct timespec ts = {.tv_sec = pp->delay_ms / 1000, .tv_nsec = (long)(pp->delay_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	uint8_t m = 0x42;
	chan_post_msg(pp->ch, &m, 1);
	return NULL;
}

/* chan_wait in real time: with nothing coming it sleeps out its timeout;
 * a message from the peer (another thread) ends the sleep long before a
 * long timeout, and a completion ready ends it at once. A virtual-time
 * backend's waits are its clock's: skipped there. */
static void chan_wait_sleeps_until_woken(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	if (b->advance) {
		print_message("%s: virtual time, chan_wait does not sleep\n", b->name);
		skip();
	}
	struct fx *f = fx_default(b);
	/* Nothing coming: the timeout. */
	uint64_t t0 = wall_ns();
	assert_int_equal(chan_wait(f->host, 30000000ull), 0);
	uint64_t slept = wall_ns() - t0;
	assert_true(slept >= 25000000ull);
	assert_int_equal(chan_wait(f->host, 0), 0);
	/* A message wakes it long before the timeout. */
	struct ct_poster pp = {.ch = f->nic, .delay_ms = 50};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, ct_post_later, &pp), 0);
	t0 = wall_ns();
	uint8_t buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	int rc = 0;
	while (rc == 0 && wall_ns() - t0 < 5000000000ull) {
		assert_int_equal(chan_wait(f->host, 5000000000ull), 0);
		rc = chan_poll_msg(f->host, buf, sizeof(buf), &len);
	}
	uint64_t woke = wall_ns() - t0;
	pthread_join(t, NULL);
	assert_int_equal(rc, 1);
	assert_int_equal(buf[0], 0x42);
	print_message("%s: chan_wait: 30 ms timeout took %.1f ms; woken by a message after %.1f ms (sent at 50 ms)\n",
		      b->name, (double)slept / 1e6, (double)woke / 1e6);
	assert_true(woke < 2000000000ull);
	if (b->check_woken)
		b->check_woken(b->ctx, &f->pair);
	/* A completion ready: returns at once. */
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 1, CHAN_WR_SIGNALED), CHAN_OK);
	t0 = wall_ns();
	struct chan_completion c;
	int n = 0;
	while (n == 0 && wall_ns() - t0 < 5000000000ull) {
		assert_int_equal(chan_wait(f->host, 5000000000ull), 0);
		n = chan_poll_cq(f->host, &c, 1);
	}
	assert_int_equal(n, 1);
	assert_true(wall_ns() - t0 < 2000000000ull);
	fx_free(f);
}

static void note_handler(int signo)
{
	chan_signal_note(signo);
}

/* A signal handler ends a sleep in chan_wait with CHAN_EINTR, with
 * SA_RESTART or without (ipc and verbs sleep in calls Linux never
 * restarts), and chan_signal_restarts then says what a blocking socket
 * call does: go on after the SA_RESTART handler (unless the call has a
 * timeout of its own), return EINTR after the other. Verbs returned 0
 * here (its ppoll's EINTR swallowed), so a blocking call over verbs slept
 * through every handler. */
static void chan_wait_interrupted_by_a_handler(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	if (b->advance) {
		print_message("%s: virtual time, chan_wait does not sleep\n", b->name);
		skip();
	}
	struct fx *f = fx_default(b);
	struct sigaction before;
	assert_int_equal(sigaction(SIGALRM, NULL, &before), 0);
	for (int restart = 0; restart <= 1; restart++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = note_handler;
		sa.sa_flags = restart ? SA_RESTART : 0;
		sigemptyset(&sa.sa_mask);
		assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
		chan_signal_take();
		struct itimerval in_50ms = {.it_value = {.tv_usec = 50000}};
		uint64_t t0 = wall_ns();
		assert_int_equal(setitimer(ITIMER_REAL, &in_50ms, NULL), 0);
		int rc = chan_wait(f->host, 3000000000ull);
		uint64_t took = wall_ns() - t0;
		uint64_t ran = chan_signal_take();
		print_message("%s: chan_wait with a SIGALRM handler %s SA_RESTART after 50 ms: %s after %.1f ms\n", b->name,
			      restart ? "with" : "without", chan_err_name(rc), (double)took / 1e6);
		assert_int_equal(rc, CHAN_EINTR);
		assert_true(took < 2000000000ull);
		assert_true(ran == 1ull << (SIGALRM - 1));
		assert_int_equal(chan_signal_restarts(ran, false), restart);
		assert_false(chan_signal_restarts(ran, true)); /* SO_RCVTIMEO: never restarted */
		assert_false(chan_signal_restarts(0, false));  /* a handler nobody noted: EINTR */
	}
	assert_int_equal(sigaction(SIGALRM, &before, NULL), 0);
	fx_free(f);
}

/* A handler that ran after the caller's take but before the wait (the
 * window between a blocking call's last look at its handlers and its
 * sleep) ends the wait at once with CHAN_EINTR: the kernel's call would
 * have been asleep when it ran. Before, the wait slept to its timeout
 * (the preload caps a sleep at 200 ms, so the call ended that late). */
static void chan_wait_sees_a_handler_that_ran_before_it(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	if (b->advance) {
		print_message("%s: virtual time, chan_wait does not sleep\n", b->name);
		skip();
	}
	struct fx *f = fx_default(b);
	struct sigaction sa, before;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = note_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &before), 0);
	chan_signal_take();
	assert_int_equal(raise(SIGUSR1), 0); /* the handler runs before raise returns */
	assert_true(chan_signal_pending());
	uint64_t t0 = wall_ns();
	int rc = chan_wait(f->host, 3000000000ull);
	uint64_t took = wall_ns() - t0;
	print_message("%s: chan_wait after a handler ran: %s after %.3f ms\n", b->name, chan_err_name(rc),
		      (double)took / 1e6);
	assert_int_equal(rc, CHAN_EINTR);
	assert_true(took < 1000000000ull);
	assert_true(chan_signal_take() == 1ull << (SIGUSR1 - 1));
	assert_false(chan_signal_pending());
	/* Taken: the next wait is not interrupted. */
	assert_int_equal(chan_wait(f->host, 20000000ull), 0);
	assert_int_equal(sigaction(SIGUSR1, &before, NULL), 0);
	fx_free(f);
}

/* Arms, retrying while the backend says "do not sleep" (the previous
 * round's arrival may still be settling); returns the descriptor. */
static int wait_fd_arm_retry(struct chan *ch)
{
	int fd = CHAN_EAGAIN;
	for (uint64_t t0 = wall_ns(); fd == CHAN_EAGAIN && wall_ns() - t0 < 2000000000ull;) {
		fd = chan_wait_fd_arm(ch);
		if (fd == CHAN_EAGAIN) {
			uint8_t buf[CHAN_MSG_MAX_BYTES];
			uint32_t len;
			assert_int_equal(chan_poll_msg(ch, buf, sizeof(buf), &len), 0); /* nothing was sent */
		}
	}
	assert_true(fd >= 0);
	return fd;
}

static int epoll_sleep_ms(int ep, int timeout_ms)
{
	struct epoll_event ev;
	return epoll_wait(ep, &ev, 1, timeout_ms);
}

/* The optional wakeup descriptor (wait_fd_arm/done), where the backend
 * has one: an armed sleep in the caller's epoll_wait runs to its timeout
 * with nothing coming and is woken by the peer's message, three rounds in
 * a row, watched edge-triggered by one epoll instance that is never
 * read, as the preload does (an event taken by done, the next arm asks
 * again); an arm with a
 * message waiting says do not sleep. A backend whose arm does not ask for
 * the signal (verbs: ibv_req_notify_cq) leaves the sleep to its 5 s
 * timeout and fails here. A backend that can mute its NIC end's signal
 * (mute_wake_fd) also gets the negative control: muted, a sleep with a
 * message arriving runs to its timeout. */
static void chan_wait_fd_woken(void **state)
{
	const struct chan_suite_backend *b = backend_of(state);
	struct fx *f = fx_default(b);
	if (!chan_has_wait_fd(f->host)) {
		fx_free(f);
		print_message("%s: no wakeup descriptor (wait_fd_arm NULL)\n", b->name);
		skip();
		return;
	}
	uint8_t buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	int ep = epoll_create1(EPOLL_CLOEXEC), wfd = -1;
	assert_true(ep >= 0);
	for (int round = 0; round < 3; round++) {
		int fd = wait_fd_arm_retry(f->host);
		if (round == 0) {
			wfd = fd;
			struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
			assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
		}
		assert_int_equal(fd, wfd);
		assert_int_equal(epoll_sleep_ms(ep, 20), 0);
		struct ct_poster pp = {.ch = f->nic, .delay_ms = 30};
		pthread_t t;
		assert_int_equal(pthread_create(&t, NULL, ct_post_later, &pp), 0);
		uint64_t t0 = wall_ns();
		int k = epoll_sleep_ms(ep, 5000);
		uint64_t woke = wall_ns() - t0;
		pthread_join(t, NULL);
		chan_wait_fd_done(f->host);
		assert_int_equal(k, 1);
		assert_true(woke < 2000000000ull);
		int rc = 0;
		for (t0 = wall_ns(); rc == 0 && wall_ns() - t0 < 2000000000ull;)
			rc = chan_poll_msg(f->host, buf, sizeof(buf), &len);
		assert_int_equal(rc, 1);
		assert_int_equal(buf[0], 0x42);
		if (round == 0)
			print_message("%s: wait_fd: woken by a message after %.1f ms (sent at 30 ms)\n", b->name,
				      (double)woke / 1e6);
	}
	if (b->check_fd_woken)
		b->check_fd_woken(b->ctx, &f->pair, 3);
	/* Something waiting already: do not sleep. */
	ct_post_msg_retry(NULL, f->nic, "x", 1, NULL);
	int rc;
	uint64_t t0 = wall_ns();
	while ((rc = chan_wait_fd_arm(f->host)) >= 0 && wall_ns() - t0 < 2000000000ull)
		chan_wait_fd_done(f->host); /* not arrived yet */
	assert_int_equal(rc, CHAN_EAGAIN);
	assert_int_equal(chan_poll_msg(f->host, buf, sizeof(buf), &len), 1);
	if (b->mute_wake_fd) {
		/* Negative control: with the NIC's signal muted, the same sleep
		 * is ended only by its timeout although a message arrived. */
		b->mute_wake_fd(b->ctx, &f->pair);
		assert_true(wait_fd_arm_retry(f->host) >= 0);
		ct_post_msg_retry(NULL, f->nic, "y", 1, NULL);
		assert_int_equal(epoll_sleep_ms(ep, 100), 0);
		chan_wait_fd_done(f->host);
		for (rc = 0, t0 = wall_ns(); rc == 0 && wall_ns() - t0 < 2000000000ull;)
			rc = chan_poll_msg(f->host, buf, sizeof(buf), &len);
		assert_int_equal(rc, 1);
	}
	close(ep);
	fx_free(f);
}

size_t chan_suite_tests(const struct chan_suite_backend *b, struct CMUnitTest *out, size_t cap)
{
	void *st = (void *)(uintptr_t)b; /* cmocka's state is not const */
	const struct CMUnitTest all[CHAN_SUITE_TESTS] = {
		cmocka_unit_test_prestate(chan_info_states_choices, st),
		cmocka_unit_test_prestate(chan_write_read_roundtrip, st),
		cmocka_unit_test_prestate(chan_large_transfers, st),
		cmocka_unit_test_prestate(chan_order_last_write_wins, st),
		cmocka_unit_test_prestate(chan_msg_after_write_sees_write, st),
		cmocka_unit_test_prestate(chan_oob_write_breaks_link, st),
		cmocka_unit_test_prestate(chan_nic_oob_write_refused, st),
		cmocka_unit_test_prestate(chan_wrong_rkey_refused, st),
		cmocka_unit_test_prestate(chan_rkey_from_other_link_refused, st),
		cmocka_unit_test_prestate(chan_many_links_torn_down_in_any_order, st),
		cmocka_unit_test_prestate(chan_write_to_read_only_refused, st),
		cmocka_unit_test_prestate(chan_read_from_write_only_refused, st),
		cmocka_unit_test_prestate(chan_local_only_region_refused, st),
		cmocka_unit_test_prestate(chan_local_errors_at_post, st),
		cmocka_unit_test_prestate(chan_remote_offset_overflow_refused, st),
		cmocka_unit_test_prestate(chan_remote_addr_as_stated, st),
		cmocka_unit_test_prestate(chan_deregistered_keys_refused, st),
		cmocka_unit_test_prestate(chan_keys_as_stated, st),
		cmocka_unit_test_prestate(chan_mr_register_errors, st),
		cmocka_unit_test_prestate(chan_sq_full_and_unsignaled_slots, st),
		cmocka_unit_test_prestate(chan_msg_credits, st),
		cmocka_unit_test_prestate(chan_msg_sizes, st),
		cmocka_unit_test_prestate(chan_messages_in_order, st),
		cmocka_unit_test_prestate(chan_poll_cq_args, st),
		cmocka_unit_test_prestate(chan_wait_sleeps_until_woken, st),
		cmocka_unit_test_prestate(chan_wait_interrupted_by_a_handler, st),
		cmocka_unit_test_prestate(chan_wait_sees_a_handler_that_ran_before_it, st),
		cmocka_unit_test_prestate(chan_wait_fd_woken, st),
	};
	size_t n = 0;
	for (; n < CHAN_SUITE_TESTS && n < cap; n++)
		out[n] = all[n];
	return n;
}

/* ---- helpers the suite and each backend's own tests share ---- */

void ct_regions_register(struct ct_regions *r, struct chan *host, struct chan *nic)
{
	memset(r->nmem, CT_GUARD_BYTE, sizeof(r->nmem));
	memset(r->nmem + CT_GUARD, 0, CT_RLEN);
	uint32_t rw = CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE;
	assert_int_equal(chan_mr_register(host, r->hbuf, CT_RLEN, rw, &r->hmr), CHAN_OK);
	assert_int_equal(chan_mr_register(nic, r->nmem + CT_GUARD, CT_RLEN, rw, &r->nmr), CHAN_OK);
	r->nrem = chan_mr_remote(&r->nmr);
	r->hrem = chan_mr_remote(&r->hmr);
}

void ct_regions_destroy_ends(struct ct_regions *r, struct chan *host, struct chan *nic)
{
	if (host) {
		chan_mr_deregister(host, &r->hmr);
		chan_destroy(host);
	}
	if (nic) {
		chan_mr_deregister(nic, &r->nmr);
		chan_destroy(nic);
	}
}

void ct_assert_guards(const struct ct_regions *r)
{
	for (unsigned i = 0; i < CT_GUARD; i++) {
		assert_int_equal(r->nmem[i], CT_GUARD_BYTE);
		assert_int_equal(r->nmem[CT_GUARD + CT_RLEN + i], CT_GUARD_BYTE);
	}
}

void ct_assert_all(const uint8_t *p, uint8_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], v);
}

uint64_t ct_deadline_ms(unsigned ms) { return wall_ns() + (uint64_t)ms * 1000000ull; }

void ct_step(const struct ct_waiter *w, uint64_t deadline, const char *what)
{
	if (w && w->b->advance)
		w->b->advance(w->b->ctx, w->pair);
	if (wall_ns() > deadline) {
		if (w)
			fail_msg("%s: %s within %d ms", w->b->name, what, CHAN_SUITE_WAIT_MS);
		fail_msg("%s within %d ms", what, CHAN_SUITE_WAIT_MS);
	}
}

struct chan_completion ct_wait_cqe(const struct ct_waiter *w, struct chan *ch)
{
	struct chan_completion c;
	uint64_t deadline = ct_deadline_ms(CHAN_SUITE_WAIT_MS);
	for (;;) {
		int n = chan_poll_cq(ch, &c, 1);
		assert_true(n >= 0);
		if (n == 1)
			return c;
		ct_step(w, deadline, "no completion");
	}
}

void ct_expect_cqe(const struct ct_waiter *w, struct chan *ch, uint64_t wr_id, int status, int opcode)
{
	struct chan_completion c = ct_wait_cqe(w, ch);
	if (c.wr_id != wr_id || c.status != status || c.opcode != opcode)
		fail_msg("completion wr_id=%" PRIu64 " status=%s opcode=%u, expected wr_id=%" PRIu64 " %s opcode=%d",
			 c.wr_id, chan_err_name(c.status), c.opcode, wr_id, chan_err_name(status), opcode);
}

void ct_expect_no_cqe(const struct ct_waiter *w, struct chan *ch)
{
	struct chan_completion c;
	if (w && w->b->advance) {
		w->b->advance(w->b->ctx, w->pair);
		assert_int_equal(chan_poll_cq(ch, &c, 1), 0);
		return;
	}
	uint64_t until = ct_deadline_ms(QUIET_MS);
	while (wall_ns() < until)
		assert_int_equal(chan_poll_cq(ch, &c, 1), 0);
}

uint32_t ct_wait_msg(const struct ct_waiter *w, struct chan *ch, void *buf, uint32_t cap)
{
	uint32_t len = 0;
	uint64_t deadline = ct_deadline_ms(CHAN_SUITE_WAIT_MS);
	for (;;) {
		int rc = chan_poll_msg(ch, buf, cap, &len);
		if (rc == 1)
			return len;
		if (rc < 0)
			fail_msg("poll_msg: %s", chan_err_name(rc));
		ct_step(w, deadline, "no message");
	}
}

void ct_post_msg_retry(const struct ct_waiter *w, struct chan *ch, const void *m, uint32_t len, struct chan *peer)
{
	uint64_t deadline = ct_deadline_ms(CHAN_SUITE_WAIT_MS);
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
		ct_step(w, deadline, "no credit");
	}
}

void ct_wait_disconnected(const struct ct_waiter *w, struct chan *ch)
{
	uint8_t buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	uint64_t deadline = ct_deadline_ms(CHAN_SUITE_WAIT_MS);
	for (;;) {
		int rc = chan_poll_msg(ch, buf, sizeof(buf), &len);
		if (rc == CHAN_EDISCONNECTED)
			return;
		assert_true(rc >= 0);
		ct_step(w, deadline, "the break was not seen");
	}
}
