/*
 * test_scenario_parse: the .scn parser (sim/scenario_parse.c). Good text
 * parses to exactly the values docs/scenarios.md promises; every file in
 * tests/scenario-bad/ fails at the line, column and with the message its
 * first line names; and no input at all (random mutations, token soups)
 * makes it crash or read out of bounds (make valgrind runs this binary
 * under memcheck).
 *
 * Paths are relative to the repository root: tests/run-tests.sh runs from
 * there, and BT_SRCDIR says where it is when run from elsewhere.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bluetas.h"
#include "core/nic/nic.h"
#include "sim/link.h"
#include "transports/netif_fault.h"
#include "sim/scenario.h"

#define MS 1000000ull
#define US 1000ull
#define SEC 1000000000ull

/* ---------- helpers ---------- */

static struct scenario *parse_ok(const char *text)
{
	struct scenario *s = malloc(sizeof(*s));
	assert_non_null(s);
	char err[512];
	if (scenario_parse("t.scn", text, s, err, sizeof(err)) != 0)
		fail_msg("expected to parse, got: %s\n--- text:\n%s", err, text);
	return s;
}

/* Parses `text`, which must fail with exactly "t.scn:LINE:COL: error: "
 * and a message containing `fragment`. */
static void parse_bad(const char *text, unsigned line, unsigned col, const char *fragment)
{
	struct scenario *s = malloc(sizeof(*s));
	assert_non_null(s);
	char err[512], prefix[64];
	snprintf(prefix, sizeof(prefix), "t.scn:%u:%u: error: ", line, col);
	int rc = scenario_parse("t.scn", text, s, err, sizeof(err));
	free(s);
	if (rc != -1 || strncmp(err, prefix, strlen(prefix)) || !strstr(err, fragment) || !strstr(err, " (expected "))
		fail_msg("text:\n%s\ngave rc %d, '%s'\nexpected '%s...%s...'", text, rc, err, prefix, fragment);
}

/* parse_bad on `preamble` with one more line, `line_text`: the error is
 * on that line (the preamble's line count + 1). */
static void parse_bad_after(const char *preamble, const char *line_text, unsigned col, const char *fragment)
{
	char text[512];
	snprintf(text, sizeof(text), "%s%s\n", preamble, line_text);
	unsigned line = 1;
	for (const char *c = preamble; *c; c++)
		line += *c == '\n';
	parse_bad(text, line, col, fragment);
}

static const struct scn_app *app_named(const struct scenario *s, const char *name)
{
	for (uint32_t i = 0; i < s->app_count; i++)
		if (!strcmp(s->apps[i].name, name))
			return &s->apps[i];
	fail_msg("no app %s", name);
	return NULL;
}

/* A scenario around `body`: a server and a client for the statements to
 * refer to. */
static struct scenario *with_pair(const char *body)
{
	char text[8192];
	snprintf(text, sizeof(text), "scenario t\napp srv on server echo-server\napp cli on client echo to=srv\n%s\n",
		 body);
	return parse_ok(text);
}

/* ---------- defaults and settings ---------- */

static void test_defaults(void **state)
{
	(void)state;
	struct scenario s;
	memset(&s, 0xa5, sizeof(s));
	scenario_defaults(&s);
	assert_int_equal(s.mss, 1448);
	assert_true(s.ecn);
	assert_int_equal(s.max_flows, 4096);
	assert_int_equal(s.staging_bytes, 512 * 1024);
	assert_int_equal(s.delayed_ack_ns, 200 * US);
	assert_int_equal(s.rto_min_ns, 5 * MS);
	assert_int_equal(s.time_wait_ns, 10 * MS);
	assert_int_equal(s.chan_sq_depth, 256);
	assert_int_equal(s.chan_msg_depth, 64);
	assert_int_equal(s.chan_latency_ns, 1 * US);
	assert_int_equal(s.wait_timeout_ns, 2 * MS);
	assert_int_equal(s.doorbell_refresh_ns, 1 * MS);
	assert_int_equal(s.link_latency_ns, 5 * US);
	assert_int_equal(s.link_bandwidth_bps, 10000000000ull);
	assert_int_equal(s.link_queue_bytes, 1024 * 1024);
	assert_int_equal(s.link_ecn_mark_bytes, 0);
	assert_int_equal(s.time_limit_ns, 60 * SEC);
	assert_int_equal(s.deadlock_after_ns, 500 * MS);
	assert_int_equal(s.app_count, 0);
	assert_int_equal(s.fault_count, 0);
	assert_int_equal(s.expect_count, 0);
	assert_string_equal(s.name, "");
}

static void test_minimal_pair_gets_app_defaults(void **state)
{
	(void)state;
	struct scenario *s = parse_ok("scenario echo-basic\napp srv on server echo-server\napp cli on client echo to=srv\n");
	assert_string_equal(s->name, "echo-basic");
	assert_string_equal(s->path, "t.scn");
	assert_int_equal(s->mss, 1448); /* the defaults survive parsing */
	assert_int_equal(s->app_count, 2);
	const struct scn_app *srv = &s->apps[0], *cli = &s->apps[1];
	assert_string_equal(srv->name, "srv");
	assert_int_equal(srv->host, SCN_HOST_SERVER);
	assert_int_equal(srv->kind, SCN_WL_ECHO_SERVER);
	assert_int_equal(srv->port, 7);
	assert_int_equal(srv->backlog, 64);
	assert_string_equal(cli->name, "cli");
	assert_int_equal(cli->host, SCN_HOST_CLIENT);
	assert_int_equal(cli->kind, SCN_WL_ECHO);
	assert_string_equal(cli->target, "srv");
	assert_int_equal(cli->port, 7); /* taken from its server */
	assert_int_equal(cli->conns, 1);
	assert_int_equal(cli->messages, 10);
	assert_int_equal(cli->msg_min_bytes, 1448);
	assert_int_equal(cli->msg_max_bytes, 1448);
	assert_int_equal(cli->cycles, 1);
	assert_int_equal(cli->bytes, 1024 * 1024);
	assert_int_equal(cli->resp_bytes, 64);
	assert_int_equal(cli->start_ns, 0);
	assert_int_equal(cli->max_conns, 0);
	assert_int_equal(cli->rx_ring_bytes, 64 * 1024);
	assert_int_equal(cli->tx_ring_bytes, 64 * 1024);
	assert_int_equal(cli->event_entries, 1024);
	assert_int_equal(cli->fault.read_bytes_per_ms, 0);
	assert_int_equal(cli->fault.stop_reading_after, 0);
	assert_int_equal(cli->fault.exit_at_ns, 0);
	assert_string_equal(cli->victim, "");
	free(s);
}

static void test_every_setting(void **state)
{
	(void)state;
	struct scenario *s = with_pair("set mss 9000\nset ecn off\nset max_flows 100\nset staging 2M\n"
				       "set delayed_ack 0\nset rto_min 1.5ms\nset time_wait 3s\nset chan_sq 16\n"
				       "set chan_msgs 8\nset chan_latency 250ns\nset wait_timeout 7us\n"
				       "set doorbell_refresh 3ms\nset link_latency 0.5us\nset link_bandwidth 100Mbps\n"
				       "set link_queue 64K\nset link_ecn_mark 30K\nset time_limit 2.5s\n"
				       "set deadlock_after 1s\n");
	assert_int_equal(s->mss, 9000);
	assert_false(s->ecn);
	assert_int_equal(s->max_flows, 100);
	assert_int_equal(s->staging_bytes, 2 * 1024 * 1024);
	assert_int_equal(s->delayed_ack_ns, 0);
	assert_int_equal(s->rto_min_ns, 1500 * US);
	assert_int_equal(s->time_wait_ns, 3 * SEC);
	assert_int_equal(s->chan_sq_depth, 16);
	assert_int_equal(s->chan_msg_depth, 8);
	assert_int_equal(s->chan_latency_ns, 250);
	assert_int_equal(s->wait_timeout_ns, 7 * US);
	assert_int_equal(s->doorbell_refresh_ns, 3 * MS);
	assert_int_equal(s->link_latency_ns, 500);
	assert_int_equal(s->link_bandwidth_bps, 100000000);
	assert_int_equal(s->link_queue_bytes, 64 * 1024);
	assert_int_equal(s->link_ecn_mark_bytes, 30 * 1024);
	assert_int_equal(s->time_limit_ns, 2500 * MS);
	assert_int_equal(s->deadlock_after_ns, 1 * SEC);
	free(s);
	s = with_pair("set ecn on\nset link_bandwidth 0\n");
	assert_true(s->ecn);
	assert_int_equal(s->link_bandwidth_bps, 0);
	free(s);
}

