/*
 * scenario_run.c: executes a parsed scenario in the simulator: builds the
 * two hosts, their applications and channels, schedules the faults,
 * watches for a deadlock, and checks the expectations.
 *
 * Deadlock rule: application-level progress (a byte verified, a
 * connection opened or closed) is the only thing that counts. When none
 * happens for deadlock_after_ns of virtual time while work is pending, or
 * when nothing at all is scheduled any more, the run stops and reports the
 * state of every connection, queue, credit and wakeup.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/ctxq.h"
#include "../core/nic/nic.h"
#include "../transports/pcap_mirror.h"
#include "../transports/shm/shm_chan.h"
#include "link.h"
#include "run_clock.h"
#include "rng.h"
#include "scenario_engine.h"
#include "scn_apps.h"
#include "sim.h"

static const uint32_t host_ip[2] = {0x0a000001u, 0x0a000002u};

/* ---- the channel fault filter ---- */

static bool is_doorbell(uint8_t type)
{
	return type == CTXQ_DOORBELL || type == CTXQ_EV_CREDIT || type == CTXQ_ARM;
}

static bool drop_filter(void *ctx, bool from_nic_end, const void *msg, uint32_t len, uint64_t now)
{
	struct eng_app *ea = ctx;
	if (len < 1)
		return false;
	uint8_t type = ((const uint8_t *)msg)[0];
	const struct scn_fault *f = NULL;
	if (!from_nic_end && is_doorbell(type))
		f = ea->drop_doorbell;
	else if (from_nic_end && type == CTXQ_WAKEUP)
		f = ea->drop_wakeup;
	if (!f || now < f->at_ns || now >= f->until_ns)
		return false;
	uint64_t r = sim_rng_below(&ea->drop_rng, 1000000);
	if (r >= f->ppm)
		return false;
	ea->drops++;
	return true;
}

/* ---- actors ---- */

/* The actors' indices in the loop (setup registers them in this order). */
enum { ACTOR_SCHED = 0, ACTOR_NIC0 = 1, ACTOR_APP0 = 3 };

static uint64_t actor_mask(int idx) { return 1ull << idx; }

static int nic_poll_paused(struct eng_host *eh, uint64_t now)
{
	eh->polled_ns = now;
	if (now >= eh->pause_from_ns && now < eh->pause_until_ns)
		return 0;
	return nic_poll(eh->nic, now);
}

/* What a NIC's poll can move besides its own next event (sim.h): the
 * other NIC's and the wire's, by a frame sent or taken off the wire; its
 * applications', by what it did on their channels. Told to the loop by
 * comparing what their next_event_ns read before and after the poll. */
static int nic_actor_poll(void *ctx, uint64_t now)
{
	struct eng_host *eh = ctx;
	struct engine *e = eh->eng;
	uint64_t wire_moves = *e->wire_moves, chan_moves = eh->chan_moves;
	int work = nic_poll_paused(eh, now);
	uint64_t moved = 0;
	if (*e->wire_moves != wire_moves)
		moved |= eh->wire_moves_mask;
	if (eh->chan_moves != chan_moves)
		moved |= eh->apps_mask;
	sim_moved(&e->sim, moved);
	return work;
}

static uint64_t nic_actor_next(void *ctx)
{
	struct eng_host *eh = ctx;
	uint64_t next = nic_next_event_ns(eh->nic);
	if (!eh->pause_until_ns || next >= eh->pause_until_ns)
		return next; /* no pause, or none that hides this event */
	uint64_t now = bt_clock_now_ns(eh->eng->clock);
	if (now >= eh->pause_from_ns && now < eh->pause_until_ns)
		return eh->pause_until_ns;
	return next;
}

static int app_poll_once(struct eng_app *ea, uint64_t now);

/* An application's poll can move its NIC's next event only by what it did
 * on its channel (sim.h). */
static int app_actor_poll(void *ctx, uint64_t now)
{
	struct eng_app *ea = ctx;
	struct eng_host *eh = &ea->eng->host[ea->cfg->host];
	uint64_t chan_moves = eh->chan_moves;
	ea->eng->apps_polled = true;
	int work = app_poll_once(ea, now);
	if (eh->chan_moves != chan_moves)
		sim_moved(&ea->eng->sim, actor_mask(ACTOR_NIC0 + (int)ea->cfg->host));
	return work;
}

