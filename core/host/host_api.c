/*
 * host_api.c: the socket-like calls of bluetas.h. Each validates its
 * handle, touches only host memory, records what the NIC must be told and
 * tries to tell it at once (host_flush_commands).
 */
#include <errno.h>
#include <string.h>

#include "host_internal.h"

const char *bt_strerror(int err)
{
	switch (err) {
	case BT_OK: return "success";
	case BT_EAGAIN: return "would block";
	case BT_EINVAL: return "invalid argument or handle";
	case BT_ENOMEM: return "no free connection slot or memory";
	case BT_ECONNREFUSED: return "connection refused by peer";
	case BT_ECONNRESET: return "connection reset by peer";
	case BT_ETIMEDOUT: return "connection timed out";
	case BT_EPIPE: return "connection closed for sending";
	case BT_ENOTCONN: return "not connected";
	case BT_ECHANNEL: return "host<->NIC channel failed";
	case BT_EADDRINUSE: return "port already in use";
	case BT_EHOSTUNREACH: return "host unreachable (no ARP reply)";
	case BT_ENICREFUSED: return "NIC refused the command";
	case BT_ENOBUFS: return "NIC out of flows";
	case BT_ECONNABORTED: return "listener closed before the connection was accepted";
	default: return "unknown error";
	}
}

int bt_errno(int err)
{
	switch (err) {
	case BT_EAGAIN: return EAGAIN;
	case BT_EINVAL: return EINVAL;
	case BT_ENOMEM: return ENOMEM;
	case BT_ECONNREFUSED: return ECONNREFUSED;
	case BT_ECONNRESET: return ECONNRESET;
	case BT_ETIMEDOUT: return ETIMEDOUT;
	case BT_EPIPE: return EPIPE;
	case BT_ENOTCONN: return ENOTCONN;
	case BT_ECHANNEL: return ENETDOWN;
	case BT_EADDRINUSE: return EADDRINUSE;
	case BT_EHOSTUNREACH: return EHOSTUNREACH;
	case BT_ENOBUFS: return ENOBUFS;
	case BT_ECONNABORTED: return ECONNABORTED;
	default: return EIO;
	}
}

int bt_listen(struct bt_host *h, uint16_t port, uint32_t backlog)
{
	return bt_listen_opts(h, port, backlog, NULL);
}

int bt_listen_opts(struct bt_host *h, uint16_t port, uint32_t backlog, const struct bt_opts *opts)
{
	if (h->broken)
		return h->broken;
	if (port == 0 || backlog == 0 || backlog > h->cfg.max_conns || host_opts_check(h, opts) < 0)
		return BT_EINVAL;
	for (int i = 0; i < HOST_MAX_LISTENERS; i++)
		if (h->listeners[i].in_use && h->listeners[i].port == port)
			return BT_EADDRINUSE;
	for (int i = 0; i < HOST_MAX_LISTENERS; i++) {
		struct host_listener *l = &h->listeners[i];
		if (l->in_use || l->unlisten_owed)
			continue;
		*l = (struct host_listener){.in_use = true,
					    .listen_owed = true,
					    .port = port,
					    .backlog = backlog,
					    .slots_owed = backlog,
					    .accept_head = HOST_NONE,
					    .accept_tail = HOST_NONE};
		if (opts) {
			l->opts = *opts;
			l->opts_owed = opts->set & HOST_NIC_OPTS;
		}
		h->listeners_dirty = true;
		if (i + 1 > h->listeners_hi)
			h->listeners_hi = i + 1;
		host_post_accept_slots(h, i);
		host_flush_commands(h);
		return HOST_LISTENER_BASE + i;
	}
	return BT_ENOMEM;
}

