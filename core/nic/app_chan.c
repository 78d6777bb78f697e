/*
 * app_chan.c: the NIC's side of one application's channel. Commands come
 * in as messages and are validated before anything acts on them (the
 * application is not trusted: a bad flow id, slot or byte count is
 * counted and refused). Events go out as one-sided WRITEs into the host's
 * event ring, one coalesced event per flow, only into slots the host has
 * given back (credits), followed by a WAKEUP message if the host armed one.
 */
#include <stdlib.h>
#include <string.h>

#include "../bluetas.h"
#include "nic_internal.h"

void app_notify(struct nic *nic, uint32_t fi, uint16_t flags, int32_t status)
{
	struct flow *f = &nic->flows[fi];
	f->ev_flags |= flags;
	if (status)
		f->ev_status = status;
	if (f->in_notify || f->host_slot == FLOW_NONE)
		return;
	struct nic_app *a = &nic->apps[f->app];
	f->in_notify = true;
	f->notify_next = FLOW_NONE;
	if (a->notify_tail == FLOW_NONE)
		a->notify_head = fi;
	else
		nic->flows[a->notify_tail].notify_next = fi;
	a->notify_tail = fi;
}

static int write_event(struct nic *nic, int app, const struct ctxq_event *ev_in)
{
	struct nic_app *a = &nic->apps[app];
	uint32_t entries = a->hello.event_entries;
	if ((uint32_t)(a->ev_produced - a->ev_consumed) >= entries)
		return CHAN_EAGAIN;
	uint32_t staging_off;
	if (dma_sq_free(a) < 1 || dma_reserve(a, CTXQ_EVENT_BYTES, &staging_off) < 0)
		return CHAN_EAGAIN;
	struct ctxq_event ev = *ev_in;
	ev.phase = ctxq_phase_for(a->ev_produced, entries);
	memcpy(a->staging + staging_off, &ev, sizeof(ev));
	struct dma_op meta = {.flow = FLOW_NONE};
	uint64_t slot_off = (a->ev_produced % entries) * (uint64_t)CTXQ_EVENT_BYTES;
	int rc = dma_post(nic, app, DMA_EV_WRITE, false, staging_off, slot_off, CTXQ_EVENT_BYTES, &meta);
	if (rc != CHAN_OK)
		return rc;
	a->ev_produced++;
	nic->stats.events_written++;
	return CHAN_OK;
}

void app_refuse(struct nic *nic, int app, uint32_t host_conn, uint16_t flags, int status)
{
	/* A refusal has no flow to coalesce into; if the ring is full it is
	 * lost, which only an application that ignores its own events can
	 * cause, and it is counted. */
	struct ctxq_event ev = {.flow_id = FLOW_NONE, .host_conn = host_conn, .flags = flags, .status = status};
	nic->stats.cmds_invalid++;
	if (!nic->apps[app].hello_done)
		return;
	write_event(nic, app, &ev);
}

int app_events_flush(struct nic *nic, int app)
{
	struct nic_app *a = &nic->apps[app];
	int work = 0;
	if (!a->hello_done || a->broken)
		return 0;
	while (a->notify_head != FLOW_NONE) {
		uint32_t fi = a->notify_head;
		struct flow *f = &nic->flows[fi];
		struct ctxq_event ev = {
			.flow_id = fi,
			.host_conn = f->host_slot,
			.rx_bytes = f->ev_rx_bytes,
			.tx_freed = f->ev_tx_freed,
			.status = f->ev_status,
			.listener = f->listener == FLOW_NONE ? 0 : nic->listeners[f->listener].host_id,
			.flags = f->ev_flags,
		};
		if (write_event(nic, app, &ev) != CHAN_OK)
			break;
		a->notify_head = f->notify_next;
		if (a->notify_head == FLOW_NONE)
			a->notify_tail = FLOW_NONE;
		f->in_notify = false;
		f->ev_rx_bytes = f->ev_tx_freed = 0;
		f->ev_flags = 0;
		f->ev_status = 0;
		flow_free_if_retired(nic, fi);
		work++;
	}
	if (work && a->armed) {
		struct ctxq_wakeup w = {.type = CTXQ_WAKEUP, .ev_produced = (uint32_t)a->ev_produced};
		if (chan_post_msg(a->ch, &w, sizeof(w)) == CHAN_OK) {
			a->armed = false;
			nic->stats.wakeups_sent++;
		}
	}
	return work;
}

static bool hello_valid(const struct ctxq_hello *h)
{
	if (h->version != CTXQ_VERSION || h->event_entries == 0 || h->event_entries > (1u << 20))
		return false;
	if (h->rx_ring_bytes < 64 || h->tx_ring_bytes < 64 || h->max_conns == 0)
		return false;
	if (h->rx_ring_bytes > (1u << 30) || h->tx_ring_bytes > (1u << 30) || h->max_conns > (1u << 20))
		return false;
	return ctxq_region_bytes(h) <= h->region_len;
}

