/*
 * pd_world.h: the stack under packetdrill: one NIC, one host library on a
 * zero-latency shm channel, and a virtual clock, in one process. The wire
 * is a netif that speaks layer-3 IPv4 on packetdrill's side: packets
 * packetdrill injects get an Ethernet header and reach the NIC; frames the
 * NIC sends lose theirs and queue up, stamped with the virtual time they
 * left, until packetdrill sniffs them. ARP never reaches packetdrill: the
 * wire answers every request itself (every address is on-link).
 *
 * Time only moves when pd_world_advance is called; every instant is
 * settled (NIC, channel, host library polled until nothing happens) before
 * time moves on, so the host/NIC split is invisible to the scripts.
 *
 * Not thread safe: the shim (pd_shim.c) serializes every call.
 */
#ifndef BT_PD_WORLD_H
#define BT_PD_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bluetas.h"
#include "core/nic/nic.h"

#define PD_WORLD_START_NS 1000000000ull /* virtual time at creation: 1 s */

struct pd_world;

/* NULL with a message in err on failure. */
struct pd_world *pd_world_create(const struct nic_config *nic_cfg, const struct bt_host_config *host_cfg, char *err,
				 size_t err_len);
void pd_world_destroy(struct pd_world *w);

struct bt_host *pd_world_host(struct pd_world *w);
uint64_t pd_world_now_ns(const struct pd_world *w);
/* Runs everything due up to `until_ns` (inclusive), instant by instant,
 * and leaves the clock there. */
void pd_world_advance(struct pd_world *w, uint64_t until_ns);
/* Settles the current instant (after an API call changed something). */
void pd_world_settle(struct pd_world *w);
/* The earliest time the stack has work of its own (BT_TIME_NEVER: none). */
uint64_t pd_world_next_event_ns(struct pd_world *w);

/* An IPv4 packet from packetdrill to the stack; processed at once.
 * -1 when it is not IPv4 or too long for a frame. */
int pd_world_inject(struct pd_world *w, const void *ip_packet, size_t len);
/* Pops the oldest packet the stack sent: its bytes (at most cap) and its
 * length in *len, its departure time in *at_ns. false when none is queued. */
bool pd_world_pop(struct pd_world *w, void *buf, size_t cap, size_t *len, uint64_t *at_ns);
bool pd_world_has_output(const struct pd_world *w);
/* Prints the NIC's non-zero counters to stderr (the shim's verbose flag). */
void pd_world_print_stats(struct pd_world *w);

#endif
