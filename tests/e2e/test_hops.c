/*
 * test_hops.c: the RPC hop trace (core/util/hop_trace.h, hop_join.h).
 *
 * End to end, in the simulator (virtual time) and on the shm backend in
 * real time: every RPC of an echo run passes every hop, client and peer,
 * in order, and the hops add up to the round trip the echo client itself
 * measured. Nothing here looks at how long a hop took.
 *
 * The joiner alone, on records made by hand: order of arrival does not
 * matter, a missing point makes an RPC incomplete, a chain that goes back
 * in time is disordered, a wait that ended before the event was posted is
 * not what delivered it, and files round-trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util/hop_join.h"
#include "tests/support/run_cmd.h"
#include "sim/testbed.h"

#define RPCS 40

static const char *const client_chain[] = {"client.send",     "client.db_post",  "client.db_seen",   "client.read_done",
					   "client.frame_out", "peer.frame_in",   "peer.ev_posted",   "peer.woke",
					   "peer.ev_seen",    "peer.recv",       "peer.send",        "peer.db_post",
					   "peer.db_seen",    "peer.read_done",  "peer.frame_out",   "client.frame_in",
					   "client.ev_posted", "client.woke",     "client.ev_seen",   "client.recv"};

static void run_traced(bool realtime, struct testbed_result *r, struct hop_trace ht[2])
{
	struct testbed_config cfg;
	testbed_default_config(&cfg);
	cfg.msg_bytes = 64;
	cfg.max_rtt_samples = 1u << 20;
	if (realtime) {
		cfg.realtime = true;
		cfg.messages = 0;
		cfg.duration_ns = 30ull * 1000000;
		cfg.time_limit_ns = 10ull * 1000000000;
		cfg.link.latency_ns = 0;
		cfg.link.bandwidth_bps = 0;
	} else {
		cfg.messages = RPCS;
	}
	assert_int_equal(hop_trace_init(&ht[0], 1u << 20, 0), 0);
	assert_int_equal(hop_trace_init(&ht[1], 1u << 20, 1), 0);
	cfg.hops_client = &ht[0];
	cfg.hops_server = &ht[1];
	char err[256] = "";
	if (testbed_run(&cfg, r, err, sizeof(err)) != 0)
		fail_msg("setup failed: %s", err);
	if (!r->passed)
		fail_msg("run failed: %s", r->failure);
}

static void join_both(struct hop_trace ht[2], struct hop_report *rep)
{
	uint32_t n = ht[0].count + ht[1].count;
	struct hop_rec *all = malloc(n * sizeof(*all));
	assert_non_null(all);
	memcpy(all, ht[0].recs, ht[0].count * sizeof(*all));
	memcpy(all + ht[0].count, ht[1].recs, ht[1].count * sizeof(*all));
	assert_int_equal(hop_join(all, n, 0, rep), 0);
	free(all);
}

/* The chain is the full one, in this order; every consecutive pair is
 * printed as a hop line, and the summary line is there. */
static void check_report_prints_every_hop(const struct hop_report *rep)
{
	assert_int_equal(rep->steps, sizeof(client_chain) / sizeof(client_chain[0]));
	for (uint32_t k = 0; k < rep->steps; k++) {
		char name[32];
		snprintf(name, sizeof(name), "%s.%s", rep->chain[k].side ? "peer" : "client",
			 hop_point_name(rep->chain[k].point));
		assert_string_equal(name, client_chain[k]);
	}
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(hop_report_print(rep, "test", out), 0);
	fclose(out);
	for (uint32_t k = 1; k < rep->steps; k++) {
		char line[96];
		snprintf(line, sizeof(line), "\nhop %-18s -> %-18s p50_us=", client_chain[k - 1], client_chain[k]);
		if (!strstr(text, line))
			fail_msg("no line for hop %s -> %s in:\n%s", client_chain[k - 1], client_chain[k], text);
	}
	assert_non_null(strstr(text, "\nhops rpcs="));
	assert_non_null(strstr(text, "client.rx_written"));
	free(text);
}

static void check_chain_order(const struct hop_report *rep)
{
	for (uint32_t i = 0; i < rep->count; i++)
		for (uint32_t k = 1; k < rep->steps; k++)
			if (rep->rpcs[i].t_ns[k] < rep->rpcs[i].t_ns[k - 1])
				fail_msg("RPC %u: %s before %s", i, client_chain[k], client_chain[k - 1]);
}

static void test_sim_every_rpc_passes_every_hop(void **state)
{
	(void)state;
	struct hop_trace ht[2];
	struct testbed_result r;
	run_traced(false, &r, ht);
	struct hop_report rep;
	join_both(ht, &rep);
	assert_int_equal(rep.count, RPCS);
	assert_int_equal(rep.incomplete, 0);
	assert_int_equal(rep.disordered, 0);
	check_chain_order(&rep);
	/* The hops add up to the round trip the client measured: in virtual
	 * time the client reads the clock at the same instants. */
	assert_int_equal(r.rtt_count, RPCS);
	for (uint32_t i = 0; i < rep.count; i++) {
		uint64_t sum = 0;
		for (uint32_t k = 1; k < rep.steps; k++)
			sum += rep.rpcs[i].t_ns[k] - rep.rpcs[i].t_ns[k - 1];
		assert_int_equal(sum, r.rtt_ns[i]);
		/* The payload WRITE completion was seen, after the frame came. */
		assert_true(rep.rpcs[i].rx_written_ns >= rep.rpcs[i].t_ns[15]);
	}
	check_report_prints_every_hop(&rep);
	hop_report_free(&rep);
	testbed_result_free(&r);
	hop_trace_free(&ht[0]);
	hop_trace_free(&ht[1]);
}

