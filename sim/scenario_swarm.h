/*
 * scenario_swarm.h: swarm testing (`bluetas run --swarm`). From a parsed
 * scenario and a seed, a variant in which each of the script's rate
 * faults is on or off, and at a fraction of its rate, as the seed says:
 * runs reach fault mixes a fixed script never does (only reordering, no
 * loss; doorbells lost but wakeups not), the technique FoundationDB and
 * TigerBeetle use. The choice comes from its own stream of the seed, so
 * `--seed N --swarm` reproduces a run exactly.
 *
 * What swarm varies: every parameter of a `fault wire` line (loss, burst,
 * dup, corrupt, truncate, reorder, jitter, partition: each on or off, a
 * rate scaled by 1/8, 1/4, 1/2 or 1), `chan-delay`, `drop-doorbell` and
 * `drop-wakeup` (on or off, scaled). Rates only go down, never above what
 * the script allows: a harsher mix than the script's would fail for
 * reasons the script never claimed to survive. Event faults (chan-error,
 * shrink-region, stall-credits, slowpath-stall, nic-pause) stay: the
 * script's expectations name their consequences. A rate fault marked
 * `swarm=keep` in the script stays as written too (an expectation needs
 * it), and the counters it drives stay judged.
 *
 * An `expect counter` on a counter that counts a fault swarm changed
 * (`HOST.faults.*` of a host whose wire faults changed; `chan.APP.
 * msgs_dropped`/`ops_delayed`, `host.APP.lost_wakeups`/`doorbells_refreshed`
 * of an app whose drops or delays changed)
 * claims that the script's own mix fired: it is left out of the variant.
 */
#ifndef BT_SIM_SCENARIO_SWARM_H
#define BT_SIM_SCENARIO_SWARM_H

#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

#define SCN_SWARM_DESC_MAX 240

/* Writes the variant of `in` for `seed` into `out` (which may not be
 * `in`) and a one-line description of what it chose into desc (e.g.
 * "L12 loss 1/4 reorder off; L13 off"; "no rate faults" when the script
 * has none). */
void scenario_swarm(const struct scenario *in, uint64_t seed, struct scenario *out, char *desc, size_t desc_len);

#endif
