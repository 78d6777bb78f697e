/*
 * chan_signal.c: the SA_RESTART decision for an interrupted channel wait
 * (chan_signal.h).
 */
#include "transports/chan_signal.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <unistd.h>

/* Thread-local: a handler runs on the thread it interrupted, and it is
 * that thread's sleep the note is about. initial-exec: no lazy TLS
 * allocation (malloc) inside a signal handler. */
static __thread uint64_t signals_ran __attribute__((tls_model("initial-exec")));

/* The sleep this thread is about to enter (chan_signal_sleep_begin). */
static __thread uint32_t *sleep_word __attribute__((tls_model("initial-exec")));
static __thread int sleep_fd_plus1 __attribute__((tls_model("initial-exec"))); /* 0: none */

void chan_signal_note(int signo)
{
	if (signo < 1 || signo > 64)
		return;
	/* The note first: whoever sees the word change or the fd wake looks
	 * for it next. */
	__atomic_or_fetch(&signals_ran, 1ull << (signo - 1), __ATOMIC_SEQ_CST);
	uint32_t *word = sleep_word;
	if (word)
		__atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
	int fd = sleep_fd_plus1 - 1;
	if (fd >= 0) {
		uint64_t one = 1;
		int saved = errno; /* a handler must leave errno as it found it */
		/* Non-blocking eventfd: a full counter (never, in practice)
		 * fails with EAGAIN and the fd is readable anyway. */
		if (write(fd, &one, sizeof(one)) < 0)
			(void)0;
		errno = saved;
	}
}

void chan_signal_sleep_begin(uint32_t *futex_word, int event_fd)
{
	sleep_word = futex_word;
	sleep_fd_plus1 = event_fd + 1;
	/* The registration before the caller's last look at the note: a
	 * handler either runs before the look (seen there) or after these
	 * stores (wakes the sleep). A compiler barrier suffices: the handler
	 * runs on this thread. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void chan_signal_sleep_end(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	sleep_word = NULL;
	sleep_fd_plus1 = 0;
}

bool chan_signal_pending(void)
{
	return __atomic_load_n(&signals_ran, __ATOMIC_SEQ_CST) != 0;
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
