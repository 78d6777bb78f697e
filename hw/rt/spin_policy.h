/*
 * spin_policy.h: how long a real-time loop polls after its last work
 * before it sleeps in bt_wait (`bluetas app`, docs/emu.md).
 *
 * Sleeping costs a wakeup: over verbs under TCG the WAKEUP's SEND is
 * ~30 us, but waking the application from ppoll on a halted vCPU adds
 * ~250 us (make bench-rxe, event posted -> woke: 275 us asleep, 30 us
 * busy-polling, same boot). A fixed 50 us poll never covers an RPC of
 * ~1 ms, so every reply paid it. The loop therefore learns how long its
 * idle gaps (last work -> next work) last, as a moving average, and polls
 * that long (plus a quarter) when that is at most `max_ns`: the next
 * arrival is then likely to come while it polls. Gaps longer than that
 * (an idle server, a slow peer) would not be caught by any poll the cap
 * allows, so it sleeps after `base_ns` as before. Not a timer: nothing
 * waits for it to expire, the WAKEUP still ends every sleep.
 */
#ifndef BT_SPIN_POLICY_H
#define BT_SPIN_POLICY_H

#include <stdint.h>

struct spin_policy {
	uint64_t base_ns; /* poll at least this long (the fixed spin) */
	uint64_t max_ns;  /* 0: fixed; else poll up to this when gaps are shorter */
	uint64_t gap_avg_ns; /* moving average of idle gaps, 0: none seen */
};

/* One idle gap ended (work came after `gap_ns` without any). A gap
 * counts at most twice the cap: one stall (a p99 RPC of 15 ms) would
 * otherwise lift the average over the cap for the next several gaps and
 * send them all to sleep (make bench-rxe: 1150 of 2000 RPCs slept in a run
 * whose p50 gap was ~1.3 ms). */
static inline void spin_policy_gap(struct spin_policy *p, uint64_t gap_ns)
{
	if (p->max_ns && gap_ns > 2 * p->max_ns)
		gap_ns = 2 * p->max_ns;
	p->gap_avg_ns = p->gap_avg_ns ? (3 * p->gap_avg_ns + gap_ns) / 4 : gap_ns;
}

/* How long to poll before sleeping now. */
static inline uint64_t spin_policy_budget_ns(const struct spin_policy *p)
{
	if (!p->max_ns || !p->gap_avg_ns)
		return p->base_ns;
	uint64_t want = p->gap_avg_ns + p->gap_avg_ns / 4;
	if (p->gap_avg_ns > p->max_ns)
		return p->base_ns; /* no poll the cap allows would catch it */
	if (want > p->max_ns)
		want = p->max_ns;
	return want > p->base_ns ? want : p->base_ns;
}

#endif