static void handle_hello(struct nic *nic, int app, const uint8_t *msg, uint32_t len)
{
	struct nic_app *a = &nic->apps[app];
	struct ctxq_hello h;
	if (len != sizeof(h) || a->hello_done) {
		nic->stats.cmds_invalid++;
		return;
	}
	memcpy(&h, msg, sizeof(h));
	if (!hello_valid(&h)) {
		nic->stats.cmds_invalid++;
		return;
	}
	a->slot_flow = malloc(sizeof(*a->slot_flow) * h.max_conns);
	if (!a->slot_flow) {
		nic->stats.cmds_invalid++;
		return;
	}
	for (uint32_t i = 0; i < h.max_conns; i++)
		a->slot_flow[i] = FLOW_NONE;
	a->hello = h;
	a->host_mr = (struct chan_remote_mr){.addr = h.region_addr, .len_bytes = h.region_len, .rkey = h.region_rkey};
	a->hello_done = true;
}

/* The flow a data command names, if it really belongs to this app. */
static uint32_t cmd_flow(struct nic *nic, int app, const struct ctxq_cmd *cmd)
{
	if (cmd->flow_id >= nic->cfg.max_flows)
		return FLOW_NONE;
	struct flow *f = &nic->flows[cmd->flow_id];
	if (!f->in_use || f->app != app || f->host_slot != cmd->host_conn || !f->rings_attached)
		return FLOW_NONE;
	return cmd->flow_id;
}

static void handle_cmd(struct nic *nic, int app, const struct ctxq_cmd *cmd)
{
	struct nic_app *a = &nic->apps[app];
	/* Credits only move forward, and never past what was produced. */
	uint32_t returned = cmd->ev_consumed - (uint32_t)a->ev_consumed;
	if (returned <= (uint32_t)(a->ev_produced - a->ev_consumed))
		a->ev_consumed += returned;
	nic->stats.cmds++;
	uint32_t fi;
	switch (cmd->type) {
	case CTXQ_EV_CREDIT:
		return;
	case CTXQ_ARM:
		a->armed = true;
		return;
	case CTXQ_LISTEN:
		sp_cmd_listen(nic, app, cmd);
		return;
	case CTXQ_ACCEPT_SLOT:
		sp_cmd_accept_slot(nic, app, cmd);
		return;
	case CTXQ_CONNECT:
		sp_cmd_connect(nic, app, cmd);
		return;
	case CTXQ_CLOSE:
	case CTXQ_ABORT:
		sp_cmd_close(nic, app, cmd, cmd->type == CTXQ_ABORT);
		return;
	case CTXQ_TX_BUMP:
		fi = cmd_flow(nic, app, cmd);
		if (fi == FLOW_NONE || nic->flows[fi].app_closed ||
		    cmd->arg0 > nic->flows[fi].tx_ring_len - nic->flows[fi].tx_queued) {
			nic->stats.cmds_invalid++;
			return;
		}
		nic->flows[fi].tx_queued += cmd->arg0;
		fp_tx_schedule(nic, fi);
		return;
	case CTXQ_RX_FREED:
		fi = cmd_flow(nic, app, cmd);
		if (fi == FLOW_NONE || cmd->arg0 > nic->flows[fi].rx_ring_len - nic->flows[fi].rx_avail) {
			nic->stats.cmds_invalid++;
			return;
		}
		fp_host_rx_freed(nic, fi, cmd->arg0);
		return;
	default:
		nic->stats.cmds_invalid++;
		return;
	}
}

int app_chan_poll(struct nic *nic, int app)
{
	struct nic_app *a = &nic->apps[app];
	int work = 0;
	if (a->broken)
		return 0;
	work += dma_poll_completions(nic, app);
	uint8_t msg[CHAN_MSG_MAX_BYTES];
	/* Bounded per poll so one chatty application cannot starve the wire. */
	for (int i = 0; i < 256 && !a->broken; i++) {
		uint32_t len = 0;
		int rc = chan_poll_msg(a->ch, msg, sizeof(msg), &len);
		if (rc < 0) {
			a->broken = rc;
			break;
		}
		if (rc == 0)
			break;
		work++;
		if (len >= 1 && msg[0] == CTXQ_HELLO) {
			handle_hello(nic, app, msg, len);
			continue;
		}
		if (!a->hello_done || len != sizeof(struct ctxq_cmd)) {
			nic->stats.cmds_invalid++;
			continue;
		}
		struct ctxq_cmd cmd;
		memcpy(&cmd, msg, sizeof(cmd));
		handle_cmd(nic, app, &cmd);
	}
	return work;
}