static int app_poll_once(struct eng_app *ea, uint64_t now)
{
	if (!ea->rt || ea->gone)
		return 0;
	int work = scn_app_poll(ea->rt, now);
	if (scn_app_exited(ea->rt) && !ea->gone) {
		/* The application is gone: its channel goes with it (the NIC
		 * must notice and reset its connections), then its memory. */
		eng_trace(ea->eng, "app %s exits with its connections open", ea->cfg->name);
		if (ea->link) {
			shm_link_break(ea->link);
			bt_host_destroy(ea->host);
		} else {
			/* A real transport: deregistering the region first makes
			 * the device refuse any late NIC access; then its end of
			 * the channel goes, as with a process that exits. */
			bt_host_destroy(ea->host);
			ea->eng->o.channels->destroy_pair(ea->eng->o.channels->ctx, ea->host_raw, NULL);
			ea->host_raw = NULL;
		}
		ea->host = NULL;
		ea->gone = true;
		work++;
	}
	return work;
}

static uint64_t app_actor_next(void *ctx)
{
	struct eng_app *ea = ctx;
	if (!ea->rt || ea->gone)
		return BT_TIME_NEVER;
	uint64_t next = scn_app_next_event_ns(ea->rt);
	/* Asleep, it acts only on a message (its WAKEUP) or its deadline:
	 * what lands in its memory meanwhile it reads when it wakes. */
	uint64_t chan = scn_app_sleeping(ea->rt) ? chan_next_msg_ns(ea->host_end) : chan_next_event_ns(ea->host_end);
	return chan < next ? chan : next;
}

/* An app asleep waits for its channel or deadline, unless its channel is
 * broken: then every wait ends at once (a poll that counts a wakeup and a
 * sleep, and so must happen in every round, as before). */
static bool app_actor_waits(void *ctx)
{
	struct eng_app *ea = ctx;
	if (!ea->rt || ea->gone)
		return true;
	return scn_app_waits(ea->rt) && (!ea->host || bt_host_waits(ea->host));
}

/* A NIC waits (nic_waits) except until a poll has seen its pause end:
 * what piled up in the pause is no event of its own. */
static bool nic_actor_waits(void *ctx)
{
	struct eng_host *eh = ctx;
	if (eh->pause_until_ns && eh->polled_ns < eh->pause_until_ns)
		return false;
	return nic_waits(eh->nic);
}

static int wire_actor_poll(void *ctx, uint64_t now)
{
	(void)ctx;
	(void)now;
	return 0;
}

static uint64_t wire_actor_next(void *ctx) { return sim_link_next_event_ns(ctx); }

/* Switches wire faults on and off at their window edges. */
static uint64_t sched_actor_next(void *ctx);

static int sched_actor_poll(void *ctx, uint64_t now)
{
	struct engine *e = ctx;
	int work = 0;
	/* Nothing changes between window edges: skip the recomputation
	 * (it ran on every poll of every round). */
	if (e->sched_started && now < e->sched_due_ns)
		return 0;
	e->sched_started = true;
	e->sched_due_ns = sched_actor_next(e);
	for (int h = 0; h < 2; h++) {
		struct netif_fault_params want = {.seed = e->host[h].fault_seed};
		for (uint32_t i = 0; i < e->s->fault_count; i++) {
			const struct scn_fault *f = &e->s->faults[i];
			if (f->kind != SCN_FAULT_WIRE || (int)f->host != h || now < f->at_ns || now >= f->until_ns)
				continue;
			/* Overlapping wire faults on one host: the later wins
			 * field by field where it sets something. */
			const struct netif_fault_params *p = &f->wire;
			const struct netif_fault_dir *src[2] = {&p->rx, &p->tx};
			struct netif_fault_dir *dst[2] = {&want.rx, &want.tx};
			for (int d = 0; d < 2; d++) {
				if (src[d]->loss_ppm) dst[d]->loss_ppm = src[d]->loss_ppm;
				if (src[d]->burst_start_ppm) dst[d]->burst_start_ppm = src[d]->burst_start_ppm;
				if (src[d]->burst_len) dst[d]->burst_len = src[d]->burst_len;
				if (src[d]->duplicate_ppm) dst[d]->duplicate_ppm = src[d]->duplicate_ppm;
				if (src[d]->corrupt_ppm) dst[d]->corrupt_ppm = src[d]->corrupt_ppm;
				if (src[d]->truncate_ppm) dst[d]->truncate_ppm = src[d]->truncate_ppm;
				if (src[d]->reorder_ppm) dst[d]->reorder_ppm = src[d]->reorder_ppm;
				if (src[d]->reorder_depth) dst[d]->reorder_depth = src[d]->reorder_depth;
				if (src[d]->jitter_ns) dst[d]->jitter_ns = src[d]->jitter_ns;
			}
			if (p->partition_end_ns > p->partition_start_ns) {
				want.partition_start_ns = p->partition_start_ns;
				want.partition_end_ns = p->partition_end_ns;
			}
		}
		if (memcmp(&want, &e->host[h].wire_now, sizeof(want)) != 0) {
			e->host[h].wire_now = want;
			netif_fault_set(e->host[h].fault_port, &want);
			eng_trace(e, "wire faults at %s NIC changed (loss %u ppm in, %u ppm out)", h ? "server" : "client",
				  want.rx.loss_ppm, want.tx.loss_ppm);
			work++;
		}
	}
	/* Faults that changed may move any actor's next event (sim.h). */
	sim_moved(&e->sim, ~0ull);
	return work;
}

