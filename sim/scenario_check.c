/*
 * scenario_check.c: what a finished run is judged by. Counters by name,
 * the expectations, the one-line diagnosis of the first failure, the
 * deadlock report (state of every connection, queue, credit and wakeup)
 * and the trace.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "scenario_engine.h"

/* ---- counters ---- */

struct counter_field {
	const char *name;
	size_t off;
	uint8_t bytes;
};
#define F64(type, f) {#f, offsetof(type, f), 8}
#define F32(type, f) {#f, offsetof(type, f), 4}

#define NIC_F64(f) F64(struct nic_stats, f),
#define NIC_F32(f) F32(struct nic_stats, f),
static const struct counter_field nic_fields[] = {
	NIC_STATS_FIELDS_U64(NIC_F64) NIC_STATS_FIELDS_U32(NIC_F32)
};

static const struct counter_field wire_fields[] = {
	F64(struct sim_link_dir_stats, frames),         F64(struct sim_link_dir_stats, bytes),
	F64(struct sim_link_dir_stats, dropped_queue),  F64(struct sim_link_dir_stats, dropped_oversize),
	F64(struct sim_link_dir_stats, ecn_marked),     F32(struct sim_link_dir_stats, max_queue_bytes),
};

static const struct counter_field fault_fields[] = {
	F64(struct netif_fault_stats, lost),      F64(struct netif_fault_stats, burst_lost),
	F64(struct netif_fault_stats, duplicated), F64(struct netif_fault_stats, corrupted),
	F64(struct netif_fault_stats, truncated), F64(struct netif_fault_stats, reordered),
	F64(struct netif_fault_stats, delayed),   F64(struct netif_fault_stats, partitioned),
	F64(struct netif_fault_stats, rx_lost_payload_bytes), F64(struct netif_fault_stats, tx_lost_payload_bytes),
};

/* Derived, per direction: loss.to_server.NAME, loss.to_client.NAME. */
static const char *const loss_fields[] = {"lost_bytes", "resent_bytes", "resent_per_lost_pct", "goodput_mbps"};

static const struct counter_field app_fields[] = {
	{"bytes", offsetof(struct scn_app_stats, bytes_verified), 8},
	F64(struct scn_app_stats, bytes_sent),   F64(struct scn_app_stats, mismatches),
	F64(struct scn_app_stats, messages_done), F32(struct scn_app_stats, conns_opened),
	F32(struct scn_app_stats, conns_closed), F32(struct scn_app_stats, conns_failed),
	F32(struct scn_app_stats, accepted),     F64(struct scn_app_stats, errors),
	F64(struct scn_app_stats, wakeups),      F64(struct scn_app_stats, wait_timeouts),
	F64(struct scn_app_stats, attacks),      F64(struct scn_app_stats, attacks_refused),
	F64(struct scn_app_stats, forged_cmds),
	F64(struct scn_app_stats, access_errors),
};

static const struct counter_field host_fields[] = {
	F64(struct bt_host_stats, doorbells_sent),   F64(struct bt_host_stats, doorbells_deferred),
	F64(struct bt_host_stats, doorbells_refreshed), F64(struct bt_host_stats, arms_deferred),
	F64(struct bt_host_stats, waits_timed_out),  F64(struct bt_host_stats, lost_wakeups),
	F64(struct bt_host_stats, events_consumed),
};

static const struct counter_field chan_fields[] = {
	F64(struct shm_link_stats, reads),        F64(struct shm_link_stats, writes),
	F64(struct shm_link_stats, msgs),         F64(struct shm_link_stats, access_errors),
	F64(struct shm_link_stats, msgs_dropped), F64(struct shm_link_stats, ops_delayed),
	F64(struct shm_link_stats, errors_injected), F64(struct shm_link_stats, credits_stalled),
};

