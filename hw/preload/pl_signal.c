/*
 * pl_signal.c: a wrapper in front of every signal handler the program
 * installs, so that a blocking call on a stack socket knows which
 * handlers ran while it slept and can decide, as the kernel does, whether
 * to go on (SA_RESTART) or return EINTR (transports/chan_signal.h;
 * docs/sockets.md, "Signals").
 *
 * sigaction, signal, bsd_signal, sysv_signal and siginterrupt are
 * intercepted. A handler (not SIG_DFL, not SIG_IGN) is kept in a table
 * and the kernel gets pl_trampoline instead, with the program's flags
 * plus SA_SIGINFO; the trampoline notes the signal (chan_signal_note) and
 * calls the program's handler with (signo, info, context), which is what
 * the kernel passes either way. Reading a disposition back (old action)
 * gives the program's own handler and SA_SIGINFO as it set it, so the
 * wrapper is invisible to it. Not covered: a handler installed by a raw
 * rt_sigaction syscall or by sigset(3) (its sleeps end with EINTR, as
 * before), and two threads installing handlers for the same signal at
 * once (each install is correct; their old actions may cross).
 */
#define _GNU_SOURCE
#include "pl_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "transports/chan_signal.h"

#define PL_NSIG 65 /* signals 1..64 */

typedef void (*pl_sig_fn)(int, siginfo_t *, void *);
typedef void (*pl_plain_fn)(int);

static pl_sig_fn handler_of[PL_NSIG];   /* the program's handler, atomically */
static bool siginfo_of[PL_NSIG];        /* it asked for SA_SIGINFO */
static bool interrupt_of[PL_NSIG];      /* siginterrupt(sig, 1): signal() without SA_RESTART */

static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

static int call_real(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!real_sigaction) /* before our constructor (another library's) */
		real_sigaction = (__typeof__(real_sigaction))dlsym(RTLD_NEXT, "sigaction");
	if (!real_sigaction) {
		errno = ENOSYS;
		return -1;
	}
	return real_sigaction(sig, act, old);
}

static void pl_trampoline(int sig, siginfo_t *info, void *context)
{
	chan_signal_note(sig);
	pl_sig_fn fn = sig > 0 && sig < PL_NSIG ? __atomic_load_n(&handler_of[sig], __ATOMIC_ACQUIRE) : NULL;
	/* A plain handler called with three arguments: the kernel does the
	 * same (the x86-64 and AArch64 ABIs ignore the extra registers). */
	if (fn)
		fn(sig, info, context);
}

static bool is_handler(const struct sigaction *a)
{
	return a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN &&
	       (pl_sig_fn)a->sa_sigaction != pl_trampoline;
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	bool ours = sig > 0 && sig < PL_NSIG;
	pl_sig_fn prev_fn = ours ? __atomic_load_n(&handler_of[sig], __ATOMIC_ACQUIRE) : NULL;
	bool prev_siginfo = ours && siginfo_of[sig];
	struct sigaction wrapped;
	int rc;
	if (ours && act && is_handler(act)) {
		wrapped = *act;
		pl_sig_fn fn = (act->sa_flags & SA_SIGINFO) ? act->sa_sigaction : (pl_sig_fn)(void (*)(void))act->sa_handler;
		/* The table first: a signal between the two stores finds the
		 * new handler through the old trampoline, never a stale one. */
		__atomic_store_n(&handler_of[sig], fn, __ATOMIC_RELEASE);
		siginfo_of[sig] = (act->sa_flags & SA_SIGINFO) != 0;
		wrapped.sa_sigaction = pl_trampoline;
		wrapped.sa_flags |= SA_SIGINFO;
		rc = call_real(sig, &wrapped, old);
	} else {
		rc = call_real(sig, act, old);
	}
	if (rc == 0 && old && (pl_sig_fn)old->sa_sigaction == pl_trampoline && prev_fn) {
		if (prev_siginfo) {
			old->sa_sigaction = prev_fn;
		} else {
			old->sa_handler = (pl_plain_fn)(void (*)(void))prev_fn;
			old->sa_flags &= ~SA_SIGINFO;
		}
	}
	return rc;
}

/* signal(2) as glibc's: BSD semantics, SA_RESTART unless siginterrupt
 * asked otherwise, the signal blocked in its own handler. glibc's calls
 * its internal sigaction, which the interposition would not see. */
static pl_plain_fn install(int sig, pl_plain_fn fn, int flags)
{
	struct sigaction act, old;
	memset(&act, 0, sizeof(act));
	act.sa_handler = fn;
	act.sa_flags = flags;
	sigemptyset(&act.sa_mask);
	if (sig <= 0 || sig >= PL_NSIG || (sigaddset(&act.sa_mask, sig) != 0)) {
		errno = EINVAL;
		return SIG_ERR;
	}
	return sigaction(sig, &act, &old) == 0 ? old.sa_handler : SIG_ERR;
}

EXPORT pl_plain_fn signal(int sig, pl_plain_fn fn)
{
	return install(sig, fn, sig > 0 && sig < PL_NSIG && interrupt_of[sig] ? 0 : SA_RESTART);
}

EXPORT pl_plain_fn bsd_signal(int sig, pl_plain_fn fn)
{
	return signal(sig, fn);
}

/* System V semantics: one-shot, not blocked in its handler, no restart. */
EXPORT pl_plain_fn sysv_signal(int sig, pl_plain_fn fn)
{
	struct sigaction act, old;
	memset(&act, 0, sizeof(act));
	act.sa_handler = fn;
	act.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&act.sa_mask);
	return sigaction(sig, &act, &old) == 0 ? old.sa_handler : SIG_ERR;
}

EXPORT pl_plain_fn __sysv_signal(int sig, pl_plain_fn fn)
{
	return sysv_signal(sig, fn);
}

EXPORT int siginterrupt(int sig, int interrupt)
{
	struct sigaction act;
	if (sigaction(sig, NULL, &act) != 0)
		return -1;
	if (sig > 0 && sig < PL_NSIG)
		interrupt_of[sig] = interrupt != 0;
	if (interrupt)
		act.sa_flags &= ~SA_RESTART;
	else
		act.sa_flags |= SA_RESTART;
	return sigaction(sig, &act, NULL);
}
