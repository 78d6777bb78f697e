/*
 * nicd_stats.c: `bluetas nic --stats`: every counter of the NIC, the
 * port, the fault injector, the in-process host library, the daemon's
 * application bookkeeping and the application, one "stat.NAME=VALUE"
 * line each on stdout.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../../transports/chan_stats.h"
#include "../rt/rt.h"

#include "nicd.h"

/* Every counter, one per line, each group from its struct's field list
 * (NIC_STATS_FIELDS_*, NETIF_STATS_FIELDS, DPDK_NETIF_STATS_FIELDS,
 * CHAN_STATS_FIELDS, NETIF_FAULT_STATS_FIELDS, BT_HOST_STATS_FIELDS_*),
 * so a new field is printed without an edit here and no hand list can
 * drift; tests/interop/run.sh checks that each one is documented in
 * docs/dpdk.md, tests/preflight/run.sh that each field is printed. */
#define STAT(prefix, s, field) printf("stat." prefix "." #field "=%" PRIu64 "\n", (uint64_t)(s).field)
#define COUNT_FIELD_(f) +1
static_assert(sizeof(struct netif_stats) == 8 * (0 NETIF_STATS_FIELDS(COUNT_FIELD_)),
	      "NETIF_STATS_FIELDS must list every field of struct netif_stats");
static_assert(sizeof(struct dpdk_netif_stats) == 8 * (0 DPDK_NETIF_STATS_FIELDS(COUNT_FIELD_)),
	      "DPDK_NETIF_STATS_FIELDS must list every field of struct dpdk_netif_stats");

/* The in-process application's shm channel, by the same field names. */
static void inproc_chan_stats(const struct shm_link *link, struct chan_stats *out)
{
	struct shm_link_stats st;
	shm_link_stats(link, &st);
#define COPY_FIELD(f) out->f = st.f;
	CHAN_STATS_FIELDS(COPY_FIELD)
#undef COPY_FIELD
}

void nicd_print_stats(struct daemon *d)
{
	struct nic_stats n;
	nic_get_stats(d->nic, &n);
#define NIC_STAT(field) STAT("nic", n, field);
	NIC_STATS_FIELDS_U64(NIC_STAT)
	NIC_STATS_FIELDS_U32(NIC_STAT)
#undef NIC_STAT

	struct netif_stats w;
	netif_get_stats(d->dpdk, &w);
#define NETIF_STAT(field) STAT("netif", w, field);
	NETIF_STATS_FIELDS(NETIF_STAT)
#undef NETIF_STAT
	struct dpdk_netif_stats x;
	dpdk_netif_get_ext_stats(d->dpdk, &x);
#define DPDK_STAT(field) STAT("dpdk", x, field);
	DPDK_NETIF_STATS_FIELDS(DPDK_STAT)
#undef DPDK_STAT
	if (d->fault) {
		struct netif_fault_stats f;
		netif_fault_get_stats(d->fault, &f);
#define FAULT_STAT(field) STAT("fault", f, field);
		NETIF_FAULT_STATS_FIELDS(FAULT_STAT)
#undef FAULT_STAT
	}
	if (d->chan) {
		struct chan_stats c;
		memset(&c, 0, sizeof(c));
		inproc_chan_stats(d->chan, &c);
#define CHAN_STAT(field) STAT("chan", c, field);
		CHAN_STATS_FIELDS(CHAN_STAT)
#undef CHAN_STAT
	}
	if (d->listener || d->ipc_listener) {
		/* Every external application's channel: those gone, summed at
		 * detach, and those still attached. */
		struct chan_stats c = d->ext_chan_detached;
		for (int i = 0; i < NIC_MAX_APPS; i++)
			rt_chan_stats_add(d->ext[i].ch, &c);
#define CHAN_STAT(field) STAT("chan_ext", c, field);
		CHAN_STATS_FIELDS(CHAN_STAT)
#undef CHAN_STAT
	}
	if (d->host) {
		struct bt_host_stats h;
		bt_host_stats(d->host, &h);
#define HOST_STAT(field) STAT("host", h, field);
		BT_HOST_STATS_FIELDS_U64(HOST_STAT)
		BT_HOST_STATS_FIELDS_U32(HOST_STAT)
#undef HOST_STAT
	}
	STAT("daemon", *d, apps_attached);
	STAT("daemon", *d, apps_detached);
	STAT("daemon", *d, apps_refused);
	STAT("daemon", *d, apps_active);
	STAT("daemon", *d, apps_flows_reset);
	if (d->app)
		rt_app_print_stats(d->app);
	fflush(stdout);
}
