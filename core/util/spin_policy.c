/* spin_policy.c: poll or sleep from the gaps seen (spin_policy.h). */
#include "core/util/spin_policy.h"

void spin_policy_init(struct spin_policy *p, uint64_t min_ns, uint64_t max_ns, uint64_t long_gap_ns)
{
	*p = (struct spin_policy){.min_ns = min_ns, .max_ns = max_ns, .long_gap_ns = long_gap_ns};
}

uint64_t spin_policy_spin_ns(const struct spin_policy *p)
{
	uint64_t m = p->mean_gap_ns;
	if (!p->max_ns || !m)
		return p->min_ns;
	if (m > p->max_ns)
		return p->long_gap_ns;
	uint64_t want = m + m / 4;
	if (want > p->max_ns)
		want = p->max_ns;
	return want > p->min_ns ? want : p->min_ns;
}

void spin_policy_learn(struct spin_policy *p, uint64_t gap_ns)
{
	if (p->max_ns && gap_ns > 2 * p->max_ns)
		gap_ns = 2 * p->max_ns;
	if (!p->mean_gap_ns)
		p->mean_gap_ns = gap_ns ? gap_ns : 1;
	else if (gap_ns >= p->mean_gap_ns) /* mean += (gap - mean) / 4, unsigned either way */
		p->mean_gap_ns += (gap_ns - p->mean_gap_ns) / 4;
	else
		p->mean_gap_ns -= (p->mean_gap_ns - gap_ns) / 4;
}

void spin_policy_init_preload(struct spin_policy *p, uint64_t budget_ns, bool adaptive)
{
	spin_policy_init(p, budget_ns, adaptive ? 2 * budget_ns : 0, 0);
}
