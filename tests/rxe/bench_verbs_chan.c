/*
 * bench_verbs_chan.c: latency of the verbs channel, to be read next to
 * perftest's ib_send_lat / ib_write_lat in the same run (both report half
 * a round trip, busy polling on both sides, as this does).
 *
 *   msg      post_msg on the host, the NIC end's poll_msg sees it and posts
 *            the same message back, the host's poll_msg sees the reply:
 *            round trip / 2. The doorbell path (ctxq commands, WAKEUPs);
 *            compare with ib_send_lat.
 *   write    the host WRITEs a counter into NIC memory, the NIC thread
 *            spins on that memory and WRITEs it back, the host spins on
 *            its own memory: round trip / 2. Compare with ib_write_lat.
 *   write_cq one signaled WRITE posted, its completion polled: post to
 *            completion, a full round trip (request, ACK). What the NIC's
 *            event and payload writes cost before their staging is free.
 *   read_cq  the same for a READ (the NIC's TX payload fetch).
 *
 * Two threads (host, NIC), one connection through rdma_cm, exactly as
 * tests/rxe/test_verbs_chan.c sets it up (tests/rxe/verbs_pair.h).
 * Output: key=value lines on stdout, e.g. msg_half_rtt_p50_ns=...
 *
 *   bench_verbs_chan [--iters N] [--warmup N] [--size BYTES] [--only msg|write|write_cq|read_cq]
 */
#define _GNU_SOURCE /* setns, in verbs_pair.h */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transports/channel.h"
#include "transports/verbs/verbs_chan.h"
#include "verbs_pair.h"

#define REGION 4096u
#define SIGNAL_EVERY 32u

struct bench {
	struct verbs_listener *l;
	struct chan *host, *nic;
	uint8_t *hmem, *nmem; /* REGION each: [0, 2048) landing area, [2048, 4096) source */
	struct chan_mr hmr, nmr;
	struct chan_remote_mr hrem, nrem;
	uint32_t iters, warmup, size;
	volatile int failed;
	char why[256];
};

static struct chan_remote_mr remote_of(const struct chan_mr *m)
{
	return (struct chan_remote_mr){ .addr = (uint64_t)(uintptr_t)m->base, .len_bytes = m->len_bytes,
					.rkey = m->rkey };
}

static struct chan_sge_local L(const struct chan_mr *mr, uint64_t off)
{
	return (struct chan_sge_local){ .mr = mr, .off = off };
}
static struct chan_sge_remote R(const struct chan_remote_mr *mr, uint64_t off)
{
	return (struct chan_sge_remote){ .mr = mr, .off = off };
}

