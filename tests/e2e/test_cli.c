/*
 * test_cli.c: build/bluetas as a user meets it: help, a passing run, a
 * pcap that libpcap reads back, and every kind of bad flag answered with
 * a message naming it and exit status 2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/run_cmd.h"

static void test_help_lists_commands_and_options(void **state)
{
	(void)state;
	char out[8192];
	assert_int_equal(test_run_bluetas("--help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "sim"));
	assert_int_equal(test_run_bluetas("sim --help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "--msg-bytes"));
	assert_non_null(strstr(out, "--pcap"));
	assert_non_null(strstr(out, "--seed"));
}

static void test_default_run_prints_a_passing_table(void **state)
{
	(void)state;
	char out[8192];
	assert_int_equal(test_run_bluetas("sim", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "bytes_echoed"));
	assert_non_null(strstr(out, "PASS"));
}

static void test_bad_flags_exit_2_naming_the_flag(void **state)
{
	(void)state;
	test_expect_bluetas("", 2, "usage", NULL);
	test_expect_bluetas("frobnicate", 2, "unknown command 'frobnicate'", NULL);
	test_expect_bluetas("sim --bogus", 2, "--bogus", NULL);
	test_expect_bluetas("sim --msg-bytes", 2, "--msg-bytes", NULL);
	test_expect_bluetas("sim --msg-bytes abc", 2, "--msg-bytes", NULL);
	test_expect_bluetas("sim --msg-bytes 0", 2, "--msg-bytes", NULL);
	test_expect_bluetas("sim --msg-bytes -5", 2, "--msg-bytes", NULL);
	test_expect_bluetas("sim --msg-bytes 10X", 2, "--msg-bytes", NULL);
	test_expect_bluetas("sim --conns 0", 2, "--conns", NULL);
	test_expect_bluetas("sim --conns 99999999999999999999999", 2, "--conns", NULL);
	test_expect_bluetas("sim --mss 20", 2, "--mss", NULL);
	test_expect_bluetas("sim --mss 100000", 2, "--mss", NULL);
	test_expect_bluetas("sim --seed x", 2, "--seed", NULL);
	test_expect_bluetas("sim --ring-bytes 10", 2, "--ring-bytes", NULL);
	test_expect_bluetas("sim stray", 2, "stray", NULL);
}

static void test_unwritable_pcap_is_a_clear_error(void **state)
{
	(void)state;
	char out[8192];
	int rc = test_run_bluetas("sim --pcap /nonexistent-dir/x.pcap", out, sizeof(out));
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "/nonexistent-dir/x.pcap"));
}

static void test_pcap_is_readable_and_matches_the_run(void **state)
{
	(void)state;
	char path[64], args[160], out[8192];
	snprintf(path, sizeof(path), "/tmp/bt_cli_%d.pcap", (int)getpid());
	snprintf(args, sizeof(args), "sim --msg-bytes 3000 --messages 4 --pcap %s", path);
	assert_int_equal(test_run_bluetas(args, out, sizeof(out)), 0);
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	assert_non_null(p);
	assert_int_equal(pcap_datalink(p), DLT_EN10MB);
	struct pcap_pkthdr *hdr;
	const u_char *data;
	int frames = 0, tcp = 0;
	while (pcap_next_ex(p, &hdr, &data) == 1) {
		frames++;
		if (hdr->caplen >= 34 && data[12] == 0x08 && data[13] == 0x00 && data[23] == 6)
			tcp++;
	}
	pcap_close(p);
	unlink(path);
	/* Handshake, 4 x 3000 B each way, ACKs, FINs: at least 20 frames. */
	assert_true(frames >= 20);
	assert_true(tcp >= frames - 4); /* ARP aside, it is all TCP */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_lists_commands_and_options),
		cmocka_unit_test(test_default_run_prints_a_passing_table),
		cmocka_unit_test(test_bad_flags_exit_2_naming_the_flag),
		cmocka_unit_test(test_unwritable_pcap_is_a_clear_error),
		cmocka_unit_test(test_pcap_is_readable_and_matches_the_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
