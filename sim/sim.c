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

int sim_actor_reports_moves(struct sim *s, int idx)
{
	if (!s || idx < 0 || idx >= s->actor_count)
		return -1;
	s->reports_moves |= 1ull << idx;
	return 0;
}

void sim_moved(struct sim *s, uint64_t actors)
{
	s->stale |= actors;
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

static uint64_t all_actors(const struct sim *s)
{
	return s->actor_count >= 64 ? ~0ull : actor_bit(s->actor_count) - 1;
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
		s->poll_marks[j] = (s->reports_moves & actor_bit(j)) ? actor_bit(j) : all_actors(s);
		s->wakes[j] = actor_bit(j);
		for (int i = 0; i < s->actor_count; i++) {
			uint64_t p = s->peers[i];
			if (p == 0 || (p & actor_bit(j)))
				s->wakes[j] |= actor_bit(i);
		}
	}
}

/* Whether actor i waits now (its waits(), see sim.h), asked at most once
 * between two of its polls: only its own poll changes the answer. */
static bool sim_waits_now(struct sim *s, int i)
{
	uint64_t bit = actor_bit(i);
	if (s->every_round & bit)
		return false;
	if (s->waits_always & bit)
		return true;
	if (!(s->waits_known & bit)) {
		s->waits_known |= bit;
		if (s->waits[i](s->actors[i].ctx))
			s->waiting |= bit;
		else
			s->waiting &= ~bit;
	}
	return (s->waiting & bit) != 0;
}

/* Whether a poll of actor i now might do work (see sim.h); dirty and due
 * change within an instant. */
