/*
 * sim.h: the deterministic discrete-event loop. One thread, virtual time.
 *
 * Everything that acts (NIC stacks, host libraries, applications, links,
 * channels) is an ACTOR with two callbacks: poll(now) does whatever work
 * is ready at `now` and returns how much it did (0 = nothing), and
 * next_event_ns() says when it next needs to run on its own (a timer, a
 * frame or completion in flight), BT_TIME_NEVER if never.
 *
 * sim_run: at each instant, poll every actor in registration order until a
 * whole round does no work; then jump virtual time to the earliest
 * next_event_ns. The order is fixed and no wall-clock value is read, so a
 * run is a pure function of its inputs and seed.
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
};

void sim_init(struct sim *s);
/* Returns 0, or -1 when SIM_MAX_ACTORS are registered already. */
int sim_add_actor(struct sim *s, const struct sim_actor *a);
/* Runs until done(ctx) is true (checked after every quiet instant), the
 * system goes idle, or now >= until_ns. */
enum sim_stop sim_run(struct sim *s, uint64_t until_ns, bool (*done)(void *ctx), void *done_ctx);

#endif
