/*
 * arp.c: the NIC answers ARP for its address and resolves next hops. The
 * BlueTAS prototype dropped traffic whenever its cache was empty; here a
 * miss sends a request and parks the connection (arp_wait) until the
 * reply, retried by the flow's timer (as often as a SYN would be), and
 * static entries never expire. Requests are coalesced per destination.
 *
 * This file keeps the cache and builds the frames; it sends nothing and
 * calls nothing above it. Its callers act on what it returns: fp_rx.c
 * sends the reply and wakes the flows a reply resolved (arp_rx's
 * result), sp_conn.c sends the request a lookup asks for
 * (sp_arp_lookup).
 */
#include <string.h>

#include "nic_internal.h"

enum { ARP_FREE = 0, ARP_PENDING = 1, ARP_RESOLVED = 2, ARP_STATIC = 3 };

void arp_init(struct nic *nic)
{
	memset(nic->arp, 0, sizeof(nic->arp));
	for (uint32_t i = 0; i < nic->cfg.static_arp_count && i < NIC_ARP_ENTRIES; i++) {
		nic->arp[i].ip = nic->cfg.static_arp[i].ip;
		memcpy(nic->arp[i].mac, nic->cfg.static_arp[i].mac, ETH_ADDR_BYTES);
		nic->arp[i].state = ARP_STATIC;
	}
}

uint32_t nic_next_hop(const struct nic *nic, uint32_t dst_ip)
{
	if ((dst_ip & nic->cfg.netmask) == (nic->cfg.ip & nic->cfg.netmask))
		return dst_ip;
	return nic->cfg.gateway;
}

static struct arp_entry *arp_find(struct nic *nic, uint32_t ip)
{
	for (int i = 0; i < NIC_ARP_ENTRIES; i++)
		if (nic->arp[i].state != ARP_FREE && nic->arp[i].ip == ip)
			return &nic->arp[i];
	return NULL;
}

static struct arp_entry *arp_slot(struct nic *nic, uint32_t ip)
{
	struct arp_entry *e = arp_find(nic, ip);
	if (e)
		return e;
	for (int i = 0; i < NIC_ARP_ENTRIES; i++)
		if (nic->arp[i].state == ARP_FREE)
			return &nic->arp[i];
	/* Full: evict a dynamic entry chosen by address, deterministically. */
	for (int i = 0; i < NIC_ARP_ENTRIES; i++) {
		struct arp_entry *cand = &nic->arp[(ip + (uint32_t)i) % NIC_ARP_ENTRIES];
		if (cand->state == ARP_RESOLVED)
			return cand;
	}
	return NULL;
}

int arp_lookup(struct nic *nic, uint32_t ip, uint8_t mac_out[6], struct arp_frame *request)
{
	request->len = 0;
	struct arp_entry *e = arp_find(nic, ip);
	if (e && (e->state == ARP_RESOLVED || e->state == ARP_STATIC)) {
		memcpy(mac_out, e->mac, ETH_ADDR_BYTES);
		return 1;
	}
	/* One request per destination per arp_timeout, however many
	 * connections wait for it: under loss every pending connection's
	 * retry would otherwise send its own request at the same instant.
	 * deadline_ns is when the request in flight counts as lost; the
	 * first asker after it asks again. */
	uint64_t now = nic_now(nic);
	if (e && e->state == ARP_PENDING && now < e->deadline_ns)
		return 0;
	if (!e)
		e = arp_slot(nic, ip);
	if (e) {
		memset(e, 0, sizeof(*e));
		e->ip = ip;
		e->state = ARP_PENDING;
		e->deadline_ns = now + nic->cfg.arp_timeout_ns;
	}
	int n = arp_build_frame(request->bytes, sizeof(request->bytes), ARP_OP_REQUEST, nic->mac, nic->cfg.ip, NULL, ip);
	request->len = n > 0 ? (uint16_t)n : 0;
	return 0;
}

bool arp_learn(struct nic *nic, uint32_t ip, const uint8_t mac[6])
{
	if (ip == 0 || eth_is_broadcast(mac))
		return false;
	struct arp_entry *e = arp_slot(nic, ip);
	if (!e || e->state == ARP_STATIC)
		return false;
	bool was_pending = e->ip == ip && e->state == ARP_PENDING;
	e->ip = ip;
	memcpy(e->mac, mac, ETH_ADDR_BYTES);
	e->state = ARP_RESOLVED;
	return was_pending;
}

void arp_rx(struct nic *nic, const uint8_t *pkt, size_t len, struct arp_rx_result *out)
{
	out->resolved_ip = 0;
	out->reply.len = 0;
	struct arp_view arp;
	if (arp_parse(pkt, len, &arp) < 0) {
		nic->stats.rx_bad_eth++;
		return;
	}
	bool for_us = arp.target_ip == nic->cfg.ip;
	/* RFC 826: update an entry we have; add one only if we are the target. */
	if ((for_us || arp_find(nic, arp.sender_ip)) && arp_learn(nic, arp.sender_ip, arp.sender_mac))
		out->resolved_ip = arp.sender_ip;
	if (arp.op == ARP_OP_REQUEST && for_us) {
		int n = arp_build_frame(out->reply.bytes, sizeof(out->reply.bytes), ARP_OP_REPLY, nic->mac, nic->cfg.ip,
					arp.sender_mac, arp.sender_ip);
		out->reply.len = n > 0 ? (uint16_t)n : 0;
	} else if (!for_us) {
		nic->stats.rx_not_for_us++;
	}
}
