/*
 * test_observe.c: what a person looks at after a run. A run's timeline as
 * Chrome trace event JSON that Perfetto opens (checked by a parser of the
 * format, tests/e2e/check_trace_events.py, which itself must reject
 * broken files); a plot of its connections; a failing run in a campaign
 * gets both next to its pcap; a passing run's pcap on request; the wire
 * and fault counters in the text trace.
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECKER "python3 tests/e2e/check_trace_events.py"

static char out[65536];
static char dir[] = "/tmp/bt-observe-XXXXXX";

static void expect_exit(const char *args, int want, const char *must)
{
	int rc = test_run_bluetas(args, out, sizeof(out));
	if (rc != want || (must && !strstr(out, must)))
		fail_msg("`bluetas %s`: exit %d, output:\n%s\n(expected exit %d%s%s)", args, rc, out, want,
			 must ? ", mentioning " : "", must ? must : "");
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The file starts with these bytes (a PNG signature, a pcap magic). */
static void expect_magic(const char *path, const void *magic, size_t n)
{
	size_t len = 0;
	char *b = test_read_file(path, &len);
	if (!b || len < n || memcmp(b, magic, n) != 0)
		fail_msg("%s: missing, or not the expected format (%zu bytes)", path, len);
	free(b);
}

static void checker_rejects_broken_traces(void **state)
{
	(void)state;
	/* the parser must be able to fail, or its verdicts mean nothing */
	static const char *const broken[] = {
		"{\"traceEvents\":[{\"ph\":\"B\",\"pid\":1,\"tid\":1,\"ts\":1,\"name\":\"X\"}]}",      /* never ended */
		"{\"traceEvents\":[{\"ph\":\"E\",\"pid\":1,\"tid\":1,\"ts\":1}]}",                     /* no B */
		"{\"traceEvents\":[{\"ph\":\"C\",\"pid\":1,\"ts\":-1,\"name\":\"c\",\"args\":{\"a\":1}}]}", /* ts < 0 */
		"{\"traceEvents\":[{\"pid\":1,\"ts\":1}]}",                                            /* no ph */
		"{\"traceEvents\":[{\"ph\":\"C\",\"pid\":\"1\",\"ts\":1,\"args\":{\"a\":1}}]}",        /* pid string */
		"{\"traceEvents\":[{\"ph\":\"B\",\"pid\":1,\"tid\":1,\"ts\":5,\"name\":\"X\"},"
		"{\"ph\":\"E\",\"pid\":1,\"tid\":1,\"ts\":4}]}",                                       /* E before B */
		"{\"traceEvents\":[",                                                                  /* truncated */
	};
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/broken%zu.json", dir, i);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(broken[i], f);
		assert_int_equal(fclose(f), 0);
		if (sh(CHECKER " %s >/dev/null", path) != 1)
			fail_msg("the checker accepted %s", broken[i]);
	}
}

static void perfetto_trace_of_a_run_is_valid(void **state)
{
	(void)state;
	char args[512];
	snprintf(args, sizeof(args), "run scenarios/handshake_loss.scn --seed 3 --perfetto %s/run.json", dir);
	expect_exit(args, 0, "perfetto: ");
	/* per connection its state slices and counters, per NIC its
	 * segments, per app its calls, per channel its operations */
	if (sh(CHECKER " %s/run.json --expect ESTABLISHED --expect 'conn 0' --expect segments --expect calls "
		       "--expect channel --expect thread_name",
	       dir) != 0)
		fail_msg("the trace of a passing run is not valid trace event JSON (see above)");
	if (access("/dev/full", W_OK) == 0)
		expect_exit("run scenarios/handshake_loss.scn --perfetto /dev/full", 1, "perfetto: cannot write /dev/full");
}