int bt_accept(struct bt_host *h, int listener_id)
{
	struct host_listener *l = host_user_listener(h, listener_id);
	if (!l)
		return BT_EINVAL;
	if (l->err)
		return l->err;
	int slot = l->accept_head;
	if (slot == HOST_NONE)
		return h->broken ? h->broken : BT_EAGAIN;
	struct host_conn *c = &h->conns[slot];
	HOST_FIFO_DROP_HEAD(h, l, accept);
	c->state = SLOT_OPEN;
	host_conn_take_opts(c, &l->opts, false); /* the NIC gave the flow the listener's */
	/* What happened while it waited in the queue is news to the app now. */
	uint32_t pending = c->ready_flags;
	c->ready_flags = 0;
	if (pending)
		host_mark_ready(h, slot, pending);
	l->slots_owed++;
	host_post_accept_slots(h, (int)(l - h->listeners));
	host_flush_commands(h);
	return slot;
}

int bt_connect(struct bt_host *h, uint32_t remote_ip, uint16_t remote_port)
{
	return bt_connect_opts(h, remote_ip, remote_port, NULL);
}

/* local_port 0: the NIC picks an ephemeral port. */
static int connect_from(struct bt_host *h, uint16_t local_port, uint32_t remote_ip, uint16_t remote_port,
			const struct bt_opts *opts)
{
	if (h->broken)
		return h->broken;
	if (remote_ip == 0 || remote_port == 0 || host_opts_check(h, opts) < 0)
		return BT_EINVAL;
	int slot = host_alloc_slot(h);
	if (slot == HOST_NONE)
		return BT_ENOMEM;
	struct host_conn *c = &h->conns[slot];
	c->state = SLOT_CONNECTING;
	c->connect_owed = true;
	c->connect_ip = remote_ip;
	c->connect_port = remote_port;
	c->connect_local_port = local_port;
	if (opts)
		host_conn_take_opts(c, opts, true);
	host_mark_dirty(h, slot);
	host_flush_commands(h);
	return slot;
}

int bt_connect_opts(struct bt_host *h, uint32_t remote_ip, uint16_t remote_port, const struct bt_opts *opts)
{
	return connect_from(h, 0, remote_ip, remote_port, opts);
}

int bt_connect_from(struct bt_host *h, uint16_t local_port, uint32_t remote_ip, uint16_t remote_port,
		    const struct bt_opts *opts)
{
	return local_port ? connect_from(h, local_port, remote_ip, remote_port, opts) : BT_EINVAL;
}

static ssize_t send_bytes(struct bt_host *h, int id, const void *buf, size_t len, bool more, bool eor);

ssize_t bt_send(struct bt_host *h, int id, const void *buf, size_t len)
{
	return send_bytes(h, id, buf, len, false, false);
}

ssize_t bt_send_more(struct bt_host *h, int id, const void *buf, size_t len)
{
	return send_bytes(h, id, buf, len, true, false);
}

ssize_t bt_send_eor(struct bt_host *h, int id, const void *buf, size_t len)
{
	return send_bytes(h, id, buf, len, false, true);
}

static ssize_t send_bytes(struct bt_host *h, int id, const void *buf, size_t len, bool more, bool eor)
{
	struct host_conn *c = host_user_conn(h, id);
	if (!c || (!buf && len))
		return BT_EINVAL;
	if (c->err)
		return c->err;
	if (c->nic_released || c->shut_wr)
		return BT_EPIPE;
	if (c->state != SLOT_OPEN)
		return BT_ENOTCONN;
	if (len == 0)
		return 0;
	uint64_t hop_t = h->hops ? host_hop_now(h) : 0;
	uint32_t ring = h->cfg.tx_ring_bytes;
	uint32_t space = host_tx_space(h, c);
	if (space == 0)
		return BT_EAGAIN;
	uint32_t n = len < space ? (uint32_t)len : space;
	uint8_t *tx = host_tx_ring(h, id);
	uint32_t first = ring - c->tx_tail;
	if (first > n)
		first = n;
	memcpy(tx + c->tx_tail, buf, first);
	memcpy(tx, (const uint8_t *)buf + first, n - first);
	c->tx_tail = (c->tx_tail + n) % ring;
	c->tx_used += n;
	c->tx_total += n;
	/* A send the ring took whole has ended here: its last segment gets
	 * PSH. One cut short, or one that filled the ring to the last byte
	 * (a sender sizing its sends to the space it has), goes on with the
	 * caller's next bt_send: the NIC keeps its runt tail for the bytes
	 * that follow (ctxq.h, push mark). */
	if (n == len && c->tx_used < ring && !more) {
		c->push_total = c->tx_total;
		c->push_is_eor = eor;
	}
	c->doorbell_owed = true;
	h->stats.tx_bytes += n;
	if (h->hops)
		host_hop(h, c, HOP_SEND, c->tx_total, hop_t);
	host_mark_dirty(h, id);
	host_flush_commands(h);
	return n;
}

