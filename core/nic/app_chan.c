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
	/* The negative control writes on as a producer without credits would:
	 * linearly, past the ring (and the region) once the host falls behind. */
	bool without_credits = nic->cfg.inject_bugs & NIC_BUG_WRITE_WITHOUT_CREDITS;
	if (!without_credits && (uint32_t)(a->ev_produced - a->ev_consumed) >= entries)
		return CHAN_EAGAIN;
	uint32_t staging_off;
	if (dma_sq_free(a) < 1 || dma_reserve(a, CTXQ_EVENT_BYTES, &staging_off) < 0)
		return CHAN_EAGAIN;
	struct ctxq_event ev = *ev_in;
	ev.phase = ctxq_phase_for(a->ev_produced, entries);
	memcpy(a->staging + staging_off, &ev, sizeof(ev));
	struct dma_op meta = {.flow = FLOW_NONE};
	uint64_t slot_off = ctxq_event_ring_off(&a->hello) + (a->ev_produced % entries) * (uint64_t)CTXQ_EVENT_BYTES;
	if (nic->cfg.inject_bugs & NIC_BUG_WRITE_WITHOUT_CREDITS)
		slot_off = ctxq_event_ring_off(&a->hello) + a->ev_produced * (uint64_t)CTXQ_EVENT_BYTES;
	int rc = dma_post(nic, app, DMA_EV_WRITE, false, staging_off, slot_off, CTXQ_EVENT_BYTES, &meta);
	if (rc != CHAN_OK)
		return rc;
	a->ev_produced++;
	nic->stats.events_written++;
	return CHAN_OK;
}

/* A WAKEUP is owed until posted: without a credit for it now (the host
 * has not polled its messages yet), the next poll tries again. Dropping
 * it would leave the host asleep until its timeout. */
static int post_owed_wakeup(struct nic *nic, int app)
{
	struct nic_app *a = &nic->apps[app];
	if (!a->wakeup_owed)
		return 0;
	if (nic->cfg.inject_bugs & NIC_BUG_DROP_WAKEUPS) {
		a->wakeup_owed = false; /* the negative control: forgotten, not sent */
		return 0;
	}
	struct ctxq_wakeup w = {.type = CTXQ_WAKEUP, .ev_produced = (uint32_t)a->ev_produced, .arm_seq = a->arm_seq};
	if (chan_post_msg(a->ch, &w, sizeof(w)) != CHAN_OK)
		return 0;
	a->wakeup_owed = false;
	nic->stats.wakeups_sent++;
	return 1;
}

/* An event of no flow (a refusal, a returned slot), written at once. It
 * is news like a flow's: it counts for an ARM that comes after it, and
 * wakes a host already asleep (its connect or listen waits on it). */
static void write_flowless_event(struct nic *nic, int app, const struct ctxq_event *ev)
{
	struct nic_app *a = &nic->apps[app];
	if (!a->hello_done || write_event(nic, app, ev) != CHAN_OK)
		return;
	a->ev_wakeful = a->ev_produced;
	if (a->armed) {
		a->armed = false;
		a->wakeup_owed = true;
		post_owed_wakeup(nic, app);
	}
}

void app_refuse(struct nic *nic, int app, uint32_t host_conn, uint16_t flags, int status)
{
	/* A refusal has no flow to coalesce into; if the ring is full it is
	 * lost, which only an application that ignores its own events can
	 * cause, and it is counted. */
	struct ctxq_event ev = {.flow_id = FLOW_NONE, .host_conn = host_conn, .flags = flags, .status = status};
	nic->stats.cmds_invalid++;
	write_flowless_event(nic, app, &ev);
}

void app_return_slot(struct nic *nic, int app, uint32_t slot)
{
	/* Like a refusal, lost only if the host ignores its own events. */
	struct ctxq_event ev = {.flow_id = FLOW_NONE, .host_conn = slot, .flags = CTXQ_EVF_REFUSED,
				.status = BT_ECONNABORTED};
	write_flowless_event(nic, app, &ev);
}

/* The slot's connection info goes before the event announcing the
 * connection (writes on a channel execute in order). */