static void fail(struct bench *b, const char *what, int rc)
{
	if (!b->failed)
		snprintf(b->why, sizeof(b->why), "%s: %s", what, chan_err_name(rc));
	b->failed = 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void report(const char *name, uint64_t *s, uint32_t n, unsigned div)
{
	for (uint32_t i = 0; i < n; i++)
		s[i] /= div;
	qsort(s, n, sizeof(*s), cmp_u64);
	double sum = 0;
	for (uint32_t i = 0; i < n; i++)
		sum += (double)s[i];
	uint32_t p99 = (uint32_t)((uint64_t)n * 99 / 100);
	if (p99 >= n)
		p99 = n - 1;
	printf("%s_min_ns=%" PRIu64 "\n", name, s[0]);
	printf("%s_p50_ns=%" PRIu64 "\n", name, s[n / 2]);
	printf("%s_avg_ns=%.0f\n", name, sum / n);
	printf("%s_p99_ns=%" PRIu64 "\n", name, s[p99]);
	printf("%s_max_ns=%" PRIu64 "\n", name, s[n - 1]);
	fflush(stdout);
}

/* Retires completions of the periodic signaled WRITEs (none expected to fail). */
static bool drain_cq(struct bench *b, struct chan *ch)
{
	struct chan_completion c[8];
	int n = chan_poll_cq(ch, c, 8);
	if (n < 0) {
		fail(b, "poll_cq", n);
		return false;
	}
	for (int i = 0; i < n; i++)
		if (c[i].status != CHAN_OK) {
			fail(b, "completion", c[i].status);
			return false;
		}
	return true;
}

/* Waits until everything this end posted has completed and every
 * completion was polled, so the next benchmark starts with an empty queue:
 * one more signaled WRITE (to the scratch end of the region), whose
 * completion implies all earlier ones. */
static void quiesce(struct bench *b, struct chan *ch, const struct chan_mr *local, const struct chan_remote_mr *remote)
{
	int rc;
	while ((rc = chan_post_write(ch, L(local, REGION - 8), R(remote, REGION - 8), 8, UINT64_MAX,
				     CHAN_WR_SIGNALED)) == CHAN_EAGAIN)
		if (!drain_cq(b, ch))
			return;
	if (rc != CHAN_OK) {
		fail(b, "quiesce post_write", rc);
		return;
	}
	for (;;) {
		struct chan_completion c;
		int n = chan_poll_cq(ch, &c, 1);
		if (n < 0 || (n == 1 && c.status != CHAN_OK)) {
			fail(b, "quiesce", n < 0 ? n : c.status);
			return;
		}
		if (n == 1 && c.wr_id == UINT64_MAX)
			return;
	}
}

/* ---- msg: NIC side echoes every message ---- */
static void *nic_msg_echo(void *arg)
{
	struct bench *b = arg;
	uint32_t total = b->iters + b->warmup;
	uint8_t buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	for (uint32_t i = 0; i < total && !b->failed;) {
		int rc = chan_poll_msg(b->nic, buf, sizeof(buf), &len);
		if (rc == 0)
			continue;
		if (rc < 0) {
			fail(b, "nic poll_msg", rc);
			break;
		}
		while ((rc = chan_post_msg(b->nic, buf, len)) == CHAN_EAGAIN && !b->failed)
			;
		if (rc != CHAN_OK && !b->failed) {
			fail(b, "nic post_msg", rc);
			break;
		}
		i++;
	}
	return NULL;
}

static int bench_msg(struct bench *b, uint64_t *samples)
{
	pthread_t t;
	if (pthread_create(&t, NULL, nic_msg_echo, b) != 0)
		return -1;
	uint32_t size = b->size > CHAN_MSG_MAX_BYTES ? CHAN_MSG_MAX_BYTES : b->size;
	uint8_t m[CHAN_MSG_MAX_BYTES] = { 0 }, buf[CHAN_MSG_MAX_BYTES];
	uint32_t len;
	for (uint32_t i = 0; i < b->iters + b->warmup && !b->failed; i++) {
		memcpy(m, &i, size < 4 ? size : 4);
		uint64_t t0 = pair_now_ns();
		int rc;
		while ((rc = chan_post_msg(b->host, m, size)) == CHAN_EAGAIN && !b->failed)
			;
		if (rc != CHAN_OK) {
			fail(b, "host post_msg", rc);
			break;
		}
		while ((rc = chan_poll_msg(b->host, buf, sizeof(buf), &len)) == 0 && !b->failed)
			;
		uint64_t t1 = pair_now_ns();
		if (rc < 0) {
			fail(b, "host poll_msg", rc);
			break;
		}
		if (len != size || memcmp(buf, m, size) != 0) {
			snprintf(b->why, sizeof(b->why), "message %u came back different", i);
			b->failed = 1;
			break;
		}
		if (i >= b->warmup)
			samples[i - b->warmup] = t1 - t0;
	}
	pthread_join(t, NULL);
	return b->failed ? -1 : 0;
}

/* ---- write: RDMA WRITE ping-pong through memory ---- */
static void *nic_write_echo(void *arg)
{
	struct bench *b = arg;
	uint32_t total = b->iters + b->warmup;
	volatile uint32_t *seen = (volatile uint32_t *)(b->nmem + b->size - 4);
	for (uint32_t i = 1; i <= total && !b->failed; i++) {
		uint64_t spins = 0;
		while (*seen != i && !b->failed) {
			/* Retire our own signaled writes while we wait. */
			if ((++spins & 63) == 0 && !drain_cq(b, b->nic))
				return NULL;
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		memcpy(b->nmem + 2048 + b->size - 4, &i, 4);
		int rc;
		uint32_t flags = i % SIGNAL_EVERY == 0 ? CHAN_WR_SIGNALED : 0;
		while ((rc = chan_post_write(b->nic, L(&b->nmr, 2048), R(&b->hrem, 0), b->size, i, flags)) ==
			       CHAN_EAGAIN &&
		       !b->failed)
			drain_cq(b, b->nic);
		if (rc != CHAN_OK) {
			fail(b, "nic post_write", rc);
			return NULL;
		}
	}
	return NULL;
}

static int bench_write(struct bench *b, uint64_t *samples)
{
	memset(b->hmem, 0, REGION);
	memset(b->nmem, 0, REGION);
	pthread_t t;
	if (pthread_create(&t, NULL, nic_write_echo, b) != 0)
		return -1;
	volatile uint32_t *seen = (volatile uint32_t *)(b->hmem + b->size - 4);
	for (uint32_t i = 1; i <= b->iters + b->warmup && !b->failed; i++) {
		/* The counter is the LAST word: with in-order placement it lands
		 * after the rest of the payload (ib_write_lat polls the last
		 * byte the same way). */
		memcpy(b->hmem + 2048 + b->size - 4, &i, 4);
		uint32_t flags = i % SIGNAL_EVERY == 0 ? CHAN_WR_SIGNALED : 0;
		uint64_t t0 = pair_now_ns();
		int rc;
		while ((rc = chan_post_write(b->host, L(&b->hmr, 2048), R(&b->nrem, 0), b->size, i, flags)) ==
			       CHAN_EAGAIN &&
		       !b->failed)
			drain_cq(b, b->host);
		if (rc != CHAN_OK) {
			fail(b, "host post_write", rc);
			break;
		}
		uint64_t spins = 0;
		while (*seen != i && !b->failed)
			if ((++spins & 63) == 0 && !drain_cq(b, b->host))
				break;
		uint64_t t1 = pair_now_ns();
		if (i > b->warmup)
			samples[i - 1 - b->warmup] = t1 - t0;
	}
	pthread_join(t, NULL);
	if (!b->failed)
		quiesce(b, b->host, &b->hmr, &b->nrem);
	if (!b->failed)
		quiesce(b, b->nic, &b->nmr, &b->hrem);
	return b->failed ? -1 : 0;
}

/* ---- write_cq / read_cq: one side, post to completion ---- */
static int bench_one_sided(struct bench *b, bool read, uint64_t *samples)
{
	for (uint32_t i = 0; i < b->iters + b->warmup && !b->failed; i++) {
		uint64_t t0 = pair_now_ns();
		int rc = read ? chan_post_read(b->host, L(&b->hmr, 0), R(&b->nrem, 2048), b->size, i, CHAN_WR_SIGNALED)
			      : chan_post_write(b->host, L(&b->hmr, 2048), R(&b->nrem, 0), b->size, i, CHAN_WR_SIGNALED);
		if (rc != CHAN_OK) {
			fail(b, read ? "post_read" : "post_write", rc);
			break;
		}
		struct chan_completion c;
		int n;
		while ((n = chan_poll_cq(b->host, &c, 1)) == 0)
			;
		uint64_t t1 = pair_now_ns();
		if (n < 0 || c.status != CHAN_OK || c.wr_id != i) {
			fail(b, "completion", n < 0 ? n : c.status);
			break;
		}
		if (i >= b->warmup)
			samples[i - b->warmup] = t1 - t0;
	}
	return b->failed ? -1 : 0;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_verbs_chan [--iters N] [--warmup N] [--size BYTES (4..2048)] "
		   "[--only msg|write|write_cq|read_cq]\n");
}

int main(int argc, char **argv)
{
	struct bench b;
	memset(&b, 0, sizeof(b));
	b.iters = 20000;
	b.warmup = 1000;
	b.size = 8;
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--iters") && v && parse_u32(v, 1, 100000000, &b.iters) == 0)
			i++;
		else if (!strcmp(a, "--warmup") && v && parse_u32(v, 0, 100000000, &b.warmup) == 0)
			i++;
		else if (!strcmp(a, "--size") && v && parse_u32(v, 4, 2048, &b.size) == 0)
			i++;
		else if (!strcmp(a, "--only") && v) {
			only = v;
			i++;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (verbs_device_count() == 0) {
		printf("bench=verbs_chan result=skipped reason=no_rdma_device\n");
		return 0;
	}
	char err[1024];
	struct verbs_params p;
	verbs_default_params(&p);
	p.sq_depth = 64;
	p.msg_depth = 64;
	b.l = pair_listen(&p, err, sizeof(err));
	if (!b.l) {
		fprintf(stderr, "bench_verbs_chan: %s\n", err);
		return 1;
	}
	b.host = pair_connect(b.l, &p, &b.nic, err, sizeof(err));
	if (!b.host) {
		fprintf(stderr, "bench_verbs_chan: %s\n", err);
		verbs_listener_destroy(b.l);
		return 1;
	}
	b.hmem = aligned_alloc(4096, REGION);
	b.nmem = aligned_alloc(4096, REGION);
	uint64_t *samples = calloc(b.iters, sizeof(*samples));
	int rc = 1;
	if (!b.hmem || !b.nmem || !samples)
		goto out;
	memset(b.hmem, 0, REGION);
	memset(b.nmem, 0, REGION);
	uint32_t rw = CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE;
	if (chan_mr_register(b.host, b.hmem, REGION, rw, &b.hmr) != CHAN_OK ||
	    chan_mr_register(b.nic, b.nmem, REGION, rw, &b.nmr) != CHAN_OK) {
		fprintf(stderr, "bench_verbs_chan: registration failed\n");
		goto out;
	}
	b.hrem = remote_of(&b.hmr);
	b.nrem = remote_of(&b.nmr);
	struct verbs_chan_info hi, ni;
	verbs_chan_describe(b.host, &hi);
	verbs_chan_describe(b.nic, &ni);
	printf("bench=verbs_chan host_dev=%s nic_dev=%s gid_type=\"%s\" host=%s nic=%s iters=%u warmup=%u size=%u "
	       "inline=%u\n",
	       hi.dev, ni.dev, hi.gid_type, hi.local, ni.local, b.iters, b.warmup, b.size, hi.max_inline);
	fflush(stdout);
	rc = 0;
	if (!only || !strcmp(only, "msg")) {
		if (bench_msg(&b, samples) == 0)
			report("msg_half_rtt", samples, b.iters, 2);
		else
			rc = 1;
	}
	if (!rc && (!only || !strcmp(only, "write"))) {
		if (bench_write(&b, samples) == 0)
			report("write_half_rtt", samples, b.iters, 2);
		else
			rc = 1;
	}
	if (!rc && (!only || !strcmp(only, "write_cq"))) {
		if (bench_one_sided(&b, false, samples) == 0)
			report("write_post_to_cqe", samples, b.iters, 1);
		else
			rc = 1;
	}
	if (!rc && (!only || !strcmp(only, "read_cq"))) {
		if (bench_one_sided(&b, true, samples) == 0)
			report("read_post_to_cqe", samples, b.iters, 1);
		else
			rc = 1;
	}
	if (rc)
		fprintf(stderr, "bench_verbs_chan: %s\n", b.why);
	struct verbs_chan_stats hs, ns;
	verbs_chan_stats(b.host, &hs);
	verbs_chan_stats(b.nic, &ns);
	printf("host_credit_msgs_sent=%" PRIu64 " nic_credit_msgs_sent=%" PRIu64 " host_eagain_credit=%" PRIu64 "\n",
	       hs.credit_msgs_sent, ns.credit_msgs_sent, hs.eagain_credit);
	chan_mr_deregister(b.host, &b.hmr);
	chan_mr_deregister(b.nic, &b.nmr);
out:
	printf("result=%s\n", rc ? "failed" : "ok");
	chan_destroy(b.host);
	chan_destroy(b.nic);
	verbs_listener_destroy(b.l);
	free(b.hmem);
	free(b.nmem);
	free(samples);
	return rc;
}