static void test_shm_every_rpc_passes_every_hop(void **state)
{
	(void)state;
	struct hop_trace ht[2];
	struct testbed_result r;
	run_traced(true, &r, ht);
	struct hop_report rep;
	join_both(ht, &rep);
	assert_true(rep.count > 0);
	assert_int_equal(rep.disordered, 0);
	/* At most the RPC in flight when the run stopped lacks a point. */
	assert_true(rep.incomplete <= 1);
	check_chain_order(&rep);
	/* One connection: RPC i is the client's sample i, and the trace's
	 * window lies inside the client's (it stamps before its first
	 * bt_send and after its last bt_recv). */
	assert_true(r.rtt_count >= rep.count);
	for (uint32_t i = 0; i < rep.count; i++)
		assert_true(rep.rpcs[i].t_ns[rep.steps - 1] - rep.rpcs[i].t_ns[0] <= r.rtt_ns[i]);
	check_report_prints_every_hop(&rep);
	hop_report_free(&rep);
	testbed_result_free(&r);
	hop_trace_free(&ht[0]);
	hop_trace_free(&ht[1]);
}

/* ---- the joiner on records made by hand: one client, no peer ---- */

#define CONN 0x12340007u

static void put(struct hop_trace *t, enum hop_point p, uint32_t off, uint64_t t_ns, uint8_t flags)
{
	hop_record(t, p, CONN, off, t_ns, flags);
}

/* One RPC of 64 B at t = base, each point 10 ns after the last. */
static void one_rpc(struct hop_trace *t, uint32_t off, uint64_t base)
{
	static const enum hop_point pts[] = {HOP_SEND,     HOP_DB_POST,   HOP_DB_SEEN,   HOP_READ_DONE,
					     HOP_FRAME_OUT, HOP_FRAME_IN, HOP_EV_POSTED, HOP_WOKE,
					     HOP_EV_SEEN,  HOP_RECV};
	for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
		put(t, pts[i], off, base + 10 * i, pts[i] == HOP_WOKE ? HOP_F_SLEPT | HOP_F_WAKEUP : 0);
}

static void test_join_ignores_arrival_order(void **state)
{
	(void)state;
	struct hop_trace t;
	assert_int_equal(hop_trace_init(&t, 64, 0), 0);
	one_rpc(&t, 64, 1000);
	one_rpc(&t, 128, 2000);
	/* Reversed: the joiner sorts. */
	for (uint32_t i = 0; i < t.count / 2; i++) {
		struct hop_rec x = t.recs[i];
		t.recs[i] = t.recs[t.count - 1 - i];
		t.recs[t.count - 1 - i] = x;
	}
	struct hop_report rep;
	assert_int_equal(hop_join(t.recs, t.count, 0, &rep), 0);
	assert_int_equal(rep.steps, 10); /* no peer records: the client's ten points */
	assert_int_equal(rep.count, 2);
	assert_int_equal(rep.rpcs[1].t_ns[0], 2000);
	assert_int_equal(rep.rpcs[1].t_ns[9], 2090);
	assert_int_equal(rep.rpcs[0].woke_flags, HOP_F_SLEPT | HOP_F_WAKEUP);
	hop_report_free(&rep);
	hop_trace_free(&t);
}

static void test_join_missing_point_is_incomplete(void **state)
{
	(void)state;
	struct hop_trace t;
	assert_int_equal(hop_trace_init(&t, 64, 0), 0);
	one_rpc(&t, 64, 1000);
	one_rpc(&t, 128, 2000);
	/* Drop the second RPC's frame_in. */
	for (uint32_t i = 0; i < t.count; i++)
		if (t.recs[i].point == HOP_FRAME_IN && t.recs[i].off_end == 128)
			t.recs[i] = t.recs[--t.count];
	struct hop_report rep;
	assert_int_equal(hop_join(t.recs, t.count, 0, &rep), 0);
	assert_int_equal(rep.count, 1);
	assert_int_equal(rep.incomplete, 1);
	hop_report_free(&rep);
	hop_trace_free(&t);
}

static void test_join_backwards_chain_is_disordered(void **state)
{
	(void)state;
	struct hop_trace t;
	assert_int_equal(hop_trace_init(&t, 64, 0), 0);
	one_rpc(&t, 64, 1000);
	for (uint32_t i = 0; i < t.count; i++)
		if (t.recs[i].point == HOP_READ_DONE)
			t.recs[i].t_ns = 1005; /* before the doorbell was seen (1020) */
	struct hop_report rep;
	assert_int_equal(hop_join(t.recs, t.count, 0, &rep), 0);
	assert_int_equal(rep.count, 0);
	assert_int_equal(rep.disordered, 1);
	hop_report_free(&rep);
	hop_trace_free(&t);
}

