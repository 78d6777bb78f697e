/*
 * nicd_stats.c: `bluetas nic --stats`: every counter of the NIC, the
 * port, the fault injector, the in-process host library, the daemon's
 * application bookkeeping and the application, one "stat.NAME=VALUE"
 * line each on stdout.
 */
#include <inttypes.h>
#include <stdio.h>

#include "nicd.h"

/* Every counter, one per line. tests/interop/run.sh checks that each
 * field of struct nic_stats is printed here and documented in
 * docs/dpdk.md, so a new counter cannot be forgotten silently. */
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
		STAT("fault", f, lost);
		STAT("fault", f, burst_lost);
		STAT("fault", f, duplicated);
		STAT("fault", f, corrupted);
		STAT("fault", f, truncated);
		STAT("fault", f, reordered);
		STAT("fault", f, delayed);
		STAT("fault", f, partitioned);
		STAT("fault", f, hold_overflow);
		STAT("fault", f, rx_lost_payload_bytes);
		STAT("fault", f, tx_lost_payload_bytes);
	}
	if (d->host) {
		struct bt_host_stats h;
		bt_host_stats(d->host, &h);
		STAT("host", h, events_consumed);
		STAT("host", h, doorbells_sent);
		STAT("host", h, doorbells_deferred);
		STAT("host", h, doorbells_refreshed);
		STAT("host", h, arms_deferred);
		STAT("host", h, waits_timed_out);
		STAT("host", h, lost_wakeups);
		STAT("host", h, tx_bytes);
		STAT("host", h, rx_bytes);
		STAT("host", h, conns_in_use);
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
