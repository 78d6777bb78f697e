/*
 * test_ipc_chan.c: the ipc backend (transports/ipc): the channel contract
 * of transports/channel.h through the conformance suite every backend
 * runs (tests/support/chan_suite.c, given the pair constructor at the end
 * of this file), and what only ipc has: its spec and setup errors,
 * registration in place on shared pages, the futex sleep, a dead peer, and
 * the isolation between the applications of one daemon.
 *
 * Both ends live in this process, connected through a real Unix socket
 * and real memfds: the host end's memory is mapped a second time, at
 * other addresses, by the NIC end. The NIC end is driven by a progress
 * thread (the daemon's poll loop in miniature) and by the test; a mutex in
 * the NIC wrapper keeps it to one thread at a time, as ipc_chan.h requires.
 *
 * The isolation tests fork real applications: one that dies without a
 * word, and hostile ones that corrupt their control area or forge
 * segments; the daemon detaches exactly those and the others go on.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>

#include "transports/channel.h"
#include "transports/clock.h"
#include "transports/ipc/ipc_chan.h"
#include "transports/ipc/ipc_proto.h"
#include "tests/support/chan_suite.h"

#define RLEN CT_RLEN
#define GUARD CT_GUARD
#define WAIT_MS 10000

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000L};
	nanosleep(&ts, NULL);
}

/* ---- the pair constructor ---- */

/* The NIC end behind a mutex, so that the progress thread and the test
 * never drive it at once. */
struct locked {
	struct chan chan;
	struct chan *inner;
	pthread_mutex_t mu;
	pthread_t thread;
	volatile int stop;
	volatile int paused;
};

#define LK(ch) ((struct locked *)(ch))
#define LOCKED(ch, expr)                                                                                           \
	({                                                                                                         \
		pthread_mutex_lock(&LK(ch)->mu);                                                                   \
		__typeof__(expr) r_ = (expr);                                                                      \
		pthread_mutex_unlock(&LK(ch)->mu);                                                                 \
		r_;                                                                                                \
	})

static void lk_info(struct chan *ch, struct chan_info *o)
{
	pthread_mutex_lock(&LK(ch)->mu);
	chan_info(LK(ch)->inner, o);
	pthread_mutex_unlock(&LK(ch)->mu);
}
static int lk_reg(struct chan *ch, void *b, uint64_t l, uint32_t a, struct chan_mr *o)
{
	return LOCKED(ch, chan_mr_register(LK(ch)->inner, b, l, a, o));
}
static int lk_dereg(struct chan *ch, struct chan_mr *m) { return LOCKED(ch, chan_mr_deregister(LK(ch)->inner, m)); }
static int lk_read(struct chan *ch, struct chan_sge_local l, struct chan_sge_remote r, uint32_t n, uint64_t id,
		   uint32_t f)
{
	return LOCKED(ch, chan_post_read(LK(ch)->inner, l, r, n, id, f));
}
static int lk_write(struct chan *ch, struct chan_sge_local l, struct chan_sge_remote r, uint32_t n, uint64_t id,
		    uint32_t f)
{
	return LOCKED(ch, chan_post_write(LK(ch)->inner, l, r, n, id, f));
}
static int lk_msg(struct chan *ch, const void *m, uint32_t n) { return LOCKED(ch, chan_post_msg(LK(ch)->inner, m, n)); }
static int lk_poll_msg(struct chan *ch, void *b, uint32_t c, uint32_t *l)
{
	return LOCKED(ch, chan_poll_msg(LK(ch)->inner, b, c, l));
}
static int lk_poll_cq(struct chan *ch, struct chan_completion *o, int m)
{
	return LOCKED(ch, chan_poll_cq(LK(ch)->inner, o, m));
}
static uint64_t lk_next(struct chan *ch) { return LOCKED(ch, chan_next_event_ns(LK(ch)->inner)); }
static int lk_wait(struct chan *ch, uint64_t t)
{
	/* Sleeping with the lock would stall the progress thread: sleep in
	 * slices. */
	uint64_t until = now_ns() + t;
	for (;;) {
		int rc = LOCKED(ch, chan_wait(LK(ch)->inner, 0));
		struct ipc_chan_stats st;
		ipc_chan_stats(LK(ch)->inner, &st);
		if (rc < 0 || now_ns() >= until)
			return rc;
		sleep_us(200);
	}
}
static void lk_destroy(struct chan *ch)
{
	struct locked *k = LK(ch);
	k->stop = 1;
	pthread_join(k->thread, NULL);
	chan_destroy(k->inner);
	pthread_mutex_destroy(&k->mu);
	free(k);
}
static const struct chan_ops locked_ops = {lk_info, lk_reg, lk_dereg, lk_read, lk_write, lk_msg,
					   lk_poll_msg, lk_poll_cq, lk_next, lk_wait, NULL, NULL, lk_destroy, NULL /* ready: "maybe" */,
					   NULL /* next_msg_ns: next_event_ns */};

