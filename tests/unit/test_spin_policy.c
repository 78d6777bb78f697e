/*
 * test_spin_policy: the preload's spin-or-sleep policy
 * (core/util/spin_policy.h). A waiter whose events come within the spin
 * keeps spinning; one whose events come far apart stops paying for a spin
 * that never catches anything, and spins again once they come close
 * together; the fixed policy (the negative control, BLUETAS_SPIN_ADAPT=0)
 * spins whatever the waits were.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util/spin_policy.h"

#define US 1000ull
#define BUDGET (50 * US)

/* How many waits of waited_ns until the policy's answer is `want`, or -1
 * when 100 do not get there. */
static int waits_until(struct spin_policy *p, uint64_t waited_ns, uint64_t want)
{
	for (int i = 0; i < 100; i++) {
		if (spin_policy_spin_ns(p) == want)
			return i;
		spin_policy_learn(p, waited_ns);
	}
	return -1;
}

static void test_starts_spinning_and_keeps_it_for_close_events(void **state)
{
	(void)state;
	struct spin_policy p;
	spin_policy_init(&p, BUDGET, true);
	assert_int_equal(spin_policy_spin_ns(&p), BUDGET);
	for (int i = 0; i < 1000; i++)
		spin_policy_learn(&p, 20 * US); /* caught by the spin */
	assert_int_equal(spin_policy_spin_ns(&p), BUDGET);
	for (int i = 0; i < 1000; i++)
		spin_policy_learn(&p, 90 * US); /* just past it, with a wake: still worth it */
	assert_int_equal(spin_policy_spin_ns(&p), BUDGET);
}

/* One client at a time over a slow path: 240 us between requests. Within
 * a few waits the spin stops; a burst of close events brings it back. */
static void test_far_apart_events_stop_the_spin_and_close_ones_resume_it(void **state)
{
	(void)state;
	struct spin_policy p;
	spin_policy_init(&p, BUDGET, true);
	int n = waits_until(&p, 240 * US, 0);
	assert_true(n >= 1 && n <= 8);
	for (int i = 0; i < 1000; i++)
		spin_policy_learn(&p, 240 * US);
	assert_int_equal(spin_policy_spin_ns(&p), 0);
	n = waits_until(&p, 30 * US, BUDGET);
	assert_true(n >= 1 && n <= 8);
}

/* One idle spell (an hour) is capped: a few close waits forget it. */
static void test_an_idle_spell_is_forgotten_quickly(void **state)
{
	(void)state;
	struct spin_policy p;
	spin_policy_init(&p, BUDGET, true);
	spin_policy_learn(&p, 3600ull * 1000 * 1000 * US);
	int n = waits_until(&p, 10 * US, BUDGET);
	assert_true(n >= 0 && n <= 12);
}

/* The negative control: the fixed policy spins after any waits. */
static void test_fixed_policy_always_spins(void **state)
{
	(void)state;
	struct spin_policy p;
	spin_policy_init(&p, BUDGET, false);
	for (int i = 0; i < 1000; i++)
		spin_policy_learn(&p, 240 * US);
	assert_int_equal(spin_policy_spin_ns(&p), BUDGET);
	spin_policy_init(&p, 0, true); /* BLUETAS_SPIN_US=0: never spin */
	spin_policy_learn(&p, 1 * US);
	assert_int_equal(spin_policy_spin_ns(&p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_spinning_and_keeps_it_for_close_events),
		cmocka_unit_test(test_far_apart_events_stop_the_spin_and_close_ones_resume_it),
		cmocka_unit_test(test_an_idle_spell_is_forgotten_quickly),
		cmocka_unit_test(test_fixed_policy_always_spins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