/* The first window edge after now: the same answer from any time before
 * that edge, where the actor is due and polled (so it may report moves). */
static uint64_t sched_actor_next(void *ctx)
{
	struct engine *e = ctx;
	uint64_t now = bt_clock_now_ns(e->clock), next = BT_TIME_NEVER;
	for (uint32_t i = 0; i < e->s->fault_count; i++) {
		const struct scn_fault *f = &e->s->faults[i];
		if (f->kind != SCN_FAULT_WIRE)
			continue;
		if (f->at_ns > now && f->at_ns < next)
			next = f->at_ns;
		if (f->until_ns > now && f->until_ns < next)
			next = f->until_ns;
	}
	return next;
}

/* ---- building ---- */

static struct eng_app *app_by_name(struct engine *e, const char *name)
{
	for (uint32_t i = 0; i < e->s->app_count; i++)
		if (!strcmp(e->s->apps[i].name, name))
			return &e->app[i];
	return NULL;
}

static void host_config_for(const struct scenario *s, const struct scn_app *a, struct bt_host_config *hc)
{
	bt_host_default_config(hc);
	hc->rx_ring_bytes = a->rx_ring_bytes ? a->rx_ring_bytes : hc->rx_ring_bytes;
	hc->tx_ring_bytes = a->tx_ring_bytes ? a->tx_ring_bytes : hc->tx_ring_bytes;
	hc->event_entries = a->event_entries ? a->event_entries : hc->event_entries;
	uint32_t need = a->conns + a->backlog + 4;
	if (a->kind == SCN_WL_ECHO_SERVER || a->kind == SCN_WL_SINK || a->kind == SCN_WL_RPC_SERVER) {
		/* A server holds every client connection at once plus its backlog. */
		need = a->backlog + 8;
		for (uint32_t i = 0; i < s->app_count; i++)
			if (!strcmp(s->apps[i].target, a->name))
				need += s->apps[i].conns;
	}
	hc->max_conns = a->max_conns ? a->max_conns : need;
}

static uint64_t real_time_since_start(void *ctx)
{
	struct engine *e = ctx;
	return bt_clock_now_ns(&e->mono) - e->mono_base_ns;
}

