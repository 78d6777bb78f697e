/*
 * netif_fault.h: seeded fault injection around any netif (the simulated
 * wire, DPDK). Frames RECEIVED through the wrapper can be lost (singly or
 * in bursts), duplicated, corrupted (a flipped byte past the IPv4 header,
 * so the TCP checksum fails), truncated, delayed by random jitter (which
 * also reorders), explicitly reordered, or dropped during a partition
 * interval. Frames TRANSMITTED through it can be lost, duplicated,
 * corrupted or truncated (no delay on the way out: the caller keeps
 * ownership rules simple).
 *
 * Probabilities are in parts per million. Every decision comes from the
 * wrapper's own xorshift stream seeded by `seed`, so the same seed and the
 * same traffic give the same faults. Delayed frames are released by
 * rx_burst once due; next_rx_ns reports the earliest release so the
 * simulator wakes for it.
 */
#ifndef BT_NETIF_FAULT_H
#define BT_NETIF_FAULT_H

#include <assert.h>
#include <stdint.h>

#include "clock.h"
#include "netif.h"

#define NETIF_FAULT_PPM 1000000u
#define NETIF_FAULT_HOLD_FRAMES 256 /* delayed frames held at most */

struct netif_fault_dir {
	uint32_t loss_ppm;
	uint32_t burst_start_ppm;   /* chance a loss burst starts at a frame */
	uint32_t burst_len;         /* frames lost per burst (>= 1 when bursts are on) */
	uint32_t duplicate_ppm;
	uint32_t corrupt_ppm;
	uint32_t truncate_ppm;
	uint32_t reorder_ppm;       /* rx only: frame held until after the next reorder_depth */
	uint32_t reorder_depth;     /* rx only: frames that overtake a reordered one; 0 = 1 */
	uint64_t jitter_ns;         /* rx only: extra delay uniform in [0, jitter] */
};

struct netif_fault_params {
	struct netif_fault_dir rx, tx;
	uint64_t partition_start_ns; /* rx and tx: everything dropped in [start, end) */
	uint64_t partition_end_ns;
	uint64_t seed;
};

struct netif_fault_stats {
	uint64_t lost, burst_lost, duplicated, corrupted, truncated;
	uint64_t reordered, delayed, partitioned;
	uint64_t hold_overflow;      /* delay queue full: frame passed undelayed */
	/* TCP payload in frames lost, burst-lost or partitioned, received / sent */
	uint64_t rx_lost_payload_bytes, tx_lost_payload_bytes;
};
/* Every field of struct netif_fault_stats, in order: the one list that
 * `bluetas nic --stats`, the scenario engine's counters and the JSON
 * results use (the assert fails the build when a field is missing). */
#define NETIF_FAULT_STATS_FIELDS(X)                                                                          \
	X(lost) X(burst_lost) X(duplicated) X(corrupted) X(truncated) X(reordered) X(delayed) X(partitioned) \
	X(hold_overflow) X(rx_lost_payload_bytes) X(tx_lost_payload_bytes)
#define NETIF_FAULT_STATS_COUNT_(f) +1
static_assert(sizeof(struct netif_fault_stats) == 8 * (0 NETIF_FAULT_STATS_FIELDS(NETIF_FAULT_STATS_COUNT_)),
	      "NETIF_FAULT_STATS_FIELDS must list every field of struct netif_fault_stats");

/* Returns the wrapper or NULL on allocation failure. destroy() on the
 * wrapper frees held frames and destroys `inner`. */
struct netif *netif_fault_create(struct netif *inner, const struct netif_fault_params *p,
				 const struct bt_clock *clock);
/* Replaces the parameters (a scenario switching faults on and off). */
void netif_fault_set(struct netif *wrapper, const struct netif_fault_params *p);
void netif_fault_get_stats(struct netif *wrapper, struct netif_fault_stats *out);

#endif
