/*
 * app_runner.c: one runner for the built-in applications of the real-time
 * programs (see app_runner.h). Exactly one of the four apps exists per
 * runner; every function dispatches on it here and nowhere else.
 */
#include "app_runner.h"
#include "rt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/apps/echo.h"

struct rt_app {
	struct rt_app_config cfg;
	struct echo_server *server;
	struct echo_client *client;
	struct sink *sink;
	struct source *source;
	uint64_t conn_errors; /* sink/source connections that ended with an error */
};

/* "KIND conn=N bytes=B sha256=HEX secs=S mbit_per_s=R result=ok|error [err=E (why)]" */
static void print_bulk(const char *kind, const struct bulk_result *r)
{
	char hex[SHA256_HEX_BYTES];
	sha256_hex(r->sha256, hex);
	uint64_t from = r->first_byte_ns ? r->first_byte_ns : r->start_ns;
	double secs = from && r->end_ns > from ? (double)(r->end_ns - from) / 1e9 : 0.0;
	double mbps = secs > 0 ? (double)r->bytes * 8 / secs / 1e6 : 0.0;
	printf("%s conn=%d bytes=%" PRIu64 " sha256=%s secs=%.6f mbit_per_s=%.1f result=%s", kind, r->conn, r->bytes,
	       hex, secs, mbps, r->err ? "error" : "ok");
	if (r->err)
		printf(" err=%d (%s)", r->err, bt_strerror(r->err));
	printf("\n");
	fflush(stdout);
}

static void on_sink_done(void *ctx, const struct bulk_result *r)
{
	struct rt_app *a = ctx;
	if (r->err)
		a->conn_errors++;
	print_bulk("sink", r);
}

static void on_source_done(void *ctx, const struct bulk_result *r)
{
	struct rt_app *a = ctx;
	if (r->err)
		a->conn_errors++;
	print_bulk("source", r);
}

struct rt_app *rt_app_create(struct bt_host *host, const struct rt_app_config *cfg, const struct bt_clock *clock,
			     char *err, size_t err_len)
{
	struct rt_app *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, err_len, "out of memory for the application");
		return NULL;
	}
	a->cfg = *cfg;
	int rc = 0;
	switch (cfg->kind) {
	case RT_APP_ECHO_SERVER:
		a->server = echo_server_create(host, cfg->listen_port, cfg->backlog, cfg->echo_buf_bytes, &rc);
		if (!a->server)
			snprintf(err, err_len, "echo server on port %u: %s", cfg->listen_port, bt_strerror(rc));
		break;
	case RT_APP_ECHO_CLIENT: {
		struct echo_client_config ec = {.remote_ip = cfg->remote_ip,
						.remote_port = cfg->remote_port,
						.conns = cfg->conns,
						.msg_bytes = cfg->msg_bytes,
						.messages = cfg->messages,
						.cycles = 1,
						.seed = cfg->seed,
						.max_rtt_samples = cfg->max_rtt_samples};
		a->client = echo_client_create(host, &ec, clock, &rc);
		if (!a->client)
			snprintf(err, err_len, "echo client: %s", bt_strerror(rc));
		break;
	}
	case RT_APP_SINK: {
		struct sink_config sc = {
			.port = cfg->listen_port, .backlog = cfg->backlog, .on_done = on_sink_done, .ctx = a};
		a->sink = sink_create(host, &sc, clock, &rc);
		if (!a->sink)
			snprintf(err, err_len, "sink on port %u: %s", cfg->listen_port, bt_strerror(rc));
		break;
	}
	case RT_APP_SOURCE: {
		struct source_config sc = {.remote_ip = cfg->remote_ip,
					   .remote_port = cfg->remote_port,
					   .bytes = cfg->bytes,
					   .seed = cfg->seed,
					   .connect_retry_ns = cfg->connect_retry_ns,
					   .read = cfg->read,
					   .read_ctx = cfg->read_ctx,
					   .on_done = on_source_done,
					   .ctx = a};
		a->source = source_create(host, &sc, clock, &rc);
		if (!a->source)
			snprintf(err, err_len, "source: %s", bt_strerror(rc));
		break;
	}
	default:
		snprintf(err, err_len, "unknown application kind %d", (int)cfg->kind);
		break;
	}
	if (!a->server && !a->client && !a->sink && !a->source) {
		free(a);
		return NULL;
	}
	return a;
}

int rt_app_poll(struct rt_app *a)
{
	if (a->server)
		return echo_server_poll(a->server);
	if (a->client)
		return echo_client_poll(a->client);
	if (a->sink)
		return sink_poll(a->sink);
	return source_poll(a->source);
}

/* Connections finished so far: a server's closed ones, a sink's ended ones. */
static uint64_t conns_finished(const struct rt_app *a)
{
	if (a->server) {
		struct echo_server_stats s;
		echo_server_stats(a->server, &s);
		return s.closed;
	}
	if (a->sink) {
		struct sink_stats s;
		sink_stats(a->sink, &s);
		return s.finished;
	}
	return 0;
}

