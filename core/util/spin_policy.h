/*
 * spin_policy.h: how long a waiting loop polls before it sleeps, learned
 * from the gaps it has seen. One policy for the preload's waits
 * (hw/preload, per process) and `bluetas app`'s loop (hw/hostapp).
 *
 * Polling is CPU bought for latency, and it pays only when what the loop
 * waits for arrives while it polls. Sleeping costs a wakeup: a futex or
 * eventfd wake on a host, ~250 us to wake a process from ppoll on a halted
 * vCPU under TCG (make bench-rxe: event posted -> woke 275 us asleep,
 * 30 us polling). So the loop keeps an exponentially weighted mean of its
 * gaps (the time from the start of a wait, or from the last work, to the
 * next work; the newest weighs 1/4, and one gap counts at most twice
 * max_ns, so a single stall or idle spell is forgotten within a few gaps):
 *
 *   - mean within max_ns: poll the mean plus a quarter, at least min_ns and
 *     at most max_ns (the next arrival is likely to come while it polls);
 *   - mean past max_ns: no poll the cap allows would catch it, so poll
 *     long_gap_ns (0: sleep at once) and leave the rest to the wakeup;
 *   - max_ns 0: not adaptive, always min_ns (a fixed spin).
 *
 * The gaps are measured whether the loop polled or slept, so when work
 * comes close together again (a wakeup's latency included) polling
 * resumes. Not a timer: nothing waits for a poll to expire, the wakeup
 * still ends every sleep. A plain struct; the caller measures.
 */
#ifndef BT_UTIL_SPIN_POLICY_H
#define BT_UTIL_SPIN_POLICY_H

#include <stdbool.h>
#include <stdint.h>

struct spin_policy {
	uint64_t min_ns;      /* poll at least this long while gaps are short */
	uint64_t max_ns;      /* the longest poll; 0: fixed at min_ns */
	uint64_t long_gap_ns; /* the poll while gaps average more than max_ns */
	uint64_t mean_gap_ns; /* learned; 0: no gap seen yet */
};

void spin_policy_init(struct spin_policy *p, uint64_t min_ns, uint64_t max_ns, uint64_t long_gap_ns);

/* The preload's setting (hw/preload, docs/sockets.md): adaptive, poll
 * budget_ns to twice it while gaps average within twice it, sleep at once
 * past that; not adaptive (BLUETAS_SPIN_ADAPT=0), budget_ns always.
 *
 * The default budget (BLUETAS_SPIN_US) is about what a sleep and its
 * wakeup cost the application in CPU (a futex or eventfd wake, an
 * epoll_wait return: 10-15 us of a redis-server request on the 2-core
 * test VM, make bench-apps), so a spin never costs much more than the
 * sleep it saves, and gaps longer than 30 us (one client over the
 * daemon's path: 40-100 us) sleep at once. It was 50 us: such a server
 * spun 40-60 us of CPU per request, 3x Linux's whole request, for no
 * gain in requests/s. */
#define SPIN_POLICY_PRELOAD_BUDGET_NS 15000ull
void spin_policy_init_preload(struct spin_policy *p, uint64_t budget_ns, bool adaptive);
/* How long to poll before sleeping now. Until a gap is seen: min_ns. */
uint64_t spin_policy_spin_ns(const struct spin_policy *p);
/* One gap ended: work came gap_ns after the wait (or the last work). */
void spin_policy_learn(struct spin_policy *p, uint64_t gap_ns);

#endif
