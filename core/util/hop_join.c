/*
 * hop_join.c: records to chains (hop_join.h). Records are sorted by
 * (side, conn, point, time); for each point of the chain a cursor walks
 * its run of records once over all RPCs of a connection, because the
 * first record covering a later RPC's offset can never come before the
 * first one covering an earlier RPC's.
 */
#include "hop_join.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int cmp_rec(const void *a, const void *b)
{
	const struct hop_rec *x = a, *y = b;
	if (x->side != y->side)
		return x->side < y->side ? -1 : 1;
	if (x->conn != y->conn)
		return x->conn < y->conn ? -1 : 1;
	if (x->point != y->point)
		return x->point < y->point ? -1 : 1;
	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	return 0;
}

static uint32_t swap_ports(uint32_t conn)
{
	return conn << 16 | conn >> 16;
}

/* First index of the run (side, conn, point) in the sorted records; *end
 * is one past it. */
static uint32_t run_of(const struct hop_rec *r, uint32_t n, uint8_t side, uint32_t conn, uint8_t point, uint32_t *end)
{
	struct hop_rec key = {.side = side, .conn = conn, .point = point, .t_ns = 0};
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (cmp_rec(&r[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint32_t e = lo;
	while (e < n && r[e].side == side && r[e].conn == conn && r[e].point == point)
		e++;
	*end = e;
	return lo;
}

static bool covers(const struct hop_rec *r, uint32_t off_end)
{
	return (int32_t)(r->off_end - off_end) >= 0;
}

static uint32_t build_chain(struct hop_step *chain, bool with_peer)
{
	static const uint8_t tx[] = {HOP_SEND, HOP_DB_POST, HOP_DB_SEEN, HOP_READ_DONE, HOP_FRAME_OUT};
	static const uint8_t rx[] = {HOP_FRAME_IN, HOP_EV_POSTED, HOP_WOKE, HOP_EV_SEEN, HOP_RECV};
	uint32_t n = 0;
	for (size_t i = 0; i < sizeof(tx); i++)
		chain[n++] = (struct hop_step){0, tx[i]};
	if (with_peer) {
		for (size_t i = 0; i < sizeof(rx); i++)
			chain[n++] = (struct hop_step){1, rx[i]};
		for (size_t i = 0; i < sizeof(tx); i++)
			chain[n++] = (struct hop_step){1, tx[i]};
	}
	for (size_t i = 0; i < sizeof(rx); i++)
		chain[n++] = (struct hop_step){0, rx[i]};
	return n;
}

/* Joins the RPCs of one client connection, whose HOP_SEND records are
 * s[0..ns). */
static void join_conn(const struct hop_rec *r, uint32_t n, const struct hop_rec *s, uint32_t ns,
		      struct hop_report *out)
{
	uint32_t conn = s[0].conn;
	uint32_t cur[HOP_CHAIN_MAX], end[HOP_CHAIN_MAX];
	for (uint32_t k = 1; k < out->steps; k++) {
		const struct hop_step *st = &out->chain[k];
		cur[k] = run_of(r, n, st->side, st->side ? swap_ports(conn) : conn, st->point, &end[k]);
	}
	uint32_t wend, wcur = run_of(r, n, 0, conn, HOP_RX_WRITTEN, &wend);
	for (uint32_t i = 0; i < ns; i++) {
		struct hop_rpc row = {.conn = conn, .off_end = s[i].off_end};
		row.t_ns[0] = s[i].t_ns;
		bool complete = true, ordered = true;
		for (uint32_t k = 1; k < out->steps && complete; k++) {
			while (cur[k] < end[k] && !covers(&r[cur[k]], s[i].off_end))
				cur[k]++;
			complete = cur[k] < end[k];
			if (!complete)
				break;
			row.t_ns[k] = r[cur[k]].t_ns;
			if (out->chain[k].side == 0 && out->chain[k].point == HOP_WOKE)
				row.woke_flags = r[cur[k]].flags;
		}
		for (uint32_t k = 1; complete && k + 1 < out->steps; k++) {
			/* A wait that ended before the event was posted did not
			 * deliver it: the host noticed it while polling. */
			if (out->chain[k].point != HOP_WOKE || row.t_ns[k] >= row.t_ns[k - 1])
				continue;
			row.t_ns[k] = row.t_ns[k + 1];
			if (out->chain[k].side == 0)
				row.woke_flags = 0;
		}
		for (uint32_t k = 1; complete && k < out->steps; k++)
			ordered &= row.t_ns[k] >= row.t_ns[k - 1];
		if (!complete) {
			out->incomplete++;
			continue;
		}
		while (wcur < wend && !covers(&r[wcur], s[i].off_end))
			wcur++;
		if (wcur < wend)
			row.rx_written_ns = r[wcur].t_ns;
		if (!ordered) {
			out->disordered++;
			continue;
		}
		out->rpcs[out->count++] = row;
	}
}

int hop_join(const struct hop_rec *recs, uint32_t n, uint64_t dropped, struct hop_report *out)
{
	memset(out, 0, sizeof(*out));
	out->dropped = dropped;
	struct hop_rec *r = malloc((size_t)(n ? n : 1) * sizeof(*r));
	if (!r)
		return -1;
	memcpy(r, recs, (size_t)n * sizeof(*r));
	qsort(r, n, sizeof(*r), cmp_rec);
	bool with_peer = false;
	uint32_t sends = 0;
	for (uint32_t i = 0; i < n; i++) {
		with_peer |= r[i].side == 1;
		sends += r[i].side == 0 && r[i].point == HOP_SEND;
	}
	out->steps = build_chain(out->chain, with_peer);
	out->rpcs = calloc(sends ? sends : 1, sizeof(*out->rpcs));
	if (!out->rpcs) {
		free(r);
		return -1;
	}
	/* The client's HOP_SEND records, one run per connection. */
	for (uint32_t i = 0; i < n;) {
		if (r[i].side != 0 || r[i].point != HOP_SEND) {
			i++;
			continue;
		}
		uint32_t j = i;
		while (j < n && r[j].side == 0 && r[j].point == HOP_SEND && r[j].conn == r[i].conn)
			j++;
		join_conn(r, n, &r[i], j - i, out);
		i = j;
	}
	free(r);
	return 0;
}

void hop_report_free(struct hop_report *r)
{
	free(r->rpcs);
	memset(r, 0, sizeof(*r));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static double pct_us(const uint64_t *sorted, uint32_t n, unsigned pct)
{
	if (!n)
		return 0;
	uint64_t i = (uint64_t)n * pct / 100;
	return (double)sorted[i >= n ? n - 1 : i] / 1e3;
}

static void step_name(const struct hop_report *r, uint32_t k, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s.%s", r->chain[k].side ? "peer" : "client", hop_point_name(r->chain[k].point));
}

int hop_report_print(const struct hop_report *r, const char *label, FILE *out)
{
	uint32_t n = r->count;
	uint64_t *d = malloc((size_t)(n ? n : 1) * sizeof(*d));
	if (!d)
		return -1;
	fprintf(out, "hop breakdown (%s): %u RPCs joined, %u incomplete, %u disordered, %" PRIu64
		     " records dropped; times in us\n",
		label, n, r->incomplete, r->disordered, r->dropped);
	double sum_p50 = 0;
	for (uint32_t k = 1; k < r->steps; k++) {
		for (uint32_t i = 0; i < n; i++)
			d[i] = r->rpcs[i].t_ns[k] - r->rpcs[i].t_ns[k - 1];
		qsort(d, n, sizeof(*d), cmp_u64);
		char a[32], b[32];
		step_name(r, k - 1, a, sizeof(a));
		step_name(r, k, b, sizeof(b));
		double p50 = pct_us(d, n, 50);
		sum_p50 += p50;
		fprintf(out, "hop %-18s -> %-18s p50_us=%.2f p99_us=%.2f\n", a, b, p50, pct_us(d, n, 99));
	}
	uint32_t w = 0;
	uint32_t fin = 0;
	for (uint32_t k = 0; k < r->steps; k++)
		if (r->chain[k].side == 0 && r->chain[k].point == HOP_FRAME_IN)
			fin = k;
	for (uint32_t i = 0; i < n; i++)
		if (r->rpcs[i].rx_written_ns >= r->rpcs[i].t_ns[fin])
			d[w++] = r->rpcs[i].rx_written_ns - r->rpcs[i].t_ns[fin];
	qsort(d, w, sizeof(*d), cmp_u64);
	fprintf(out, "off-chain client.frame_in -> client.rx_written (payload WRITE completion) p50_us=%.2f p99_us=%.2f "
		     "rpcs=%u\n",
		pct_us(d, w, 50), pct_us(d, w, 99), w);
	/* Which hop was the largest, RPC by RPC: where the tail comes from
	 * when the p50s do not say it. */
	uint32_t largest[HOP_CHAIN_MAX] = {0};
	for (uint32_t i = 0; i < n; i++) {
		uint32_t best = 1;
		for (uint32_t k = 2; k < r->steps; k++)
			if (r->rpcs[i].t_ns[k] - r->rpcs[i].t_ns[k - 1] > r->rpcs[i].t_ns[best] - r->rpcs[i].t_ns[best - 1])
				best = k;
		largest[best]++;
	}
	fprintf(out, "largest hop of each RPC:");
	for (int shown = 0; shown < 3 && n; shown++) {
		uint32_t top = 1;
		for (uint32_t k = 2; k < r->steps; k++)
			if (largest[k] > largest[top])
				top = k;
		if (!largest[top])
			break;
		char a[32], b[32];
		step_name(r, top - 1, a, sizeof(a));
		step_name(r, top, b, sizeof(b));
		fprintf(out, "%s %s->%s %.0f%%", shown ? "," : "", a, b, 100.0 * largest[top] / n);
		largest[top] = 0;
	}
	fprintf(out, "\n");
	uint32_t slept = 0, by_wakeup = 0, by_timeout = 0;
	for (uint32_t i = 0; i < n; i++) {
		d[i] = r->rpcs[i].t_ns[r->steps - 1] - r->rpcs[i].t_ns[0];
		uint8_t f = r->rpcs[i].woke_flags;
		slept += (f & HOP_F_SLEPT) != 0;
		by_wakeup += (f & HOP_F_WAKEUP) != 0;
		by_timeout += (f & HOP_F_TIMEOUT) != 0;
	}
	qsort(d, n, sizeof(*d), cmp_u64);
	fprintf(out,
		"hops rpcs=%u incomplete=%u disordered=%u sum_p50_us=%.2f e2e_p50_us=%.2f e2e_p99_us=%.2f "
		"client_slept=%u woken_by_wakeup=%u woken_by_timeout=%u\n",
		n, r->incomplete, r->disordered, sum_p50, pct_us(d, n, 50), pct_us(d, n, 99), slept, by_wakeup,
		by_timeout);
	free(d);
	if (fflush(out) != 0 || ferror(out))
		return -1;
	return 0;
}

int hop_print_traces(const struct hop_trace *const *traces, int n, const char *label, FILE *out)
{
	uint64_t total = 0, dropped = 0;
	for (int i = 0; i < n; i++) {
		total += traces[i]->count;
		dropped += traces[i]->dropped;
	}
	if (total > UINT32_MAX)
		return -1;
	struct hop_rec *all = malloc((size_t)(total ? total : 1) * sizeof(*all));
	if (!all)
		return -1;
	uint32_t at = 0;
	for (int i = 0; i < n; i++) {
		memcpy(all + at, traces[i]->recs, (size_t)traces[i]->count * sizeof(*all));
		at += traces[i]->count;
	}
	struct hop_report r;
	int rc = hop_join(all, at, dropped, &r);
	free(all);
	if (rc < 0)
		return -1;
	rc = hop_report_print(&r, label, out);
	hop_report_free(&r);
	return rc;
}

int hop_print_measured(const uint64_t *rtt_ns, uint32_t n, FILE *out)
{
	if (!n)
		return 0;
	uint64_t *d = malloc((size_t)n * sizeof(*d));
	if (!d)
		return -1;
	memcpy(d, rtt_ns, (size_t)n * sizeof(*d));
	qsort(d, n, sizeof(*d), cmp_u64);
	fprintf(out, "measured rtts=%u p50_us=%.2f p99_us=%.2f (the application's own round-trip samples)\n", n,
		pct_us(d, n, 50), pct_us(d, n, 99));
	free(d);
	return fflush(out) != 0 || ferror(out) ? -1 : 0;
}