static const struct counter_field *find_field(const struct counter_field *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

static uint64_t read_field(const void *base, const struct counter_field *f)
{
	if (f->bytes == 8) {
		uint64_t v;
		memcpy(&v, (const uint8_t *)base + f->off, 8);
		return v;
	}
	uint32_t v;
	memcpy(&v, (const uint8_t *)base + f->off, 4);
	return v;
}

#define COUNT(t) (sizeof(t) / sizeof((t)[0]))

/* Splits "a.b.c" into three parts; the middle may be an app name. */
static bool split3(const char *name, char *a, char *b, char *c, size_t cap)
{
	const char *d1 = strchr(name, '.');
	const char *d2 = d1 ? strrchr(name, '.') : NULL;
	if (!d1 || d2 == d1)
		return false;
	size_t la = (size_t)(d1 - name), lb = (size_t)(d2 - d1 - 1);
	if (la >= cap || lb >= cap || strlen(d2 + 1) >= cap || la == 0 || lb == 0 || !d2[1])
		return false;
	memcpy(a, name, la);
	a[la] = 0;
	memcpy(b, d1 + 1, lb);
	b[lb] = 0;
	strcpy(c, d2 + 1);
	return true;
}

bool scenario_counter_known(const char *name)
{
	char a[SCN_NAME_MAX], b[SCN_NAME_MAX], c[SCN_NAME_MAX];
	if (!split3(name, a, b, c, sizeof(a)))
		return false;
	if ((!strcmp(a, "client") || !strcmp(a, "server")) && !strcmp(b, "nic"))
		return find_field(nic_fields, COUNT(nic_fields), c) != NULL;
	if ((!strcmp(a, "client") || !strcmp(a, "server")) && !strcmp(b, "faults"))
		return find_field(fault_fields, COUNT(fault_fields), c) != NULL;
	if (!strcmp(a, "wire") && (!strcmp(b, "to_server") || !strcmp(b, "to_client")))
		return find_field(wire_fields, COUNT(wire_fields), c) != NULL;
	if (!strcmp(a, "app"))
		return find_field(app_fields, COUNT(app_fields), c) != NULL;
	if (!strcmp(a, "chan"))
		return find_field(chan_fields, COUNT(chan_fields), c) != NULL;
	if (!strcmp(a, "host"))
		return find_field(host_fields, COUNT(host_fields), c) != NULL;
	if (!strcmp(a, "loss") && (!strcmp(b, "to_server") || !strcmp(b, "to_client"))) {
		for (size_t i = 0; i < COUNT(loss_fields); i++)
			if (!strcmp(c, loss_fields[i]))
				return true;
	}
	return false;
}

/* What the wire dropped in one direction (TCP payload, at the fault
 * injectors of both ends: the sender's tx, the receiver's rx), what the
 * sender's NIC resent, and the goodput at the receiving host's apps over
 * the run's virtual time. Tail drops in the link queue are not counted as
 * lost (the queue does not look into frames): a run that has them shows a
 * higher ratio than its true one. */
void eng_loss(struct engine *e, bool to_server, struct scn_loss *out)
{
	int sender = to_server ? SCN_HOST_CLIENT : SCN_HOST_SERVER;
	int receiver = 1 - sender;
	struct netif_fault_stats fs, fr;
	netif_fault_get_stats(e->host[sender].fault_port, &fs);
	netif_fault_get_stats(e->host[receiver].fault_port, &fr);
	struct nic_stats ns;
	nic_get_stats(e->host[sender].nic, &ns);
	memset(out, 0, sizeof(*out));
	out->lost_bytes = fs.tx_lost_payload_bytes + fr.rx_lost_payload_bytes;
	out->resent_bytes = ns.tx_retransmit_bytes;
	for (uint32_t i = 0; i < e->s->app_count; i++) {
		struct scn_app_stats st;
		if ((int)e->s->apps[i].host != receiver || !e->app[i].rt)
			continue;
		scn_app_get_stats(e->app[i].rt, &st);
		out->delivered_bytes += st.bytes_verified;
	}
	uint64_t ns_run = bt_clock_now_ns(e->clock) - e->start_ns;
	out->goodput_mbps = ns_run ? out->delivered_bytes * 8000 / ns_run : 0;
	if (out->lost_bytes)
		out->resent_per_lost_pct = out->resent_bytes * 100 / out->lost_bytes;
	else
		out->resent_per_lost_pct = out->resent_bytes ? UINT64_MAX : 0;
}

static struct eng_app *find_app(struct engine *e, const char *name)
{
	for (uint32_t i = 0; i < e->s->app_count; i++)
		if (!strcmp(e->s->apps[i].name, name))
			return &e->app[i];
	return NULL;
}

void scenario_loss_note(const struct scenario_result *r, char *buf, size_t cap)
{
	static const char *const dir[2] = {"to_server", "to_client"};
	size_t n = 0;
	buf[0] = 0;
	for (int d = 0; d < 2; d++) {
		const struct scn_loss *l = &r->loss[d];
		if (!l->lost_bytes && !l->resent_bytes)
			continue;
		char ratio[16];
		if (l->lost_bytes)
			snprintf(ratio, sizeof(ratio), "%.2f", (double)l->resent_bytes / (double)l->lost_bytes);
		else
			snprintf(ratio, sizeof(ratio), "inf");
		int w = snprintf(buf + n, cap - n, "%s%s: lost %llu B, resent/lost %s, goodput %llu Mbit/s",
				 n ? "; " : "", dir[d], (unsigned long long)l->lost_bytes, ratio,
				 (unsigned long long)l->goodput_mbps);
		if (w < 0 || (size_t)w >= cap - n)
			return;
		n += (size_t)w;
	}
}

/* Reads a counter; false if the name does not resolve in this run. */
static bool counter_value(struct engine *e, const char *name, uint64_t *out)
{
	char a[SCN_NAME_MAX], b[SCN_NAME_MAX], c[SCN_NAME_MAX];
	if (!split3(name, a, b, c, sizeof(a)))
		return false;
	const struct counter_field *f;
	int h = !strcmp(a, "server") ? 1 : 0;
	if ((!strcmp(a, "client") || !strcmp(a, "server")) && !strcmp(b, "nic")) {
		struct nic_stats st;
		nic_get_stats(e->host[h].nic, &st);
		if (!(f = find_field(nic_fields, COUNT(nic_fields), c)))
			return false;
		*out = read_field(&st, f);
		return true;
	}
	if ((!strcmp(a, "client") || !strcmp(a, "server")) && !strcmp(b, "faults")) {
		struct netif_fault_stats st;
		netif_fault_get_stats(e->host[h].fault_port, &st);
		if (!(f = find_field(fault_fields, COUNT(fault_fields), c)))
			return false;
		*out = read_field(&st, f);
		return true;
	}
	if (!strcmp(a, "wire")) {
		struct sim_link_dir_stats st;
		sim_link_dir_stats(e->wire, !strcmp(b, "to_server") ? 0 : 1, &st);
		if (!(f = find_field(wire_fields, COUNT(wire_fields), c)))
			return false;
		*out = read_field(&st, f);
		return true;
	}
	if (!strcmp(a, "loss")) {
		struct scn_loss l;
		eng_loss(e, !strcmp(b, "to_server"), &l);
		const uint64_t v[] = {l.lost_bytes, l.resent_bytes, l.resent_per_lost_pct, l.goodput_mbps};
		for (size_t i = 0; i < COUNT(loss_fields); i++)
			if (!strcmp(c, loss_fields[i])) {
				*out = v[i];
				return true;
			}
		return false;
	}
	struct eng_app *ea = find_app(e, b);
	if (!ea)
		return false;
	if (!strcmp(a, "app") && ea->rt) {
		struct scn_app_stats st;
		scn_app_get_stats(ea->rt, &st);
		if (!(f = find_field(app_fields, COUNT(app_fields), c)))
			return false;
		*out = read_field(&st, f);
		return true;
	}
	if (!strcmp(a, "chan")) {
		struct shm_link_stats st;
		eng_chan_stats(ea, &st);
		if (!(f = find_field(chan_fields, COUNT(chan_fields), c)))
			return false;
		*out = read_field(&st, f);
		return true;
	}
	if (!strcmp(a, "host")) {
		struct bt_host_stats st = {0};
		if (ea->host)
			bt_host_stats(ea->host, &st);
		if (!(f = find_field(host_fields, COUNT(host_fields), c)))
			return false;
		*out = read_field(&st, f);
		return true;
	}
	return false;
}

/* ---- timers that rescued progress ---- */

/* Faults that may delay or lose what wakes this app or confirms its
 * doorbells: any channel fault on its own channel, or a NIC fault on its
 * host (a stalled slow path holds every later command, ARM included). */
static bool app_channel_faulted(const struct scenario *s, const struct scn_app *a)
{
	for (uint32_t i = 0; i < s->fault_count; i++) {
		const struct scn_fault *f = &s->faults[i];
		if (f->kind == SCN_FAULT_WIRE)
			continue;
		if (f->kind == SCN_FAULT_NIC_SLOWPATH_STALL || f->kind == SCN_FAULT_NIC_PAUSE) {
			if (f->host == a->host)
				return true;
		} else if (!strcmp(f->app, a->name)) {
			return true;
		}
	}
	return false;
}

/* Without channel faults a timer never rescues progress: no sleep ends by
 * its timeout with events waiting (a lost wakeup), and no doorbell stays
 * unconfirmed until its refresh. Checked in every run. */
static bool check_no_timer_rescue(struct engine *e, char *why, size_t cap)
{
	const struct scenario *s = e->s;
	for (uint32_t i = 0; i < s->app_count; i++) {
		struct eng_app *ea = &e->app[i];
		if (!ea->host || app_channel_faulted(s, &s->apps[i]))
			continue;
		struct bt_host_stats st;
		bt_host_stats(ea->host, &st);
		if (st.lost_wakeups) {
			snprintf(why, cap, "lost wakeup: app %s slept until its timeout %llu times with events waiting or "
				 "commands owed (host.%s.lost_wakeups), without a channel fault", s->apps[i].name,
				 (unsigned long long)st.lost_wakeups, s->apps[i].name);
			return false;
		}
		if (st.doorbells_refreshed) {
			snprintf(why, cap, "doorbell refresh: app %s re-rang %llu doorbells or credits the NIC never "
				 "confirmed (host.%s.doorbells_refreshed), without a channel fault", s->apps[i].name,
				 (unsigned long long)st.doorbells_refreshed, s->apps[i].name);
			return false;
		}
	}
	return true;
}

/* ---- expectations ---- */

static const char *cmp_text(enum scn_cmp c)
{
	static const char *const t[] = {"==", "!=", "<", "<=", ">", ">="};
	return (unsigned)c < 6 ? t[c] : "?";
}

static bool cmp_holds(uint64_t v, enum scn_cmp c, uint64_t want)
{
	switch (c) {
	case SCN_CMP_EQ: return v == want;
	case SCN_CMP_NE: return v != want;
	case SCN_CMP_LT: return v < want;
	case SCN_CMP_LE: return v <= want;
	case SCN_CMP_GT: return v > want;
	case SCN_CMP_GE: return v >= want;
	}
	return false;
}

static bool error_expected(const struct scenario *s, const char *app, int err)
{
	for (uint32_t i = 0; i < s->expect_count; i++) {
		const struct scn_expect *x = &s->expects[i];
		if (x->kind == SCN_EXPECT_ERROR && !strcmp(x->app, app) && x->error == err)
			return true;
	}
	return false;
}

/* Bytes a sink must receive: 16-byte header + payload per stream
 * connection of every client aimed at it. */
static uint64_t sink_expected(const struct scenario *s, const char *sink)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i < s->app_count; i++) {
		const struct scn_app *a = &s->apps[i];
		if (a->kind == SCN_WL_STREAM && !strcmp(a->target, sink))
			total += (uint64_t)a->conns * (a->cycles ? a->cycles : 1) * (16 + a->bytes);
	}
	return total;
}