bool rt_app_done(const struct rt_app *a)
{
	if (a->client)
		return echo_client_done(a->client);
	if (a->source)
		return source_done(a->source);
	if (a->sink && a->cfg.bytes) {
		struct sink_stats s;
		sink_stats(a->sink, &s);
		if (s.bytes >= a->cfg.bytes && s.open == 0)
			return true;
	}
	return a->cfg.exit_after_conns && conns_finished(a) >= a->cfg.exit_after_conns;
}

bool rt_app_stop(struct rt_app *a)
{
	if (!a->client)
		return false;
	echo_client_stop(a->client);
	return true;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t p = *(const uint64_t *)x, q = *(const uint64_t *)y;
	return (p > q) - (p < q);
}

static uint64_t percentile(const uint64_t *sorted, uint32_t n, unsigned pct)
{
	if (!n)
		return 0;
	uint64_t i = (uint64_t)n * pct / 100;
	return sorted[i >= n ? n - 1 : i];
}

/* The echo client's line; 0 if every byte came back. */
static int report_client(const struct rt_app *a, double secs)
{
	struct echo_client_stats s;
	echo_client_stats(a->client, &s);
	uint64_t *rtt = NULL;
	if (s.rtt_count) {
		rtt = malloc((size_t)s.rtt_count * sizeof(*rtt));
		if (rtt) {
			memcpy(rtt, s.rtt_ns, (size_t)s.rtt_count * sizeof(*rtt));
			qsort(rtt, s.rtt_count, sizeof(*rtt), cmp_u64);
		}
	}
	uint32_t n = rtt ? s.rtt_count : 0;
	bool ok = s.mismatched_bytes == 0 && s.conns_failed == 0 && s.first_error == 0 && s.messages_done > 0 &&
		  s.bytes_received == s.bytes_sent;
	printf("echo-client conns=%u messages=%" PRIu64 " bytes_sent=%" PRIu64 " bytes_received=%" PRIu64
	       " mismatched_bytes=%" PRIu64 " secs=%.3f msgs_per_s=%.0f",
	       a->cfg.conns, s.messages_done, s.bytes_sent, s.bytes_received, s.mismatched_bytes, secs,
	       secs > 0 ? (double)s.messages_done / secs : 0.0);
	if (n)
		printf(" rtt_p50_us=%.1f rtt_p99_us=%.1f rtt_min_us=%.1f rtt_max_us=%.1f",
		       (double)percentile(rtt, n, 50) / 1e3, (double)percentile(rtt, n, 99) / 1e3, (double)rtt[0] / 1e3,
		       (double)rtt[n - 1] / 1e3);
	printf(" result=%s", ok ? "ok" : "error");
	if (s.first_error)
		printf(" err=%d (%s)", s.first_error, bt_strerror(s.first_error));
	if (s.mismatched_bytes)
		printf(" first_mismatch_offset=%" PRIu64, s.first_mismatch_offset);
	printf("\n");
	free(rtt);
	return ok ? 0 : 1;
}

int rt_app_report(const struct rt_app *a, double secs)
{
	int rc = 0;
	if (a->client)
		rc |= report_client(a, secs);
	if (a->server) {
		struct echo_server_stats e;
		echo_server_stats(a->server, &e);
		printf("%s accepted=%" PRIu64 " closed=%" PRIu64 " bytes_echoed=%" PRIu64 " errors=%" PRIu64 "\n",
		       a->cfg.echo_server_name ? a->cfg.echo_server_name : "echo-server", e.accepted, e.closed,
		       e.bytes_echoed, e.errors);
		if (e.errors)
			rc = 1;
	}
	if (a->source && !source_done(a->source)) {
		struct source_stats s;
		source_stats(a->source, &s);
		printf("source bytes=%" PRIu64 " result=unfinished\n", s.bytes_sent);
		rc = 1;
	}
	if (a->conn_errors)
		rc = 1;
	if (a->cfg.exit_after_conns && conns_finished(a) < a->cfg.exit_after_conns)
		rc = 1;
	fflush(stdout);
	return rc;
}

void rt_app_print_stats(const struct rt_app *a)
{
	/* Each app's counters by its stats struct's field list (core/apps),
	 * so a counter added there is printed here without a second list. */
	if (a->server) {
		struct echo_server_stats e;
		echo_server_stats(a->server, &e);
		RT_PRINT_STATS("app.echo", struct echo_server_stats, &e, ECHO_SERVER_STATS_FIELDS);
	}
	if (a->client) {
		struct echo_client_stats c;
		echo_client_stats(a->client, &c);
		RT_PRINT_STATS("app.client", struct echo_client_stats, &c, ECHO_CLIENT_STATS_COUNTERS);
	}
	if (a->sink) {
		struct sink_stats s;
		sink_stats(a->sink, &s);
		RT_PRINT_STATS("app.sink", struct sink_stats, &s, SINK_STATS_FIELDS);
	}
	if (a->source) {
		struct source_stats s;
		source_stats(a->source, &s);
		RT_PRINT_STATS("app.source", struct source_stats, &s, SOURCE_STATS_COUNTERS);
	}
	fflush(stdout);
}

void rt_app_destroy(struct rt_app *a)
{
	if (!a)
		return;
	echo_server_destroy(a->server);
	echo_client_destroy(a->client);
	sink_destroy(a->sink);
	source_destroy(a->source);
	free(a);
}
