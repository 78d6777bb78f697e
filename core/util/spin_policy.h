/*
 * spin_policy.h: how long a waiting caller polls before it sleeps.
 *
 * Polling is CPU the application pays for latency, and it pays off only
 * when what it waits for arrives within the spin. A fixed spin burns its
 * whole budget on every wait of a server whose requests come further apart
 * (one client at a time over a slow path: the spin was most of its CPU per
 * request), and the same server under load wants it. So the policy learns
 * how long waits take: an exponentially weighted mean of the time from the
 * start of a wait to the event that ended it (1/4 weight for the newest,
 * each capped at SPIN_POLICY_CAP_X budgets so one idle spell is forgotten
 * within a few waits). While that mean is within SPIN_POLICY_KEEP_X
 * budgets the caller spins its whole budget; past it, it sleeps at once.
 * Waits are measured whether the caller spun or slept, so when events come
 * close together again (a sleep's wake latency included) spinning resumes.
 *
 * A plain struct with no clock of its own: the caller measures. The
 * preload keeps one per process (hw/preload/pl_core.c).
 */
#ifndef BT_UTIL_SPIN_POLICY_H
#define BT_UTIL_SPIN_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#define SPIN_POLICY_KEEP_X 2 /* spin while the mean wait is within 2 budgets */
#define SPIN_POLICY_CAP_X 16 /* one wait counts as at most 16 budgets */

struct spin_policy {
	uint64_t budget_ns;    /* the most a wait spins (0: never spin) */
	uint64_t mean_wait_ns; /* learned: the mean time a wait took */
	bool adaptive;         /* false: always spin the whole budget */
};

/* Starts out spinning (mean 0): a fresh process behaves as before. */
void spin_policy_init(struct spin_policy *p, uint64_t budget_ns, bool adaptive);
/* How long the next wait may spin: the budget, or 0. */
uint64_t spin_policy_spin_ns(const struct spin_policy *p);
/* A wait that found nothing at first ended after waited_ns. */
void spin_policy_learn(struct spin_policy *p, uint64_t waited_ns);

#endif