static bool check_intact(struct engine *e, char *why, size_t cap)
{
	const struct scenario *s = e->s;
	for (uint32_t i = 0; i < s->app_count; i++) {
		const struct scn_app *a = &s->apps[i];
		struct eng_app *ea = &e->app[i];
		if (!ea->rt)
			continue;
		struct scn_app_stats st;
		scn_app_get_stats(ea->rt, &st);
		if (st.mismatches) {
			snprintf(why, cap, "data mismatch: app %s received %llu bytes that differ from what was sent "
				 "(first at stream offset %llu)", a->name, (unsigned long long)st.mismatches,
				 (unsigned long long)st.first_mismatch_offset);
			return false;
		}
		if (st.first_error && !error_expected(s, a->name, st.first_error) && !a->fault.exit_at_ns) {
			snprintf(why, cap, "app %s saw an error: %s", a->name, bt_strerror(st.first_error));
			return false;
		}
		bool client = a->kind == SCN_WL_ECHO || a->kind == SCN_WL_RPC || a->kind == SCN_WL_STREAM ||
			      a->kind == SCN_WL_CHURN;
		/* An application whose failure the script predicts is judged by
		 * `expect error`, and by the bytes it did get, not by finishing. */
		bool failure_expected = false;
		for (uint32_t k = 0; k < s->expect_count; k++)
			if (s->expects[k].kind == SCN_EXPECT_ERROR && !strcmp(s->expects[k].app, a->name))
				failure_expected = true;
		if (client && !a->fault.exit_at_ns && !failure_expected) {
			uint64_t cycles = a->cycles ? a->cycles : 1;
			uint64_t per = a->kind == SCN_WL_ECHO || a->kind == SCN_WL_RPC ? a->messages : 1;
			uint64_t want = (uint64_t)a->conns * cycles * per;
			if (st.messages_done != want) {
				snprintf(why, cap, "app %s completed %llu of %llu messages", a->name,
					 (unsigned long long)st.messages_done, (unsigned long long)want);
				return false;
			}
		}
		if (a->kind == SCN_WL_SINK) {
			uint64_t want = sink_expected(s, a->name);
			/* A sink that exits early gets what arrived before it
			 * left: intact means all of it verified (mismatches are
			 * caught above), never more than was sent. */
			bool short_ok = a->fault.exit_at_ns && st.bytes_verified < want;
			if (st.bytes_verified != want && !short_ok) {
				snprintf(why, cap, "sink %s received %llu bytes, expected %llu", a->name,
					 (unsigned long long)st.bytes_verified, (unsigned long long)want);
				return false;
			}
		}
	}
	return true;
}

