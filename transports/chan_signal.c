/*
 * chan_signal.c: the SA_RESTART decision for an interrupted channel wait
 * (chan_signal.h).
 */
#include "transports/chan_signal.h"

#include <signal.h>
#include <stddef.h>

/* Thread-local: a handler runs on the thread it interrupted, and it is
 * that thread's sleep the note is about. initial-exec: no lazy TLS
 * allocation (malloc) inside a signal handler. */
static __thread uint64_t signals_ran __attribute__((tls_model("initial-exec")));

void chan_signal_note(int signo)
{
	if (signo >= 1 && signo <= 64)
		signals_ran |= 1ull << (signo - 1);
}

uint64_t chan_signal_take(void)
{
	/* A handler may run between the load and the store: block nothing,
	 * but swap atomically with respect to this thread's handlers. */
	return __atomic_exchange_n(&signals_ran, 0, __ATOMIC_RELAXED);
}

bool chan_signal_restarts(uint64_t ran, bool has_timeout)
{
	if (has_timeout || ran == 0)
		return false;
	for (int signo = 1; signo <= 64; signo++) {
		if (!(ran & (1ull << (signo - 1))))
			continue;
		struct sigaction now;
		if (sigaction(signo, NULL, &now) != 0 || !(now.sa_flags & SA_RESTART))
			return false;
	}
	return true;
}
