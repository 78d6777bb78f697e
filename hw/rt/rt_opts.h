/*
 * rt_opts.h: the options both real-time programs (`bluetas nic`, `bluetas
 * app`) take with one meaning (--hosts, --sysroot, --print-config, --hops,
 * --stats), parsed in one place, and the check that an option meant for
 * some applications only is not given for another.
 */
#ifndef BT_HW_RT_OPTS_H
#define BT_HW_RT_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

struct rt_opts {
	const char *hosts_path; /* --hosts FILE, or NULL */
	const char *sysroot;    /* --sysroot DIR: discovery reads /sys and /proc here (default /) */
	bool print_config;      /* --print-config: print what was resolved, run nothing */
	const char *hops_path;  /* --hops FILE: this process's half of the hop trace */
	bool stats;             /* --stats: stat.* lines at the end */
};

/* getopt_long values above any program's own (those start at 256). */
enum { RT_OPT_HOSTS = 0x1000, RT_OPT_SYSROOT, RT_OPT_PRINT_CONFIG, RT_OPT_HOPS, RT_OPT_STATS };

/* The entries of a program's struct option table for struct rt_opts. */
#define RT_OPTS_LONGOPTS                                                                                             \
	{"hosts", required_argument, 0, RT_OPT_HOSTS}, {"sysroot", required_argument, 0, RT_OPT_SYSROOT},          \
		{"print-config", no_argument, 0, RT_OPT_PRINT_CONFIG}, {"hops", required_argument, 0, RT_OPT_HOPS}, \
		{"stats", no_argument, 0, RT_OPT_STATS}

/* Stores option `c` (getopt_long's value, `arg` its optarg) in *o if it is
 * one of RT_OPTS_LONGOPTS: true then, false for any other option. */
bool rt_opts_take(int c, const char *arg, struct rt_opts *o);

/* An option that applies to some of a program's applications only: given
 * for another it would be silently ignored, so it is a usage error. */
struct rt_app_only {
	int opt;          /* the program's getopt_long value (>= 256) */
	const char *name; /* "--listen" */
	unsigned apps;    /* bit (1 << the program's app kind) per application it applies to */
	const char *which; /* those applications in words, for the message */
};

/* The first option of `table` that was given (given[opt - 256]) but does
 * not apply to application `app`, or NULL. */
const struct rt_app_only *rt_app_only_misfit(const struct rt_app_only *table, size_t n, const bool *given,
					     unsigned app);

#endif
