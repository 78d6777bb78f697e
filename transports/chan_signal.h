/*
 * chan_signal.h: whether a blocking call whose channel wait a signal
 * handler interrupted goes on or returns EINTR -- the one place that
 * decides it, for every backend.
 *
 * Why not leave it to the kernel: the backends sleep in syscalls with a
 * timeout (ipc: FUTEX_WAIT with one; verbs: ppoll), and Linux never
 * restarts those after a handler, whatever SA_RESTART says (a timed
 * FUTEX_WAIT returns -ERESTART_RESTARTBLOCK, which becomes EINTR once a
 * handler ran; ppoll is never restarted: signal(7)). Both backends
 * therefore report every interrupted sleep as CHAN_EINTR (channel.h,
 * wait), and the caller asks here what the kernel would have done with a
 * blocking socket call: restart it when every handler that ran has
 * SA_RESTART (signal(7)).
 *
 * Which handlers ran: the caller's own signal-handler wrapper calls
 * chan_signal_note(signo) from each handler (the preload library wraps
 * every handler a program installs, hw/preload/pl_signal.c). A sleep that
 * ended without a noted handler (one installed behind the wrapper's back,
 * by a raw rt_sigaction syscall) returns EINTR: the old behaviour, never a
 * call that sleeps on through a handler that asked to interrupt it.
 */
#ifndef BT_CHAN_SIGNAL_H
#define BT_CHAN_SIGNAL_H

#include <stdbool.h>
#include <stdint.h>

/* A handler for signal `signo` (1..64) runs on this thread. Async-signal-
 * safe: one store to a thread-local word. */
void chan_signal_note(int signo);

/* The signals noted on this thread since the last take (bit signo-1), and
 * forget them. Call at the start of a blocking call (handlers that ran
 * before it do not interrupt it) and after each of its sleeps. */
uint64_t chan_signal_take(void);

/* Whether a handler was noted on this thread since the last take (a look
 * that forgets nothing). A blocking call asks it before each sleep and
 * does not sleep when it is true: the kernel's call would have been
 * asleep when the handler ran, and returned EINTR or restarted. */
bool chan_signal_pending(void);

/* The window between a sleep's last look at chan_signal_pending and the
 * sleep itself: a handler that runs in it would otherwise be seen only
 * when the sleep ends (its timeout, up to 200 ms in the preload). Between
 * begin and end, a handler noted on this thread also adds 1 to
 * `futex_word` (when not NULL: a FUTEX_WAIT that compares it then returns
 * at once) and writes 1 to the eventfd `event_fd` (when >= 0: a poll or
 * epoll watching it wakes). Order: begin, read the futex value to compare
 * (if any), chan_signal_pending, sleep, end. Both are async-signal-safe
 * from the handler's side; one sleep per thread at a time (no nesting). */
void chan_signal_sleep_begin(uint32_t *futex_word, int event_fd);
void chan_signal_sleep_end(void);

/* Whether a blocking call interrupted by the handlers of `ran` (a take's
 * result) goes on: true when `ran` is not empty and every one of those
 * signals has SA_RESTART now (sigaction(2), read at the time of asking:
 * siginterrupt(3) and Python's signal.siginterrupt change it in place).
 * `has_timeout`: the call has a timeout of its own (SO_RCVTIMEO,
 * SO_SNDTIMEO), which Linux never restarts (signal(7), "socket
 * interfaces"); then false. */
bool chan_signal_restarts(uint64_t ran, bool has_timeout);

#endif
