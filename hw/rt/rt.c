#define _POSIX_C_SOURCE 200809L
#include "rt.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* A signal handler can only leave a mark; this is that mark (the CLI's,
 * never the stack's: core/ has no globals). */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

void cli_rt_catch_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

const char *cli_rt_stop_reason(void)
{
	if (!stop_signal)
		return NULL;
	return stop_signal == SIGINT ? "SIGINT" : "SIGTERM";
}

void cli_rt_print_bulk(const char *app, const struct bulk_result *r)
{
	char hex[SHA256_HEX_BYTES];
	sha256_hex(r->sha256, hex);
	uint64_t from = r->first_byte_ns ? r->first_byte_ns : r->start_ns;
	double secs = from && r->end_ns > from ? (double)(r->end_ns - from) / 1e9 : 0.0;
	double mbps = secs > 0 ? (double)r->bytes * 8 / secs / 1e6 : 0.0;
	printf("%s conn=%d bytes=%" PRIu64 " sha256=%s secs=%.6f mbit_per_s=%.1f result=%s", app, r->conn, r->bytes, hex,
	       secs, mbps, r->err ? "error" : "ok");
	if (r->err)
		printf(" err=%d (%s)", r->err, bt_strerror(r->err));
	printf("\n");
	fflush(stdout);
}