/* bt_recv and bt_peek: copy up to len buffered bytes; only a consuming
 * read frees ring space (and so may reopen the peer's window). */
static ssize_t rx_take(struct bt_host *h, int id, void *buf, size_t len, bool consume)
{
	struct host_conn *c = host_user_conn(h, id);
	if (!c || (!buf && len))
		return BT_EINVAL;
	if (c->rx_ready == 0) {
		if (c->shut_rd)
			return 0; /* shut for reading: end of stream once drained */
		if (c->eof)
			return 0;
		if (c->err)
			return c->err;
		if (c->state != SLOT_OPEN)
			return BT_ENOTCONN;
		if (c->nic_released)
			return 0;
		/* A drained burst's owed doorbell stays owed (below): the
		 * caller's next call takes it, bt_wait's ARM riding on it. */
		return BT_EAGAIN;
	}
	if (len == 0)
		return 0;
	uint32_t ring = h->cfg.rx_ring_bytes;
	uint32_t n = len < c->rx_ready ? (uint32_t)len : c->rx_ready;
	const uint8_t *rx = host_rx_ring(h, id);
	uint32_t first = ring - c->rx_head;
	if (first > n)
		first = n;
	memcpy(buf, rx + c->rx_head, first);
	memcpy((uint8_t *)buf + first, rx, n - first);
	if (!consume)
		return n;
	c->rx_head = (c->rx_head + n) % ring;
	c->rx_ready -= n;
	c->rx_freed_unreported += n;
	c->rx_freed_total += n;
	if (h->hops)
		host_hop(h, c, HOP_RECV, c->rx_freed_total, host_hop_now(h));
	/* One doorbell per drained burst, or per quarter ring for a reader
	 * that never drains: enough for the NIC to reopen the window. A
	 * drained burst's doorbell is owed, not posted: it leaves with the
	 * application's next call into the library that posts commands
	 * (bt_send, bt_close, bt_poll, bt_wait; not a bt_recv that finds
	 * nothing), so an RPC's reply and its next request share one
	 * DOORBELL, one NIC command and one confirming event instead of two
	 * of each, and a reader that reads until EAGAIN and sleeps sends one
	 * message, the doorbell with its ARM riding on it (ctxq.h,
	 * CTXQ_CMDF_ARM), instead of two. Nothing waits on it: new data is
	 * only learnt in bt_poll or bt_wait, which post it first, and the
	 * window the NIC knows lacks less than a quarter ring until then. A
	 * reader that never drains is told at once. */
	if (c->rx_freed_unreported >= ring / 4) {
		c->doorbell_owed = true;
		host_mark_dirty(h, id);
		host_flush_commands(h);
	} else if (c->rx_ready == 0) {
		c->doorbell_owed = true;
		host_mark_dirty(h, id);
	}
	return n;
}

ssize_t bt_recv(struct bt_host *h, int id, void *buf, size_t len)
{
	return rx_take(h, id, buf, len, true);
}

ssize_t bt_peek(struct bt_host *h, int id, void *buf, size_t len)
{
	return rx_take(h, id, buf, len, false);
}

