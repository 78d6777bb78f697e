/*
 * scenario_swarm.c: the swarm variant of a scenario (scenario_swarm.h).
 */
#include "scenario_swarm.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rng.h"

/* A label that keeps swarm's draws apart from every other stream of the
 * run's seed. */
#define SWARM_STREAM 0x5357524d53574d31ull /* "SWRMSWM1" */

struct desc {
	char *buf;
	size_t cap, len;
};

static void say(struct desc *d, const char *fmt, const char *a, const char *b)
{
	if (d->len + 1 >= d->cap)
		return;
	int n = snprintf(d->buf + d->len, d->cap - d->len, fmt, a, b);
	if (n > 0)
		d->len += (size_t)n < d->cap - d->len ? (size_t)n : d->cap - d->len - 1;
}

static const char *const scale_name[4] = {"1/8", "1/4", "1/2", "1"};

/* Off (returns false), or on at 1/8, 1/4, 1/2 or all of the rate. */
static bool draw(struct sim_rng *r, unsigned *shift)
{
	if (sim_rng_below(r, 2) == 0)
		return false;
	*shift = (unsigned)sim_rng_below(r, 4); /* index into scale_name; rate >> (3 - index) */
	return true;
}

/* One rate: scaled, or switched off; says which unless it stays whole. */
static bool swarm_u64(struct sim_rng *r, uint64_t *v, const char *name, struct desc *d)
{
	if (!*v)
		return false;
	unsigned i;
	if (!draw(r, &i)) {
		*v = 0;
		say(d, " %s%s off", name, "");
		return true;
	}
	uint64_t scaled = *v >> (3 - i);
	*v = scaled ? scaled : 1;
	if (i != 3)
		say(d, " %s %s", name, scale_name[i]);
	return i != 3;
}

static bool swarm_u32(struct sim_rng *r, uint32_t *v, const char *name, struct desc *d)
{
	uint64_t wide = *v;
	bool changed = swarm_u64(r, &wide, name, d);
	*v = (uint32_t)wide; /* scaled down or off: it still fits */
	return changed;
}

static bool wire_dir_any(const struct netif_fault_dir *x)
{
	return x->loss_ppm || x->burst_start_ppm || x->duplicate_ppm || x->corrupt_ppm || x->truncate_ppm ||
	       x->reorder_ppm || x->jitter_ns;
}

static bool swarm_wire(struct sim_rng *r, struct scn_fault *f, struct desc *d)
{
	bool changed = false;
	struct netif_fault_dir *dirs[2] = {&f->wire.rx, &f->wire.tx};
	static const char *const pfx[2] = {"", "tx-"};
	for (int k = 0; k < 2; k++) {
		struct netif_fault_dir *x = dirs[k];
		char name[16];
		snprintf(name, sizeof(name), "%sloss", pfx[k]);
		changed |= swarm_u32(r, &x->loss_ppm, name, d);
		snprintf(name, sizeof(name), "%sburst", pfx[k]);
		if (swarm_u32(r, &x->burst_start_ppm, name, d))
			changed = true;
		if (!x->burst_start_ppm)
			x->burst_len = 0; /* the two go together */
		snprintf(name, sizeof(name), "%sdup", pfx[k]);
		changed |= swarm_u32(r, &x->duplicate_ppm, name, d);
		snprintf(name, sizeof(name), "%scorrupt", pfx[k]);
		changed |= swarm_u32(r, &x->corrupt_ppm, name, d);
		snprintf(name, sizeof(name), "%struncate", pfx[k]);
		changed |= swarm_u32(r, &x->truncate_ppm, name, d);
		snprintf(name, sizeof(name), "%sreorder", pfx[k]);
		changed |= swarm_u32(r, &x->reorder_ppm, name, d);
		snprintf(name, sizeof(name), "%sjitter", pfx[k]);
		changed |= swarm_u64(r, &x->jitter_ns, name, d);
	}
	if (f->wire.partition_end_ns > f->wire.partition_start_ns && sim_rng_below(r, 2) == 0) {
		f->wire.partition_start_ns = f->wire.partition_end_ns = 0;
		say(d, " partition%s off", "", "");
		changed = true;
	}
	return changed;
}

