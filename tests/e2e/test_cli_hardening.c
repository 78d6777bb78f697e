/*
 * test_cli_hardening.c: the CLI as a hostile or careless user meets it.
 * Numbers are digits only (the shared parser once took " -1" as 2^64-1);
 * a pcap or trace that cannot be written is an error, never a path printed
 * as written; an unwritable --trace is a usage error, not a failed
 * scenario re-run as "did not reproduce"; a run ended by its time limit
 * says so.
 *
 * Runs from the repository root (tests/run-tests.sh), or from BT_SRCDIR.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/run_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GOOD "tests/scenario-good/echo-1conn.scn"

static void numbers_are_digits_only(void **state)
{
	(void)state;
	test_expect_bluetas("sim --seed ' -1'", 2, "--seed: expected a non-negative number, got ' -1'", NULL);
	test_expect_bluetas("sim --seed '+1'", 2, "--seed: expected a non-negative number", NULL);
	test_expect_bluetas("sim --seed ' 5'", 2, "--seed: expected a non-negative number", NULL);
	test_expect_bluetas("sim --messages '-0'", 2, "--messages: expected a non-negative number", NULL);
	test_expect_bluetas("run " GOOD " --seeds ' 1..2'", 2, "--seeds", NULL);
	test_expect_bluetas("run " GOOD " --seeds '1..+2'", 2, "--seeds", NULL);
	test_expect_bluetas("run " GOOD " --jobs ' 2'", 2, "--jobs", NULL);
	/* and plain digits still work, with a suffix */
	test_expect_bluetas("sim --seed 18446744073709551615 --messages 1 --msg-bytes 1K", 0, "PASS", NULL);
}

/* --netmask takes what --ip A.B.C.D/LEN takes: 0.0.0.0 is /0, refused by
 * both. (--app source without --connect is refused later in parsing: it
 * stands for everything after the options, so nothing starts DPDK.) */
static void netmask_and_prefix_agree(void **state)
{
	(void)state;
	test_expect_bluetas("nic --ip 10.77.0.2/0 --app source", 2, "--ip prefix length", NULL);
	test_expect_bluetas("nic --ip 10.77.0.2 --netmask 0.0.0.0 --app source", 2, "--netmask: '0.0.0.0' is not", NULL);
	test_expect_bluetas("nic --ip 10.77.0.2 --netmask 255.0.255.0 --app source", 2, "--netmask", NULL);
	/* a good mask gets past it, to the next complaint */
	test_expect_bluetas("nic --ip 10.77.0.2 --netmask 128.0.0.0 --app source", 2, "--connect", NULL);
}

static void pcap_write_error_is_reported(void **state)
{
	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	test_expect_bluetas("sim --messages 2 --pcap /dev/full", 1, "pcap: cannot write /dev/full: No space left on device",
		    "pcap: /dev/full\n");
}

static void trace_write_error_is_reported(void **state)
{
	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	const char *out = test_expect_bluetas("run " GOOD " --trace /dev/full", 1, "trace: cannot write /dev/full: No space left on device",
		    "trace: /dev/full\n");
	/* the run itself passed: its row says so, no failure was recorded */
	if (!strstr(out, "PASS") || strstr(out, "FAIL"))
		fail_msg("the run's own verdict should stand:\n%s", out);
}

static void unwritable_trace_is_a_usage_error(void **state)
{
	(void)state;
	const char *out = test_expect_bluetas("run " GOOD " --trace /nonexistent-bt-dir/x.trace", 2,
		    "--trace: cannot write /nonexistent-bt-dir/x.trace: No such file or directory", "did not reproduce");
	if (strstr(out, "FAIL") || strstr(out, "reproduce"))
		fail_msg("nothing should have run:\n%s", out);
}

static void time_limit_is_named(void **state)
{
	(void)state;
	char dir[] = "/tmp/bt-hardening-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], args[512];
	snprintf(path, sizeof(path), "%s/tl.scn", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("scenario tl\nset time_limit 1ms\napp srv on server echo-server\n"
	      "app cli on client echo to=srv conns=1 msg=1M messages=40\nexpect intact\n",
	      f);
	assert_int_equal(fclose(f), 0);
	snprintf(args, sizeof(args), "run %s --pcap %s/fail", path, dir);
	test_expect_bluetas(args, 1, "of 40 messages; stopped by the time limit of 1.000 ms", NULL);
	snprintf(args, sizeof(args), "rm -rf '%s'", dir);
	assert_int_equal(system(args), 0);
}

int main(void)
{
	test_bluetas_bin();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers_are_digits_only),
		cmocka_unit_test(netmask_and_prefix_agree),
		cmocka_unit_test(pcap_write_error_is_reported),
		cmocka_unit_test(trace_write_error_is_reported),
		cmocka_unit_test(unwritable_trace_is_a_usage_error),
		cmocka_unit_test(time_limit_is_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