/* ---------- units ---------- */

static uint64_t set_value(const char *key, const char *value)
{
	char body[256];
	snprintf(body, sizeof(body), "set %s %s", key, value);
	struct scenario *s = with_pair(body);
	uint64_t v = 0;
	if (!strcmp(key, "rto_min"))
		v = s->rto_min_ns;
	else if (!strcmp(key, "link_bandwidth"))
		v = s->link_bandwidth_bps;
	else if (!strcmp(key, "staging"))
		v = s->staging_bytes;
	else if (!strcmp(key, "link_ecn_mark"))
		v = s->link_ecn_mark_bytes;
	else
		fail_msg("no such key in the helper: %s", key);
	free(s);
	return v;
}

static uint32_t loss_ppm(const char *pct)
{
	char body[256];
	snprintf(body, sizeof(body), "fault wire on client loss=%s", pct);
	struct scenario *s = with_pair(body);
	uint32_t v = s->faults[0].wire.rx.loss_ppm;
	free(s);
	return v;
}

static void test_units(void **state)
{
	(void)state;
	/* SIZE: powers of 1024, B optional */
	assert_int_equal(set_value("link_ecn_mark", "4096"), 4096);
	assert_int_equal(set_value("link_ecn_mark", "4096B"), 4096);
	assert_int_equal(set_value("link_ecn_mark", "4K"), 4096);
	assert_int_equal(set_value("link_ecn_mark", "3M"), 3 * 1024 * 1024);
	assert_int_equal(set_value("link_ecn_mark", "1G"), 1024 * 1024 * 1024);
	assert_int_equal(set_value("link_ecn_mark", "0"), 0);
	assert_int_equal(set_value("staging", "0064K"), 64 * 1024);
	/* TIME: ns us ms s, decimals down to the nanosecond */
	assert_int_equal(set_value("rto_min", "1ns"), 1);
	assert_int_equal(set_value("rto_min", "200us"), 200 * US);
	assert_int_equal(set_value("rto_min", "1.5ms"), 1500 * US);
	assert_int_equal(set_value("rto_min", "2s"), 2 * SEC);
	assert_int_equal(set_value("rto_min", "0.000000001s"), 1);
	assert_int_equal(set_value("rto_min", "1.000ns"), 1);
	assert_int_equal(set_value("rto_min", "0.25us"), 250);
	assert_int_equal(set_value("rto_min", "1000000s"), 1000000 * SEC);
	/* RATE: SI */
	assert_int_equal(set_value("link_bandwidth", "10Gbps"), 10000000000ull);
	assert_int_equal(set_value("link_bandwidth", "100Mbps"), 100000000);
	assert_int_equal(set_value("link_bandwidth", "2.5Gbps"), 2500000000ull);
	assert_int_equal(set_value("link_bandwidth", "64Kbps"), 64000);
	assert_int_equal(set_value("link_bandwidth", "1500bps"), 1500);
	assert_int_equal(set_value("link_bandwidth", "0bps"), 0);
	/* PCT: ppm */
	assert_int_equal(loss_ppm("0.5%"), 5000);
	assert_int_equal(loss_ppm("100%"), 1000000);
	assert_int_equal(loss_ppm("0.0001%"), 1);
	assert_int_equal(loss_ppm("0%"), 0);
	assert_int_equal(loss_ppm("0"), 0);
	assert_int_equal(loss_ppm("12.34%"), 123400);
	assert_int_equal(loss_ppm("100.0000%"), 1000000);

	const char *pair = "scenario t\napp srv on server echo-server\napp cli on client echo to=srv\n";
#define BAD_SET(line_text, col, frag) parse_bad_after(pair, line_text, col, frag)
	BAD_SET("set rto_min 5", 13, "missing unit in '5'");
	BAD_SET("set rto_min 5MS", 13, "unknown unit 'MS'");
	BAD_SET("set rto_min 0.1ns", 13, "finer than 1ns");
	BAD_SET("set rto_min 0", 13, "out of range");
	BAD_SET("set rto_min 1000001s", 13, "out of range");
	BAD_SET("set rto_min 18446744073709551616ns", 13, "out of range");
	BAD_SET("set rto_min .5ms", 13, "'.5ms' is not a number");
	BAD_SET("set rto_min 5.ms", 13, "unknown unit '.ms'");
	BAD_SET("set staging 4k", 13, "unknown unit 'k'");
	BAD_SET("set staging 4KB", 13, "unknown unit 'KB'");
	BAD_SET("set staging 4KiB", 13, "unknown unit 'KiB'");
	BAD_SET("set staging 2G", 13, "out of range");
	BAD_SET("set staging 1.5K", 13, "not a whole number");
	BAD_SET("set staging 99999999999999999999K", 13, "out of range");
	BAD_SET("set staging 18014398509481984K", 13, "out of range"); /* 2^54 K overflows 64 bits */
	BAD_SET("set link_bandwidth 10gbps", 20, "unknown unit 'gbps'");
	BAD_SET("set link_bandwidth 1.5bps", 20, "finer than 1bps");
	BAD_SET("set link_bandwidth 1001Gbps", 20, "out of range");
	BAD_SET("set link_bandwidth 10", 20, "missing unit");
	BAD_SET("set mss 1448B", 9, "unknown unit 'B'");
	BAD_SET("set mss 1K", 9, "unknown unit 'K'");
	BAD_SET("set mss +1448", 9, "not a number");
	BAD_SET("fault wire on client loss=100.0001%", 22, "out of range");
	BAD_SET("fault wire on client loss=5", 22, "missing unit in '5' in 'loss=5'");
	BAD_SET("fault wire on client loss=5ppm", 22, "unknown unit 'ppm'");
	BAD_SET("fault wire on client loss=0.00005%", 22, "finer than 0.0001% (1 ppm)");
#undef BAD_SET
}

/* ---------- apps ---------- */

