/*
 * rxe_channels.c: application channels over RDMA verbs for `bluetas run
 * --backend rxe`: a scenario's host and NIC ends become two ends of real
 * RC connections between the topology's two RDMA addresses (Soft-RoCE in
 * the VM, or any RDMA NIC), one connection per application, so the
 * device itself carries every doorbell, event and payload byte and checks
 * every key. Lives in the CLI, which links verbs; the engine only sees the
 * factory.
 */
#include "rxe_channels.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../transports/verbs/verbs_chan.h"
#include "../rt/rt.h"

#define CONNECT_TIMEOUT_MS 10000

struct rxe_channels {
	struct scn_chan_factory factory;
	char nic_addr[64], host_addr[64];
	struct verbs_listener *listener;
	uint16_t port;
};

struct accept_job {
	struct rxe_channels *rc;
	struct chan *ch;
	char err[256];
};

static void *accept_one(void *arg)
{
	struct accept_job *job = arg;
	job->ch = verbs_accept(job->rc->listener, CONNECT_TIMEOUT_MS, job->err, sizeof(job->err));
	return NULL;
}

/* Both ends live in this process: the NIC end is accepted on a helper
 * thread while this thread connects, since each side blocks until the
 * other has answered. */
static int make_pair(void *ctx, uint32_t app_index, struct chan **host_end, struct chan **nic_end, char *err,
		     size_t err_len)
{
	struct rxe_channels *rc = ctx;
	struct verbs_params p;
	verbs_default_params(&p);
	if (!rc->listener) {
		rc->listener = verbs_listen(rc->nic_addr, 0, &p, err, err_len);
		if (!rc->listener)
			return -1;
		rc->port = verbs_listener_port(rc->listener);
	}
	struct accept_job job = {.rc = rc};
	pthread_t t;
	if (pthread_create(&t, NULL, accept_one, &job) != 0) {
		snprintf(err, err_len, "app %u: cannot start the accepting thread", app_index);
		return -1;
	}
	p.src_addr = rc->host_addr;
	char cerr[256] = "";
	struct chan *host = verbs_connect(rc->nic_addr, rc->port, &p, CONNECT_TIMEOUT_MS, cerr, sizeof(cerr));
	pthread_join(t, NULL);
	if (!host || !job.ch) {
		snprintf(err, err_len, "app %u: verbs channel %s -> %s:%u: %s", app_index, rc->host_addr, rc->nic_addr,
			 rc->port, !host ? cerr : job.err);
		if (host)
			chan_destroy(host);
		if (job.ch)
			chan_destroy(job.ch);
		return -1;
	}
	*host_end = host;
	*nic_end = job.ch;
	return 0;
}

/* Verbs counts operations per end; the NIC end does the one-sided
 * operations (it is the active side) but either end's count is kept. A
 * refused remote access breaks the queue pair with CHAN_EACCESS: one per
 * broken end. Bytes are not counted by the verbs backend (left 0). */
static void pair_stats(void *ctx, struct chan *host_end, struct chan *nic_end, struct chan_stats *out)
{
	(void)ctx;
	rt_chan_stats_add(host_end, out); /* the one mapping of verbs' counters */
	rt_chan_stats_add(nic_end, out);
}

static void destroy_pair(void *ctx, struct chan *host_end, struct chan *nic_end)
{
	(void)ctx;
	if (host_end)
		chan_destroy(host_end);
	if (nic_end)
		chan_destroy(nic_end);
}

static void copy_env(char *dst, size_t cap, const char *name, const char *fallback)
{
	const char *v = getenv(name);
	snprintf(dst, cap, "%s", v && *v ? v : fallback);
}

const struct scn_chan_factory *rxe_channels_create(struct rxe_channels **out, char *err, size_t err_len)
{
	if (verbs_device_count() <= 0) {
		snprintf(err, err_len, "--backend rxe: no RDMA device here (run it where Soft-RoCE is up: "
				       "make test-rxe, or bash ci/rxe-vm.sh build/bluetas run ...)");
		return NULL;
	}
	struct rxe_channels *rc = calloc(1, sizeof(*rc));
	if (!rc) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	/* The emu topology's addresses (ci/rxe-topology.sh exports them). */
	copy_env(rc->nic_addr, sizeof(rc->nic_addr), "RXE_NIC_IP", "10.10.0.2");
	copy_env(rc->host_addr, sizeof(rc->host_addr), "RXE_HOST_IP", "10.10.0.1");
	rc->factory = (struct scn_chan_factory){.name = "rxe",
						.make_pair = make_pair,
						.stats = pair_stats,
						.destroy_pair = destroy_pair,
						.ctx = rc};
	*out = rc;
	return &rc->factory;
}

void rxe_channels_destroy(struct rxe_channels *rc)
{
	if (!rc)
		return;
	if (rc->listener)
		verbs_listener_destroy(rc->listener);
	free(rc);
}
