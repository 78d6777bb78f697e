/*
 * test_cli_run.c: `bluetas run` as a user meets it: help, scenario files
 * with errors (nothing runs, exit 2, FILE:LINE:COL), bad flags (exit 2
 * naming the flag), and a small scenario over several seeds in parallel
 * worker processes (exit 0, one PASS row per seed, the same rows whatever
 * --jobs is). And a failure as a user meets it: a negative control fails,
 * leaves its pcap and trace, prints a reproduce line, and that very line,
 * run again, fails the same way and writes the same pcap byte for byte.
 *
 * Runs from the repository root (tests/run-tests.sh), or from BT_SRCDIR.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/files.h"
#include "tests/support/run_cmd.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GOOD "tests/scenario-good/echo-1conn.scn"

/* The table rows of `out` for scenario `name`, without the wall-clock
 * column (the only one that may differ between two runs). */
static int rows_of(const char *out, const char *name, char rows[][256], int max)
{
	int n = 0;
	for (const char *l = out; *l && n < max;) {
		size_t len = strcspn(l, "\n");
		char line[512];
		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), l);
		char scn[128], seed[32], result[16], bytes[32], vms[32];
		if (sscanf(line, "%127s %31s %15s %31s %31s", scn, seed, result, bytes, vms) == 5 && !strcmp(scn, name))
			snprintf(rows[n++], 256, "%s %s %s %s %s", scn, seed, result, bytes, vms);
		l += len;
		if (*l)
			l++;
	}
	return n;
}