static void *progress_main(void *arg)
{
	struct locked *k = arg;
	while (!k->stop) {
		if (!k->paused) {
			pthread_mutex_lock(&k->mu);
			chan_next_event_ns(k->inner); /* runs the daemon's progress */
			pthread_mutex_unlock(&k->mu);
		}
		sleep_us(20);
	}
	return NULL;
}

static struct chan *lock_nic(struct chan *inner)
{
	struct locked *k = calloc(1, sizeof(*k));
	assert_non_null(k);
	k->chan.ops = &locked_ops;
	k->inner = inner;
	pthread_mutex_init(&k->mu, NULL);
	assert_int_equal(pthread_create(&k->thread, NULL, progress_main, k), 0);
	return &k->chan;
}

struct listener_fx {
	struct ipc_listener *l;
	char path[IPC_PATH_MAX];
};

static void listen_at(struct listener_fx *lf)
{
	snprintf(lf->path, sizeof(lf->path), "/tmp/bt-ipc-test-%d-%p.sock", (int)getpid(), (void *)lf);
	char err[256];
	lf->l = ipc_listen(lf->path, err, sizeof(err));
	if (!lf->l)
		fail_msg("ipc_listen: %s", err);
}

struct acc {
	struct ipc_listener *l;
	struct chan *ch;
	char err[256];
};
static void *accept_main(void *arg)
{
	struct acc *a = arg;
	a->ch = ipc_accept(a->l, WAIT_MS, a->err, sizeof(a->err));
	return NULL;
}

/* Connects a host end; *nic gets the daemon's end (locked, progressed). */
static struct chan *pair_on(struct listener_fx *lf, const struct ipc_params *p, struct chan **nic)
{
	struct acc a = {.l = lf->l};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, accept_main, &a), 0);
	char err[256];
	struct chan *host = ipc_connect(lf->path, p, WAIT_MS, err, sizeof(err));
	pthread_join(t, NULL);
	if (!host)
		fail_msg("ipc_connect: %s", err);
	if (!a.ch)
		fail_msg("ipc_accept: %s", a.err);
	*nic = lock_nic(a.ch);
	return host;
}

struct fx {
	struct listener_fx lf;
	bool own_listener;
	struct chan *host, *nic;
	struct ct_regions r;
};

static struct ipc_params default_params(void) { return (struct ipc_params){.sq_depth = 8, .msg_depth = 4}; }

static struct fx *fx_new_on(struct listener_fx *lf, const struct ipc_params *p)
{
	/* Pages of its own: host-end registration shares whole pages with
	 * the daemon (ipc_chan.h), so nothing else may live on them while
	 * other threads run. */
	size_t sz = (sizeof(struct fx) + 4095) & ~(size_t)4095;
	struct fx *f = aligned_alloc(4096, sz);
	assert_non_null(f);
	memset(f, 0, sz);
	if (lf) {
		f->lf = *lf;
	} else {
		listen_at(&f->lf);
		f->own_listener = true;
	}
	f->host = pair_on(&f->lf, p, &f->nic);
	ct_regions_register(&f->r, f->host, f->nic);
	return f;
}

static struct fx *fx_new(const struct ipc_params *p) { return fx_new_on(NULL, p); }
static struct fx *fx_default(void)
{
	struct ipc_params p = default_params();
	return fx_new(&p);
}

static void fx_free(struct fx *f)
{
	ct_regions_destroy_ends(&f->r, f->host, f->nic);
	if (f->own_listener)
		ipc_listener_destroy(f->lf.l);
	free(f);
}

static uint8_t *nreg(struct fx *f) { return ct_nreg(&f->r); }

static void assert_guards(struct fx *f) { ct_assert_guards(&f->r); }

/* ---- contract ---- */