static void fail_with(struct scenario_result *r, const char *why)
{
	if (r->verdict == SCN_FAIL)
		return; /* the first failed expectation is the diagnosis */
	r->verdict = SCN_FAIL;
	snprintf(r->diagnosis, sizeof(r->diagnosis), "%s", why);
}

void eng_evaluate(struct engine *e, struct scenario_result *r)
{
	const struct scenario *s = e->s;
	char why[768];
	r->verdict = SCN_PASS;
	r->deadlock = e->deadlock;
	for (uint32_t i = 0; i < s->app_count; i++) {
		struct eng_app *ea = &e->app[i];
		struct shm_link_stats cs;
		eng_chan_stats(ea, &cs);
		r->access_errors += cs.access_errors;
		if (!ea->rt)
			continue;
		struct scn_app_stats st;
		scn_app_get_stats(ea->rt, &st);
		r->bytes_delivered += st.bytes_verified;
		if (st.mismatches)
			r->data_mismatch = true;
		if (st.first_error && !r->first_error)
			r->first_error = st.first_error;
	}
	eng_loss(e, true, &r->loss[0]);
	eng_loss(e, false, &r->loss[1]);
	/* The diagnosis names the cause, not a symptom: a deadlock explains
	 * unfinished messages, an out-of-bounds access explains a broken
	 * channel; so those are judged first, whatever the script order. */
	static const enum scn_expect_kind order[] = {SCN_EXPECT_NO_DEADLOCK, SCN_EXPECT_DEADLOCK, SCN_EXPECT_NO_ACCESS_ERRORS,
						     SCN_EXPECT_INTACT, SCN_EXPECT_WITHIN, SCN_EXPECT_ERROR,
						     SCN_EXPECT_COUNTER};
	for (size_t pass = 0; pass < sizeof(order) / sizeof(order[0]); pass++) {
	/* A timer that rescued progress explains lateness and unfinished
	 * work, so it is named after a deadlock or an access error and
	 * before the rest; it is checked whatever the script expects. */
	if (order[pass] == SCN_EXPECT_INTACT && !check_no_timer_rescue(e, why, sizeof(why)))
		fail_with(r, why);
	for (uint32_t i = 0; i < s->expect_count; i++) {
		const struct scn_expect *x = &s->expects[i];
		uint64_t v;
		if (x->kind != order[pass])
			continue;
		switch (x->kind) {
		case SCN_EXPECT_INTACT:
			if (!check_intact(e, why, sizeof(why)))
				fail_with(r, why);
			break;
		case SCN_EXPECT_WITHIN:
			if (!eng_all_done(e) || r->virtual_ns > x->within_ns) {
				snprintf(why, sizeof(why), "not finished within %.3f ms (%s at %.3f ms)",
					 (double)x->within_ns / 1e6, eng_all_done(e) ? "finished" : "still running",
					 (double)r->virtual_ns / 1e6);
				fail_with(r, why);
			}
			break;
		case SCN_EXPECT_NO_DEADLOCK:
			if (e->deadlock) {
				if (e->stop == SIM_STOP_IDLE)
					snprintf(why, sizeof(why), "deadlock: nothing left to run (no event, no timer) "
						 "with work pending (report lists every connection)");
				else
					snprintf(why, sizeof(why), "deadlock: no progress for %.3f ms with work pending "
						 "(report lists every connection)", (double)s->deadlock_after_ns / 1e6);
				fail_with(r, why);
			}
			break;
		case SCN_EXPECT_DEADLOCK:
			if (!e->deadlock) {
				snprintf(why, sizeof(why), "expected the deadlock detector to stop the run, but it %s",
					 eng_all_done(e) ? "finished" : "ran into the time limit");
				fail_with(r, why);
			}
			break;
		case SCN_EXPECT_ERROR: {
			struct eng_app *ea = find_app(e, x->app);
			struct scn_app_stats st = {0};
			if (ea && ea->rt)
				scn_app_get_stats(ea->rt, &st);
			if (!(st.error_mask & scn_error_bit(x->error))) {
				snprintf(why, sizeof(why), "app %s never saw %s (first error: %s)", x->app,
					 bt_strerror(x->error), st.first_error ? bt_strerror(st.first_error) : "none");
				fail_with(r, why);
			}
			break;
		}
		case SCN_EXPECT_COUNTER:
			if (!counter_value(e, x->counter, &v)) {
				snprintf(why, sizeof(why), "unknown counter %s (line %u)", x->counter, x->line);
				fail_with(r, why);
			} else if (!cmp_holds(v, x->cmp, x->value)) {
				snprintf(why, sizeof(why), "counter %s is %llu, expected %s %llu", x->counter,
					 (unsigned long long)v, cmp_text(x->cmp), (unsigned long long)x->value);
				fail_with(r, why);
			}
			break;
		case SCN_EXPECT_NO_ACCESS_ERRORS:
			for (uint32_t k = 0; k < s->app_count; k++) {
				if (x->app[0] && !strcmp(s->apps[k].name, x->app))
					continue;
				struct shm_link_stats cs;
				eng_chan_stats(&e->app[k], &cs);
				if (cs.access_errors) {
					snprintf(why, sizeof(why), "out-of-bounds: %llu channel accesses of app %s were refused "
						 "(remote access error: an access left its region)",
						 (unsigned long long)cs.access_errors, s->apps[k].name);
					fail_with(r, why);
				}
			}
			break;
		}
	}
	}
	/* Whatever the script says, a run that never finished is not a pass
	 * unless it expected exactly that (a deadlock or an error). */
	bool deadlock_expected = false;
	for (uint32_t i = 0; i < s->expect_count; i++)
		deadlock_expected |= s->expects[i].kind == SCN_EXPECT_DEADLOCK;
	if (r->verdict == SCN_PASS && e->stop == SIM_STOP_TIME_LIMIT && !eng_all_done(e) && !deadlock_expected) {
		snprintf(why, sizeof(why), "time limit of %.3f ms reached with work pending",
			 (double)s->time_limit_ns / 1e6);
		fail_with(r, why);
	}
	if (r->verdict == SCN_FAIL && e->deadlock && !strstr(r->diagnosis, "deadlock")) {
		size_t n = strlen(r->diagnosis);
		snprintf(r->diagnosis + n, sizeof(r->diagnosis) - n, "; deadlock detected");
	}
	/* "completed 0 of 40 messages" alone reads like a stack bug; say
	 * when it was the limit that ended the run. */
	if (r->verdict == SCN_FAIL && !e->deadlock && e->stop == SIM_STOP_TIME_LIMIT && !eng_all_done(e) &&
	    !strstr(r->diagnosis, "time limit")) {
		size_t n = strlen(r->diagnosis);
		snprintf(r->diagnosis + n, sizeof(r->diagnosis) - n, "; stopped by the time limit of %.3f ms",
			 (double)s->time_limit_ns / 1e6);
	}
}

