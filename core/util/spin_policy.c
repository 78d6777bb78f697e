/* spin_policy.c: spin or sleep from the waits seen (spin_policy.h). */
#include "core/util/spin_policy.h"

void spin_policy_init(struct spin_policy *p, uint64_t budget_ns, bool adaptive)
{
	*p = (struct spin_policy){.budget_ns = budget_ns, .mean_wait_ns = 0, .adaptive = adaptive};
}

uint64_t spin_policy_spin_ns(const struct spin_policy *p)
{
	if (!p->adaptive || p->mean_wait_ns <= SPIN_POLICY_KEEP_X * p->budget_ns)
		return p->budget_ns;
	return 0;
}

void spin_policy_learn(struct spin_policy *p, uint64_t waited_ns)
{
	uint64_t cap = SPIN_POLICY_CAP_X * p->budget_ns;
	if (waited_ns > cap)
		waited_ns = cap;
	/* mean += (w - mean) / 4, in unsigned arithmetic either way */
	if (waited_ns >= p->mean_wait_ns)
		p->mean_wait_ns += (waited_ns - p->mean_wait_ns) / 4;
	else
		p->mean_wait_ns -= (p->mean_wait_ns - waited_ns) / 4;
}
