/*
 * test_spin_policy: how long a waiting loop polls before it sleeps
 * (core/util/spin_policy.h), in the two settings that use it.
 *
 * The preload (its default budget, 15 us, up to 30 us, sleep at once
 * past it): a waiter whose events come within the spin keeps spinning;
 * one whose events come far apart stops paying for a spin that never
 * catches anything, and spins again once they come close together. One
 * client over the daemon's path (40 us and more between requests) sleeps
 * at once: with the old 50 us budget it spun ~40 us of CPU per request.
 *
 * `bluetas app` (50 us, up to 2 ms, 50 us past it): gaps shorter than the
 * cap are polled through (a reply ~1 ms away is caught polling, not after
 * a wakeup); longer ones leave the base poll; one stall does not stop it.
 *
 * The negative control in both: the fixed policy (max 0: BLUETAS_SPIN_ADAPT=0,
 * --spin-us) polls its minimum whatever the gaps were.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util/spin_policy.h"

#define US 1000ull
#define BUDGET SPIN_POLICY_PRELOAD_BUDGET_NS

static void preload_policy(struct spin_policy *p)
{
	spin_policy_init_preload(p, BUDGET, true);
}

static void app_policy(struct spin_policy *p)
{
	spin_policy_init(p, 50 * US, 2000 * US, 50 * US);
}

/* How many gaps of gap_ns until the policy spins (spin != 0) or sleeps at
 * once (spin == 0) as `spinning` says, or -1 when 100 do not get there. */
static int gaps_until(struct spin_policy *p, uint64_t gap_ns, bool spinning)
{
	for (int i = 0; i < 100; i++) {
		if ((spin_policy_spin_ns(p) != 0) == spinning)
			return i;
		spin_policy_learn(p, gap_ns);
	}
	return -1;
}

static void test_preload_keeps_spinning_for_close_events(void **state)
{
	(void)state;
	struct spin_policy p;
	preload_policy(&p);
	assert_int_equal(spin_policy_spin_ns(&p), BUDGET); /* nothing learnt yet */
	for (int i = 0; i < 1000; i++)
		spin_policy_learn(&p, 5 * US); /* caught by the spin (50 clients) */
	assert_int_equal(spin_policy_spin_ns(&p), BUDGET);
	for (int i = 0; i < 1000; i++)
		spin_policy_learn(&p, BUDGET + BUDGET / 2); /* just past it: a longer spin catches it */
	assert_true(spin_policy_spin_ns(&p) >= BUDGET + BUDGET / 2);
	assert_true(spin_policy_spin_ns(&p) <= 2 * BUDGET);
}

/* redis-server at one client over the daemon (make bench-apps): 40 us or
 * more from the reply to the next request. Spinning through that costs
 * the whole gap in CPU per request, about 3x what a sleep and its wakeup
 * cost, and bought no requests/s: the default sleeps at once there, and
 * still spins for gaps of a few microseconds. Fails with the old 50 us
 * budget (it spun 62.5 us). */
static void test_preload_one_client_over_the_daemon_sleeps_at_once(void **state)
{
	(void)state;
	struct spin_policy p;
	preload_policy(&p);
	int n = gaps_until(&p, 40 * US, false);
	assert_true(n >= 1 && n <= 8);
	for (int i = 0; i < 1000; i++)
		spin_policy_learn(&p, 40 * US);
	assert_int_equal(spin_policy_spin_ns(&p), 0);
	n = gaps_until(&p, 3 * US, true);
	assert_true(n >= 1 && n <= 8);
}

/* One client at a time over a slow path: 240 us between requests. Within
 * a few waits the spin stops; a burst of close events brings it back. */
static void test_preload_far_apart_events_stop_the_spin_close_ones_resume_it(void **state)
{
	(void)state;
	struct spin_policy p;
	preload_policy(&p);
	int n = gaps_until(&p, 240 * US, false);
	assert_true(n >= 1 && n <= 8);
	for (int i = 0; i < 1000; i++)
		spin_policy_learn(&p, 240 * US);
	assert_int_equal(spin_policy_spin_ns(&p), 0);
	n = gaps_until(&p, 10 * US, true);
	assert_true(n >= 1 && n <= 8);
}

