/*
 * chan_suite.h: the channel conformance suite. One source of contract
 * tests (transports/channel.h) run on every backend: shm in the unit tests
 * (tests/unit/test_shm_chan.c), verbs over Soft-RoCE in the VM and over
 * mlx5 on the first hardware run (tests/rxe/test_verbs_chan.c). The tests
 * hold a backend to the contract, and to the choices it states in
 * chan_info (addr_mode, credit_mode, keys_reused).
 *
 * Pointing it at a new backend (e.g. an ipc channel between processes):
 *   1. write a pair constructor: two connected ends, host and NIC, with the
 *      send-queue and message depths asked for (0 = the backend's default);
 *   2. fill a struct chan_suite_backend (advance: only for a backend in
 *      virtual time; check_refused: optional, to prove the refusal came
 *      from the peer/device rather than from a local check; listener_new,
 *      pair_on, listener_free in place of pair_new, for a backend whose
 *      links are accepted on a listener);
 *   3. in the test binary, append chan_suite_tests(&backend, ...) to its
 *      own cmocka tests and run them as one group:
 *
 *        struct CMUnitTest t[64] = { cmocka_unit_test(test_backend_only), };
 *        size_t n = 1 + chan_suite_tests(&my_backend, t + 1, 63);
 *        return _cmocka_run_group_tests("ipc", t, n, NULL, NULL);
 *
 * The tests' names start with "chan_" so the suite's results read the same
 * on every backend; a backend's own tests keep their "test_" names.
 */
#ifndef BT_TESTS_CHAN_SUITE_H
#define BT_TESTS_CHAN_SUITE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "transports/channel.h"

struct chan_suite_pair {
	struct chan *host, *nic;
	void *priv; /* the backend's */
};

struct chan_suite_backend {
	const char *name;
	void *ctx;
	/* Two connected ends with these depths (0: the backend's default).
	 * Returns 0, or -1 with a message in err. NULL where the backend has
	 * a listener (below): the suite then makes each pair on a listener of
	 * its own. */
	int (*pair_new)(void *ctx, uint32_t sq_depth, uint32_t msg_depth, struct chan_suite_pair *out, char *err,
			size_t err_len);
	void (*pair_free)(void *ctx, struct chan_suite_pair *p);
	/* Optional, all three or none: a listener that several pairs connect
	 * through (ipc: one daemon socket; verbs: one listening id on the NIC
	 * address), so that the tests of many links at once put them side by
	 * side as a daemon holds its applications. pair_on makes a pair on
	 * `listener` with the depths the listener was made with; pair_free
	 * frees such a pair but not its listener, listener_free does that once
	 * its pairs are gone. Without them every pair comes from pair_new
	 * (shm: links share nothing to listen on). Return NULL / -1 with a
	 * message in err. (Two connected ends, as a backend says with
	 * pair_new or with these, make the whole pair constructor.) */
	void *(*listener_new)(void *ctx, uint32_t sq_depth, uint32_t msg_depth, char *err, size_t err_len);
	int (*pair_on)(void *ctx, void *listener, struct chan_suite_pair *out, char *err, size_t err_len);
	void (*listener_free)(void *ctx, void *listener);
	/* Virtual-time backends: move the clock to the next thing due on the
	 * pair. NULL for real-time ones (the suite then polls, bounded by
	 * CHAN_SUITE_WAIT_MS of wall time). */
	void (*advance)(void *ctx, struct chan_suite_pair *p);
	/* Optional: fails the test unless the last access error seen on `ch`
	 * was the peer's refusal (verbs: IBV_WC_REM_ACCESS_ERR). */
	void (*check_refused)(void *ctx, struct chan_suite_pair *p, struct chan *ch);
	/* Optional: checks how the backend woke a sleeping end, once a peer's
	 * message ended chan_wait (ipc: a wakeup syscall was made). */
	void (*check_woken)(void *ctx, struct chan_suite_pair *p);
	/* Optional: checks how a wakeup descriptor was signalled, once a peer's
	 * message ended `rounds` sleeps on it (ipc: that many eventfd writes
	 * by the daemon, that many sleeps counted by the host). */
	void (*check_fd_woken)(void *ctx, struct chan_suite_pair *p, unsigned rounds);
	/* Optional negative control for chan_wait_fd_woken: from now on the
	 * NIC end does not signal the host's wakeup descriptor, so a sleep on
	 * it must run to its timeout (the test proves it can fail). */
	void (*mute_wake_fd)(void *ctx, struct chan_suite_pair *p);
	/* Optional: a reason to skip every test (e.g. no RDMA device), or NULL. */
	const char *(*unavailable)(void *ctx);
};