static void test_parse_spec(void **state)
{
	(void)state;
	struct ipc_spec s;
	char err[256];
	assert_int_equal(ipc_parse_spec("ipc:/run/bt.sock", &s, err, sizeof(err)), 0);
	assert_string_equal(s.path, "/run/bt.sock");
	assert_int_equal(s.sq_depth, 0);
	assert_int_equal(ipc_parse_spec("ipc:/x,sq=16,msg=8", &s, err, sizeof(err)), 0);
	assert_int_equal(s.sq_depth, 16);
	assert_int_equal(s.msg_depth, 8);
	const char *bad[] = {"verbs:1.2.3.4", "ipc:", "ipc:/x,sq=0", "ipc:/x,sq=99999", "ipc:/x,foo=1", "ipc:/x,sq=1x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ipc_parse_spec(bad[i], &s, err, sizeof(err)), -1);
		print_message("%s -> %s\n", bad[i], err);
	}
}

static void test_setup_errors(void **state)
{
	(void)state;
	char err[256];
	assert_null(ipc_connect("/nonexistent-dir/bt.sock", NULL, 50, err, sizeof(err)));
	print_message("%s\n", err);
	assert_non_null(strstr(err, "bluetas nic"));
	/* A regular file where the socket should go is not replaced. */
	char path[] = "/tmp/bt-ipc-notsock-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_null(ipc_listen(path, err, sizeof(err)));
	assert_non_null(strstr(err, "not a socket"));
	unlink(path);
	struct ipc_params p = {.sq_depth = IPC_MAX_DEPTH + 1};
	assert_null(ipc_connect("/tmp/whatever.sock", &p, 0, err, sizeof(err)));
}

/* Regions sharing pages (the fixture's buffers are in one struct, small
 * buffers share malloc pages): each keeps its own bytes and bounds. */