static void test_every_app_kind(void **state)
{
	(void)state;
	struct scenario *s = parse_ok(
		"scenario kinds\n"
		"app es on server echo-server port=7000 backlog=128\n"
		"app ec on client echo to=es conns=3 msg=64..4K messages=20 start=1.5ms\n"
		"app sk on client sink port=9\n"
		"app st on server stream to=sk conns=2 bytes=16M start=2ms\n"
		"app rs on server rpc-server port=80 resp=1K backlog=4\n"
		"app rc on client rpc to=rs conns=4000 req=100 messages=1 start=0\n"
		"app rc2 on client rpc to=rs req=10..20 resp=1K\n"
		"app ch on client churn to=es conns=5 cycles=1000 msg=32 start=3us\n"
		"app ho on server hostile victim=es\n");
	assert_int_equal(s->app_count, 9);
	const struct scn_app *a = app_named(s, "es");
	assert_int_equal(a->kind, SCN_WL_ECHO_SERVER);
	assert_int_equal(a->port, 7000);
	assert_int_equal(a->backlog, 128);
	a = app_named(s, "ec");
	assert_int_equal(a->kind, SCN_WL_ECHO);
	assert_int_equal(a->port, 7000);
	assert_int_equal(a->conns, 3);
	assert_int_equal(a->msg_min_bytes, 64);
	assert_int_equal(a->msg_max_bytes, 4096);
	assert_int_equal(a->messages, 20);
	assert_int_equal(a->start_ns, 1500 * US);
	a = app_named(s, "sk");
	assert_int_equal(a->kind, SCN_WL_SINK);
	assert_int_equal(a->host, SCN_HOST_CLIENT);
	assert_int_equal(a->port, 9);
	a = app_named(s, "st");
	assert_int_equal(a->kind, SCN_WL_STREAM);
	assert_int_equal(a->host, SCN_HOST_SERVER);
	assert_string_equal(a->target, "sk");
	assert_int_equal(a->port, 9);
	assert_int_equal(a->conns, 2);
	assert_int_equal(a->bytes, 16 * 1024 * 1024);
	assert_int_equal(a->start_ns, 2 * MS);
	a = app_named(s, "rs");
	assert_int_equal(a->kind, SCN_WL_RPC_SERVER);
	assert_int_equal(a->port, 80);
	assert_int_equal(a->resp_bytes, 1024);
	assert_int_equal(a->backlog, 4);
	a = app_named(s, "rc");
	assert_int_equal(a->kind, SCN_WL_RPC);
	assert_int_equal(a->port, 80);
	assert_int_equal(a->conns, 4000);
	assert_int_equal(a->msg_min_bytes, 100);
	assert_int_equal(a->msg_max_bytes, 100);
	assert_int_equal(a->resp_bytes, 1024); /* taken from its server */
	assert_int_equal(a->messages, 1);
	a = app_named(s, "rc2");
	assert_int_equal(a->msg_min_bytes, 10);
	assert_int_equal(a->msg_max_bytes, 20);
	assert_int_equal(a->resp_bytes, 1024);
	a = app_named(s, "ch");
	assert_int_equal(a->kind, SCN_WL_CHURN);
	assert_int_equal(a->conns, 5);
	assert_int_equal(a->cycles, 1000);
	assert_int_equal(a->msg_min_bytes, 32);
	assert_int_equal(a->msg_max_bytes, 32);
	assert_int_equal(a->start_ns, 3 * US);
	a = app_named(s, "ho");
	assert_int_equal(a->kind, SCN_WL_HOSTILE);
	assert_string_equal(a->victim, "es");
	free(s);
}

static void test_app_common_keys(void **state)
{
	(void)state;
	struct scenario *s = parse_ok("scenario t\n"
				      "app srv on server echo-server rx_ring=4K tx_ring=1M events=64 max_conns=64 "
				      "read_rate=10K stop_reading_after=1M exit_at=50ms\n"
				      "app cli on client echo to=srv max_conns=1\n");
	const struct scn_app *a = app_named(s, "srv");
	assert_int_equal(a->rx_ring_bytes, 4096);
	assert_int_equal(a->tx_ring_bytes, 1024 * 1024);
	assert_int_equal(a->event_entries, 64);
	assert_int_equal(a->max_conns, 64);
	assert_int_equal(a->fault.read_bytes_per_ms, 10 * 1024);
	assert_int_equal(a->fault.stop_reading_after, 1024 * 1024);
	assert_int_equal(a->fault.exit_at_ns, 50 * MS);
	assert_int_equal(app_named(s, "cli")->max_conns, 1);
	free(s);
}

static void test_app_errors(void **state)
{
	(void)state;
	const char *srv = "scenario t\napp srv on server echo-server\n";
#define BAD_APP(line_text, col, frag) parse_bad_after(srv, line_text, col, frag)
	BAD_APP("app", 4, "missing the app name");
	BAD_APP("app c", 6, "missing 'on client' or 'on server'");
	BAD_APP("app c on", 9, "missing the host after 'on'");
	BAD_APP("app c on client", 16, "missing the app kind");
	BAD_APP("app -c on client echo to=srv", 5, "invalid app name '-c'");
	BAD_APP("app c on client echo to=s.rv", 22, "invalid app name 's.rv'");
	BAD_APP("app c on client echo to=srv resp=4", 29, "unknown key 'resp' for echo");
	BAD_APP("app c on client echo to=srv port=7", 29, "unknown key 'port' for echo");
	BAD_APP("app c on client echo-server start=1ms", 29, "unknown key 'start' for echo-server");
	BAD_APP("app c on client hostile", 17, "hostile needs victim=");
	BAD_APP("app c on client rpc", 17, "rpc needs to=");
	BAD_APP("app c on client churn to=srv cycles=0", 30, "out of range");
	BAD_APP("app c on client echo to=srv conns=0", 29, "out of range");
	BAD_APP("app c on client echo to=srv messages=0", 29, "out of range");
	BAD_APP("app c on client echo to=srv exit_at=0", 29, "out of range");
	BAD_APP("app c on client echo to=srv events=3", 29, "out of range");
	BAD_APP("app c on client echo to=srv rx_ring=32", 29, "out of range");
	BAD_APP("app c on client echo to=srv msg=4K..", 29, "'' is not a number");
	BAD_APP("app c on client echo to=srv msg=..4K", 29, "'' is not a number");
	BAD_APP("app c on client echo to=srv msg=1..2..3", 29, "unknown unit '..3'");
	BAD_APP("app c on client stream to=srv bytes=1K..2K", 31, "a range is not allowed in 'bytes=1K..2K'");
#undef BAD_APP
}

/* max_conns=0 means "derived from conns/backlog"; an explicit one must
 * hold them. */
static void test_app_max_conns_zero_is_derived(void **state)
{
	(void)state;
	struct scenario *s = with_pair("app c2 on client echo to=srv max_conns=0 conns=2");
	assert_int_equal(app_named(s, "c2")->max_conns, 0);
	free(s);
	parse_bad("scenario t\napp srv on server echo-server\napp c on client echo to=srv max_conns=1 conns=2\n", 3, 29,
		  "max_conns=1 is less than conns=2");
}

/* ---------- faults ---------- */

