#define _POSIX_C_SOURCE 200809L
#include "rt.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../../transports/chan_stats.h"
#include "../../transports/channel.h"
#include "../../transports/ipc/ipc_chan.h"
#include "../../transports/verbs/verbs_chan.h"

/* A signal handler can only leave a mark; this is that mark (the CLI's,
 * never the stack's: core/ has no globals). */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

void rt_catch_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

const char *rt_stop_reason(void)
{
	if (!stop_signal)
		return NULL;
	return stop_signal == SIGINT ? "SIGINT" : "SIGTERM";
}

void rt_chan_stats_add(const struct chan *ch, struct chan_stats *out)
{
	struct verbs_chan_stats v;
	struct ipc_chan_stats i;
	if (!ch)
		return;
	if (verbs_chan_stats(ch, &v) == 0) {
		/* verbs counts operations and messages, not bytes */
		out->reads += v.reads;
		out->writes += v.writes;
		out->msgs += v.msgs_sent;
		if (v.broken == CHAN_EACCESS)
			out->access_errors++;
	} else if (ipc_chan_stats(ch, &i) == 0) {
		out->reads += i.reads;
		out->writes += i.writes;
		out->msgs += i.msgs_sent;
		out->bytes_read += i.bytes_read;
		out->bytes_written += i.bytes_written;
		out->access_errors += i.access_errors;
	}
}

void rt_stat_line(const char *prefix, const char *field, uint64_t value)
{
	printf("stat.%s.%s=%" PRIu64 "\n", prefix, field, value);
}