/* ---- the deadlock report ---- */

char *eng_describe(struct engine *e)
{
	size_t cap = 1u << 20;
	char *buf = calloc(1, cap);
	if (!buf)
		return NULL;
	size_t len = 0;
	if (e->stop == SIM_STOP_IDLE)
		len += (size_t)snprintf(buf + len, cap - len,
					"DEADLOCK at %.3f ms: nothing left to run (no event, no timer) with work pending\n",
					(double)(bt_clock_now_ns(e->clock) - e->start_ns) / 1e6);
	else
		len += (size_t)snprintf(buf + len, cap - len,
					"DEADLOCK at %.3f ms: no application progress for %.3f ms with work pending\n",
					(double)(bt_clock_now_ns(e->clock) - e->start_ns) / 1e6,
					(double)e->s->deadlock_after_ns / 1e6);
	for (int h = 0; h < 2 && len < cap; h++) {
		len += (size_t)snprintf(buf + len, cap - len, "\n== %s NIC\n", h ? "server" : "client");
		nic_describe(e->host[h].nic, buf + len, cap - len);
		len += strlen(buf + len);
	}
	for (uint32_t i = 0; i < e->s->app_count && len < cap; i++) {
		struct eng_app *ea = &e->app[i];
		struct shm_link_stats cs;
		eng_chan_stats(ea, &cs);
		len += (size_t)snprintf(buf + len, cap - len,
					"\n== app %s (%s host)\nchannel: %llu msgs, %llu dropped by fault, %llu credits "
					"stalled, %llu access errors\n",
					ea->cfg->name, ea->cfg->host ? "server" : "client", (unsigned long long)cs.msgs,
					(unsigned long long)cs.msgs_dropped, (unsigned long long)cs.credits_stalled,
					(unsigned long long)cs.access_errors);
		if (ea->host && len < cap) {
			bt_host_describe(ea->host, buf + len, cap - len);
			len += strlen(buf + len);
		}
		if (ea->rt && len < cap) {
			scn_app_describe(ea->rt, buf + len, cap - len);
			len += strlen(buf + len);
		}
	}
	return buf;
}

