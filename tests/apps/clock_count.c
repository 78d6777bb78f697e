/*
 * clock_count.c: an LD_PRELOAD shim for tests/apps (redis_clock_reads_on_stack)
 * that counts the clock_gettime calls made from libbluetas_preload.so,
 * the preload library and the host library linked into it, apart from the
 * program's own. Put it before the preload in LD_PRELOAD
 * (LD_PRELOAD=clock_count.so:libbluetas_preload.so): the preload's calls
 * bind to the first definition. SIGUSR2 appends one line to the file
 * CLOCK_COUNT_OUT names: "clock_gettime preload N other M".
 *
 * Why count them: a clock read is ~80 ns on the test VM (kvm-clock
 * through the vDSO), and a wait and a request through the preload read
 * it 17 times before the round reading (docs/sockets.md, "Clock readings").
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static unsigned long reads_preload, reads_other;
/* CLOCK_COUNT_OUT, copied at load: redis-server overwrites its original
 * environment with its process title. */
static char report_path[256];

int clock_gettime(clockid_t id, struct timespec *ts)
{
	if (!real_clock_gettime)
		real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	Dl_info where;
	if (dladdr(__builtin_return_address(0), &where) && where.dli_fname &&
	    strstr(where.dli_fname, "libbluetas_preload"))
		__atomic_fetch_add(&reads_preload, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&reads_other, 1, __ATOMIC_RELAXED);
	return real_clock_gettime(id, ts);
}

/* Async-signal-safe: digits by hand, open/write/close. */
static char *put_ulong(char *p, unsigned long v)
{
	char d[24];
	int n = 0;
	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = d[--n];
	return p;
}

static void report(int sig)
{
	(void)sig;
	const char *path = report_path;
	if (!path[0])
		return;
	char line[96], *p = line;
	memcpy(p, "clock_gettime preload ", 22);
	p = put_ulong(p + 22, __atomic_load_n(&reads_preload, __ATOMIC_RELAXED));
	memcpy(p, " other ", 7);
	p = put_ulong(p + 7, __atomic_load_n(&reads_other, __ATOMIC_RELAXED));
	*p++ = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		ssize_t w = write(fd, line, (size_t)(p - line));
		(void)w;
		close(fd);
	}
}

__attribute__((constructor)) static void clock_count_init(void)
{
	const char *path = getenv("CLOCK_COUNT_OUT");
	if (path && strlen(path) < sizeof(report_path))
		memcpy(report_path, path, strlen(path) + 1);
	struct sigaction sa = {.sa_handler = report, .sa_flags = SA_RESTART};
	sigaction(SIGUSR2, &sa, NULL);
}
