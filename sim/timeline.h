/*
 * timeline.h: a run as pictures. Writes two files from samples the
 * scenario engine takes at an interval of virtual time:
 *
 *  - a Chrome trace event JSON file (the format Perfetto, ui.perfetto.dev,
 *    and chrome://tracing open): one process per NIC with one track per
 *    connection slot (its TCP state as B/E slices, its cwnd, bytes in
 *    flight, windows, RTT and queue as counters) and the NIC's segment
 *    counters; one process per application (its calls and their results
 *    as counters) with its channel (doorbells and other messages,
 *    one-sided reads and writes and their completions);
 *  - a tab-separated per-connection time series for `bluetas plot`
 *    (columns in TIMELINE_TSV_HEADER).
 *
 * Counters are written only when they change, so an idle stretch costs
 * nothing. Either path may be NULL. Not thread-safe; one per run.
 */
#ifndef BT_SIM_TIMELINE_H
#define BT_SIM_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/nic/nic.h"

#define TIMELINE_TSV_HEADER                                                                                   \
	"time_ms\thost\tslot\tgen\tstate\tcwnd_bytes\tin_flight_bytes\tsnd_wnd_bytes\trcv_wnd_bytes\t"        \
	"srtt_us\tqueued_bytes\tacked_bytes"
#define TIMELINE_MAX_COUNTERS 8   /* values per counter track */
#define TIMELINE_MAX_TRACKS 256   /* named counter tracks (not connections) */

struct timeline_track {
	uint32_t pid;
	char name[48];
	uint64_t last[TIMELINE_MAX_COUNTERS];
	bool seen;
};

struct timeline_conn {
	bool open;                /* a state slice is open on its track */
	uint32_t gen;
	const char *state;
	uint32_t first_una;       /* snd_una when first seen: acked bytes count from it */
	struct nic_flow_sample last;
	bool named;
};

struct timeline {
	FILE *json, *tsv;
	char json_path[256], tsv_path[256];
	int write_errno;          /* first failed write, 0 if none */
	bool first_event;
	uint32_t max_flows;
	struct timeline_conn *conn[2];  /* per host, indexed by flow slot */
	struct nic_flow_sample *scratch;
	struct timeline_track tracks[TIMELINE_MAX_TRACKS];
	uint32_t ntracks;
	uint64_t last_ts_us;
};

/* Opens the files (either path may be NULL). max_flows bounds the flow
 * slots of each NIC. Returns 0, or -1 with "perfetto: cannot write PATH:
 * REASON" (or "series: ...") in err. */
int timeline_open(struct timeline *tl, const char *json_path, const char *tsv_path, uint32_t max_flows, char *err,
		  size_t err_len);
/* Names a process (pid >= 1) in the trace: "client NIC", "app cli". */
void timeline_process(struct timeline *tl, uint32_t pid, const char *name);
/* Process ids: the client NIC is 1, the server NIC 2 (their connections
 * are threads, slot + 1), applications from 3 on. */
#define TIMELINE_PID_NIC(host) ((uint32_t)(host) + 1u)
#define TIMELINE_PID_APP(i) ((uint32_t)(i) + 3u)

/* One host's connections at time t_ns (from the run's start): state
 * changes become slices, changed values counter events and TSV rows. */
void timeline_flows(struct timeline *tl, int host, uint64_t t_ns, const struct nic *nic);
/* A named counter track of process pid: written when any value changed.
 * n <= TIMELINE_MAX_COUNTERS. */
void timeline_counters(struct timeline *tl, uint32_t pid, const char *track, uint64_t t_ns, const char *const *names,
		       const uint64_t *values, size_t n);
/* A moment worth marking (a fault window opens, the run ends). */
void timeline_instant(struct timeline *tl, uint32_t pid, const char *name, uint64_t t_ns);
/* Ends every open slice at t_ns, completes the JSON, closes both files.
 * Returns -1 with a message naming the file when any write failed. */
int timeline_close(struct timeline *tl, uint64_t t_ns, char *err, size_t err_len);

#endif
