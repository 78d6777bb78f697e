/*
 * nic.c: the NIC object and its poll loop. One poll, in the order a
 * packet's life needs it: DMA completions (they turn into TX frames),
 * wire receive, application commands, timers, transmit work, events to
 * the hosts, and finally the frames themselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bluetas.h"
#include "nic_internal.h"

void nic_default_config(struct nic_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ip = 0x0a000001;
	cfg->netmask = 0xffffff00;
	cfg->mss = 1448;
	cfg->max_flows = 4096;
	cfg->max_listeners = 64;
	cfg->staging_bytes = 512u << 10;
	cfg->rto_min_ns = 5ull * 1000 * 1000;
	cfg->rto_initial_ns = 20ull * 1000 * 1000;
	cfg->rto_max_ns = 2ull * 1000 * 1000 * 1000;
	cfg->max_retries = 12;
	cfg->syn_retries = 6;
	cfg->delayed_ack_ns = 200ull * 1000;
	cfg->time_wait_ns = 10ull * 1000 * 1000;
	cfg->fin_wait2_ns = 60ull * 1000 * 1000 * 1000;
	cfg->arp_timeout_ns = 100ull * 1000 * 1000;
	cfg->isn_seed = 1;
	cfg->cc = NIC_CC_DCTCP;
	cfg->initial_cwnd_segs = 10;
	cfg->ecn = true;
	cfg->timestamps = true;
	cfg->window_scaling = true;
	cfg->rcv_wscale = -1;
	cfg->sack = true;
	cfg->tlp = true;
	cfg->early_retransmit = true;
}

static int check_config(const struct nic_config *c, char *err, size_t err_len)
{
	const char *why = NULL;
	if (c->ip == 0)
		why = "ip must be set";
	else if (c->mss < 64 || c->mss > NETIF_FRAME_MAX_BYTES - 14 - 20 - 60)
		why = "mss must be within 64..9122";
	else if (c->max_flows == 0 || c->max_flows > (1u << 22))
		why = "max_flows must be within 1..4194304";
	else if (c->max_listeners == 0)
		why = "max_listeners must be at least 1";
	else if (c->staging_bytes < 4u * c->mss + 4096u)
		why = "staging_bytes must hold at least four segments";
	else if (c->rto_min_ns == 0 || c->rto_initial_ns < c->rto_min_ns || c->rto_max_ns < c->rto_initial_ns)
		why = "need 0 < rto_min <= rto_initial <= rto_max";
	else if (c->initial_cwnd_segs == 0)
		why = "initial_cwnd_segs must be at least 1";
	else if (c->static_arp_count > NIC_MAX_STATIC_ARP)
		why = "too many static ARP entries";
	else if (c->rcv_wscale > TCP_WSCALE_MAX)
		why = "rcv_wscale must be -1 or within 0..14";
	else if (c->opt_layout > TCP_LAYOUT_FREEBSD)
		why = "opt_layout must be an enum tcp_opt_layout";
	else if (c->cc == NIC_CC_CONST_RATE && c->const_rate_bps == 0)
		why = "const-rate congestion control needs const_rate_bps";
	if (why && err && err_len)
		snprintf(err, err_len, "nic config: %s", why);
	return why ? -1 : 0;
}

struct nic *nic_create(const struct nic_config *cfg, struct netif *wire, const struct bt_clock *clock,
		       char *err, size_t err_len)
{
	if (check_config(cfg, err, err_len) < 0)
		return NULL;
	struct nic *nic = calloc(1, sizeof(*nic));
	if (!nic)
		goto oom;
	nic->cfg = *cfg;
	nic->wire = wire;
	nic->clock = clock;
	netif_get_mac(wire, nic->mac);
	nic->flows = calloc(cfg->max_flows, sizeof(*nic->flows));
	uint32_t buckets = 1;
	while (buckets < cfg->max_flows * 2)
		buckets <<= 1;
	nic->hash_buckets = malloc(sizeof(*nic->hash_buckets) * buckets);
	nic->listeners = calloc(cfg->max_listeners, sizeof(*nic->listeners));
	if (!nic->flows || !nic->hash_buckets || !nic->listeners || timer_heap_init(&nic->timers, cfg->max_flows) < 0)
		goto oom;
	nic->hash_mask = buckets - 1;
	for (uint32_t i = 0; i < buckets; i++)
		nic->hash_buckets[i] = FLOW_NONE;
	nic->flow_free_head = FLOW_NONE; /* flow_alloc takes fresh slots from flows_hi */
	nic->flows_hi = 0;
	nic->tx_head = nic->tx_tail = FLOW_NONE;
	for (int i = 0; i < NIC_MAX_APPS; i++)
		nic->apps[i].notify_head = nic->apps[i].notify_tail = FLOW_NONE;
	arp_init(nic);
	nic->now_ns = bt_clock_now_ns(clock);
	return nic;
