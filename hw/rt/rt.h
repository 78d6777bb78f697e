/*
 * rt.h: what the real-time programs (`bluetas nic`, `bluetas app`) share
 * besides the app runner: stopping on SIGINT/SIGTERM.
 */
#ifndef BT_HW_RT_H
#define BT_HW_RT_H

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

#endif
