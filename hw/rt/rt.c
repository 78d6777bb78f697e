#define _POSIX_C_SOURCE 200809L
#include "rt.h"

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