/* ---- trace ---- */

void eng_trace(struct engine *e, const char *fmt, ...)
{
	if (!e->trace)
		return;
	fprintf(e->trace, "%14.6f ms  ", (double)(bt_clock_now_ns(e->clock) - e->start_ns) / 1e6);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(e->trace, fmt, ap);
	va_end(ap);
	fputc('\n', e->trace);
}

void eng_trace_final(struct engine *e, const struct scenario_result *r)
{
	if (!e->trace)
		return;
	eng_trace(e, "end: %s%s%s", r->verdict == SCN_PASS ? "PASS" : "FAIL: ",
		  r->verdict == SCN_PASS ? "" : r->diagnosis, e->deadlock ? " (deadlock)" : "");
	for (int h = 0; h < 2; h++) {
		struct nic_stats st;
		nic_get_stats(e->host[h].nic, &st);
		for (size_t i = 0; i < COUNT(nic_fields); i++)
			fprintf(e->trace, "  %s.nic.%s = %llu\n", h ? "server" : "client", nic_fields[i].name,
				(unsigned long long)read_field(&st, &nic_fields[i]));
	}
	/* The wire's own counters and what the fault injectors did, under
	 * the names `expect counter` takes, so a trace explains a run. */
	for (int h = 0; h < 2; h++) {
		struct netif_fault_stats st;
		netif_fault_get_stats(e->host[h].fault_port, &st);
		for (size_t i = 0; i < COUNT(fault_fields); i++)
			fprintf(e->trace, "  %s.faults.%s = %llu\n", h ? "server" : "client", fault_fields[i].name,
				(unsigned long long)read_field(&st, &fault_fields[i]));
	}
	for (int d = 0; d < 2; d++) {
		struct sim_link_dir_stats st;
		sim_link_dir_stats(e->wire, d, &st);
		for (size_t i = 0; i < COUNT(wire_fields); i++)
			fprintf(e->trace, "  wire.%s.%s = %llu\n", d ? "to_client" : "to_server", wire_fields[i].name,
				(unsigned long long)read_field(&st, &wire_fields[i]));
	}
	for (uint32_t i = 0; i < e->s->app_count; i++) {
		if (!e->app[i].rt)
			continue;
		struct scn_app_stats st;
		scn_app_get_stats(e->app[i].rt, &st);
		for (size_t k = 0; k < COUNT(app_fields); k++)
			fprintf(e->trace, "  app.%s.%s = %llu\n", e->s->apps[i].name, app_fields[k].name,
				(unsigned long long)read_field(&st, &app_fields[k]));
		if (!e->app[i].host)
			continue;
		struct bt_host_stats hs;
		bt_host_stats(e->app[i].host, &hs);
		for (size_t k = 0; k < COUNT(host_fields); k++)
			fprintf(e->trace, "  host.%s.%s = %llu\n", e->s->apps[i].name, host_fields[k].name,
				(unsigned long long)read_field(&hs, &host_fields[k]));
	}
	if (r->deadlock_report)
		fprintf(e->trace, "\n%s", r->deadlock_report);
}
