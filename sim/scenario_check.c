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

/* Every counter comes from the field list of its struct (an X-macro next
 * to the struct, whose static assert fails the build when a field is
 * missing): `expect counter`, the trace and the JSON results of
 * `bluetas run --results` all read these tables, so none can drift. */
struct counter_field {
	const char *name;
	size_t off;
	uint8_t bytes;
};
#define F64(type, f) {#f, offsetof(type, f), 8},
#define F32(type, f) {#f, offsetof(type, f), 4},

#define NIC_F64(f) F64(struct nic_stats, f)
#define NIC_F32(f) F32(struct nic_stats, f)
static const struct counter_field nic_fields[] = {NIC_STATS_FIELDS_U64(NIC_F64) NIC_STATS_FIELDS_U32(NIC_F32)};

#define WIRE_F64(f) F64(struct sim_link_dir_stats, f)
#define WIRE_F32(f) F32(struct sim_link_dir_stats, f)
static const struct counter_field wire_fields[] = {SIM_LINK_DIR_STATS_FIELDS_U64(WIRE_F64)
							   SIM_LINK_DIR_STATS_FIELDS_U32(WIRE_F32)};

#define FAULT_F64(f) F64(struct netif_fault_stats, f)
static const struct counter_field fault_fields[] = {NETIF_FAULT_STATS_FIELDS(FAULT_F64)};

#define APP_F64(f) F64(struct scn_app_stats, f)
#define APP_F32(f) F32(struct scn_app_stats, f)
static const struct counter_field app_fields[] = {SCN_APP_STATS_FIELDS_U64(APP_F64) SCN_APP_STATS_FIELDS_U32(APP_F32)};

#define CHAN_F64(f) F64(struct chan_stats, f)
static const struct counter_field chan_fields[] = {CHAN_STATS_FIELDS(CHAN_F64)};

#define HOST_F64(f) F64(struct bt_host_stats, f)
#define HOST_F32(f) F32(struct bt_host_stats, f)
static const struct counter_field host_fields[] = {BT_HOST_STATS_FIELDS_U64(HOST_F64) BT_HOST_STATS_FIELDS_U32(HOST_F32)};

/* Derived, per direction (eng_loss): loss.to_server.NAME, loss.to_client.NAME. */
#define LOSS_F64(f) F64(struct scn_loss, f)
static const struct counter_field loss_fields[] = {LOSS_F64(lost_bytes) LOSS_F64(resent_bytes)
							   LOSS_F64(resent_per_lost_pct) LOSS_F64(goodput_mbps)};

#define COUNT(t) (sizeof(t) / sizeof((t)[0]))

/* The counter groups: NAME.INSTANCE.FIELD, INSTANCE a host, a direction
 * or an application. */
enum cgroup { CG_NIC, CG_FAULTS, CG_WIRE, CG_LOSS, CG_APP, CG_CHAN, CG_HOST, CG_COUNT };
static const struct {
	const struct counter_field *fields;
	size_t count;
} cgroups[CG_COUNT] = {
	[CG_NIC] = {nic_fields, COUNT(nic_fields)},	    [CG_FAULTS] = {fault_fields, COUNT(fault_fields)},
	[CG_WIRE] = {wire_fields, COUNT(wire_fields)},	    [CG_APP] = {app_fields, COUNT(app_fields)},
	[CG_CHAN] = {chan_fields, COUNT(chan_fields)},	    [CG_HOST] = {host_fields, COUNT(host_fields)},
	[CG_LOSS] = {loss_fields, COUNT(loss_fields)},
};

union any_stats {
	struct nic_stats nic;
	struct netif_fault_stats faults;
	struct sim_link_dir_stats wire;
	struct scn_app_stats app;
	struct chan_stats chan;
	struct bt_host_stats host;
	struct scn_loss loss;
};

