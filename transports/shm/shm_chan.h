/*
 * shm_chan.h: the channel (transports/channel.h) in one process. One
 * `shm_link` joins two ends (SHM_END_HOST, SHM_END_NIC); each end is a
 * struct chan with exactly the semantics a verbs RC queue pair has:
 * regions with their own random keys, bounds- and permission-checked
 * one-sided READ/WRITE that complete later, credit-limited messages.
 *
 * Timing: an operation or message posted at time t is DUE at
 * t + latency (and never before an earlier operation in the same
 * direction: in order). When due, the data is copied and the completion
 * (or message) becomes visible. Due work is executed by any call on either
 * end (post, poll, next_event_ns), so in real time with zero latency an
 * operation completes at the next poll; in the simulator the event loop
 * advances virtual time to next_event_ns and polls.
 *
 * Not thread safe: both ends are driven from one thread (the simulator, or
 * the single-threaded real-time benchmark).
 */
#ifndef BT_SHM_CHAN_H
#define BT_SHM_CHAN_H

#include <stdbool.h>
#include <stdint.h>

#include "../channel.h"
#include "../clock.h"

enum shm_end { SHM_END_HOST = 0, SHM_END_NIC = 1 };

struct shm_link_params {
	uint32_t sq_depth;        /* per end; 0 -> 256 */
	uint32_t msg_depth;       /* receive slots per end; 0 -> 64 */
	uint64_t op_latency_ns;   /* post -> data moved + completion */
	uint64_t msg_latency_ns;  /* post -> message receivable */
	uint64_t bandwidth_bps;   /* serialization of one-sided data; 0 = infinite */
	uint64_t key_seed;        /* keys are drawn from this; any value */
};

struct shm_link_stats {
	uint64_t reads, writes, msgs;
	uint64_t bytes_read, bytes_written;
	uint64_t access_errors;   /* remote accesses refused (key/bounds/perm) */
	/* injected by shm_link_set_faults */
	uint64_t msgs_dropped, ops_delayed, errors_injected, credits_stalled;
};

struct shm_link;

/* Faults a test can switch on (all off when zeroed). Times are absolute
 * on the link's clock; a window [from, until) with until == 0 is off. */
struct shm_faults {
	/* One-sided ops posted in the window get a random extra delay in
	 * [0, delay_max_ns]; order is kept. */
	uint64_t delay_max_ns, delay_from_ns, delay_until_ns;
	/* Asked for every message posted; true drops it (the sender is told
	 * CHAN_OK, as a lost doorbell would be silent). */
	bool (*drop_msg)(void *ctx, enum shm_end from, const void *msg, uint32_t len, uint64_t now_ns);
	void *drop_ctx;
	/* The first one-sided op executing at or after this time completes
	 * with CHAN_EIO and breaks the link; 0 = off. */
	uint64_t error_at_ns;
	/* The next registration with remote access on the host end covers
	 * this many bytes less than asked (the caller is not told). */
	uint32_t shrink_host_region_bytes;
	/* Message credits the NIC end frees in the window reach the host end
	 * only when the window closes. */
	uint64_t stall_credits_from_ns, stall_credits_until_ns;
	uint64_t seed;
};
void shm_link_set_faults(struct shm_link *link, const struct shm_faults *f);

struct shm_link;

/* Returns NULL on allocation failure. `clock` must outlive the link. */
struct shm_link *shm_link_create(const struct shm_link_params *p, const struct bt_clock *clock);
/* The end's chan; owned by the link (chan_destroy on it is a no-op). */
struct chan *shm_link_end(struct shm_link *link, enum shm_end end);
void shm_link_stats(const struct shm_link *link, struct shm_link_stats *out);
/* Breaks the link as if the peer vanished: outstanding ops complete with
 * CHAN_EFLUSHED, later posts return CHAN_EDISCONNECTED. */
void shm_link_break(struct shm_link *link);
/* A count that grows whenever something either end's next_event_ns reads
 * changes: two equal readings mean neither end's next event moved in
 * between (the simulator keeps next events of actors whose state did not
 * change, sim/sim.h). The pointer is good for the link's life: the
 * simulator reads it around every poll. */
const uint64_t *shm_link_moves(const struct shm_link *link);
/* The link counts its moves in *counter from now on (NULL: in its own),
 * so one reading covers several links; counter must outlive the link. */
void shm_link_count_moves_in(struct shm_link *link, uint64_t *counter);
void shm_link_destroy(struct shm_link *link);

#endif
