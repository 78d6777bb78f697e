/*
 * test_scenarios.c: the scenario scripts through the engine. Every script
 * in scenarios/ passes on a few seeds here (CI sweeps 200 with `bluetas
 * run`); each negative control brings its BlueTAS bug class back and the
 * matching script must then FAIL with the matching diagnosis; a failing
 * run repeated with its seed writes the same pcap, byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/files.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/scenario.h"

static const char *srcdir(void)
{
	const char *d = getenv("BT_SRCDIR");
	return d ? d : ".";
}

static struct scenario *load(const char *name)
{
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/scenarios/%s", srcdir(), name);
	struct scenario *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	if (scenario_load(path, s, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return s;
}

static void run(const struct scenario *s, uint64_t seed, uint32_t bugs, struct scenario_result *r)
{
	struct scenario_run_opts o = {.seed = seed, .bugs = bugs};
	assert_int_equal(scenario_run(s, &o, r), 0);
}

static void test_every_script_passes_on_three_seeds(void **state)
{
	(void)state;
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/scenarios", srcdir());
	DIR *d = opendir(dir);
	assert_non_null(d);
	int scripts = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".scn"))
			continue;
		struct scenario *s = load(de->d_name);
		for (uint64_t seed = 1; seed <= 3; seed++) {
			struct scenario_result r;
			run(s, seed, 0, &r);
			if (r.verdict != SCN_PASS)
				fail_msg("%s seed %llu: %s", de->d_name, (unsigned long long)seed, r.diagnosis);
			assert_true(r.bytes_delivered > 0);
			scenario_result_free(&r);
		}
		free(s);
		scripts++;
	}
	closedir(d);
	assert_true(scripts >= 12);
}

/* With the bug back, the scenario must fail on every seed tried, and say
 * why in words a developer would search for. */
static void expect_caught_seeds(const char *script, uint32_t bug, const char *diagnosis_part, uint64_t seeds)
{
	struct scenario *s = load(script);
	for (uint64_t seed = 1; seed <= seeds; seed++) {
		struct scenario_result clean, buggy;
		run(s, seed, 0, &clean);
		run(s, seed, bug, &buggy);
		if (clean.verdict != SCN_PASS)
			fail_msg("%s seed %llu fails without the bug: %s", script, (unsigned long long)seed, clean.diagnosis);
		if (buggy.verdict != SCN_FAIL || !strstr(buggy.diagnosis, diagnosis_part))
			fail_msg("%s seed %llu with the bug: %s '%s' (wanted a failure mentioning '%s')", script,
				 (unsigned long long)seed, buggy.verdict == SCN_PASS ? "PASSED" : "failed with",
				 buggy.diagnosis, diagnosis_part);
		scenario_result_free(&clean);
		scenario_result_free(&buggy);
	}
	free(s);
}

static void expect_caught(const char *script, uint32_t bug, const char *diagnosis_part)
{
	expect_caught_seeds(script, bug, diagnosis_part, 5);
}

/* SACK loss recovery: with SACK the senders resend about what the wire
 * lost (<= 1.5x) and one flow at 1% loss keeps >= 5 Gbit/s on a 10 Gbit/s
 * link; without it (go-back-N, TAS) both fail. */
static void test_no_sack_bug_fails_the_loss_ratio_and_goodput(void **state)
{
	(void)state;
	expect_caught("sack_loss.scn", SCN_BUG_NO_SACK, "resent_per_lost_pct");
	expect_caught_seeds("../tests/scenario-loss/sack_goodput_1pct.scn", SCN_BUG_NO_SACK, "counter loss.to_server", 3);
	struct scenario *s = load("../tests/scenario-loss/sack_goodput_1pct.scn");
	struct scenario_result r;
	run(s, 1, 0, &r);
	assert_true(r.loss[0].lost_bytes > 0);
	assert_true(r.loss[0].resent_bytes * 2 <= r.loss[0].lost_bytes * 3);
	assert_true(r.loss[0].goodput_mbps >= 5000);
	assert_int_equal(r.loss[1].lost_bytes, 0); /* nothing lost towards the client */
	scenario_result_free(&r);
	run(s, 1, SCN_BUG_NO_SACK, &r);
	assert_true(r.loss[0].resent_bytes > 5 * r.loss[0].lost_bytes);
	assert_true(r.loss[0].goodput_mbps < 5000);
	scenario_result_free(&r);
	free(s);
}