/* One idle spell (an hour) counts as twice the cap: it stops the spin of
 * a waiter that had none to learn from, and a few close waits forget it. */
static void test_an_idle_spell_is_forgotten_quickly(void **state)
{
	(void)state;
	struct spin_policy p;
	preload_policy(&p);
	spin_policy_learn(&p, 3600ull * 1000 * 1000 * US);
	assert_int_equal(spin_policy_spin_ns(&p), 0);
	int n = gaps_until(&p, 10 * US, true);
	assert_true(n >= 1 && n <= 4);
	for (int i = 0; i < 20; i++)
		spin_policy_learn(&p, 10 * US);
	assert_int_equal(spin_policy_spin_ns(&p), BUDGET);
}

static void test_app_short_gaps_are_polled_through(void **state)
{
	(void)state;
	struct spin_policy p;
	app_policy(&p);
	assert_int_equal(spin_policy_spin_ns(&p), 50 * US);
	for (int i = 0; i < 8; i++)
		spin_policy_learn(&p, 800 * US); /* an RPC's round trip */
	assert_true(spin_policy_spin_ns(&p) >= 800 * US);
	assert_true(spin_policy_spin_ns(&p) <= 2000 * US);
	for (int i = 0; i < 8; i++)
		spin_policy_learn(&p, 1900 * US); /* just under the cap: capped */
	assert_int_equal(spin_policy_spin_ns(&p), 2000 * US);
}

static void test_app_long_gaps_sleep_after_the_base(void **state)
{
	(void)state;
	struct spin_policy p;
	app_policy(&p);
	for (int i = 0; i < 8; i++)
		spin_policy_learn(&p, 800 * US);
	for (int i = 0; i < 16; i++)
		spin_policy_learn(&p, 10000 * US); /* an idle server */
	assert_int_equal(spin_policy_spin_ns(&p), 50 * US);
	for (int i = 0; i < 40; i++)
		spin_policy_learn(&p, 5 * US); /* back-to-back work: never under the base */
	assert_int_equal(spin_policy_spin_ns(&p), 50 * US);
}

/* One stall among short gaps does not stop the poll for the ones after. */
static void test_app_one_stall_does_not_stop_the_poll(void **state)
{
	(void)state;
	struct spin_policy p;
	app_policy(&p);
	for (int i = 0; i < 8; i++)
		spin_policy_learn(&p, 1000 * US);
	spin_policy_learn(&p, 15000 * US); /* a p99 round trip */
	assert_true(spin_policy_spin_ns(&p) > 1000 * US);
	spin_policy_learn(&p, 1000 * US);
	assert_true(spin_policy_spin_ns(&p) > 1000 * US);
}

/* The negative control: the fixed policy polls its minimum after any gaps. */
static void test_fixed_policy_does_not_adapt(void **state)
{
	(void)state;
	struct spin_policy p;
	spin_policy_init_preload(&p, BUDGET, false);
	for (int i = 0; i < 1000; i++)
		spin_policy_learn(&p, 240 * US);
	assert_int_equal(spin_policy_spin_ns(&p), BUDGET);
	for (int i = 0; i < 8; i++)
		spin_policy_learn(&p, 800 * US);
	assert_int_equal(spin_policy_spin_ns(&p), BUDGET);
	spin_policy_init(&p, 0, 0, 0); /* BLUETAS_SPIN_US=0: never spin */
	spin_policy_learn(&p, 1 * US);
	assert_int_equal(spin_policy_spin_ns(&p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preload_keeps_spinning_for_close_events),
		cmocka_unit_test(test_preload_far_apart_events_stop_the_spin_close_ones_resume_it),
		cmocka_unit_test(test_preload_one_client_over_the_daemon_sleeps_at_once),
		cmocka_unit_test(test_an_idle_spell_is_forgotten_quickly),
		cmocka_unit_test(test_app_short_gaps_are_polled_through),
		cmocka_unit_test(test_app_long_gaps_sleep_after_the_base),
		cmocka_unit_test(test_app_one_stall_does_not_stop_the_poll),
		cmocka_unit_test(test_fixed_policy_does_not_adapt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