static void test_every_fault(void **state)
{
	(void)state;
	struct scenario *s = with_pair(
		"fault wire on client loss=0.5% burst=1% burst_len=3 dup=2% corrupt=3% truncate=4% reorder=5% "
		"jitter=20us partition=1ms..2ms\n"
		"fault wire on server dir=tx from=1ms until=2s loss=1% dup=0.1%\n"
		"fault wire on server dir=rx loss=100%\n"
		"fault chan-delay app=cli delay=5us\n"
		"fault drop-doorbell app=cli rate=10% from=2ms until=3ms\n"
		"fault drop-wakeup app=srv rate=100%\n"
		"fault chan-error app=cli at=7ms\n"
		"fault shrink-region app=srv bytes=4K\n"
		"fault stall-credits app=cli from=1ms until=4ms\n"
		"fault slowpath-stall on server from=1ms until=1.5ms\n"
		"fault nic-pause on client from=0 until=10us\n");
	assert_int_equal(s->fault_count, 11);
	const struct scn_fault *f = &s->faults[0];
	assert_int_equal(f->kind, SCN_FAULT_WIRE);
	assert_int_equal(f->host, SCN_HOST_CLIENT);
	assert_int_equal(f->at_ns, 0);
	assert_true(f->until_ns == SCN_TIME_END);
	assert_int_equal(f->wire.rx.loss_ppm, 5000);
	assert_int_equal(f->wire.rx.burst_start_ppm, 10000);
	assert_int_equal(f->wire.rx.burst_len, 3);
	assert_int_equal(f->wire.rx.duplicate_ppm, 20000);
	assert_int_equal(f->wire.rx.corrupt_ppm, 30000);
	assert_int_equal(f->wire.rx.truncate_ppm, 40000);
	assert_int_equal(f->wire.rx.reorder_ppm, 50000);
	assert_int_equal(f->wire.rx.jitter_ns, 20 * US);
	assert_int_equal(f->wire.partition_start_ns, 1 * MS);
	assert_int_equal(f->wire.partition_end_ns, 2 * MS);
	assert_int_equal(f->wire.seed, 0);
	assert_int_equal(f->wire.tx.loss_ppm, 0);
	assert_int_equal(f->line, 4);
	f = &s->faults[1];
	assert_int_equal(f->host, SCN_HOST_SERVER);
	assert_int_equal(f->at_ns, 1 * MS);
	assert_int_equal(f->until_ns, 2 * SEC);
	assert_int_equal(f->wire.tx.loss_ppm, 10000);
	assert_int_equal(f->wire.tx.duplicate_ppm, 1000);
	assert_int_equal(f->wire.rx.loss_ppm, 0);
	assert_int_equal(f->wire.partition_end_ns, 0);
	f = &s->faults[2];
	assert_int_equal(f->wire.rx.loss_ppm, 1000000);
	f = &s->faults[3];
	assert_int_equal(f->kind, SCN_FAULT_CHAN_DELAY);
	assert_string_equal(f->app, "cli");
	assert_int_equal(f->delay_ns, 5 * US);
	assert_int_equal(f->at_ns, 0);
	assert_true(f->until_ns == SCN_TIME_END);
	f = &s->faults[4];
	assert_int_equal(f->kind, SCN_FAULT_CHAN_DROP_DOORBELL);
	assert_int_equal(f->ppm, 100000);
	assert_int_equal(f->at_ns, 2 * MS);
	assert_int_equal(f->until_ns, 3 * MS);
	f = &s->faults[5];
	assert_int_equal(f->kind, SCN_FAULT_CHAN_DROP_WAKEUP);
	assert_string_equal(f->app, "srv");
	assert_int_equal(f->ppm, 1000000);
	f = &s->faults[6];
	assert_int_equal(f->kind, SCN_FAULT_CHAN_ERROR);
	assert_int_equal(f->at_ns, 7 * MS);
	assert_true(f->until_ns == SCN_TIME_END);
	f = &s->faults[7];
	assert_int_equal(f->kind, SCN_FAULT_CHAN_SHRINK_REGION);
	assert_int_equal(f->shrink_bytes, 4096);
	f = &s->faults[8];
	assert_int_equal(f->kind, SCN_FAULT_CHAN_STALL_CREDITS);
	assert_int_equal(f->at_ns, 1 * MS);
	assert_int_equal(f->until_ns, 4 * MS);
	f = &s->faults[9];
	assert_int_equal(f->kind, SCN_FAULT_NIC_SLOWPATH_STALL);
	assert_int_equal(f->host, SCN_HOST_SERVER);
	assert_int_equal(f->at_ns, 1 * MS);
	assert_int_equal(f->until_ns, 1500 * US);
	f = &s->faults[10];
	assert_int_equal(f->kind, SCN_FAULT_NIC_PAUSE);
	assert_int_equal(f->host, SCN_HOST_CLIENT);
	assert_int_equal(f->at_ns, 0);
	assert_int_equal(f->until_ns, 10 * US);
	assert_int_equal(f->line, 14);
	free(s);
}

static void test_fault_errors(void **state)
{
	(void)state;
	const char *pair = "scenario t\napp srv on server echo-server\napp cli on client echo to=srv\n";
#define BAD_FAULT(line_text, col, frag) parse_bad_after(pair, line_text, col, frag)
	BAD_FAULT("fault", 6, "missing the fault kind");
	BAD_FAULT("fault wire", 11, "missing 'on client' or 'on server'");
	BAD_FAULT("fault wire client loss=1%", 12, "unexpected 'client'");
	BAD_FAULT("fault wire on client app=cli loss=1%", 22, "unknown key 'app' for fault wire");
	BAD_FAULT("fault wire on client dir=both loss=1%", 22, "unknown direction 'both'");
	BAD_FAULT("fault wire on client dir=tx reorder=1%", 29, "reorder= applies only to frames a NIC receives");
	BAD_FAULT("fault wire on client loss=1% burst_len=3", 30, "burst_len= without burst=");
	BAD_FAULT("fault wire on client burst_len=0 burst=1%", 22, "out of range");
	BAD_FAULT("fault wire on client partition=1ms", 22, "'1ms' is not a range in 'partition=1ms'");
	BAD_FAULT("fault wire on client loss=1% from=2ms until=2ms", 39, "until=2ms is not after from=2ms");
	BAD_FAULT("fault wire on client loss=1% until=0", 30, "until=0ns is not after from=0ns");
	BAD_FAULT("fault chan-delay app=cli", 7, "fault chan-delay needs delay=");
	BAD_FAULT("fault chan-delay delay=1us", 7, "fault chan-delay needs app=");
	BAD_FAULT("fault chan-delay app=cli delay=0", 26, "out of range");
	BAD_FAULT("fault chan-delay on client app=cli delay=1us", 18, "'on' is not a key=value pair");
	BAD_FAULT("fault drop-doorbell app=cli", 7, "needs rate=");
	BAD_FAULT("fault drop-wakeup app=cli rate=101%", 27, "out of range");
	BAD_FAULT("fault chan-error app=cli", 7, "needs at=");
	BAD_FAULT("fault chan-error app=cli at=1ms until=2ms", 33, "unknown key 'until'");
	BAD_FAULT("fault shrink-region app=cli bytes=4G", 29, "out of range");
	BAD_FAULT("fault stall-credits app=cli until=1ms", 7, "needs from=");
	BAD_FAULT("fault slowpath-stall on server from=1ms", 7, "needs until=");
	BAD_FAULT("fault nic-pause on server app=cli from=1ms until=2ms", 27, "unknown key 'app'");
	BAD_FAULT("fault nic-pause on moon from=1ms until=2ms", 20, "unknown host 'moon'");
#undef BAD_FAULT
}

/* ---------- expectations ---------- */

static void test_every_expectation(void **state)
{
	(void)state;
	struct scenario *s = with_pair("expect intact\n"
				       "expect within 1.5s\n"
				       "expect no-deadlock\n"
				       "expect error cli ECONNREFUSED\n"
				       "expect error srv ECHANNEL\n"
				       "expect counter client.nic.rtos == 0\n"
				       "expect counter server.nic.syn_backlog_drops != 1\n"
				       "expect counter wire.to_server.dropped_queue < 2\n"
				       "expect counter wire.to_client.ecn_marked <= 3K\n"
				       "expect counter app.cli.bytes > 1M\n"
				       "expect counter app.srv.access_errors >= 18446744073709551615\n"
				       "expect no-access-errors except=cli\n");
	assert_int_equal(s->expect_count, 12);
	const struct scn_expect *e = s->expects;
	assert_int_equal(e[0].kind, SCN_EXPECT_INTACT);
	assert_int_equal(e[0].line, 4);
	assert_int_equal(e[1].kind, SCN_EXPECT_WITHIN);
	assert_int_equal(e[1].within_ns, 1500 * MS);
	assert_int_equal(e[2].kind, SCN_EXPECT_NO_DEADLOCK);
	assert_int_equal(e[3].kind, SCN_EXPECT_ERROR);
	assert_string_equal(e[3].app, "cli");
	assert_int_equal(e[3].error, BT_ECONNREFUSED);
	assert_int_equal(e[4].error, BT_ECHANNEL);
	assert_int_equal(e[5].kind, SCN_EXPECT_COUNTER);
	assert_string_equal(e[5].counter, "client.nic.rtos");
	assert_int_equal(e[5].cmp, SCN_CMP_EQ);
	assert_int_equal(e[5].value, 0);
	assert_string_equal(e[6].counter, "server.nic.syn_backlog_drops");
	assert_int_equal(e[6].cmp, SCN_CMP_NE);
	assert_int_equal(e[6].value, 1);
	assert_int_equal(e[7].cmp, SCN_CMP_LT);
	assert_int_equal(e[8].cmp, SCN_CMP_LE);
	assert_int_equal(e[8].value, 3072);
	assert_string_equal(e[9].counter, "app.cli.bytes");
	assert_int_equal(e[9].cmp, SCN_CMP_GT);
	assert_int_equal(e[9].value, 1024 * 1024);
	assert_int_equal(e[10].cmp, SCN_CMP_GE);
	assert_true(e[10].value == UINT64_MAX);
	assert_int_equal(e[11].kind, SCN_EXPECT_NO_ACCESS_ERRORS);
	assert_string_equal(e[11].app, "cli");
	assert_int_equal(e[11].line, 15);
	free(s);
	s = with_pair("expect no-access-errors");
	assert_int_equal(s->expects[0].kind, SCN_EXPECT_NO_ACCESS_ERRORS);
	assert_string_equal(s->expects[0].app, "");
	free(s);

	/* Every bt_err an application can end with, by its name. */
	static const struct {
		const char *name;
		int err;
	} errs[] = {{"EINVAL", BT_EINVAL},	     {"ENOMEM", BT_ENOMEM},	    {"ECONNREFUSED", BT_ECONNREFUSED},
		    {"ECONNRESET", BT_ECONNRESET},   {"ETIMEDOUT", BT_ETIMEDOUT},   {"EPIPE", BT_EPIPE},
		    {"ENOTCONN", BT_ENOTCONN},	     {"ECHANNEL", BT_ECHANNEL},	    {"EADDRINUSE", BT_EADDRINUSE},
		    {"EHOSTUNREACH", BT_EHOSTUNREACH}, {"ENICREFUSED", BT_ENICREFUSED}, {"ENOBUFS", BT_ENOBUFS}};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		char body[128];
		snprintf(body, sizeof(body), "expect error cli %s", errs[i].name);
		s = with_pair(body);
		assert_int_equal(s->expects[0].error, errs[i].err);
		free(s);
	}
}

