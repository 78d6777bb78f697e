#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
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
	const char *v = getenv("BT_SIM_VERIFY");
	s->verify = v && v[0] == '1';
}

int sim_add_actor(struct sim *s, const struct sim_actor *a)
{
	if (!s || !a || !a->poll || s->actor_count >= SIM_MAX_ACTORS)
		return -1;
	s->actors[s->actor_count++] = *a;
	return 0;
}

bool sim_waits_always(void *ctx)
{
	(void)ctx;
	return true;
}

int sim_actor_waits(struct sim *s, int idx, bool (*waits)(void *ctx), uint64_t peers)
{
	if (!s || idx < 0 || idx >= s->actor_count)
		return -1;
	s->waits[idx] = waits;
	s->peers[idx] = peers;
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

static uint64_t actor_bit(int i)
{
	return 1ull << i;
}

/* wakes[j] from every actor's peers: whom j's work can give work now;
 * and which actors have no waits() or one that need not be called. */
static void sim_wire_peers(struct sim *s)
{
	s->every_round = s->waits_always = 0;
	for (int i = 0; i < s->actor_count; i++) {
		if (!s->waits[i])
			s->every_round |= actor_bit(i);
		else if (s->waits[i] == sim_waits_always)
			s->waits_always |= actor_bit(i);
	}
	for (int j = 0; j < s->actor_count; j++) {
		s->wakes[j] = actor_bit(j);
		for (int i = 0; i < s->actor_count; i++) {
			uint64_t p = s->peers[i];
			if (p == 0 || (p & actor_bit(j)))
				s->wakes[j] |= actor_bit(i);
		}
	}
}

/* Whether a poll of actor i now might do work (see sim.h). The masks
 * answer without a call for most actors; dirty changes within a round. */
static bool sim_must_poll(const struct sim *s, int i)
{
	uint64_t bit = actor_bit(i);
	if ((s->dirty | s->due | s->every_round) & bit)
		return true;
	if (s->waits_always & bit)
		return false;
	return !s->waits[i](s->actors[i].ctx);
}

/* The due mask for the instant now_ns, from next_ns. */
static void sim_set_due(struct sim *s)
{
	uint64_t due = 0;
	for (int i = 0; i < s->actor_count; i++)
		if (s->next_ns[i] <= s->now_ns)
			due |= actor_bit(i);
	s->due = due;
}

/* One round: every actor that may have work, in registration order. True
 * if any did work; a negative return is treated as "nothing" rather than
 * cancelling another actor's positive count. */
static bool sim_round(struct sim *s)
{
	bool work = false;
	for (int i = 0; i < s->actor_count; i++) {
		struct sim_actor *a = &s->actors[i];
		bool must = sim_must_poll(s, i);
		if (!must && !s->verify) {
			s->polls_skipped++;
			continue;
		}
		s->dirty &= ~actor_bit(i);
		int w = a->poll(a->ctx, s->now_ns);
		s->polls++;
		if (w > 0) {
			if (!must) {
				fprintf(stderr,
					"sim: BT_SIM_VERIFY: actor %s did work at %llu ns although it waited for "
					"%llu ns and no peer had worked\n",
					a->name, (unsigned long long)s->now_ns, (unsigned long long)s->next_ns[i]);
				abort();
			}
			s->dirty |= s->wakes[i];
			work = true;
		}
	}
	return work;
}

static uint64_t sim_next_event(struct sim *s)
{
	uint64_t next = BT_TIME_NEVER;
	for (int i = 0; i < s->actor_count; i++) {
		const struct sim_actor *a = &s->actors[i];
		uint64_t t = a->next_event_ns ? a->next_event_ns(a->ctx) : BT_TIME_NEVER;
		s->next_ns[i] = t;
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
	/* Whatever happened between calls happened outside the loop: every
	 * actor is polled in the first round. */
	sim_wire_peers(s);
	s->dirty = s->actor_count >= 64 ? ~0ull : actor_bit(s->actor_count) - 1;
	sim_set_due(s);

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
		sim_set_due(s);
	}
}