/* The counter expectation claims that a fault swarm changed fired. */
static bool claims_changed_fault(const struct scn_expect *x, const bool wire_changed[2], const struct scenario *s,
				 const bool *app_changed)
{
	if (x->kind != SCN_EXPECT_COUNTER)
		return false;
	if (!strncmp(x->counter, "client.faults.", 14))
		return wire_changed[SCN_HOST_CLIENT];
	if (!strncmp(x->counter, "server.faults.", 14))
		return wire_changed[SCN_HOST_SERVER];
	/* The channel's injected-fault counters, and what lost doorbells and
	 * wakeups make the host library count. */
	static const char *const driven[] = {"chan.msgs_dropped", "chan.ops_delayed", "host.lost_wakeups",
					     "host.doorbells_refreshed"};
	const char *field = strrchr(x->counter, '.') + 1;
	size_t scope_len = strcspn(x->counter, ".");
	bool is_driven = false;
	for (size_t i = 0; i < sizeof(driven) / sizeof(driven[0]); i++)
		if (!strncmp(driven[i], x->counter, scope_len) && driven[i][scope_len] == '.' &&
		    !strcmp(driven[i] + scope_len + 1, field))
			is_driven = true;
	if (!is_driven)
		return false;
	const char *app = x->counter + scope_len + 1;
	size_t app_len = (size_t)(field - 1 - app);
	for (uint32_t i = 0; i < s->app_count; i++)
		if (strlen(s->apps[i].name) == app_len && !strncmp(s->apps[i].name, app, app_len))
			return app_changed[i];
	return false;
}

void scenario_swarm(const struct scenario *in, uint64_t seed, struct scenario *out, char *desc, size_t desc_len)
{
	struct sim_rng base, r;
	sim_rng_seed(&base, seed);
	sim_rng_fork(&base, SWARM_STREAM, &r);
	*out = *in;
	struct desc d = {.buf = desc, .cap = desc_len, .len = 0};
	if (desc_len)
		desc[0] = 0;
	bool wire_changed[2] = {false, false};
	bool app_changed[SCN_MAX_APPS] = {false};
	bool any_rate_fault = false;
	out->fault_count = 0;
	for (uint32_t i = 0; i < in->fault_count; i++) {
		struct scn_fault f = in->faults[i];
		char line[32];
		snprintf(line, sizeof(line), "%sL%u", d.len ? "; " : "", f.line);
		size_t mark = d.len;
		bool changed = false, keep = true;
		/* swarm=keep: the script needs this fault as written (its
		 * expectations name what it causes): no draw, no change. */
		if (f.swarm_keep)
			any_rate_fault = true;
		switch (f.swarm_keep ? 0 : (int)f.kind) {
		case SCN_FAULT_WIRE:
			any_rate_fault = true;
			say(&d, "%s%s", line, "");
			changed = swarm_wire(&r, &f, &d);
			keep = wire_dir_any(&f.wire.rx) || wire_dir_any(&f.wire.tx) ||
			       f.wire.partition_end_ns > f.wire.partition_start_ns;
			if (changed)
				wire_changed[f.host] = true;
			break;
		case SCN_FAULT_CHAN_DELAY:
			any_rate_fault = true;
			say(&d, "%s%s", line, "");
			changed = swarm_u64(&r, &f.delay_ns, "delay", &d);
			keep = f.delay_ns != 0;
			break;
		case SCN_FAULT_CHAN_DROP_DOORBELL:
		case SCN_FAULT_CHAN_DROP_WAKEUP:
			any_rate_fault = true;
			say(&d, "%s%s", line, "");
			changed = swarm_u32(&r, &f.ppm, "rate", &d);
			keep = f.ppm != 0;
			break;
		default:
			break;
		}
		if (f.kind != SCN_FAULT_WIRE && changed)
			for (uint32_t k = 0; k < in->app_count; k++)
				if (!strcmp(in->apps[k].name, f.app))
					app_changed[k] = true;
		if (!changed && d.len > mark) {
			/* Unchanged: say nothing about this line. */
			d.len = mark;
			d.buf[d.len] = 0;
		} else if (!keep && d.len > mark) {
			/* Every part off: one word for the line. */
			d.len = mark;
			d.buf[d.len] = 0;
			say(&d, "%s off%s", line, "");
		}
		if (keep)
			out->faults[out->fault_count++] = f;
	}
	out->expect_count = 0;
	for (uint32_t i = 0; i < in->expect_count; i++)
		if (!claims_changed_fault(&in->expects[i], wire_changed, in, app_changed))
			out->expects[out->expect_count++] = in->expects[i];
	if (out->expect_count < in->expect_count) {
		char n[24];
		snprintf(n, sizeof(n), "%u", in->expect_count - out->expect_count);
		say(&d, "%s(%s fault counter expectation(s) not judged)", d.len ? " " : "", n);
	}
	if (!d.len)
		say(&d, "%s%s", any_rate_fault ? "every fault as written" : "no rate faults", "");
}
