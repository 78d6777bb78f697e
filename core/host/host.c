/*
 * host.c: the host library's machinery: the region, the event ring
 * consumer, and the commands owed to the NIC. A command is never dropped:
 * what cannot be posted now (no channel credit) stays owed on its
 * connection, which sits on the dirty list until the post succeeds. That
 * is what makes a lost or refused doorbell cost latency, never liveness.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"

#include <sys/mman.h>

/* Every field not named here is zero (off): a field added later is then
 * never left as whatever the caller's stack held (doorbell_no_inline
 * was, caught by UBSan as a bool of 255). */
void bt_host_default_config(struct bt_host_config *cfg)
{
	*cfg = (struct bt_host_config){.max_conns = 128,
				       .rx_ring_bytes = 64u << 10,
				       .tx_ring_bytes = 64u << 10,
				       .event_entries = 1024,
				       .doorbell_refresh_ns = 1000000};
}

uint8_t *host_rx_ring(struct bt_host *h, int slot)
{
	return h->region + ctxq_rx_ring_off(&h->hello, (uint32_t)slot);
}

uint8_t *host_tx_ring(struct bt_host *h, int slot)
{
	return h->region + ctxq_tx_ring_off(&h->hello, (uint32_t)slot);
}

struct bt_host *bt_host_create(const struct bt_host_config *cfg, struct chan *ch, const struct bt_clock *clock,
			       int *err_out)
{
	*err_out = BT_EINVAL;
	if (!cfg || !ch || !clock || cfg->max_conns == 0 || cfg->max_conns >= HOST_LISTENER_BASE ||
	    cfg->rx_ring_bytes < 64 || cfg->tx_ring_bytes < 64 || cfg->event_entries < 4 ||
	    cfg->rx_ring_bytes > (1u << 30) || cfg->tx_ring_bytes > (1u << 30))
		return NULL;
	struct bt_host *h = calloc(1, sizeof(*h));
	if (!h) {
		*err_out = BT_ENOMEM;
		return NULL;
	}
	h->cfg = *cfg;
	if (!h->cfg.doorbell_refresh_ns)
		h->cfg.doorbell_refresh_ns = 1000000;
	h->ch = ch;
	h->clock = clock;
	h->hello = (struct ctxq_hello){.type = CTXQ_HELLO,
				       .version = CTXQ_VERSION,
				       .event_entries = cfg->event_entries,
				       .rx_ring_bytes = cfg->rx_ring_bytes,
				       .tx_ring_bytes = cfg->tx_ring_bytes,
				       .max_conns = cfg->max_conns};
	/* The NIC may hold a doorbell's confirmation for a quarter of it,
	 * waiting for an event that carries it anyway (ctxq.h). */
	uint64_t refresh_us = h->cfg.doorbell_refresh_ns / 1000;
	h->hello.doorbell_refresh_us = refresh_us > UINT32_MAX ? UINT32_MAX : (uint32_t)refresh_us;
	uint64_t region_bytes = ctxq_region_bytes(&h->hello);
	/* Pages of its own (zeroed), not heap memory: a cross-process
	 * channel (transports/ipc) shares the region's whole pages with the
	 * NIC daemon, which must find nothing else on them. */
	void *region = mmap(NULL, region_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	h->region = region == MAP_FAILED ? NULL : region;
	h->region_bytes = region_bytes;
	h->conns = calloc(cfg->max_conns, sizeof(*h->conns));
	if (!h->region || !h->conns) {
		*err_out = BT_ENOMEM;
		goto fail;
	}
	int rc = chan_mr_register(ch, h->region, region_bytes, CHAN_ACCESS_REMOTE_READ | CHAN_ACCESS_REMOTE_WRITE,
				  &h->region_mr);
	if (rc != CHAN_OK) {
		*err_out = rc == CHAN_ENOMEM ? BT_ENOMEM : BT_ECHANNEL;
		goto fail;
	}
	h->hello.region_addr = (uint64_t)(uintptr_t)h->region;
	h->hello.region_len = region_bytes;
	h->hello.region_rkey = h->region_mr.rkey;
	/* The shm backend accepts addr 0 or the base; verbs needs the base. */
	if (chan_post_msg(ch, &h->hello, sizeof(h->hello)) != CHAN_OK) {
		chan_mr_deregister(ch, &h->region_mr);
		*err_out = BT_ECHANNEL;
		goto fail;
	}
	for (uint32_t i = 0; i < cfg->max_conns; i++)
		h->conns[i].dirty_next = i + 1 < cfg->max_conns ? (int)i + 1 : HOST_NONE;
	h->free_head = 0;
	h->dirty_head = h->dirty_tail = HOST_NONE;
	h->ready_head = h->ready_tail = HOST_NONE;
	h->refresh_due_ns = BT_TIME_NEVER;
	*err_out = BT_OK;
	return h;
fail:
	if (h->region)
		munmap(h->region, region_bytes);
	free(h->conns);
	free(h);
	return NULL;
}

void bt_host_destroy(struct bt_host *h)
{
	if (!h)
		return;
	chan_mr_deregister(h->ch, &h->region_mr);
	munmap(h->region, h->region_bytes);
	free(h->conns);
	free(h);
}

int host_alloc_slot(struct bt_host *h)
{
	int slot = h->free_head;
	if (slot == HOST_NONE)
		return HOST_NONE;
	struct host_conn *c = &h->conns[slot];
	h->free_head = c->dirty_next;
	memset(c, 0, sizeof(*c));
	c->allocated = true;
	c->dirty_next = c->ready_next = c->accept_next = HOST_NONE;
	c->listener = HOST_NONE;
	h->stats.conns_in_use++;
	return slot;
}

void host_free_slot(struct bt_host *h, int slot)
{
	struct host_conn *c = &h->conns[slot];
	if (!c->allocated)
		return;
	if (c->in_dirty || c->in_ready) {
		c->free_pending = true;
		return;
	}
	memset(c, 0, sizeof(*c));
	c->dirty_next = h->free_head;
	h->free_head = slot;
	h->stats.conns_in_use--;
}

void host_mark_dirty(struct bt_host *h, int slot)
{
	struct host_conn *c = &h->conns[slot];
	if (c->in_dirty)
		return;
	c->in_dirty = true;
	HOST_FIFO_PUSH(h, h, dirty, slot);
}

void host_mark_ready(struct bt_host *h, int slot, uint32_t flags)
{
	struct host_conn *c = &h->conns[slot];
	c->ready_flags |= flags;
	/* Not the application's yet: flags wait for bt_accept. */
	if (c->in_ready || c->state == SLOT_ACCEPTED || c->state == SLOT_POSTED || c->app_closed || c->free_pending)
		return;
	c->in_ready = true;
	HOST_FIFO_PUSH(h, h, ready, slot);
}

void host_channel_failed(struct bt_host *h)
{
	if (h->broken)
		return;
	h->broken = BT_ECHANNEL;
	for (uint32_t i = 0; i < h->cfg.max_conns; i++) {
		struct host_conn *c = &h->conns[i];
		if (c->state == SLOT_OPEN || c->state == SLOT_CONNECTING) {
			c->err = BT_ECHANNEL;
			host_mark_ready(h, (int)i, BT_EV_ERROR);
		}
	}
}

/* Posts one command; returns CHAN_OK, CHAN_EAGAIN (try later) or failure. */
static int post_cmd(struct bt_host *h, struct ctxq_cmd *cmd)
{
	cmd->ev_consumed = h->ev_consumed;
	int rc = chan_post_msg(h->ch, cmd, sizeof(*cmd));
	if (rc == CHAN_OK) {
		h->ev_reported = h->ev_consumed;
		h->stats.doorbells_sent++;
	} else if (rc == CHAN_EAGAIN) {
		h->stats.doorbells_deferred++;
	} else {
		host_channel_failed(h);
	}
	return rc;
}

static_assert(CTXQ_CMD_BYTES + CTXQ_INLINE_MAX_BYTES <= CHAN_MSG_MAX_BYTES,
	      "a DOORBELL with its inline payload must fit one channel message");

/* A DOORBELL, with the TX bytes written since the previous one in the
 * same message when they are few (ctxq.h, Inline payload): the NIC then
 * builds their segment without READing the ring. */
static int post_doorbell(struct bt_host *h, struct host_conn *c, struct ctxq_cmd *cmd)
{
	uint32_t n = c->tx_total - c->db_tx_total;
	if (h->cfg.doorbell_no_inline || n == 0 || n > CTXQ_INLINE_MAX_BYTES || n > c->tx_used)
		return post_cmd(h, cmd);
	uint8_t msg[CTXQ_CMD_BYTES + CTXQ_INLINE_MAX_BYTES];
	cmd->flags |= CTXQ_CMDF_INLINE;
	cmd->ev_consumed = h->ev_consumed;
	memcpy(msg, cmd, sizeof(*cmd));
	/* The n bytes end where bt_send writes next (tx_tail). */
	uint32_t ring = h->cfg.tx_ring_bytes;
	uint32_t start = (c->tx_tail + ring - n) % ring;
	uint32_t first = ring - start < n ? ring - start : n;
	const uint8_t *tx = host_tx_ring(h, (int)(c - h->conns));
	memcpy(msg + CTXQ_INLINE_OFF, tx + start, first);
	memcpy(msg + CTXQ_INLINE_OFF + first, tx, n - first);
	int rc = chan_post_msg(h->ch, msg, CTXQ_CMD_BYTES + n);
	if (rc == CHAN_OK) {
		h->ev_reported = h->ev_consumed;
		h->stats.doorbells_sent++;
		h->stats.doorbells_inline++;
	} else if (rc == CHAN_EAGAIN) {
		h->stats.doorbells_deferred++;
	} else {
		host_channel_failed(h);
	}
	return rc;
}

static int flush_listeners(struct bt_host *h)
{
	if (!h->listeners_dirty)
		return CHAN_OK;
	for (int i = 0; i < HOST_MAX_LISTENERS; i++) {
		struct host_listener *l = &h->listeners[i];
		int rc;
		if (l->unlisten_owed) {
			struct ctxq_cmd cmd = {.type = CTXQ_UNLISTEN, .host_conn = (uint32_t)i};
			if ((rc = post_cmd(h, &cmd)) != CHAN_OK)
				return rc;
			l->unlisten_owed = false;
			continue;
		}
		if (!l->in_use)
			continue;
		if (l->listen_owed) {
			struct ctxq_cmd cmd = {.type = CTXQ_LISTEN, .port = l->port, .host_conn = (uint32_t)i,
					       .arg0 = l->backlog};
			if ((rc = post_cmd(h, &cmd)) != CHAN_OK)
				return rc;
			l->listen_owed = false;
		}
		/* Right behind LISTEN, before any accept slot: the NIC reads
		 * them in one batch, so no SYN sees the listener without them. */
		while (l->opts_owed) {
			int opt = __builtin_ctz(l->opts_owed);
			struct ctxq_cmd cmd = {.type = CTXQ_SETOPT, .flags = CTXQ_CMDF_LISTENER, .host_conn = (uint32_t)i,
					       .arg0 = (uint32_t)opt, .arg1 = l->opts.val[opt]};
			if ((rc = post_cmd(h, &cmd)) != CHAN_OK)
				return rc;
			l->opts_owed &= ~(1u << opt);
		}
	}
	h->listeners_dirty = false;
	return CHAN_OK;
}

/* Sends everything one connection owes, in the order the NIC needs it. */
static int flush_conn(struct bt_host *h, int slot)
{
	struct host_conn *c = &h->conns[slot];
	int rc;
	/* Options go before CONNECT (they shape the SYN) or to the open
	 * flow; while a CONNECT is on its way they wait for CONNECTED. */
	while (c->opts_owed && (c->connect_owed || (c->has_flow && !c->nic_released))) {
		int opt = __builtin_ctz(c->opts_owed);
		struct ctxq_cmd cmd = {.type = CTXQ_SETOPT, .flow_id = c->has_flow ? c->flow_id : UINT32_MAX,
				       .host_conn = (uint32_t)slot, .arg0 = (uint32_t)opt, .arg1 = c->opt_val[opt]};
		if ((rc = post_cmd(h, &cmd)) != CHAN_OK)
			return rc;
		c->opts_owed &= ~(1u << opt);
	}
	if (c->connect_owed) {
		struct ctxq_cmd cmd = {.type = CTXQ_CONNECT,
				       .port = c->connect_port,
				       .host_conn = (uint32_t)slot,
				       .arg0 = c->connect_ip,
				       .arg1 = c->connect_local_port};
		if ((rc = post_cmd(h, &cmd)) != CHAN_OK)
			return rc;
		c->connect_owed = false;
	}
	if (c->slot_owed) {
		struct ctxq_cmd cmd = {.type = CTXQ_ACCEPT_SLOT, .host_conn = (uint32_t)slot, .arg0 = (uint32_t)c->listener};
		if ((rc = post_cmd(h, &cmd)) != CHAN_OK)
			return rc;
		c->slot_owed = false;
	}
	if (!c->has_flow && c->state == SLOT_CONNECTING && (c->close_owed || c->abort_owed)) {
		/* Closed while connecting: now, not once CONNECTED, or the
		 * handshake would complete first (a close in SYN_SENT drops
		 * the connection: close-on-syn-sent). The NIC finds the flow
		 * by the slot. */
		struct ctxq_cmd cmd = {.type = c->abort_owed ? CTXQ_ABORT : CTXQ_CLOSE,
				       .flow_id = UINT32_MAX,
				       .host_conn = (uint32_t)slot};
		if ((rc = post_cmd(h, &cmd)) != CHAN_OK)
			return rc;
		c->close_owed = c->abort_owed = false;
		return CHAN_OK;
	}
	if (!c->has_flow || c->nic_released) {
		if (c->nic_released)
			c->doorbell_owed = false; /* moot: the NIC is done with the rings */
		return CHAN_OK; /* the rest waits for CONNECTED */
	}
	if (c->doorbell_owed) {
		struct ctxq_cmd cmd = {.type = CTXQ_DOORBELL, .flow_id = c->flow_id, .host_conn = (uint32_t)slot,
				       .arg0 = c->tx_total, .arg1 = c->rx_freed_total, .arg2 = c->db_seq + 1,
				       .arg3 = c->push_total, .flags = c->push_is_eor ? CTXQ_CMDF_EOR : 0};
		/* The ARM of a host about to sleep rides on its last command
		 * when that is this doorbell (ctxq.h): the last dirty slot,
		 * nothing after the doorbell in it. So does one for a sender
		 * whose ring is full, unless the NIC holds one: it can only
		 * wait for the space the NIC frees (bt_wait then finds the ARM
		 * held and posts none; if it polls instead, the WAKEUP after
		 * the next event is one spare message). */
		bool arm = (h->arm_ride || (host_tx_space(h, c) == 0 && !host_arm_held(h, bt_clock_now_ns(h->clock)))) &&
			   h->dirty_tail == slot && !c->shut_wr_owed && !c->close_owed && !c->abort_owed;
		if (arm) {
			cmd.flags |= CTXQ_CMDF_ARM;
			cmd.port = (uint16_t)(h->arm_seq + 1);
		}
		uint64_t hop_t = h->hops ? host_hop_now(h) : 0; /* before the NIC can see it */
		if ((rc = post_doorbell(h, c, &cmd)) != CHAN_OK)
			return rc;
		if (arm) {
			host_arm_posted(h, bt_clock_now_ns(h->clock));
			h->arm_rode = true;
		}
		if (h->hops)
			host_hop(h, c, HOP_DB_POST, c->tx_total, hop_t);
		c->db_tx_total = c->tx_total;
		c->db_seq++;
		c->db_sent_ns = bt_clock_now_ns(h->clock);
		c->doorbell_owed = false;
		c->rx_freed_unreported = 0;
		uint64_t due = c->db_sent_ns + h->cfg.doorbell_refresh_ns;
		if (due < h->refresh_due_ns)
			h->refresh_due_ns = due;
	}
	if (c->shut_wr_owed && !c->close_owed && !c->abort_owed) {
		struct ctxq_cmd cmd = {.type = CTXQ_CLOSE, .flags = CTXQ_CMDF_WR_ONLY, .flow_id = c->flow_id,
				       .host_conn = (uint32_t)slot};
		if ((rc = post_cmd(h, &cmd)) != CHAN_OK)
			return rc;
		c->shut_wr_owed = false;
	}
	if (c->close_owed || c->abort_owed) {
		struct ctxq_cmd cmd = {.type = c->abort_owed ? CTXQ_ABORT : CTXQ_CLOSE,
				       .flow_id = c->flow_id,
				       .host_conn = (uint32_t)slot};
		if ((rc = post_cmd(h, &cmd)) != CHAN_OK)
			return rc;
		c->close_owed = c->abort_owed = false;
	}
	return CHAN_OK;
}

int host_flush_commands(struct bt_host *h)
{
	if (h->broken)
		return 0;
	int sent_before = (int)h->stats.doorbells_sent;
	if (flush_listeners(h) != CHAN_OK)
		return (int)h->stats.doorbells_sent - sent_before;
	while (h->dirty_head != HOST_NONE) {
		int slot = h->dirty_head;
		if (flush_conn(h, slot) != CHAN_OK)
			break;
		struct host_conn *c = &h->conns[slot];
		HOST_FIFO_DROP_HEAD(h, h, dirty);
		c->in_dirty = false;
		if (c->free_pending)
			host_free_slot(h, slot);
	}
	/* Credits alone are worth a message only when half the ring is owed:
	 * otherwise they ride on the next command. */
	if (!h->broken && h->ev_consumed - h->ev_reported >= h->cfg.event_entries / 2) {
		struct ctxq_cmd cmd = {.type = CTXQ_EV_CREDIT};
		if (post_cmd(h, &cmd) == CHAN_OK) {
			h->credit_unconfirmed = true;
			h->credit_sent_ns = bt_clock_now_ns(h->clock);
			uint64_t due = h->credit_sent_ns + h->cfg.doorbell_refresh_ns;
			if (due < h->refresh_due_ns)
				h->refresh_due_ns = due;
		}
	}
	return (int)h->stats.doorbells_sent - sent_before;
}

void host_post_accept_slots(struct bt_host *h, int li)
{
	struct host_listener *l = &h->listeners[li];
	while (l->slots_owed) {
		int slot = host_alloc_slot(h);
		if (slot == HOST_NONE)
			return; /* retried when a slot frees */
		struct host_conn *c = &h->conns[slot];
		c->state = SLOT_POSTED;
		c->listener = li;
		c->slot_owed = true;
		host_mark_dirty(h, slot);
		l->slots_owed--;
	}
}

static void listener_ready(struct bt_host *h, int li)
{
	struct host_listener *l = &h->listeners[li];
	l->in_ready = true;
}

static void handle_refusal(struct bt_host *h, const struct ctxq_event *ev)
{
	if (ev->flags & CTXQ_EVF_LISTEN_ERR) {
		if (ev->host_conn < HOST_MAX_LISTENERS && h->listeners[ev->host_conn].in_use) {
			h->listeners[ev->host_conn].err = ev->status;
			listener_ready(h, (int)ev->host_conn);
		}
		return;
	}
	if (ev->host_conn >= h->cfg.max_conns)
		return;
	int slot = (int)ev->host_conn;
	struct host_conn *c = &h->conns[slot];
	if (c->state == SLOT_CONNECTING) {
		c->err = ev->status;
		c->nic_released = true;
		if (c->app_closed)
			host_free_slot(h, slot);
		else
			host_mark_ready(h, slot, BT_EV_ERROR | BT_EV_CLOSED);
	} else if (c->state == SLOT_POSTED) {
		int li = c->listener;
		host_free_slot(h, slot);
		if (li >= 0)
			h->listeners[li].err = ev->status;
	}
}

static void handle_event(struct bt_host *h, const struct ctxq_event *ev)
{
	if (ev->flags & (CTXQ_EVF_REFUSED | CTXQ_EVF_LISTEN_ERR)) {
		handle_refusal(h, ev);
		return;
	}
	if (ev->host_conn >= h->cfg.max_conns)
		return;
	int slot = (int)ev->host_conn;
	struct host_conn *c = &h->conns[slot];
	if (!c->allocated || c->free_pending)
		return;
	uint32_t ready = 0;
	if (ev->flags & (CTXQ_EVF_CONNECTED | CTXQ_EVF_ACCEPTED | CTXQ_EVF_PEER_SYN)) {
		/* Written by the NIC before this event (ctxq.h). */
		memcpy(&c->info, h->region + ctxq_info_off(&h->hello, (uint32_t)slot), sizeof(c->info));
		c->has_info = true;
	}
	if (ev->flags & CTXQ_EVF_CONNECTED) {
		c->has_flow = true;
		c->flow_id = ev->flow_id;
		c->state = SLOT_OPEN;
		ready |= BT_EV_CONNECTED | BT_EV_WRITABLE;
		if (c->close_owed || c->abort_owed || c->opts_owed || c->shut_wr_owed)
			host_mark_dirty(h, slot);
	}
	if (ev->flags & CTXQ_EVF_ACCEPTED) {
		c->has_flow = true;
		c->flow_id = ev->flow_id;
		if (c->state == SLOT_POSTED && c->listener == HOST_NONE) {
			/* Its listener was closed meanwhile: nobody will accept it. */
			c->state = SLOT_OPEN;
			c->app_closed = true;
			c->abort_owed = true;
			host_mark_dirty(h, slot);
		} else if (c->state == SLOT_POSTED && c->listener >= 0 && h->listeners[c->listener].in_use) {
			struct host_listener *l = &h->listeners[c->listener];
			c->state = SLOT_ACCEPTED;
			HOST_FIFO_PUSH(h, l, accept, slot);
			listener_ready(h, c->listener);
		}
		ready |= BT_EV_WRITABLE;
	}
	if (ev->rx_bytes) {
		c->rx_ready += ev->rx_bytes;
		h->stats.rx_bytes += ev->rx_bytes;
		ready |= BT_EV_READABLE;
		if (h->hops)
			host_hop_event_seen(h, c, c->rx_freed_total + c->rx_ready);
	}
	if (c->has_flow && ev->doorbell_seen)
		c->db_seen = ev->doorbell_seen;
	if (ev->tx_freed) {
		c->tx_used -= ev->tx_freed <= c->tx_used ? ev->tx_freed : c->tx_used;
		ready |= BT_EV_WRITABLE;
	}
	if (ev->flags & CTXQ_EVF_FIN) {
		c->eof = true;
		ready |= BT_EV_READABLE | BT_EV_EOF;
	}
	if (ev->flags & CTXQ_EVF_ERROR) {
		c->err = ev->status;
		ready |= BT_EV_ERROR;
	}
	if (ev->flags & CTXQ_EVF_RELEASED) {
		c->nic_released = true;
		ready |= BT_EV_CLOSED;
		if (c->app_closed) {
			host_free_slot(h, slot);
			return;
		}
	}
	if (ready)
		host_mark_ready(h, slot, ready);
}

int host_process_events(struct bt_host *h)
{
	int work = 0;
	uint32_t entries = h->cfg.event_entries;
	/* At most one lap per call: the NIC cannot write more without the
	 * credits this very loop is about to return. */
	for (uint32_t i = 0; i < entries; i++) {
		const uint8_t *slot = h->region + ctxq_event_ring_off(&h->hello) +
				      (uint64_t)(h->ev_consumed % entries) * CTXQ_EVENT_BYTES;
		uint8_t phase = atomic_load_explicit((_Atomic uint8_t *)(uintptr_t)(slot + offsetof(struct ctxq_event, phase)),
						     memory_order_acquire);
		if (phase != ctxq_phase_for(h->ev_consumed, entries))
			break;
		struct ctxq_event ev;
		memcpy(&ev, slot, sizeof(ev));
		h->ev_consumed++;
		h->credit_unconfirmed = false; /* the NIC is writing: it has credits */
		h->stats.events_consumed++;
		handle_event(h, &ev);
		work++;
	}
	uint8_t msg[CHAN_MSG_MAX_BYTES];
	for (int i = 0; i < 64 && (i > 0 || (chan_ready(h->ch) & CHAN_READY_MSG)); i++) {
		uint32_t len;
		int rc = chan_poll_msg(h->ch, msg, sizeof(msg), &len);
		if (rc < 0) {
			host_channel_failed(h);
			break;
		}
		if (rc == 0)
			break;
		host_take_msg(h, msg, len);
		work++; /* a WAKEUP: its only job was to end bt_wait */
	}
	return work;
}

void host_refresh_doorbells(struct bt_host *h)
{
	uint64_t now = bt_clock_now_ns(h->clock);
	if (h->broken || now < h->refresh_due_ns)
		return;
	uint64_t refresh = h->cfg.doorbell_refresh_ns;
	uint64_t next = BT_TIME_NEVER;
	for (uint32_t i = 0; i < h->cfg.max_conns; i++) {
		struct host_conn *c = &h->conns[i];
		if (!c->allocated || !c->has_flow || c->nic_released || c->db_seen == c->db_seq)
			continue;
		if (now - c->db_sent_ns >= refresh) {
			/* Unconfirmed for a whole interval: the doorbell (or its
			 * echo) was lost. The totals make a repeat harmless. */
			c->doorbell_owed = true;
			host_mark_dirty(h, (int)i);
			h->stats.doorbells_refreshed++;
		} else if (c->db_sent_ns + refresh < next) {
			next = c->db_sent_ns + refresh;
		}
	}
	if (h->credit_unconfirmed) {
		if (now - h->credit_sent_ns >= refresh) {
			struct ctxq_cmd cmd = {.type = CTXQ_EV_CREDIT};
			if (post_cmd(h, &cmd) == CHAN_OK)
				h->credit_sent_ns = now;
			h->stats.doorbells_refreshed++;
		}
		if (h->credit_sent_ns + refresh < next)
			next = h->credit_sent_ns + refresh;
	}
	h->refresh_due_ns = next;
	host_flush_commands(h); /* may lower refresh_due_ns again */
}
