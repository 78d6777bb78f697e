/*
 * rt_opts.c: the options both real-time programs share (rt_opts.h).
 */
#include "rt_opts.h"

bool rt_opts_take(int c, const char *arg, struct rt_opts *o)
{
	switch (c) {
	case RT_OPT_HOSTS:
		o->hosts_path = arg;
		return true;
	case RT_OPT_SYSROOT:
		o->sysroot = arg;
		return true;
	case RT_OPT_PRINT_CONFIG:
		o->print_config = true;
		return true;
	case RT_OPT_HOPS:
		o->hops_path = arg;
		return true;
	case RT_OPT_STATS:
		o->stats = true;
		return true;
	default:
		return false;
	}
}

const struct rt_app_only *rt_app_only_misfit(const struct rt_app_only *table, size_t n, const bool *given,
					     unsigned app)
{
	for (size_t i = 0; i < n; i++)
		if (given[table[i].opt - 256] && !(table[i].apps & (1u << app)))
			return &table[i];
	return NULL;
}
