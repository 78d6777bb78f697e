/*
 * tests/apps/sig_wrapper.c: run under LD_PRELOAD=libbluetas_preload.so
 * (tests/apps/run.sh, case signal_wrapper). The preload wraps every
 * signal handler a program installs (hw/preload/pl_signal.c) to know
 * which ran during a blocking call; the program must not see it: reading
 * a disposition back gives its own handler and flags, a handler runs once
 * per signal with the right arguments, signal() and siginterrupt() keep
 * glibc's flags, and a disposition saved and restored around system()
 * (glibc's internal sigaction, not intercepted) still works. Also passes
 * without the preload (the same program on plain libc), which is the
 * point: exits 0 when all held, else names each failure.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t plain_ran, info_ran, info_pid_ok;
static int failures;

static void plain(int signo)
{
	(void)signo;
	plain_ran++;
}

static void info(int signo, siginfo_t *si, void *context)
{
	(void)signo;
	(void)context;
	info_ran++;
	info_pid_ok = si && si->si_pid == getpid() && si->si_signo == SIGUSR1;
}

static void expect(int ok, const char *what)
{
	if (!ok) {
		printf("sig_wrapper: FAILED: %s\n", what);
		failures++;
	}
}

int main(void)
{
	struct sigaction act, old;
	memset(&act, 0, sizeof(act));
	act.sa_handler = plain;
	act.sa_flags = SA_RESTART;
	sigemptyset(&act.sa_mask);
	expect(sigaction(SIGUSR1, &act, NULL) == 0, "sigaction installs a plain handler");
	expect(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == plain, "read back: the program's own handler");
	expect(!(old.sa_flags & SA_SIGINFO) && (old.sa_flags & SA_RESTART), "read back: its flags (no SA_SIGINFO added)");
	raise(SIGUSR1);
	expect(plain_ran == 1, "the plain handler runs once");

	act.sa_sigaction = info;
	act.sa_flags = SA_SIGINFO;
	expect(sigaction(SIGUSR1, &act, &old) == 0 && old.sa_handler == plain, "the old action is the plain handler");
	expect(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_sigaction == info && (old.sa_flags & SA_SIGINFO) &&
		       !(old.sa_flags & SA_RESTART),
	       "read back: the SA_SIGINFO handler, without SA_RESTART");
	raise(SIGUSR1);
	expect(info_ran == 1 && info_pid_ok, "the SA_SIGINFO handler runs with its siginfo");

	expect(signal(SIGUSR2, plain) == SIG_DFL, "signal() returns the old disposition");
	expect(sigaction(SIGUSR2, NULL, &old) == 0 && old.sa_handler == plain && (old.sa_flags & SA_RESTART),
	       "signal() installs with SA_RESTART, as glibc's");
	expect(siginterrupt(SIGUSR2, 1) == 0 && sigaction(SIGUSR2, NULL, &old) == 0 && !(old.sa_flags & SA_RESTART) &&
		       old.sa_handler == plain,
	       "siginterrupt(1) clears SA_RESTART and keeps the handler");
	expect(signal(SIGUSR2, SIG_IGN) == plain, "signal() returns the program's handler, not a wrapper");
	raise(SIGUSR2);

	expect(system("true") == 0, "system() runs");
	raise(SIGUSR1);
	expect(info_ran == 2, "a handler saved and restored around system() still runs");
	if (!failures)
		printf("sig_wrapper: read back, SA_SIGINFO, signal, siginterrupt, system: all held\n");
	return failures ? 1 : 0;
}