static int build(struct engine *e, char *err, size_t err_len)
{
	const struct scenario *s = e->s;
	struct sim_rng rng;
	sim_rng_seed(&rng, e->o.seed);
	sim_init(&e->sim);
	bt_clock_monotonic(&e->mono);
	/* Every time in a script (fault windows, start=, exit_at=) counts
	 * from the start of the run: virtual time starts at 0, and real time
	 * gets a clock that does too. */
	e->mono_base_ns = bt_clock_now_ns(&e->mono);
	e->since_start = (struct bt_clock){.now_ns = real_time_since_start, .ctx = e};
	e->clock = e->o.realtime ? &e->since_start : &e->sim.clock;
	e->start_ns = bt_clock_now_ns(e->clock);

	struct sim_link_params lp;
	sim_link_default_params(&lp);
	lp.latency_ns = s->link_latency_ns;
	lp.bandwidth_bps = s->link_bandwidth_bps;
	lp.queue_limit_bytes = s->link_queue_bytes;
	lp.ecn_mark_bytes = s->link_ecn_mark_bytes;
	const uint8_t mac[2][6] = {{0x02, 0, 0, 0, 0, 0x01}, {0x02, 0, 0, 0, 0, 0x02}};
	e->wire = sim_link_create(&lp, e->clock, mac[0], mac[1]);
	if (!e->wire) {
		snprintf(err, err_len, "cannot create the simulated link");
		return -1;
	}
	for (int h = 0; h < 2; h++) {
		struct eng_host *eh = &e->host[h];
		eh->eng = e;
		eh->fault_seed = sim_rng_next(&rng);
		struct netif_fault_params none = {.seed = eh->fault_seed};
		eh->wire_now = none;
		eh->fault_port = netif_fault_create(sim_link_port(e->wire, h), &none, e->clock);
		if (!eh->fault_port) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		eh->port = eh->fault_port;
		if (h == 0 && e->o.pcap_path) {
			/* The mirror sits outside the faults: it records what the
			 * wire carried, and what this NIC was handed. */
			struct netif *m = pcap_mirror_create(eh->fault_port, e->o.pcap_path, e->clock, err, err_len);
			if (!m)
				return -1;
			eh->port = m;
		}
		struct nic_config nc;
		nic_default_config(&nc);
		nc.ip = host_ip[h];
		nc.netmask = 0xffffff00;
		nc.mss = s->mss;
		nc.ecn = s->ecn;
		nc.max_flows = s->max_flows;
		nc.staging_bytes = s->staging_bytes;
		nc.delayed_ack_ns = s->delayed_ack_ns;
		nc.rto_min_ns = s->rto_min_ns;
		if (nc.rto_initial_ns < nc.rto_min_ns)
			nc.rto_initial_ns = nc.rto_min_ns;
		nc.time_wait_ns = s->time_wait_ns;
		nc.isn_seed = (uint32_t)sim_rng_next(&rng);
		nc.inject_bugs = e->o.bugs & (NIC_BUG_RX_FIRST_SEGMENT_ONLY | NIC_BUG_WRITE_WITHOUT_CREDITS | NIC_BUG_DROP_WAKEUPS |
					      NIC_BUG_NO_SIMULTANEOUS_OPEN | NIC_BUG_NO_SIMULTANEOUS_CLOSE);
		nc.sack = !(e->o.bugs & SCN_BUG_NO_SACK);
		nc.tlp = nc.early_retransmit = !(e->o.bugs & SCN_BUG_NO_TAIL_RECOVERY);
		for (uint32_t i = 0; i < s->fault_count; i++) {
			const struct scn_fault *f = &s->faults[i];
			if ((int)f->host != h)
				continue;
			if (f->kind == SCN_FAULT_NIC_PAUSE) {
				eh->pause_from_ns = f->at_ns;
				eh->pause_until_ns = f->until_ns;
			}
		}
		eh->nic = nic_create(&nc, eh->port, e->clock, err, err_len);
		if (!eh->nic)
			return -1;
		for (uint32_t i = 0; i < s->fault_count; i++) {
			const struct scn_fault *f = &s->faults[i];
			if ((int)f->host == h && f->kind == SCN_FAULT_NIC_SLOWPATH_STALL)
				nic_stall_slowpath(eh->nic, f->at_ns, f->until_ns);
		}
	}
	/* Applications: each its own channel with its own key seed, so no
	 * key is valid on two links. */
	for (uint32_t i = 0; i < s->app_count; i++) {
		const struct scn_app *a = &s->apps[i];
		struct eng_app *ea = &e->app[i];
		ea->eng = e;
		ea->cfg = a;
		sim_rng_fork(&rng, i, &ea->drop_rng);
		struct shm_faults sf = {.seed = sim_rng_next(&rng)};
		uint64_t key_seed = sim_rng_next(&rng);
		for (uint32_t k = 0; k < s->fault_count; k++) {
			const struct scn_fault *f = &s->faults[k];
			if (strcmp(f->app, a->name) != 0)
				continue;
			bool shm_only = f->kind == SCN_FAULT_CHAN_DELAY || f->kind == SCN_FAULT_CHAN_ERROR ||
					f->kind == SCN_FAULT_CHAN_SHRINK_REGION || f->kind == SCN_FAULT_CHAN_STALL_CREDITS;
			if (shm_only && e->o.channels) {
				snprintf(err, err_len,
					 "line %u: this channel fault needs the sim or shm backend, not %s (only "
					 "drop-doorbell and drop-wakeup work on any channel)",
					 f->line, e->o.channels->name);
				return -1;
			}
			switch (f->kind) {
			case SCN_FAULT_CHAN_DELAY:
				sf.delay_max_ns = f->delay_ns;
				sf.delay_from_ns = f->at_ns;
				sf.delay_until_ns = f->until_ns;
				break;
			case SCN_FAULT_CHAN_DROP_DOORBELL:
				ea->drop_doorbell = f;
				break;
			case SCN_FAULT_CHAN_DROP_WAKEUP:
				ea->drop_wakeup = f;
				break;
			case SCN_FAULT_CHAN_ERROR:
				sf.error_at_ns = f->at_ns ? f->at_ns : 1;
				break;
			case SCN_FAULT_CHAN_SHRINK_REGION:
				sf.shrink_host_region_bytes = f->shrink_bytes;
				break;
			case SCN_FAULT_CHAN_STALL_CREDITS:
				sf.stall_credits_from_ns = f->at_ns;
				sf.stall_credits_until_ns = f->until_ns;
				break;
			default:
				break;
			}
		}
		if (e->o.channels) {
			if (e->o.channels->make_pair(e->o.channels->ctx, i, &ea->host_raw, &ea->nic_raw, err, err_len) < 0)
				return -1;
		} else {
			struct shm_link_params cp = {.sq_depth = s->chan_sq_depth,
						     .msg_depth = s->chan_msg_depth,
						     .op_latency_ns = e->o.realtime ? 0 : s->chan_latency_ns,
						     .msg_latency_ns = e->o.realtime ? 0 : s->chan_latency_ns,
						     .key_seed = key_seed};
			ea->link = shm_link_create(&cp, e->clock);
			if (!ea->link) {
				snprintf(err, err_len, "out of memory");
				return -1;
			}
			shm_link_set_faults(ea->link, &sf);
			ea->host_raw = shm_link_end(ea->link, SHM_END_HOST);
			ea->nic_raw = shm_link_end(ea->link, SHM_END_NIC);
		}
		/* Lost doorbells and wakeups are injected above the transport,
		 * the same way on every backend; an end without such a fault
		 * is the backend's own (no wrapper to pass every call through). */
		ea->host_end = ea->drop_doorbell ? chan_fault_wrap(ea->host_raw, false, drop_filter, ea, e->clock)
						 : ea->host_raw;
		ea->nic_end = ea->drop_wakeup ? chan_fault_wrap(ea->nic_raw, true, drop_filter, ea, e->clock) : ea->nic_raw;
		if (!ea->host_end || !ea->nic_end) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		struct nic *nic = e->host[a->host].nic;
		ea->nic_app = nic_attach_app(nic, ea->nic_end);
		if (ea->nic_app < 0) {
			snprintf(err, err_len, "app %s: the NIC cannot take another application", a->name);
			return -1;
		}
	}
	for (uint32_t i = 0; i < s->app_count; i++) {
		const struct scn_app *a = &s->apps[i];
		struct eng_app *ea = &e->app[i];
		if (a->kind == SCN_WL_HOSTILE)
			continue;
		struct bt_host_config hc;
		host_config_for(s, a, &hc);
		hc.doorbell_refresh_ns = s->doorbell_refresh_ns;
		int rc;
		ea->host = bt_host_create(&hc, ea->host_end, e->clock, &rc);
		if (!ea->host) {
			snprintf(err, err_len, "app %s: host library: %s", a->name, bt_strerror(rc));
			return -1;
		}
	}
	for (uint32_t i = 0; i < s->app_count; i++) {
		const struct scn_app *a = &s->apps[i];
		struct eng_app *ea = &e->app[i];
		struct scn_app_env env = {.clock = e->clock,
					  .seed = sim_rng_next(&rng),
					  .app_index = i,
					  .wait_timeout_ns = (e->o.bugs & SCN_BUG_WAKEUP_NO_TIMEOUT) ? BT_TIME_NEVER
												   : s->wait_timeout_ns,
					  .sleep_without_arm = (e->o.bugs & SCN_BUG_SLEEP_WITHOUT_ARM) != 0};
		if (a->target[0]) {
			struct eng_app *t = app_by_name(e, a->target);
			if (!t) {
				snprintf(err, err_len, "app %s: unknown target %s", a->name, a->target);
				return -1;
			}
			env.target_ip = host_ip[t->cfg->host];
			env.target_port = t->cfg->port;
		}
		if (a->kind == SCN_WL_HOSTILE) {
			struct eng_app *v = app_by_name(e, a->victim);
			if (!v || !v->host) {
				snprintf(err, err_len, "app %s: victim %s has no host library", a->name, a->victim);
				return -1;
			}
			env.raw_chan = ea->host_end;
			bt_host_region(v->host, &env.victim_region);
			env.victim_flow_guess_max = 20; /* 3 forged commands each: within 64 message credits */
		}
		int rc;
		ea->rt = scn_app_create(a, ea->host, &env, &rc);
		if (!ea->rt) {
			snprintf(err, err_len, "app %s: %s", a->name, bt_strerror(rc));
			return -1;
		}
	}
	/* Actors: 0 the fault schedule, 1 and 2 the NICs, then the apps, then
	 * the wire. Peers (sim.h): a NIC hears from its own apps and the
	 * schedule (its port's faults), and from the other NIC only over a
	 * wire that delivers in no time (otherwise a frame sent now arrives
	 * at a later instant, announced by next_rx_ns; a buffer it frees
	 * matters to no waiting NIC: one without a buffer dropped the frame);
	 * an app only from its NIC; the schedule and the wire from nobody. */
	const int nic_idx0 = ACTOR_NIC0, app_idx0 = ACTOR_APP0;
	int wire_idx = app_idx0 + (int)s->app_count;
	/* Kept next events (sim.h) need every channel's count of moves: a
	 * backend other than shm has none, and then every actor is asked at
	 * every instant, as before. */
	bool moves_counted = true;
	e->wire_moves = sim_link_moves(e->wire);
	for (int h = 0; h < 2; h++)
		e->host[h].wire_moves_mask = 1ull << (nic_idx0 + (h ^ 1)) | 1ull << wire_idx;
	for (uint32_t i = 0; i < s->app_count; i++) {
		struct eng_app *ea = &e->app[i];
		struct eng_host *eh = &e->host[s->apps[i].host];
		if (ea->link)
			shm_link_count_moves_in(ea->link, &eh->chan_moves);
		moves_counted = moves_counted && ea->link;
		eh->apps_mask |= 1ull << (app_idx0 + (int)i);
	}
	bool instant_wire = lp.latency_ns == 0 && lp.bandwidth_bps == 0;
	bool instant_chan = e->o.realtime || s->chan_latency_ns == 0;
	uint64_t host_apps[2] = {0, 0};
	for (uint32_t i = 0; i < s->app_count; i++)
		host_apps[s->apps[i].host] |= 1ull << (app_idx0 + i);
	struct sim_actor sched = {"faults", sched_actor_poll, sched_actor_next, e};
	sim_add_actor(&e->sim, &sched);
	/* The fault schedule (window edges) and the wire (no poll work at
	 * all) have work only at their next events. */
	sim_actor_waits(&e->sim, ACTOR_SCHED, sim_waits_always, 1ull << 0);
	sim_actor_reports_moves(&e->sim, ACTOR_SCHED);
	for (int h = 0; h < 2; h++) {
		struct sim_actor na = {h ? "nic-server" : "nic-client", nic_actor_poll, nic_actor_next, &e->host[h]};
		sim_add_actor(&e->sim, &na);
		sim_actor_waits(&e->sim, nic_idx0 + h, nic_actor_waits,
				host_apps[h] | 1ull << 0 | (instant_wire ? 1ull << (nic_idx0 + (h ^ 1)) : 0));
		/* A pause makes the NIC's next event the clock's business
		 * (nic_actor_next): asked at every instant. */
		if (moves_counted && !e->host[h].pause_until_ns)
			sim_actor_reports_moves(&e->sim, nic_idx0 + h);
	}
	for (uint32_t i = 0; i < s->app_count; i++) {
		struct sim_actor aa = {s->apps[i].name, app_actor_poll, app_actor_next, &e->app[i]};
		if (sim_add_actor(&e->sim, &aa) < 0) {
			snprintf(err, err_len, "too many actors");
			return -1;
		}
		/* A waiting app sleeps until a WAKEUP message (or its broken
		 * link, or its own deadline): over a channel with latency
		 * nothing its NIC posts now arrives now, and what arrives at an
		 * instant is in the app's next event. Its NIC's work is news to
		 * it only over an instant channel. */
		uint64_t app_bit = 1ull << (app_idx0 + i);
		sim_actor_waits(&e->sim, app_idx0 + (int)i, app_actor_waits,
				instant_chan ? 1ull << (nic_idx0 + s->apps[i].host) : app_bit);
		if (moves_counted)
			sim_actor_reports_moves(&e->sim, app_idx0 + (int)i);
	}
	struct sim_actor wa = {"wire", wire_actor_poll, wire_actor_next, e->wire};
	if (sim_add_actor(&e->sim, &wa) < 0) {
		snprintf(err, err_len, "too many actors");
		return -1;
	}
	sim_actor_waits(&e->sim, wire_idx, sim_waits_always, 1ull << wire_idx);
	sim_actor_reports_moves(&e->sim, wire_idx); /* its poll does nothing */
	return 0;
}

