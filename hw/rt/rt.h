/*
 * rt.h: what the real-time programs (`bluetas nic`, `bluetas app`) share
 * besides the app runner: stopping on SIGINT/SIGTERM.
 */
#ifndef BT_HW_RT_H
#define BT_HW_RT_H

#include <stdint.h>

/* Installs SIGINT/SIGTERM handlers that only record the signal, and
 * ignores SIGPIPE (a peer closing must be an error value, not a death). */
void rt_catch_stop_signals(void);
/* "SIGINT" or "SIGTERM" once one arrived, else NULL. */
const char *rt_stop_reason(void);

struct chan;
struct chan_stats;
/* One channel's counters as struct chan_stats (transports/chan_stats.h),
 * whatever its backend: verbs and ipc fill what they count, the rest
 * stays 0. Adds to *out (so several channels can be summed). */
void rt_chan_stats_add(const struct chan *ch, struct chan_stats *out);

/* One "stat.PREFIX.FIELD=VALUE" line on stdout: every --stats counter's
 * format, in one place. */
void rt_stat_line(const char *prefix, const char *field, uint64_t value);
/* One line for one field of struct value `s`. */
#define RT_STAT(prefix, s, field) rt_stat_line(prefix, #field, (uint64_t)(s).field)
/* One line per field that a counter struct's own field list names
 * (FIELDS: an X-macro such as CHAN_STATS_FIELDS), read from *src of type
 * `type`: printing goes by the struct's list, never a second hand list. */
#define RT_STAT_FIELD_(field) rt_stat_line(rt_stat_prefix_, #field, (uint64_t)rt_stat_src_->field);
#define RT_PRINT_STATS(prefix, type, src, FIELDS)                                                                   \
	do {                                                                                                       \
		const char *rt_stat_prefix_ = (prefix);                                                            \
		const type *rt_stat_src_ = (src);                                                                  \
		FIELDS(RT_STAT_FIELD_)                                                                             \
	} while (0)

#endif
