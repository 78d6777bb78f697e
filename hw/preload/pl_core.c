/*
 * pl_core.c: the preload library's state: libc's real entry points, the
 * host-library context (created at the first stack socket, on the channel
 * BLUETAS_CHANNEL names), the fd table, sleeping, fork.
 */
#define _GNU_SOURCE
#include "pl_internal.h"
#include "core/util/spin_policy.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "transports/chan_signal.h"
#include "transports/ipc/ipc_chan.h"
#ifdef PL_WITH_VERBS
#include "transports/verbs/verbs_chan.h"
#endif

/* The process-wide state an interposed libc needs by nature: the program
 * calls socket() with no context to pass. */
struct pl_state pl = {.mu = PTHREAD_MUTEX_INITIALIZER};
struct pl_libc pl_real_fns;
bool pl_real_loaded;

#define LOAD(name) pl_real_fns.name = (__typeof__(pl_real_fns.name))dlsym(RTLD_NEXT, #name)

static void pl_atfork_child(void);

/* Before main, one thread: the constructor, or an earlier intercepted
 * call from another library's constructor. */
void pl_load_libc(void)
{
	if (__atomic_load_n(&pl_real_loaded, __ATOMIC_ACQUIRE))
		return;
	LOAD(socket); LOAD(bind); LOAD(listen); LOAD(accept); LOAD(accept4); LOAD(connect);
	LOAD(read); LOAD(write); LOAD(readv); LOAD(writev); LOAD(recv); LOAD(recvfrom); LOAD(recvmsg);
	LOAD(send); LOAD(sendto); LOAD(sendmsg); LOAD(sendfile); LOAD(sendfile64); LOAD(sendmmsg); LOAD(recvmmsg); LOAD(splice); LOAD(shutdown); LOAD(close);
	LOAD(dup); LOAD(dup2); LOAD(dup3); LOAD(fcntl); LOAD(fcntl64); LOAD(ioctl); LOAD(getsockname); LOAD(getpeername);
	LOAD(setsockopt); LOAD(getsockopt); LOAD(poll); LOAD(ppoll); LOAD(select); LOAD(pselect);
	LOAD(epoll_create); LOAD(epoll_create1); LOAD(epoll_ctl); LOAD(epoll_wait); LOAD(epoll_pwait); LOAD(epoll_pwait2);
	pl.pid = getpid();
	pthread_atfork(pl_fork_prepare, pl_fork_parent, pl_atfork_child);
	__atomic_store_n(&pl_real_loaded, true, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void pl_load(void)
{
	pl_load_libc();
}

/* One line per distinct key, ever: a program calling an unsupported
 * option in a loop must not flood its stderr. */
void pl_log_once(const char *key, const char *fmt, ...)
{
	static char seen[64][48];
	static int n_seen;
	for (int i = 0; i < n_seen; i++)
		if (!strncmp(seen[i], key, sizeof(seen[i]) - 1))
			return;
	if (n_seen < 64)
		snprintf(seen[n_seen++], sizeof(seen[0]), "%s", key);
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(line, sizeof(line), "bluetas preload[%d]: ", (int)getpid());
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = strlen(line);
	if (len < sizeof(line) - 1)
		line[len++] = '\n';
	if (pl_real.write)
		pl_real.write(2, line, len);
}

uint64_t pl_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t env_u64(const char *name, uint64_t def, uint64_t min, uint64_t max)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	unsigned long long x = strtoull(v, &end, 0);
	if (*end || x < min || x > max) {
		pl_log_once(name, "%s=%s is not a number in %llu..%llu: using %llu", name, v, (unsigned long long)min,
			    (unsigned long long)max, (unsigned long long)def);
		return def;
	}
	return x;
}

/* The spin policy's settings, read once (racing first calls compute the
 * same values); its learned mean lives in pl.spin_mean_ns, read and
 * written with relaxed atomics: a lost update between threads only
 * delays what the next wait teaches. */
static struct spin_policy spin_settings(void)
{
	static uint64_t budget_ns = UINT64_MAX;
	static bool adaptive;
	if (__atomic_load_n(&budget_ns, __ATOMIC_ACQUIRE) == UINT64_MAX) {
		__atomic_store_n(&adaptive, env_u64("BLUETAS_SPIN_ADAPT", 1, 0, 1) == 1, __ATOMIC_RELAXED);
		__atomic_store_n(&budget_ns, env_u64("BLUETAS_SPIN_US", SPIN_POLICY_PRELOAD_BUDGET_NS / 1000, 0, 1000000) * 1000,
				 __ATOMIC_RELEASE);
	}
	/* Adaptive: poll 1.25x the mean wait, between the budget and twice
	 * it, while the mean is within twice the budget; past that sleep at
	 * once: a server whose requests come further apart stops paying a
	 * spin per request (core/util/spin_policy.h). */
	struct spin_policy p;
	spin_policy_init_preload(&p, budget_ns, __atomic_load_n(&adaptive, __ATOMIC_RELAXED));
	p.mean_gap_ns = __atomic_load_n(&pl.spin_mean_ns, __ATOMIC_RELAXED);
	return p;
}

uint64_t pl_spin_ns(void)
{
	struct spin_policy p = spin_settings();
	return spin_policy_spin_ns(&p);
}

void pl_spin_learn(uint64_t waited_ns)
{
	struct spin_policy p = spin_settings();
	spin_policy_learn(&p, waited_ns);
	__atomic_store_n(&pl.spin_mean_ns, p.mean_gap_ns, __ATOMIC_RELAXED);
}

/* Why the stack's region could not be had, in terms the user can act
 * on: its size and the variables that set it, and over verbs (which pins
 * it) the locked-memory limit when that is what stands in the way. */
static void region_hint(char *out, size_t cap, const struct bt_host_config *hc, bool verbs)
{
	uint64_t mib = ((uint64_t)hc->max_conns * ((uint64_t)hc->rx_ring_bytes + hc->tx_ring_bytes) + (1u << 20) - 1) >> 20;
	struct rlimit rl;
	if (verbs && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)rl.rlim_cur < mib << 20) {
		snprintf(out, cap,
			 " (verbs pins the stack's region, about %" PRIu64 " MiB, and RLIMIT_MEMLOCK is %" PRIu64
			 " KiB: raise it (ulimit -l, CAP_IPC_LOCK) or shrink the region with BLUETAS_MAX_CONNS "
			 "and BLUETAS_RING_BYTES)",
			 mib, (uint64_t)rl.rlim_cur >> 10);
		return;
	}
	snprintf(out, cap,
		 " (the stack's region, about %" PRIu64 " MiB = BLUETAS_MAX_CONNS %u x 2 x BLUETAS_RING_BYTES %u, "
		 "could not be had: make it smaller)",
		 mib, hc->max_conns, hc->rx_ring_bytes);
}

