/* host_describe.c: the host library's state in words, for deadlock reports. */
#include <stdio.h>
#include <string.h>

#include "host_internal.h"
#include "../util/appendf.h"

void bt_host_describe(const struct bt_host *h, char *buf, size_t cap)
{
	size_t len = strlen(buf);
#define APPEND(...) (len = bt_appendf(buf, cap, len, __VA_ARGS__))
	APPEND("host library: %s; events consumed %u (credits returned up to %u); doorbells sent %llu, "
	       "deferred %llu, refreshed %llu; connections in use %u; %s; waits ended by timeout %llu, "
	       "with work waiting (lost wakeups) %llu\n",
	       h->broken ? "CHANNEL BROKEN" : "ok", h->ev_consumed, h->ev_reported,
	       (unsigned long long)h->stats.doorbells_sent, (unsigned long long)h->stats.doorbells_deferred,
	       (unsigned long long)h->stats.doorbells_refreshed, h->stats.conns_in_use,
	       h->arm_owed ? "ARM NOT POSTED (no credit)" : "no ARM owed",
	       (unsigned long long)h->stats.waits_timed_out, (unsigned long long)h->stats.lost_wakeups);
	static const char *const states[] = {"free", "connecting", "accept slot", "accepted", "open"};
	for (uint32_t i = 0; i < h->cfg.max_conns; i++) {
		const struct host_conn *c = &h->conns[i];
		if (!c->allocated || c->state == SLOT_POSTED)
			continue;
		APPEND("  conn %u: %s%s%s, rx ready %u, tx used %u of %u, doorbell %u confirmed %u, owed: %s%s%s%s%s\n",
		       i, states[c->state], c->app_closed ? ", closed by app" : "",
		       c->nic_released ? ", released by NIC" : "", c->rx_ready, c->tx_used, h->cfg.tx_ring_bytes,
		       c->db_seq, c->db_seen, c->connect_owed ? "CONNECT " : "", c->doorbell_owed ? "DOORBELL " : "",
		       c->close_owed ? "CLOSE " : "", c->abort_owed ? "ABORT " : "",
		       c->in_dirty ? "(on the dirty list)" : "nothing");
	}
#undef APPEND
}