static void test_regions_sharing_pages(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	uint8_t *blk = aligned_alloc(4096, 3 * 4096);
	assert_non_null(blk);
	memset(blk, 0x33, 3 * 4096);
	struct chan_mr m1, m2, m3;
	uint32_t rw = CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE;
	assert_int_equal(chan_mr_register(f->host, blk + 100, 100, rw, &m1), CHAN_OK);
	assert_int_equal(chan_mr_register(f->host, blk + 4000, 200, rw, &m2), CHAN_OK); /* spans two pages */
	assert_int_equal(chan_mr_register(f->host, blk + 8500, 50, rw, &m3), CHAN_OK);
	/* The bytes around are what they were: registration keeps them. */
	ct_assert_all(blk, 0x33, 3 * 4096);
	struct chan_remote_mr r1 = chan_mr_remote(&m1), r2 = chan_mr_remote(&m2), r3 = chan_mr_remote(&m3);
	memset(nreg(f), 0x77, RLEN);
	assert_int_equal(chan_post_write(f->nic, L(&f->r.nmr, 0), R(&r1, 0), 100, 1, 0), CHAN_OK);
	assert_int_equal(chan_post_write(f->nic, L(&f->r.nmr, 0), R(&r2, 0), 200, 2, 0), CHAN_OK);
	assert_int_equal(chan_post_write(f->nic, L(&f->r.nmr, 0), R(&r3, 0), 50, 3, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(NULL, f->nic, 3, CHAN_OK, CHAN_OP_WRITE);
	for (unsigned i = 0; i < 3 * 4096; i++) {
		bool in = (i >= 100 && i < 200) || (i >= 4000 && i < 4200) || (i >= 8500 && i < 8550);
		if (blk[i] != (in ? 0x77 : 0x33))
			fail_msg("byte %u is %#x", i, blk[i]);
	}
	/* Writes by the host are seen by the NIC (same memory, shared). */
	blk[4100] = 0x01;
	assert_int_equal(chan_post_read(f->nic, L(&f->r.nmr, 0), R(&r2, 100), 1, 4, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(NULL, f->nic, 4, CHAN_OK, CHAN_OP_READ);
	assert_int_equal(nreg(f)[0], 0x01);
	/* One byte past m1 is outside it, though on a shared page. */
	assert_int_equal(chan_post_write(f->nic, L(&f->r.nmr, 0), R(&r1, 1), 100, 5, CHAN_WR_SIGNALED), CHAN_OK);
	ct_expect_cqe(NULL, f->nic, 5, CHAN_EACCESS, CHAN_OP_WRITE);
	assert_int_equal(blk[200], 0x33);
	chan_mr_deregister(f->host, &m1);
	chan_mr_deregister(f->host, &m2);
	chan_mr_deregister(f->host, &m3);
	free(blk);
	fx_free(f);
}

/* Bytes of memory behind this process's ipc segment of exactly len bytes
 * (a memfd named bluetas-ipc-seg, found through /proc/self/fd); -1 if none. */
static long long seg_allocated_bytes(uint64_t len)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	long long found = -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char path[300], target[256];
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		struct stat st;
		if (strstr(target, "bluetas-ipc-seg") && stat(path, &st) == 0 && (uint64_t)st.st_size == len)
			found = (long long)st.st_blocks * 512;
	}
	closedir(d);
	return found;
}

/* Registration moves a region's pages into a memfd: every byte is kept,
 * but pages of zeros are left as holes (a fresh 64 MiB host region must
 * not cost 64 MiB of shared memory and a copy at the first socket), and a
 * page the process cannot read is refused, not a crash. */
static void test_registration_keeps_bytes_and_skips_zero_pages(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	const size_t pg = (size_t)sysconf(_SC_PAGESIZE), npages = 64;
	uint8_t *r = mmap(NULL, npages * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(r != MAP_FAILED);
	r[0] = 0x11;                       /* page 0: its first byte */
	r[6 * pg - 1] = 0x22;              /* page 5: its last byte */
	memset(r + 6 * pg, 0x33, 4 * pg);  /* pages 6..9 */
	r[20 * pg] = 0;                    /* page 20: touched, still zero */
	r[63 * pg + pg / 2] = 0x44;        /* page 63 */
	struct chan_mr m;
	assert_int_equal(chan_mr_register(f->host, r, npages * pg, CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE, &m),
			 CHAN_OK);
	long long alloc = seg_allocated_bytes(npages * pg);
	assert_true(alloc >= 0);
	/* Holes need process_vm_readv; where it is missing (qemu-user, a
	 * seccomp filter) the channel writes every byte, as documented, and
	 * only the bytes are checked. */
	uint8_t probe;
	struct iovec pl = {.iov_base = &probe, .iov_len = 1}, pr = {.iov_base = r, .iov_len = 1};
	if (process_vm_readv(getpid(), &pl, 1, &pr, 1, 0) < 0 && (errno == ENOSYS || errno == EPERM))
		print_message("process_vm_readv unavailable (%s): the zero-page holes are not checked\n", strerror(errno));
	else if (alloc > (long long)(7 * pg))
		fail_msg("the segment holds %lld bytes for 7 non-zero pages of %zu", alloc, npages);
	for (size_t i = 0; i < npages * pg; i++) {
		uint8_t want = i == 0 ? 0x11 : i == 6 * pg - 1 ? 0x22 : (i >= 6 * pg && i < 10 * pg) ? 0x33
			       : i == 63 * pg + pg / 2 ? 0x44 : 0;
		if (r[i] != want)
			fail_msg("byte %zu is %#x after registration, was %#x", i, r[i], want);
	}
	/* The daemon reads what the process wrote, before and after. */
	struct chan_remote_mr rm = chan_mr_remote(&m);
	r[30 * pg] = 0x55;
	const uint64_t at[] = {0, 6 * pg - 1, 7 * pg, 63 * pg + pg / 2, 30 * pg, 40 * pg};
	const uint8_t want[] = {0x11, 0x22, 0x33, 0x44, 0x55, 0};
	for (unsigned i = 0; i < 6; i++) {
		nreg(f)[0] = 0xEE;
		assert_int_equal(chan_post_read(f->nic, L(&f->r.nmr, 0), R(&rm, at[i]), 1, 10 + i, CHAN_WR_SIGNALED), CHAN_OK);
		ct_expect_cqe(NULL, f->nic, 10 + i, CHAN_OK, CHAN_OP_READ);
		assert_int_equal(nreg(f)[0], want[i]);
	}
	chan_mr_deregister(f->host, &m);
	munmap(r, npages * pg);

	/* A page it cannot read: EINVAL, as pwrite's EFAULT was. */
	uint8_t *bad = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(bad != MAP_FAILED);
	bad[0] = 1;
	assert_int_equal(mprotect(bad + pg, pg, PROT_NONE), 0);
	assert_int_equal(chan_mr_register(f->host, bad, 3 * pg, CHAN_ACCESS_REMOTE_READ, &m), CHAN_EINVAL);
	assert_int_equal(bad[0], 1);
	munmap(bad, 3 * pg);
	fx_free(f);
}

/* Busy polling (the suite's chan_wait_sleeps_until_woken covers the
 * sleep and the wake): while both sides poll, no wakeup syscall is made
 * at all. */
static void test_busy_polling_makes_no_wakeups(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	uint8_t buf[CHAN_MSG_MAX_BYTES];
	/* 1000 round trips, no futex syscall. */
	struct ipc_chan_stats h0, n0, h1, n1;
	ipc_chan_stats(f->host, &h0);
	ipc_chan_stats(LK(f->nic)->inner, &n0);
	for (uint32_t i = 0; i < 1000; i++) {
		ct_post_msg_retry(NULL, f->host, &i, 4, NULL);
		assert_int_equal(ct_wait_msg(NULL, f->nic, buf, sizeof(buf)), 4);
		ct_post_msg_retry(NULL, f->nic, &i, 4, NULL);
		assert_int_equal(ct_wait_msg(NULL, f->host, buf, sizeof(buf)), 4);
	}
	ipc_chan_stats(f->host, &h1);
	ipc_chan_stats(LK(f->nic)->inner, &n1);
	assert_int_equal(h1.wakeups_sent, h0.wakeups_sent);
	assert_int_equal(n1.wakeups_sent, n0.wakeups_sent);
	assert_int_equal(h1.sleeps, h0.sleeps);
	fx_free(f);
}

/* The eventfd is the application's too: one it made blocking (to stall
 * the daemon's write on a full counter) is refused, and only that
 * application is detached. */
static void test_wait_fd_hostile(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	struct chan *nic = LK(f->nic)->inner;
	int fd = chan_wait_fd_arm(f->host);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, 0), 0);
	uint8_t m = 1;
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);
	struct ipc_chan_stats st;
	ipc_chan_stats(nic, &st);
	assert_int_not_equal(st.broken, 0);
	assert_non_null(strstr(st.broken_why, "wakeup eventfd made blocking"));
	chan_wait_fd_done(f->host);
	fx_free(f);
}

