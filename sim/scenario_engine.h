/*
 * scenario_engine.h: the running scenario's state, shared by
 * scenario_run.c (build and run) and scenario_check.c (expectations,
 * counters, deadlock report, trace). Nobody else includes it.
 */
#ifndef BT_SIM_SCENARIO_ENGINE_H
#define BT_SIM_SCENARIO_ENGINE_H

#include <stdio.h>

#include "../core/bluetas.h"
#include "../core/nic/nic.h"
#include "../transports/chan_fault.h"
#include "../transports/chan_stats.h"
#include "../transports/netif_fault.h"
#include "../transports/shm/shm_chan.h"
#include "link.h"
#include "rng.h"
#include "scenario.h"
#include "scn_apps.h"
#include "sim.h"
#include "timeline.h"

struct engine;

struct eng_host {
	struct engine *eng;
	struct nic *nic;
	struct netif *fault_port;          /* fault wrapper around the link port */
	struct netif *port;                /* what the NIC uses (maybe the pcap mirror) */
	struct netif_fault_params wire_now;
	uint64_t fault_seed;
	uint64_t pause_from_ns, pause_until_ns;
	uint64_t polled_ns;                /* the NIC actor's last poll */
	/* What the NIC's and its apps' polls compare to say whose next
	 * event they moved (sim.h): the moves of all the host's channels
	 * (shm_link_count_moves_in), the actors a change on them moves (the
	 * apps; the NIC is itself or their peer), those a frame put on or
	 * taken off the wire moves. */
	uint64_t chan_moves;
	uint64_t apps_mask;
	uint64_t wire_moves_mask;
};

struct eng_app {
	struct engine *eng;
	const struct scn_app *cfg;
	struct shm_link *link;             /* shm backend only */
	struct chan *host_raw, *nic_raw;   /* the backend's two ends */
	struct chan *host_end, *nic_end;   /* the same, through the drop-fault wrapper where one is set */
	struct bt_host *host;
	struct scn_app_rt *rt;
	int nic_app;
	bool gone;
	const struct scn_fault *drop_doorbell, *drop_wakeup;
	struct sim_rng drop_rng;
	uint64_t drops;
};

struct engine {
	const struct scenario *s;
	struct scenario_run_opts o;
	struct sim sim;
	struct bt_clock mono;
	struct bt_clock since_start;       /* real time, 0 at the start of the run */
	uint64_t mono_base_ns;
	const struct bt_clock *clock;
	uint64_t start_ns;
	struct sim_link *wire;
	const uint64_t *wire_moves;        /* sim_link_moves */
	struct eng_host host[2];
	struct eng_app app[SCN_MAX_APPS];
	FILE *trace;
	struct timeline *timeline;         /* NULL unless a perfetto or series path is set */
	uint64_t timeline_next_ns;         /* next sample, clock time */
	bool deadlock;
	bool apps_polled;                  /* an app was polled since all_done was taken */
	bool all_done;                     /* eng_all_done() when last asked */
	enum sim_stop stop;
	uint64_t done_at_ns;               /* clock time all apps were first done; 0 before */
	uint64_t progress_seen_ns;         /* last_progress() when last asked: it only grows */
	uint64_t sched_due_ns;             /* wire faults change next at this time */
	bool sched_started;                /* sched_due_ns is known */
};

void eng_trace(struct engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void eng_trace_final(struct engine *e, const struct scenario_result *r);
/* A timeline sample of every NIC, app and channel (sim/timeline.h); does
 * nothing before the next sample is due unless `force`. */
void eng_timeline_sample(struct engine *e, bool force);
/* The deadlock report: malloc'd text. */
char *eng_describe(struct engine *e);
void eng_evaluate(struct engine *e, struct scenario_result *r);
void eng_loss(struct engine *e, bool to_server, struct scn_loss *out);
/* Every application finished its workload (servers always are). */
bool eng_all_done(struct engine *e);
/* The app's channel counters, whatever the backend (fields that the
 * backend cannot know stay 0). */
void eng_chan_stats(struct eng_app *ea, struct chan_stats *out);
/* Every counter of the run by its full name ("client.nic.rtos"), in a
 * fixed order: NICs, wire faults, wire, then per app its app, chan and
 * host counters. */
typedef void (*eng_counter_fn)(void *ctx, const char *name, uint64_t value);
void eng_counters_each(struct engine *e, eng_counter_fn fn, void *ctx);

#endif