#define CHAN_SUITE_WAIT_MS 10000 /* generous: the CI VM may run without KVM */
#define CHAN_SUITE_TESTS 28      /* how many chan_suite_tests writes */

/* Writes the suite's tests for backend `b` (which must outlive the run)
 * into out[0..cap); returns how many (CHAN_SUITE_TESTS, or fewer if cap
 * is smaller). */
size_t chan_suite_tests(const struct chan_suite_backend *b, struct CMUnitTest *out, size_t cap);

/* ---- helpers the suite and each backend's own tests share ----
 * Waits pass time through a waiter: NULL is real time (wall clock, each
 * wait bounded by CHAN_SUITE_WAIT_MS); the suite passes its backend and
 * pair, so that a virtual-time backend's clock moves instead. A wait that
 * runs out fails the test naming what did not happen. */
struct ct_waiter {
	const struct chan_suite_backend *b;
	struct chan_suite_pair *pair;
};

static inline struct chan_sge_local L(const struct chan_mr *mr, uint64_t off)
{
	return (struct chan_sge_local){.mr = mr, .off = off};
}
static inline struct chan_sge_remote R(const struct chan_remote_mr *mr, uint64_t off)
{
	return (struct chan_sge_remote){.mr = mr, .off = off};
}
/* The two regions every channel fixture registers: a host buffer, and a
 * NIC region in the middle of guard bytes that must never change; both
 * REMOTE_READ | REMOTE_WRITE, with the descriptors the peer would receive
 * (chan_mr_remote). It lives inside the fixture: ipc registers host pages
 * in place, so a fixture that holds it keeps pages of its own. */
#define CT_RLEN 256u /* each region */
#define CT_GUARD 64u /* bytes either side of the NIC region */
#define CT_GUARD_BYTE 0xA5
struct ct_regions {
	uint8_t hbuf[CT_RLEN];
	uint8_t nmem[CT_GUARD + CT_RLEN + CT_GUARD]; /* NIC region is the middle */
	struct chan_mr hmr, nmr;
	struct chan_remote_mr nrem, hrem;
};
/* Fills the guards, zeroes the NIC region, registers both regions. */
void ct_regions_register(struct ct_regions *r, struct chan *host, struct chan *nic);
/* Deregisters the regions, as a caller must before destroying an end,
 * then destroys the ends; an end already gone (NULL) is passed over. */
void ct_regions_destroy_ends(struct ct_regions *r, struct chan *host, struct chan *nic);
static inline uint8_t *ct_nreg(struct ct_regions *r) { return r->nmem + CT_GUARD; }
/* Neither guard was touched. */
void ct_assert_guards(const struct ct_regions *r);

/* Every one of p[0..n) is v. */
void ct_assert_all(const uint8_t *p, uint8_t v, size_t n);
/* A deadline `ms` from now, for ct_step. */
uint64_t ct_deadline_ms(unsigned ms);
/* One step of waiting: the backend's clock moves, or wall time passes;
 * past `deadline` the test fails with "WHAT within N ms". */
void ct_step(const struct ct_waiter *w, uint64_t deadline, const char *what);
/* The next completion on ch. */
struct chan_completion ct_wait_cqe(const struct ct_waiter *w, struct chan *ch);
/* The next completion on ch is exactly this one. */
void ct_expect_cqe(const struct ct_waiter *w, struct chan *ch, uint64_t wr_id, int status, int opcode);
/* Nothing completes: once the clock ran out of due events, or for a few
 * milliseconds in real time. */
void ct_expect_no_cqe(const struct ct_waiter *w, struct chan *ch);
/* The next message on ch, into buf; returns its length. */
uint32_t ct_wait_msg(const struct ct_waiter *w, struct chan *ch, void *buf, uint32_t cap);
/* Posts, retrying while credits come back; `peer` (or NULL) is polled in
 * between (a deferred-credit backend sends them when its end is polled). */
void ct_post_msg_retry(const struct ct_waiter *w, struct chan *ch, const void *m, uint32_t len, struct chan *peer);
/* ch reports the link broken (CHAN_EDISCONNECTED from poll_msg). */
void ct_wait_disconnected(const struct ct_waiter *w, struct chan *ch);
/* A thread body (pthread_create) that posts a one-byte message on ch
 * after delay_ms: a peer's message arriving while the other side waits. */
struct ct_poster {
	struct chan *ch;
	unsigned delay_ms;
};
void *ct_post_later(void *arg);

#endif
