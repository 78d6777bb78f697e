/*
 * scn_apps.h: the applications a scenario runs, written against the host
 * library only. Every byte a client sends is a pure function of its
 * connection's key and stream offset (after a 16-byte header carrying the
 * key and, for streams, the length), so every receiver checks every byte.
 *
 * An application SLEEPS when a poll finds nothing to do: it arms a wakeup
 * with the NIC and is polled again only when the WAKEUP message arrives or
 * its wait timeout expires (the fallback a lost wakeup needs). With the
 * fallback switched off (negative control) a lost wakeup is a hang, which
 * the deadlock detector must catch.
 */
#ifndef BT_SIM_SCN_APPS_H
#define BT_SIM_SCN_APPS_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/bluetas.h"
#include "../transports/channel.h"
#include "scenario.h"

struct scn_app_env {
	const struct bt_clock *clock;
	uint64_t seed;
	uint32_t app_index;
	uint64_t wait_timeout_ns;   /* BT_TIME_NEVER: no fallback (negative control) */
	bool sleep_without_arm;     /* negative control: sleep even when bt_wait_arm says
				     * the ARM could not be posted (the old lost wakeup) */
	uint32_t target_ip;         /* clients */
	uint16_t target_port;
	/* hostile only: what it knows of its victim (leaked keys included) */
	struct chan *raw_chan;      /* its own channel end, driven without a host library */
	struct chan_remote_mr victim_region;
	uint32_t victim_flow_guess_max;
};

struct scn_app_stats {
	/* counters (every one listed in SCN_APP_STATS_FIELDS_* below) */
	uint64_t bytes_sent, bytes_verified;   /* verified: checked against the pattern */
	uint64_t bytes_expected;               /* clients/sinks: what must arrive in total */
	uint64_t mismatches;
	uint64_t first_mismatch_offset;
	uint64_t messages_done;
	uint64_t errors;
	uint64_t wakeups, wait_timeouts, sleeps;
	uint64_t arms_deferred;                /* stayed awake: no credit for the ARM yet */
	/* hostile */
	uint64_t attacks, attacks_refused, access_errors; /* one-sided accesses */
	uint64_t forged_cmds;                  /* commands naming others' flows */
	uint32_t conns_opened, conns_closed, conns_failed, accepted;
	/* state, not counters */
	int first_error;
	uint32_t error_mask;                   /* scn_error_bit of every bt_err seen */
	uint64_t last_progress_ns;             /* last byte verified or connection event */
	bool sleeping, done, exited;
};
/* The counters of struct scn_app_stats, in order: one list for the
 * scenario engine's `app.APP.FIELD` counters, its trace and the JSON
 * results. The assert fails the build when a counter is added before
 * `first_error` without being listed here. */
#define SCN_APP_STATS_FIELDS_U64(X)                                                                         \
	X(bytes_sent) X(bytes_verified) X(bytes_expected) X(mismatches) X(first_mismatch_offset)            \
	X(messages_done) X(errors) X(wakeups) X(wait_timeouts) X(sleeps) X(arms_deferred) X(attacks)        \
	X(attacks_refused) X(access_errors) X(forged_cmds)
#define SCN_APP_STATS_FIELDS_U32(X) X(conns_opened) X(conns_closed) X(conns_failed) X(accepted)
#define SCN_APP_STATS_COUNT_(f) +1
static_assert(offsetof(struct scn_app_stats, first_error) ==
		      8 * (0 SCN_APP_STATS_FIELDS_U64(SCN_APP_STATS_COUNT_)) +
			      4 * (0 SCN_APP_STATS_FIELDS_U32(SCN_APP_STATS_COUNT_)),
	      "SCN_APP_STATS_FIELDS_* must list every counter of struct scn_app_stats");

static inline uint32_t scn_error_bit(int err)
{
	return err < 0 && err > -32 ? 1u << -err : 0;
}

struct scn_app_rt;

struct scn_app_rt *scn_app_create(const struct scn_app *cfg, struct bt_host *h, const struct scn_app_env *env,
				  int *err);
int scn_app_poll(struct scn_app_rt *a, uint64_t now_ns);
uint64_t scn_app_next_event_ns(struct scn_app_rt *a);
/* Clients: every planned byte sent and verified and every connection
 * closed. Servers are done when their clients are (the engine decides). */
bool scn_app_done(const struct scn_app_rt *a);
bool scn_app_is_client(const struct scn_app_rt *a);
/* The app exits now: it stops, its host library is gone (the engine
 * breaks its channel so the NIC sees the application disappear). */
void scn_app_exit(struct scn_app_rt *a);
/* It exited (scn_app_exit, or its exit_at fault): cheap, for every poll. */
bool scn_app_exited(const struct scn_app_rt *a);
/* True when a poll can find work only at scn_app_next_event_ns or once its
 * channel has something for it (asleep, or exited): the event loop may
 * then skip it (sim.h, waits). */
bool scn_app_waits(const struct scn_app_rt *a);
/* Asleep (bt_wait_arm posted or held its ARM): only a message on its
 * channel or its deadline wakes it. */
bool scn_app_sleeping(const struct scn_app_rt *a);
/* st.last_progress_ns without copying the stats: checked every instant. */
uint64_t scn_app_last_progress_ns(const struct scn_app_rt *a);
void scn_app_get_stats(const struct scn_app_rt *a, struct scn_app_stats *out);
/* Appends a human-readable state line per connection to buf. */
void scn_app_describe(const struct scn_app_rt *a, char *buf, size_t cap);
void scn_app_destroy(struct scn_app_rt *a);

#endif