static void test_join_early_wake_did_not_deliver(void **state)
{
	(void)state;
	struct hop_trace t;
	assert_int_equal(hop_trace_init(&t, 64, 0), 0);
	one_rpc(&t, 64, 1000);
	for (uint32_t i = 0; i < t.count; i++)
		if (t.recs[i].point == HOP_WOKE)
			t.recs[i].t_ns = 1001; /* ended before the event was posted (1060) */
	struct hop_report rep;
	assert_int_equal(hop_join(t.recs, t.count, 0, &rep), 0);
	assert_int_equal(rep.count, 1);
	assert_int_equal(rep.rpcs[0].t_ns[7], 1080); /* woke = ev_seen: it was polling */
	assert_int_equal(rep.rpcs[0].woke_flags, 0);
	hop_report_free(&rep);
	hop_trace_free(&t);
}

static void test_trace_file_round_trip(void **state)
{
	(void)state;
	struct hop_trace t, back;
	assert_int_equal(hop_trace_init(&t, 64, 0), 0);
	one_rpc(&t, 64, 1000);
	t.dropped = 3;
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(hop_trace_write(&t, f), 0);
	rewind(f);
	memset(&back, 0, sizeof(back));
	char err[128];
	assert_int_equal(hop_trace_read(&back, f, "t", err, sizeof(err)), 0);
	fclose(f);
	assert_int_equal(back.count, t.count);
	assert_int_equal(back.dropped, 3);
	assert_memory_equal(back.recs, t.recs, t.count * sizeof(*t.recs));
	/* A bad record names its line. */
	f = tmpfile();
	fputs("bluetas-hops 1 records=1 dropped=0\n1000 nosuchpoint 0 1 64 0\n", f);
	rewind(f);
	assert_int_equal(hop_trace_read(&back, f, "t", err, sizeof(err)), -1);
	fclose(f);
	assert_non_null(strstr(err, "t:2:"));
	/* The recorder keeps the first records and counts the rest. */
	struct hop_trace small;
	assert_int_equal(hop_trace_init(&small, 4, 0), 0);
	one_rpc(&small, 64, 1000);
	assert_int_equal(small.count, 4);
	assert_int_equal(small.dropped, 6);
	hop_trace_free(&small);
	hop_trace_free(&back);
	hop_trace_free(&t);
}

/* ---- the command line ---- */

static void test_cli_sim_prints_every_hop(void **state)
{
	(void)state;
	static char out[16384];
	assert_int_equal(test_run_bluetas("sim --hops -s 64 -n 5", out, sizeof(out)), 0);
	for (size_t k = 1; k < sizeof(client_chain) / sizeof(client_chain[0]); k++) {
		char line[96];
		snprintf(line, sizeof(line), "\nhop %-18s -> %-18s p50_us=", client_chain[k - 1], client_chain[k]);
		if (!strstr(out, line))
			fail_msg("no line for hop %s -> %s in:\n%s", client_chain[k - 1], client_chain[k], out);
	}
	assert_non_null(strstr(out, "\nhops rpcs=5 incomplete=0 disordered=0 "));
	assert_non_null(strstr(out, "\nmeasured rtts=5 "));
}

static void test_cli_bad_input_is_named(void **state)
{
	(void)state;
	char out[4096];
	/* A file that is no trace: its name and line. */
	char path[] = "/tmp/bt-hops-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello\n", 6), 6);
	close(fd);
	char args[256];
	snprintf(args, sizeof(args), "hops %s", path);
	assert_int_equal(test_run_bluetas(args, out, sizeof(out)), 2);
	snprintf(args, sizeof(args), "%s:1: not a hop trace", path);
	assert_non_null(strstr(out, args));
	unlink(path);
	/* An unwritable --hops is a usage error before any connection is
	 * tried (no daemon listens on this address). */
	assert_int_equal(test_run_bluetas("app --channel verbs:127.0.0.1 --app echo-client --remote 10.0.0.2:7 "
					  "--hops /nonexistent-dir/x.hops",
					  out, sizeof(out)),
			 2);
	assert_non_null(strstr(out, "--hops /nonexistent-dir/x.hops: No such file or directory"));
	assert_int_equal(test_run_bluetas("hops", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "usage: bluetas hops FILE..."));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_every_rpc_passes_every_hop),
		cmocka_unit_test(test_shm_every_rpc_passes_every_hop),
		cmocka_unit_test(test_join_ignores_arrival_order),
		cmocka_unit_test(test_join_missing_point_is_incomplete),
		cmocka_unit_test(test_join_backwards_chain_is_disordered),
		cmocka_unit_test(test_join_early_wake_did_not_deliver),
		cmocka_unit_test(test_trace_file_round_trip),
		cmocka_unit_test(test_cli_sim_prints_every_hop),
		cmocka_unit_test(test_cli_bad_input_is_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