static void test_peer_destroyed(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	uint8_t m = 0x31, buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	assert_int_equal(chan_post_msg(f->nic, &m, 1), CHAN_OK);
	chan_mr_deregister(f->nic, &f->r.nmr);
	chan_destroy(f->nic);
	f->nic = NULL;
	int rc = chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 1, CHAN_WR_SIGNALED);
	if (rc == CHAN_OK)
		ct_expect_cqe(NULL, f->host, 1, CHAN_EFLUSHED, CHAN_OP_WRITE);
	else
		assert_int_equal(rc, CHAN_EDISCONNECTED);
	/* Delivered before the break: still there. */
	assert_int_equal(chan_poll_msg(f->host, buf, sizeof(buf), &len), 1);
	assert_int_equal(buf[0], 0x31);
	ct_wait_disconnected(NULL, f->host);
	assert_int_equal(chan_post_msg(f->host, &m, 1), CHAN_EDISCONNECTED);
	assert_int_equal(chan_wait(f->host, 1000000), CHAN_EDISCONNECTED);
	struct ipc_chan_stats st;
	ipc_chan_stats(f->host, &st);
	print_message("host saw: %s\n", st.broken_why);
	fx_free(f);
}

static void test_outstanding_flushed(void **state)
{
	(void)state;
	struct ipc_params p = {.sq_depth = 64, .msg_depth = 4};
	struct fx *f = fx_new(&p);
	/* Hold the daemon still so that the queue really builds up. */
	LK(f->nic)->paused = 1;
	pthread_mutex_lock(&LK(f->nic)->mu);
	assert_int_equal(chan_post_write(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, RLEN), 8, 100, 0), CHAN_OK);
	for (uint64_t i = 0; i < 40; i++)
		assert_int_equal(chan_post_read(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, i, i % 2 ? CHAN_WR_SIGNALED : 0),
				 CHAN_OK);
	pthread_mutex_unlock(&LK(f->nic)->mu);
	LK(f->nic)->paused = 0;
	ct_expect_cqe(NULL, f->host, 100, CHAN_EACCESS, CHAN_OP_WRITE);
	for (uint64_t i = 0; i < 40; i++)
		ct_expect_cqe(NULL, f->host, i, CHAN_EFLUSHED, CHAN_OP_READ);
	ct_expect_no_cqe(NULL, f->host);
	assert_int_equal(chan_post_read(f->host, L(&f->r.hmr, 0), R(&f->r.nrem, 0), 8, 1, 0), CHAN_EDISCONNECTED);
	fx_free(f);
}