static int write_conn_info(struct nic *nic, int app, const struct flow *f)
{
	struct nic_app *a = &nic->apps[app];
	uint32_t staging_off;
	if (dma_sq_free(a) < 2 || dma_reserve(a, CTXQ_INFO_BYTES, &staging_off) < 0)
		return CHAN_EAGAIN;
	struct ctxq_conn_info info = {
		.local_ip = f->local_ip,
		.remote_ip = f->remote_ip,
		.local_port = f->local_port,
		.remote_port = f->remote_port,
		.mss = f->mss,
		.snd_wscale = f->snd_wscale,
		.rcv_wscale = f->rcv_wscale,
		.flow_id = flow_index(nic, f),
		.options = (uint8_t)((f->ts_ok ? CTXQ_INFO_TS : 0) | (f->wscale_ok ? CTXQ_INFO_WSCALE : 0) |
				     (f->ecn_ok ? CTXQ_INFO_ECN : 0)),
	};
	memcpy(a->staging + staging_off, &info, sizeof(info));
	struct dma_op meta = {.flow = FLOW_NONE};
	return dma_post(nic, app, DMA_EV_WRITE, false, staging_off, ctxq_info_off(&a->hello, f->host_slot),
			CTXQ_INFO_BYTES, &meta);
}

int app_events_flush(struct nic *nic, int app)
{
	struct nic_app *a = &nic->apps[app];
	int work = 0;
	bool news = false;
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
			.listener = (uint16_t)(f->listener == FLOW_NONE ? 0 : nic->listeners[f->listener].host_id),
			.flags = f->ev_flags,
			.doorbell_seen = f->doorbell_seen,
		};
		if ((f->ev_flags & (CTXQ_EVF_CONNECTED | CTXQ_EVF_ACCEPTED | CTXQ_EVF_PEER_SYN)) &&
		    (uint32_t)(a->ev_produced - a->ev_consumed) < a->hello.event_entries &&
		    write_conn_info(nic, app, f) != CHAN_OK)
			break;
		uint64_t hop_t = nic->hops ? bt_clock_now_ns(nic->clock) : 0; /* before the host can see it */
		if (write_event(nic, app, &ev) != CHAN_OK)
			break;
		if (ctxq_event_wakes(&ev)) {
			a->ev_wakeful = a->ev_produced;
			news = true;
		}
		if (nic->hops && ev.rx_bytes)
			nic_hop_event(nic, fi, hop_t);
		a->notify_head = f->notify_next;
		if (a->notify_head == FLOW_NONE)
			a->notify_tail = FLOW_NONE;
		f->in_notify = false;
		f->confirm_deadline_ns = 0; /* confirmed; its timer entry lapses unused */
		f->ev_rx_bytes = f->ev_tx_freed = 0;
		f->ev_flags = 0;
		f->ev_status = 0;
		flow_free_if_retired(nic, fi);
		work++;
	}
	/* A bare doorbell confirmation wakes nobody (ctxq.h); an event left
	 * unwritten while the host holds unconsumed ones does: consuming
	 * them returns the ring credits it waits for. */
	bool blocked = a->notify_head != FLOW_NONE && a->ev_produced != a->ev_consumed;
	if ((news || blocked) && a->armed) {
		a->armed = false;
		a->wakeup_owed = true;
		post_owed_wakeup(nic, app);
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
	a->slot_opts = malloc(sizeof(*a->slot_opts) * h.max_conns);
	if (!a->slot_flow || !a->slot_opts) {
		free(a->slot_flow);
		free(a->slot_opts);
		a->slot_flow = NULL;
		a->slot_opts = NULL;
		nic->stats.cmds_invalid++;
		return;
	}
	for (uint32_t i = 0; i < h.max_conns; i++) {
		a->slot_flow[i] = FLOW_NONE;
		sp_opts_default(nic, &a->slot_opts[i]);
	}
	a->hello = h;
	a->confirm_delay_ns = (uint64_t)h.doorbell_refresh_us * 1000 / 4;
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

/* The echo of doorbell_seen confirms a doorbell to the host. It rides on
 * the flow's next event (one already queued, or the freed TX space or new
 * bytes that follow a doorbell in a stream); only if none comes within
 * the app's confirm delay does the timer (sp_timers.c) write one for it
 * alone, well before the host would re-ring (ctxq.h). */
static void confirm_doorbell(struct nic *nic, int app, uint32_t fi)
{
	struct flow *f = &nic->flows[fi];
	uint64_t delay = nic->apps[app].confirm_delay_ns;
	if (f->in_notify || !delay) {
		app_notify(nic, fi, 0, 0);
		return;
	}
	if (f->confirm_deadline_ns)
		return; /* an older doorbell's deadline covers this one too */
	f->confirm_deadline_ns = nic_now(nic) + delay;
	if (!timer_heap_armed(&nic->timers, fi) || nic->timers.deadline_ns[fi] > f->confirm_deadline_ns)
		timer_heap_set(&nic->timers, fi, f->confirm_deadline_ns);
}

/* Totals, not increments: a doorbell that repeats one already applied
 * changes nothing, and one that follows a lost doorbell carries what the
 * lost one said. Anything beyond what the rings can hold is refused. */
static void handle_doorbell(struct nic *nic, int app, const struct ctxq_cmd *cmd, const uint8_t *inl,
			    uint32_t inl_len)
{
	uint32_t fi = cmd_flow(nic, app, cmd);
	if (fi == FLOW_NONE) {
		struct nic_app *a = &nic->apps[app];
		bool stale = cmd->flow_id < nic->cfg.max_flows && cmd->host_conn < a->hello.max_conns &&
			     a->slot_flow[cmd->host_conn] == FLOW_NONE;
		if (!stale)
			nic->stats.cmds_invalid++;
		return; /* a doorbell for a flow that already ended is stale */
	}
	struct flow *f = &nic->flows[fi];
	uint32_t tx_delta = cmd->arg0 - f->host_tx_total;
	uint32_t rx_delta = cmd->arg1 - f->host_rx_freed_total;
	if (tx_delta > f->tx_ring_len - f->tx_queued || rx_delta > f->rx_buf_bytes - f->rx_avail ||
	    (tx_delta && f->app_closed) || inl_len > f->tx_queued + tx_delta) {
		nic->stats.cmds_invalid++;
		return;
	}
	if (inl_len) {
		/* The bytes ending at the new TX total, by sequence number:
		 * the queue runs from snd_una to snd_una + tx_queued. */
		f->tx_inline_end = f->snd_una + f->tx_queued + tx_delta;
		f->tx_inline_len = inl_len;
		memcpy(f->tx_inline, inl, inl_len);
	}
	if (tx_delta) {
		f->host_tx_total = cmd->arg0;
		f->tx_queued += tx_delta;
		fp_tx_schedule(nic, fi);
		if (nic->hops)
			nic_hop_doorbell(nic, fi);
	}
	/* The push mark, as bytes from the end of the queue; a mark before
	 * the queue (its send long acknowledged) leaves nothing pushed. */
	uint32_t unpushed = f->host_tx_total - cmd->arg3;
	f->tx_unpushed = unpushed <= f->tx_queued ? unpushed : f->tx_queued;
	if ((cmd->flags & CTXQ_CMDF_EOR) && unpushed <= f->tx_queued)
		fp_note_record_end(f, f->snd_una + f->tx_queued - unpushed);
	if (rx_delta) {
		f->host_rx_freed_total = cmd->arg1;
		fp_host_rx_freed(nic, fi, rx_delta);
	}
	if (cmd->arg2 != f->doorbell_seen) {
		f->doorbell_seen = cmd->arg2;
		confirm_doorbell(nic, app, fi);
	}
}

static bool is_slowpath_cmd(uint8_t type)
{
	return type == CTXQ_LISTEN || type == CTXQ_ACCEPT_SLOT || type == CTXQ_CONNECT || type == CTXQ_CLOSE ||
	       type == CTXQ_ABORT || type == CTXQ_SETOPT || type == CTXQ_UNLISTEN;
}

/* An ARM, alone or riding on a DOORBELL (ctxq.h). Events with news the
 * host had not seen when it decided to sleep: wake it now, or it would
 * sleep through them. Bare doorbell confirmations it has not seen do not
 * count (ctxq.h). */
static void take_arm(struct nic *nic, int app, uint32_t seq, uint32_t ev_consumed)
{
	struct nic_app *a = &nic->apps[app];
	a->arm_seq = seq;
	if ((int32_t)((uint32_t)a->ev_wakeful - ev_consumed) > 0) {
		a->wakeup_owed = true;
		post_owed_wakeup(nic, app);
		return;
	}
	a->armed = true;
}

static void handle_cmd(struct nic *nic, int app, const struct ctxq_cmd *cmd, const uint8_t *inl, uint32_t inl_len)
{
	struct nic_app *a = &nic->apps[app];
	/* Credits only move forward, and never past what was produced. */
	uint32_t returned = cmd->ev_consumed - (uint32_t)a->ev_consumed;
	if (returned <= (uint32_t)(a->ev_produced - a->ev_consumed))
		a->ev_consumed += returned;
	nic->stats.cmds++;
	switch (cmd->type) {
	case CTXQ_EV_CREDIT:
		return;
	case CTXQ_ARM:
		take_arm(nic, app, cmd->arg2, cmd->ev_consumed);
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
	case CTXQ_DOORBELL:
		handle_doorbell(nic, app, cmd, inl, inl_len);
		if (cmd->flags & CTXQ_CMDF_ARM) {
			/* The ARM that rode on it (ctxq.h): the sequence after
			 * the last ARM's that ends in these 16 bits. */
			uint32_t seq = a->arm_seq + (uint16_t)(cmd->port - (uint16_t)a->arm_seq);
			take_arm(nic, app, seq, cmd->ev_consumed);
		}
		return;
	case CTXQ_SETOPT:
		sp_cmd_setopt(nic, app, cmd);
		return;
	case CTXQ_UNLISTEN:
		sp_cmd_unlisten(nic, app, cmd);
		return;
	default:
		nic->stats.cmds_invalid++;
		return;
	}
}

/* The app's completed DMA operations, acted on in posting order: each
 * TX read's segment goes out before its staging is freed. At most 8
 * batches a poll, so one app cannot hold the NIC. */
static int take_completions(struct nic *nic, int app)
{
	struct dma_op done[DMA_POLL_BATCH];
	int work = 0;
	bool more = true;
	for (int round = 0; round < 8 && more; round++) {
		int n = dma_poll_completions(nic, app, done, &more);
		for (int i = 0; i < n; i++) {
			if (done[i].kind == DMA_TX_READ)
				fp_tx_read_done(nic, &done[i]);
			dma_release(nic, app, &done[i]);
		}
		work += n;
	}
	return work;
}

int app_chan_poll(struct nic *nic, int app)
{
	struct nic_app *a = &nic->apps[app];
	int work = 0;
	if (a->broken)
		return 0;
	/* One cheap question first: most polls find the channel idle. Nothing
	 * this poll does can put a message or completion of ours on it. */
	int ready = chan_ready(a->ch);
	if (ready & CHAN_READY_CQ)
		work += take_completions(nic, app);
	work += post_owed_wakeup(nic, app);
	if (a->has_deferred) {
		/* Commands stay in order: nothing behind a deferred slow-path
		 * command is read until the stall ends. */
		if (nic_slowpath_stalled(nic))
			return work;
		a->has_deferred = false;
		handle_cmd(nic, app, &a->deferred, NULL, 0); /* slow-path commands carry no payload */
		work++;
	}
	if (!(ready & CHAN_READY_MSG))
		return work;
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
		if (!a->hello_done || len < sizeof(struct ctxq_cmd)) {
			nic->stats.cmds_invalid++;
			continue;
		}
		struct ctxq_cmd cmd;
		memcpy(&cmd, msg, sizeof(cmd));
		/* Only a DOORBELL flagged INLINE goes on past the command, and
		 * by at most CTXQ_INLINE_MAX_BYTES (ctxq.h, Inline payload). */
		uint32_t inl_len = len - (uint32_t)sizeof(cmd);
		bool carries = cmd.type == CTXQ_DOORBELL && (cmd.flags & CTXQ_CMDF_INLINE);
		bool inline_ok = carries ? inl_len >= 1 && inl_len <= CTXQ_INLINE_MAX_BYTES : inl_len == 0;
		if (!inline_ok) {
			nic->stats.cmds_invalid++;
			continue;
		}
		if (is_slowpath_cmd(cmd.type) && nic_slowpath_stalled(nic)) {
			a->deferred = cmd;
			a->has_deferred = true;
			break;
		}
		handle_cmd(nic, app, &cmd, msg + CTXQ_INLINE_OFF, inl_len);
	}
	return work;
}
