/*
 * link.h: the simulated wire. A full-duplex point-to-point link between two
 * ports, each port a struct netif (transports/netif.h). Per direction: a
 * drop-tail queue of `queue_limit_bytes`, serialization at `bandwidth_bps`,
 * then `latency_ns` of propagation. With ecn_mark_bytes set, a frame that
 * is enqueued while the queue holds more than that many bytes gets its IPv4
 * ECN field set to CE when it was ECT (DCTCP-style marking).
 *
 * A frame is receivable on the other port at depart_time + latency; frames
 * arrive in order. Buffers come from a fixed pool per port (alloc returns
 * NULL when empty). All times come from the clock given at creation.
 */
#ifndef BT_SIM_LINK_H
#define BT_SIM_LINK_H

#include <assert.h>
#include <stdint.h>

#include "../transports/clock.h"
#include "../transports/netif.h"
#include "rng.h"

struct sim_link_params {
	uint64_t latency_ns;         /* one way; default 5000 */
	uint64_t bandwidth_bps;      /* 0 = infinite; default 10 Gbit/s */
	uint32_t queue_limit_bytes;  /* per direction; default 1 MiB */
	uint32_t ecn_mark_bytes;     /* 0 = never mark */
	uint32_t pool_frames;        /* per port; default 4096 */
	uint16_t mtu_bytes;          /* largest frame accepted; default 9216 */
};

struct sim_link_dir_stats {
	uint64_t frames, bytes;      /* accepted for transmission */
	uint64_t dropped_queue;      /* tail drops */
	uint64_t dropped_oversize;
	uint64_t ecn_marked;
	uint32_t max_queue_bytes;
};
/* Every field of struct sim_link_dir_stats, in order (one list for the
 * scenario engine's counters and the JSON results). */
#define SIM_LINK_DIR_STATS_FIELDS_U64(X) X(frames) X(bytes) X(dropped_queue) X(dropped_oversize) X(ecn_marked)
#define SIM_LINK_DIR_STATS_FIELDS_U32(X) X(max_queue_bytes)
#define SIM_LINK_DIR_STATS_COUNT_(f) +1
static_assert(sizeof(struct sim_link_dir_stats) ==
		      (8 * (0 SIM_LINK_DIR_STATS_FIELDS_U64(SIM_LINK_DIR_STATS_COUNT_)) +
		       4 * (0 SIM_LINK_DIR_STATS_FIELDS_U32(SIM_LINK_DIR_STATS_COUNT_)) + 7) / 8 * 8,
	      "SIM_LINK_DIR_STATS_FIELDS_* must list every field of struct sim_link_dir_stats");

void sim_link_default_params(struct sim_link_params *p);

struct sim_link;
/* Ports are 0 and 1; macs give each port's MAC. NULL on allocation failure. */
struct sim_link *sim_link_create(const struct sim_link_params *p, const struct bt_clock *clock,
				 const uint8_t mac0[6], const uint8_t mac1[6]);
/* The port's netif; owned by the link (netif_destroy on it is a no-op). */
struct netif *sim_link_port(struct sim_link *l, int port);
/* Stats of frames SENT by `port`. */
void sim_link_dir_stats(const struct sim_link *l, int port, struct sim_link_dir_stats *out);
/* Earliest delivery time over both directions, BT_TIME_NEVER if empty. */
uint64_t sim_link_next_event_ns(const struct sim_link *l);
/* A count that grows whenever the first frame in flight of a direction
 * changes (all that the ports' next_rx_ns and sim_link_next_event_ns
 * read), so two equal readings mean neither moved; the pointer is good for
 * the link's life (the simulator reads it around every NIC poll). */
const uint64_t *sim_link_moves(const struct sim_link *l);
void sim_link_destroy(struct sim_link *l);

#endif