/* ---- isolation ---- */

/* (One application's keys refused on another's link of the same daemon:
 * the suite's chan_rkey_from_other_link_refused, on one listener.) */

static void wait_nic_broken(struct chan *nic_locked, const char *want_why)
{
	struct chan *inner = LK(nic_locked)->inner;
	uint64_t deadline = now_ns() + (uint64_t)WAIT_MS * 1000000ull;
	struct ipc_chan_stats st;
	for (;;) {
		int b = LOCKED(nic_locked, ipc_chan_check(inner));
		if (b) {
			ipc_chan_stats(inner, &st);
			print_message("daemon end broke: %s (%s)\n", st.broken_why, chan_err_name(b));
			if (want_why && !strstr(st.broken_why, want_why))
				fail_msg("broken for '%s', expected '%s'", st.broken_why, want_why);
			return;
		}
		if (now_ns() > deadline)
			fail_msg("the daemon end never broke");
		sleep_us(1000);
	}
}

/* A forked application connects, registers memory, sends a message and
 * dies (SIGKILL: no goodbye). The daemon detaches it; the other goes on. */
static void test_dead_app_detached_others_go_on(void **state)
{
	(void)state;
	struct ipc_params p = default_params();
	struct listener_fx lf = {0};
	listen_at(&lf);
	struct fx *live = fx_new_on(&lf, &p);
	int sync_pipe[2];
	assert_int_equal(pipe(sync_pipe), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];
		struct chan *h = ipc_connect(lf.path, &p, WAIT_MS, err, sizeof(err));
		if (!h)
			_exit(2);
		static uint8_t mem[4096] __attribute__((aligned(4096)));
		struct chan_mr mr;
		if (chan_mr_register(h, mem, sizeof(mem), CHAN_ACCESS_REMOTE_WRITE, &mr) != CHAN_OK)
			_exit(3);
		uint8_t m = 7;
		chan_post_msg(h, &m, 1);
		if (write(sync_pipe[1], "x", 1) != 1)
			_exit(4);
		pause();
		_exit(0);
	}
	char err[256];
	struct chan *dead = NULL;
	for (uint64_t deadline = now_ns() + (uint64_t)WAIT_MS * 1000000ull; !dead && now_ns() < deadline;)
		dead = ipc_accept(lf.l, 100, err, sizeof(err));
	assert_non_null(dead);
	struct chan *dead_l = lock_nic(dead);
	char x;
	assert_int_equal(read(sync_pipe[0], &x, 1), 1);
	uint8_t buf[CHAN_MSG_MAX_BYTES];
	assert_int_equal(ct_wait_msg(NULL, dead_l, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 7);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	wait_nic_broken(dead_l, "application is gone");
	/* The live one is untouched, both ways. */
	memset(live->r.hbuf, 0x5a, RLEN);
	assert_int_equal(chan_post_write(live->host, L(&live->r.hmr, 0), R(&live->r.nrem, 0), RLEN, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	ct_expect_cqe(NULL, live->host, 1, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(nreg(live), 0x5a, RLEN);
	uint8_t m = 9;
	assert_int_equal(chan_post_msg(live->nic, &m, 1), CHAN_OK);
	assert_int_equal(ct_wait_msg(NULL, live->host, buf, sizeof(buf)), 1);
	chan_destroy(dead_l);
	close(sync_pipe[0]);
	close(sync_pipe[1]);
	fx_free(live);
	ipc_listener_destroy(lf.l);
}

/* Hostile applications: each corrupts its own control area in one way;
 * the daemon breaks exactly that link, with the reason, and never touches
 * memory outside the application's segments. */
static void test_hostile_apps_detached(void **state)
{
	(void)state;
	struct ipc_params p = default_params();
	struct listener_fx lf = {0};
	listen_at(&lf);
	struct fx *good = fx_new_on(&lf, &p);
	enum { N = 4 };
	const char *want[N] = {"index past its ring", "without credit", "completion queue overrun", "unknown work request"};
	for (int k = 0; k < N; k++) {
		struct fx *bad = fx_new_on(&lf, &p);
		struct ipc_ctl *ctl = ipc_host_ctl(bad->host);
		struct ipc_wr *ring = (struct ipc_wr *)((uint8_t *)ctl + ipc_wr_ring_off());
		uint64_t prod = ipc_load(&ctl->wr_prod.v);
		uint32_t cap = ctl->wr_cap;
		if (k == 0) {
			ipc_store(&ctl->wr_prod.v, prod + cap + 5);
		} else if (k == 1) {
			/* 5 messages into 4 slots, past the credit check. */
			for (int i = 0; i < 5; i++)
				ring[(prod + (uint64_t)i) % cap] = (struct ipc_wr){.opcode = CHAN_OP_MSG, .len = 1};
			ipc_store(&ctl->wr_prod.v, prod + 5);
		} else if (k == 2) {
			/* 9 signaled writes into an 8-deep completion queue. */
			for (int i = 0; i < 9; i++)
				ring[(prod + (uint64_t)i) % cap] = (struct ipc_wr){
					.opcode = CHAN_OP_WRITE, .flags = CHAN_WR_SIGNALED, .len = 1, .lkey = bad->r.hmr.lkey,
					.rkey = bad->r.nrem.rkey, .wr_id = (uint64_t)i, .seq = (uint64_t)i};
			ipc_store(&ctl->wr_prod.v, prod + 9);
		} else {
			ring[prod % cap] = (struct ipc_wr){.opcode = 200};
			ipc_store(&ctl->wr_prod.v, prod + 1);
		}
		wait_nic_broken(bad->nic, want[k]);
		fx_free(bad);
	}
	/* A forged segment: a memfd without seals, and a pipe. */
	for (int k = 0; k < 2; k++) {
		struct fx *bad = fx_new_on(&lf, &p);
		int fds[2] = {-1, -1};
		int fd;
		if (k == 0) {
			fd = memfd_create("forged", MFD_CLOEXEC);
			assert_int_equal(ftruncate(fd, 4096), 0);
		} else {
			assert_int_equal(pipe(fds), 0);
			fd = fds[0];
		}
		struct ipc_ctl *ctl = ipc_host_ctl(bad->host);
		struct ipc_wr *ring = (struct ipc_wr *)((uint8_t *)ctl + ipc_wr_ring_off());
		int newest = ipc_host_socket(bad->host);
		assert_true(newest >= 0);
		/* It claims the GOOD application's addresses: irrelevant, the
		 * daemon maps only what is sent, and refuses this anyway. */
		struct ipc_sock_msg m = {.type = IPC_SOCK_SEG, .magic = IPC_MAGIC, .version = IPC_VERSION, .seg_id = 999,
					 .host_start = (uint64_t)(uintptr_t)good->r.hbuf & ~4095ull, .len_bytes = 4096};
		struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} u;
		memset(&u, 0, sizeof(u));
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
		assert_int_equal(sendmsg(newest, &mh, 0), (ssize_t)sizeof(m));
		uint64_t prod = ipc_load(&ctl->wr_prod.v);
		ring[prod % ctl->wr_cap] = (struct ipc_wr){.opcode = IPC_WR_SEG, .lkey = 999};
		ipc_store(&ctl->wr_prod.v, prod + 1);
		wait_nic_broken(bad->nic, "not a memfd sealed");
		close(fd);
		if (fds[1] >= 0)
			close(fds[1]);
		fx_free(bad);
	}
	/* The good one never noticed. */
	memset(good->r.hbuf, 0x3c, RLEN);
	assert_int_equal(chan_post_write(good->host, L(&good->r.hmr, 0), R(&good->r.nrem, 0), RLEN, 1, CHAN_WR_SIGNALED),
			 CHAN_OK);
	ct_expect_cqe(NULL, good->host, 1, CHAN_OK, CHAN_OP_WRITE);
	ct_assert_all(nreg(good), 0x3c, RLEN);
	assert_guards(good);
	fx_free(good);
	ipc_listener_destroy(lf.l);
}

/* ---- the contract, from tests/support/chan_suite.c ---- */

/* A listener: a daemon's socket, and the depths its pairs are made with. */
struct suite_listener {
	struct listener_fx lf;
	struct ipc_params p;
};

static void *suite_listener_new(void *ctx, uint32_t sq, uint32_t msg, char *err, size_t len)
{
	(void)ctx;
	(void)err; /* listen_at fails the test itself */
	(void)len;
	struct suite_listener *sl = calloc(1, sizeof(*sl));
	assert_non_null(sl);
	listen_at(&sl->lf);
	sl->p = (struct ipc_params){.sq_depth = sq, .msg_depth = msg};
	return sl;
}

static void suite_listener_free(void *ctx, void *listener)
{
	(void)ctx;
	struct suite_listener *sl = listener;
	ipc_listener_destroy(sl->lf.l);
	free(sl);
}

/* A pair on `listener`: the host end, and the NIC end behind the lock
 * with its progress thread (the listener is not the pair's). */
static int suite_pair_on(void *ctx, void *listener, struct chan_suite_pair *out, char *err, size_t len)
{
	(void)ctx;
	(void)err;
	(void)len;
	struct suite_listener *sl = listener;
	struct chan *nic;
	struct chan *host = pair_on(&sl->lf, &sl->p, &nic);
	*out = (struct chan_suite_pair){.host = host, .nic = nic};
	return 0;
}

static void suite_pair_free(void *ctx, struct chan_suite_pair *p)
{
	(void)ctx;
	chan_destroy(p->host);
	chan_destroy(p->nic);
}

/* The daemon end's counters, read under its lock (its progress thread
 * runs beside the test). */
static struct ipc_chan_stats nic_stats(struct chan_suite_pair *p)
{
	struct ipc_chan_stats st;
	pthread_mutex_lock(&LK(p->nic)->mu);
	ipc_chan_stats(LK(p->nic)->inner, &st);
	pthread_mutex_unlock(&LK(p->nic)->mu);
	return st;
}

/* The sleeping host end was woken by a syscall (a futex wake), not found
 * by a poll. */
static void suite_check_woken(void *ctx, struct chan_suite_pair *p)
{
	(void)ctx;
	assert_true(nic_stats(p).wakeups_sent >= 1);
}

/* Each of the suite's `rounds` sleeps on the wakeup eventfd was ended by
 * the daemon's write to it (the suite's pair is fresh, so the counters
 * start at zero). */
static void suite_check_fd_woken(void *ctx, struct chan_suite_pair *p, unsigned rounds)
{
	(void)ctx;
	assert_true(nic_stats(p).fd_wakeups_sent >= rounds);
	struct ipc_chan_stats h;
	ipc_chan_stats(p->host, &h);
	assert_true(h.fd_sleeps >= rounds);
}

static void suite_mute_wake_fd(void *ctx, struct chan_suite_pair *p)
{
	(void)ctx;
	pthread_mutex_lock(&LK(p->nic)->mu);
	ipc_nic_mute_wake_fd(LK(p->nic)->inner);
	pthread_mutex_unlock(&LK(p->nic)->mu);
}

/* The refusal was the daemon's access check (it executes both ends'
 * operations), counted and breaking the link, not a local one. */
static void suite_check_refused(void *ctx, struct chan_suite_pair *p, struct chan *ch)
{
	(void)ctx;
	(void)ch;
	struct ipc_chan_stats st = nic_stats(p);
	assert_true(st.access_errors >= 1);
	assert_int_equal(st.broken, CHAN_EACCESS);
}

int main(void)
{
	static const struct chan_suite_backend ipc = {.name = "ipc",
						      .pair_free = suite_pair_free,
						      .listener_new = suite_listener_new,
						      .pair_on = suite_pair_on,
						      .listener_free = suite_listener_free,
						      .check_refused = suite_check_refused,
						      .check_woken = suite_check_woken,
						      .check_fd_woken = suite_check_fd_woken,
						      .mute_wake_fd = suite_mute_wake_fd};
	struct CMUnitTest tests[64] = {
		cmocka_unit_test(test_parse_spec),
		cmocka_unit_test(test_setup_errors),
		cmocka_unit_test(test_regions_sharing_pages),
		cmocka_unit_test(test_registration_keeps_bytes_and_skips_zero_pages),
		cmocka_unit_test(test_busy_polling_makes_no_wakeups),
		cmocka_unit_test(test_wait_fd_hostile),
		cmocka_unit_test(test_peer_destroyed),
		cmocka_unit_test(test_outstanding_flushed),
		cmocka_unit_test(test_dead_app_detached_others_go_on),
		cmocka_unit_test(test_hostile_apps_detached),
	};
	signal(SIGPIPE, SIG_IGN);
	size_t n = 0;
	while (tests[n].test_func)
		n++;
	n += chan_suite_tests(&ipc, tests + n, sizeof(tests) / sizeof(tests[0]) - n);
	return _cmocka_run_group_tests("ipc", tests, n, NULL, NULL);
}
