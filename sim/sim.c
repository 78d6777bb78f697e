#include "sim.h"

#include <string.h>

static uint64_t sim_clock_read(void *ctx)
{
	const struct sim *s = ctx;
	return s->now_ns;
}

void sim_init(struct sim *s)
{
	if (!s)
		return;
	memset(s, 0, sizeof(*s));
	/* The clock points into the struct, so a struct sim must not be
	 * copied after init: a copy's clock would read the original's time. */
	s->clock.now_ns = sim_clock_read;
	s->clock.ctx = s;
}

int sim_add_actor(struct sim *s, const struct sim_actor *a)
{
	if (!s || !a || !a->poll || s->actor_count >= SIM_MAX_ACTORS)
		return -1;
	s->actors[s->actor_count++] = *a;
	return 0;
}

const char *sim_stop_name(enum sim_stop st)
{
	switch (st) {
	case SIM_STOP_DONE:
		return "done";
	case SIM_STOP_IDLE:
		return "idle";
	case SIM_STOP_TIME_LIMIT:
		return "time-limit";
	case SIM_STOP_LIVELOCK:
		return "livelock";
	}
	return "unknown";
}

/* One round: every actor once, in registration order. True if any did
 * work; a negative return is treated as "nothing" rather than cancelling
 * another actor's positive count. */
static bool sim_round(struct sim *s)
{
	bool work = false;
	for (int i = 0; i < s->actor_count; i++) {
		struct sim_actor *a = &s->actors[i];
		int w = a->poll(a->ctx, s->now_ns);
		s->polls++;
		if (w > 0)
			work = true;
	}
	return work;
}

static uint64_t sim_next_event(const struct sim *s)
{
	uint64_t next = BT_TIME_NEVER;
	for (int i = 0; i < s->actor_count; i++) {
		const struct sim_actor *a = &s->actors[i];
		if (!a->next_event_ns)
			continue;
		uint64_t t = a->next_event_ns(a->ctx);
		if (t < next)
			next = t;
	}
	return next;
}

enum sim_stop sim_run(struct sim *s, uint64_t until_ns, bool (*done)(void *ctx), void *done_ctx)
{
	if (!s)
		return SIM_STOP_IDLE;
	/* The run covers [now, until): events due exactly at until_ns are left
	 * for the next call, so consecutive calls with growing limits see every
	 * instant exactly once. */
	if (s->now_ns >= until_ns)
		return SIM_STOP_TIME_LIMIT;

	for (;;) {
		int rounds = 0;
		bool work;
		do {
			work = sim_round(s);
		} while (work && ++rounds < SIM_MAX_ROUNDS_PER_INSTANT);
		if (rounds >= SIM_MAX_ROUNDS_PER_INSTANT)
			return SIM_STOP_LIVELOCK;

		if (done && done(done_ctx))
			return SIM_STOP_DONE;

		uint64_t next = sim_next_event(s);
		if (next == BT_TIME_NEVER)
			return SIM_STOP_IDLE;
		/* An actor that stays quiet yet claims an event now or in the past
		 * would stall virtual time forever; stepping one nanosecond keeps
		 * the run live and still reaches the time limit. */
		if (next <= s->now_ns)
			next = s->now_ns + 1;
		if (next >= until_ns) {
			s->now_ns = until_ns;
			return SIM_STOP_TIME_LIMIT;
		}
		s->now_ns = next;
		s->instants++;
	}
}