static void teardown(struct engine *e)
{
	for (uint32_t i = 0; i < e->s->app_count; i++) {
		struct eng_app *ea = &e->app[i];
		scn_app_destroy(ea->rt);
		ea->rt = NULL;
	}
	for (uint32_t i = 0; i < e->s->app_count; i++) {
		struct eng_app *ea = &e->app[i];
		bt_host_destroy(ea->host);
		ea->host = NULL;
	}
	for (int h = 0; h < 2; h++) {
		nic_destroy(e->host[h].nic);
		if (e->host[h].port)
			netif_destroy(e->host[h].port); /* mirror -> fault -> link port (a no-op) */
	}
	for (uint32_t i = 0; i < e->s->app_count; i++) {
		struct eng_app *ea = &e->app[i];
		if (ea->drop_doorbell)
			chan_fault_free(ea->host_end);
		if (ea->drop_wakeup)
			chan_fault_free(ea->nic_end);
		if (ea->link)
			shm_link_destroy(ea->link);
		else if (e->o.channels && (ea->host_raw || ea->nic_raw))
			e->o.channels->destroy_pair(e->o.channels->ctx, ea->host_raw, ea->nic_raw);
	}
	sim_link_destroy(e->wire);
}

/* ---- running ---- */

bool eng_all_done(struct engine *e)
{
	for (uint32_t i = 0; i < e->s->app_count; i++)
		if (e->app[i].rt && !scn_app_done(e->app[i].rt))
			return false;
	return true;
}