/* With pl.mu held. */
int pl_ensure_host(void)
{
	if (pl.host)
		return 0;
	if (pl.init_failed) {
		errno = ENETDOWN;
		return -1;
	}
	const char *spec = getenv("BLUETAS_CHANNEL");
	char why[512] = "";
	if (!spec || !*spec) {
		snprintf(pl.init_err, sizeof(pl.init_err),
			 "BLUETAS_CHANNEL is not set (ipc:PATH of `bluetas nic --channel ipc:PATH`, or verbs:ADDR)");
	} else if (!strncmp(spec, "ipc:", 4)) {
		struct ipc_spec is;
		if (ipc_parse_spec(spec, &is, why, sizeof(why)) == 0) {
			struct ipc_params ip = {.sq_depth = is.sq_depth, .msg_depth = is.msg_depth};
			pl.ch = ipc_connect(is.path, &ip, 5000, why, sizeof(why));
		}
	} else if (!strncmp(spec, "verbs:", 6)) {
#ifdef PL_WITH_VERBS
		struct verbs_spec vs;
		if (verbs_parse_spec(spec, &vs, why, sizeof(why)) == 0) {
			struct verbs_params vp;
			verbs_spec_params(&vs, &vp);
			pl.ch = verbs_connect(vs.addr, vs.port, &vp, 5000, why, sizeof(why));
		}
#else
		snprintf(why, sizeof(why), "this build has no verbs support (libibverbs-dev missing at build time)");
#endif
	} else {
		snprintf(why, sizeof(why), "unknown channel kind (ipc:PATH or verbs:ADDR)");
	}
	if (!pl.ch && !pl.init_err[0])
		snprintf(pl.init_err, sizeof(pl.init_err), "BLUETAS_CHANNEL=%s: %s", spec, why);
	if (pl.ch) {
		bt_clock_monotonic(&pl.clock);
		struct bt_host_config hc;
		bt_host_default_config(&hc);
		hc.max_conns = (uint32_t)env_u64("BLUETAS_MAX_CONNS", 256, 1, 65536);
		hc.rx_ring_bytes = hc.tx_ring_bytes = (uint32_t)env_u64("BLUETAS_RING_BYTES", 128 * 1024, 4096, 1u << 26);
		hc.event_entries = 4096;
		int rc;
		pl.host = bt_host_create(&hc, pl.ch, &pl.clock, &rc);
		if (!pl.host) {
			char hint[320] = "";
			if (rc == BT_ENOMEM)
				region_hint(hint, sizeof(hint), &hc, !strncmp(spec, "verbs:", 6));
			snprintf(pl.init_err, sizeof(pl.init_err), "host library: %s%s", bt_strerror(rc), hint);
			chan_destroy(pl.ch);
			pl.ch = NULL;
		}
	}
	if (!pl.host) {
		pl.init_failed = true;
		pl_log_once("init", "TCP sockets unavailable (ENETDOWN): %s", pl.init_err);
		errno = ENETDOWN;
		return -1;
	}
	return 0;
}

