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

static const char *bin(void)
{
	const char *b = getenv("BLUETAS_BIN");
	return b ? b : "build/bluetas";
}

/* Runs the CLI with `args`, returns its exit status, output in out. */
static int run(const char *args, char *out, size_t cap)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", bin(), args);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void expect_usage_error(const char *args, const char *must_mention)
{
	char out[8192];
	int rc = run(args, out, sizeof(out));
	if (rc != 2 || !strstr(out, must_mention))
		fail_msg("`bluetas %s`: exit %d, output:\n%s\n(expected exit 2 mentioning '%s')", args, rc, out,
			 must_mention);
}

static void test_help_lists_commands_and_options(void **state)
{
	(void)state;
	char out[8192];
	assert_int_equal(run("--help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "sim"));
	assert_int_equal(run("sim --help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "--msg-bytes"));
	assert_non_null(strstr(out, "--pcap"));
	assert_non_null(strstr(out, "--seed"));
}

static void test_default_run_prints_a_passing_table(void **state)
{
	(void)state;
	char out[8192];
	assert_int_equal(run("sim", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "bytes_echoed"));
	assert_non_null(strstr(out, "PASS"));
}

static void test_bad_flags_exit_2_naming_the_flag(void **state)
{
	(void)state;
	expect_usage_error("", "usage");
	expect_usage_error("frobnicate", "unknown command 'frobnicate'");
	expect_usage_error("sim --bogus", "--bogus");
	expect_usage_error("sim --msg-bytes", "--msg-bytes");
	expect_usage_error("sim --msg-bytes abc", "--msg-bytes");
	expect_usage_error("sim --msg-bytes 0", "--msg-bytes");
	expect_usage_error("sim --msg-bytes -5", "--msg-bytes");
	expect_usage_error("sim --msg-bytes 10X", "--msg-bytes");
	expect_usage_error("sim --conns 0", "--conns");
	expect_usage_error("sim --conns 99999999999999999999999", "--conns");
	expect_usage_error("sim --mss 20", "--mss");
	expect_usage_error("sim --mss 100000", "--mss");
	expect_usage_error("sim --seed x", "--seed");
	expect_usage_error("sim --ring-bytes 10", "--ring-bytes");
	expect_usage_error("sim stray", "stray");
}

static void test_unwritable_pcap_is_a_clear_error(void **state)
{
	(void)state;
	char out[8192];
	int rc = run("sim --pcap /nonexistent-dir/x.pcap", out, sizeof(out));
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "/nonexistent-dir/x.pcap"));
}

static void test_pcap_is_readable_and_matches_the_run(void **state)
{
	(void)state;
	char path[64], args[160], out[8192];
	snprintf(path, sizeof(path), "/tmp/bt_cli_%d.pcap", (int)getpid());
	snprintf(args, sizeof(args), "sim --msg-bytes 3000 --messages 4 --pcap %s", path);
	assert_int_equal(run(args, out, sizeof(out)), 0);
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
