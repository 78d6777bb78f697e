/*
 * host_hops.c: the host library's points of the RPC hop trace
 * (core/util/hop_trace.h). Called only when a recorder is set (h->hops),
 * so a host without one pays a pointer test per hop. Offsets are the
 * connection's TX and RX totals, which the NIC knows as stream offsets.
 */
#include "host_internal.h"

void bt_host_set_hop_trace(struct bt_host *h, struct hop_trace *t)
{
	h->hops = t;
}

uint64_t host_hop_now(const struct bt_host *h)
{
	return bt_clock_now_ns(h->clock);
}

void host_hop(struct bt_host *h, const struct host_conn *c, enum hop_point p, uint32_t off_end, uint64_t t_ns)
{
	/* The ports come with the connection info; before it nothing of an
	 * RPC can pass. */
	if (!c->has_info)
		return;
	hop_record(h->hops, p, hop_conn_key(c->info.local_port, c->info.remote_port), off_end, t_ns, 0);
}

void host_hop_event_seen(struct bt_host *h, const struct host_conn *c, uint32_t off_end)
{
	if (!c->has_info)
		return;
	uint64_t now = host_hop_now(h);
	uint32_t conn = hop_conn_key(c->info.local_port, c->info.remote_port);
	/* The first event after a wait is the one the wait was for (or came
	 * too early for: the joiner tells); later ones found the host awake. */
	if (h->hop_woke_ns) {
		hop_record(h->hops, HOP_WOKE, conn, off_end, h->hop_woke_ns, h->hop_woke_flags);
		h->hop_woke_ns = 0;
	} else {
		hop_record(h->hops, HOP_WOKE, conn, off_end, now, 0);
	}
	hop_record(h->hops, HOP_EV_SEEN, conn, off_end, now, 0);
}

void host_hop_woke(struct bt_host *h, uint8_t flags)
{
	h->hop_woke_ns = host_hop_now(h);
	h->hop_woke_flags = flags;
}