static void test_expect_errors(void **state)
{
	(void)state;
	const char *pair = "scenario t\napp srv on server echo-server\napp cli on client echo to=srv\n";
#define BAD_EXPECT(line_text, col, frag) parse_bad_after(pair, line_text, col, frag)
	BAD_EXPECT("expect", 7, "missing the expectation");
	BAD_EXPECT("expect intact now", 15, "unexpected 'now' after intact");
	BAD_EXPECT("expect within", 14, "missing the time");
	BAD_EXPECT("expect within 0", 15, "out of range");
	BAD_EXPECT("expect error cli", 17, "missing the error name");
	BAD_EXPECT("expect error cli EAGAIN", 18, "unknown error 'EAGAIN'");
	BAD_EXPECT("expect error cli BT_ECHANNEL", 18, "unknown error 'BT_ECHANNEL'");
	BAD_EXPECT("expect error cli ECHANNEL twice", 27, "unexpected 'twice'");
	BAD_EXPECT("expect counter", 15, "missing the counter name");
	BAD_EXPECT("expect counter client.nic.rtos", 31, "missing the comparison");
	BAD_EXPECT("expect counter client.nic.rtos ==", 34, "missing the value");
	BAD_EXPECT("expect counter client.nic.rtos == -1", 35, "not a number");
	BAD_EXPECT("expect counter client.nic.rtos == 1.5", 35, "not a whole number");
	BAD_EXPECT("expect counter client.nic.rtos == 18446744073709551616", 35, "out of range");
	BAD_EXPECT("expect counter client.rtos == 1", 16, "unknown counter 'client.rtos'");
	BAD_EXPECT("expect counter client.nic. == 1", 16, "unknown counter field ''");
	BAD_EXPECT("expect counter wire.to_server.rtos == 1", 16, "unknown counter field 'rtos'");
	BAD_EXPECT("expect counter wire.sideways.frames == 1", 16, "unknown counter 'wire.sideways.frames'");
	BAD_EXPECT("expect counter app.cli.rtos == 1", 16, "unknown counter field 'rtos'");
	BAD_EXPECT("expect counter app.c.l.i.bytes == 1", 16, "invalid app name 'c.l.i'");
	BAD_EXPECT("expect counter app.abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh.bytes == 1", 16,
		   "too long");
	BAD_EXPECT("expect no-access-errors cli", 25, "'cli' is not a key=value pair");
	BAD_EXPECT("expect no-access-errors except=ghost", 25, "'ghost' names no app");
#undef BAD_EXPECT
	parse_bad("scenario t\napp srv on server echo-server\nexpect within 1s\nexpect within 2s\n", 4, 8,
		  "expectation 'within' stated twice (first on line 3)");
	parse_bad("scenario t\nset time_limit 1s\napp srv on server echo-server\nexpect within 2s\n", 4, 15,
		  "within 2s is beyond time_limit 1s");
}

/* ---------- lexical structure ---------- */

static void test_comments_blanks_crlf(void **state)
{
	(void)state;
	struct scenario *s = parse_ok("\n"
				      "   # indented comment\n"
				      "\t\n"
				      "scenario  spaced#comment glued to the name\r\n"
				      "\tapp\tsrv on server   echo-server\tport=9 # trailing\r\n"
				      "app cli on client echo to=srv    msg=2K#no space\n"
				      "#\n"
				      "expect intact");
	assert_string_equal(s->name, "spaced");
	assert_int_equal(s->app_count, 2);
	assert_int_equal(s->apps[0].port, 9);
	assert_int_equal(s->apps[1].msg_max_bytes, 2048);
	assert_int_equal(s->expect_count, 1);
	assert_int_equal(s->expects[0].line, 8);
	free(s);
	/* Columns are byte offsets: a tab counts one. */
	parse_bad("scenario t\n\tapp\tsrv on server echo-server bogus=1\n", 2, 32, "unknown key 'bogus'");
	/* A scenario name may hold dots; an app name may not. */
	s = parse_ok("scenario loss-0.5pct_v2\napp srv on server sink\n");
	assert_string_equal(s->name, "loss-0.5pct_v2");
	free(s);
}

static void test_limits_exactly_at_the_maximum(void **state)
{
	(void)state;
	char *text = malloc(64 * 1024);
	assert_non_null(text);
	size_t n = (size_t)snprintf(text, 64 * 1024, "scenario full\n");
	for (int i = 0; i < SCN_MAX_APPS; i++)
		n += (size_t)snprintf(text + n, 64 * 1024 - n, "app s%d on server sink port=%d\n", i, 1000 + i);
	for (int i = 0; i < SCN_MAX_FAULTS; i++)
		n += (size_t)snprintf(text + n, 64 * 1024 - n, "fault nic-pause on server from=%dms until=%dms\n", i, i + 1);
	for (int i = 0; i < SCN_MAX_EXPECTS; i++)
		n += (size_t)snprintf(text + n, 64 * 1024 - n, "expect counter server.nic.rtos <= %d\n", i);
	/* A line of exactly 4096 bytes is fine. */
	text[n++] = '#';
	memset(text + n, 'x', 4095);
	n += 4095;
	text[n++] = '\n';
	text[n] = 0;
	struct scenario *s = parse_ok(text);
	assert_int_equal(s->app_count, SCN_MAX_APPS);
	assert_int_equal(s->fault_count, SCN_MAX_FAULTS);
	assert_int_equal(s->expect_count, SCN_MAX_EXPECTS);
	free(s);
	/* One byte more is not. */
	text[n - 1] = 'x';
	memcpy(text + n, "\n", 2);
	parse_bad(text, 1 + SCN_MAX_APPS + SCN_MAX_FAULTS + SCN_MAX_EXPECTS + 1, 4097, "line is 4097 bytes long");
	free(text);
}