/* Tail losses in RPCs: with early retransmit and the tail loss probe a
 * lost response segment is mostly repaired before the RTO; without them
 * (TAS) every one waits for it. */
static void test_no_tail_recovery_bug_fails_the_early_retransmits(void **state)
{
	(void)state;
	expect_caught("rpc_tail_loss.scn", SCN_BUG_NO_TAIL_RECOVERY, "counter server.nic.early_retransmits");
}

static void test_first_segment_only_bug_is_a_data_mismatch(void **state)
{
	(void)state;
	expect_caught("multiseg_rx_mss536.scn", SCN_BUG_RX_FIRST_SEGMENT_ONLY, "data mismatch");
	expect_caught("multiseg_rx_mss1448.scn", SCN_BUG_RX_FIRST_SEGMENT_ONLY, "data mismatch");
	expect_caught("multiseg_rx_mss8960.scn", SCN_BUG_RX_FIRST_SEGMENT_ONLY, "data mismatch");
}

/* Deep reordering (depth=) proves something only if a receiver that
 * mishandles multi-segment data fails under it. */
static void test_deep_reorder_catches_first_segment_only_bug(void **state)
{
	(void)state;
	expect_caught("deep_reorder.scn", SCN_BUG_RX_FIRST_SEGMENT_ONLY, "data mismatch");
}

/* `expect intact` with a sink that exits early: what it got before it
 * left is judged (all verified), not the whole stream it never read. */
static void test_intact_with_sink_that_exits_early(void **state)
{
	(void)state;
	struct scenario *s = load("../tests/scenario-good/sink-exits-early.scn");
	for (uint64_t seed = 1; seed <= 2; seed++) {
		struct scenario_result r;
		run(s, seed, 0, &r);
		if (r.verdict != SCN_PASS)
			fail_msg("sink-exits-early seed %llu: %s", (unsigned long long)seed, r.diagnosis);
		/* it did receive part of the stream, and only part */
		assert_true(r.bytes_delivered > 0);
		assert_true(r.bytes_delivered < 16u << 20);
		assert_false(r.data_mismatch);
		scenario_result_free(&r);
	}
	free(s);
}

static void test_wakeup_without_timeout_bug_is_a_deadlock_with_report(void **state)
{
	(void)state;
	expect_caught("send_deadlock.scn", SCN_BUG_WAKEUP_NO_TIMEOUT, "deadlock");
	struct scenario *s = load("send_deadlock.scn");
	struct scenario_result r;
	run(s, 1, SCN_BUG_WAKEUP_NO_TIMEOUT, &r);
	assert_true(r.deadlock);
	assert_non_null(r.deadlock_report);
	/* The report names every connection's state and the sleeping app. */
	assert_non_null(strstr(r.deadlock_report, "DEADLOCK"));
	assert_non_null(strstr(r.deadlock_report, "ESTABLISHED"));
	assert_non_null(strstr(r.deadlock_report, "waiting for"));
	assert_non_null(strstr(r.deadlock_report, "only a wakeup can end it"));
	assert_non_null(strstr(r.deadlock_report, "credits"));
	scenario_result_free(&r);
	free(s);
}

static void test_sleep_without_arm_bug_is_a_lost_wakeup(void **state)
{
	(void)state;
	/* The fresh server's ARM finds no credit; sleeping anyway loses the
	 * wakeup, the timeout rescues it, and the engine says so. */
	expect_caught("fresh_server.scn", SCN_BUG_SLEEP_WITHOUT_ARM, "lost wakeup");
}

/* A NIC that forgets the WAKEUPs it owes: every sleep with events coming
 * ends by its timeout, and the last one is still unjudged when the work
 * ends. Waiting for a late WAKEUP at the end must not excuse it. */
static void test_drop_wakeups_bug_is_a_lost_wakeup(void **state)
{
	(void)state;
	expect_caught("fresh_server.scn", SCN_BUG_DROP_WAKEUPS, "lost wakeup");
}

/* Seed 52 of multiseg_rx_mss1448: the reader's budget deadline ends its
 * sleep 450 ns after the NIC answered its ARM (events were already
 * written), with the WAKEUP still on the channel, and that same poll
 * finishes the last message. Stopping there judged the in-flight WAKEUP
 * as lost; the engine now lets it land before judging (stop_check). */