static void failing_run_gets_trace_and_plot_next_to_its_pcap(void **state)
{
	(void)state;
	char args[512], p[256];
	snprintf(args, sizeof(args), "run scenarios/multiseg_rx_mss536.scn --bug rx-first-segment --pcap %s/fail", dir);
	expect_exit(args, 1, "perfetto:");
	snprintf(p, sizeof(p), "%s/fail/multiseg_rx_mss536-seed1.perfetto.json", dir);
	if (sh(CHECKER " %s --expect ESTABLISHED", p) != 0)
		fail_msg("%s is not valid trace event JSON", p);
	snprintf(p, sizeof(p), "%s/fail/multiseg_rx_mss536-seed1.png", dir);
	expect_magic(p, "\x89PNG\r\n\x1a\n", 8);
	if (!strstr(out, p))
		fail_msg("the failure report does not name its plot %s:\n%s", p, out);
	snprintf(p, sizeof(p), "%s/fail/multiseg_rx_mss536-seed1.series.tsv", dir);
	assert_int_not_equal(access(p, F_OK), 0); /* the plot's data is not left behind */
}

static void plot_command_writes_png_and_svg(void **state)
{
	(void)state;
	char args[512], p[256];
	snprintf(args, sizeof(args), "plot scenarios/channel_faults.scn --seed 2 -o %s/cf.png", dir);
	expect_exit(args, 0, "plot: ");
	snprintf(p, sizeof(p), "%s/cf.png", dir);
	expect_magic(p, "\x89PNG\r\n\x1a\n", 8);
	snprintf(args, sizeof(args), "plot scenarios/channel_faults.scn -o %s/cf.svg", dir);
	expect_exit(args, 0, "plot: ");
	snprintf(p, sizeof(p), "%s/cf.svg", dir);
	expect_magic(p, "<?xml", 5);
	expect_exit("plot scenarios/channel_faults.scn -o x.gif", 1, "must end in .png or .svg");
	expect_exit("plot scenarios/channel_faults.scn", 2, "-o OUT.png");
}

static void passing_run_pcap_on_request(void **state)
{
	(void)state;
	char args[512], p[256];
	snprintf(args, sizeof(args), "run tests/scenario-good/echo-1conn.scn --pcap-all %s/pass.pcap", dir);
	expect_exit(args, 0, "PASS");
	snprintf(p, sizeof(p), "%s/pass.pcap", dir);
	/* nanosecond pcap, little-endian magic */
	expect_magic(p, "\x4d\x3c\xb2\xa1", 4);
	size_t len = 0;
	char *b = test_read_file(p, &len);
	free(b);
	assert_true(len > 24 + 10 * 60); /* more than a header: the run's frames */
	expect_exit("run tests/scenario-good/echo-1conn.scn --seeds 1..2 --pcap-all x.pcap", 2, "needs a single run");
}

static void text_trace_has_wire_and_fault_counters(void **state)
{
	(void)state;
	char args[512], p[256];
	snprintf(p, sizeof(p), "%s/hl.trace", dir);
	snprintf(args, sizeof(args), "run scenarios/handshake_loss.scn --trace %s", p);
	expect_exit(args, 0, "PASS");
	size_t len = 0;
	char *t = test_read_file(p, &len);
	assert_non_null(t);
	unsigned long long lost = 0, frames = 0;
	const char *l = strstr(t, "client.faults.lost = ");
	const char *w = strstr(t, "wire.to_server.frames = ");
	if (!l || !w || sscanf(l, "client.faults.lost = %llu", &lost) != 1 ||
	    sscanf(w, "wire.to_server.frames = %llu", &frames) != 1)
		fail_msg("%s lacks the faults.* and wire.* counters", p);
	/* the script loses 5% of frames: some were lost, many carried */
	assert_true(lost > 0);
	assert_true(frames > lost);
	assert_non_null(strstr(t, "server.faults.duplicated = "));
	assert_non_null(strstr(t, "wire.to_client.dropped_queue = "));
	free(t);
}

int main(void)
{
	test_bluetas_bin();
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(checker_rejects_broken_traces),
		cmocka_unit_test(perfetto_trace_of_a_run_is_valid),
		cmocka_unit_test(failing_run_gets_trace_and_plot_next_to_its_pcap),
		cmocka_unit_test(plot_command_writes_png_and_svg),
		cmocka_unit_test(passing_run_pcap_on_request),
		cmocka_unit_test(text_trace_has_wire_and_fault_counters),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	sh("rm -rf '%s'", dir);
	return rc;
}