static void test_second_pass_reports_the_first_problem_in_the_file(void **state)
{
	(void)state;
	/* Three reference problems found by the second pass, out of order
	 * (faults and expectations are checked after apps): the earliest
	 * line wins. */
	parse_bad("scenario t\n"
		  "expect error ghost ECONNRESET\n"
		  "app srv on server echo-server\n"
		  "fault chan-delay app=nobody delay=1us\n"
		  "app cli on client echo to=missing\n",
		  2, 14, "'ghost' names no app");
	parse_bad("scenario t\n"
		  "app srv on server echo-server\n"
		  "fault chan-delay app=nobody delay=1us\n"
		  "app cli on client echo to=missing\n",
		  3, 18, "app=nobody names no app");
	/* References may point forward. */
	struct scenario *s = parse_ok("scenario t\nexpect error cli ECONNRESET\napp cli on client echo to=srv\n"
				      "app srv on server echo-server port=99\n");
	assert_int_equal(app_named(s, "cli")->port, 99);
	free(s);
	/* The staging limit is reported where the later of the two settings is. */
	parse_bad("scenario t\nset staging 16K\nset mss 9000\napp srv on server sink\n", 3, 9,
		  "staging 16K is too small for mss 9000");
	parse_bad("scenario t\nset mss 9000\nset staging 16K\napp srv on server sink\n", 3, 13,
		  "staging 16K is too small for mss 9000");
}

