/*
 * chan_fault.h: message-drop fault injection around ANY channel end (shm,
 * verbs). Every message posted through the wrapper is first offered to
 * drop_msg; a dropped message is reported CHAN_OK to the sender, as a
 * lost doorbell or wakeup would be, and never reaches the peer. All other
 * operations pass through unchanged. The shm backend's own hooks
 * (shm_link_set_faults) cover the faults that need the transport's
 * insides (delays, error completions, short regions, credit stalls).
 */
#ifndef BT_CHAN_FAULT_H
#define BT_CHAN_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "channel.h"
#include "clock.h"

/* from_nic_end: the message is posted by the NIC's end (else the host's). */
typedef bool (*chan_fault_drop_fn)(void *ctx, bool from_nic_end, const void *msg, uint32_t len, uint64_t now_ns);

struct chan_fault_stats {
	uint64_t msgs_seen, msgs_dropped;
};

/* Wraps `inner` (not owned: destroy the wrapper, then the inner end).
 * NULL on allocation failure. */
struct chan *chan_fault_wrap(struct chan *inner, bool nic_end, chan_fault_drop_fn drop, void *ctx,
			     const struct bt_clock *clock);
void chan_fault_stats(struct chan *wrapper, struct chan_fault_stats *out);
void chan_fault_free(struct chan *wrapper);

#endif