oom:
	if (err && err_len)
		snprintf(err, err_len, "nic: out of memory for %u flows", cfg->max_flows);
	if (nic) {
		free(nic->flows);
		free(nic->hash_buckets);
		free(nic->listeners);
		timer_heap_free(&nic->timers);
		free(nic);
	}
	return NULL;
}

static void app_free(struct nic *nic, int idx)
{
	struct nic_app *a = &nic->apps[idx];
	if (!a->in_use)
		return;
	sp_app_gone(nic, idx);
	dma_app_fini(a);
	free(a->slot_flow);
	free(a->slot_opts);
	memset(a, 0, sizeof(*a));
	a->notify_head = a->notify_tail = FLOW_NONE;
}

void nic_destroy(struct nic *nic)
{
	if (!nic)
		return;
	for (int i = 0; i < NIC_MAX_APPS; i++)
		app_free(nic, i);
	for (int i = 0; i < nic->txq_count; i++)
		netif_free(nic->wire, nic->txq[i]);
	for (uint32_t i = 0; i < nic->cfg.max_listeners; i++)
		free(nic->listeners[i].free_slots);
	free(nic->flows);
	free(nic->hash_buckets);
	free(nic->listeners);
	timer_heap_free(&nic->timers);
	free(nic);
}

int nic_attach_app(struct nic *nic, struct chan *ch)
{
	for (int i = 0; i < NIC_MAX_APPS; i++) {
		struct nic_app *a = &nic->apps[i];
		if (a->in_use)
			continue;
		memset(a, 0, sizeof(*a));
		a->in_use = true;
		a->ch = ch;
		if (i + 1 > nic->apps_hi)
			nic->apps_hi = i + 1;
		a->notify_head = a->notify_tail = FLOW_NONE;
		if (dma_app_init(nic, a) < 0) {
			dma_app_fini(a);
			memset(a, 0, sizeof(*a));
			a->notify_head = a->notify_tail = FLOW_NONE;
			return BT_ENOMEM;
		}
		return i;
	}
	return BT_ENOMEM;
}

void nic_detach_app(struct nic *nic, int idx)
{
	if (idx < 0 || idx >= NIC_MAX_APPS)
		return;
	app_free(nic, idx);
	fp_flush_txq(nic);
}

