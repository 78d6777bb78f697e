/*
 * promote_exec.c: every step of `bluetas promote` is a child process with
 * a deadline. The child gets its own process group, so a timeout stops
 * what it started too (ssh, make's compilers, rsync's helpers); a SIGINT
 * or SIGTERM to promote stops the running child the same way and lets the
 * cleanup step run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "promote.h"

static volatile sig_atomic_t stop_requested;
/* Set for the stop step: it must run to its end even after a SIGINT. */
static bool cleaning_up;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

void promote_exec_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool promote_exec_interrupted(void)
{
	return stop_requested != 0;
}

void promote_exec_cleanup_mode(void)
{
	cleaning_up = true;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Polls the child until it exits or `limit_s` passes; true if it exited. */
static bool reap_within(pid_t pid, double limit_s, int *wstatus)
{
	double end = now_s() + limit_s;
	for (;;) {
		pid_t r = waitpid(pid, wstatus, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		if (now_s() >= end)
			return false;
		sleep_ms(20);
	}
}

/* Reads what the child wrote so far (fd non-blocking) and keeps what fits
 * in out_text (NUL-terminated, *got bytes used); the rest is read and
 * dropped so the child never blocks on a full pipe. */
static void drain_output(int fd, char *out_text, size_t out_len, size_t *got)
{
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		size_t keep = (size_t)n;
		if (out_text && *got + 1 < out_len) {
			if (keep > out_len - 1 - *got)
				keep = out_len - 1 - *got;
			memcpy(out_text + *got, buf, keep);
			*got += keep;
			out_text[*got] = 0;
		}
	}
}

int promote_exec(char *const argv[], const char *log_path, unsigned timeout_s, char *out_text, size_t out_len,
		 struct exec_result *res)
{
	res->status = -1;
	res->timed_out = false;
	res->interrupted = false;
	int pipefd[2] = {-1, -1};
	if (!log_path && pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		if (pipefd[0] >= 0) {
			close(pipefd[0]);
			close(pipefd[1]);
		}
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		/* Children start with default dispositions, not our flag handler. */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		int in = open("/dev/null", O_RDONLY);
		int out = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644) : pipefd[1];
		if (in < 0 || out < 0)
			_exit(127);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* both sides, so a kill right after fork finds the group */
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	size_t got = 0;
	if (out_text && out_len)
		out_text[0] = 0;
	if (pipefd[0] >= 0)
		fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	double deadline = now_s() + timeout_s;
	int wstatus = 0;
	bool exited = false;
	while (!exited) {
		if (pipefd[0] >= 0)
			drain_output(pipefd[0], out_text, out_len, &got);
		pid_t r = waitpid(pid, &wstatus, WNOHANG);
		if (r == pid) {
			exited = true;
			break;
		}
		bool interrupt = stop_requested && !cleaning_up;
		if (interrupt || now_s() >= deadline) {
			res->interrupted = interrupt;
			res->timed_out = !res->interrupted;
			kill(-pid, SIGTERM);
			if (!reap_within(pid, 2.0, &wstatus)) {
				kill(-pid, SIGKILL);
				reap_within(pid, 2.0, &wstatus);
			}
			break;
		}
		sleep_ms(20);
	}
	/* Whatever the child left in its group (a compiler, a helper) goes too. */
	kill(-pid, SIGKILL);
	if (pipefd[0] >= 0) {
		drain_output(pipefd[0], out_text, out_len, &got);
		close(pipefd[0]);
	}
	if (WIFEXITED(wstatus))
		res->status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		res->status = 128 + WTERMSIG(wstatus);
	return 0;
}

void promote_log_tail(const char *path, unsigned max_lines, char *out, size_t out_len)
{
	out[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	/* A ring of the last lines: logs are small (one step's output). */
	char lines[16][256];
	unsigned n = 0;
	if (max_lines > 16)
		max_lines = 16;
	char buf[256];
	while (fgets(buf, sizeof(buf), f)) {
		size_t len = strlen(buf);
		if (len && buf[len - 1] != '\n') {
			int ch; /* a longer line: keep its start, skip the rest */
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
		} else if (len) {
			buf[len - 1] = 0;
		}
		if (!buf[0] || !strncmp(buf, "$ ", 2)) /* empty, or the command line we logged */
			continue;
		snprintf(lines[n % 16], sizeof(lines[0]), "%s", buf);
		n++;
	}
	fclose(f);
	unsigned first = n > max_lines ? n - max_lines : 0;
	size_t used = 0;
	for (unsigned i = first; i < n && used + 1 < out_len; i++) {
		int w = snprintf(out + used, out_len - used, "    | %s\n", lines[i % 16]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used >= out_len)
		out[out_len - 1] = 0;
}