static const struct counter_field *find_field(enum cgroup g, const char *name)
{
	/* `app.APP.bytes`: the name scripts used before the field list
	 * named it after the struct field. */
	if (g == CG_APP && !strcmp(name, "bytes"))
		name = "bytes_verified";
	for (size_t i = 0; i < cgroups[g].count; i++)
		if (!strcmp(cgroups[g].fields[i].name, name))
			return &cgroups[g].fields[i];
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

/* Which group "a.b" names; CG_COUNT if none. For the app groups, b is
 * the application (checked against the run, not here). */
static enum cgroup group_of(const char *a, const char *b)
{
	bool host = !strcmp(a, "client") || !strcmp(a, "server");
	if (host && !strcmp(b, "nic"))
		return CG_NIC;
	if (host && !strcmp(b, "faults"))
		return CG_FAULTS;
	if (!strcmp(a, "wire") && (!strcmp(b, "to_server") || !strcmp(b, "to_client")))
		return CG_WIRE;
	if (!strcmp(a, "loss") && (!strcmp(b, "to_server") || !strcmp(b, "to_client")))
		return CG_LOSS;
	if (!strcmp(a, "app"))
		return CG_APP;
	if (!strcmp(a, "chan"))
		return CG_CHAN;
	if (!strcmp(a, "host"))
		return CG_HOST;
	return CG_COUNT;
}

bool scenario_counter_known(const char *name)
{
	char a[SCN_NAME_MAX], b[SCN_NAME_MAX], c[SCN_NAME_MAX];
	if (!split3(name, a, b, c, sizeof(a)))
		return false;
	enum cgroup g = group_of(a, b);
	return g != CG_COUNT && find_field(g, c) != NULL;
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

/* Reads one instance of a group; false when it does not exist in this
 * run (an unknown app, or an app without a host library). */
static bool group_read(struct engine *e, enum cgroup g, const char *a, const char *b, union any_stats *out)
{
	memset(out, 0, sizeof(*out));
	int h = !strcmp(a, "server") ? 1 : 0;
	switch (g) {
	case CG_NIC:
		nic_get_stats(e->host[h].nic, &out->nic);
		return true;
	case CG_FAULTS:
		netif_fault_get_stats(e->host[h].fault_port, &out->faults);
		return true;
	case CG_WIRE:
		sim_link_dir_stats(e->wire, !strcmp(b, "to_server") ? 0 : 1, &out->wire);
		return true;
	case CG_LOSS:
		eng_loss(e, !strcmp(b, "to_server"), &out->loss);
		return true;
	default:
		break;
	}
	struct eng_app *ea = find_app(e, b);
	if (!ea)
		return false;
	if (g == CG_APP && ea->rt) {
		scn_app_get_stats(ea->rt, &out->app);
		return true;
	}
	if (g == CG_CHAN) {
		eng_chan_stats(ea, &out->chan);
		return true;
	}
	if (g == CG_HOST) {
		/* An app without a host library (hostile) counts nothing. */
		if (ea->host)
			bt_host_stats(ea->host, &out->host);
		return true;
	}
	return false;
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
	enum cgroup g = group_of(a, b);
	const struct counter_field *f = g == CG_COUNT ? NULL : find_field(g, c);
	union any_stats st;
	if (!f || !group_read(e, g, a, b, &st))
		return false;
	*out = read_field(&st, f);
	return true;
}

static void each_in_group(struct engine *e, enum cgroup g, const char *a, const char *b, eng_counter_fn fn, void *ctx)
{
	union any_stats st;
	if (!group_read(e, g, a, b, &st))
		return;
	char name[3 * SCN_NAME_MAX + 3];
	for (size_t i = 0; i < cgroups[g].count; i++) {
		snprintf(name, sizeof(name), "%s.%s.%s", a, b, cgroups[g].fields[i].name);
		fn(ctx, name, read_field(&st, &cgroups[g].fields[i]));
	}
}

void eng_counters_each(struct engine *e, eng_counter_fn fn, void *ctx)
{
	static const char *const hosts[2] = {"client", "server"};
	for (int h = 0; h < 2; h++)
		each_in_group(e, CG_NIC, hosts[h], "nic", fn, ctx);
	for (int h = 0; h < 2; h++)
		each_in_group(e, CG_FAULTS, hosts[h], "faults", fn, ctx);
	each_in_group(e, CG_WIRE, "wire", "to_server", fn, ctx);
	each_in_group(e, CG_WIRE, "wire", "to_client", fn, ctx);
	each_in_group(e, CG_LOSS, "loss", "to_server", fn, ctx);
	each_in_group(e, CG_LOSS, "loss", "to_client", fn, ctx);
	for (uint32_t i = 0; i < e->s->app_count; i++) {
		const char *app = e->s->apps[i].name;
		each_in_group(e, CG_APP, "app", app, fn, ctx);
		each_in_group(e, CG_CHAN, "chan", app, fn, ctx);
		if (e->app[i].host)
			each_in_group(e, CG_HOST, "host", app, fn, ctx);
	}
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
 * its timeout with events waiting (a lost wakeup), and, in virtual time,
 * no doorbell stays unconfirmed until its refresh. Checked in every run. */
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
		/* In real time (--backend shm or rxe) a slow machine can delay a
		 * confirmation past the 1 ms refresh with nothing lost (seen in
		 * the Soft-RoCE VM beside the sweep on 2 cores): only virtual
		 * time makes a refresh proof of a lost doorbell. */
		if (st.doorbells_refreshed && e->clock != &e->since_start) {
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
			      a->kind == SCN_WL_CHURN || a->kind == SCN_WL_PEER;
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
		if (a->kind == SCN_WL_PEER && !a->fault.exit_at_ns && !failure_expected) {
			/* All of the other peer's stream, header included. */
			uint64_t want = 0;
			for (uint32_t k = 0; k < s->app_count; k++)
				if (!strcmp(s->apps[k].name, a->target))
					want = 16 + s->apps[k].bytes;
			if (st.bytes_verified != want) {
				snprintf(why, cap, "peer %s received %llu bytes, expected %llu", a->name,
					 (unsigned long long)st.bytes_verified, (unsigned long long)want);
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
		struct chan_stats cs;
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
				struct chan_stats cs;
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
		struct chan_stats cs;
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

static void trace_counter(void *ctx, const char *name, uint64_t value)
{
	fprintf(ctx, "  %s = %llu\n", name, (unsigned long long)value);
}

void eng_trace_final(struct engine *e, const struct scenario_result *r)
{
	if (!e->trace)
		return;
	eng_trace(e, "end: %s%s%s", r->verdict == SCN_PASS ? "PASS" : "FAIL: ",
		  r->verdict == SCN_PASS ? "" : r->diagnosis, e->deadlock ? " (deadlock)" : "");
	eng_counters_each(e, trace_counter, e->trace);
	if (r->deadlock_report)
		fprintf(e->trace, "\n%s", r->deadlock_report);
}
