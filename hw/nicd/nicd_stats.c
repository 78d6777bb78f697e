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
	RT_PRINT_STATS("nic", struct nic_stats, &n, NIC_STATS_FIELDS_U64);
	RT_PRINT_STATS("nic", struct nic_stats, &n, NIC_STATS_FIELDS_U32);

	struct netif_stats w;
	netif_get_stats(d->dpdk, &w);
	RT_PRINT_STATS("netif", struct netif_stats, &w, NETIF_STATS_FIELDS);
	struct dpdk_netif_stats x;
	dpdk_netif_get_ext_stats(d->dpdk, &x);
	RT_PRINT_STATS("dpdk", struct dpdk_netif_stats, &x, DPDK_NETIF_STATS_FIELDS);
	if (d->fault) {
		struct netif_fault_stats f;
		netif_fault_get_stats(d->fault, &f);
		RT_PRINT_STATS("fault", struct netif_fault_stats, &f, NETIF_FAULT_STATS_FIELDS);
	}
	if (d->chan) {
		struct chan_stats c;
		memset(&c, 0, sizeof(c));
		inproc_chan_stats(d->chan, &c);
		RT_PRINT_STATS("chan", struct chan_stats, &c, CHAN_STATS_FIELDS);
	}
	if (d->listener || d->ipc_listener) {
		/* Every external application's channel: those gone, summed at
		 * detach, and those still attached. */
		struct chan_stats c = d->ext_chan_detached;
		for (int i = 0; i < NIC_MAX_APPS; i++)
			rt_chan_stats_add(d->ext[i].ch, &c);
		RT_PRINT_STATS("chan_ext", struct chan_stats, &c, CHAN_STATS_FIELDS);
	}
	if (d->host) {
		struct bt_host_stats h;
		bt_host_stats(d->host, &h);
		RT_PRINT_STATS("host", struct bt_host_stats, &h, BT_HOST_STATS_FIELDS_U64);
		RT_PRINT_STATS("host", struct bt_host_stats, &h, BT_HOST_STATS_FIELDS_U32);
	}
	RT_STAT("daemon", *d, apps_attached);
	RT_STAT("daemon", *d, apps_detached);
	RT_STAT("daemon", *d, apps_refused);
	RT_STAT("daemon", *d, apps_active);
	RT_STAT("daemon", *d, apps_flows_reset);
	RT_STAT("daemon", *d, loop_passes);
	RT_STAT("daemon", *d, loop_yields);
	RT_STAT("daemon", *d, loop_sleeps);
	RT_STAT("daemon", *d, loop_ns);
	if (d->app)
		rt_app_print_stats(d->app);
	fflush(stdout);
}