static void test_help(void **state)
{
	(void)state;
	char out[16384];
	assert_int_equal(test_run_bluetas("--help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "run "));
	assert_int_equal(test_run_bluetas("help run", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "usage: bluetas run FILE..."));
	assert_int_equal(test_run_bluetas("run --help", out, sizeof(out)), 0);
	static const char *const flags[] = {"--backend", "--seed ", "--seeds", "--jobs", "--pcap",
					    "--trace",   "--quiet", "--bug",   "rx-first-segment",
					    "wakeup-no-timeout", "write-without-credits", "Exit status"};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strstr(out, flags[i]))
			fail_msg("run --help does not mention %s:\n%s", flags[i], out);
}

static void test_malformed_file_exits_2_with_its_position(void **state)
{
	(void)state;
	test_expect_bluetas("run tests/scenario-bad/size-unknown-unit.scn", 2,
		    "tests/scenario-bad/size-unknown-unit.scn:4:29: error: unknown unit 'kb' in 'msg=4kb' "
		    "(expected a size like 4096, 4K, 1M)", NULL);
	/* Every file is checked before anything runs: a good file next to a
	 * bad one is not run, and every bad file is reported. */
	char out[16384];
	assert_int_equal(test_run_bluetas("run " GOOD " tests/scenario-bad/unknown-host.scn tests/scenario-bad/key-twice.scn",
			     out, sizeof(out)),
			 2);
	assert_non_null(strstr(out, "tests/scenario-bad/unknown-host.scn:3:12: error: "));
	assert_non_null(strstr(out, "tests/scenario-bad/key-twice.scn:4:35: error: "));
	assert_null(strstr(out, "PASS"));
	assert_null(strstr(out, "passed"));
	test_expect_bluetas("run /nonexistent/x.scn", 2, "/nonexistent/x.scn:0:0: error: cannot open", NULL);
}

static void test_bad_flags_exit_2_naming_the_flag(void **state)
{
	(void)state;
	test_expect_bluetas("run --frobnicate " GOOD, 2, "--frobnicate", NULL);
	test_expect_bluetas("run", 2, "no scenario file", NULL);
	test_expect_bluetas("run --seeds 5..1 " GOOD, 2, "--seeds 5..1", NULL);
	test_expect_bluetas("run --seeds 5 " GOOD, 2, "--seeds", NULL);
	test_expect_bluetas("run --seeds 1..x " GOOD, 2, "--seeds", NULL);
	test_expect_bluetas("run --seed x " GOOD, 2, "--seed", NULL);
	test_expect_bluetas("run --seed 1 --seeds 1..2 " GOOD, 2, "--seed and --seeds", NULL);
	test_expect_bluetas("run --jobs 0 " GOOD, 2, "--jobs", NULL);
	test_expect_bluetas("run --jobs 1000 " GOOD, 2, "--jobs", NULL);
	test_expect_bluetas("run --backend dpdk " GOOD, 2, "--backend", NULL);
	test_expect_bluetas("run --bug everything " GOOD, 2, "--bug", NULL);
	test_expect_bluetas("run --trace /tmp/x.trace --seeds 1..2 " GOOD, 2, "--trace", NULL);
	test_expect_bluetas("run " GOOD " --seed", 2, "--seed", NULL);
	test_expect_bluetas("run " GOOD " " GOOD, 2, "both declare scenario 'echo-1conn'", NULL);
}

static void test_seeds_in_parallel_workers_all_pass(void **state)
{
	(void)state;
	char out[16384], dir[64], args[256];
	snprintf(dir, sizeof(dir), "/tmp/bt_run_failures_%d", (int)getpid());
	snprintf(args, sizeof(args), "run " GOOD " --seeds 1..3 --jobs 2 --pcap %s", dir);
	int rc = test_run_bluetas(args, out, sizeof(out));
	if (rc != 0)
		fail_msg("exit %d:\n%s", rc, out);
	char rows[8][256];
	int n = rows_of(out, "echo-1conn", rows, 8);
	if (n != 3)
		fail_msg("expected 3 rows, got %d:\n%s", n, out);
	for (int i = 0; i < 3; i++) {
		char want[32];
		snprintf(want, sizeof(want), "echo-1conn %d PASS ", i + 1);
		if (strncmp(rows[i], want, strlen(want)))
			fail_msg("row %d is '%s', expected '%s...' (rows in seed order)", i, rows[i], want);
	}
	assert_non_null(strstr(out, "3 passed, 0 failed (1 scenario x 3 seeds)"));
	/* Nothing failed, so nothing was recorded. */
	struct stat st;
	assert_int_equal(stat(dir, &st), -1);
}

static void test_jobs_do_not_change_the_results(void **state)
{
	(void)state;
	char one[16384], four[16384];
	assert_int_equal(test_run_bluetas("run " GOOD " --seeds 1..4 --jobs 1", one, sizeof(one)), 0);
	assert_int_equal(test_run_bluetas("run " GOOD " --seeds 1..4 --jobs 4", four, sizeof(four)), 0);
	char a[8][256], b[8][256];
	assert_int_equal(rows_of(one, "echo-1conn", a, 8), 4);
	assert_int_equal(rows_of(four, "echo-1conn", b, 8), 4);
	for (int i = 0; i < 4; i++)
		if (strcmp(a[i], b[i]))
			fail_msg("row %d differs: --jobs 1 '%s', --jobs 4 '%s'", i, a[i], b[i]);
}

static void test_quiet_prints_only_the_summary_when_all_pass(void **state)
{
	(void)state;
	char out[16384];
	assert_int_equal(test_run_bluetas("run " GOOD " --seeds 1..2 --quiet", out, sizeof(out)), 0);
	assert_string_equal(out, "2 passed, 0 failed (1 scenario x 2 seeds)\n");
}

static void test_trace_of_a_single_run(void **state)
{
	(void)state;
	char out[16384], path[64], args[256];
	snprintf(path, sizeof(path), "/tmp/bt_run_%d.trace", (int)getpid());
	snprintf(args, sizeof(args), "run " GOOD " --seed 5 --trace %s", path);
	assert_int_equal(test_run_bluetas(args, out, sizeof(out)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 0);
	unlink(path);
}

static void test_reproduce_line_reproduces_the_failure_byte_for_byte(void **state)
{
	(void)state;
	char first[64], again[64], args[512], out[16384], out2[16384];
	snprintf(first, sizeof(first), "/tmp/bt_repro1_%d", (int)getpid());
	snprintf(again, sizeof(again), "/tmp/bt_repro2_%d", (int)getpid());
	snprintf(args, sizeof(args), "run scenarios/multiseg_rx_mss1448.scn --seeds 3..4 --bug rx-first-segment --pcap %s",
		 first);
	assert_int_equal(test_run_bluetas(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "data mismatch"));
	/* Take the printed reproduce line for seed 4 and run it as printed,
	 * only with another artifact directory. */
	const char *line = strstr(out, "reproduce: ");
	const char *end = line ? strchr(line, '\n') : NULL;
	while (line && end) {
		char one[512];
		snprintf(one, sizeof(one), "%.*s", (int)(end - line), line);
		if (strstr(one, "--seed 4 "))
			break;
		line = strstr(end, "reproduce: ");
		end = line ? strchr(line, '\n') : NULL;
	}
	assert_non_null(line);
	assert_non_null(end);
	line += strlen("reproduce: ");
	const char *sp = strchr(line, ' '); /* after the binary */
	assert_non_null(sp);
	char repro[512];
	snprintf(repro, sizeof(repro), "%.*s", (int)(end - sp - 1), sp + 1);
	char *dir = strstr(repro, first);
	assert_non_null(dir); /* it names the artifact directory */
	memcpy(dir, again, strlen(again)); /* same length by construction */
	assert_int_equal(test_run_bluetas(repro, out2, sizeof(out2)), 1);
	assert_non_null(strstr(out2, "data mismatch"));
	char pa[128], pb[128];
	snprintf(pa, sizeof(pa), "%s/multiseg_rx_mss1448-seed4.pcap", first);
	snprintf(pb, sizeof(pb), "%s/multiseg_rx_mss1448-seed4.pcap", again);
	size_t la, lb;
	char *da = test_read_file(pa, &la), *db = test_read_file(pb, &lb);
	assert_non_null(da);
	assert_non_null(db);
	assert_true(la > 10000);
	assert_int_equal(la, lb);
	assert_memory_equal(da, db, la);
	struct stat st;
	snprintf(pa, sizeof(pa), "%s/multiseg_rx_mss1448-seed4.trace", first);
	assert_int_equal(stat(pa, &st), 0);
	free(da);
	free(db);
	snprintf(args, sizeof(args), "rm -rf %s %s", first, again);
	assert_int_equal(system(args), 0);
}

static int setup(void **state)
{
	(void)state;
	test_bluetas_bin(); /* resolves the binary, then moves to BT_SRCDIR */
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_malformed_file_exits_2_with_its_position),
		cmocka_unit_test(test_bad_flags_exit_2_naming_the_flag),
		cmocka_unit_test(test_seeds_in_parallel_workers_all_pass),
		cmocka_unit_test(test_jobs_do_not_change_the_results),
		cmocka_unit_test(test_quiet_prints_only_the_summary_when_all_pass),
		cmocka_unit_test(test_trace_of_a_single_run),
		cmocka_unit_test(test_reproduce_line_reproduces_the_failure_byte_for_byte),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
