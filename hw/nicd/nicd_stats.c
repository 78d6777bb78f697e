/*
 * nicd_stats.c: `bluetas nic --stats`: every counter of the NIC, the
 * port, the fault injector, the in-process host library, the daemon's
 * application bookkeeping and the application, one "stat.NAME=VALUE"
 * line each on stdout.
 */
#include <inttypes.h>
#include <stdio.h>

#include "nicd.h"

/* Every counter, one per line. The NIC, fault injector and host library
 * counters come from their structs' field lists (NIC_STATS_FIELDS_*,
 * NETIF_FAULT_STATS_FIELDS, BT_HOST_STATS_FIELDS_*), so a new field is
 * printed without an edit here; tests/interop/run.sh checks that each
 * field of struct nic_stats is documented in docs/dpdk.md. */
#define STAT(prefix, s, field) printf("stat." prefix "." #field "=%" PRIu64 "\n", (uint64_t)(s).field)

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
	STAT("netif", w, rx_frames);
	STAT("netif", w, rx_bytes);
	STAT("netif", w, tx_frames);
	STAT("netif", w, tx_bytes);
	STAT("netif", w, tx_dropped);
	STAT("netif", w, alloc_failed);
	struct dpdk_netif_stats x;
	dpdk_netif_get_ext_stats(d->dpdk, &x);
	STAT("dpdk", x, rx_multiseg_dropped);
	STAT("dpdk", x, rx_partial_csum_fixed);
	STAT("dpdk", x, tx_full_retries);
	STAT("dpdk", x, tx_oversize_dropped);
	STAT("dpdk", x, pmd_ipackets);
	STAT("dpdk", x, pmd_opackets);
	STAT("dpdk", x, pmd_ibytes);
	STAT("dpdk", x, pmd_obytes);
	STAT("dpdk", x, pmd_imissed);
	STAT("dpdk", x, pmd_ierrors);
	STAT("dpdk", x, pmd_oerrors);
	STAT("dpdk", x, pmd_rx_nombuf);
	if (d->fault) {
		struct netif_fault_stats f;
		netif_fault_get_stats(d->fault, &f);
#define FAULT_STAT(field) STAT("fault", f, field);
		NETIF_FAULT_STATS_FIELDS(FAULT_STAT)
#undef FAULT_STAT
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