int pl_drain(void)
{
	struct bt_event ev[64];
	int total = 0;
	for (int i = 0; i < 64; i++) {
		int n = bt_poll(pl.host, ev, 64);
		if (n > 0)
			total += n;
		if (n < 64)
			break;
	}
	return total;
}

int pl_sleep_on_stack(uint64_t ns, uint64_t cap_ns)
{
	pthread_mutex_lock(&pl.mu);
	/* Without its ARM on the channel (no credit) nothing will wake us:
	 * poll again within a short slice (core/bluetas.h, bt_wait_arm). */
	if (!bt_wait_arm(pl.host))
		cap_ns = PL_SLICE_NS;
	pthread_mutex_unlock(&pl.mu);
	if (ns > cap_ns)
		ns = cap_ns;
	/* The channel's wait reads shared ring indices only; the daemon wakes
	 * every thread asleep on it (ipc counts them), so the cap bounds only
	 * a wakeup lost to a fault. */
	if (chan_wait(pl.ch, ns) == CHAN_EINTR) {
		errno = EINTR;
		return -1;
	}
	return 0;
}

bool pl_call_interrupted(bool wait_interrupted, bool has_timeout)
{
	uint64_t ran = chan_signal_take();
	if (!wait_interrupted && ran == 0)
		return false;
	return !chan_signal_restarts(ran, has_timeout);
}

/* BLUETAS_WAKE_FD=0: never sleep on the wakeup descriptor (the 2 ms
 * slices of before; tests/apps/run.sh's negative control). */
static bool wake_fd_wanted(void)
{
	static int mode = -1; /* racing first calls compute the same value */
	int m = __atomic_load_n(&mode, __ATOMIC_RELAXED);
	if (m < 0) {
		m = env_u64("BLUETAS_WAKE_FD", 1, 0, 1) != 0;
		__atomic_store_n(&mode, m, __ATOMIC_RELAXED);
	}
	return m;
}

