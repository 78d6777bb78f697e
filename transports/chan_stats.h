/*
 * chan_stats.h: the counters of one host<->NIC channel, whatever the
 * backend (shm, verbs on Soft-RoCE or mlx5). A backend fills what it can
 * know and leaves the rest 0: the injected-fault counters exist only where
 * faults are injected (the shm backend, and the drop filter above any
 * backend). The scenario engine's `chan.APP.FIELD` counters, its trace
 * and the JSON results of `bluetas run --results` all read this struct
 * through CHAN_STATS_FIELDS, so no list of them can drift.
 */
#ifndef BT_CHAN_STATS_H
#define BT_CHAN_STATS_H

#include <assert.h>
#include <stdint.h>

struct chan_stats {
	uint64_t reads, writes;             /* one-sided operations completed */
	uint64_t msgs;                      /* messages (doorbells, events, wakeups) sent */
	uint64_t bytes_read, bytes_written; /* payload moved by the one-sided operations */
	uint64_t access_errors;             /* remote accesses refused (key, bounds, permission) */
	uint64_t msgs_dropped;              /* injected: messages lost */
	uint64_t ops_delayed;               /* injected: one-sided operations delayed */
	uint64_t errors_injected;           /* injected: operations completed in error */
	uint64_t credits_stalled;           /* injected: message credits withheld */
};

/* Every field of struct chan_stats, in order. */
#define CHAN_STATS_FIELDS(X)                                                                          \
	X(reads) X(writes) X(msgs) X(bytes_read) X(bytes_written) X(access_errors) X(msgs_dropped) \
	X(ops_delayed) X(errors_injected) X(credits_stalled)
#define CHAN_STATS_COUNT_(f) +1
static_assert(sizeof(struct chan_stats) == 8 * (0 CHAN_STATS_FIELDS(CHAN_STATS_COUNT_)),
	      "CHAN_STATS_FIELDS must list every field of struct chan_stats");

#endif