static uint64_t last_progress(struct engine *e)
{
	uint64_t last = e->start_ns;
	for (uint32_t i = 0; i < e->s->app_count; i++) {
		if (!e->app[i].rt)
			continue;
		uint64_t t = scn_app_last_progress_ns(e->app[i].rt);
		if (t > last)
			last = t;
	}
	return last;
}

static bool wakeup_unjudged(struct engine *e)
{
	for (uint32_t i = 0; i < e->s->app_count; i++)
		if (e->app[i].host && bt_host_wakeup_unjudged(e->app[i].host))
			return true;
	return false;
}

/* Done is not yet the end while a host's timed-out sleep waits for its
 * judgement (bt_host_wakeup_unjudged): the work can finish in the very
 * poll that ended the sleep, with the WAKEUP still on the channel.
 * Stopping then would accuse the NIC of a wakeup it sent. One more wait
 * timeout lets a late WAKEUP land; one still missing after that is lost. */
static bool done_and_judged(struct engine *e, uint64_t now)
{
	/* Only an app's poll changes whether it is done: asked again only
	 * after one (the check runs at every instant). */
	if (e->apps_polled) {
		e->apps_polled = false;
		e->all_done = eng_all_done(e);
	}
	if (!e->all_done)
		return false;
	if (!e->done_at_ns)
		e->done_at_ns = now;
	return !wakeup_unjudged(e) || now - e->done_at_ns >= e->s->wait_timeout_ns;
}

