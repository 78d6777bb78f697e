/*
 * tests/apps/sig_mask.c: run under LD_PRELOAD=libbluetas_preload.so with
 * a channel (tests/apps/run.sh, case signal_mask_atomic). ppoll, pselect
 * and epoll_pwait swap the signal mask atomically with the wait: a
 * signal pending while blocked, which the call's mask unblocks, has its
 * handler run and the call return -1/EINTR at once (signal(7), the
 * reason these calls exist). Each is asked on a stack listener with
 * nothing to accept and a 3 s timeout; the preload used to set the mask
 * first, let the handler run, and then wait the whole timeout. Also
 * passes on plain libc (the kernel's calls), which is the point: exits 0
 * when all held, else names each failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static int failures;

static void on_usr1(int signo)
{
	(void)signo;
	handled++;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum call { PPOLL, PSELECT, EPOLL_PWAIT };
static const char *call_name[] = {"ppoll", "pselect", "epoll_pwait"};

static int wait_with_mask(enum call c, int fd, int ep, const sigset_t *mask)
{
	struct timespec ts = {.tv_sec = 3};
	if (c == PPOLL) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		return ppoll(&p, 1, &ts, mask);
	}
	if (c == PSELECT) {
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(fd, &rd);
		return pselect(fd + 1, &rd, NULL, NULL, &ts, mask);
	}
	struct epoll_event ev;
	return epoll_pwait(ep, &ev, 1, 3000, mask);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 7120;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4) != 0) {
		printf("sig_mask: FAILED: a listener on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		printf("sig_mask: FAILED: epoll on the listener: %s\n", strerror(errno));
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t blocked, during;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	for (enum call c = PPOLL; c <= EPOLL_PWAIT; c++) {
		sigprocmask(SIG_BLOCK, &blocked, &during); /* during: the mask without SIGUSR1 */
		sigdelset(&during, SIGUSR1);
		handled = 0;
		raise(SIGUSR1); /* pending: blocked */
		double t0 = now_s();
		int rc = wait_with_mask(c, fd, ep, &during);
		int err = errno;
		double took = now_s() - t0;
		sigprocmask(SIG_UNBLOCK, &blocked, NULL);
		printf("sig_mask: %s with the pending signal unblocked by its mask: rc %d (%s) after %.1f ms, handler ran %d\n",
		       call_name[c], rc, rc < 0 ? strerror(err) : "-", took * 1e3, (int)handled);
		if (rc != -1 || err != EINTR || handled != 1 || took > 1.0) {
			printf("sig_mask: FAILED: %s did not return EINTR at once for the signal its mask let in\n", call_name[c]);
			failures++;
		}
	}
	close(ep);
	close(fd);
	return failures ? 1 : 0;
}