static bool sim_must_poll(struct sim *s, int i)
{
	if ((s->dirty | s->due) & actor_bit(i))
		return true;
	return !sim_waits_now(s, i);
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

/* After a poll of actor i that did work: whether another poll in this
 * instant may find more. For an actor that reports its moves, not once
 * its next event is ahead and it waits: it is asked now (the answer is
 * kept, as at the instant's end, until a poll moves it), and it stops
 * being due. Any other actor is polled again while it works. */
static bool sim_more_now(struct sim *s, int i)
{
	uint64_t bit = actor_bit(i);
	if (!(s->reports_moves & bit) || (s->every_round & bit))
		return true;
	const struct sim_actor *a = &s->actors[i];
	uint64_t t = a->next_event_ns ? a->next_event_ns(a->ctx) : BT_TIME_NEVER;
	s->next_ns[i] = t;
	s->stale &= ~bit;
	if (t <= s->now_ns)
		return true; /* still due: stays due for the instant */
	s->due &= ~bit;
	return !sim_waits_now(s, i);
}

/* Polls actor i; true if it did work. A due actor stays due for the whole
 * instant unless a poll of it that did work says otherwise (sim_more_now):
 * a poll may take what is due without working yet (the wire's reorder
 * fault holds a frame back, due at once, for the next poll). */
static bool sim_poll(struct sim *s, int i, bool counts)
{
	struct sim_actor *a = &s->actors[i];
	uint64_t bit = actor_bit(i);
	s->dirty &= ~bit;
	/* A poll BT_SIM_VERIFY makes although the loop would skip it (it
	 * must change nothing) leaves the kept next events as the skip would,
	 * for the check in sim_next_verify. */
	if (counts) {
		s->waits_known &= ~bit;
		s->stale |= s->poll_marks[i];
	}
	int w = a->poll(a->ctx, s->now_ns);
	s->polls++;
	if (w > 0) {
		s->dirty |= s->wakes[i] & ~bit;
		if (sim_more_now(s, i))
			s->dirty |= bit;
	}
	return w > 0;
}

/* BT_SIM_VERIFY's round: every actor polled, and one that would have been
 * skipped must not have done work. Such a poll leaves the loop's answer
 * from waits() standing, as the skip would; asked again, waits() must
 * still give it. */
static bool sim_round_verify(struct sim *s)
{
	bool work = false;
	for (int i = 0; i < s->actor_count; i++) {
		uint64_t bit = actor_bit(i);
		bool known = (s->waits_known & bit) != 0;
		bool must = sim_must_poll(s, i);
		if (!must && known && !(s->waits_always & bit) && !s->waits[i](s->actors[i].ctx)) {
			fprintf(stderr, "sim: BT_SIM_VERIFY: actor %s's waits() changed at %llu ns without a poll of its own\n",
				s->actors[i].name, (unsigned long long)s->now_ns);
			abort();
		}
		if (sim_poll(s, i, must)) {
			if (!must) {
				fprintf(stderr,
					"sim: BT_SIM_VERIFY: actor %s did work at %llu ns although it waited for "
					"%llu ns and no peer had worked\n",
					s->actors[i].name, (unsigned long long)s->now_ns, (unsigned long long)s->next_ns[i]);
				abort();
			}
			work = true;
		}
	}
	return work;
}

/* One round: every actor that may have work, in registration order. True
 * if any did work; a negative return is treated as "nothing" rather than
 * cancelling another actor's positive count. Only the candidates are
 * visited: dirty, due, polled in every round, or not known to wait. */
static bool sim_round(struct sim *s)
{
	if (s->verify)
		return sim_round_verify(s);
	bool work = false;
	uint64_t all = all_actors(s);
	uint64_t quiet_known = s->waits_always | (s->waits_known & s->waiting);
	uint64_t visited = 0; /* a prefix: actors 0 .. past - 1 */
	int past = 0;
	for (;;) {
		uint64_t cand = (s->dirty | s->due | ~quiet_known) & all & ~visited;
		if (!cand)
			break;
		int i = __builtin_ctzll(cand);
		uint64_t bit = actor_bit(i);
		visited |= bit | (bit - 1); /* this round is past i */
		past = i + 1;
		if (!sim_must_poll(s, i)) {
			quiet_known |= bit;
			s->polls_skipped++;
			continue;
		}
		if (sim_poll(s, i, true))
			work = true;
	}
	/* Skipped without a look: waiting actors neither dirty nor due, the
	 * ones after the last visited (a count, not a popcount: without
	 * -mpopcnt that is a libgcc call in every round, 1% of a bulk run). */
	s->polls_skipped += (uint64_t)(s->actor_count - past);
	return work;
}

/* BT_SIM_VERIFY: asks every actor, and aborts when a kept answer (of one
 * that reports its moves and was not marked) no longer stands. */
static void sim_next_verify(struct sim *s)
{
	for (int i = 0; i < s->actor_count; i++) {
		const struct sim_actor *a = &s->actors[i];
		uint64_t t = a->next_event_ns ? a->next_event_ns(a->ctx) : BT_TIME_NEVER;
		uint64_t bit = actor_bit(i);
		if (!(s->stale & bit) && (s->reports_moves & bit) && t != s->next_ns[i]) {
			fprintf(stderr,
				"sim: BT_SIM_VERIFY: actor %s's next event moved from %llu to %llu ns at %llu ns "
				"without a poll that said so\n",
				a->name, (unsigned long long)s->next_ns[i], (unsigned long long)t,
				(unsigned long long)s->now_ns);
			abort();
		}
		s->next_ns[i] = t;
	}
}

/* Asks the stale actors and those that report no moves (sim.h) and
 * returns the earliest next event of all; *at_next: the actors whose
 * next event it is (the due mask if the loop moves to it: one pass over
 * the actors instead of a second one in sim_set_due). */
static uint64_t sim_next_event(struct sim *s, uint64_t *at_next)
{
	if (s->verify) {
		sim_next_verify(s);
	} else {
		for (uint64_t ask = (s->stale | ~s->reports_moves) & all_actors(s); ask; ask &= ask - 1) {
			int i = __builtin_ctzll(ask);
			const struct sim_actor *a = &s->actors[i];
			s->next_ns[i] = a->next_event_ns ? a->next_event_ns(a->ctx) : BT_TIME_NEVER;
		}
	}
	s->stale = 0;
	uint64_t next = BT_TIME_NEVER, mask = 0;
	for (int i = 0; i < s->actor_count; i++) {
		uint64_t t = s->next_ns[i];
		if (t < next) {
			next = t;
			mask = actor_bit(i);
		} else if (t == next) {
			mask |= actor_bit(i);
		}
	}
	*at_next = mask;
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
	s->dirty = all_actors(s);
	s->stale = all_actors(s);
	sim_set_due(s);
	s->waits_known = 0;

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

		uint64_t at_next;
		uint64_t next = sim_next_event(s, &at_next);
		if (next == BT_TIME_NEVER)
			return SIM_STOP_IDLE;
		/* An actor that stays quiet yet claims an event now or in the past
		 * would stall virtual time forever; stepping one nanosecond keeps
		 * the run live and still reaches the time limit. */
		bool stepped = next <= s->now_ns;
		if (stepped)
			next = s->now_ns + 1;
		if (next >= until_ns) {
			s->now_ns = until_ns;
			return SIM_STOP_TIME_LIMIT;
		}
		s->now_ns = next;
		s->instants++;
		/* Moving to the earliest next event, those whose event it is are
		 * the due ones; after a step, whoever is at or before it. */
		if (stepped)
			sim_set_due(s);
		else
			s->due = at_next;
	}
}