bool host_close_local(struct bt_host *h, int id, struct host_conn *c)
{
	c->app_closed = true;
	if (!c->nic_released && !c->connect_owed)
		return false;
	/* Released by the NIC, or a connect the NIC never heard of: there is
	 * nothing to close or reset there. */
	c->connect_owed = false;
	host_free_slot(h, id);
	return true;
}

int bt_close(struct bt_host *h, int id)
{
	struct host_conn *c = host_user_conn(h, id);
	if (!c)
		return BT_EINVAL;
	if (host_close_local(h, id, c))
		return BT_OK;
	/* Unread data at close means the peer's bytes will never be read:
	 * reset, as Linux does, rather than pretend a graceful close. */
	if (c->rx_ready > 0)
		c->abort_owed = true;
	else
		c->close_owed = true;
	host_mark_dirty(h, id);
	host_flush_commands(h);
	return BT_OK;
}

int bt_poll(struct bt_host *h, struct bt_event *out, int max)
{
	if (max < 0 || (!out && max > 0))
		return BT_EINVAL;
	host_process_events(h);
	host_refresh_doorbells(h);
	for (int i = 0; i < h->listeners_hi; i++)
		if (h->listeners[i].in_use && h->listeners[i].slots_owed)
			host_post_accept_slots(h, i);
	/* Every owed command, a drained read's doorbell too: a program that
	 * polls without sleeping must not keep the NIC's window short of
	 * what it read (FreeBSD's rcv-data-segments/overlapping-* scripts
	 * check the window of the ACK after a read). */
	host_flush_commands(h);
	int n = 0;
	for (int i = 0; i < h->listeners_hi && n < max; i++) {
		struct host_listener *l = &h->listeners[i];
		if (!l->in_use || !l->in_ready)
			continue;
		l->in_ready = false;
		out[n++] = (struct bt_event){.id = HOST_LISTENER_BASE + i,
					     .flags = l->err ? BT_EV_ERROR : BT_EV_ACCEPTABLE,
					     .err = l->err};
	}
	while (n < max && h->ready_head != HOST_NONE) {
		int slot = h->ready_head;
		struct host_conn *c = &h->conns[slot];
		HOST_FIFO_DROP_HEAD(h, h, ready);
		c->in_ready = false;
		uint32_t flags = c->ready_flags;
		c->ready_flags = 0;
		if (c->free_pending) {
			host_free_slot(h, slot);
			continue;
		}
		if (c->app_closed || !flags)
			continue;
		out[n++] = (struct bt_event){.id = slot, .flags = flags, .err = c->err};
	}
	return n;
}

uint32_t bt_tx_space(struct bt_host *h, int id)
{
	struct host_conn *c = host_user_conn(h, id);
	return c && c->state == SLOT_OPEN ? host_tx_space(h, c) : 0;
}

uint32_t bt_tx_queued(struct bt_host *h, int id)
{
	struct host_conn *c = host_user_conn(h, id);
	return c ? c->tx_used : 0;
}

uint32_t bt_rx_ready(struct bt_host *h, int id)
{
	struct host_conn *c = host_user_conn(h, id);
	return c ? c->rx_ready : 0;
}

uint64_t bt_host_next_event_ns(struct bt_host *h)
{
	/* Its only timer: re-ringing unconfirmed doorbells. Deferred commands
	 * wait for a credit, which only a NIC poll can return. */
	return h->broken ? BT_TIME_NEVER : h->refresh_due_ns;
}

bool bt_host_wakeup_unjudged(const struct bt_host *h)
{
	return h->lost_suspect;
}

void bt_host_stats(const struct bt_host *h, struct bt_host_stats *out)
{
	*out = h->stats;
	if (h->lost_suspect)
		out->lost_wakeups++; /* not yet cleared by a late WAKEUP */
}

int bt_conn_error(struct bt_host *h, int id)
{
	if (id < 0 || (uint32_t)id >= h->cfg.max_conns || !h->conns[id].allocated)
		return BT_EINVAL;
	return h->conns[id].err;
}

uint32_t bt_host_max_conns(const struct bt_host *h)
{
	return h->cfg.max_conns;
}

