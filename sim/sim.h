/*
 * sim.h: the deterministic discrete-event loop. One thread, virtual time.
 *
 * Everything that acts (NIC stacks, host libraries, applications, links,
 * channels) is an ACTOR with two callbacks: poll(now) does whatever work
 * is ready at `now` and returns how much it did (0 = nothing), and
 * next_event_ns() says when it next needs to run on its own (a timer, a
 * frame or completion in flight), BT_TIME_NEVER if never.
 *
 * sim_run: at each instant, poll the actors in registration order, round
 * after round, until a whole round does no work; then jump virtual time to
 * the earliest next_event_ns. The order is fixed and no wall-clock value is
 * read, so a run is a pure function of its inputs and seed.
 *
 * Event-driven polling: a round skips an actor whose poll could only say
 * "nothing": one that WAITS (waits() true: it acts only at its own
 * next_event_ns or when prodded) whose next event is still ahead and none
 * of whose PEERS
 * (the actors whose work can hand it work: a NIC and its applications,
 * the two NICs on one wire) did work since its last poll. An actor's work
 * counts as its own peer's: it is polled again while it works, unless it
 * reports its moves (below): then, after a poll that did work, it is
 * asked its next event at once and polled again in the instant only if
 * that is not ahead or it does not wait (no poll just to find nothing
 * more). waits()
 * must answer from the actor's own state, which only its poll changes:
 * the loop asks it at most once between two polls of the actor.
 * A skipped poll is one that would have returned 0 and changed nothing, so
 * a run is the same, poll for poll that did work, as polling every actor.
 *
 * Next events kept: at an instant's end next_event_ns is asked only of the
 * STALE actors, whose answer may have changed. An actor that REPORTS its
 * moves (sim_actor_reports_moves) answers from state only polls change
 * (from the clock only where the answer stays the same until it is due),
 * and its poll marks itself and whatever it names
 * with sim_moved (the actors whose next_event_ns it may have changed: a
 * NIC that put a frame on the wire names the other NIC); its answer is
 * kept until it is marked. Any other actor is asked at every instant and
 * its poll marks every actor. The instants visited are the same as when
 * every actor is asked.
 *
 * BT_SIM_VERIFY=1 in the environment polls every actor again and aborts,
 * naming it, when one that would have been skipped did work (an
 * incomplete next_event_ns or waits), when its waits() changed without a
 * poll of its own, or when a kept next event is not what the actor says
 * now (a move its poll or a peer's did not report).
 */
#ifndef BT_SIM_H
#define BT_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "../transports/clock.h"

#define SIM_MAX_ACTORS 64
#define SIM_MAX_ROUNDS_PER_INSTANT 100000 /* more means a livelock */

struct sim_actor {
	const char *name;
	int (*poll)(void *ctx, uint64_t now_ns);
	uint64_t (*next_event_ns)(void *ctx);
	void *ctx;
};

enum sim_stop {
	SIM_STOP_DONE = 0,      /* the done() predicate became true */
	SIM_STOP_IDLE = 1,      /* nothing will ever happen again */
	SIM_STOP_TIME_LIMIT = 2,/* virtual time reached the limit */
	SIM_STOP_LIVELOCK = 3,  /* an instant never became quiet */
};
const char *sim_stop_name(enum sim_stop s);

struct sim {
	uint64_t now_ns;
	struct bt_clock clock;   /* reads now_ns */
	struct sim_actor actors[SIM_MAX_ACTORS];
	int actor_count;
	uint64_t instants;       /* distinct times visited */
	uint64_t polls;          /* actor poll calls */
	uint64_t polls_skipped;  /* polls event-driven polling left out */
	/* sim_actor_waits: */
	bool (*waits[SIM_MAX_ACTORS])(void *ctx);
	uint64_t peers[SIM_MAX_ACTORS];
	uint64_t next_ns[SIM_MAX_ACTORS]; /* each actor's next_event_ns at the last instant's end */
	uint64_t dirty;          /* bit i: a peer of actor i (or i) worked since i's last poll */
	uint64_t wakes[SIM_MAX_ACTORS]; /* bit i of wakes[j]: j's work marks i dirty */
	uint64_t due;            /* bit i: next_ns[i] <= now_ns (this instant) */
	uint64_t waits_known;    /* bit i: waits() asked since i's last poll... */
	uint64_t waiting;        /* ...and it said true */
	uint64_t every_round;    /* bit i: no waits(): polled in every round */
	uint64_t waits_always;   /* bit i: waits() is sim_waits_always (not called) */
	uint64_t stale;          /* bit i: ask next_event_ns again at this instant's end */
	uint64_t reports_moves;  /* bit i: sim_actor_reports_moves */
	uint64_t poll_marks[SIM_MAX_ACTORS]; /* what a poll of i makes stale by itself */
	bool verify;             /* BT_SIM_VERIFY: poll every actor, check the skips */
};

void sim_init(struct sim *s);
/* Returns 0, or -1 when SIM_MAX_ACTORS are registered already. */
int sim_add_actor(struct sim *s, const struct sim_actor *a);
/* Lets the loop skip actor `idx` (in registration order) while it waits:
 * waits(ctx) true means its poll can find work only at its next_event_ns
 * or after the work of one of its peers (bit i of `peers`: actor i; 0:
 * every actor). Without this call an actor is polled in every round.
 * Returns 0, or -1 for an unknown actor. */
int sim_actor_waits(struct sim *s, int idx, bool (*waits)(void *ctx), uint64_t peers);
/* A waits() for an actor that only ever acts at its next_event_ns or when
 * prodded (a schedule, a wire): the loop knows it and does not call it. */
bool sim_waits_always(void *ctx);
/* Actor `idx`'s next_event_ns answers the same between polls, and its
 * poll names, with
 * sim_moved, every other actor whose next_event_ns it may have changed
 * (see above). Returns 0, or -1 for an unknown actor. */
int sim_actor_reports_moves(struct sim *s, int idx);
/* From within a poll: the next events of the actors in `actors` (bit i:
 * actor i) may have moved. */
void sim_moved(struct sim *s, uint64_t actors);
/* Runs until done(ctx) is true (checked after every quiet instant), the
 * system goes idle, or now >= until_ns. */
enum sim_stop sim_run(struct sim *s, uint64_t until_ns, bool (*done)(void *ctx), void *done_ctx);

#endif