static void test_a_wakeup_in_flight_when_the_work_ends_is_not_lost(void **state)
{
	(void)state;
	struct scenario *s = load("multiseg_rx_mss1448.scn");
	struct scenario_result r;
	run(s, 52, 0, &r);
	if (r.verdict != SCN_PASS)
		fail_msg("multiseg_rx_mss1448 seed 52: %s", r.diagnosis);
	scenario_result_free(&r);
	free(s);
}

/* A doorbell refresh in a run without channel faults means a doorbell
 * went unconfirmed for a whole refresh interval: the engine fails the run
 * whatever the script expects. A 1 ns refresh fires on every doorbell,
 * so it must be caught; with a channel fault on the app it is excused. */
static void test_a_doorbell_refresh_without_channel_faults_fails_the_run(void **state)
{
	(void)state;
	static const char base[] = "scenario refresh\nset doorbell_refresh 1ns\n"
				   "app srv on server echo-server port=7\n"
				   "app cli on client echo to=srv msg=4K messages=2\nexpect intact\n";
	char text[512], err[512];
	struct scenario *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(scenario_parse("refresh.scn", base, s, err, sizeof(err)), 0);
	struct scenario_result r;
	run(s, 1, 0, &r);
	assert_int_equal(r.verdict, SCN_FAIL);
	assert_non_null(strstr(r.diagnosis, "doorbell refresh"));
	scenario_result_free(&r);
	snprintf(text, sizeof(text), "%sfault drop-wakeup app=cli rate=0.0001%%\nfault drop-wakeup app=srv rate=0.0001%%\n",
		 base);
	assert_int_equal(scenario_parse("refresh.scn", text, s, err, sizeof(err)), 0);
	run(s, 1, 0, &r);
	if (r.verdict != SCN_PASS)
		fail_msg("with channel faults: %s", r.diagnosis);
	scenario_result_free(&r);
	free(s);
}

static void test_write_without_credits_bug_is_an_out_of_bounds_access(void **state)
{
	(void)state;
	expect_caught("mr_overflow.scn", SCN_BUG_WRITE_WITHOUT_CREDITS, "out-of-bounds");
	struct scenario *s = load("mr_overflow.scn");
	struct scenario_result r;
	run(s, 1, SCN_BUG_WRITE_WITHOUT_CREDITS, &r);
	assert_true(r.access_errors > 0); /* refused by the channel, memory untouched */
	scenario_result_free(&r);
	free(s);
}

static void test_a_reader_that_stops_is_reported_not_hung(void **state)
{
	(void)state;
	struct scenario *s = load("reader_stops.scn");
	struct scenario_result r;
	run(s, 3, 0, &r);
	if (r.verdict != SCN_PASS)
		fail_msg("%s", r.diagnosis);
	assert_true(r.deadlock);
	assert_non_null(r.deadlock_report);
	/* The report says who waits on whom: the receiver's full ring, the
	 * sender's shut window. */
	assert_non_null(strstr(r.deadlock_report, "the host application to read"));
	assert_non_null(strstr(r.deadlock_report, "the peer to open its window"));
	scenario_result_free(&r);
	/* And `expect deadlock` can fail: with the reader fixed nothing is
	 * stuck, and the same script must say so. */
	for (uint32_t i = 0; i < s->app_count; i++)
		s->apps[i].fault.stop_reading_after = 0;
	run(s, 3, 0, &r);
	assert_int_equal(r.verdict, SCN_FAIL);
	assert_non_null(strstr(r.diagnosis, "expected the deadlock detector"));
	scenario_result_free(&r);
	free(s);
}

static void test_isolation_holds_even_for_a_leaked_key(void **state)
{
	(void)state;
	struct scenario *s = load("isolation.scn");
	struct scenario_result r;
	run(s, 7, 0, &r);
	assert_int_equal(r.verdict, SCN_PASS);
	/* The attacks did reach the channel, and every one was refused. */
	assert_true(r.access_errors >= 1);
	assert_false(r.data_mismatch);
	scenario_result_free(&r);
	free(s);
}

/* Counters that the engine's lists once lacked, each made non-zero by the
 * fault or workload that drives it: the wire fault injector's hold queue
 * overflowing (its initial windows put 400 frames into 20 ms of jitter,
 * more than the 256 it holds), the channel's payload bytes, and the host
 * library's re-rung doorbells (a third of them lost). */