int pl_wake_arm(int *fd_out)
{
	if (!wake_fd_wanted())
		return -1;
	pthread_mutex_lock(&pl.mu);
	int rc = -1;
	/* The wakeup rule (core/bluetas.h): sleep only once the ARM is on
	 * the channel; without it, the caller sleeps in slices as before. */
	if (pl.host && pl.ch && chan_has_wait_fd(pl.ch) && bt_wait_arm(pl.host)) {
		int fd = chan_wait_fd_arm(pl.ch);
		rc = fd >= 0 ? 1 : fd == CHAN_EAGAIN ? 0 : -1;
		if (fd >= 0)
			*fd_out = fd;
	}
	pthread_mutex_unlock(&pl.mu);
	return rc;
}

void pl_wake_done(void)
{
	pthread_mutex_lock(&pl.mu);
	if (pl.ch)
		chan_wait_fd_done(pl.ch);
	pthread_mutex_unlock(&pl.mu);
}

uint32_t pl_readiness(struct pl_sock *s)
{
	if (s->forked || s->kind == PL_DEAD)
		return POLLNVAL;
	if (s->kind == PL_NEW)
		return POLLOUT | POLLHUP; /* as Linux reports an unconnected TCP socket */
	uint32_t r = bt_readiness(pl.host, s->id), out = 0;
	if (r & BT_READY_IN)
		out |= POLLIN | POLLRDNORM;
	if (r & BT_READY_OUT)
		out |= POLLOUT | POLLWRNORM;
	if (r & BT_READY_RDHUP)
		out |= POLLRDHUP;
	if (r & BT_READY_HUP)
		out |= POLLHUP;
	if (r & BT_READY_ERR)
		out |= POLLERR;
	if (s->pending_err)
		out |= POLLERR;
	return out;
}

int pl_new_fd(struct pl_sock *s, bool cloexec)
{
	/* An eventfd that is never written: it holds the number, and a
	 * program that hands it to a kernel call we do not intercept gets a
	 * harmless descriptor, not someone else's. Close-on-exec always: a
	 * stack socket cannot survive exec (docs/sockets.md). */
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fd >= PL_MAX_FD) {
		pl_real.close(fd);
		errno = EMFILE;
		return -1;
	}
	pl.fd_cloexec[fd] = cloexec;
	s->refs++;
	__atomic_store_n(&pl.fds[fd], s, __ATOMIC_RELEASE);
	return fd;
}

void pl_sock_unref(struct pl_sock *s)
{
	if (--s->refs > 0) {
		pl_relay_sock_released(s);
		return;
	}
	if (!s->forked && pl.host && s->id >= 0) {
		if (s->kind == PL_LISTEN)
			bt_listen_close(pl.host, s->id);
		else if (s->linger.l_onoff && s->linger.l_linger == 0)
			bt_abort(pl.host, s->id);
		else if (s->kind == PL_CONN || s->kind == PL_CONNECTING)
			bt_close(pl.host, s->id);
	}
	free(s);
}

/* The child of fork shares the parent's host region (mapped shared with
 * the daemon) but not its channel. Its connected sockets are relayed by
 * the parent (pl_fork.c); the rest (listeners, connects under way) are
 * dead: they still close cleanly, anything else fails with EBADF after
 * one log line. */
static void pl_atfork_child(void)
{
	pthread_mutex_init(&pl.mu, NULL);
	if (!pl.host)
		return;
	pl_fork_child();
	/* The parent's socket to the daemon: a copy here would keep the
	 * parent attached after it died (the daemon sees a death by the
	 * socket's hang-up), with its connections never reset. */
	int dsock = ipc_host_socket(pl.ch);
	if (dsock >= 0)
		pl_real.close(dsock);
	for (int fd = 0; fd < PL_MAX_FD; fd++)
		if (pl.fds[fd])
			pl.fds[fd]->forked = true;
	pl.host = NULL; /* the parent's: never touched here */
	pl.ch = NULL;
	pl.init_failed = true;
	snprintf(pl.init_err, sizeof(pl.init_err), "a forked child has no stack context of its own");
}