int nic_poll(struct nic *nic, uint64_t now_ns)
{
	int work = 0;
	nic->now_ns = now_ns;
	for (int i = 0; i < nic->apps_hi; i++) {
		struct nic_app *a = &nic->apps[i];
		if (!a->in_use)
			continue;
		if (a->broken) {
			/* The channel is gone: the application can no longer be
			 * served, the others must be. Reset its connections
			 * once and stop touching the link. */
			if (a->hello_done || a->slot_flow) {
				sp_app_gone(nic, i);
				free(a->slot_flow);
				free(a->slot_opts);
				a->slot_flow = NULL;
				a->slot_opts = NULL;
				a->hello_done = false;
				work++;
			}
			continue;
		}
		work += app_chan_poll(nic, i);
	}
	struct netif_buf *rx[NIC_RX_BURST];
	/* A wire that announces its next frame (the simulated one) has
	 * nothing to hand over before then; one that cannot tell (a real
	 * port says BT_TIME_NEVER) is always asked. */
	uint64_t rx_due = netif_next_rx_ns(nic->wire);
	for (int burst = 0; burst < 4 && (rx_due <= now_ns || rx_due == BT_TIME_NEVER); burst++) {
		int n = netif_rx_burst(nic->wire, rx, NIC_RX_BURST);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			nic->stats.rx_frames++;
			fp_rx_frame(nic, rx[i]->data, rx[i]->len, rx[i]->flags);
			netif_free(nic->wire, rx[i]);
		}
		work += n;
		if (n < NIC_RX_BURST)
			break;
	}
	/* Neither a timer due nor a flow to transmit: most polls. */
	if (timer_heap_peek_ns(&nic->timers) <= now_ns)
		work += sp_timers_run(nic);
	if (nic->tx_head != FLOW_NONE)
		work += fp_tx_run(nic);
	/* Most polls have no event to write: the flush is not even called. */
	for (int i = 0; i < nic->apps_hi; i++)
		if (nic->apps[i].in_use && !nic->apps[i].broken && nic->apps[i].notify_head != FLOW_NONE)
			work += app_events_flush(nic, i);
	work += fp_flush_txq(nic);
	return work;
}

uint64_t nic_next_event_ns(struct nic *nic)
{
	uint64_t next = timer_heap_peek_ns(&nic->timers);
	/* A stalled slow path runs nothing before the stall ends: report the
	 * end, not deadlines already past, or the loop would spin on them. */
	if (nic_slowpath_stalled(nic)) {
		if (next < nic->sp_stall_until_ns)
			next = nic->sp_stall_until_ns;
		for (int i = 0; i < nic->apps_hi; i++)
			if (nic->apps[i].in_use && nic->apps[i].has_deferred && nic->sp_stall_until_ns < next)
				next = nic->sp_stall_until_ns;
	}
	uint64_t rx = netif_next_rx_ns(nic->wire);
	if (rx < next)
		next = rx;
	for (int i = 0; i < nic->apps_hi; i++) {
		struct nic_app *a = &nic->apps[i];
		if (!a->in_use || a->broken)
			continue;
		uint64_t c = chan_next_event_ns(a->ch);
		if (c < next)
			next = c;
	}
	return next;
}

bool nic_waits(const struct nic *nic)
{
	/* The stall's end is no event: the deferred work is found by the
	 * first poll at or after it. */
	if (nic->sp_stall_until_ns && nic->now_ns < nic->sp_stall_until_ns)
		return false;
	/* Flows left on the transmit list after a poll were blocked (staging
	 * or the send queue full): every poll retries them and counts it
	 * (dma_sq_full), so a poll is never idle for them. */
	if (nic->tx_head != FLOW_NONE)
		return false;
	for (int i = 0; i < nic->apps_hi; i++) {
		const struct nic_app *a = &nic->apps[i];
		/* Found broken by a poll that did nothing else: the next poll
		 * resets its connections. */
		if (a->in_use && a->broken && (a->hello_done || a->slot_flow))
			return false;
	}
	return true;
}

void nic_get_stats(const struct nic *nic, struct nic_stats *out)
{
	*out = nic->stats;
}

bool nic_busy(const struct nic *nic)
{
	for (uint32_t i = 0; i < nic->flows_hi; i++) {
		const struct flow *f = &nic->flows[i];
		if (f->in_use && !f->retired && (f->tx_queued || f->snd_una != f->snd_max))
			return true;
	}
	return false;
}

void nic_stall_slowpath(struct nic *nic, uint64_t from_ns, uint64_t until_ns)
{
	nic->sp_stall_from_ns = from_ns;
	nic->sp_stall_until_ns = until_ns;
}