static bool stop_check(void *ctx)
{
	struct engine *e = ctx;
	if (e->timeline)
		eng_timeline_sample(e, false);
	uint64_t now = bt_clock_now_ns(e->clock);
	if (done_and_judged(e, now))
		return true;
	if (e->done_at_ns)
		return false; /* done, a late WAKEUP may still come: not a deadlock */
	/* Progress only moves forward, so the apps need asking only once the
	 * progress last seen is old enough to mean a deadlock. */
	if (now - e->progress_seen_ns >= e->s->deadlock_after_ns)
		e->progress_seen_ns = last_progress(e);
	if (now - e->progress_seen_ns >= e->s->deadlock_after_ns) {
		e->deadlock = true;
		return true;
	}
	return false;
}

static enum sim_stop run_realtime(struct engine *e)
{
	for (;;) {
		uint64_t now = bt_clock_now_ns(e->clock);
		for (int i = 0; i < e->sim.actor_count; i++)
			e->sim.actors[i].poll(e->sim.actors[i].ctx, now);
		if (stop_check(e))
			return SIM_STOP_DONE;
		if (now - e->start_ns >= e->s->time_limit_ns)
			return SIM_STOP_TIME_LIMIT;
	}
}

/* Closes the trace and the pcap, recording the first write error: a
 * record that was lost is reported, never claimed. */
static void close_outputs(struct engine *e, struct scenario_result *r)
{
	if (e->trace) {
		bool bad = ferror(e->trace) != 0;
		errno = 0;
		bad |= fclose(e->trace) != 0;
		e->trace = NULL;
		if (bad)
			snprintf(r->output_error, sizeof(r->output_error), "trace: cannot write %s: %s",
				 e->o.trace_path, strerror(errno ? errno : EIO));
	}
	char err[256];
	if (e->timeline) {
		eng_timeline_sample(e, true);
		if (timeline_close(e->timeline, bt_clock_now_ns(e->clock) - e->start_ns, err, sizeof(err)) < 0 &&
		    !r->output_error[0])
			snprintf(r->output_error, sizeof(r->output_error), "%s", err);
		free(e->timeline);
		e->timeline = NULL;
	}
	if (e->o.pcap_path && e->host[0].port && pcap_mirror_close(e->host[0].port, err, sizeof(err)) < 0 &&
	    !r->output_error[0])
		snprintf(r->output_error, sizeof(r->output_error), "%s", err);
}

static int open_timeline(struct engine *e, char *err, size_t err_len)
{
	e->timeline = calloc(1, sizeof(*e->timeline));
	if (!e->timeline) {
		snprintf(err, err_len, "timeline: out of memory");
		return -1;
	}
	if (timeline_open(e->timeline, e->o.perfetto_path, e->o.series_path, e->s->max_flows, err, err_len) < 0) {
		free(e->timeline);
		e->timeline = NULL;
		return -1;
	}
	timeline_process(e->timeline, TIMELINE_PID_NIC(0), "client NIC 10.0.0.1");
	timeline_process(e->timeline, TIMELINE_PID_NIC(1), "server NIC 10.0.0.2");
	for (uint32_t i = 0; i < e->s->app_count; i++) {
		char name[64];
		snprintf(name, sizeof(name), "app %s (%s)", e->s->apps[i].name,
			 e->s->apps[i].host ? "server" : "client");
		timeline_process(e->timeline, TIMELINE_PID_APP(i), name);
	}
	return 0;
}

