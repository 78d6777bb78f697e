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
 *      from the peer/device rather than from a local check);
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
	 * Returns 0, or -1 with a message in err. */
	int (*pair_new)(void *ctx, uint32_t sq_depth, uint32_t msg_depth, struct chan_suite_pair *out, char *err,
			size_t err_len);
	void (*pair_free)(void *ctx, struct chan_suite_pair *p);
	/* Virtual-time backends: move the clock to the next thing due on the
	 * pair. NULL for real-time ones (the suite then polls, bounded by
	 * CHAN_SUITE_WAIT_MS of wall time). */
	void (*advance)(void *ctx, struct chan_suite_pair *p);
	/* Optional: fails the test unless the last access error seen on `ch`
	 * was the peer's refusal (verbs: IBV_WC_REM_ACCESS_ERR). */
	void (*check_refused)(void *ctx, struct chan_suite_pair *p, struct chan *ch);
	/* Optional: a reason to skip every test (e.g. no RDMA device), or NULL. */
	const char *(*unavailable)(void *ctx);
};

#define CHAN_SUITE_WAIT_MS 10000 /* generous: the CI VM may run without KVM */
#define CHAN_SUITE_TESTS 23      /* how many chan_suite_tests writes */

/* Writes the suite's tests for backend `b` (which must outlive the run)
 * into out[0..cap); returns how many (CHAN_SUITE_TESTS, or fewer if cap
 * is smaller). */
size_t chan_suite_tests(const struct chan_suite_backend *b, struct CMUnitTest *out, size_t cap);

#endif
