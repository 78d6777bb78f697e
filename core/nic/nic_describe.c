/*
 * nic_describe.c: the NIC's state in words, for deadlock reports. For each
 * flow it names what the flow is waiting for, so a report answers "who
 * waits on whom" without a debugger.
 */
#include <stdio.h>
#include <string.h>

#include "nic_internal.h"
#include "../util/appendf.h"

#define APPEND(...) (len = bt_appendf(buf, cap, len, __VA_ARGS__))

static double in_ms(uint64_t deadline, uint64_t now)
{
	return deadline > now ? (double)(deadline - now) / 1e6 : 0.0;
}

static const char *waiting_for(const struct nic *nic, const struct flow *f)
{
	uint32_t unsent = f->tx_queued - (f->snd_nxt - f->snd_una);
	if (f->state == TCP_SYN_SENT)
		return f->arp_wait ? "ARP reply for the next hop" : "SYN-ACK from the peer";
	if (f->state == TCP_SYN_RCVD)
		return "the final ACK of the handshake";
	if (f->state == TCP_TIME_WAIT)
		return "TIME_WAIT expiry";
	/* A shut window first: the byte in flight is then only a probe. */
	if (f->rings_attached && unsent && f->snd_wnd == 0)
		return "the peer to open its window (zero-window probes)";
	if (f->snd_una != f->snd_max)
		return "ACK from the peer for bytes in flight";
	if (f->rings_attached && unsent && f->tx_inflight_reads)
		return "DMA READs of TX payload";
	if (f->rings_attached && f->rx_avail == 0)
		return "the host application to read (RX ring full, our window 0)";
	if (f->in_notify)
		return "event-ring credits from the host to notify it";
	(void)nic;
	return "nothing on this side (idle)";
}

void nic_describe(const struct nic *nic, char *buf, size_t cap)
{
	size_t len = strlen(buf);
	uint64_t now = nic->now_ns;
	APPEND("flows active %u; slow path stalled until %.3f ms\n", nic->stats.flows_active,
	       nic->sp_stall_until_ns > now ? (double)nic->sp_stall_until_ns / 1e6 : 0.0);
	for (uint32_t i = 0; i < nic->flows_hi; i++) {
		const struct flow *f = &nic->flows[i];
		if (!f->in_use)
			continue;
		char local[16], remote[16];
		ipv4_to_str(f->local_ip, local);
		ipv4_to_str(f->remote_ip, remote);
		APPEND("flow %u %s:%u -> %s:%u %s app %u slot %d%s\n", i, local, f->local_port, remote,
		       f->remote_port, tcp_state_name(f->state), f->app,
		       f->host_slot == FLOW_NONE ? -1 : (int)f->host_slot, f->rings_attached ? "" : " (rings released)");
		APPEND("  tx: queued %u, in flight %u, unsent %u, peer window %u, cwnd %u, reads in flight %u%s\n",
		       f->tx_queued, f->snd_max - f->snd_una, f->tx_queued - (f->snd_nxt - f->snd_una), f->snd_wnd,
		       f->cwnd, f->tx_inflight_reads, f->app_closed ? ", app closed (FIN owed)" : "");
		uint32_t ooo_bytes = 0;
		for (uint8_t k = 0; k < f->rx_ooo.count; k++)
			ooo_bytes += f->rx_ooo.iv[k].end - f->rx_ooo.iv[k].start;
		APPEND("  rx: our window %u of %u, unread by app %u, out-of-order %u bytes in %u intervals%s\n",
		       f->rx_avail, f->rx_ring_len, f->rx_ring_len - f->rx_avail, ooo_bytes, f->rx_ooo.count,
		       f->fin_received ? ", FIN received" : "");
		if (f->sack_ok)
			APPEND("  sack: %u intervals SACKed by the peer%s\n", f->tx_sack.count,
			       f->tx_sack.in_recovery ? ", in loss recovery" : "");
		APPEND("  timers: rto %s%.3f ms, persist %s%.3f ms, delayed ACK %s; retries %u\n",
		       f->rto_deadline_ns ? "in " : "off ", in_ms(f->rto_deadline_ns, now),
		       f->persist_deadline_ns ? "in " : "off ", in_ms(f->persist_deadline_ns, now),
		       f->delack_deadline_ns ? "armed" : "off", f->retries);
		APPEND("  waiting for: %s\n", waiting_for(nic, f));
	}
	for (int i = 0; i < NIC_MAX_APPS; i++) {
		const struct nic_app *a = &nic->apps[i];
		if (!a->in_use)
			continue;
		uint32_t credits = a->hello_done ? a->hello.event_entries - (uint32_t)(a->ev_produced - a->ev_consumed) : 0;
		APPEND("app %d: %s; events written %llu, consumed %llu, credits %u; wakeup %s; "
		       "staging head %u tail %u of %u; operations in flight %u/%u; notify list %s\n",
		       i, a->broken ? "CHANNEL BROKEN" : a->hello_done ? "attached" : "waiting for HELLO",
		       (unsigned long long)a->ev_produced, (unsigned long long)a->ev_consumed, credits,
		       a->wakeup_owed ? "OWED (no credit yet)" : a->armed ? "armed (host asleep)" : "not armed",
		       a->staging_head, a->staging_tail, a->staging_len, a->ops_count, a->ops_cap, a->notify_head == FLOW_NONE ? "empty" : "waiting");
	}
}

uint32_t nic_flow_samples(const struct nic *nic, struct nic_flow_sample *out, uint32_t max)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < nic->flows_hi && n < max; i++) {
		const struct flow *f = &nic->flows[i];
		if (!f->in_use || f->retired)
			continue;
		out[n++] = (struct nic_flow_sample){
			.index = i,
			.gen = f->gen,
			.remote_ip = f->remote_ip,
			.local_port = f->local_port,
			.remote_port = f->remote_port,
			.state = tcp_state_name(f->state),
			.cwnd_bytes = f->cwnd,
			.ssthresh_bytes = f->ssthresh,
			.in_flight_bytes = f->snd_max - f->snd_una,
			.snd_wnd_bytes = f->snd_wnd,
			.rcv_wnd_bytes = f->rx_avail,
			.tx_queued_bytes = f->tx_queued,
			.srtt_us = f->srtt_us,
			.retries = f->retries,
			.snd_una = f->snd_una,
		};
	}
	return n;
}