struct text {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void append_counter(void *ctx, const char *name, uint64_t value)
{
	struct text *t = ctx;
	char line[256];
	int n = snprintf(line, sizeof(line), "%s %llu\n", name, (unsigned long long)value);
	if (t->oom || n <= 0 || (size_t)n >= sizeof(line))
		return;
	if (t->len + (size_t)n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		char *b = realloc(t->buf, cap);
		if (!b) {
			t->oom = true;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, line, (size_t)n + 1);
	t->len += (size_t)n;
}

static char *counters_text(struct engine *e)
{
	struct text t = {0};
	eng_counters_each(e, append_counter, &t);
	if (t.oom) {
		free(t.buf);
		return NULL;
	}
	return t.buf ? t.buf : calloc(1, 1);
}

int scenario_run(const struct scenario *s, const struct scenario_run_opts *o, struct scenario_result *r)
{
	memset(r, 0, sizeof(*r));
	struct engine *e = calloc(1, sizeof(*e));
	if (!e) {
		r->verdict = SCN_FAIL;
		snprintf(r->diagnosis, sizeof(r->diagnosis), "out of memory");
		return -1;
	}
	e->s = s;
	e->o = *o;
	e->apps_polled = true; /* all_done not taken yet */
	if (o->channels)
		e->o.realtime = true; /* real transports run in real time */
	if (o->trace_path) {
		e->trace = fopen(o->trace_path, "w");
		if (!e->trace) {
			r->verdict = SCN_FAIL;
			snprintf(r->diagnosis, sizeof(r->diagnosis), "cannot write trace %s", o->trace_path);
			free(e);
			return -1;
		}
	}
	char err[256] = "";
	double wall0 = run_wall_s();
	if (build(e, err, sizeof(err)) < 0) {
		r->verdict = SCN_FAIL;
		snprintf(r->diagnosis, sizeof(r->diagnosis), "setup: %s", err);
		teardown(e);
		if (e->trace)
			fclose(e->trace);
		free(e);
		return -1;
	}
	if ((o->perfetto_path || o->series_path) && open_timeline(e, err, sizeof(err)) < 0) {
		r->verdict = SCN_FAIL;
		snprintf(r->diagnosis, sizeof(r->diagnosis), "%s", err);
		snprintf(r->output_error, sizeof(r->output_error), "%s", err);
		teardown(e);
		if (e->trace)
			fclose(e->trace);
		free(e);
		return -1;
	}
	eng_trace(e, "scenario %s seed %llu bugs 0x%x", s->name, (unsigned long long)o->seed, o->bugs);
	enum sim_stop stop;
	double run_wall0 = run_wall_s(), run_cpu0 = run_cpu_s();
	if (o->realtime)
		stop = run_realtime(e);
	else
		stop = sim_run(&e->sim, e->start_ns + s->time_limit_ns, stop_check, e);
	r->run_wall_s = run_wall_s() - run_wall0;
	r->run_cpu_s = run_cpu_s() - run_cpu0;
	for (int h = 0; h < 2; h++) {
		struct nic_stats ns;
		nic_get_stats(e->host[h].nic, &ns);
		r->tx_data_segments[h] = ns.tx_segments;
		r->tx_retransmits[h] = ns.tx_retransmits;
	}
	if (stop == SIM_STOP_IDLE && !eng_all_done(e))
		e->deadlock = true; /* nothing will ever happen again, work pending */
	r->wall_s = run_wall_s() - wall0;
	r->virtual_ns = bt_clock_now_ns(e->clock) - e->start_ns;
	e->stop = stop;
	if (e->deadlock)
		r->deadlock_report = eng_describe(e);
	eng_evaluate(e, r);
	if (o->want_counters)
		r->counters = counters_text(e);
	eng_trace_final(e, r);
	close_outputs(e, r);
	teardown(e);
	free(e);
	return r->output_error[0] ? -1 : 0;
}

void scenario_result_free(struct scenario_result *r)
{
	free(r->deadlock_report);
	r->deadlock_report = NULL;
	free(r->counters);
	r->counters = NULL;
}


void eng_chan_stats(struct eng_app *ea, struct chan_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (ea->link) {
		struct shm_link_stats st;
		shm_link_stats(ea->link, &st);
		/* The shm backend knows every channel counter, by the same names. */
#define COPY_FIELD(f) out->f = st.f;
		CHAN_STATS_FIELDS(COPY_FIELD)
#undef COPY_FIELD
	} else if (ea->eng->o.channels && ea->eng->o.channels->stats) {
		ea->eng->o.channels->stats(ea->eng->o.channels->ctx, ea->host_raw, ea->nic_raw, out);
	}
	/* Lost doorbells and wakeups are dropped above the backend. */
	struct chan_fault_stats h = {0}, n = {0};
	if (ea->host_end && ea->drop_doorbell)
		chan_fault_stats(ea->host_end, &h);
	if (ea->nic_end && ea->drop_wakeup)
		chan_fault_stats(ea->nic_end, &n);
	out->msgs_dropped = h.msgs_dropped + n.msgs_dropped;
}