static void test_error_format_and_small_buffers(void **state)
{
	(void)state;
	struct scenario *s = malloc(sizeof(*s));
	assert_non_null(s);
	const char *bad = "scenario x\nset mss 1\n";
	char err[512];
	assert_int_equal(scenario_parse("dir/x.scn", bad, s, err, sizeof(err)), -1);
	assert_string_equal(err, "dir/x.scn:2:9: error: '1' is out of range (expected an unsigned integer within 64..9000)");
	/* Truncated, still terminated, nothing written past the end. */
	char small[12];
	memset(small, 'Z', sizeof(small));
	assert_int_equal(scenario_parse("dir/x.scn", bad, s, small, 8), -1);
	assert_int_equal(strlen(small), 7);
	assert_int_equal(small[8], 'Z');
	/* No buffer at all is allowed. */
	assert_int_equal(scenario_parse("dir/x.scn", bad, s, NULL, 0), -1);
	assert_int_equal(scenario_parse(NULL, bad, s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "<input>:2:9: error: "));
	assert_int_equal(scenario_parse("x", NULL, s, err, sizeof(err)), -1);
	assert_int_equal(scenario_parse("x", "", s, err, sizeof(err)), -1);
	assert_string_equal(err, "x:1:1: error: no statements: the file is empty (expected a `scenario NAME` line first)");
	/* Bytes that are not printable are shown escaped. */
	assert_int_equal(scenario_parse("x", "scenario t\n\x01\xff\n", s, err, sizeof(err)), -1);
	assert_string_equal(err, "x:2:1: error: unknown statement '\\x01\\xff' (expected one of scenario, set, app, fault, expect)");
	/* A long token of such bytes is cut: the quoted form stays bounded
	 * (it once overran its buffer: 48 bytes escaped are 192 characters). */
	char junk[128] = "scenario t\n";
	memset(junk + 11, 0x01, 100);
	junk[111] = 0;
	char big[2048];
	assert_int_equal(scenario_parse("x", junk, s, big, sizeof(big)), -1);
	const char *q1 = strchr(big, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
	assert_non_null(q2);
	assert_true(q2 - q1 - 1 < 128);
	assert_memory_equal(q2 - 3, "...", 3);
	free(s);
}

static void test_load_io_errors(void **state)
{
	(void)state;
	struct scenario *s = malloc(sizeof(*s));
	assert_non_null(s);
	char err[512];
	assert_int_equal(scenario_load("/nonexistent/x.scn", s, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/x.scn:0:0: error: cannot open: No such file or directory (expected a readable scenario file)");
	assert_int_equal(scenario_load("tests", s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tests:0:0: error: cannot read: Is a directory"));
	/* Over 1 MiB is refused before parsing. */
	char path[64];
	snprintf(path, sizeof(path), "/tmp/bt_scn_big_%d.scn", (int)getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("scenario big\napp s on server sink\n", f);
	for (int i = 0; i < 20000; i++)
		fputs("# padding padding padding padding padding padding padding\n", f);
	fclose(f);
	assert_int_equal(scenario_load(path, s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":0:0: error: file is larger than 1 MiB"));
	unlink(path);
	free(s);
}

/* ---------- the files in the repository ---------- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.scn files of `dir`, sorted; returns the count. */
static size_t list_scn(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	*out = NULL;
	if (!d)
		return 0;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".scn"))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = realloc(*out, cap * sizeof(**out));
			assert_non_null(*out);
		}
		(*out)[n] = malloc(strlen(dir) + len + 2);
		assert_non_null((*out)[n]);
		sprintf((*out)[n], "%s/%s", dir, de->d_name);
		n++;
	}
	closedir(d);
	if (n)
		qsort(*out, n, sizeof(**out), name_cmp);
	return n;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static void test_bad_files_fail_where_they_say(void **state)
{
	(void)state;
	char **files;
	size_t n = list_scn("tests/scenario-bad", &files);
	if (n < 32)
		fail_msg("tests/scenario-bad holds %zu .scn files, expected at least 32 (run from the repository root or set BT_SRCDIR)", n);
	struct scenario *s = malloc(sizeof(*s));
	assert_non_null(s);
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		char first[512] = "";
		FILE *f = fopen(files[i], "rb");
		assert_non_null(f);
		if (!fgets(first, sizeof(first), f))
			first[0] = 0;
		fclose(f);
		first[strcspn(first, "\r\n")] = 0;
		unsigned line = 0, col = 0;
		int off = -1;
		if (sscanf(first, "# expect: %u:%u: %n", &line, &col, &off) != 2 || off < 0 || !first[off]) {
			print_error("%s: first line is not '# expect: LINE:COL: FRAGMENT'\n", files[i]);
			bad++;
			continue;
		}
		const char *fragment = first + off;
		char err[1024], prefix[600];
		snprintf(prefix, sizeof(prefix), "%s:%u:%u: error: ", files[i], line, col);
		int rc = scenario_load(files[i], s, err, sizeof(err));
		if (rc != -1 || strncmp(err, prefix, strlen(prefix)) || !strstr(err + strlen(prefix), fragment) ||
		    !strstr(err, " (expected ") || strchr(err, '\n')) {
			print_error("%s:\n  expected %s...%s...\n  got      %s\n", files[i], prefix, fragment,
				    rc == -1 ? err : "(parsed without error)");
			bad++;
		}
	}
	free(s);
	free_list(files, n);
	if (bad)
		fail_msg("%d of %zu files in tests/scenario-bad did not fail as their first line says", bad, n);
}

static void test_good_files_parse(void **state)
{
	(void)state;
	static const char *const dirs[] = {"tests/scenario-good", "scenarios"};
	struct scenario *s = malloc(sizeof(*s));
	assert_non_null(s);
	size_t total = 0;
	int bad = 0;
	for (size_t d = 0; d < 2; d++) {
		char **files;
		size_t n = list_scn(dirs[d], &files);
		total += n;
		for (size_t i = 0; i < n; i++) {
			char err[1024];
			if (scenario_load(files[i], s, err, sizeof(err)) != 0) {
				print_error("%s\n", err);
				bad++;
			} else if (strcmp(s->path, files[i])) {
				print_error("%s: path recorded as '%s'\n", files[i], s->path);
				bad++;
			}
		}
		free_list(files, n);
	}
	free(s);
	assert_true(total >= 2);
	if (bad)
		fail_msg("%d scenario files do not parse", bad);
}

/* Every counter docs/scenarios.md lists can be named: all of struct
 * nic_stats, struct netif_fault_stats and struct sim_link_dir_stats, and
 * the app and channel counters. When a field is added to one of those
 * structs, the size checks below fail: add it to these lists and to the
 * documentation. */
/* The NIC's counters from the one list that prints them (core/nic/nic.h). */
#define NIC_FIELD_NAME(f) #f,
static const char *const nic_u64[] = {NIC_STATS_FIELDS_U64(NIC_FIELD_NAME)};
static const char *const nic_u32[] = {NIC_STATS_FIELDS_U32(NIC_FIELD_NAME)};
static const char *const wire_u64[] = {"frames", "bytes", "dropped_queue", "dropped_oversize", "ecn_marked"};
static const char *const wire_u32[] = {"max_queue_bytes"};
static const char *const fault_u64[] = {"lost",      "burst_lost", "duplicated", "corrupted",
					 "truncated", "reordered",  "delayed",    "partitioned", "hold_overflow",
					 "rx_lost_payload_bytes", "tx_lost_payload_bytes"};
static const char *const loss_fields[] = {"lost_bytes", "resent_bytes", "resent_per_lost_pct", "goodput_mbps"};
static const char *const app_fields[] = {"bytes",	 "bytes_sent", "mismatches",    "messages_done", "conns_opened",
					 "conns_closed", "conns_failed", "accepted",    "errors",	     "wakeups",
					 "wait_timeouts", "attacks",	 "attacks_refused", "access_errors", "bytes_verified",
					 "bytes_expected", "first_mismatch_offset", "sleeps", "forged_cmds", "arms_deferred"};
static const char *const chan_fields[] = {"reads",	     "writes",	    "msgs",	       "bytes_read",
					  "bytes_written",   "access_errors", "msgs_dropped", "ops_delayed",
					  "errors_injected", "credits_stalled"};
static const char *const host_fields[] = {"events_consumed", "doorbells_sent", "doorbells_deferred", "doorbells_inline",
					  "doorbells_refreshed", "arms_deferred", "waits_timed_out",
					  "lost_wakeups", "tx_bytes", "rx_bytes", "conns_in_use"};
#define N_OF(a) (sizeof(a) / sizeof(a[0]))

static void expect_counter_ok(const char *name)
{
	char body[256];
	snprintf(body, sizeof(body), "expect counter %s >= 0", name);
	struct scenario *s = with_pair(body);
	assert_string_equal(s->expects[0].counter, name);
	free(s);
}

static void test_every_counter_can_be_named(void **state)
{
	(void)state;
	size_t nic_size = 8 * N_OF(nic_u64) + 4 * N_OF(nic_u32);
	nic_size = (nic_size + 7) / 8 * 8;
	if (sizeof(struct nic_stats) != nic_size)
		fail_msg("struct nic_stats is %zu bytes, the lists here make %zu: a counter was added or removed; "
			 "update this test and docs/scenarios.md",
			 sizeof(struct nic_stats), nic_size);
	size_t wire_size = (8 * N_OF(wire_u64) + 4 * N_OF(wire_u32) + 7) / 8 * 8;
	if (sizeof(struct sim_link_dir_stats) != wire_size)
		fail_msg("struct sim_link_dir_stats changed: update this test and docs/scenarios.md");
	if (sizeof(struct netif_fault_stats) != 8 * N_OF(fault_u64))
		fail_msg("struct netif_fault_stats changed: update this test and docs/scenarios.md");
	char name[128];
	for (int h = 0; h < 2; h++) {
		for (size_t i = 0; i < N_OF(nic_u64); i++) {
			snprintf(name, sizeof(name), "%s.nic.%s", h ? "server" : "client", nic_u64[i]);
			expect_counter_ok(name);
		}
		for (size_t i = 0; i < N_OF(nic_u32); i++) {
			snprintf(name, sizeof(name), "%s.nic.%s", h ? "server" : "client", nic_u32[i]);
			expect_counter_ok(name);
		}
		for (size_t i = 0; i < N_OF(wire_u64); i++) {
			snprintf(name, sizeof(name), "wire.%s.%s", h ? "to_server" : "to_client", wire_u64[i]);
			expect_counter_ok(name);
		}
		snprintf(name, sizeof(name), "wire.%s.%s", h ? "to_server" : "to_client", wire_u32[0]);
		expect_counter_ok(name);
	}
	for (int h = 0; h < 2; h++)
		for (size_t i = 0; i < N_OF(fault_u64); i++) {
			snprintf(name, sizeof(name), "%s.faults.%s", h ? "server" : "client", fault_u64[i]);
			expect_counter_ok(name);
		}
	for (size_t i = 0; i < N_OF(app_fields); i++) {
		snprintf(name, sizeof(name), "app.%s.%s", i % 2 ? "srv" : "cli", app_fields[i]);
		expect_counter_ok(name);
	}
	for (size_t i = 0; i < N_OF(chan_fields); i++) {
		snprintf(name, sizeof(name), "chan.%s.%s", i % 2 ? "srv" : "cli", chan_fields[i]);
		expect_counter_ok(name);
	}
	if (sizeof(struct chan_stats) != 8 * N_OF(chan_fields))
		fail_msg("struct chan_stats changed: update this test and docs/scenarios.md");
	for (size_t i = 0; i < N_OF(host_fields); i++) {
		snprintf(name, sizeof(name), "host.%s.%s", i % 2 ? "srv" : "cli", host_fields[i]);
		expect_counter_ok(name);
	}
	for (int h = 0; h < 2; h++)
		for (size_t i = 0; i < N_OF(loss_fields); i++) {
			snprintf(name, sizeof(name), "loss.%s.%s", h ? "to_server" : "to_client", loss_fields[i]);
			expect_counter_ok(name);
		}
	/* A counter of an app that does not exist is an error, for chan. too. */
	parse_bad("scenario t\napp srv on server sink\nexpect counter chan.ghost.msgs > 0\n", 3, 16,
		  "'ghost' names no app");
}

/* ---------- robustness ---------- */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static const char base_text[] =
	"# a scenario using every statement\n"
	"scenario fuzz-base\n"
	"set mss 1448\nset ecn on\nset staging 512K\nset rto_min 5ms\nset link_bandwidth 10Gbps\n"
	"set link_queue 1M\nset time_limit 60s\n"
	"app srv on server echo-server port=7 backlog=64\n"
	"app cli on client echo to=srv conns=4 msg=64..4K messages=10 start=1ms rx_ring=64K\n"
	"app snk on client sink port=9\n"
	"app str on server stream to=snk bytes=1M\n"
	"app rs on server rpc-server port=80 resp=128\n"
	"app rc on client rpc to=rs req=100..200 messages=5\n"
	"app ch on client churn to=srv cycles=3 msg=64\n"
	"app bad on client hostile victim=cli\n"
	"fault wire on client loss=0.5% burst=1% burst_len=3 jitter=10us partition=1ms..2ms\n"
	"fault wire on server dir=tx dup=1% from=1ms until=2ms\n"
	"fault chan-delay app=cli delay=5us\n"
	"fault drop-doorbell app=cli rate=1%\n"
	"fault drop-wakeup app=srv rate=50%\n"
	"fault chan-error app=ch at=3ms\n"
	"fault shrink-region app=str bytes=4K\n"
	"fault stall-credits app=cli from=1ms until=2ms\n"
	"fault slowpath-stall on server from=1ms until=2ms\n"
	"fault nic-pause on client from=1ms until=2ms\n"
	"expect intact\nexpect within 2s\nexpect no-deadlock\nexpect error ch ECHANNEL\n"
	"expect counter client.nic.rtos <= 3\nexpect counter app.cli.bytes > 1K\n"
	"expect no-access-errors except=bad\n";

static const char *const vocab[] = {
	"scenario", "set", "app", "fault", "expect", "on", "client", "server", "echo", "echo-server", "sink",
	"stream", "rpc", "rpc-server", "churn", "hostile", "wire", "chan-delay", "drop-doorbell", "drop-wakeup",
	"chan-error", "shrink-region", "stall-credits", "slowpath-stall", "nic-pause", "intact", "within",
	"no-deadlock", "error", "counter", "no-access-errors", "mss", "ecn", "staging", "rto_min", "time_limit",
	"link_bandwidth", "to=srv", "to=", "=", "==", "<=", ">", "!=", "msg=1..", "msg=..", "msg=4K..1K",
	"msg=18446744073709551615", "loss=100%", "loss=100.00001%", "loss=%", "partition=1ms..", "from=1ms",
	"until=0", "dir=tx", "jitter=1us", "burst=1%", "burst_len=4", "app=srv", "app=", "victim=srv", "1.5ms",
	"1.5", "..", "...", ".", "%", "0", "99999999999999999999999999", "4K", "4kb", "10Gbps", "on", "off", "#",
	"srv", "cli", "client.nic.rtos", "app.srv.bytes", "app..bytes", "wire.to_server.frames", "ECHANNEL",
	"except=cli", "\t", "\r", "x=y=z", "a.b.c.d", "-", "+", "\xff\xfe", "conns=4000", "conns=4001",
};

static void check_outcome(int rc, const char *err, const struct scenario *s)
{
	if (rc == 0) {
		assert_true(s->app_count <= SCN_MAX_APPS);
		assert_true(s->fault_count <= SCN_MAX_FAULTS);
		assert_true(s->expect_count <= SCN_MAX_EXPECTS);
		assert_true(memchr(s->name, 0, sizeof(s->name)) != NULL);
		for (uint32_t i = 0; i < s->app_count; i++) {
			assert_true(memchr(s->apps[i].name, 0, SCN_NAME_MAX) != NULL);
			assert_true(memchr(s->apps[i].target, 0, SCN_NAME_MAX) != NULL);
			assert_true(s->apps[i].msg_min_bytes <= s->apps[i].msg_max_bytes);
		}
		for (uint32_t i = 0; i < s->fault_count; i++)
			assert_true(s->faults[i].at_ns < s->faults[i].until_ns);
		return;
	}
	assert_int_equal(rc, -1);
	if (strncmp(err, "fuzz.scn:", 9) || !strstr(err, ": error: ") || !strstr(err, " (expected ") ||
	    strchr(err, '\n'))
		fail_msg("malformed message: %s", err);
}

static void test_fuzz_mutations(void **state)
{
	(void)state;
	struct scenario *ok = parse_ok(base_text);
	free(ok);
	const size_t cap = 16384;
	char *text = malloc(cap + 1);
	struct scenario *s = malloc(sizeof(*s));
	assert_non_null(text);
	assert_non_null(s);
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	int parsed = 0;
	for (int iter = 0; iter < 10000; iter++) {
		size_t len = sizeof(base_text) - 1;
		memcpy(text, base_text, len);
		int mutations = 1 + (int)(xorshift(&rng) % 4);
		for (int m = 0; m < mutations && len > 0; m++) {
			size_t at = (size_t)(xorshift(&rng) % len);
			switch (xorshift(&rng) % 6) {
			case 0: /* one byte, any value (NUL ends the text early) */
				text[at] = (char)(xorshift(&rng) & 0xff);
				break;
			case 1: { /* delete a span */
				size_t n = 1 + (size_t)(xorshift(&rng) % 40);
				if (n > len - at)
					n = len - at;
				memmove(text + at, text + at + n, len - at - n);
				len -= n;
				break;
			}
			case 2: { /* insert a vocabulary word */
				const char *w = vocab[xorshift(&rng) % N_OF(vocab)];
				size_t n = strlen(w);
				if (len + n + 1 > cap)
					break;
				memmove(text + at + n + 1, text + at, len - at);
				memcpy(text + at, w, n);
				text[at + n] = xorshift(&rng) % 3 ? ' ' : '\n';
				len += n + 1;
				break;
			}
			case 3: { /* duplicate a span (lines repeat, limits overflow) */
				size_t n = 1 + (size_t)(xorshift(&rng) % 400);
				if (n > len - at)
					n = len - at;
				if (len + n > cap)
					break;
				memmove(text + at + n, text + at, len - at);
				len += n;
				break;
			}
			case 4: /* a newline becomes a blank: lines merge */
				for (size_t i = at; i < len; i++)
					if (text[i] == '\n') {
						text[i] = ' ';
						break;
					}
				break;
			case 5: { /* a run of one byte: long lines and tokens */
				size_t n = 1 + (size_t)(xorshift(&rng) % 5000);
				if (len + n > cap)
					break;
				memmove(text + at + n, text + at, len - at);
				memset(text + at, "x9.=#\t%"[xorshift(&rng) % 7], n);
				len += n;
				break;
			}
			}
		}
		text[len] = 0;
		char err[600];
		int rc = scenario_parse("fuzz.scn", text, s, err, sizeof(err));
		check_outcome(rc, err, s);
		parsed += rc == 0;
	}
	/* Mutations that keep the file valid happen too (a comment hit). */
	assert_true(parsed > 0);
	free(s);
	free(text);
}

static void test_fuzz_token_soup(void **state)
{
	(void)state;
	char *text = malloc(65536);
	struct scenario *s = malloc(sizeof(*s));
	assert_non_null(text);
	assert_non_null(s);
	uint64_t rng = 12345;
	for (int iter = 0; iter < 3000; iter++) {
		size_t n = 0;
		if (xorshift(&rng) % 2)
			n += (size_t)sprintf(text, "scenario soup\napp srv on server echo-server\napp cli on client echo to=srv\n");
		int lines = 1 + (int)(xorshift(&rng) % 40);
		for (int l = 0; l < lines && n < 60000; l++) {
			int toks = 1 + (int)(xorshift(&rng) % 8);
			for (int t = 0; t < toks; t++) {
				const char *w = vocab[xorshift(&rng) % N_OF(vocab)];
				n += (size_t)snprintf(text + n, 65536 - n, "%s%s", t ? " " : "", w);
			}
			text[n++] = '\n';
		}
		text[n] = 0;
		char err[600];
		int rc = scenario_parse("fuzz.scn", text, s, err, sizeof(err));
		check_outcome(rc, err, s);
	}
	/* Pure random bytes. */
	for (int iter = 0; iter < 2000; iter++) {
		size_t n = (size_t)(xorshift(&rng) % 6000);
		for (size_t i = 0; i < n; i++)
			text[i] = (char)(1 + xorshift(&rng) % 255);
		text[n] = 0;
		char err[600];
		int rc = scenario_parse("fuzz.scn", text, s, err, sizeof(err));
		check_outcome(rc, err, s);
	}
	free(s);
	free(text);
}

static void test_parse_is_deterministic(void **state)
{
	(void)state;
	struct scenario *a = parse_ok(base_text), *b = parse_ok(base_text);
	assert_memory_equal(a, b, sizeof(*a));
	free(a);
	free(b);
}

/* Tests name files relative to the repository root. */
static int to_srcdir(void **state)
{
	(void)state;
	const char *dir = getenv("BT_SRCDIR");
	return chdir(dir && *dir ? dir : ".");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_minimal_pair_gets_app_defaults),
		cmocka_unit_test(test_every_setting),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_every_app_kind),
		cmocka_unit_test(test_app_common_keys),
		cmocka_unit_test(test_app_errors),
		cmocka_unit_test(test_app_max_conns_zero_is_derived),
		cmocka_unit_test(test_every_fault),
		cmocka_unit_test(test_fault_errors),
		cmocka_unit_test(test_every_expectation),
		cmocka_unit_test(test_expect_errors),
		cmocka_unit_test(test_comments_blanks_crlf),
		cmocka_unit_test(test_limits_exactly_at_the_maximum),
		cmocka_unit_test(test_second_pass_reports_the_first_problem_in_the_file),
		cmocka_unit_test(test_error_format_and_small_buffers),
		cmocka_unit_test(test_load_io_errors),
		cmocka_unit_test(test_bad_files_fail_where_they_say),
		cmocka_unit_test(test_good_files_parse),
		cmocka_unit_test(test_every_counter_can_be_named),
		cmocka_unit_test(test_fuzz_mutations),
		cmocka_unit_test(test_fuzz_token_soup),
		cmocka_unit_test(test_parse_is_deterministic),
	};
	return cmocka_run_group_tests(tests, to_srcdir, NULL);
}
