/*
 * rt_hops.h: `--hops FILE` of the real-time programs (`bluetas app`,
 * `bluetas nic`). The application and the NIC daemon are two processes on
 * one machine, both stamping CLOCK_MONOTONIC: each records its own half of
 * every RPC's hops (core/util/hop_trace.h) and writes it to FILE at exit;
 * `bluetas hops FILE...` joins the halves and prints the breakdown. Off
 * unless asked: then the host library and the NIC get no recorder at all.
 */
#ifndef BT_HW_RT_HOPS_H
#define BT_HW_RT_HOPS_H

#include <stddef.h>
#include <stdio.h>

#include "../../core/util/hop_trace.h"

#define RT_HOPS_RECORDS (1u << 20) /* the first 1 Mi hops (24 MiB); later ones are counted */

struct rt_hops {
	struct hop_trace trace;
	FILE *out;
	const char *path;
};

/* Opens `path` for writing now (so a path that cannot be written is a
 * usage error before the run, not a lost trace after it) and allocates
 * the recorder. 0, or -1 with a message in err. */
int rt_hops_open(struct rt_hops *h, const char *path, char *err, size_t err_len);
/* Writes the records and closes. 0, or -1 with a message in err. */
int rt_hops_close(struct rt_hops *h, char *err, size_t err_len);

/* `bluetas hops FILE...`: joins the files and prints the breakdown. */
int cli_hops(int argc, char **argv);
void cli_hops_usage(FILE *out);

#endif