static void test_counters_once_missing_are_named_and_counted(void **state)
{
	(void)state;
	static const char text[] = "scenario counters\n"
				   "set time_limit 20s\n"
				   "app srv on server sink port=9 rx_ring=1M\n"
				   "app cli on client stream to=srv conns=40 bytes=64K tx_ring=1M\n"
				   "fault wire on server jitter=20ms\n"
				   "fault drop-doorbell app=cli rate=30%\n"
				   "expect intact\n"
				   "expect counter client.faults.hold_overflow == 0\n"
				   "expect counter server.faults.hold_overflow > 0\n"
				   "expect counter chan.cli.bytes_read > 0\n"
				   "expect counter chan.srv.bytes_written > 0\n"
				   "expect counter host.cli.doorbells_refreshed > 0\n";
	struct scenario *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	char err[512];
	if (scenario_parse("counters.scn", text, s, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	struct scenario_result r;
	run(s, 1, 0, &r);
	if (r.verdict != SCN_PASS)
		fail_msg("%s", r.diagnosis);
	scenario_result_free(&r);
	free(s);
}

static void test_a_failure_reproduces_byte_for_byte(void **state)
{
	(void)state;
	struct scenario *s = load("multiseg_rx_mss1448.scn");
	char a[64], b[64];
	snprintf(a, sizeof(a), "/tmp/bt_repro_a_%d.pcap", (int)getpid());
	snprintf(b, sizeof(b), "/tmp/bt_repro_b_%d.pcap", (int)getpid());
	struct scenario_result ra, rb;
	struct scenario_run_opts oa = {.seed = 11, .bugs = SCN_BUG_RX_FIRST_SEGMENT_ONLY, .pcap_path = a};
	struct scenario_run_opts ob = oa;
	ob.pcap_path = b;
	assert_int_equal(scenario_run(s, &oa, &ra), 0);
	assert_int_equal(scenario_run(s, &ob, &rb), 0);
	assert_int_equal(ra.verdict, SCN_FAIL);
	assert_string_equal(ra.diagnosis, rb.diagnosis);
	size_t la, lb;
	char *da = test_read_file(a, &la), *db = test_read_file(b, &lb);
	assert_non_null(da);
	assert_non_null(db);
	assert_true(la > 10000);
	assert_int_equal(la, lb);
	assert_memory_equal(da, db, la);
	free(da);
	free(db);
	unlink(a);
	unlink(b);
	scenario_result_free(&ra);
	scenario_result_free(&rb);
	free(s);
}

/* Simultaneous open and close (scenarios/simultaneous_*.scn): with a
 * SYN in SYN_SENT, or a FIN in FIN_WAIT_1, dropped (a stack with fixed
 * client and server roles) nothing opens, or nothing finishes closing. */
static void test_simultaneous_open_and_close_need_their_handling(void **state)
{
	(void)state;
	expect_caught_seeds("simultaneous_open.scn", SCN_BUG_NO_SIMULTANEOUS_OPEN, "deadlock", 2);
	expect_caught_seeds("simultaneous_close.scn", SCN_BUG_NO_SIMULTANEOUS_CLOSE, "deadlock", 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_script_passes_on_three_seeds),
		cmocka_unit_test(test_first_segment_only_bug_is_a_data_mismatch),
		cmocka_unit_test(test_deep_reorder_catches_first_segment_only_bug),
		cmocka_unit_test(test_intact_with_sink_that_exits_early),
		cmocka_unit_test(test_wakeup_without_timeout_bug_is_a_deadlock_with_report),
		cmocka_unit_test(test_write_without_credits_bug_is_an_out_of_bounds_access),
		cmocka_unit_test(test_sleep_without_arm_bug_is_a_lost_wakeup),
		cmocka_unit_test(test_a_wakeup_in_flight_when_the_work_ends_is_not_lost),
		cmocka_unit_test(test_drop_wakeups_bug_is_a_lost_wakeup),
		cmocka_unit_test(test_a_doorbell_refresh_without_channel_faults_fails_the_run),
		cmocka_unit_test(test_no_sack_bug_fails_the_loss_ratio_and_goodput),
		cmocka_unit_test(test_no_tail_recovery_bug_fails_the_early_retransmits),
		cmocka_unit_test(test_simultaneous_open_and_close_need_their_handling),
		cmocka_unit_test(test_a_reader_that_stops_is_reported_not_hung),
		cmocka_unit_test(test_isolation_holds_even_for_a_leaked_key),
		cmocka_unit_test(test_a_failure_reproduces_byte_for_byte),
		cmocka_unit_test(test_counters_once_missing_are_named_and_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
